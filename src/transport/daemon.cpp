#include "icotes/daemon.hpp"

#include <fcntl.h>
#include <glob.h>
#include <nettle/sha2.h>
#include <poll.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "icotes/client_hello.hpp"
#include "icotes/fd_io.hpp"
#include "icotes/framing.hpp"
#include "icotes/tcp.hpp"

extern char** environ;

namespace icotes {

std::string short_digest(std::string_view text) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, text.size(), reinterpret_cast<const std::uint8_t*>(text.data()));
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {  // 64 bits: names, not secrets
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

Result<DaemonAddress> daemon_address(const std::string& canonical_root, const std::string& settings) {
  auto dir = runtime_dir();
  if (!dir) return std::move(dir).error();
  const std::string base = *dir + "/ws-" + short_digest(canonical_root) + "-" + short_digest(settings);
  return DaemonAddress{base + ".sock", base + ".lock", base + ".log"};
}

std::vector<std::string> daemon_sockets(const std::string& canonical_root) {
  std::vector<std::string> out;
  auto dir = runtime_dir();
  if (!dir) return out;
  const std::string pattern = *dir + "/ws-" + short_digest(canonical_root) + "-*.sock";
  glob_t g{};
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  return out;
}

Result<int> connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return make_error(error_code::kInvalidParams, "socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(error_code::kIoError, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED)
      return make_error(error_code::kNotFound, "no icotes daemon at " + path);
    return make_error(error_code::kIoError, "connecting to " + path + ": " + std::strerror(err));
  }
  return fd;
}

namespace {

Result<pid_t> spawn_daemon(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session: the daemon outlives the launcher and its terminal.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return make_error(error_code::kIoError, "starting the daemon " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

// The last lines of the daemon's log, for an error message.
std::string log_tail(const std::string& path, std::size_t lines = 5) {
  std::ifstream f(path);
  std::vector<std::string> last;
  for (std::string line; std::getline(f, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.erase(last.begin());
  }
  std::string out;
  for (const auto& l : last) out += "\n  " + l;
  return out;
}

}  // namespace

Result<int> attach_daemon(const DaemonAddress& address, const std::vector<std::string>& daemon_argv,
                          std::chrono::milliseconds wait) {
  if (auto fd = connect_unix(address.socket_path); fd || fd.error().code != error_code::kNotFound) return fd;
  // Nobody listening: start one, one launcher at a time.
  const int lock = ::open(address.lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock < 0) return make_error(error_code::kIoError, "opening " + address.lock_path + ": " + std::strerror(errno));
  while (::flock(lock, LOCK_EX) != 0 && errno == EINTR) {
  }
  auto release = [&] { ::close(lock); };  // closing drops the lock
  // Another launcher may have started it while this one waited.
  if (auto fd = connect_unix(address.socket_path); fd || fd.error().code != error_code::kNotFound) {
    release();
    return fd;
  }
  auto pid = spawn_daemon(daemon_argv, address.log_path);
  if (!pid) {
    release();
    return std::move(pid).error();
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto fd = connect_unix(address.socket_path);
    if (fd || fd.error().code != error_code::kNotFound) {
      release();
      return fd;
    }
    // A daemon that could not start (a bad setting, an unusable root) says
    // why in its log; no point waiting out the deadline.
    int status = 0;
    if (::waitpid(*pid, &status, WNOHANG) == *pid) {
      release();
      return make_error(error_code::kIoError,
                        "the icotes daemon exited at start (" +
                            (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                               : "signal " + std::to_string(WTERMSIG(status))) +
                            "); " + address.log_path + " ends:" + log_tail(address.log_path));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      release();
      return make_error(error_code::kIoError, "the icotes daemon did not start listening on " + address.socket_path +
                                                  " within " + std::to_string(wait.count()) + " ms; see " +
                                                  address.log_path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

namespace {

// The daemon at the other end of `socket` (SO_PEERCRED, unix(7)), held as
// a pidfd (pidfd_open(2)): readable once it has exited, and never another
// process that reuses its pid.
class DaemonProcess {
 public:
  explicit DaemonProcess(int socket) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
      pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, cred.pid, 0));
  }
  ~DaemonProcess() {
    if (pidfd_ >= 0) ::close(pidfd_);
  }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  /// True when it exits within `wait` (a killed process closes its
  /// sockets a moment before it is reported gone). Unknown (no pidfd): true.
  bool exits_within(std::chrono::milliseconds wait) const {
    if (pidfd_ < 0) return true;
    pollfd p{pidfd_, POLLIN, 0};
    int r;
    while ((r = ::poll(&p, 1, static_cast<int>(wait.count()))) < 0 && errno == EINTR) {
    }
    return r > 0;
  }

 private:
  int pidfd_ = -1;
};

}  // namespace

int forward_stdio(int socket, std::string_view initial, const json& drop_response_id, const std::string& daemon_log) {
  // What the launcher must know of the conversation it forwards, read from
  // both streams by EnvelopeScanner (one pass, bodies never kept):
  //  - the requests the daemon has not answered yet: if it goes away (killed,
  //    crashed), each gets an error here instead of waiting forever;
  //  - LSP's exit code (LSP 3.17 "Exit Notification": 0 when `shutdown`
  //    came first, else 1), the client's doing, so the client's side decides it.
  // Shared with the stdin thread, which may outlive this call (below).
  struct Shared {
    std::mutex mutex;
    std::unordered_map<std::string, json> pending;  // id dumped -> id
    bool shutdown = false;
    int exit_code = -1;                  // -1: no exit notification
    bool client_done = false;            // stdin ended
    Framing framing = Framing::Unknown;  // the client's
  };
  auto shared = std::make_shared<Shared>();
  const DaemonProcess daemon(socket);
  // stdin → daemon on a thread; daemon → stdout here.
  std::thread up([socket, shared, first = std::string(initial)] {
    EnvelopeScanner scanner;
    const auto on_envelope = [&](const Envelope& e) {
      std::lock_guard lock(shared->mutex);
      shared->framing = scanner.framing();
      if (!e.has_method) return;  // the client's answers to the daemon's requests
      if (e.method == "shutdown" && e.has_id) shared->shutdown = true;
      if (e.method == "exit" && !e.has_id && shared->exit_code < 0) shared->exit_code = shared->shutdown ? 0 : 1;
      // MCP: a cancelled request gets no response ("Cancellation").
      if (e.method == "notifications/cancelled" && !e.has_id && e.params.is_object() && e.params.contains("requestId"))
        shared->pending.erase(e.params["requestId"].dump());
      if (e.has_id) shared->pending.emplace(e.id.dump(), e.id);
    };
    // Looked at before sending: the daemon may answer (or close, after
    // `exit`) as soon as it has the bytes.
    scanner.feed(first, on_envelope);
    if (send_fully(socket, first) != 0) return;
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      const std::string_view data(buf, static_cast<std::size_t>(n));
      scanner.feed(data, on_envelope);
      if (send_fully(socket, data) != 0) return;
    }
    {
      std::lock_guard lock(shared->mutex);
      shared->client_done = true;
    }
    ::shutdown(socket, SHUT_WR);  // the client is done talking; answers may still come
  });
  int rc = 0;
  char buf[64 * 1024];
  // The client already has an answer to its initialize (client_hello.hpp).
  std::optional<ResponseDropper> dropper;
  if (!drop_response_id.is_null()) dropper.emplace(drop_response_id);
  EnvelopeScanner down;
  const auto on_answer = [&](const Envelope& e) {
    if (!e.is_response()) return;
    std::lock_guard lock(shared->mutex);
    shared->pending.erase(e.id.dump());
  };
  std::string filtered;
  while (rc == 0) {
    const ssize_t n = ::read(socket, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view out(buf, static_cast<std::size_t>(n));
    down.feed(out, on_answer);
    if (dropper && !dropper->done()) {
      filtered = dropper->filter(out);
      out = filtered;
    }
    if (write_fully(STDOUT_FILENO, out) != 0) rc = 1;
  }
  // The daemon closed the connection. A client still writing is told by
  // EOF on its side; the stdin thread may be blocked in read, so it is left
  // (and outlives this frame: what it shares is read now, and the process
  // ends on return).
  std::unordered_map<std::string, json> pending;
  bool client_done = false;
  int exit_code = -1;
  Framing framing = down.framing();
  {
    std::lock_guard lock(shared->mutex);
    pending.swap(shared->pending);
    if (framing == Framing::Unknown) framing = shared->framing;
    client_done = shared->client_done;
    exit_code = shared->exit_code;
  }
  up.detach();
  if (rc != 0) return rc;
  if (exit_code >= 0) return exit_code;  // LSP exit: the daemon closes after it
  // The client ended and everything it asked was answered.
  if (client_done && pending.empty()) return 0;
  const bool exited = daemon.exits_within(std::chrono::milliseconds(500));
  // Or the daemon, still running, let it go after answering what it could
  // (a request too large to read is answered with id null: JSON-RPC 2.0
  // section 5, so its id stays in `pending`).
  if (client_done && !exited) return 0;
  // Otherwise the daemon went away under a client that still talks to it.
  const std::string why = "daemon serving this workspace closed the connection before answering (it " +
                          std::string(exited ? "exited or was killed" : "dropped this client") + "); its log is " +
                          (daemon_log.empty() ? std::string("beside its socket") : daemon_log) +
                          ". The next `icotes serve` starts a new daemon.";
  // A frame cut short is completed (Content-Length bytes, a line end) so
  // that the answers below are read as frames of their own; while the
  // dropper still held a partial frame, the client saw none of it.
  std::string out = (!dropper || dropper->done()) ? down.frame_filler() : std::string();
  for (const auto& [key, id] : pending) {
    json error = {{"code", error_code::kInternalError}, {"message", "the icotes " + why}};
    if (!daemon_log.empty()) error["data"] = {{"daemonLog", daemon_log}};
    out += frame_message(framing, json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}}.dump());
  }
  (void)write_fully(STDOUT_FILENO, out);
  std::fprintf(stderr, "icotes: the %s%s\n", why.c_str(),
               pending.empty()
                   ? ""
                   : (" " + std::to_string(pending.size()) + " request(s) answered with error -32603.").c_str());
  return 1;
}

}  // namespace icotes
