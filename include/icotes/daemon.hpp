// One daemon per workspace (DESIGN.md section 4, "Sharing one workspace";
// like `gopls -remote=auto`): `icotes serve` on stdio finds the daemon
// serving this root through a Unix socket in runtime_dir() and forwards its
// stdio to it, starting the daemon when there is none. Clients attached to
// one daemon share its Workspace: the editor's unsaved buffers, permission
// answers, terminals and events.
//
// The socket is runtime_dir()/ws-<R>-<S>.sock: R names the canonical root
// and S the settings the daemon was started with (permission mode and
// rules), so launchers asking for other settings get a daemon of their own
// instead of silently sharing one that decides differently. Starting is
// serialised by flock(2) on ws-<R>-<S>.lock: two launches at the same
// instant start one daemon. A socket left by a daemon that died (connect
// refused) is replaced under that lock.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes {

/// Hex digest naming a root (and, for the settings part, any text).
std::string short_digest(std::string_view text);

struct DaemonAddress {
  std::string socket_path;
  std::string lock_path;
  std::string log_path;
};

/// Paths for the daemon of `canonical_root` started with `settings` (a
/// stable text of the settings that must match). Errors: runtime_dir()'s.
Result<DaemonAddress> daemon_address(const std::string& canonical_root, const std::string& settings);

/// The sockets of every daemon serving `canonical_root` (any settings).
std::vector<std::string> daemon_sockets(const std::string& canonical_root);

/// Connects to a Unix socket; errors: kNotFound (no socket, or nobody
/// listening), kIoError.
Result<int> connect_unix(const std::string& path);

/// Connects to the daemon at `address`, starting it with `daemon_argv`
/// (argv[0] the icotes executable) when there is none, and waiting up to
/// `wait` for it to listen. Returns the connected socket. Errors: kIoError
/// (the daemon did not start in time, or exited at start: the message ends
/// with its log's last lines), connect_unix()'s, runtime_dir()'s.
Result<int> attach_daemon(const DaemonAddress& address, const std::vector<std::string>& daemon_argv,
                          std::chrono::milliseconds wait = std::chrono::seconds(10));

/// Copies stdin to `socket` and `socket` to stdout until the daemon closes
/// the connection (stdin's end is passed on as a half-close). Returns the
/// exit code a standalone server would have: after an LSP `exit`
/// notification 0 when a `shutdown` request came first, else 1 (LSP 3.17
/// "Exit Notification"); 1 when stdout failed; 0 when the client ended and
/// had its answers.
/// When the daemon goes away first (killed, crashed, or it dropped this
/// client), each request forwarded and not answered (either framing,
/// batches included; MCP requests the client cancelled excepted) is
/// answered here with error -32603 (kInternalError) whose message says why
/// and names `daemon_log` (also in data.daemonLog); the reason is printed
/// on stderr, and the result is 1.
/// `initial`: bytes already read from stdin (sent first).
/// `drop_response_id`: when not null, the daemon's first response with this
/// id is not passed on (the client was answered already: client_hello.hpp).
int forward_stdio(int socket, std::string_view initial = {}, const json& drop_response_id = nullptr,
                  const std::string& daemon_log = {});

}  // namespace icotes
