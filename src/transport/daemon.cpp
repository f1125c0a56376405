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

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>

#include "icotes/client_hello.hpp"
#include "icotes/fd_io.hpp"
#include "icotes/framing.hpp"
#include "icotes/hex.hpp"
#include "icotes/json_parse.hpp"
#include "icotes/ledger.hpp"
#include "icotes/tcp.hpp"

extern char** environ;

namespace icotes {

std::string short_digest(std::string_view text) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, text.size(), reinterpret_cast<const std::uint8_t*>(text.data()));
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  return hex_encode(digest, 8);  // 64 bits: names, not secrets
}

Result<DaemonAddress> daemon_address(const std::string& canonical_root) {
  auto dir = runtime_dir();
  if (!dir) return std::move(dir).error();
  const std::string base = *dir + "/ws-" + short_digest(canonical_root);
  return DaemonAddress{base + ".sock", base + ".lock", base + ".log"};
}

std::vector<std::string> all_daemon_sockets() {
  std::vector<std::string> out;
  auto dir = runtime_dir();
  if (!dir) return out;
  const std::string pattern = *dir + "/ws-*.sock";
  glob_t g{};
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  return out;
}

std::string daemon_log_of(const std::string& socket_path) {
  return socket_path.ends_with(".sock") ? socket_path.substr(0, socket_path.size() - 5) + ".log" : socket_path + ".log";
}

Result<int> connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return make_error(error_code::kInvalidParams, "socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(error_code::kIoError, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) return make_error(error_code::kNotFound, "no icotes daemon at " + path);
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
  args.reserve(argv.size() + 1);
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
      return make_error(error_code::kIoError, "the icotes daemon exited at start (" +
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

namespace {

// After the daemon went away under a client (`stopped`: it said why; else
// it died, `exited` telling whether the process is gone): the unanswered
// requests `ids` get error -32603 on stdout, after `filler`, which completes
// a frame cut short; the reason goes to stderr. Returns 1.
int unanswered_exit(Framing framing, const FrameFiller& filler, const std::vector<json>& ids, bool exited,
                    const std::string& stopped, const std::string& daemon_log) {
  const std::string log = daemon_log.empty() ? std::string("beside its socket") : daemon_log;
  const std::string why = stopped.empty()
                              ? "daemon serving this workspace closed the connection before answering (it " +
                                    std::string(exited ? "exited or was killed" : "dropped this client") +
                                    "); its log is " + log + ". The next `icotes serve` starts a new daemon."
                              : "daemon serving this workspace stopped before answering (" + stopped +
                                    "); its log is " + log + ". The next `icotes serve` starts a new daemon.";
  std::string out;
  for (const json& id : ids) {
    json error = {{"code", error_code::kInternalError}, {"message", "the icotes " + why}};
    if (!daemon_log.empty()) error["data"] = {{"daemonLog", daemon_log}};
    out += frame_message(framing, json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}}.dump());
  }
  // The daemon may have left stdout non-blocking (a pipe it wrote).
  if (const int fl = ::fcntl(STDOUT_FILENO, F_GETFL); fl >= 0 && (fl & O_NONBLOCK))
    (void)::fcntl(STDOUT_FILENO, F_SETFL, fl & ~O_NONBLOCK);
  // The filler first, its spaces a chunk at a time: a frame may be of any
  // length the daemon declared.
  int failed = write_fully(STDOUT_FILENO, filler.text);
  const std::string spaces(static_cast<std::size_t>(std::min<std::uint64_t>(filler.spaces, 64 * 1024)), ' ');
  for (std::uint64_t left = filler.spaces; failed == 0 && left > 0;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, spaces.size()));
    failed = write_fully(STDOUT_FILENO, std::string_view(spaces.data(), n));
    left -= n;
  }
  if (failed == 0) (void)write_fully(STDOUT_FILENO, out);
  std::fprintf(
      stderr, "icotes: the %s%s\n", why.c_str(),
      ids.empty() ? "" : (" " + std::to_string(ids.size()) + " request(s) answered with error -32603.").c_str());
  return 1;
}

// One line of the daemon's answers on the socket (without its newline);
// nullopt at the end of the connection. `buffer` keeps what follows it.
std::optional<std::string> read_control_line(int socket, std::string& buffer) {
  for (;;) {
    if (const auto nl = buffer.find('\n'); nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return line;
    }
    if (buffer.size() > 64 * 1024) return std::nullopt;  // not the daemon speaking
    char buf[4096];
    const ssize_t n = ::read(socket, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer.append(buf, static_cast<std::size_t>(n));
  }
}

// Sends `bytes` with `fds` attached to the first byte (SCM_RIGHTS).
int send_with_fds(int socket, std::string_view bytes, std::span<const int> fds) {
  if (bytes.empty()) return EINVAL;
  iovec iov{const_cast<char*>(bytes.data()), 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  while ((n = ::sendmsg(socket, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n != 1) return n < 0 ? errno : EIO;
  return send_fully(socket, bytes.substr(1));
}

}  // namespace

std::string attach_line(const AttachRequest& request) {
  json body = {{"profile", to_json(request.profile)},
               {"descriptors", request.descriptors},
               {"initialBytes", request.initial.size()}};
  if (!request.drop_response_id.is_null()) body["dropResponseId"] = request.drop_response_id;
  return std::string(kAttachPrefix) + body.dump() + "}\n";
}

Result<AttachRequest> parse_attach_line(std::string_view line) {
  const json v = parse_json_or_discarded(line);
  auto bad = [](const std::string& why) { return make_error(error_code::kInvalidParams, "attach request: " + why); };
  if (!v.is_object() || !v.contains("icotesAttach") || !v["icotesAttach"].is_object()) return bad("not one");
  const json& b = v["icotesAttach"];
  AttachRequest r;
  auto profile = client_profile_from_json(member_or(b, "profile", json::object()));
  if (!profile) return std::move(profile).error();
  r.profile = std::move(*profile);
  r.descriptors = member_or(b, "descriptors", false);
  const json n = member_or(b, "initialBytes", json(0));
  if (!n.is_number_unsigned()) return bad("initialBytes must be a count");
  r.initial_bytes = n.get<std::size_t>();
  if (auto id = b.find("dropResponseId"); id != b.end()) {
    if (!is_request_id(*id)) return bad("dropResponseId must be a request id");
    r.drop_response_id = *id;
  }
  return r;
}

namespace {

// The requests among the bytes already read (request.initial), ids dumped,
// less those cancelled there and the one whose response is dropped; `framing`
// is what those bytes showed.
std::vector<std::string> initial_request_ids(const AttachRequest& request, Framing& framing) {
  EnvelopeScanner scan;
  std::vector<json> read;
  scan.feed(request.initial, [&](const Envelope& e) {
    if (e.has_method && e.has_id && !e.id.is_null() && e.id != request.drop_response_id) read.push_back(e.id);
    if (e.method == "notifications/cancelled" && !e.has_id && e.params.is_object() && e.params.contains("requestId"))
      std::erase(read, e.params["requestId"]);
  });
  std::vector<std::string> ids;
  ids.reserve(read.size());
  for (const json& id : read) ids.push_back(id.dump());
  framing = scan.framing();
  return ids;
}

}  // namespace

std::optional<int> hand_over_stdio(int socket, const AttachRequest& request, const std::string& daemon_log) {
  // The requests among the bytes already read wait for answers too: they
  // are in the ledger before the daemon has them (the daemon finds them
  // there again as it reads them).
  Framing framing = Framing::Unknown;
  const std::vector<std::string> ids = initial_request_ids(request, framing);
  auto ledger = create_ledger(ids);
  if (!ledger) {
    std::fprintf(stderr, "icotes: cannot hand the client to the daemon: %s\n", ledger.error().message.c_str());
    return std::nullopt;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } ledger_closer{*ledger};
  AttachRequest line = request;
  line.descriptors = true;
  const int fds[3] = {STDIN_FILENO, STDOUT_FILENO, *ledger};
  if (const int err = send_with_fds(socket, attach_line(line), fds);
      err != 0 || send_fully(socket, request.initial) != 0) {
    std::fprintf(stderr, "icotes: cannot hand the client to the daemon: %s\n", std::strerror(err ? err : EPIPE));
    return std::nullopt;
  }
  const DaemonProcess daemon(socket);
  std::string buffer;
  const auto first = read_control_line(socket, buffer);
  const json ack = first ? parse_json_or_discarded(*first) : json();
  if (!ack.is_object() || !ack.contains("attached")) {
    const std::string why = ack.is_object() && ack.contains("error") && ack["error"].is_string()
                                ? ack["error"].get<std::string>()
                            : first ? "it answered " + first->substr(0, 200)
                                    : "it closed the connection";
    std::fprintf(stderr, "icotes: the daemon did not take the client (%s); its log is %s\n", why.c_str(),
                 daemon_log.c_str());
    return std::nullopt;
  }
  // Served by the daemon: what comes now is the end of the session.
  const auto last = read_control_line(socket, buffer);
  const json end = last ? parse_json_or_discarded(*last) : json();
  std::string stopped;
  if (end.is_object() && end.contains("exit")) {
    const int code = member_or(end, "exit", 1);
    stopped = member_or(end, "stopped", std::string());
    if (stopped.empty()) return code;
  }
  const bool exited = !stopped.empty() || daemon.exits_within(std::chrono::milliseconds(500));
  auto contents = read_ledger(*ledger);
  if (!contents) {
    std::fprintf(stderr, "icotes: %s\n", contents.error().message.c_str());
    return unanswered_exit(framing, {}, {}, exited, stopped, daemon_log);
  }
  if (contents->framing != Framing::Unknown) framing = contents->framing;
  return unanswered_exit(framing, contents->filler, contents->waiting, exited, stopped, daemon_log);
}

// One relay between the client's stdio and the daemon's socket, with the
// bookkeeping both directions share (pending requests, LSP exit, framing) and
// the answers owed when the daemon goes away; its threads and poll loop only
// read as one piece.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
int forward_stdio(int socket, const AttachRequest& request, const std::string& daemon_log) {
  const std::string_view initial = request.initial;
  const json& drop_response_id = request.drop_response_id;
  {
    AttachRequest line = request;
    line.descriptors = false;
    line.initial.clear();             // sent as the client's first bytes, below
    line.drop_response_id = nullptr;  // dropped here, on the way out
    if (send_fully(socket, attach_line(line)) != 0)
      return unanswered_exit(Framing::Unknown, {}, {}, false, "", daemon_log);
  }
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
  std::vector<json> ids;
  ids.reserve(pending.size());
  for (auto& [key, id] : pending) ids.push_back(std::move(id));
  // A frame cut short is completed (Content-Length bytes, a line end) so
  // that the answers below are read as frames of their own; while the
  // dropper still held a partial frame, the client saw none of it.
  return unanswered_exit(framing, (!dropper || dropper->done()) ? down.frame_filler() : FrameFiller{}, ids, exited, "",
                         daemon_log);
}

}  // namespace icotes
