// A Session serves one connection. It picks the dialect from the first
// message — LSP (`initialize` with LSP InitializeParams), MCP (`initialize`
// with `protocolVersion`) or plain JSON-RPC for scripts (anything else) —
// and hands every message to it. Dialects are thin: lifecycle and result
// shapes; every operation goes through the Registry.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "icotes/client_profile.hpp"
#include "icotes/dispatch.hpp"
#include "icotes/operation.hpp"
#include "icotes/rpc.hpp"
#include "icotes/workspace.hpp"

namespace icotes {

struct SessionOptions {
  /// Called when the client asks the process to end (LSP `exit`): 0 after
  /// `shutdown`, 1 without (LSP 3.17 "exit Notification").
  std::function<void(int exit_code)> on_exit;
  /// Registry to serve (builtin_registry() unless a test swaps it).
  const Registry* registry = nullptr;
  /// The client's own settings (its command line; for a client attached to
  /// the shared daemon, the launcher's).
  ClientProfile profile;
};

/// Lifecycle and result shapes of one protocol. Implementations live in
/// src/lsp/, src/mcp/ and src/plain/.
class Dialect {
 public:
  virtual ~Dialect() = default;
  virtual void on_request(Request request) = 0;
  virtual void on_notification(const std::string& method, const json& params) = 0;
  virtual void on_close() {}
  virtual std::string_view name() const = 0;
};

class Session final : public MessageHandler {
 public:
  Session(Workspace& workspace, std::shared_ptr<Connection> connection, SessionOptions options);
  ~Session() override;

  void on_request(Request request) override;
  void on_notification(const std::string& method, const json& params) override;
  void on_close() override;

  /// "lsp", "mcp", "plain", or "" before the first message. Any thread.
  std::string_view dialect() const { return dialect_name_.load(); }
  /// The client's name (clientInfo.name of its initialize), "" until then.
  /// Any thread.
  std::string client_name() const;

 private:
  void choose(const std::string& method, const json& params);
  Workspace& workspace_;
  std::shared_ptr<Connection> connection_;
  SessionOptions options_;
  std::shared_ptr<Dialect> dialect_;
  std::uint64_t client_id_ = 0;                // in workspace_.clients(), once the dialect is chosen
  bool named_ = false;                         // its clientInfo was recorded
  std::atomic<const char*> dialect_name_{""};  // a dialect's name(), which are literals
  mutable std::mutex name_mutex_;
  std::string client_name_;
};

/// A connection's own permission settings (ClientState::settings): the mode
/// and rules its client asked for on its command line (`profile`), for it
/// alone; the gate adds the workspace's at each call.
permissions::Settings connection_settings(Workspace& workspace, const ClientProfile& profile);

/// The call the LSP and plain JSON-RPC dialects run for `op`: `params`
/// without their LSP progress tokens (take_lsp_progress, on `conn`), the
/// handler's result as the reply and its Error as the JSON-RPC error, and a
/// cancelled request answered with kRequestCancelled (-32800, LSP).
OperationCall jsonrpc_call(const Operation& op, json params, const std::shared_ptr<Connection>& conn,
                           std::shared_ptr<permissions::ClientState> client);

std::shared_ptr<Dialect> make_lsp_dialect(Workspace& workspace, std::shared_ptr<Connection> connection,
                                          const SessionOptions& options);
/// MCP "Lifecycle": the InitializeResult (protocolVersion negotiated among
/// the revisions this server speaks, capabilities, serverInfo, instructions)
/// for an initialize request's params, serving `root` (empty: not chosen
/// yet, the client's roots will name it). Nullopt without a string
/// protocolVersion.
std::optional<json> mcp_initialize_result(const json& params, std::string_view root);

std::shared_ptr<Dialect> make_mcp_dialect(Workspace& workspace, std::shared_ptr<Connection> connection,
                                          const SessionOptions& options);
std::shared_ptr<Dialect> make_plain_dialect(Workspace& workspace, std::shared_ptr<Connection> connection,
                                            const SessionOptions& options);

/// LSP-style progress for a request (also used by plain JSON-RPC): removes
/// `workDoneToken` and `partialResultToken` from `params` and returns a
/// Progress sending `$/progress` for them, or null when neither was given.
std::shared_ptr<Progress> take_lsp_progress(const std::shared_ptr<Connection>& conn, json& params,
                                            const std::string& title);

/// Result for `icotes/operations` (all dialects but MCP): every operation
/// with its method, command, MCP name, permission kind and schemas.
json describe_operations(const Registry& registry);

}  // namespace icotes
