// icotes: the command line. `serve` speaks LSP, MCP or plain JSON-RPC on
// stdio; `call` runs one operation in-process; `docs` prints the operation
// reference generated from the embedded schemas.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "icotes/fd_io.hpp"
#include "icotes/log.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/client_hello.hpp"
#include "icotes/permission_admin.hpp"
#include "icotes/session.hpp"
#include "icotes/stdio.hpp"
#include "icotes/daemon.hpp"
#include "icotes/framing.hpp"
#include "icotes/http.hpp"
#include "icotes/json_parse.hpp"
#include "icotes/tcp.hpp"
#include "icotes/workspace.hpp"

#ifdef ICOTES_WITH_JEMALLOC
// jemalloc's options (jemalloc(3), "malloc_conf"; MALLOC_CONF in the
// environment still overrides them). A daemon idles for hours after a burst
// of work: a background thread gives freed pages back within about a second
// instead of at the next allocation (an HTTP door after 64 clients: 60 MB
// resident, 39 MB five seconds later; without it 65 MB for good).
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

namespace {

using namespace icotes;

// --permission-mode, --allow, --deny (serve and call).
struct PermissionFlags {
  std::string mode = "default";
  std::vector<std::string> allow, deny;
  CLI::Option* mode_option = nullptr;

  void add_to(CLI::App* cmd) {
    mode_option = cmd->add_option("--permission-mode", mode,
                    "default (reads allowed, everything else asks), acceptEdits (file writes and edits allowed), "
                    "readOnly (writes and commands denied) or bypass (everything allowed; logged loudly)")
        ->capture_default_str()
        ->check(CLI::IsMember({"default", "acceptEdits", "readOnly", "bypass"}));
    // One rule per flag, so a rule never swallows the positionals after it.
    cmd->add_option("--allow", allow, "Allow rule, e.g. 'Edit(src/**)' or 'Bash(make test)' (repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--deny", deny, "Deny rule, e.g. 'Read(.env)' (repeatable; deny rules win)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }

  /// This client's part of its profile: the mode when given on the command
  /// line (else the workspace's applies), its rules.
  void fill(ClientProfile& profile) const {
    if (mode_option && mode_option->count() > 0) profile.permission_mode = mode;
    profile.allow = allow;
    profile.deny = deny;
  }

  Result<permissions::Settings> settings() const {
    permissions::Settings s;
    s.mode = permissions::mode_from_string(mode).value_or(permissions::Mode::Default);
    for (const auto& [list, answer] : {std::pair{&allow, permissions::Answer::Allow}, std::pair{&deny, permissions::Answer::Deny}})
      for (const auto& text : *list) {
        auto r = permissions::Rule::parse(text, answer);
        if (!r) return std::move(r).error();
        (answer == permissions::Answer::Allow ? s.allow : s.deny).push_back(std::move(*r));
      }
    if (s.mode == permissions::Mode::Bypass) {
      std::fprintf(stderr, "icotes: WARNING: --permission-mode bypass: every operation is allowed without asking "
                           "(deny rules still apply)\n");
      spdlog::warn("PERMISSION MODE BYPASS: every operation is allowed without asking (deny rules still apply)");
    }
    return s;
  }
};

struct ServeOptions {
  std::string root = ".";
  bool root_given = false;  // --root on the command line (else the client's root, else ".")
  bool stdio = false;
  std::string log_file;
  std::string log_level = "info";
  std::size_t max_frame_bytes = kDefaultMaxFrameBytes;
  std::size_t threads = 0;
  std::vector<std::string> listen;
  bool allow_remote = false;
  bool attach = false;      // --attach: attach or fail (no standalone fallback)
  bool standalone = false;  // --standalone: one process for this client
  bool daemon = false;
  int idle_timeout_ms = 60000;
  PermissionFlags permissions;
  /// What this client asked for on its command line (client_profile.hpp):
  /// given to the daemon it attaches to for its connection alone, or to its
  /// own session when standalone. Filled by client_profile(); --max-result-bytes,
  /// --structured-output and --tools are read by the MCP layer.
  ClientProfile profile;
};

// The profile of a `serve` client: its permission flags (and the result
// and tool flags the MCP layer reads).
ClientProfile client_profile(const ServeOptions& o) {
  ClientProfile p = o.profile;
  o.permissions.fill(p);
  return p;
}

// SIGINT/SIGTERM/SIGHUP end a server that listens: the handler only writes a
// byte that the main thread waits for (nothing else is async-signal-safe).
int g_stop_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
  const char b = 1;
  [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &b, 1);
}

// Why a server that listens stops (what attached clients are told).
std::mutex g_stop_mutex;
std::string g_stop_reason;
void request_stop(const std::string& reason) {
  {
    std::lock_guard lock(g_stop_mutex);
    if (g_stop_reason.empty()) g_stop_reason = reason;
  }
  const char b = 0;
  [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &b, 1);
}
std::string stop_reason() {
  std::lock_guard lock(g_stop_mutex);
  if (!g_stop_reason.empty()) return g_stop_reason;
  const int sig = g_stop_signal;
  return sig ? std::string("it received ") + (sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal")
             : std::string("the daemon stopped");
}

void print_banner(const std::string& root, const char* how) {
  std::fprintf(stderr,
               "icotes %s serving %s on stdio%s.\n"
               "This is a protocol server: editors and AI clients start it and talk JSON-RPC on stdin/stdout.\n"
               "  VS Code / Neovim (LSP):  command \"icotes serve --stdio --root <dir>\"\n"
               "  Claude Code / MCP hosts: {\"command\": \"icotes\", \"args\": [\"serve\", \"--root\", \"<dir>\"]}\n"
               "  By hand: type one JSON-RPC request per line, e.g.\n"
               "    {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"icotes/files/list\",\"params\":{\"path\":\".\"}}\n"
               "  One operation from a script: icotes call --root <dir> files/read '{\"path\":\"README.md\"}'\n"
               "Press Ctrl-D to stop.\n",
               ICOTES_VERSION, root.c_str(), how);
}

// Without --root, the workspace is the one the client names (its LSP
// initialize, or its MCP roots): include/doors/icotes/client_hello.hpp. An MCP
// client gets this long to send `initialized` and answer roots/list.
constexpr int kRootsTimeoutMs = 5000;

// `serve` on stdio: hand the client to the workspace's daemon, starting it
// when there is none (include/doors/icotes/daemon.hpp). No workspace is opened
// here: attaching costs a connect (and, the first time, the daemon's
// start). Returns nullopt when attaching is impossible here (message
// printed), for the caller to serve standalone instead.
std::optional<int> attach(const ServeOptions& o, std::string_view initial, const json& drop_response_id) {
  std::error_code ec;
  const std::string root = std::filesystem::canonical(o.root, ec).string();
  if (ec || !std::filesystem::is_directory(root)) {
    std::fprintf(stderr, "icotes: %s is not a directory\n", o.root.c_str());
    return 2;
  }
  // Bad flags are reported here, not by the daemon.
  if (auto settings = o.permissions.settings(); !settings) {
    std::fprintf(stderr, "icotes: %s\n", settings.error().message.c_str());
    return 2;
  }
  // One daemon per root: this client's flags travel with it, for its
  // connection alone.
  auto address = daemon_address(root);
  if (!address) {
    std::fprintf(stderr, "icotes: cannot attach to a shared daemon: %s\n", address.error().message.c_str());
    return std::nullopt;
  }
  std::vector<std::string> argv = {std::filesystem::read_symlink("/proc/self/exe", ec).string(), "serve", "--daemon",
                                   "--root", root, "--idle-timeout", std::to_string(o.idle_timeout_ms),
                                   "--log-level", o.log_level};
  if (o.threads) argv.insert(argv.end(), {"--threads", std::to_string(o.threads)});
  argv.insert(argv.end(), {"--max-frame-bytes", std::to_string(o.max_frame_bytes)});
  std::signal(SIGPIPE, SIG_IGN);
  AttachRequest request;
  request.profile = client_profile(o);
  request.initial = std::string(initial);
  request.drop_response_id = drop_response_id;
  // A daemon that reached its idle timeout as this launcher connected
  // closes without taking the client (nothing was read or written): the
  // next attempt starts a fresh one.
  for (int attempt = 1;; ++attempt) {
    auto fd = attach_daemon(*address, argv);
    if (!fd) {
      std::fprintf(stderr, "icotes: cannot attach to a shared daemon: %s\n", fd.error().message.c_str());
      return std::nullopt;
    }
    // A terminal stays with the launcher: the daemon must not go on reading
    // it once this process is interrupted (the shell reads it again then).
    if (::isatty(STDIN_FILENO) || ::isatty(STDOUT_FILENO)) {
      if (::isatty(STDIN_FILENO))
        print_banner(root, (" through the workspace's daemon (" + address->socket_path + ")").c_str());
      return forward_stdio(*fd, request, address->log_path);
    }
    auto code = hand_over_stdio(*fd, request, address->log_path);
    ::close(*fd);
    if (code || attempt == 3) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
  }
}

int serve_here(const ServeOptions& o, std::string_view initial, const json& drop_response_id = nullptr);

int serve(const ServeOptions& o) {
  if (o.attach && o.standalone) {
    std::fprintf(stderr, "icotes: --attach and --standalone exclude each other\n");
    return 2;
  }
  if (o.attach && !o.listen.empty()) {
    std::fprintf(stderr, "icotes: --attach forwards stdio to the daemon; --listen needs a server of its own (--standalone)\n");
    return 2;
  }
  ServeOptions opts = o;
  ClientHello hello;  // stdin bytes read before serving, and the root they name
  const bool stdio_only = !o.daemon && o.listen.empty();
  if (!o.root_given && stdio_only) {  // with --listen the doors open at once, on --root or "."
    hello = read_client_hello(STDIN_FILENO, STDOUT_FILENO, o.max_frame_bytes, kRootsTimeoutMs);
    if (hello.root) opts.root = *hello.root;
  }
  // Stdio alone attaches to the workspace's daemon unless told otherwise;
  // a server with doors of its own (--listen) is standalone.
  if (stdio_only && !o.standalone) {
    if (auto code = attach(opts, hello.bytes, hello.drop_response_id)) return *code;
    if (o.attach) return 2;
    std::fprintf(stderr, "icotes: serving standalone instead (this client alone; --standalone skips attaching)\n");
  }
  return serve_here(opts, hello.bytes, hello.drop_response_id);
}

// One process serving its own workspace: standalone on stdio, with
// --listen doors, or as the daemon. `initial`: stdin bytes already read.
int serve_here(const ServeOptions& o, std::string_view initial, const json& drop_response_id) {
  if (!setup_logging(o.log_level, o.log_file)) return 2;
  std::signal(SIGPIPE, SIG_IGN);
  // glibc malloc only (the default build links jemalloc, which ignores
  // mallopt; see CMakeLists.txt). Replies of a megabyte (a whole file) are
  // common: keep such buffers in the heap for reuse instead of an mmap +
  // page faults per reply, and let a reply fit the stdout pipe in one go
  // (fewer switches to the reader).
  ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
  // One heap for all threads. With the high trim threshold, memory a thread's
  // own arena freed at its top stays resident for good: malloc_trim()
  // (release_freed_heap(), which the worker pool calls after a task that
  // grew the process) gives back the top of the main arena only. A search's
  // walk threads allocate little (per-thread caches serve small blocks
  // without the lock).
  ::mallopt(M_ARENA_MAX, 1);
  (void)::fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);  // fails harmlessly when stdout is not a pipe
  auto settings = o.permissions.settings();
  if (!settings) {
    std::fprintf(stderr, "icotes: %s\n", settings.error().message.c_str());
    return 2;
  }
  auto ws = Workspace::open(o.root, o.threads, *settings);
  if (!ws) {
    std::fprintf(stderr, "icotes: %s\n", ws.error().message.c_str());
    return 2;
  }
  Workspace& workspace = **ws;
  for (const auto& w : workspace.gate().warnings()) spdlog::warn("permissions: {}", w);
  SessionOptions so;
  so.profile = o.profile;
  so.on_exit = [&workspace](int code) {
    spdlog::info("exit notification: exiting with {}", code);
    workspace.workers().shutdown();
    spdlog::shutdown();
    std::_Exit(code);
  };
  // A standalone server's session is this client's; a daemon's connections
  // each bring their own (tcp.hpp, daemon.hpp).
  if (!o.daemon) so.profile = client_profile(o);
  const bool listen_only = (!o.listen.empty() && !o.stdio) || o.daemon;
  if (listen_only) {
    // Before the address is announced: a script may signal right after.
    if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) return 2;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_stop_signal);
  }
  std::vector<std::unique_ptr<TcpServer>> servers;
  std::vector<std::unique_ptr<HttpDoor>> http_doors;
  std::vector<std::string> doors;  // what `icotes daemon list` shows
  const auto since = std::chrono::system_clock::now();
  std::string socket_path;
  if (o.daemon) {
    auto address = daemon_address(workspace.root().path());
    if (!address) {
      std::fprintf(stderr, "icotes: %s\n", address.error().message.c_str());
      return 2;
    }
    socket_path = address->socket_path;
    TcpServerOptions options{o.max_frame_bytes, 1024, so};
    // `icotes daemon list|stop`: what this daemon serves, and a stop.
    // Started below, once every door is open (the admin reads them).
    options.admin = [&](const std::string& method, const json&) -> Result<json> {
      if (method == "icotes/daemon/status") {
        json clients = json::array();
        for (const auto& server : servers)
          for (auto& c : server->describe_clients()) clients.push_back(std::move(c));
        std::error_code ec;
        const auto err = std::filesystem::read_symlink("/proc/self/fd/2", ec).string();
        return json{{"root", workspace.root().path()},
                    {"pid", ::getpid()},
                    {"version", ICOTES_VERSION},
                    {"since", std::chrono::duration_cast<std::chrono::milliseconds>(since.time_since_epoch()).count()},
                    {"socket", socket_path},
                    {"log", !o.log_file.empty() ? o.log_file : !err.empty() && err[0] == '/' ? err : std::string("stderr")},
                    {"idleTimeoutMs", o.listen.empty() ? json(o.idle_timeout_ms) : json(nullptr)},
                    {"doors", doors},
                    {"clients", std::move(clients)}};
      }
      if (method == "icotes/daemon/stop") {
        spdlog::info("stop requested by `icotes daemon stop`");
        request_stop("`icotes daemon stop`");
        return json{{"stopping", true}, {"pid", ::getpid()}};
      }
      return make_error(error_code::kMethodNotFound, "unknown daemon request " + method);
    };
    auto server = TcpServer::listen_unix(workspace, address->socket_path, std::move(options));
    if (!server) {
      std::fprintf(stderr, "icotes: %s\n", server.error().message.c_str());
      return 2;
    }
    if (o.listen.empty())
      spdlog::info("daemon for {} listening on {} (exits {} ms after its last client leaves)", workspace.root().path(),
                   address->socket_path, o.idle_timeout_ms);
    else
      spdlog::info("daemon for {} listening on {} and its --listen doors (runs until signalled)",
                   workspace.root().path(), address->socket_path);
    servers.push_back(std::move(*server));  // started once the doors are open
  }
  for (const auto& spec : o.listen) {
    auto address = parse_tcp_listen(spec, o.allow_remote);
    if (!address) {
      std::fprintf(stderr, "icotes: %s\n", address.error().message.c_str());
      return 2;
    }
    if (address->scheme == "http") {
      auto door = HttpDoor::listen(workspace, *address, so, o.max_frame_bytes);
      if (!door) {
        std::fprintf(stderr, "icotes: %s\n", door.error().message.c_str());
        return 2;
      }
      const std::string host = address->host.find(':') != std::string::npos ? "[" + address->host + "]" : address->host;
      std::fprintf(stderr, "icotes: listening on http://%s:%u/mcp; token in %s\n", host.c_str(), (*door)->port(),
                   (*door)->token_path().c_str());
      spdlog::info("listening on http://{}:{}/mcp (MCP Streamable HTTP; bearer token in {})", host, (*door)->port(),
                   (*door)->token_path());
      doors.push_back("http://" + host + ":" + std::to_string((*door)->port()) + "/mcp");
      http_doors.push_back(std::move(*door));
      continue;
    }
    auto server = TcpServer::listen(workspace, *address, TcpServerOptions{o.max_frame_bytes, 1024, so});
    if (!server) {
      std::fprintf(stderr, "icotes: %s\n", server.error().message.c_str());
      return 2;
    }
    // One line scripts and tests can wait for: where to connect, where the token is.
    std::fprintf(stderr, "icotes: listening on tcp:%s:%u; token in %s\n", address->host.c_str(), (*server)->port(),
                 (*server)->token_path().c_str());
    spdlog::info("listening on tcp:{}:{} (token in {})", address->host, (*server)->port(), (*server)->token_path());
    doors.push_back("tcp:" + address->host + ":" + std::to_string((*server)->port()));
    (*server)->start();
    servers.push_back(std::move(*server));
  }
  if (o.daemon) servers.front()->start();
  if (listen_only) {
    for (;;) {
      pollfd p{g_stop_pipe[0], POLLIN, 0};
      const int n = ::poll(&p, 1, o.daemon ? 100 : -1);
      if (n > 0) {
        spdlog::info("stopping ({}): closing connections", stop_reason());
        break;
      }
      // A daemon started by hand with doors of its own (--listen) serves
      // clients that come and go over them: it runs until signalled.
      if (o.daemon && o.listen.empty() && servers.front()->idle_seconds() * 1000 >= o.idle_timeout_ms) {
        spdlog::info("no client for {} ms: the daemon exits", o.idle_timeout_ms);
        break;
      }
    }
    for (auto& d : http_doors) d->stop();
    for (auto& s : servers) s->stop(stop_reason());
    workspace.workers().shutdown();
    return 0;
  }
  if (::isatty(STDIN_FILENO)) print_banner(workspace.root().path(), " (standalone)");
  spdlog::info("icotes {} serving {} on stdio ({} workers, openat2: {})", ICOTES_VERSION, workspace.root().path(),
               workspace.workers().size(), ConfinedRoot::has_openat2() ? "yes" : "no");
  std::shared_ptr<Transport> transport = std::make_shared<FdTransport>(STDIN_FILENO, STDOUT_FILENO);
  // The client already has an answer to its initialize (client_hello.hpp).
  if (!drop_response_id.is_null()) transport = drop_first_response(std::move(transport), drop_response_id);
  auto connection = std::make_shared<Connection>(transport, o.max_frame_bytes);
  Session session(workspace, connection, so);
  connection->set_handler(&session);
  if (!initial.empty()) connection->on_bytes(initial);
  run_read_loop(STDIN_FILENO, *connection);
  spdlog::info("stdin closed; finishing in-flight requests");
  for (auto& d : http_doors) d->stop();
  for (auto& s : servers) s->stop();
  workspace.workers().shutdown();
  connection->set_handler(nullptr);
  return 0;
}

// One JSON-RPC request to a daemon's socket (plain dialect, one line each
// way), with the caller's `profile` (its permission flags) when given.
// Errors: kNotFound when nobody listens there; the daemon's own error.
Result<json> call_daemon(const std::string& socket, const std::string& method, const json& params,
                         const ClientProfile* profile = nullptr) {
  auto fd = connect_unix(socket);
  if (!fd) return std::move(fd).error();
  std::string request;
  if (profile) {
    AttachRequest attach;
    attach.profile = *profile;
    request = attach_line(attach);
  }
  request += json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}}.dump() + "\n";
  std::string reply;
  const bool sent = write_fully(*fd, request) == 0;
  char buf[64 * 1024];
  while (sent && reply.find('\n') == std::string::npos) {
    const ssize_t n = ::read(*fd, buf, sizeof buf);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(*fd);
  json r = parse_json_or_discarded(std::string_view(reply).substr(0, reply.find('\n')));
  if (r.is_object() && r.contains("result")) return r["result"];
  if (r.is_object() && r.contains("error") && r["error"].is_object()) {
    const json& e = r["error"];
    return make_error(member_or(e, "code", error_code::kInternalError), member_or(e, "message", std::string()),
                      e.contains("data") ? e["data"] : json());
  }
  // It died (or was killed) mid-call: its log, beside the socket
  // (daemon.hpp), may say why; the next `icotes serve` starts a new one.
  const std::string log =
      socket.size() > 5 && socket.ends_with(".sock") ? socket.substr(0, socket.size() - 5) + ".log" : "";
  return make_error(error_code::kIoError,
                    "no answer from the daemon at " + socket +
                        (log.empty() ? std::string() : " (it exited or was killed? see " + log + ")"));
}

int call(const std::string& root, std::string method, const std::string& params_text, bool compact, bool list,
         const PermissionFlags& flags, bool in_process) {
  setup_logging("warn", "");
  const Registry& registry = builtin_registry();
  if (list) {
    for (const Operation* op : registry.all()) std::printf("%-22s %-18s %s\n", op->id.c_str(), op->mcp_name.c_str(), op->title.c_str());
    return 0;
  }
  if (method.rfind("icotes/", 0) == 0) method = method.substr(7);
  const Operation* op = registry.find(method);
  if (!op) op = registry.find_by_mcp_name(method);
  if (!op) {
    std::fprintf(stderr, "icotes call: unknown operation '%s' (icotes call --list shows them)\n", method.c_str());
    return 2;
  }
  json params = json::object();
  if (!params_text.empty()) {
    JsonParse parsed = parse_json(params_text);  // bounded depth, as from a peer
    if (!parsed) {
      std::fprintf(stderr, "icotes call: params are not valid JSON: %s\n", parsed.message.c_str());
      return 2;
    }
    params = std::move(parsed.value);
  }
  auto settings = flags.settings();
  if (!settings) {
    std::fprintf(stderr, "icotes call: %s\n", settings.error().message.c_str());
    return 2;
  }
  // The daemon serving this root answers instead, with these flags for
  // this call: it has the editors' unsaved buffers and the session's answers.
  std::error_code ec;
  if (auto address = daemon_address(std::filesystem::canonical(root, ec).string()); !ec && address && !in_process) {
    ClientProfile profile;
    flags.fill(profile);
    auto r = call_daemon(address->socket_path, "icotes/" + op->id, params, &profile);
    if (r || r.error().code != error_code::kNotFound) {
      if (!r) {
        std::fprintf(stderr, "%s\n", error_object(r.error()).dump(2).c_str());
        return 1;
      }
      std::printf("%s\n", compact ? r->dump().c_str() : r->dump(2).c_str());
      return 0;
    }
  }
  auto ws = Workspace::open(root, 1, *settings);
  if (!ws) {
    std::fprintf(stderr, "icotes: %s\n", ws.error().message.c_str());
    return 2;
  }
  for (const auto& w : (*ws)->gate().warnings()) std::fprintf(stderr, "icotes: permissions: %s\n", w.c_str());
  // Nobody to ask from a script: what needs asking is denied with the rule
  // or flag that allows it.
  if (auto st = registry.validate(*op, params); !st) {
    std::fprintf(stderr, "%s\n", error_object(st.error()).dump(2).c_str());
    return 1;
  }
  auto cli = std::make_shared<permissions::ClientState>();
  cli->name = "cli";
  if (auto st = (*ws)->gate().check_now(*cli, op->id, (*ws)->gate().needs(*op, params)); !st) {
    std::fprintf(stderr, "%s\n", error_object(st.error()).dump(2).c_str());
    return 1;
  }
  CancellationToken token;
  NullProgress progress;
  Context ctx{**ws, token, progress, nullptr};
  ctx.read_denied = (*ws)->gate().read_filter(cli);
  if (permissions::is_write_kind(op->kind))
    ctx.may_write = (*ws)->gate().write_check(cli, op->kind, (*ws)->gate().needs(*op, params));
  auto result = registry.run(*op, ctx, params);
  if (!result) {
    std::fprintf(stderr, "%s\n", error_object(result.error()).dump(2).c_str());
    return 1;
  }
  const std::string text = to_json_string(*result);  // splices raw_json() parts
  const json pretty = compact ? json() : parse_json_or_discarded(text);
  std::printf("%s\n", compact || pretty.is_discarded() ? text.c_str() : pretty.dump(2).c_str());
  return 0;
}

// `icotes permissions list | allow | deny | revoke | log`: grants in the
// rule syntax. `Edit(src/a.c)` a file, `Edit(src/)` a directory, `Edit` the
// whole project (with --global: every workspace); `Bash(make test)` a command.
int permissions_cli(std::string root, bool root_given, const std::string& action, const std::string& what, bool global,
                    std::size_t limit) {
  setup_logging("warn", "");
  if (!root_given) {
    // The workspace the current folder belongs to: the nearest folder at or
    // above it with settings or grants (.icotes/) or a daemon, else a git
    // repository's top.
    std::error_code ec;
    const auto cwd = std::filesystem::current_path(ec);
    const auto find = [&](auto&& is_root) -> std::string {
      for (auto dir = cwd;; dir = dir.parent_path()) {
        if (is_root(dir)) return dir.string();
        if (dir == dir.parent_path() || dir.empty()) return "";
      }
    };
    root = find([&](const std::filesystem::path& d) {
      auto a = daemon_address(d.string());
      return std::filesystem::is_directory(d / ".icotes", ec) || (a && std::filesystem::exists(a->socket_path, ec));
    });
    if (root.empty()) root = find([&](const std::filesystem::path& d) { return std::filesystem::exists(d / ".git", ec); });
    if (root.empty()) {
      const std::string why = cwd.string() + " is not in an icotes workspace (no .icotes/, daemon or git repository at or above it)";
      if (action == "list" || action == "log" || global) {
        std::fprintf(stderr, "icotes permissions: %s; %s (--root DIR names a workspace)\n", why.c_str(),
                     action == "log" ? "the audit log of a workspace here is empty" : "only global grants and rules apply here");
      } else {
        std::fprintf(stderr, "icotes permissions %s: %s; pass --root DIR to name the workspace (its grants go to DIR/.icotes/), or --global\n",
                     action.c_str(), why.c_str());
        return 2;
      }
      root = cwd.string();
    }
  }
  auto ws = Workspace::open(root, 1);
  if (!ws) {
    std::fprintf(stderr, "icotes: %s\n", ws.error().message.c_str());
    return 2;
  }
  permissions::Gate& gate = (*ws)->gate();
  auto print = [](const Result<json>& r) {
    if (!r) {
      std::fprintf(stderr, "icotes permissions: %s\n", r.error().message.c_str());
      return 1;
    }
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  };
  if (action == "list") return print(permissions::admin(gate, (*ws)->root(), "icotes/permissions/list", json::object(), "cli"));
  if (action == "log")
    return print(permissions::admin(gate, (*ws)->root(), "icotes/permissions/log", json{{"limit", limit}}, "cli"));
  Result<std::string> done = action == "mode" ? permissions::mode_from_cli(gate, (*ws)->root(), what)
                                               : permissions::change_from_cli(gate, (*ws)->root(), action, what, global);
  if (!done) {
    std::fprintf(stderr, "icotes permissions %s: %s\n", action.c_str(), done.error().message.c_str());
    return done.error().code == error_code::kNotFound ? 1 : 2;
  }
  std::printf("%s\n", done->c_str());
  if (auto why = gate.grants_unavailable(); !why.empty()) std::fprintf(stderr, "icotes permissions: %s\n", why.c_str());
  return 0;
}

// `icotes open FILE[:LINE[:COL]]`: asks the daemon serving the file's
// workspace to have its attached editor show the file (like `code -g`).
int open_cli(const std::string& target, const std::string& root_option) {
  std::string file = target;
  std::optional<long> line, column;
  auto take_number = [&](std::optional<long>& out) {
    const auto colon = file.rfind(':');
    if (colon == std::string::npos || colon + 1 == file.size() || colon + 10 < file.size()) return false;
    const std::string tail = file.substr(colon + 1);
    if (tail.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stol(tail);
    file.resize(colon);
    return true;
  };
  if (take_number(column) && !take_number(line)) std::swap(line, column);
  if ((line && *line < 1) || (column && *column < 1)) {
    std::fprintf(stderr, "icotes open: lines and columns count from 1\n");
    return 2;
  }
  std::error_code ec;
  const auto path = std::filesystem::absolute(file, ec).lexically_normal();
  // The daemon of --root, else of the nearest directory above the file that has one.
  std::vector<std::string> roots;
  if (!root_option.empty()) {
    roots.push_back(std::filesystem::weakly_canonical(root_option, ec).string());
  } else {
    for (auto dir = std::filesystem::weakly_canonical(path, ec).parent_path();; dir = dir.parent_path()) {
      roots.push_back(dir.string());
      if (dir == dir.parent_path()) break;
    }
  }
  json params = {{"path", path.string()}};
  if (line) params["line"] = *line;
  if (column) params["column"] = *column;
  std::string no_editor;  // the nearest daemon's root when none of them has an editor
  std::string lacking;    // why the editors there cannot show it
  std::vector<std::string> asked;
  for (const auto& root : roots) {
    auto address = daemon_address(root);
    if (!address) break;
    auto r = call_daemon(address->socket_path, "icotes/workspace/open", params);
    if (!r && r.error().code == error_code::kNotFound) continue;  // none, or one that died (the next launch replaces it)
    asked.push_back(address->socket_path);
    if (r) {
      std::printf("icotes open: %s shows %s\n", r->value("editor", std::string("the editor")).c_str(), path.c_str());
      return 0;
    }
    // A daemon above may have an editor that can.
    const std::string reason = member_or(r.error().data, "reason", std::string());
    if (reason == "noEditor") {
      if (no_editor.empty()) no_editor = root;
    } else if (reason == "noShowDocument") {
      if (lacking.empty()) lacking = r.error().message;
    } else {
      std::fprintf(stderr, "icotes open: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  if (!lacking.empty()) {
    std::fprintf(stderr, "icotes open: %s\n", lacking.c_str());
    return 1;
  }
  // Editors attached to daemons of other folders, which cannot show this file.
  std::vector<std::string> elsewhere;
  for (const auto& socket : all_daemon_sockets()) {
    if (std::find(asked.begin(), asked.end(), socket) != asked.end()) continue;
    auto status = call_daemon(socket, "icotes/daemon/status", json::object());
    if (!status) continue;
    for (const auto& c : member_or(*status, "clients", json::array()))
      if (member_or(c, "dialect", std::string()) == "lsp")
        elsewhere.push_back(member_or(c, "name", std::string("an editor")) + " (on " +
                            member_or(*status, "root", std::string("?")) + ")");
  }
  std::string others;
  for (const auto& e : elsewhere) others += (others.empty() ? "" : ", ") + e;
  if (!no_editor.empty()) {
    if (!elsewhere.empty())
      std::fprintf(stderr,
                   "icotes open: no editor is attached to the daemon serving %s, but an editor is attached to another "
                   "daemon: %s, whose folder does not hold %s. Start your editor's icotes client (`icotes serve`) on "
                   "a folder that holds it, or open it there by hand\n",
                   no_editor.c_str(), others.c_str(), path.c_str());
    else
      std::fprintf(stderr,
                   "icotes open: no editor is attached to the daemon serving %s: start your editor's icotes client "
                   "(an LSP client running `icotes serve` on stdio, which attaches to the daemon) first\n",
                   no_editor.c_str());
    return 1;
  }
  std::fprintf(stderr,
               "icotes open: no icotes daemon serves %s or a directory above it; editors start one "
               "when they launch `icotes serve` (without --standalone)%s\n",
               (root_option.empty() ? path.parent_path().string() : roots.front()).c_str(),
               elsewhere.empty() ? "" : ("; an editor is attached to another daemon: " + others).c_str());
  return 1;
}

// "2026-12-06 19:40:02 (3 min ago)" for ms since the epoch.
std::string local_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  const auto ago = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() - t;
  const std::string rel = ago < 60 ? std::to_string(std::max<std::int64_t>(ago, 0)) + " s ago"
                          : ago < 3600 ? std::to_string(ago / 60) + " min ago"
                          : ago < 86400 ? std::to_string(ago / 3600) + " h " + std::to_string(ago % 3600 / 60) + " min ago"
                                        : std::to_string(ago / 86400) + " days ago";
  return std::string(buf) + " (" + rel + ")";
}

// The process at the other end of a Unix socket (SO_PEERCRED).
ucred peer_of(int fd) {
  ucred c{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
  socklen_t len = sizeof c;
  (void)::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len);
  return c;
}

// The sockets `icotes daemon` acts on: --root's daemon; every daemon
// (--all, or listing); else the daemon of the nearest directory at or
// above the current one that has one.
std::vector<std::string> daemon_targets(const std::string& root_option, bool all) {
  std::error_code ec;
  if (!root_option.empty()) {
    auto a = daemon_address(std::filesystem::weakly_canonical(root_option, ec).string());
    return a ? std::vector<std::string>{a->socket_path} : std::vector<std::string>{};
  }
  if (all) return all_daemon_sockets();
  for (auto dir = std::filesystem::current_path(ec);; dir = dir.parent_path()) {
    if (auto a = daemon_address(dir.string()); a && std::filesystem::exists(a->socket_path, ec)) return {a->socket_path};
    if (dir == dir.parent_path() || dir.empty()) break;
  }
  return {};
}

// `icotes daemon list | stop | restart`: what each daemon serves, since
// when, its clients; a graceful stop (its attached clients are told, and
// their launchers answer what is left: README "If the shared daemon
// dies"); a stop and a fresh start.
int daemon_cli(const std::string& action, const std::string& root_option, bool all, bool as_json) {
  setup_logging("warn", "");
  const auto targets = daemon_targets(root_option, all || action == "list");
  const std::string where = root_option.empty() ? (all || action == "list" ? std::string("")
                                                                           : " for " + std::filesystem::current_path().string() + " or a folder above")
                                                : " for " + root_option;
  if (action == "list") {
    json out = json::array();
    for (const auto& socket : targets) {
      auto st = call_daemon(socket, "icotes/daemon/status", json::object());
      if (!st) {
        if (st.error().code == error_code::kNotFound) continue;  // stale: the next launch replaces it
        out.push_back({{"socket", socket}, {"error", st.error().message}});
        continue;
      }
      json clients = json::array();
      for (auto& c : (*st)["clients"])  // not this listing's own connection
        if (!(c.value("transport", "") == "unix socket" && c.value("pid", 0) == ::getpid())) clients.push_back(c);
      (*st)["clients"] = std::move(clients);
      out.push_back(std::move(*st));
    }
    if (as_json) {
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
    if (out.empty()) std::printf("no icotes daemon runs%s\n", where.c_str());
    for (const auto& d : out) {
      if (d.contains("error")) {
        std::printf("%s\n  does not answer `icotes daemon list` (%s; an older icotes?)\n", d["socket"].get<std::string>().c_str(),
                    d["error"].get<std::string>().c_str());
        continue;
      }
      std::printf("%s\n", d.value("root", "?").c_str());
      const json idle = d.value("idleTimeoutMs", json());
      std::printf("  pid %d, icotes %s, since %s; %s\n", d.value("pid", 0), d.value("version", "?").c_str(),
                  local_time(d.value("since", std::int64_t{0})).c_str(),
                  idle.is_number() ? ("exits " + std::to_string(idle.get<long>()) + " ms after its last client").c_str()
                                   : "runs until stopped");
      std::printf("  log     %s\n  socket  %s\n", d.value("log", "?").c_str(), d.value("socket", "?").c_str());
      for (const auto& door : d.value("doors", json::array())) std::printf("  door    %s\n", door.get<std::string>().c_str());
      const json& clients = d["clients"];
      if (clients.empty()) std::printf("  no client\n");
      for (const auto& c : clients) {
        std::string name = c.value("name", "");
        if (name.empty()) name = "(unnamed)";
        std::printf("  client  %s, %s over %s, since %s%s%s\n", name.c_str(),
                    c.value("dialect", "").empty() ? "silent so far" : c.value("dialect", "").c_str(),
                    c.value("transport", "?").c_str(), local_time(c.value("since", std::int64_t{0})).c_str(),
                    c.contains("pid") ? (", pid " + std::to_string(c.value("pid", 0))).c_str() : "",
                    c.contains("permissionMode") ? (", permission mode " + c.value("permissionMode", "")).c_str() : "");
      }
    }
    return 0;
  }
  if (targets.empty()) {
    std::fprintf(stderr, "icotes daemon %s: no icotes daemon runs%s (icotes daemon list shows them)\n", action.c_str(),
                 where.c_str());
    return 1;
  }
  int rc = 0;
  std::size_t found = 0;
  for (const auto& socket : targets) {
    auto status = call_daemon(socket, "icotes/daemon/status", json::object());
    if (!status && status.error().code == error_code::kNotFound) continue;  // stale
    auto fd = connect_unix(socket);
    if (!fd) continue;
    ++found;
    const ucred peer = peer_of(*fd);
    const std::string root = status ? status->value("root", std::string("?")) : socket;
    // Its command line, for a restart: the same settings, this executable.
    std::vector<std::string> argv;
    {
      std::ifstream f("/proc/" + std::to_string(peer.pid) + "/cmdline", std::ios::binary);
      for (std::string arg; std::getline(f, arg, '\0');) argv.push_back(arg);
    }
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, peer.pid, 0));
    const std::string request = json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "icotes/daemon/stop"}}.dump() + "\n";
    bool asked = write_fully(*fd, request) == 0;
    std::string reply;
    char buf[4096];
    for (ssize_t n; asked && reply.find('\n') == std::string::npos && (n = ::read(*fd, buf, sizeof buf)) > 0;)
      reply.append(buf, static_cast<std::size_t>(n));
    ::close(*fd);
    const json r = parse_json_or_discarded(std::string_view(reply).substr(0, reply.find('\n')));
    if (r.is_object() && r.contains("error")) {
      // An icotes without `icotes daemon stop`: a signal does the same.
      if (peer.uid != ::geteuid() || peer.pid <= 0 || ::kill(peer.pid, SIGTERM) != 0) {
        std::fprintf(stderr, "icotes daemon %s: cannot stop the daemon at %s\n", action.c_str(), socket.c_str());
        rc = 1;
        continue;
      }
    }
    pollfd p{pidfd, POLLIN, 0};
    const bool gone = pidfd < 0 || ::poll(&p, 1, 15000) > 0;
    if (pidfd >= 0) ::close(pidfd);
    if (!gone) {
      std::fprintf(stderr, "icotes daemon %s: the daemon serving %s (pid %d) did not exit within 15 s\n", action.c_str(),
                   root.c_str(), peer.pid);
      rc = 1;
      continue;
    }
    std::size_t clients = 0;
    if (status)
      for (const auto& c : (*status)["clients"])
        clients += !(c.value("transport", "") == "unix socket" && c.value("pid", 0) == ::getpid());
    std::printf("icotes daemon: stopped the daemon serving %s (pid %d)%s\n", root.c_str(), peer.pid,
                clients ? ("; its " + std::to_string(clients) + " client(s) were told").c_str() : "");
    if (action != "restart") continue;
    std::error_code ec;
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (argv.size() < 2 || argv[1] != "serve") argv = {exe, "serve", "--daemon", "--root", root};
    argv[0] = exe;
    auto address = daemon_address(root);
    auto started = address ? attach_daemon(*address, argv) : Result<int>(std::move(address).error());
    if (!started) {
      std::fprintf(stderr, "icotes daemon restart: %s\n", started.error().message.c_str());
      rc = 1;
      continue;
    }
    std::printf("icotes daemon: started a new daemon for %s (pid %d)\n", root.c_str(), peer_of(*started).pid);
    ::close(*started);
  }
  if (found == 0) {
    std::fprintf(stderr, "icotes daemon %s: no icotes daemon runs%s (icotes daemon list shows them)\n", action.c_str(),
                 where.c_str());
    return 1;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"icotes: a workspace sidecar speaking LSP, MCP and JSON-RPC.\n"
               "Serves one workspace's files, search (grep, glob), git, terminals and sandboxed commands, behind a\n"
               "permission gate, to editors and AI clients; the clients of a workspace share one daemon."};
  app.set_version_flag("--version,-V", std::string("icotes ") + ICOTES_VERSION);
  app.require_subcommand(0, 1);

  ServeOptions so;
  auto* serve_cmd = app.add_subcommand(
      "serve", "Serve a workspace over stdio (through the workspace's shared daemon), TCP or HTTP (MCP Streamable "
               "HTTP); LSP, MCP or plain JSON-RPC, detected per connection");
  serve_cmd->add_flag("--stdio", so.stdio, "Use stdin/stdout (the default)");
  serve_cmd->add_option("--root", so.root,
                        "Workspace root directory (default: the folder an LSP client names in initialize, "
                        "else the current directory)");
  serve_cmd->add_option("--log-file", so.log_file, "Write logs to this file instead of stderr");
  serve_cmd->add_option("--log-level", so.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  serve_cmd->add_option("--max-frame-bytes", so.max_frame_bytes, "Largest accepted message, in bytes")->capture_default_str();
  serve_cmd->add_option("--threads", so.threads, "Worker threads (0: min(4, cores))")->capture_default_str();
  serve_cmd->add_option("--listen", so.listen,
                        "Accept connections at tcp:HOST:PORT (JSON-RPC, LSP or MCP; the first request must be "
                        "icotes/authenticate {token}) or http:HOST:PORT (MCP Streamable HTTP on /mcp, with "
                        "Authorization: Bearer <token>). Loopback only; PORT 0 picks one; repeatable. Tokens are "
                        "written (mode 0600) to $XDG_RUNTIME_DIR/icotes/{tcp,http}-PORT.token. Without --stdio, "
                        "serves until SIGINT/SIGTERM.");
  serve_cmd->add_flag("--standalone", so.standalone,
                      "Serve this client in this process alone. By default `serve` on stdio shares one server per "
                      "workspace: it hands its client to the daemon serving --root (one per folder; this client's "
                      "permission flags apply to its own connection), starting it when there is none, so editors and "
                      "AI clients share unsaved buffers, permission answers, terminals and events (when attaching is "
                      "impossible it says why and serves standalone)");
  serve_cmd->add_flag("--attach", so.attach, "Attach to the workspace's daemon (the default on stdio), and fail rather "
                                             "than serve standalone when that is impossible");
  serve_cmd->add_flag("--daemon", so.daemon, "Be that daemon (what attaching starts): serve the workspace's socket in "
                                             "$XDG_RUNTIME_DIR/icotes/ until --idle-timeout after the last client. "
                                             "Started by hand with --listen, it also serves those doors (an AI over "
                                             "HTTP next to attached editors) and runs until SIGINT/SIGTERM");
  serve_cmd->add_option("--idle-timeout", so.idle_timeout_ms, "Daemon: exit this many ms after the last client left")
      ->capture_default_str();
  serve_cmd->add_flag("--allow-remote", so.allow_remote,
                      "Allow --listen on a non-loopback address (the token is still required)");
  so.permissions.add_to(serve_cmd);
  serve_cmd
      ->add_option("--max-result-bytes", so.profile.max_result_bytes,
                   "MCP: the most text one tool result carries, in bytes. Tools page within it by default (32 KiB) "
                   "and say how to continue; past it a result is cut with a note. Raise it for a host that takes more")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30));
  serve_cmd->add_flag("--structured-output", so.profile.structured_output,
                      "MCP: list each tool's outputSchema and add structuredContent (the complete result, its text "
                      "included) to results. Off by default: Claude Code, Codex and VS Code hand their model that "
                      "JSON instead of the text");
  serve_cmd
      ->add_option("--tools", so.profile.tool_groups,
                   "MCP: offer only these tool groups, comma-separated: files, search, git, exec, terminal, workspace "
                   "(default: all). `tools = [...]` under [mcp] in the workspace's .icotes/config.toml narrows further")
      ->delimiter(',')
      ->check(CLI::IsMember({"files", "search", "git", "exec", "terminal", "workspace"}));

  std::string call_root = ".";
  std::string call_method;
  std::string call_params;
  bool call_compact = false;
  bool call_list = false;
  auto* call_cmd = app.add_subcommand("call", "Run one operation and print its JSON result: through the daemon "
                                              "serving --root when one runs (it sees the editors' unsaved buffers), "
                                              "else in this process");
  call_cmd->add_option("--root", call_root, "Workspace root directory")->capture_default_str();
  call_cmd->add_option("method", call_method, "Operation: files/read, icotes/files/read or read_file");
  call_cmd->add_option("params", call_params, "Params as a JSON object (default {})");
  call_cmd->add_flag("--compact", call_compact, "Print the result on one line");
  call_cmd->add_flag("--list", call_list, "List the operations");
  bool call_in_process = false;
  call_cmd->add_flag("--in-process", call_in_process,
                     "Run here even when a daemon (started by `serve`) serves the workspace; by default it answers, "
                     "seeing the editors' unsaved buffers");
  PermissionFlags call_permissions;
  call_permissions.add_to(call_cmd);
  call_cmd->footer("Example: icotes call --root . files/read '{\"path\": \"README.md\", \"limit\": 20}'");

  std::string perm_root, perm_action, perm_what;
  bool perm_global = false;
  std::size_t perm_limit = 50;
  auto* perm_cmd = app.add_subcommand("permissions", "List, grant, revoke remembered permissions; show the audit log");
  perm_cmd->add_option("--root", perm_root,
                       "Workspace root directory (default: the nearest folder at or above the current one with "
                       ".icotes/, a daemon or .git)");
  perm_cmd->add_option("action", perm_action, "list | allow | deny | revoke | log | mode")
      ->required()
      ->check(CLI::IsMember({"list", "allow", "deny", "revoke", "log", "mode"}));
  perm_cmd->add_option("what", perm_what,
                       "Edit(src/main.c) (a file), Edit(src/) (a directory), Edit (the project), Bash(make test) "
                       "(this command line); patterns are saved as rules: Edit(src/**), Bash(git diff:*), "
                       "Bash(npm run *); for mode: default | acceptEdits | readOnly");
  perm_cmd->add_flag("--global", perm_global, "A grant for every workspace (with a bare kind: 'Read')");
  perm_cmd->add_option("--limit", perm_limit, "log: records to show")->capture_default_str();
  perm_cmd->footer("Grants are saved in <root>/.icotes/permissions.sqlite (global ones in $XDG_STATE_HOME/icotes/).\n"
                   "Rules (patterns) go in <root>/.icotes/config.toml:\n"
                   "  [permissions]\n  mode = \"acceptEdits\"\n  allow = [\"Bash(make test)\"]\n  deny = [\"Read(.env)\"]");

  std::string open_target, open_root;
  auto* open_cmd = app.add_subcommand("open", "Show FILE[:LINE[:COL]] in the editor attached to the workspace's daemon");
  open_cmd->add_option("target", open_target, "FILE, FILE:LINE or FILE:LINE:COL (1-based)")->required();
  open_cmd->add_option("--root", open_root, "Workspace root (default: the nearest directory above FILE with a daemon)");

  std::string daemon_action, daemon_root;
  bool daemon_all = false, daemon_json = false;
  auto* daemon_cmd = app.add_subcommand("daemon", "List, stop or restart the shared daemons (one per workspace)");
  daemon_cmd->add_option("action", daemon_action,
                         "list: each daemon's folder, pid, start, log and clients; stop: a graceful stop (attached "
                         "clients are told and their requests answered); restart: stop, then start a fresh one")
      ->required()
      ->check(CLI::IsMember({"list", "stop", "restart"}));
  daemon_cmd->add_option("--root", daemon_root, "The daemon of this folder (default for stop and restart: the nearest "
                                                "folder at or above the current one that has one)");
  daemon_cmd->add_flag("--all", daemon_all, "stop, restart: every daemon of this user");
  daemon_cmd->add_flag("--json", daemon_json, "list: print JSON");

  auto* docs_cmd = app.add_subcommand("docs", "Print the operation reference (docs/operations.md) from the embedded schemas");
  auto* version_cmd = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*call_cmd) {
      if (call_method.empty() && !call_list) {
        std::fprintf(stderr, "icotes call: METHOD is required\n%s", call_cmd->help().c_str());
        return 2;
      }
      return call(call_root, call_method, call_params, call_compact, call_list, call_permissions, call_in_process);
    }
    if (*open_cmd) return open_cli(open_target, open_root);
    if (*daemon_cmd) return daemon_cli(daemon_action, daemon_root, daemon_all, daemon_json);
    if (*perm_cmd)
      return permissions_cli(perm_root, perm_cmd->get_option("--root")->count() > 0, perm_action, perm_what,
                             perm_global, perm_limit);
    if (*docs_cmd) {
      std::fputs(operations_markdown(builtin_registry()).c_str(), stdout);
      return 0;
    }
    if (*version_cmd) {
      std::printf("icotes %s\n", ICOTES_VERSION);
      return 0;
    }
    so.root_given = serve_cmd->get_option("--root")->count() > 0;
    return serve(so);  // `icotes` alone, or `icotes serve`
  } catch (const std::exception& e) {
    std::fprintf(stderr, "icotes: %s\n", e.what());
    return 1;
  }
}
