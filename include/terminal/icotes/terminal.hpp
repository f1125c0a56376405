// The terminal service (docs/ARCHITECTURE.md#terminal): pseudo-terminal
// sessions a client creates, types into and reads back.
//
// Each terminal is a process started in a new session on a PTY (the slave is
// its controlling terminal, TERM=xterm-256color) in a directory inside the
// workspace. One reader thread per terminal drains the PTY master and feeds
// libvterm (a real VT220/xterm emulator), so a TUI (nvim, top, less) reads as
// the text a person would see: the rendered screen (lines, cursor, title),
// the lines scrolled off the top (scrollback), or the raw byte stream.
// Everything kept is bounded: scrollback by lines (Limits::scrollback_lines,
// `[terminal] scrollback = N` in <root>/.icotes/config.toml), the raw stream
// by a ring of Limits::raw_bytes; a process flooding output never grows
// memory.
//
// Output is published on the events broker as `terminal/<id>/output`
// {data, offset, bytes} and the end as `terminal/<id>/exit`
// {exitCode, signal, offset}. Offsets count output bytes from the
// terminal's start (0) and are the sequence of the raw stream: a read with
// `since` = an offset returns the bytes after it.
//
// Killing a terminal, and destroying the service, signal the terminal's whole
// session (every process group whose session is the terminal's, found in
// /proc, so an interactive shell's jobs are reached too) and reap the child.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/cancellation.hpp"
#include "icotes/confine.hpp"
#include "icotes/result.hpp"

namespace icotes::events {
class Broker;
}

namespace icotes::terminal {

struct Limits {
  std::size_t scrollback_lines = 10000;  // lines kept above the screen
  std::size_t raw_bytes = 1024 * 1024;   // bytes of raw output kept (a ring)
  std::size_t max_running = 64;          // live terminals at once
  std::size_t max_exited = 16;           // exited terminals kept readable; the oldest is forgotten beyond
  /// Plain text scrolling through the bottom of the screen skips the
  /// emulator for the lines that only pass through (off: tests compare).
  bool fast_scroll = true;
};

/// Reads `[terminal] scrollback = N` (0 <= N <= 1,000,000) from the TOML file
/// at `config_path` into the defaults. A missing file or section gives the
/// defaults. Errors: kInvalidParams for unparsable TOML or a bad value,
/// naming the file and the key.
Result<Limits> load_limits(const std::string& config_path);

/// $SHELL when it is an absolute path, else /bin/sh.
std::string default_shell();

/// The command line a terminal runs, as the permission gate sees it: the
/// shell (default_shell() when absent or empty) and its args, each quoted
/// for a POSIX shell when it needs it (`bash -c 'echo hi'`).
std::string command_line(const std::optional<std::string>& shell, const std::vector<std::string>& args);

struct CreateOptions {
  std::optional<std::string> shell;        // program to run (PATH is searched); default_shell()
  std::vector<std::string> args;           // argv[1..]
  std::string cwd;                         // client path inside the root; "" = the root
  std::map<std::string, std::string> env;  // merged over the server's environment and TERM
  int cols = 80;                           // 1..1000
  int rows = 24;                           // 1..500
};

/// A terminal as terminal_list shows it.
struct Info {
  std::string id;
  pid_t pid = 0;
  std::string command;  // command_line() of what runs
  std::string cwd;      // relative to the root ("" = the root)
  int cols = 0, rows = 0;
  bool alive = true;             // false once the child has been reaped
  std::optional<int> exit_code;  // WEXITSTATUS when it exited
  std::optional<int> signal;     // WTERMSIG when a signal ended it
  std::int64_t created_ms = 0;   // Unix time, milliseconds
  std::string title;             // OSC 0/2 title, "" when none
  std::uint64_t offset = 0;      // output bytes so far
};

/// The rendered screen (mode "screen").
struct Screen {
  std::vector<std::string> lines;      // `rows` lines of UTF-8 text, trailing blanks trimmed
  int cursor_row = 0, cursor_col = 0;  // 0-based cell position
  bool cursor_visible = true;
  bool alt_screen = false;  // a full-screen program switched to the alternate screen
  std::string title;
  int cols = 0, rows = 0;
};

enum class WaitOn { Output, Screen };
enum class WaitResult { Matched, Idle, Timeout, Exited };
std::string_view to_string(WaitResult r);

struct WaitFor {
  std::string regex;           // RE2 syntax; "" = no pattern
  WaitOn on = WaitOn::Output;  // Output: the new output since `since` as text (control sequences and \r removed);
                               // Screen: the rendered screen's lines joined with \n
  std::optional<std::int64_t> idle_ms;  // return once no output came for this long
  std::int64_t timeout_ms = 30000;
};

struct WaitOutcome {
  WaitResult result = WaitResult::Timeout;
  std::string match;  // the matched text (Matched)
  std::int64_t waited_ms = 0;
};

/// Raw bytes (mode "raw").
struct RawOutput {
  std::string bytes;        // output bytes [start, end)
  std::uint64_t start = 0;  // offset of bytes[0]; > since when the ring no longer holds since
  std::uint64_t end = 0;
  bool truncated = false;     // more than max_bytes were available: read again with since = end
  std::uint64_t dropped = 0;  // bytes between since and start the ring no longer holds
};

/// Scrollback plus screen (mode "scrollback").
struct History {
  std::vector<std::string> lines;  // oldest first: kept scrollback, then the screen (trailing blank lines dropped)
  std::uint64_t first_line = 0;    // line number of lines[0], counting every line that ever scrolled off from 0
  std::uint64_t total_lines = 0;   // line number after the last line
};

class Terminal;

class Service {
 public:
  /// `root` and `broker` must outlive the service.
  Service(const ConfinedRoot& root, events::Broker& broker, Limits limits = {});
  /// Ends every terminal: SIGHUP to each session, SIGKILL after 1 s to what
  /// is left, children reaped, reader threads joined.
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Starts a terminal. Errors: kOutsideWorkspace / kNotFound for a bad cwd
  /// (`..`, outside, a symlink leading out, missing), kInvalidParams for a
  /// bad size or env name, kNotFound when the program cannot be found,
  /// kRequestFailed when too many terminals run.
  Result<Info> create(const CreateOptions& options);

  /// Writes `data` to the terminal's input (as typed keys: "\r" or "\n"
  /// ends a line, "\u0003" is Ctrl-C). Waits up to 10 s for room when the
  /// program does not read its input; returns the output offset before the
  /// write (the `since` for reading the answer). Errors: kNotFound (id),
  /// kRequestFailed when the process has exited or input stays full,
  /// kRequestCancelled.
  Result<std::uint64_t> write(std::string_view id, std::string_view data, const CancellationToken& cancel);

  /// Waits as `wait` says (condition variable; polls `cancel` every 50 ms).
  /// `since` defaults to the output offset at the last write. Errors:
  /// kNotFound, kInvalidParams (bad regex), kRequestCancelled.
  Result<WaitOutcome> wait(std::string_view id, const WaitFor& wait, std::optional<std::uint64_t> since,
                           const CancellationToken& cancel);

  Result<Screen> screen(std::string_view id);
  /// At most `max_bytes` from `since` (default: the start of what is kept).
  Result<RawOutput> raw(std::string_view id, std::optional<std::uint64_t> since, std::size_t max_bytes);
  /// The last `max_lines` lines of scrollback + screen.
  Result<History> history(std::string_view id, std::size_t max_lines);

  /// Sets the PTY size (TIOCSWINSZ: the foreground group gets SIGWINCH) and
  /// the emulator's. Errors: kNotFound, kInvalidParams, kRequestFailed (exited).
  Result<Info> resize(std::string_view id, int cols, int rows);

  /// Sends `signal` to the terminal's session; with no signal, SIGHUP then,
  /// after 1 s, SIGKILL to what is left, and waits (up to 3 s) for the
  /// child to be reaped. An exited terminal is answered as it is.
  Result<Info> kill(std::string_view id, std::optional<int> signal);

  Result<Info> info(std::string_view id);
  /// Every terminal (running and the kept exited ones), by creation order.
  std::vector<Info> list();

  const Limits& limits() const { return limits_; }

 private:
  Result<std::shared_ptr<Terminal>> find(std::string_view id);
  void forget_old_exited();

  const ConfinedRoot& root_;
  events::Broker& broker_;
  Limits limits_;
  std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<Terminal>> terminals_;  // by creation number
  std::uint64_t next_id_ = 1;
};

/// Parses a signal name or number: "SIGINT", "INT", "int", "2". nullopt when
/// unknown.
std::optional<int> parse_signal(std::string_view name);
/// "SIGINT" for 2; the number as text when unknown.
std::string signal_name(int signal);

/// Removes terminal control sequences from output text incrementally:
/// CSI, OSC, DCS/SOS/PM/APC strings, other ESC sequences, \r and C0
/// controls other than \n and \t (ECMA-48 section 5). Keeps state across
/// feed() calls, so a sequence split between reads is still removed.
class ControlStripper {
 public:
  void feed(std::string_view bytes, std::string& out);

 private:
  enum class State { Text, Esc, EscIntermediate, Csi, String, StringEsc } state_ = State::Text;
};

}  // namespace icotes::terminal
