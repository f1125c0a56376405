// The TCP door (DESIGN.md section 4, "Transports"): `icotes serve --listen
// tcp:127.0.0.1:PORT`. Every connection gets its own Session (its own
// dialect and protocol version, framing detected per connection) on the one
// shared Workspace, so an editor and AI clients see the same buffers,
// permissions, terminals and events.
//
// Authentication: a random token (32 bytes from getrandom(2), 64 hex
// digits) is written to a file of mode 0600 in a directory of mode 0700
// ($XDG_RUNTIME_DIR/icotes/, else /tmp/icotes-<uid>/). The first message of
// a connection must be the request `icotes/authenticate {"token": ...}`;
// anything else, or a wrong token (compared in constant time), is answered
// with error -32004 and the connection is closed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "icotes/result.hpp"
#include "icotes/session.hpp"

namespace icotes {

/// A parsed `tcp:HOST:PORT` (HOST an IPv4 address, `localhost`, or an IPv6
/// address in brackets; PORT 0 picks a free one).
struct TcpAddress {
  std::string scheme = "tcp";  // "tcp" or "http"
  std::string host;
  std::uint16_t port = 0;
};

/// Parses `spec`, `tcp:HOST:PORT` or `http:HOST:PORT` (`scheme` says
/// which). Errors (kInvalidParams): another form; a host that is not
/// loopback unless `allow_remote`.
Result<TcpAddress> parse_tcp_listen(std::string_view spec, bool allow_remote);

/// True for 127.0.0.0/8, ::1 and `localhost`.
bool is_loopback_host(std::string_view host);

/// Where icotes keeps runtime files (sockets, tokens): $XDG_RUNTIME_DIR/icotes,
/// else /tmp/icotes-<uid>; created with mode 0700. Errors: kIoError, or a
/// directory owned by someone else or open to others (refused, not used).
Result<std::string> runtime_dir();

/// 32 random bytes as 64 lowercase hex digits.
std::string random_token();

/// Equal in time independent of where `a` and `b` differ (nettle memeql_sec).
bool token_equal(std::string_view a, std::string_view b);

/// Writes `token` to runtime_dir()/`file_name` (mode 0600, replacing a
/// stale file, never through a symlink) and returns the file's path.
/// Errors: those of runtime_dir(); kIoError writing the file.
Result<std::string> write_token_file(const std::string& file_name, const std::string& token);

struct TcpServerOptions {
  std::size_t max_frame_bytes = 0;  // 0: kDefaultMaxFrameBytes
  std::size_t max_connections = 1024;
  SessionOptions session;  // on_exit is replaced: LSP `exit` closes that connection only
};

class TcpServer {
 public:
  /// Binds and listens (SO_REUSEADDR, backlog 512), creates the token and
  /// writes it to runtime_dir()/tcp-<port>.token (mode 0600; removed by the
  /// destructor). Errors: kInvalidParams (address), kIoError (bind, file).
  static Result<std::unique_ptr<TcpServer>> listen(Workspace& workspace, const TcpAddress& address,
                                                   TcpServerOptions options);
  /// Listens on the Unix socket `path` (mode 0600, replacing a stale socket
  /// file; its directory should be runtime_dir()). No token: only this user
  /// can connect. The destructor removes the socket file.
  static Result<std::unique_ptr<TcpServer>> listen_unix(Workspace& workspace, const std::string& path,
                                                        TcpServerOptions options);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  std::uint16_t port() const { return port_; }  // 0 for a Unix socket
  const std::string& token_path() const { return token_path_; }
  /// Seconds since the last connection ended; 0 while any is open.
  double idle_seconds() const;
  /// Accepts connections on a thread of its own until stop().
  void start();
  /// Stops accepting, closes every connection (their in-flight requests are
  /// cancelled) and joins their threads.
  void stop();
  std::size_t connection_count() const;

 private:
  struct Client;
  TcpServer(Workspace& workspace, int fd, std::uint16_t port, std::string token, std::string token_path,
            TcpServerOptions options);
  void accept_loop();
  void serve_client(const std::shared_ptr<Client>& client);

  Workspace& workspace_;
  int fd_;
  std::uint16_t port_;
  std::string token_;       // empty: no authentication (Unix socket)
  std::string token_path_;
  std::string socket_path_;  // Unix socket file to remove
  std::chrono::steady_clock::time_point last_active_ = std::chrono::steady_clock::now();
  TcpServerOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Client>> clients_;
};

}  // namespace icotes
