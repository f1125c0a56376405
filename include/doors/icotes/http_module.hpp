// The MCP Streamable HTTP door (MCP 2025-03-26 and later, "Transports",
// "Streamable HTTP"): `icotes serve --listen http:127.0.0.1:PORT` serves
// POST/GET/DELETE on /mcp.
//
// The HTTP side (cpp-httplib, which brings OpenSSL, zlib and brotli: about
// 4 MB resident) lives in the module icotes-http.so, loaded only when an
// HTTP door is opened (include/support/icotes/module_loader.hpp). The module knows
// HTTP, SSE and MCP sessions, and only JSON-RPC messages as text; the
// executable gives each MCP session a Connection and a Session on the shared
// Workspace through the Backend below. The interface is C++ and both sides
// come from one build (kAbiVersion catches a stale module).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace icotes::http {

/// Where one MCP session's server-to-client messages go (the module routes
/// them to the POST stream they belong to or the GET stream). `message` is
/// one compact JSON-RPC message or batch.
class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void send(std::string message) = 0;
};

/// One MCP session as the executable serves it.
class Peer {
 public:
  virtual ~Peer() = default;
  /// A client message (compact JSON, one message or a batch), in order.
  virtual void receive(std::string message) = 0;
  /// The session ended (DELETE, expiry, server stop): its requests are
  /// cancelled; nothing is sent afterwards.
  virtual void close() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// A new MCP session whose messages go to `out` (held weakly).
  virtual std::shared_ptr<Peer> open(std::weak_ptr<Outbox> out) = 0;
  /// Logs through the executable's logger (0 debug, 1 info, 2 warn, 3 error).
  virtual void log(int level, std::string_view message) = 0;
};

/// The door's limits (src/transport/http/gate.hpp tells how they are
/// enforced; README "HTTP door" lists them for users).
struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;                // 0: any free port
  std::string token;                     // required as "Authorization: Bearer <token>"
  std::size_t max_body_bytes = 4 << 20;  // a POST body after content decoding, any framing (413)
  std::size_t threads = 128;      // requests served at once; beyond, a head waits ≤ 1 s (128 at most), then 503
  std::size_t max_pending = 256;  // connections still sending their first head; beyond, the oldest is closed
  std::size_t max_head_bytes = 32 << 10;  // request line and headers (431)
  int head_timeout_ms = 10000;            // a head must arrive whole within this of the accept or its first byte (408)
  int request_timeout_ms = 30000;         // head and body together (408)
  int io_timeout_ms = 10000;              // no byte read or written for this long ends the connection
  int keep_alive_timeout_s = 5;           // idle keep-alive connections are closed after this
  std::size_t max_kept = 1024;  // idle keep-alive connections (no thread each); beyond, the longest idle closes
  int session_idle_ms = 30 * 60 * 1000;  // a session without requests or streams this long ends
  std::size_t max_sessions = 256;        // open MCP sessions; at the cap the one idle longest ends, 503 if none is idle
  std::size_t kept_events = 1000;        // per stream, for Last-Event-ID resumption
  std::size_t kept_bytes = 8 << 20;      // per stream, and per session for finished streams and undelivered messages
  std::vector<std::string> protocol_versions;  // accepted MCP-Protocol-Version values
};

class Server {
 public:
  virtual ~Server() = default;
  virtual std::uint16_t port() const = 0;
  /// Stops accepting, ends every session (Peer::close) and joins threads.
  virtual void stop() = 0;
  virtual std::size_t session_count() const = 0;
};

struct ModuleApi {
  static constexpr int kAbiVersion = 2;
  int abi_version;
  /// Binds and starts serving; null with `error` set when it cannot bind.
  std::unique_ptr<Server> (*listen)(Backend& backend, const Options& options, std::string* error);
};

}  // namespace icotes::http
