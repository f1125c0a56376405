// icotes: the command line. `serve` speaks LSP, MCP or plain JSON-RPC on
// stdio (or listens); `call` runs one operation; `chat` talks with a model
// on the workspace; `permissions`, `open` and
// `daemon` administer a workspace; `docs` prints the operation reference
// generated from the embedded schemas. Each command is a file of src/cli/
// (cli.hpp); this one parses the command line and dispatches.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/cli.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/rpc.hpp"

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

namespace icotes::cli {

void die(const Error& error, int status, std::string_view who) {
  std::string text = std::string(who) + ": " + error.message;
  if (!text.ends_with('\n')) text += '\n';
  throw Exit{status, std::move(text)};
}

void die_json(const Error& error) { throw Exit{1, error_object(error).dump(2) + "\n"}; }

}  // namespace icotes::cli

namespace {

using namespace icotes::cli;

// --permission-mode, --allow, --deny (serve and call).
void add_permission_flags(CLI::App* cmd, PermissionFlags& flags) {
  cmd->add_option("--permission-mode", flags.mode,
                  "default (reads allowed, everything else asks), acceptEdits (file writes and edits allowed), "
                  "readOnly (writes and commands denied) or bypass (everything allowed; logged loudly)")
      ->capture_default_str()
      ->check(CLI::IsMember({"default", "acceptEdits", "readOnly", "bypass"}));
  // One rule per flag, so a rule never swallows the positionals after it.
  cmd->add_option("--allow", flags.allow, "Allow rule, e.g. 'Edit(src/**)' or 'Bash(make test)' (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--deny", flags.deny, "Deny rule, e.g. 'Read(.env)' (repeatable; deny rules win)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// After parsing: whether --permission-mode was given to `cmd`.
void note_mode_given(CLI::App* cmd, PermissionFlags& flags) {
  flags.mode_given = cmd->get_option("--permission-mode")->count() > 0;
}

CLI::App* add_serve_command(CLI::App& app, ServeOptions& so) {
  auto* serve_cmd = app.add_subcommand(
      "serve",
      "Serve a workspace over stdio (through the workspace's shared daemon), TCP or HTTP (MCP Streamable "
      "HTTP); LSP, MCP or plain JSON-RPC, detected per connection");
  serve_cmd->add_flag("--stdio", so.stdio, "Use stdin/stdout (the default)");
  serve_cmd->add_option("--root", so.root,
                        "Workspace root directory (default: the folder an LSP client names in initialize, "
                        "else the current directory)");
  serve_cmd->add_option("--log-file", so.log_file, "Write logs to this file instead of stderr");
  serve_cmd->add_option("--log-level", so.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  serve_cmd->add_option("--max-frame-bytes", so.max_frame_bytes, "Largest accepted message, in bytes")
      ->capture_default_str();
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
  serve_cmd->add_flag("--attach", so.attach,
                      "Attach to the workspace's daemon (the default on stdio), and fail rather "
                      "than serve standalone when that is impossible");
  serve_cmd->add_flag("--daemon", so.daemon,
                      "Be that daemon (what attaching starts): serve the workspace's socket in "
                      "$XDG_RUNTIME_DIR/icotes/ until --idle-timeout after the last client. "
                      "Started by hand with --listen, it also serves those doors (an AI over "
                      "HTTP next to attached editors) and runs until SIGINT/SIGTERM");
  serve_cmd->add_option("--idle-timeout", so.idle_timeout_ms, "Daemon: exit this many ms after the last client left")
      ->capture_default_str();
  serve_cmd->add_flag("--allow-remote", so.allow_remote,
                      "Allow --listen on a non-loopback address (the token is still required)");
  add_permission_flags(serve_cmd, so.permissions);
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
  serve_cmd->add_flag(
      "--full-tool-schemas", so.profile.full_tool_schemas,
      "MCP: list every parameter of each tool with its bounds. By default tools/list leaves out "
      "rarely used parameters (still accepted; docs/operations.md lists them) and validation-only "
      "keywords, to keep the tool definitions a model reads small. `full_tool_schemas = true` under [mcp] "
      "in .icotes/config.toml does the same for every client");
  serve_cmd
      ->add_option("--tools", so.profile.tool_groups,
                   "MCP: offer only these tool groups, comma-separated: files, search, git, exec, terminal, workspace, "
                   "agent (delegate) (default: all). `tools = [...]` under [mcp] in the workspace's "
                   ".icotes/config.toml narrows further")
      ->delimiter(',')
      ->check(CLI::IsMember({"files", "search", "git", "exec", "terminal", "workspace", "agent"}));
  return serve_cmd;
}

CLI::App* add_call_command(CLI::App& app, CallOptions& co) {
  auto* call_cmd = app.add_subcommand("call",
                                      "Run one operation and print its JSON result: through the daemon "
                                      "serving --root when one runs (it sees the editors' unsaved buffers), "
                                      "else in this process");
  call_cmd->add_option("--root", co.root, "Workspace root directory")->capture_default_str();
  call_cmd->add_option("method", co.method, "Operation: files/read, icotes/files/read or read_file");
  call_cmd->add_option("params", co.params, "Params as a JSON object (default {})");
  call_cmd->add_flag("--compact", co.compact, "Print the result on one line");
  call_cmd->add_flag("--list", co.list, "List the operations");
  call_cmd->add_flag("--in-process", co.in_process,
                     "Run here even when a daemon (started by `serve`) serves the workspace; by default it answers, "
                     "seeing the editors' unsaved buffers");
  add_permission_flags(call_cmd, co.permissions);
  call_cmd->footer("Example: icotes call --root . files/read '{\"path\": \"README.md\", \"limit\": 20}'");
  return call_cmd;
}

CLI::App* add_permissions_command(CLI::App& app, PermissionsOptions& po) {
  auto* perm_cmd = app.add_subcommand("permissions", "List, grant, revoke remembered permissions; show the audit log");
  perm_cmd->add_option("--root", po.root,
                       "Workspace root directory (default: the nearest folder at or above the current one with "
                       ".icotes/, a daemon or .git)");
  perm_cmd->add_option("action", po.action, "list | allow | deny | revoke | log | mode")
      ->required()
      ->check(CLI::IsMember({"list", "allow", "deny", "revoke", "log", "mode"}));
  perm_cmd->add_option("what", po.what,
                       "Edit(src/main.c) (a file), Edit(src/) (a directory), Edit (the project), Bash(make test) "
                       "(this command line); patterns are saved as rules: Edit(src/**), Bash(git diff:*), "
                       "Bash(npm run *); for mode: default | acceptEdits | readOnly");
  perm_cmd->add_flag("--global", po.global, "A grant for every workspace (with a bare kind: 'Read')");
  perm_cmd->add_option("--limit", po.limit, "log: records to show")->capture_default_str();
  perm_cmd->footer(
      "Grants are saved in <root>/.icotes/permissions.sqlite (global ones in $XDG_STATE_HOME/icotes/).\n"
      "Rules (patterns) go in <root>/.icotes/config.toml:\n"
      "  [permissions]\n  mode = \"acceptEdits\"\n  allow = [\"Bash(make test)\"]\n  deny = [\"Read(.env)\"]");
  return perm_cmd;
}

CLI::App* add_chat_command(CLI::App& app, ChatOptions& c) {
  auto* chat_cmd = app.add_subcommand(
      "chat",
      "Chat with a model on the workspace, in the terminal: it reads, searches, edits and runs commands through "
      "icotes' tools (one line each), asking here what needs permission");
  chat_cmd->add_option("--root", c.root, "Workspace root directory")->capture_default_str();
  chat_cmd->add_option("--provider", c.provider,
                       "A provider named in $XDG_CONFIG_HOME/icotes/config.toml ([providers.NAME]; default: "
                       "[agent] provider, or the only one)");
  chat_cmd->add_option("--model", c.model, "The model (default: the provider's `model`)");
  chat_cmd->add_option("--resume", c.resume, "Continue the conversation with this id (printed when a chat ends)");
  add_permission_flags(chat_cmd, c.permissions);
  chat_cmd->footer(
      "In the chat: /new starts a new conversation, /exit (or Ctrl-D) quits, /help lists the commands;\n"
      "Ctrl-C cancels the running turn, and at the prompt clears the line (twice quits).\n"
      "History: $XDG_STATE_HOME/icotes/chat_history. Standard input that is not a terminal is read as one\n"
      "prompt per line (a permission question takes the next line: a number or the option's words).\n"
      "A provider, in ~/.config/icotes/config.toml (README.md, \"Providers\"):\n"
      "  [providers.local]\n  kind = \"openai\"\n  base_url = \"http://127.0.0.1:11434/v1\"\n  model = "
      "\"qwen2.5-coder\"\n"
      "Example: icotes chat --root ~/src/project --provider local");
  return chat_cmd;
}

struct OpenArgs {
  std::string target, root;
};
CLI::App* add_open_command(CLI::App& app, OpenArgs& o) {
  auto* open_cmd =
      app.add_subcommand("open", "Show FILE[:LINE[:COL]] in the editor attached to the workspace's daemon");
  open_cmd->add_option("target", o.target, "FILE, FILE:LINE or FILE:LINE:COL (1-based)")->required();
  open_cmd->add_option("--root", o.root, "Workspace root (default: the nearest directory above FILE with a daemon)");
  return open_cmd;
}

struct DaemonArgs {
  std::string action, root;
  bool all = false, json = false;
};
CLI::App* add_daemon_command(CLI::App& app, DaemonArgs& d) {
  auto* daemon_cmd = app.add_subcommand("daemon", "List, stop or restart the shared daemons (one per workspace)");
  daemon_cmd
      ->add_option("action", d.action,
                   "list: each daemon's folder, pid, start, log and clients; stop: a graceful stop (attached "
                   "clients are told and their requests answered); restart: stop, then start a fresh one")
      ->required()
      ->check(CLI::IsMember({"list", "stop", "restart"}));
  daemon_cmd->add_option("--root", d.root,
                         "The daemon of this folder (default for stop and restart: the nearest "
                         "folder at or above the current one that has one)");
  daemon_cmd->add_flag("--all", d.all, "stop, restart: every daemon of this user");
  daemon_cmd->add_flag("--json", d.json, "list: print JSON");
  return daemon_cmd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "icotes: a workspace sidecar speaking LSP, MCP and JSON-RPC.\n"
      "Serves one workspace's files, search (grep, glob), git, terminals and sandboxed commands, behind a\n"
      "permission gate, to editors and AI clients; the clients of a workspace share one daemon."};
  app.set_version_flag("--version,-V", std::string("icotes ") + ICOTES_VERSION);
  app.require_subcommand(0, 1);
  ServeOptions so;
  auto* serve_cmd = add_serve_command(app, so);
  CallOptions co;
  auto* call_cmd = add_call_command(app, co);
  PermissionsOptions po;
  auto* perm_cmd = add_permissions_command(app, po);
  OpenArgs oa;
  auto* open_cmd = add_open_command(app, oa);
  DaemonArgs da;
  auto* daemon_cmd = add_daemon_command(app, da);
  ChatOptions cho;
  auto* chat_cmd = add_chat_command(app, cho);
  add_doctor_command(app);
  add_mcp_config_command(app);
  auto* docs_cmd =
      app.add_subcommand("docs", "Print the operation reference (docs/operations.md) from the embedded schemas");
  auto* version_cmd = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*call_cmd) {
      if (co.method.empty() && !co.list)
        die(icotes::make_error(icotes::error_code::kInvalidParams, "METHOD is required\n" + call_cmd->help()), 2,
            "icotes call");
      note_mode_given(call_cmd, co.permissions);
      return call(co);
    }
    if (*chat_cmd) {
      cho.root_given = chat_cmd->get_option("--root")->count() > 0;
      note_mode_given(chat_cmd, cho.permissions);
      return chat(cho);
    }
    if (*open_cmd) return open_cli(oa.target, oa.root);
    if (*daemon_cmd) return daemon_cli(da.action, da.root, da.all, da.json);
    if (*perm_cmd) {
      po.root_given = perm_cmd->get_option("--root")->count() > 0;
      return permissions_cli(po);
    }
    if (*docs_cmd) {
      std::fputs(icotes::operations_markdown(icotes::builtin_registry()).c_str(), stdout);
      return 0;
    }
    if (*version_cmd) {
      std::printf("icotes %s\n", ICOTES_VERSION);
      return 0;
    }
    so.root_given = serve_cmd->get_option("--root")->count() > 0;
    note_mode_given(serve_cmd, so.permissions);
    return serve(so);  // `icotes` alone, or `icotes serve`
  } catch (const Exit& e) {
    std::fputs(e.text.c_str(), stderr);
    return e.status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "icotes: %s\n", e.what());
    return 1;
  }
}
