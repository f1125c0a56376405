// What `serve` on stdio reads of its client before it opens a workspace,
// when no --root is given: the workspace root the client names.
//  - LSP (3.17 "Initialize Request"): workspaceFolders / rootUri / rootPath
//    of the first message, `initialize` (client_root_of_initialize).
//  - MCP ("Roots", every revision since 2024-11-05): a client that declares
//    the `roots` capability is asked with `roots/list`, which the lifecycle
//    allows only after initialization ("Lifecycle": the server should send
//    no requests but pings and logging before `notifications/initialized`).
//    So this side answers `initialize` itself (the caller's
//    McpInitializeAnswer: in the executable, mcp_initialize_result, the
//    session's own answer but for the instructions, which cannot name the
//    root yet), waits for `initialized`, asks `roots/list`, and takes the
//    first root that is a local directory. The server then gets the
//    client's messages as if unread (initialize included, the roots/list
//    answer left out), and its own answer to that initialize must be
//    dropped on the way out: the client has one (ResponseDropper,
//    drop_first_response).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "icotes/framing.hpp"
#include "icotes/json.hpp"
#include "icotes/rpc.hpp"

namespace icotes {

struct ClientHello {
  std::string bytes;                ///< client bytes for the server, to be fed as if unread
  std::optional<std::string> root;  ///< absolute path of a directory the client named
  json drop_response_id;            ///< non-null: drop the server's first response with this id
  std::string source;               ///< how the root was learnt ("LSP initialize", "MCP roots/list"), for the log
};

/// The `id` of the roots/list request sent to an MCP client (a string no
/// JSON-RPC client library generates for its own requests).
inline constexpr std::string_view kRootsRequestId = "icotes/roots";

/// The InitializeResult the server gives for an MCP `initialize` request's
/// params before its root is chosen; nullopt when it would give none.
using McpInitializeAnswer = std::function<std::optional<json>(const json& params)>;

/// Reads the client's first message from `in_fd` (never from a terminal)
/// and, for an MCP client with the roots capability, does the handshake
/// above on `in_fd`/`out_fd`, answering its initialize with
/// `mcp_initialize` (null or nullopt: no handshake) and waiting at most
/// `roots_timeout_ms` milliseconds for `initialized` and the roots/list
/// answer. A client that names no usable root (or ends, or is too slow)
/// leaves `root` empty; a reason is printed on stderr for an MCP client that
/// declared roots.
ClientHello read_client_hello(int in_fd, int out_fd, std::size_t max_frame_bytes, int roots_timeout_ms,
                              const McpInitializeAnswer& mcp_initialize);

/// True when `frame` (one framed JSON-RPC message, either framing) is a
/// response (JSON-RPC 2.0 section 5: result or error, no method) with `id`.
bool is_response_to(std::string_view frame, const json& id);

/// Passes a server's byte stream on, less the first response with `id`;
/// once it has gone, whole frames and then the raw bytes pass unchanged.
class ResponseDropper {
 public:
  explicit ResponseDropper(json id) : id_(std::move(id)) {}
  /// The bytes to pass on for `data` (possibly empty while a frame is incomplete).
  std::string filter(std::string_view data);
  /// The response has been dropped and no partial frame is held: filter()
  /// is now the identity and need not be called.
  bool done() const { return dropped_ && frames_.buffered() == 0; }

 private:
  json id_;
  bool dropped_ = false;
  FrameReader frames_{static_cast<std::size_t>(-1)};
};

/// A transport that drops the first response with `id` written through it
/// (each write is one whole frame) and passes everything else to `inner`.
std::shared_ptr<Transport> drop_first_response(std::shared_ptr<Transport> inner, json id);

}  // namespace icotes
