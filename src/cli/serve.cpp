// `icotes serve`: on stdio, hand the client to the workspace's daemon
// (include/doors/icotes/daemon.hpp), starting it when there is none; else, or when
// that is impossible, serve here (server.hpp).
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "cli/cli.hpp"
#include "cli/server.hpp"
#include "icotes/client_hello.hpp"
#include "icotes/daemon.hpp"
#include "icotes/log.hpp"
#include "icotes/session.hpp"

namespace icotes::cli {

ClientProfile client_profile(const ServeOptions& o) {
  ClientProfile p = o.profile;
  o.permissions.fill(p);
  return p;
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

namespace {

// Without --root, the workspace is the one the client names (its LSP
// initialize, or its MCP roots): include/doors/icotes/client_hello.hpp. An MCP
// client gets this long to send `initialized` and answer roots/list.
constexpr int kRootsTimeoutMs = 5000;

// The daemon's command line for `o`'s root (what attaching starts).
std::vector<std::string> daemon_argv(const ServeOptions& o, const std::string& root) {
  std::error_code ec;
  std::vector<std::string> argv = {std::filesystem::read_symlink("/proc/self/exe", ec).string(),
                                   "serve",
                                   "--daemon",
                                   "--root",
                                   root,
                                   "--idle-timeout",
                                   std::to_string(o.idle_timeout_ms),
                                   "--log-level",
                                   o.log_level};
  if (o.threads) argv.insert(argv.end(), {"--threads", std::to_string(o.threads)});
  argv.insert(argv.end(), {"--max-frame-bytes", std::to_string(o.max_frame_bytes)});
  return argv;
}

// Hand the client to the workspace's daemon, starting it when there is
// none. No workspace is opened here: attaching costs a connect (and, the
// first time, the daemon's start). Returns the session's exit status, or
// nullopt when attaching is impossible here (message printed), for the
// caller to serve standalone instead.
std::optional<int> attach(const ServeOptions& o, std::string_view initial, const json& drop_response_id) {
  std::error_code ec;
  const std::string root = std::filesystem::canonical(o.root, ec).string();
  if (ec || !std::filesystem::is_directory(root))
    die(make_error(error_code::kInvalidParams, o.root + " is not a directory"));
  // Bad flags are reported here, not by the daemon.
  if (auto settings = o.permissions.settings(); !settings) die(settings.error());
  // One daemon per root: this client's flags travel with it, for its
  // connection alone.
  auto address = daemon_address(root);
  if (!address) {
    std::fprintf(stderr, "icotes: cannot attach to a shared daemon: %s\n", address.error().message.c_str());
    return std::nullopt;
  }
  const std::vector<std::string> argv = daemon_argv(o, root);
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

// The process's settings for serving: SIGPIPE ignored, the heap tuned.
void tune_process() {
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
}

// One process serving its own workspace: standalone on stdio, with
// --listen doors, or as the daemon. `initial`: stdin bytes already read.
int serve_here(const ServeOptions& o, std::string_view initial, const json& drop_response_id) {
  if (!setup_logging(o.log_level, o.log_file)) return 2;  // it logged why
  tune_process();
  auto settings = o.permissions.settings();
  if (!settings) die(settings.error());
  Server server(o, *settings);
  return server.run(initial, drop_response_id);
}

}  // namespace

int serve(const ServeOptions& o) {
  if (o.attach && o.standalone)
    die(make_error(error_code::kInvalidParams, "--attach and --standalone exclude each other"));
  if (o.attach && !o.listen.empty())
    die(make_error(error_code::kInvalidParams,
                   "--attach forwards stdio to the daemon; --listen needs a server of its own (--standalone)"));
  ServeOptions opts = o;
  ClientHello hello;  // stdin bytes read before serving, and the root they name
  const bool stdio_only = !o.daemon && o.listen.empty();
  if (!o.root_given && stdio_only) {  // with --listen the doors open at once, on --root or "."
    hello = read_client_hello(STDIN_FILENO, STDOUT_FILENO, o.max_frame_bytes, kRootsTimeoutMs,
                              [](const json& params) { return mcp_initialize_result(params, ""); });
    if (hello.root) opts.root = *hello.root;
  }
  // Stdio alone attaches to the workspace's daemon unless told otherwise;
  // a server with doors of its own (--listen) is standalone.
  if (stdio_only && !o.standalone) {
    if (auto code = attach(opts, hello.bytes, hello.drop_response_id)) return *code;
    if (o.attach) return 2;  // attach() said why
    std::fprintf(stderr, "icotes: serving standalone instead (this client alone; --standalone skips attaching)\n");
  }
  return serve_here(opts, hello.bytes, hello.drop_response_id);
}

}  // namespace icotes::cli
