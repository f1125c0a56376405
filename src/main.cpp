// icotes: the command line. `serve` speaks LSP, MCP or plain JSON-RPC on
// stdio; `call` runs one operation in-process; `docs` prints the operation
// reference generated from the embedded schemas.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "icotes/fd_io.hpp"
#include "icotes/log.hpp"
#include "icotes/operation.hpp"
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

namespace icotes {
std::string operations_markdown(const Registry& registry);
}

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

  void add_to(CLI::App* cmd) {
    cmd->add_option("--permission-mode", mode,
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

  /// What a shared daemon must have been started with to serve this
  /// launcher (include/icotes/daemon.hpp).
  std::string fingerprint() const {
    std::string f = "mode=" + mode;
    for (const auto& a : allow) f += "\nallow=" + a;
    for (const auto& d : deny) f += "\ndeny=" + d;
    return f;
  }
  void append_to(std::vector<std::string>& argv) const {
    argv.insert(argv.end(), {"--permission-mode", mode});
    for (const auto& a : allow) argv.insert(argv.end(), {"--allow", a});
    for (const auto& d : deny) argv.insert(argv.end(), {"--deny", d});
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
  ClientProfile profile;  // --max-result-bytes, --structured-output, --tools
};

// SIGINT/SIGTERM/SIGHUP end a server that listens: the handler only writes a
// byte that the main thread waits for (nothing else is async-signal-safe).
int g_stop_pipe[2] = {-1, -1};
extern "C" void on_stop_signal(int) {
  const char b = 1;
  [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &b, 1);
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
// initialize, or its MCP roots): include/icotes/client_hello.hpp. An MCP
// client gets this long to send `initialized` and answer roots/list.
constexpr int kRootsTimeoutMs = 5000;

// `serve` on stdio: forward stdio to the workspace's daemon, starting it
// when there is none. No workspace is opened here: attaching costs a
// connect (and, the first time, the daemon's start). Returns nullopt when
// attaching is impossible here (message printed), for the caller to serve
// standalone instead.
std::optional<int> attach(const ServeOptions& o, std::string_view initial, const json& drop_response_id) {
  std::error_code ec;
  const std::string root = std::filesystem::canonical(o.root, ec).string();
  if (ec || !std::filesystem::is_directory(root)) {
    std::fprintf(stderr, "icotes: %s is not a directory\n", o.root.c_str());
    return 2;
  }
  // Bad flags are reported here, not by a daemon that fails to start.
  if (auto settings = o.permissions.settings(); !settings) {
    std::fprintf(stderr, "icotes: %s\n", settings.error().message.c_str());
    return 2;
  }
  auto address = daemon_address(root, o.permissions.fingerprint());
  if (!address) {
    std::fprintf(stderr, "icotes: cannot attach to a shared daemon: %s\n", address.error().message.c_str());
    return std::nullopt;
  }
  std::vector<std::string> argv = {std::filesystem::read_symlink("/proc/self/exe", ec).string(), "serve", "--daemon",
                                   "--root", root, "--idle-timeout", std::to_string(o.idle_timeout_ms),
                                   "--log-level", o.log_level};
  o.permissions.append_to(argv);
  if (o.threads) argv.insert(argv.end(), {"--threads", std::to_string(o.threads)});
  argv.insert(argv.end(), {"--max-frame-bytes", std::to_string(o.max_frame_bytes)});
  auto fd = attach_daemon(*address, argv);
  if (!fd) {
    std::fprintf(stderr, "icotes: cannot attach to a shared daemon: %s\n", fd.error().message.c_str());
    return std::nullopt;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (::isatty(STDIN_FILENO)) print_banner(root, (" through the workspace's daemon (" + address->socket_path + ")").c_str());
  return forward_stdio(*fd, initial, drop_response_id, address->log_path);
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
  const bool listen_only = (!o.listen.empty() && !o.stdio) || o.daemon;
  if (listen_only) {
    // Before the address is announced: a script may signal right after.
    if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) return 2;
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_stop_signal);
  }
  std::vector<std::unique_ptr<TcpServer>> servers;
  std::vector<std::unique_ptr<HttpDoor>> http_doors;
  if (o.daemon) {
    auto address = daemon_address(workspace.root().path(), o.permissions.fingerprint());
    if (!address) {
      std::fprintf(stderr, "icotes: %s\n", address.error().message.c_str());
      return 2;
    }
    auto server = TcpServer::listen_unix(workspace, address->socket_path, TcpServerOptions{o.max_frame_bytes, 1024, so});
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
    (*server)->start();
    servers.push_back(std::move(*server));
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
    (*server)->start();
    servers.push_back(std::move(*server));
  }
  if (listen_only) {
    for (;;) {
      pollfd p{g_stop_pipe[0], POLLIN, 0};
      const int n = ::poll(&p, 1, o.daemon ? 100 : -1);
      if (n > 0) {
        spdlog::info("signal received: closing connections");
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
    for (auto& s : servers) s->stop();
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
// way). Errors: kNotFound when nobody listens there; the daemon's own error.
Result<json> call_daemon(const std::string& socket, const std::string& method, const json& params) {
  auto fd = connect_unix(socket);
  if (!fd) return std::move(fd).error();
  const std::string request = json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}}.dump() + "\n";
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
  // A daemon serving this root with these settings answers instead: it has
  // the editors' unsaved buffers and the session's answers.
  std::error_code ec;
  if (auto address = daemon_address(std::filesystem::canonical(root, ec).string(), flags.fingerprint());
      !ec && address && !in_process) {
    auto r = call_daemon(address->socket_path, "icotes/" + op->id, params);
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
  // Nobody to ask from a script: what needs asking is denied with the rule
  // or flag that allows it.
  if (auto st = registry.validate(*op, params); !st) {
    std::fprintf(stderr, "%s\n", error_object(st.error()).dump(2).c_str());
    return 1;
  }
  auto cli = std::make_shared<permissions::ClientState>();
  cli->name = "cli";
  cli->settings = (*ws)->gate().settings();
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
int permissions_cli(const std::string& root, const std::string& action, const std::string& what, bool global,
                    std::size_t limit) {
  setup_logging("warn", "");
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
  if (what.empty()) {
    std::fprintf(stderr, "icotes permissions %s: which? e.g. 'Edit(src/main.c)', 'Edit(src/)', 'Edit', 'Bash(make test)'\n",
                 action.c_str());
    return 2;
  }
  const std::size_t open = what.find('(');
  const std::string name = what.substr(0, open);
  std::string arg = open == std::string::npos ? "" : what.substr(open + 1);
  if (open != std::string::npos) {
    if (arg.empty() || arg.back() != ')') {
      std::fprintf(stderr, "icotes permissions: missing ')' in '%s'\n", what.c_str());
      return 2;
    }
    arg.pop_back();
  }
  const auto kinds = permissions::kinds_of_rule_name(name);  // the same names as rules
  if (!kinds) {
    std::fprintf(stderr, "icotes permissions: unknown kind '%s' (Read, Edit, Write, Bash, GitWrite, Network)\n", name.c_str());
    return 2;
  }
  std::string scope = global ? "global" : "project";
  if (!arg.empty()) scope = name != "Bash" && arg.back() == '/' ? "directory" : "specific";
  if (scope == "directory") arg.pop_back();
  int rc = 0;
  for (const auto kind : *kinds) {
    json p = {{"kind", std::string(to_string(kind))}, {"scope", scope}, {"value", arg}, {"answer", action == "deny" ? "deny" : "allow"}};
    rc |= print(permissions::admin(gate, (*ws)->root(),
                                   action == "revoke" ? "icotes/permissions/revoke" : "icotes/permissions/grant", p, "cli"));
  }
  return rc;
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
  for (const auto& root : roots) {
    for (const auto& socket : daemon_sockets(root)) {
      auto r = call_daemon(socket, "icotes/workspace/open", params);
      if (!r && r.error().code == error_code::kNotFound) continue;  // a daemon that died; the next launch replaces it
      if (!r) {
        std::fprintf(stderr, "icotes open: %s\n", r.error().message.c_str());
        return 1;
      }
      std::printf("icotes open: %s shows %s\n", r->value("editor", std::string("the editor")).c_str(), path.c_str());
      return 0;
    }
  }
  std::fprintf(stderr,
               "icotes open: no icotes daemon serves %s or a directory above it; editors start one "
               "when they launch `icotes serve` (without --standalone)\n",
               (root_option.empty() ? path.parent_path().string() : roots.front()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"icotes: a workspace sidecar speaking LSP, MCP and JSON-RPC.\n"
               "Serves files (and, as they land, search, git, terminals) of one workspace to editors and AI clients."};
  app.set_version_flag("--version,-V", std::string("icotes ") + ICOTES_VERSION);
  app.require_subcommand(0, 1);

  ServeOptions so;
  auto* serve_cmd = app.add_subcommand("serve", "Serve a workspace over stdio or TCP (LSP, MCP or plain JSON-RPC, detected per connection)");
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
                      "workspace: it forwards stdio to the daemon serving --root with the same permission settings, "
                      "starting it when there is none, so editors and AI clients share unsaved buffers, permission "
                      "answers, terminals and events (when attaching is impossible it says why and serves standalone)");
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
  auto* call_cmd = app.add_subcommand("call", "Run one operation in-process and print its JSON result");
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

  std::string perm_root = ".", perm_action, perm_what;
  bool perm_global = false;
  std::size_t perm_limit = 50;
  auto* perm_cmd = app.add_subcommand("permissions", "List, grant, revoke remembered permissions; show the audit log");
  perm_cmd->add_option("--root", perm_root, "Workspace root directory")->capture_default_str();
  perm_cmd->add_option("action", perm_action, "list | allow | deny | revoke | log")
      ->required()
      ->check(CLI::IsMember({"list", "allow", "deny", "revoke", "log"}));
  perm_cmd->add_option("what", perm_what, "Edit(src/main.c) (a file), Edit(src/) (a directory), Edit (the project), Bash(make test)");
  perm_cmd->add_flag("--global", perm_global, "A grant for every workspace (with a bare kind: 'Read')");
  perm_cmd->add_option("--limit", perm_limit, "log: records to show")->capture_default_str();
  perm_cmd->footer("Grants are saved in <root>/.icotes/permissions.sqlite (global ones in $XDG_STATE_HOME/icotes/).\n"
                   "Rules (patterns) go in <root>/.icotes/config.toml:\n"
                   "  [permissions]\n  mode = \"acceptEdits\"\n  allow = [\"Bash(make test)\"]\n  deny = [\"Read(.env)\"]");

  std::string open_target, open_root;
  auto* open_cmd = app.add_subcommand("open", "Show FILE[:LINE[:COL]] in the editor attached to the workspace's daemon");
  open_cmd->add_option("target", open_target, "FILE, FILE:LINE or FILE:LINE:COL (1-based)")->required();
  open_cmd->add_option("--root", open_root, "Workspace root (default: the nearest directory above FILE with a daemon)");

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
    if (*perm_cmd) return permissions_cli(perm_root, perm_action, perm_what, perm_global, perm_limit);
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
