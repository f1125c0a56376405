// The command line's commands, one file each: serve.cpp (`serve`: attach to
// the workspace's daemon or serve here, through server.hpp's Server),
// call.cpp (`call`), permissions.cpp (`permissions`, and the permission
// flags of serve and call), open.cpp (`open`), daemon.cpp (`daemon`),
// doctor.cpp (`doctor`), chat.cpp (`chat`).
// main.cpp parses the command line (CLI11) and dispatches here. Private to
// the executable.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/client_profile.hpp"
#include "icotes/framing.hpp"
#include "icotes/json.hpp"
#include "icotes/permissions.hpp"
#include "icotes/result.hpp"

namespace CLI {
class App;
}

namespace icotes::cli {

/// A command that ends early: thrown by die(), caught in main(), which
/// prints `text` on stderr and exits with `status`. Thrown (not exit(3)) so
/// that what the command opened (a workspace, doors) is closed on the way.
struct Exit {
  int status;
  std::string text;
};

/// Ends the command with "<who>: <error.message>" on stderr (a line; a
/// message that ends with a newline gets none added) and exit status
/// `status`: 2 when the command could not start (flags, root, address), 1
/// when it ran and failed.
[[noreturn]] void die(const Error& error, int status = 2, std::string_view who = "icotes");
/// Ends the command with `error` as a JSON-RPC error object (JSON-RPC 2.0
/// section 5.1, indented; what a script parses) on stderr, exit status 1.
[[noreturn]] void die_json(const Error& error);

/// --permission-mode, --allow, --deny (serve and call).
struct PermissionFlags {
  std::string mode = "default";
  std::vector<std::string> allow, deny;
  bool mode_given = false;  // --permission-mode on the command line

  /// This client's part of its profile: the mode when given on the command
  /// line (else the workspace's applies), its rules.
  void fill(ClientProfile& profile) const;
  /// The flags as the gate's settings (a warning on stderr and in the log
  /// for bypass). Errors: a rule that does not parse.
  Result<permissions::Settings> settings() const;
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
  /// --structured-output, --tools and --full-tool-schemas are read by the MCP layer.
  ClientProfile profile;
};

/// The profile of a `serve` client: its permission flags (and the result
/// and tool flags the MCP layer reads).
ClientProfile client_profile(const ServeOptions& o);

/// `icotes serve` (and `icotes` alone). Returns the exit status.
int serve(const ServeOptions& o);
/// What a person who started `serve` on a terminal reads: how clients use
/// it. `how`: after "serving ROOT on stdio".
void print_banner(const std::string& root, const char* how);

struct CallOptions {
  std::string root = ".";
  std::string method;
  std::string params;  // JSON text; empty: {}
  bool compact = false;
  bool list = false;
  bool in_process = false;
  PermissionFlags permissions;
};
/// `icotes call`: prints the result on stdout. Returns the exit status.
int call(const CallOptions& o);

struct ChatOptions {
  std::string root = ".";
  bool root_given = false;
  std::string provider, model;  // empty: the configured default
  std::string resume;           // a conversation id to continue
  PermissionFlags permissions;
};
/// `icotes chat`: an interactive chat with a model on the workspace through
/// its daemon (agent/run); returns the exit status (1 when the last turn
/// failed or the daemon went away).
int chat(const ChatOptions& o);

struct PermissionsOptions {
  std::string root;
  bool root_given = false;
  std::string action, what;
  bool global = false;
  std::size_t limit = 50;
};
/// `icotes permissions list | allow | deny | revoke | log | mode`.
int permissions_cli(PermissionsOptions o);

/// `icotes open FILE[:LINE[:COL]]`.
int open_cli(const std::string& target, const std::string& root_option);

/// `icotes daemon list | stop | restart`.
int daemon_cli(const std::string& action, const std::string& root_option, bool all, bool as_json);

/// `icotes doctor [--root DIR]`: prints what is found and what is missing,
/// each with its fix (doctor.cpp); exit status 1 when something needed is
/// missing. add_doctor_command registers it; it runs while parsing.
int doctor_cli(const std::string& root_option);
CLI::App* add_doctor_command(CLI::App& app);
/// `icotes mcp-config --host HOST [--root DIR]` (mcp_config.cpp): adds the
/// subcommand, which prints its snippet and ends the parse (CLI::Success).
void add_mcp_config_command(CLI::App& app);

/// One JSON-RPC request to a daemon's socket (plain dialect, one JSON value
/// per line, through a Connection: what comes before the answer, such as a
/// notification, is not taken for it), with the caller's `profile` (its
/// permission flags) when given.
/// Nullopt when nobody listens there (no socket, or its daemon died: the
/// next launch replaces it); else the daemon's answer, its error (whatever
/// its code: a daemon's kNotFound is about the request), or kIoError when it
/// did not answer (the message names its log) or connect(2) failed otherwise.
std::optional<Result<json>> call_daemon(const std::string& socket, const std::string& method, const json& params,
                                        const ClientProfile* profile = nullptr);
/// The same on a connected socket `fd` (left open): nullopt when the daemon
/// closed it without an answer.
std::optional<Result<json>> call_on(int fd, const std::string& method, const json& params,
                                    const ClientProfile* profile = nullptr);

}  // namespace icotes::cli
