// One daemon per workspace (docs/ARCHITECTURE.md, "The shared daemon";
// like `gopls -remote=auto`): `icotes serve` on stdio finds the daemon
// serving this root through a Unix socket in runtime_dir(), starting it when
// there is none, and hands its client over. Clients attached to one daemon
// share its Workspace: the editor's unsaved buffers, permission answers,
// terminals and events.
//
// One daemon per canonical root, whatever the flags: the socket is
// runtime_dir()/ws-<R>.sock, R naming the root. What a client asked for on
// its command line (permission mode and rules, result sizes, tool groups:
// ClientProfile) travels in its attach request and applies to its own
// connection only. Starting is serialised by flock(2) on ws-<R>.lock: two
// launches at the same instant start one daemon. A socket left by a daemon
// that died (connect refused) is replaced under that lock.
//
// Attaching: the launcher's first message on the socket, before any client
// byte, is one line `{"icotesAttach":{...}}` (AttachRequest) followed by the
// client bytes it has already read (client_hello.hpp). Then either
//  - descriptors (the usual case): the client's stdin and stdout and the
//    ledger (ledger.hpp) ride with the line's first byte (SCM_RIGHTS,
//    unix(7)); the daemon reads and writes the client directly, with no hop
//    in between, and the launcher only waits on the socket for the end; or
//  - forwarding (stdin or stdout a terminal, which the daemon must not keep
//    reading after the launcher's process group is interrupted): the
//    launcher copies stdin to the socket and the socket to stdout.
// The daemon answers on the socket with lines: `{"attached":{...}}` once it
// has the client, then `{"exit":N}` when the session ends (the exit code a
// standalone server would have had), or `{"exit":1,"stopped":"why"}` when
// the daemon stops under the client (`icotes daemon stop`, a signal): its
// ledger then holds what is left unanswered. A socket that ends without
// either means the daemon died.
// A connection that starts with anything else is a client of its own
// (`icotes call`, `icotes open`, scripts), served with default settings;
// `icotes/daemon/status` and `icotes/daemon/stop` there are the daemon's
// administration (same user only).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/client_profile.hpp"
#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes {

/// Hex digest naming a root (64 bits of SHA-256: names, not secrets).
std::string short_digest(std::string_view text);

struct DaemonAddress {
  std::string socket_path;
  std::string lock_path;
  std::string log_path;
};

/// Paths for the daemon of `canonical_root`. Errors: runtime_dir()'s.
Result<DaemonAddress> daemon_address(const std::string& canonical_root);

/// The sockets of every daemon of this user (any root), for `icotes daemon
/// list` and `icotes open`; some may be stale (their daemon died).
std::vector<std::string> all_daemon_sockets();

/// The log beside a daemon's socket.
std::string daemon_log_of(const std::string& socket_path);

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

/// A launcher's attach request (the first line on the daemon's socket).
struct AttachRequest {
  ClientProfile profile;          ///< the client's own settings
  std::string initial;            ///< client bytes the launcher has read already (sent after the line)
  json drop_response_id;          ///< non-null: the daemon drops its first response with this id (client_hello.hpp)
  bool descriptors = false;       ///< stdin, stdout and the ledger come with the line (SCM_RIGHTS)
  std::size_t initial_bytes = 0;  ///< parse_attach_line(): how many bytes of `initial` follow the line
};

/// What an attach line starts with; a connection starting otherwise is a
/// client of its own.
inline constexpr std::string_view kAttachPrefix = "{\"icotesAttach\":";
/// Longest attach line the daemon reads (bytes).
inline constexpr std::size_t kMaxAttachLineBytes = 1 << 20;

/// The line (ending in a newline) for `request`; the `initial` bytes go
/// after it.
std::string attach_line(const AttachRequest& request);
/// Reads an attach line (without its newline); `initial` stays empty and
/// `initial_bytes` says how many bytes follow. Errors: kInvalidParams.
Result<AttachRequest> parse_attach_line(std::string_view line);

/// The launcher hands the client over with its descriptors: sends `request`
/// on `socket` with stdin, stdout and a new ledger, then waits for the
/// session to end. Returns the exit code a standalone server would have
/// had (after an LSP `exit` notification 0 when `shutdown` came first, else
/// 1, LSP 3.17 "Exit Notification"; 0 when the client ended its input and
/// had its answers; 1 when stdout failed).
/// When the daemon dies (killed, crashed) or stops under the client, each
/// request it had not answered (in its ledger) is answered here with error
/// -32603 (kInternalError) whose message says why and names `daemon_log`
/// (also in data.daemonLog), after the bytes that complete a frame cut short;
/// the reason is printed on stderr, and the result is 1.
/// Nullopt when the daemon did not take the client (it refused it or was
/// gone before taking it; a message says why on stderr): nothing was read
/// from stdin nor written to stdout, so the caller may serve `request`
/// otherwise.
std::optional<int> hand_over_stdio(int socket, const AttachRequest& request, const std::string& daemon_log = {});

/// The launcher forwards instead (a terminal on stdin or stdout): sends the
/// attach line for `request` (its `initial` bytes first among the client's),
/// then copies stdin to `socket` and `socket` to stdout until the daemon
/// closes the connection (stdin's end is passed on as a half-close). The
/// result is the one hand_over_stdio() gives, the launcher reading the
/// conversation to learn it (forwarded requests the daemon did not answer
/// are answered as hand_over_stdio() does; MCP requests the client
/// cancelled excepted).
int forward_stdio(int socket, const AttachRequest& request, const std::string& daemon_log = {});

}  // namespace icotes
