// The TCP door (docs/ARCHITECTURE.md, "Doors"): `icotes serve --listen
// tcp:127.0.0.1:PORT`. Every connection gets its own handler from the
// door's HandlerFactory (door.hpp); the executable's makes a Session (its own
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
//
// Limits before authentication (TcpServerOptions), so that connections
// without the token cannot crowd out or starve the real clients:
//  - kAuthTimeout (5 s) to authenticate, counted from the accept; then closed;
//  - kPreAuthFrameBytes (4 KiB) per message, LSP header block included;
//    anything refused (too large, not JSON, not a request) closes it;
//  - kMaxUnauthenticated (64) connections waiting to authenticate: past
//    that, a new connection closes the oldest waiting one if it has waited
//    kAuthGrace (1 s), time enough to authenticate (clients connecting in a
//    burst are all let in). At max_connections (1024, or a quarter of the
//    soft RLIMIT_NOFILE when less) a new connection
//    closes the oldest waiting one whatever its age, and is refused only
//    when every connection is authenticated.
//
// Replies (both doors) never block the thread that computed them: a
// SocketTransport sends what the socket takes and queues the rest for the
// connection's own writer thread (OutboundLimits: a peer that stops
// reading has its requests left unread past 4 MiB of queued replies, and is
// closed past 64 MiB or after 30 s in which it took no byte).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>
#include <sys/uio.h>

#include "icotes/door.hpp"
#include "icotes/result.hpp"
#include "icotes/rpc.hpp"

namespace icotes {

class OutputLedger;    // ledger.hpp
struct AttachRequest;  // daemon.hpp

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

/// How much of a connection's replies may wait in the server for a peer
/// that reads slower than they are produced (bytes beyond what the
/// kernel's socket buffer holds).
struct OutboundLimits {
  /// Above this many bytes waiting, the connection's further requests are
  /// not read until the peer has taken enough (backpressure).
  std::size_t pause_reading_bytes = 4u << 20;
  /// A reply arriving while this many bytes wait closes the connection (one
  /// reply alone may be larger: it is queued whole when less waits).
  std::size_t max_queued_bytes = 64u << 20;
  /// Bytes waiting and none taken by the peer for this long: closed.
  std::chrono::milliseconds stall_timeout{30000};
};

/// A Transport on a connected socket (TCP or Unix) that never blocks the
/// writing thread on the peer: a frame is sent with MSG_DONTWAIT when
/// nothing waits before it, and what the socket does not take is queued and
/// sent by a writer thread of this transport (started the first time it is
/// needed) as the peer reads. Past the limits the connection is shut down
/// (shutdown(2) both ways, which also ends its reader) with a log line.
/// Does not close `fd`; the owner does, after the transport is destroyed.
/// `fd` may also be a pipe (the stdout of a client attached to the daemon,
/// daemon.hpp), written with writev(2): its owner makes it O_NONBLOCK; a
/// regular file or a device is written as it comes.
class SocketTransport final : public Transport {
 public:
  SocketTransport(int fd, OutboundLimits limits, std::string name);
  ~SocketTransport() override;
  SocketTransport(const SocketTransport&) = delete;
  SocketTransport& operator=(const SocketTransport&) = delete;

  bool write(std::string_view bytes) override;
  bool write_pieces(std::span<const std::string_view> pieces) override;
  /// Produces into the socket while it takes the bytes, then into the queue.
  bool write_produced(const std::function<void(const Emit&)>& produce) override;
  bool write_answer(std::span<const std::string_view> pieces, std::span<const std::string> answered) override;
  bool write_produced_answer(const std::function<void(const Emit&)>& produce, std::size_t bytes,
                             std::span<const std::string> answered) override;
  /// Stops writing (queued bytes are dropped); does not shut the socket down.
  void close() override;

  /// Reports every frame and the bytes written to `ledger` (set before the
  /// first write).
  void set_ledger(std::shared_ptr<OutputLedger> ledger) { ledger_ = std::move(ledger); }
  /// Called (once, with the transport's lock held: it must only signal)
  /// when the connection breaks here (a failed write, a limit), for a
  /// reader that reads another descriptor than this one.
  void set_on_fail(std::function<void()> on_fail) { on_fail_ = std::move(on_fail); }

  /// For the reading thread: waits while more than pause_reading_bytes
  /// wait to be sent. False once the connection is closed.
  bool wait_to_read();
  /// More than pause_reading_bytes wait to be sent (a reader that must
  /// watch other descriptors meanwhile polls this instead of waiting).
  bool reading_paused() const;
  /// Waits up to `timeout` for the queue to empty; true when everything
  /// was sent, false on timeout or once the connection is closed.
  bool drain(std::chrono::milliseconds timeout);
  /// Bytes waiting in the queue.
  std::size_t queued_bytes() const;
  /// Closed by close(), a failed send, or a limit.
  bool broken() const;

 private:
  bool write_frame_locked(std::span<const std::string_view> pieces, std::span<const std::string> answered);
  bool send_locked(std::span<const std::string_view> pieces);
  ssize_t send_some(const ::iovec* iov, int count);
  void sent_locked(std::size_t n);
  void flush_locked();
  void fail_locked(const std::string& why);
  void start_writer_locked();
  void writer_loop();

  int fd_;
  bool socket_ = true;  // else writev(2)
  int wake_fd_ = -1;    // eventfd waking the writer's poll(2) (not a socket: shutdown(2) cannot)
  OutboundLimits limits_;
  std::string name_;
  std::shared_ptr<OutputLedger> ledger_;
  std::function<void()> on_fail_;
  std::uint64_t sent_total_ = 0;  // bytes written since the start
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // queue shrank, grew, or the connection broke
  std::deque<std::string> queue_;
  std::size_t front_sent_ = 0;                      // bytes of queue_.front() already sent
  std::size_t queued_ = 0;                          // bytes in queue_ not yet sent
  std::chrono::steady_clock::time_point progress_;  // last time the peer took bytes (or the queue was empty)
  bool broken_ = false;
  bool stopping_ = false;
  std::thread writer_;
};

/// Before authentication on the TCP door (see the top of this file).
inline constexpr std::chrono::milliseconds kAuthTimeout{5000};
inline constexpr std::size_t kPreAuthFrameBytes = 4096;
inline constexpr std::size_t kMaxUnauthenticated = 64;
inline constexpr std::chrono::milliseconds kAuthGrace{1000};

struct TcpServerOptions {
  std::size_t max_frame_bytes = 0;  // 0: kDefaultMaxFrameBytes
  /// Connections open at once; lowered to a quarter of the soft
  /// RLIMIT_NOFILE (getrlimit(2)) when that is less.
  std::size_t max_connections = 1024;
  OutboundLimits outbound = {};
  std::chrono::milliseconds auth_timeout = kAuthTimeout;
  std::size_t pre_auth_frame_bytes = kPreAuthFrameBytes;
  std::size_t max_unauthenticated = kMaxUnauthenticated;
  /// Unix socket: answers the requests `icotes/daemon/<verb>` (`icotes
  /// daemon list|stop`) of a process of this user (SO_PEERCRED, unix(7)) on
  /// a connection of its own; null: they go to the handler like any other.
  std::function<Result<json>(const std::string& method, const json& params)> admin = {};
};

class TcpServer {
 public:
  /// Binds and listens (SO_REUSEADDR, backlog 512), creates the token and
  /// writes it to runtime_dir()/tcp-<port>.token (mode 0600; removed by the
  /// destructor). Each authenticated connection is served by a handler from
  /// `handlers` (door.hpp; DoorClient::end shuts that connection down).
  /// Errors: kInvalidParams (address), kIoError (bind, file).
  static Result<std::unique_ptr<TcpServer>> listen(HandlerFactory handlers, const TcpAddress& address,
                                                   TcpServerOptions options);
  /// Listens on the Unix socket `path` (mode 0600, replacing a stale socket
  /// file; its directory should be runtime_dir()). No token: only this user
  /// can connect. The destructor removes the socket file. A client attached
  /// through its launcher (daemon.hpp) gets a handler with the launcher's
  /// profile; its DoorClient::end tells the launcher the exit code.
  static Result<std::unique_ptr<TcpServer>> listen_unix(HandlerFactory handlers, const std::string& path,
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
  /// cancelled) and joins their threads. An attached client's launcher is
  /// told `reason` and answers what is left unanswered (daemon.hpp).
  void stop(const std::string& reason = "the daemon stopped");
  std::size_t connection_count() const;
  /// The connections open now, for `icotes daemon list`: each with "name"
  /// (the client's own, from its initialize), "dialect", "transport"
  /// ("stdio (attached)", "stdio (forwarded)", "unix socket", "tcp"),
  /// "since" (ms since the epoch), "pid" (the launcher's, Unix only) and
  /// "permissionMode" when the client chose one.
  json describe_clients() const;

 private:
  struct Client;
  TcpServer(HandlerFactory handlers, int fd, std::uint16_t port, std::string token, std::string token_path,
            TcpServerOptions options);
  void accept_loop();
  /// Closes connections waiting to authenticate past the limits (`open`:
  /// connections not closed yet); returns how many. With mutex_ held.
  std::size_t make_room_locked(std::size_t open);
  void serve_client(const std::shared_ptr<Client>& client);
  /// A client whose launcher passed its stdin, stdout and ledger (daemon.hpp).
  void serve_attached(const std::shared_ptr<Client>& client, AttachRequest request, std::vector<int> fds);

  HandlerFactory handlers_;
  int fd_;
  std::uint16_t port_;
  std::string token_;  // empty: no authentication (Unix socket)
  std::string token_path_;
  std::string socket_path_;  // Unix socket file to remove
  std::chrono::steady_clock::time_point last_active_ = std::chrono::steady_clock::now();
  TcpServerOptions options_;
  std::atomic<bool> stopping_{false};
  std::string stop_reason_;  // guarded by mutex_
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Client>> clients_;
  std::chrono::steady_clock::time_point last_eviction_log_{};  // one log line a second at most
  std::size_t evictions_unlogged_ = 0;
};

}  // namespace icotes
