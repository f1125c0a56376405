#include "icotes/tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nettle/memops.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>

#include "icotes/client_hello.hpp"
#include "icotes/daemon.hpp"
#include "icotes/fd_io.hpp"
#include "icotes/ledger.hpp"
#include "icotes/log.hpp"
#include "icotes/random_token.hpp"

namespace icotes {
namespace {

Error sys_error(const std::string& what) {
  return make_error(error_code::kIoError, what + ": " + std::strerror(errno));
}

// Answers the first message: icotes/authenticate with the right token lets
// the rest through to the handler; anything else closes the connection.
// Until then frames are limited to TcpServerOptions::pre_auth_frame_bytes.
class AuthGate final : public MessageHandler {
 public:
  AuthGate(MessageHandler& inner, const std::string& token, const std::string& token_path, int fd,
           Connection& connection, std::atomic<bool>& authenticated, std::size_t max_frame_bytes)
      : inner_(inner),
        token_(token),
        token_path_(token_path),
        fd_(fd),
        connection_(connection),
        authenticated_(authenticated),
        max_frame_bytes_(max_frame_bytes) {}

  void on_request(Request request) override {
    if (authenticated_) return inner_.on_request(std::move(request));
    const json& p = request.params();
    if (request.method() == "icotes/authenticate" && p.is_object() && p.contains("token") && p["token"].is_string() &&
        token_equal(p["token"].get_ref<const std::string&>(), token_)) {
      authenticated_ = true;
      connection_.set_max_frame_bytes(max_frame_bytes_);
      request.reply(json{{"authenticated", true}});
      return;
    }
    const bool tried = request.method() == "icotes/authenticate";
    spdlog::warn("tcp: {} ; closing the connection", tried ? "wrong token" : "request before authentication");
    request.fail(make_error(error_code::kPermissionDenied,
                            tried ? "wrong token: the connection is closed. The token is in " + token_path_
                                  : "not authenticated: the first message on a TCP connection must be the request "
                                    "icotes/authenticate {\"token\": \"...\"} with the token in " +
                                        token_path_ + "; the connection is closed"));
    ::shutdown(fd_, SHUT_RDWR);
  }
  void on_notification(const std::string& method, const json& params) override {
    if (authenticated_) return inner_.on_notification(method, params);
    spdlog::warn("tcp: notification {} before authentication; closing the connection", method);
    ::shutdown(fd_, SHUT_RDWR);
  }
  void on_refused(const Error& error) override {
    if (authenticated_) return;
    spdlog::warn("tcp: refused before authentication ({}); closing the connection", error.message);
    ::shutdown(fd_, SHUT_RDWR);
  }
  void on_close() override { inner_.on_close(); }

 private:
  MessageHandler& inner_;
  const std::string& token_;
  const std::string& token_path_;
  int fd_;
  Connection& connection_;
  std::atomic<bool>& authenticated_;
  std::size_t max_frame_bytes_;
};

std::string format_bytes(std::size_t n) {
  if (n < 10 * 1024) return std::to_string(n) + " bytes";
  if (n < 10u * 1024 * 1024) return std::to_string(n / 1024) + " KiB";
  return std::to_string(n / (1024 * 1024)) + " MiB";
}

// "127.0.0.1:54321" for a TCP peer.
std::string peer_address(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  const std::string h(host);
  return ::inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

Result<TcpAddress> parse_tcp_listen(std::string_view spec, bool allow_remote) {
  auto bad = [&](const std::string& why) {
    return make_error(error_code::kInvalidParams,
                      "--listen '" + std::string(spec) + "': " + why +
                          " (expected tcp:127.0.0.1:PORT or http:127.0.0.1:PORT; PORT 0 picks one)");
  };
  std::string scheme;
  if (spec.substr(0, 4) == "tcp:")
    scheme = "tcp";
  else if (spec.substr(0, 5) == "http:")
    scheme = "http";
  else
    return bad("the forms are tcp:HOST:PORT and http:HOST:PORT");
  std::string_view rest = spec.substr(scheme.size() + 1);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad("no host");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return bad("the port is not a number");
  const unsigned long n = std::stoul(std::string(port));
  if (n > 65535) return bad("the port is above 65535");
  if (!allow_remote && !is_loopback_host(host))
    return bad("'" + std::string(host) +
               "' is not a loopback address; listening beyond this machine needs --allow-remote (the token is still "
               "required)");
  return TcpAddress{scheme, std::string(host), static_cast<std::uint16_t>(n)};
}

Result<std::string> runtime_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = (xdg && *xdg) ? std::string(xdg) + "/icotes" : "/tmp/icotes-" + std::to_string(::geteuid());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("creating " + dir);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return sys_error("checking " + dir);
  // Someone else's directory, a symlink or one others can enter would let
  // them read the token or plant files: refused rather than repaired.
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    return make_error(error_code::kIoError, dir + " must be a directory of this user with mode 0700 (it holds tokens)");
  return dir;
}

std::string random_token() { return random_hex(32); }

bool token_equal(std::string_view a, std::string_view b) {
  // The length is not secret (always 64); the bytes are.
  return a.size() == b.size() && nettle_memeql_sec(a.data(), b.data(), a.size()) != 0;
}

Result<std::string> write_token_file(const std::string& file_name, const std::string& token) {
  auto dir = runtime_dir();
  if (!dir) return std::move(dir).error();
  std::string path = *dir + "/" + file_name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  const std::string line = token + "\n";
  bool written = fd >= 0 && ::fchmod(fd, 0600) == 0;
  if (written) {
    const int err = write_fully(fd, line);
    written = err == 0;
    errno = err;
  }
  if (!written) {
    auto e = sys_error("writing the token file " + path);
    if (fd >= 0) ::close(fd);
    return e;
  }
  ::close(fd);
  return path;
}

// ---- SocketTransport ---------------------------------------------------------

SocketTransport::SocketTransport(int fd, OutboundLimits limits, std::string name)
    : fd_(fd), limits_(limits), name_(std::move(name)), progress_(std::chrono::steady_clock::now()) {
  struct stat st {};
  socket_ = ::fstat(fd, &st) != 0 || S_ISSOCK(st.st_mode);
  if (!socket_) wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

SocketTransport::~SocketTransport() {
  bool waiting = false;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    waiting = !queue_.empty() && !broken_;
  }
  changed_.notify_all();
  // The writer may be in poll(2) for a peer that does not read: shutting
  // the socket down wakes it (what waits is dropped: nobody is left to send
  // it, and the descriptor is closed next).
  if (waiting && socket_) ::shutdown(fd_, SHUT_RDWR);
  if (wake_fd_ >= 0) (void)::eventfd_write(wake_fd_, 1);
  if (writer_.joinable()) writer_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool SocketTransport::write(std::string_view bytes) {
  return write_pieces(std::span<const std::string_view>(&bytes, 1));
}

bool SocketTransport::write_pieces(std::span<const std::string_view> pieces) { return write_answer(pieces, {}); }

bool SocketTransport::write_answer(std::span<const std::string_view> pieces, std::span<const std::string> answered) {
  std::lock_guard lock(mutex_);
  return write_frame_locked(pieces, answered);
}

bool SocketTransport::write_frame_locked(std::span<const std::string_view> pieces,
                                         std::span<const std::string> answered) {
  if (broken_) return false;
  if (queued_ >= limits_.max_queued_bytes) {
    fail_locked("it is not reading its replies (" + format_bytes(queued_) + " waiting, the limit is " +
                format_bytes(limits_.max_queued_bytes) + ")");
    return false;
  }
  if (ledger_) {
    std::size_t size = 0;
    for (std::string_view p : pieces) size += p.size();
    ledger_->frame(size, pieces.empty() ? 0 : content_length_header_bytes(pieces.front()), answered);
  }
  return send_locked(pieces);
}

ssize_t SocketTransport::send_some(const iovec* iov, int count) {
  if (!socket_) return ::writev(fd_, iov, count);  // SIGPIPE is ignored by the process
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<std::size_t>(count);
  return ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void SocketTransport::sent_locked(std::size_t n) {
  sent_total_ += n;
  if (ledger_) ledger_->sent(sent_total_);
}

// Sends what the socket takes now when nothing waits before it, and queues
// the rest. False when the peer is gone. One writev loop whose cases (a
// piece sent whole, in part, or queued behind others) share the position in
// `pieces`: the send path of every answer on a socket.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
bool SocketTransport::send_locked(std::span<const std::string_view> pieces) {
  std::size_t first = 0;   // the first piece not wholly sent
  std::size_t offset = 0;  // bytes of it already sent
  if (queue_.empty()) {
    iovec iov[64];
    while (first < pieces.size()) {
      int count = 0;
      for (std::size_t i = first; i < pieces.size() && count < 64; ++i) {
        const std::string_view p = i == first ? pieces[i].substr(offset) : pieces[i];
        if (!p.empty()) iov[count++] = {const_cast<char*>(p.data()), p.size()};
      }
      if (count == 0) break;
      const ssize_t n = send_some(iov, count);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        broken_ = true;  // EPIPE, ECONNRESET: the peer is gone
        if (on_fail_) on_fail_();
        changed_.notify_all();
        return false;
      }
      sent_locked(static_cast<std::size_t>(n));
      // Skip what was written; a partly written piece continues where it stopped.
      std::size_t left = static_cast<std::size_t>(n);
      while (left > 0 && first < pieces.size()) {
        const std::size_t rest = pieces[first].size() - offset;
        if (left >= rest) {
          left -= rest;
          ++first;
          offset = 0;
        } else {
          offset += left;
          left = 0;
        }
      }
      while (first < pieces.size() && pieces[first].size() == offset) {  // empty pieces
        ++first;
        offset = 0;
      }
    }
  }
  if (first == pieces.size()) return true;
  std::size_t size = 0;
  for (std::size_t i = first; i < pieces.size(); ++i) size += pieces[i].size();
  size -= offset;
  if (queue_.empty()) progress_ = std::chrono::steady_clock::now();  // the stall clock starts now
  // Small frames join the last queued string; a large one gets its own.
  if (queue_.empty() || queue_.back().size() + size > 256 * 1024) {
    queue_.emplace_back();
    queue_.back().reserve(size);
  }
  for (std::size_t i = first; i < pieces.size(); ++i)
    queue_.back().append(i == first ? pieces[i].substr(offset) : pieces[i]);
  queued_ += size;
  start_writer_locked();
  changed_.notify_all();
  return true;
}

bool SocketTransport::write_produced(const std::function<void(const Emit&)>& produce) {
  if (!ledger_) return write_produced_answer(produce, 0, {});
  // The ledger needs the frame's size before its first byte.
  std::string whole;
  produce([&](std::string_view piece) {
    whole.append(piece);
    return true;
  });
  return write(whole);
}

bool SocketTransport::write_produced_answer(const std::function<void(const Emit&)>& produce, std::size_t bytes,
                                            std::span<const std::string> answered) {
  // Small pieces (a path, a comma) are gathered into 64 KiB sends; while
  // the socket takes them the page never exists whole, and once it is full
  // the rest of the page waits in the queue, not in this thread.
  constexpr std::size_t kChunk = 64 * 1024;
  std::lock_guard lock(mutex_);
  if (broken_) return false;
  if (queued_ >= limits_.max_queued_bytes) {
    fail_locked("it is not reading its replies (" + format_bytes(queued_) + " waiting, the limit is " +
                format_bytes(limits_.max_queued_bytes) + ")");
    return false;
  }
  if (ledger_) ledger_->frame(bytes, 0, answered);  // a produced frame's header is one of its pieces
  std::string staged;
  staged.reserve(kChunk);
  bool ok = true;
  const auto send = [&](std::string_view piece) {
    if (ok) ok = send_locked(std::span<const std::string_view>(&piece, 1));
    return ok;
  };
  const auto flush = [&] {
    const bool sent = staged.empty() || send(staged);
    staged.clear();
    return sent;
  };
  produce([&](std::string_view piece) {
    if (!ok) return false;
    if (staged.size() + piece.size() <= kChunk) {
      staged.append(piece);
      return true;
    }
    if (!flush()) return false;
    if (piece.size() >= kChunk) return send(piece);
    staged.append(piece);
    return true;
  });
  return flush() && ok;
}

void SocketTransport::close() {
  std::lock_guard lock(mutex_);
  broken_ = true;
  queue_.clear();
  queued_ = 0;
  changed_.notify_all();
}

bool SocketTransport::wait_to_read() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return broken_ || queued_ <= limits_.pause_reading_bytes; });
  return !broken_;
}

bool SocketTransport::reading_paused() const {
  std::lock_guard lock(mutex_);
  return !broken_ && queued_ > limits_.pause_reading_bytes;
}

bool SocketTransport::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return broken_ || queue_.empty(); });
  return !broken_ && queue_.empty();
}

std::size_t SocketTransport::queued_bytes() const {
  std::lock_guard lock(mutex_);
  return queued_;
}

bool SocketTransport::broken() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

void SocketTransport::fail_locked(const std::string& why) {
  spdlog::warn("{}: closing the connection: {}", name_, why);
  broken_ = true;
  queue_.clear();
  queued_ = 0;
  if (socket_) ::shutdown(fd_, SHUT_RDWR);  // its reader sees the end too, and the writer's poll(2) returns
  if (wake_fd_ >= 0) (void)::eventfd_write(wake_fd_, 1);
  if (on_fail_) on_fail_();
  changed_.notify_all();
}

void SocketTransport::start_writer_locked() {
  if (writer_.joinable()) return;
  try {
    writer_ = std::thread([this] { writer_loop(); });
  } catch (const std::system_error& e) {
    // No thread to wait for the peer: rather than block a worker, the
    // connection ends (its queued replies could not be delivered).
    fail_locked(std::string("no thread to send its replies: ") + e.what());
  }
}

// Sends from the queue what the socket takes now.
void SocketTransport::flush_locked() {
  while (!queue_.empty() && !broken_) {
    iovec iov[64];
    int count = 0;
    for (auto it = queue_.begin(); it != queue_.end() && count < 64; ++it) {
      const std::size_t skip = count == 0 ? front_sent_ : 0;
      iov[count++] = {const_cast<char*>(it->data()) + skip, it->size() - skip};
    }
    const ssize_t n = send_some(iov, count);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      broken_ = true;  // the peer is gone
      queue_.clear();
      queued_ = 0;
      if (on_fail_) on_fail_();
      break;
    }
    sent_locked(static_cast<std::size_t>(n));
    progress_ = std::chrono::steady_clock::now();
    std::size_t left = static_cast<std::size_t>(n);
    queued_ -= left;
    while (left > 0) {
      const std::size_t rest = queue_.front().size() - front_sent_;
      if (left >= rest) {
        left -= rest;
        queue_.pop_front();
        front_sent_ = 0;
      } else {
        front_sent_ += left;
        left = 0;
      }
    }
  }
  changed_.notify_all();
}

void SocketTransport::writer_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_ && !broken_) {
    if (queue_.empty()) {
      changed_.wait(lock, [&] { return stopping_ || broken_ || !queue_.empty(); });
      continue;
    }
    flush_locked();
    if (broken_ || queue_.empty()) continue;
    const auto now = std::chrono::steady_clock::now();
    const auto deadline = progress_ + limits_.stall_timeout;
    if (now >= deadline) {
      fail_locked("it took none of its " + format_bytes(queued_) + " of waiting replies for " +
                  std::to_string(limits_.stall_timeout.count()) + " ms");
      break;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    lock.unlock();
    pollfd p[2] = {{fd_, POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
    (void)::poll(p, wake_fd_ >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(wait, INT_MAX)));
    lock.lock();
  }
}

// ---- TcpServer ------------------------------------------------------------

struct TcpServer::Client {
  std::mutex mutex;
  int fd = -1;
  bool open = true;  // guarded by mutex: fd is still this connection's, so shutdown(2) on it is safe
  std::atomic<bool> authenticated{false};
  bool evicted = false;  // guarded by the server's mutex: closed to make room, still ending
  std::chrono::steady_clock::time_point accepted = std::chrono::steady_clock::now();
  std::chrono::system_clock::time_point since = std::chrono::system_clock::now();
  std::string name;                                               // for log lines
  ucred peer{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};  // Unix socket: the process that connected
  std::thread thread;
  std::atomic<bool> done{false};
  // What `icotes daemon list` shows, guarded by mutex.
  std::string transport;                       // "tcp", "unix socket", "stdio (attached)", "stdio (forwarded)"
  std::string permission_mode;                 // the client's own, when it chose one
  const ConnectionHandler* handler = nullptr;  // while served
  std::function<void()> interrupt;             // an attached client's: ends its session (the daemon stops)

  void shut_down() {
    std::lock_guard lock(mutex);
    if (interrupt) return interrupt();
    if (open) ::shutdown(fd, SHUT_RDWR);
  }
};

namespace {

// `icotes/daemon/*` requests on a Unix connection of its own (tcp.hpp:
// TcpServerOptions::admin), from a process of the daemon's user only; the
// rest goes to the handler.
class AdminGate final : public MessageHandler {
 public:
  AdminGate(MessageHandler& inner, const TcpServerOptions& options, uid_t peer_uid)
      : inner_(inner), options_(options), peer_uid_(peer_uid) {}
  void on_request(Request request) override {
    if (request.method().rfind("icotes/daemon/", 0) != 0) return inner_.on_request(std::move(request));
    if (peer_uid_ != ::geteuid())
      return request.fail(make_error(error_code::kPermissionDenied, "only the daemon's user may administer it"));
    auto r = options_.admin(request.method(), request.params());
    if (r)
      request.reply(*r);
    else
      request.fail(r.error());
  }
  void on_notification(const std::string& method, const json& params) override {
    inner_.on_notification(method, params);
  }
  void on_refused(const Error& error) override { inner_.on_refused(error); }
  void on_close() override { inner_.on_close(); }

 private:
  MessageHandler& inner_;
  const TcpServerOptions& options_;
  uid_t peer_uid_;
};

// What a connection to the daemon's Unix socket starts with: an attach
// request (daemon.hpp), with the descriptors that came with it, or the
// first bytes of a client of its own. `bytes` receives what was read and
// is not the request (the stream's start, or what follows the request's
// bytes). Errors: an attach line that is not one (kInvalidParams). One read
// loop until the first bytes decide which it is, descriptors gathered on
// the way.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<std::optional<AttachRequest>> read_preamble(int fd, std::string& bytes, std::vector<int>& fds,
                                                   std::size_t max_initial_bytes) {
  char buf[64 * 1024];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  for (cmsghdr* c = n >= 0 ? CMSG_FIRSTHDR(&msg) : nullptr; c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int f;
      std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
      fds.push_back(f);
    }
  }
  if (n <= 0) return std::optional<AttachRequest>();
  bytes.append(buf, static_cast<std::size_t>(n));
  const auto more = [&] {
    ssize_t m;
    while ((m = ::read(fd, buf, sizeof buf)) < 0 && errno == EINTR) {
    }
    if (m > 0) bytes.append(buf, static_cast<std::size_t>(m));
    return m > 0;
  };
  while (bytes.size() < kAttachPrefix.size() && kAttachPrefix.starts_with(bytes))
    if (!more()) return std::optional<AttachRequest>();
  if (!std::string_view(bytes).starts_with(kAttachPrefix)) return std::optional<AttachRequest>();
  std::size_t nl;
  while ((nl = bytes.find('\n')) == std::string::npos) {
    if (bytes.size() > kMaxAttachLineBytes)
      return make_error(error_code::kInvalidParams,
                        "attach request: a line longer than " + std::to_string(kMaxAttachLineBytes) + " bytes");
    if (!more()) return make_error(error_code::kInvalidParams, "attach request: cut short");
  }
  auto request = parse_attach_line(std::string_view(bytes).substr(0, nl));
  if (!request) return std::move(request).error();
  bytes.erase(0, nl + 1);
  if (request->initial_bytes > max_initial_bytes)
    return make_error(error_code::kInvalidParams, "attach request: " + std::to_string(request->initial_bytes) +
                                                      " bytes already read, more than a client may send at once");
  while (bytes.size() < request->initial_bytes)
    if (!more()) return make_error(error_code::kInvalidParams, "attach request: its bytes were cut short");
  request->initial = bytes.substr(0, request->initial_bytes);
  bytes.erase(0, request->initial_bytes);
  return std::optional<AttachRequest>(std::move(*request));
}

// An attached client's reader blocks in read(2) on the client's stdin, one
// system call per message as in a standalone server (a poll(2) before each
// read cost about a fifth of a ping's round trip). What must end that wait
// (the launcher gone, the daemon stopping, the client's output failed)
// reaches it through a watcher thread, which also waits for the
// launcher's connection to end, and interrupts the read with a signal whose
// handler does nothing (installed without SA_RESTART: read(2) fails with
// EINTR). The signal goes only while the reader is in its read.
class AttachedReader {
 public:
  static constexpr int kGone = 1;     // the launcher's connection ended
  static constexpr int kStopped = 2;  // the daemon stops
  static constexpr int kExit = 4;     // LSP exit
  static constexpr int kBroken = 8;   // writing to the client failed

  /// Watches `control`; null when no thread could be started.
  static std::shared_ptr<AttachedReader> start(int control) {
    static std::once_flag installed;
    std::call_once(installed, [] {
      struct sigaction sa {};
      sa.sa_handler = [](int) {};
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = 0;  // no SA_RESTART
      ::sigaction(signal_number(), &sa, nullptr);
    });
    auto r = std::shared_ptr<AttachedReader>(new AttachedReader(control));
    if (r->wake_fd_ < 0) return nullptr;
    r->reader_ = ::pthread_self();
    try {
      r->watcher_ = std::thread([raw = r.get()] { raw->watch(); });
    } catch (const std::system_error&) {
      return nullptr;
    }
    return r;
  }
  ~AttachedReader() {
    finish();
    ::close(wake_fd_);
  }

  /// Any thread: the session must end for `why`.
  void wake(int why) {
    {
      std::lock_guard lock(mutex_);
      ended_ |= why;
    }
    changed_.notify_all();
    (void)::eventfd_write(wake_fd_, 1);
  }
  /// Why it must end (0: it goes on), among `mask`.
  int ended(int mask = ~0) const { return ended_.load() & mask; }
  /// The reader: read(2) that a wake() interrupts.
  ssize_t read(int fd, char* buf, std::size_t size) {
    reading_ = true;
    if (ended_.load()) {
      reading_ = false;
      errno = EINTR;
      return -1;
    }
    const ssize_t n = ::read(fd, buf, size);
    const int err = errno;
    reading_ = false;
    errno = err;
    return n;
  }
  /// The reader, between reads: waits up to `timeout` or until woken.
  void wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return ended_.load() != 0; });
  }
  /// The reader is done: the watcher ends.
  void finish() {
    if (!watcher_.joinable()) return;
    quit_ = true;
    (void)::eventfd_write(wake_fd_, 1);
    watcher_.join();
  }

 private:
  explicit AttachedReader(int control) : control_(control), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  static int signal_number() { return SIGRTMIN + 3; }

  void watch() {
    bool watching = true;  // the launcher's connection
    while (!quit_) {
      pollfd p[2] = {{wake_fd_, POLLIN, 0}, {control_, POLLIN, 0}};
      const bool interrupting = ended_.load() != 0 && reading_.load();
      const int n = ::poll(p, watching ? 2 : 1, interrupting ? 2 : -1);
      if (n < 0 && errno != EINTR) break;
      if (p[0].revents) {
        eventfd_t v;
        (void)::eventfd_read(wake_fd_, &v);
      }
      if (watching && p[1].revents) {
        // The launcher writes nothing after its request: readable means gone.
        char b[256];
        const ssize_t r = ::recv(control_, b, sizeof b, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          watching = false;
          wake(kGone);
        }
      }
      // Until the reader has left its read (a signal sent just before it
      // entered read(2) is lost: sent again every 2 ms).
      if (ended_.load() != 0 && reading_.load() && !quit_) ::pthread_kill(reader_, signal_number());
    }
  }

  int control_;
  int wake_fd_;
  pthread_t reader_{};
  std::thread watcher_;
  std::atomic<int> ended_{0};
  std::atomic<bool> reading_{false};
  std::atomic<bool> quit_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace

// Each connection holds a descriptor. With the soft RLIMIT_NOFILE at its
// usual default (1024), 1024 connections would leave none for the
// workspace (files, watches, git, pipes of child processes): a door takes
// at most a quarter of the limit.
static std::size_t connection_budget(std::size_t wanted) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return wanted;
  const std::size_t budget = std::max<std::size_t>(16, static_cast<std::size_t>(r.rlim_cur / 4));
  if (budget < wanted)
    spdlog::info("at most {} connections per door (a quarter of the {} descriptors RLIMIT_NOFILE allows)", budget,
                 static_cast<std::size_t>(r.rlim_cur));
  return std::min(wanted, budget);
}

Result<std::unique_ptr<TcpServer>> TcpServer::listen(HandlerFactory handlers, const TcpAddress& address,
                                                     TcpServerOptions options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return make_error(error_code::kInvalidParams,
                      "--listen: cannot resolve '" + address.host + "': " + ::gai_strerror(rc));
  int fd = -1;
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 512) == 0) break;
    last_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return make_error(error_code::kIoError, "--listen tcp:" + address.host + ":" + port + ": " + last_error);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const std::uint16_t actual = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                                 : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  const std::string token = random_token();
  auto path = write_token_file("tcp-" + std::to_string(actual) + ".token", token);
  if (!path) {
    ::close(fd);
    return std::move(path).error();
  }
  if (!options.max_frame_bytes) options.max_frame_bytes = kDefaultMaxFrameBytes;
  options.max_connections = connection_budget(options.max_connections);
  return std::unique_ptr<TcpServer>(new TcpServer(std::move(handlers), fd, actual, token, *path, std::move(options)));
}

Result<std::unique_ptr<TcpServer>> TcpServer::listen_unix(HandlerFactory handlers, const std::string& path,
                                                          TcpServerOptions options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return make_error(error_code::kInvalidParams, "unix socket path too long (" + std::to_string(path.size()) +
                                                      " bytes; the limit is " +
                                                      std::to_string(sizeof addr.sun_path - 1) + ")");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  // A socket file nobody listens on (its server died) would make bind fail:
  // the caller holds the start lock, so it is ours to replace.
  ::unlink(path.c_str());
  const mode_t old = ::umask(077);
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 512) != 0) {
    auto e = sys_error("listening on " + path);
    ::close(fd);
    return e;
  }
  if (!options.max_frame_bytes) options.max_frame_bytes = kDefaultMaxFrameBytes;
  options.max_connections = connection_budget(options.max_connections);
  std::unique_ptr<TcpServer> server(new TcpServer(std::move(handlers), fd, 0, "", "", std::move(options)));
  server->socket_path_ = path;
  return server;
}

double TcpServer::idle_seconds() const {
  std::lock_guard lock(mutex_);
  for (const auto& c : clients_)
    if (!c->done) return 0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - last_active_).count();
}

TcpServer::TcpServer(HandlerFactory handlers, int fd, std::uint16_t port, std::string token, std::string token_path,
                     TcpServerOptions options)
    : handlers_(std::move(handlers)),
      fd_(fd),
      port_(port),
      token_(std::move(token)),
      token_path_(std::move(token_path)),
      options_(std::move(options)) {}

TcpServer::~TcpServer() {
  stop();
  if (!token_path_.empty()) ::unlink(token_path_.c_str());
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
}

void TcpServer::start() {
  acceptor_ = std::thread([this] { accept_loop(); });
}

void TcpServer::stop(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    if (stop_reason_.empty()) stop_reason_ = reason;
  }
  if (stopping_.exchange(true)) return;
  ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(fd_);
  std::vector<std::shared_ptr<Client>> clients;
  {
    std::lock_guard lock(mutex_);
    clients.swap(clients_);
  }
  for (auto& c : clients) c->shut_down();
  for (auto& c : clients)
    if (c->thread.joinable()) c->thread.join();
}

std::size_t TcpServer::connection_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& c : clients_) n += !c->done;
  return n;
}

// The poll/accept loop: stop, joining ended connections, descriptor
// shortage, the connection limits; its branches are the cases one accept meets.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void TcpServer::accept_loop() {
  bool out_of_fds = false;  // logged once per shortage, not every 100 ms
  std::uint64_t accepted = 0;
  while (!stopping_) {
    const int cfd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stopping_) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (!out_of_fds) spdlog::warn("tcp: accept: {}; waiting before accepting more", std::strerror(errno));
        out_of_fds = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      spdlog::error("tcp: accept: {}", std::strerror(errno));
      return;
    }
    out_of_fds = false;
    int one = 1;
    if (socket_path_.empty()) ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    // Join the threads of connections that have ended.
    std::erase_if(clients_, [](const std::shared_ptr<Client>& c) {
      if (!c->done) return false;
      c->thread.join();
      return true;
    });
    // Connections closed to make room are still ending: not counted.
    std::size_t open = 0;
    for (const auto& c : clients_) open += !c->done && !c->evicted;
    if (!token_.empty()) open -= make_room_locked(open);
    if (open >= options_.max_connections) {
      spdlog::warn("tcp: {} connections open, the limit, all authenticated; refusing one", open);
      ::close(cfd);
      continue;
    }
    auto client = std::make_shared<Client>();
    client->fd = cfd;
    ++accepted;
    client->name =
        socket_path_.empty() ? "tcp connection " + peer_address(cfd) : "daemon connection #" + std::to_string(accepted);
    client->authenticated = token_.empty();  // a Unix socket: its mode is the authentication
    client->transport = socket_path_.empty() ? "tcp" : "unix socket";
    if (!socket_path_.empty()) {
      socklen_t len = sizeof client->peer;
      (void)::getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &client->peer, &len);
    }
    clients_.push_back(client);
    try {
      client->thread = std::thread([this, client] { serve_client(client); });
    } catch (const std::system_error& e) {
      spdlog::warn("tcp: no thread for a new connection ({}); refusing it", e.what());
      clients_.pop_back();
      ::close(cfd);
    }
  }
}

std::size_t TcpServer::make_room_locked(std::size_t open) {
  // Connections without the token may not crowd out those with it (see
  // tcp.hpp): the ones waiting longest go first.
  const auto now = std::chrono::steady_clock::now();
  std::vector<Client*> waiting;
  for (const auto& c : clients_)
    if (!c->done && !c->authenticated && !c->evicted) waiting.push_back(c.get());
  std::sort(waiting.begin(), waiting.end(), [](const Client* a, const Client* b) { return a->accepted < b->accepted; });
  std::size_t closed = 0;
  const auto close_oldest = [&](const std::string& why) {
    Client* c = waiting[closed++];
    c->evicted = true;
    c->shut_down();
    if (now - last_eviction_log_ >= std::chrono::seconds(1)) {
      spdlog::warn("tcp: {} connections waiting to authenticate ({}); closing the oldest, {}{}", waiting.size(), why,
                   c->name,
                   evictions_unlogged_ ? " (and " + std::to_string(evictions_unlogged_) + " before, unlogged)" : "");
      last_eviction_log_ = now;
      evictions_unlogged_ = 0;
    } else {
      ++evictions_unlogged_;
    }
  };
  while (closed < waiting.size() && waiting.size() - closed >= options_.max_unauthenticated &&
         now - waiting[closed]->accepted >= kAuthGrace)
    close_oldest("the limit is " + std::to_string(options_.max_unauthenticated));
  if (closed < waiting.size() && open - closed >= options_.max_connections)
    close_oldest("and all " + std::to_string(options_.max_connections) + " connections in use");
  return closed;
}

// One connection's life: the attach request or the token handshake, the
// reading loop with its backpressure, and the teardown finish() orders.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void TcpServer::serve_client(const std::shared_ptr<Client>& client) {
  const int fd = client->fd;
  const bool authenticating = !token_.empty();
  const auto finish = [&] {
    {
      std::lock_guard lock(client->mutex);
      client->open = false;  // from here the descriptor may close at any time
      client->handler = nullptr;
    }
    std::lock_guard lock(mutex_);
    last_active_ = std::chrono::steady_clock::now();
    client->done = true;
  };
  // A Unix connection may start with a launcher's attach request (daemon.hpp).
  std::string preamble;
  std::optional<AttachRequest> attach;
  if (!authenticating) {
    std::vector<int> fds;
    auto read = read_preamble(fd, preamble, fds, 2 * options_.max_frame_bytes + (1 << 20));
    // No transport takes the launcher's connection on these two paths: it
    // is closed here, once finish() has said it may close (every attached
    // session left one socket open in the daemon until it ran out of
    // descriptors).
    if (read && *read && (*read)->descriptors && fds.size() == 3) {
      serve_attached(client, std::move(**read), std::move(fds));
      finish();
      ::close(fd);
      return;
    }
    for (int f : fds) ::close(f);
    if (!read || (*read && (*read)->descriptors)) {
      const std::string why =
          read ? "the client's descriptors did not come with its attach request" : read.error().message;
      spdlog::warn("{}: {}; closing the connection", client->name, why);
      (void)send_fully(fd, json{{"error", why}}.dump() + "\n");
      finish();
      ::close(fd);
      return;
    }
    attach = std::move(*read);
  }
  // The descriptor is closed when the last holder of the transport lets go:
  // a reply still being computed for this connection must never write to a
  // number the process has since reused.
  std::shared_ptr<SocketTransport> transport(new SocketTransport(fd, options_.outbound, client->name),
                                             [fd](SocketTransport* t) {
                                               delete t;
                                               ::close(fd);
                                             });
  std::shared_ptr<Transport> out = transport;
  // The launcher has answered the client's initialize itself (client_hello.hpp).
  if (attach && !attach->drop_response_id.is_null()) out = drop_first_response(out, attach->drop_response_id);
  auto connection = std::make_shared<Connection>(
      out,
      authenticating ? std::min(options_.pre_auth_frame_bytes, options_.max_frame_bytes) : options_.max_frame_bytes);
  {
    DoorClient door_client;
    door_client.transport = attach ? "stdio (forwarded)" : client->transport;
    if (attach) door_client.profile = attach->profile;
    // LSP `exit` ends this connection, not the server the others share.
    door_client.end = [fd](int) { ::shutdown(fd, SHUT_RDWR); };
    const std::unique_ptr<ConnectionHandler> handler = handlers_(connection, door_client);
    if (!handler) {
      spdlog::warn("{}: no handler for the connection; closing it", client->name);
      finish();
      return;
    }
    AuthGate gate(*handler, token_, token_path_, fd, *connection, client->authenticated, options_.max_frame_bytes);
    AdminGate admin(*handler, options_, client->peer.uid);
    if (authenticating)
      connection->set_handler(&gate);
    else if (options_.admin && !attach)
      connection->set_handler(&admin);
    else
      connection->set_handler(handler.get());
    {
      std::lock_guard lock(client->mutex);
      client->handler = handler.get();
      if (attach) {
        client->transport = "stdio (forwarded)";
        client->permission_mode = attach->profile.permission_mode.value_or("");
      }
    }
    if (attach && !attach->initial.empty()) connection->on_bytes(attach->initial);
    if (!preamble.empty()) connection->on_bytes(preamble);
    // A connection waiting to authenticate gets a small buffer: a thousand
    // of them must not hold 256 KiB each.
    std::string buf(authenticating ? 2 * options_.pre_auth_frame_bytes : 256 * 1024, '\0');
    for (;;) {
      if (buf.size() < 256 * 1024 && client->authenticated) buf.resize(256 * 1024);
      // Backpressure: while its replies pile up, its requests wait unread.
      if (!transport->wait_to_read()) break;
      if (!client->authenticated) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            client->accepted + options_.auth_timeout - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          spdlog::warn("tcp: {} did not authenticate within {} ms; closing the connection", client->name,
                       options_.auth_timeout.count());
          break;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;  // EINTR, or time to look again
      }
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      connection->on_bytes(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    connection->on_eof();
    if (!authenticating) {
      // A Unix socket: `serve` forwarding stdio half-closes when its stdin
      // ends and still wants the answers, as a standalone server gives them
      // (a script that closes stdin after its last request). A launcher
      // that is gone closes both ways, which poll(2) reports as POLLHUP.
      while (connection->in_flight_count() > 0 && !stopping_ && !transport->broken()) {
        pollfd p{fd, 0, 0};
        if (::poll(&p, 1, 50) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0) break;
      }
      // The answers still queued go out before the connection is let go.
      (void)transport->drain(options_.outbound.stall_timeout);
    }
    // The peer is gone (or the server stops): what it asked is no longer
    // wanted; cancelling also ends the child processes of those requests.
    connection->cancel_all();
    connection->set_handler(nullptr);
    std::lock_guard lock(client->mutex);
    client->handler = nullptr;
  }
  finish();
}

// One attached launcher's life: the stdio it handed over set up as the
// session's streams, the control socket watched for its end, the ledger and
// the exit line; the steps share the descriptors and their teardown.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void TcpServer::serve_attached(const std::shared_ptr<Client>& client, AttachRequest request, std::vector<int> fds) {
  const int control = client->fd;  // the launcher's connection
  const int in = fds[0];
  const int out = fds[1];
  const auto say = [control](const json& line) { (void)send_fully(control, line.dump() + "\n"); };
  auto ledger = SharedLedger::map(fds[2]);
  std::shared_ptr<AttachedReader> reader;
  if (ledger) reader = AttachedReader::start(control);
  if (!ledger || !reader) {
    const std::string why = !ledger ? ledger.error().message : std::string("no thread to watch its launcher");
    spdlog::warn("{}: cannot take the client: {}", client->name, why);
    say({{"error", why}});
    ::close(in);
    ::close(out);
    return;
  }
  // A pipe is written without blocking (SocketTransport); its description
  // is shared with the launcher only, which writes nothing while served.
  // A pipe of 256 KiB takes a whole reply (MCP results stay within 100 KiB)
  // where the default 64 KiB would leave the rest to the writer thread once
  // the client has read: the hop a standalone server's blocking write does not
  // take. When the kernel refuses the size the pipe keeps its own.
  if (struct stat st{}; ::fstat(out, &st) == 0 && S_ISFIFO(st.st_mode)) {
    if (const int fl = ::fcntl(out, F_GETFL); fl >= 0) (void)::fcntl(out, F_SETFL, fl | O_NONBLOCK);
    if (::fcntl(out, F_GETPIPE_SZ) < 256 * 1024) (void)::fcntl(out, F_SETPIPE_SZ, 256 * 1024);
  }
  // Its input is read blocking, one read(2) per message (AttachedReader); its
  // description too is shared with the launcher only, which no longer reads it.
  if (const int fl = ::fcntl(in, F_GETFL); fl >= 0 && (fl & O_NONBLOCK)) (void)::fcntl(in, F_SETFL, fl & ~O_NONBLOCK);
  const std::string name = "attached client #" + client->name.substr(client->name.rfind('#') + 1) + " (pid " +
                           std::to_string(client->peer.pid) + ")";
  std::shared_ptr<SocketTransport> transport(new SocketTransport(out, options_.outbound, name),
                                             [out](SocketTransport* t) {
                                               delete t;
                                               ::close(out);
                                             });
  transport->set_ledger(*ledger);
  transport->set_on_fail([reader] { reader->wake(AttachedReader::kBroken); });
  std::shared_ptr<Transport> writer = transport;
  if (!request.drop_response_id.is_null()) writer = drop_first_response(writer, request.drop_response_id);
  auto connection = std::make_shared<Connection>(writer, options_.max_frame_bytes);
  connection->set_ledger(*ledger);
  auto exit_code = std::make_shared<std::atomic<int>>(-1);  // LSP exit
  {
    DoorClient door_client;
    door_client.transport = "stdio (attached)";
    door_client.profile = request.profile;
    door_client.end = [exit_code, reader](int code) {
      *exit_code = code;
      reader->wake(AttachedReader::kExit);
    };
    const std::unique_ptr<ConnectionHandler> handler = handlers_(connection, door_client);
    if (!handler) {
      spdlog::warn("{}: no handler for the client; closing it", name);
      say({{"error", "the daemon could not serve the client"}});
      reader->finish();
      ::close(in);
      return;
    }
    connection->set_handler(handler.get());
    {
      std::lock_guard lock(client->mutex);
      client->name = name;
      client->handler = handler.get();
      client->transport = "stdio (attached)";
      client->permission_mode = request.profile.permission_mode.value_or("");
      client->interrupt = [reader] { reader->wake(AttachedReader::kStopped); };
    }
    if (stopping_) reader->wake(AttachedReader::kStopped);  // stop() may have passed it before it could be interrupted
    spdlog::info("{}: attached{}", name,
                 request.profile.permission_mode ? " (permission mode " + *request.profile.permission_mode + ")" : "");
    say({{"attached", {{"pid", ::getpid()}, {"version", ICOTES_VERSION}}}});
    if (!request.initial.empty()) connection->on_bytes(request.initial);
    (*ledger)->end_adoption();
    std::string buf(256 * 1024, '\0');
    bool eof = false;
    while (!reader->ended()) {
      // Backpressure: while its replies pile up, its requests wait unread.
      if (transport->reading_paused()) {
        reader->wait_for(std::chrono::milliseconds(50));
        continue;
      }
      const ssize_t n = reader->read(in, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // Its input was made non-blocking after it was handed over: wait
        // for it rather than spin (a wake-up is then seen within 50 ms).
        pollfd p{in, POLLIN, 0};
        (void)::poll(&p, 1, 50);
        continue;
      }
      if (n <= 0) {
        eof = true;
        break;
      }
      connection->on_bytes(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    if (eof) {
      connection->on_eof();
      // The client ended its input after its last request: its answers
      // still come, as from a standalone server.
      while (connection->in_flight_count() > 0 && !reader->ended()) reader->wait_for(std::chrono::milliseconds(50));
    }
    if (!reader->ended(AttachedReader::kStopped | AttachedReader::kGone)) {
      // What is queued goes out before the end is announced.
      const auto deadline = std::chrono::steady_clock::now() + options_.outbound.stall_timeout;
      while (!transport->drain(std::chrono::milliseconds(50)) && !transport->broken() &&
             !reader->ended(AttachedReader::kStopped | AttachedReader::kGone) &&
             std::chrono::steady_clock::now() < deadline) {
      }
    }
    const int why = reader->ended();
    if (why & AttachedReader::kGone) {
      spdlog::info("{}: its launcher is gone", name);
    } else if (why & AttachedReader::kStopped) {
      // What is left unanswered stays in the ledger for the launcher.
      transport->close();
      (*ledger)->freeze();
      std::string reason;
      {
        std::lock_guard lock(mutex_);
        reason = stop_reason_;
      }
      spdlog::info("{}: the daemon stops; its launcher answers {} request(s) left", name, (*ledger)->waiting());
      say({{"exit", 1}, {"stopped", reason}});
    } else if (why & AttachedReader::kExit) {
      say({{"exit", exit_code->load()}});
    } else {
      say({{"exit", transport->broken() ? 1 : 0}});  // its input ended, or its output failed
    }
    reader->finish();
    connection->cancel_all();
    connection->set_handler(nullptr);
    std::lock_guard lock(client->mutex);
    client->handler = nullptr;
    client->interrupt = nullptr;
  }
  ::close(in);
}

json TcpServer::describe_clients() const {
  json out = json::array();
  std::lock_guard lock(mutex_);
  for (const auto& c : clients_) {
    if (c->done) continue;
    std::lock_guard client_lock(c->mutex);
    if (!c->handler) continue;  // not served yet, or ending
    // A connection that has said nothing yet (e.g. one that only checked the
    // daemon is up, as `icotes daemon restart` does, and is closing) is no client.
    if (c->handler->dialect().empty()) continue;
    json d = {{"name", c->handler->client_name()},
              {"dialect", std::string(c->handler->dialect())},
              {"transport", c->transport},
              {"since", std::chrono::duration_cast<std::chrono::milliseconds>(c->since.time_since_epoch()).count()}};
    if (c->peer.pid > 0) d["pid"] = c->peer.pid;
    if (!c->permission_mode.empty()) d["permissionMode"] = c->permission_mode;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace icotes
