// The terminal service: terminals by id, their creation, input, waits and
// views. A terminal's own session (PTY threads, emulated screen,
// scrollback) is session.cpp; starting its program is spawn.cpp. See
// include/terminal/icotes/terminal.hpp.
#include "icotes/terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <re2/re2.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <vector>

#include "icotes/exec.hpp"
#include "icotes/text.hpp"
#include "icotes/utf8.hpp"
#include "session.hpp"
#include "spawn.hpp"

namespace icotes::terminal {

using detail::signal_session;

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Service::Service(const ConfinedRoot& root, events::Broker& broker, Limits limits)
    : root_(root), broker_(broker), limits_(limits) {}

Service::~Service() {
  std::vector<std::shared_ptr<Terminal>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [n, t] : terminals_) all.push_back(t);
    terminals_.clear();
  }
  auto wait_all = [&](Clock::duration budget) {
    const auto deadline = Clock::now() + budget;
    for (auto& t : all) {
      std::unique_lock lock(t->mutex);
      t->changed.wait_until(lock, deadline, [&] { return !t->alive && !t->reading; });
    }
  };
  for (auto& t : all) {
    if (t->info().alive) signal_session(t->pid, SIGHUP);
  }
  wait_all(std::chrono::seconds(1));
  for (auto& t : all) {
    std::unique_lock lock(t->mutex);
    // Still running, or something of its session still holds the PTY.
    if (t->alive || t->reading) {
      lock.unlock();
      signal_session(t->pid, SIGKILL);
    }
  }
  wait_all(std::chrono::seconds(2));
  for (auto& t : all) {
    t->stop_reader();
    if (t->info().alive) t->reap(true);  // SIGKILLed: ends promptly
  }
}

Result<std::shared_ptr<Terminal>> Service::find(std::string_view id) {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  auto it = ec == std::errc() && p == id.data() + id.size() ? terminals_.find(n) : terminals_.end();
  if (it == terminals_.end())
    return make_error(error_code::kNotFound, "no terminal '" + std::string(id) +
                                                 "'; terminal_list shows the terminals, terminal_create starts one");
  return it->second;
}

void Service::forget_old_exited() {
  std::vector<std::shared_ptr<Terminal>> dropped;
  {
    std::lock_guard lock(mutex_);
    std::size_t exited = 0;
    for (auto it = terminals_.rbegin(); it != terminals_.rend(); ++it) {
      if (!it->second->info().alive) ++exited;
    }
    for (auto it = terminals_.begin(); it != terminals_.end() && exited > limits_.max_exited;) {
      if (!it->second->info().alive) {
        dropped.push_back(it->second);
        it = terminals_.erase(it);
        --exited;
      } else {
        ++it;
      }
    }
  }
  for (auto& t : dropped) {
    if (t->info().alive) continue;
    std::unique_lock lock(t->mutex);
    if (t->reading) {
      lock.unlock();
      signal_session(t->pid, SIGKILL);  // leftovers of its session still holding the PTY
    }
  }
  // The Terminals' destructors stop their readers (here, or in a waiter that still holds one).
}

namespace {

// The size and environment asked for. Errors: kInvalidParams.
Status check_create_options(const CreateOptions& o) {
  if (o.cols < 1 || o.cols > 1000 || o.rows < 1 || o.rows > 500)
    return make_error(error_code::kInvalidParams, "terminal_create: cols must be 1..1000 and rows 1..500, got " +
                                                      std::to_string(o.cols) + "x" + std::to_string(o.rows));
  // The dynamic loader of the shell (and of all it starts) would act on a
  // loader variable; execve(2) needs names without '=' and no NUL.
  for (const auto& [k, v] : o.env)
    if (auto st = exec::check_client_variable(k, v); !st) {
      Error e = std::move(st).error();
      e.message = "terminal_create: " + e.message;
      return e;
    }
  return ok_status();
}

}  // namespace

Result<Info> Service::create(const CreateOptions& o) {
  if (auto st = check_create_options(o); !st) return st.error();
  forget_old_exited();
  {
    std::lock_guard lock(mutex_);
    std::size_t running = 0;
    for (auto& [n, t] : terminals_) running += t->info().alive ? 1 : 0;
    if (running >= limits_.max_running)
      return make_error(error_code::kRequestFailed,
                        "terminal_create: " + std::to_string(running) +
                            " terminals are running, the most allowed; end one with terminal_kill");
  }
  // The directory is opened beneath the root and entered by its descriptor:
  // no window for a symlink swapped in between the check and the chdir.
  auto rel = root_.relative(o.cwd.empty() ? "." : o.cwd);
  if (!rel) return make_error(rel.error().code, "terminal_create: cwd: " + rel.error().message);
  auto dir = root_.open_beneath(*rel, O_PATH | O_DIRECTORY);
  if (!dir) return make_error(dir.error().code, "terminal_create: cwd: " + dir.error().message);

  const std::string program = o.shell && !o.shell->empty() ? *o.shell : default_shell();
  std::vector<std::string> argv_s{program};
  argv_s.insert(argv_s.end(), o.args.begin(), o.args.end());
  auto spawned = detail::spawn_on_pty(program, std::move(argv_s), detail::pty_environment(root_.absolute(*rel), o.env),
                                      dir->get(), o.cols, o.rows);
  if (!spawned) return std::move(spawned).error();

  std::uint64_t number = 0;
  {
    std::lock_guard lock(mutex_);
    number = next_id_++;
  }
  // Filled in before anyone can find it (list, kill).
  auto t = std::make_shared<Terminal>(std::to_string(number), limits_, broker_);
  t->command = command_line(program, o.args);
  t->cwd = *rel;
  t->pid = spawned->pid;
  // glibc 2.36's <sys/pidfd.h> lacks extern "C": the system call directly.
  t->pidfd = static_cast<int>(::syscall(SYS_pidfd_open, spawned->pid, 0));
  t->master = std::move(spawned->master);
  t->wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  t->created_ms = unix_ms();
  t->init_vterm(o.cols, o.rows);
  t->start_reader();
  {
    std::lock_guard lock(mutex_);
    terminals_.emplace(number, t);
  }
  return t->info();
}

namespace {

// Why terminal `id` (as `i` says) takes no input. Errors: kRequestFailed.
Error no_input(const std::string& id, const Info& i) {
  if (i.alive)
    return make_error(error_code::kRequestFailed,
                      "terminal_write: terminal " + id + " no longer takes input (its programs closed the terminal)");
  return make_error(error_code::kRequestFailed,
                    "terminal " + id + " has exited (" +
                        (i.exit_code ? "exit code " + std::to_string(*i.exit_code)
                         : i.signal  ? "killed by " + signal_name(*i.signal)
                                     : std::string("gone")) +
                        "); its output can still be read; start a new one with terminal_create");
}

}  // namespace

Result<std::uint64_t> Service::write(std::string_view id, std::string_view data, const CancellationToken& cancel) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  std::lock_guard write_lock(t.write_mutex);
  std::uint64_t before = 0;
  {
    std::lock_guard lock(t.mutex);
    if (!t.alive) return no_input(t.id, t.info_locked());
    before = t.raw.end();
    t.note_write(data);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!data.empty()) {
    const ssize_t n = ::write(t.master.get(), data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return no_input(t.id, t.info());
    // The program is not reading its input: wait for room, a while.
    if (cancel.cancelled()) return make_error(error_code::kRequestCancelled, "terminal_write: cancelled");
    if (Clock::now() >= deadline)
      return make_error(error_code::kRequestFailed,
                        "terminal_write: terminal " + t.id + " has not read its input for 10 s (" +
                            std::to_string(data.size()) + " bytes not written); the program may be stuck or stopped");
    pollfd p{t.master.get(), POLLOUT, 0};
    ::poll(&p, 1, 50);
  }
  return before;
}

namespace {

// An echo comes at once: within this many bytes (a prompt's redraw, a
// carriage return) of where the last one ended. Further on the same text is
// output (a terminal with echo off, `ls` inside `tools`), which stays.
constexpr std::size_t kEchoWithin = 256;

// Where in `text`, at or after `from`, the start of `line` runs to the
// text's end (an echo still arriving); npos when nowhere.
std::size_t arriving_echo(const std::string& text, std::size_t from, const std::string& line) {
  const std::size_t first = text.size() > line.size() ? text.size() - line.size() : from;
  for (std::size_t k = std::max(first, from); k < text.size(); ++k) {
    if (line.compare(0, text.size() - k, text, k, std::string::npos) == 0) return k;
  }
  return std::string::npos;
}

// `text` without the echo of each of `echoed`, in order, where it is echoed
// as written (a line the shell wrapped or edited stays).
std::string without_echo(const std::string& text, const std::vector<std::string>& echoed) {
  std::string out;
  std::size_t from = 0;
  for (const std::string& line : echoed) {
    const std::size_t at = text.find(line, from);
    if (at == std::string::npos) {
      if (text.size() - from > kEchoWithin + line.size()) break;
      if (const std::size_t k = arriving_echo(text, from, line); k != std::string::npos) {
        out.append(text, from, k - from);
        from = text.size();
      }
      break;
    }
    if (at - from > kEchoWithin) break;
    out.append(text, from, at - from);
    from = at + line.size();
  }
  out.append(text, from, std::string::npos);
  return out;
}

// waitFor.regex compiled, multi-line; null when there is none. Errors:
// kInvalidParams.
Result<std::unique_ptr<RE2>> wait_regex(const WaitFor& w) {
  if (w.regex.empty()) return std::unique_ptr<RE2>();
  auto re = std::make_unique<RE2>("(?m)" + w.regex, RE2::Quiet);
  if (!re->ok())
    return make_error(error_code::kInvalidParams, "terminal_read: waitFor.regex '" + w.regex + "': " + re->error());
  return re;
}

// A wait on the output: the text (controls stripped) from `scanned` on.
struct OutputScan {
  ControlStripper stripper;
  std::string text, carry;
  std::uint64_t scanned = 0;
  std::vector<std::string> echoed;  // lines whose echo is not output
};

// Takes in the output since the last scan (under t.mutex); what `re`
// matches in it, echoes left out.
std::optional<std::string> scan_output(const Terminal& t, OutputScan& s, const RE2& re) {
  if (s.scanned >= t.raw.end()) return std::nullopt;
  s.stripper.feed(repair_utf8(t.raw.copy(std::max(s.scanned, t.raw.start()), t.raw.end()), s.carry), s.text);
  s.scanned = t.raw.end();
  // Bounded like the ring: a pattern is not expected to span more.
  if (s.text.size() > t.raw.end() - t.raw.start() + 1) s.text.erase(0, s.text.size() - (t.raw.end() - t.raw.start()));
  const std::string unechoed = s.echoed.empty() ? std::string() : without_echo(s.text, s.echoed);
  const std::string& haystack = s.echoed.empty() ? s.text : unechoed;
  re2::StringPiece m;
  if (!re.Match(haystack, 0, haystack.size(), RE2::UNANCHORED, &m, 1)) return std::nullopt;
  std::string partial;  // a character the match cuts is dropped
  return repair_utf8(std::string_view(m.data(), m.size()), partial);
}

// What `re` matches on the screen (under t.mutex), lines joined by "\n".
std::optional<std::string> match_screen(const Terminal& t, const RE2& re) {
  std::string joined;
  for (const auto& line : t.render_locked().lines) joined += line + "\n";
  re2::StringPiece m;
  if (!re.Match(joined, 0, joined.size(), RE2::UNANCHORED, &m, 1)) return std::nullopt;
  return std::string(m.data(), m.size());
}

// Whether a wait with no match ends now (under t.mutex): the program
// exited, the output was quiet for idleMs, or the deadline passed. Else
// `wake_at` says when to look again (at most 50 ms on: cancellation).
std::optional<WaitResult> wait_ends(const Terminal& t, const WaitFor& w, Clock::time_point start,
                                    Clock::time_point deadline, Clock::time_point& wake_at) {
  if (!t.alive) return WaitResult::Exited;
  const auto now = Clock::now();
  wake_at = std::min(deadline, now + std::chrono::milliseconds(50));
  if (w.idle_ms) {
    const auto quiet_since = std::max(t.last_output, start);
    const auto idle_at = quiet_since + std::chrono::milliseconds(*w.idle_ms);
    if (now >= idle_at) return WaitResult::Idle;
    wake_at = std::min(wake_at, idle_at);
  }
  if (now >= deadline) return WaitResult::Timeout;
  return std::nullopt;
}

}  // namespace

Result<WaitOutcome> Service::wait(std::string_view id, const WaitFor& w, std::optional<std::uint64_t> since,
                                  const CancellationToken& cancel) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  auto re = wait_regex(w);
  if (!re) return std::move(re).error();
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(std::max<std::int64_t>(0, w.timeout_ms));
  WaitOutcome out;
  auto done = [&](WaitResult r) {
    out.result = r;
    out.waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    return out;
  };
  std::unique_lock lock(t.mutex);
  OutputScan scan;
  scan.scanned = std::max(since.value_or(t.last_write_offset), t.raw.start());
  // Waiting on the output of the last write: its echo is not that output.
  if (!since) scan.echoed = t.last_write_lines;
  std::uint64_t screen_seen = UINT64_MAX;
  while (true) {
    std::optional<std::string> match;
    if (*re && w.on == WaitOn::Output) match = scan_output(t, scan, **re);
    if (*re && w.on == WaitOn::Screen && screen_seen != t.raw.end()) {
      screen_seen = t.raw.end();
      match = match_screen(t, **re);
    }
    if (match) {
      out.match = std::move(*match);
      return done(WaitResult::Matched);
    }
    Clock::time_point wake_at;
    if (auto ends = wait_ends(t, w, start, deadline, wake_at)) return done(*ends);
    if (cancel.cancelled()) return make_error(error_code::kRequestCancelled, "terminal_read: cancelled while waiting");
    t.changed.wait_until(lock, wake_at);
  }
}

Result<Screen> Service::screen(std::string_view id) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  std::lock_guard lock((*found)->mutex);
  return (*found)->render_locked();
}

Result<RawOutput> Service::raw(std::string_view id, std::optional<std::uint64_t> since, std::size_t max_bytes) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  std::lock_guard lock(t.mutex);
  RawOutput out;
  const std::uint64_t from = since.value_or(t.raw.start());
  out.start = std::clamp(from, t.raw.start(), t.raw.end());
  out.dropped = out.start > from ? out.start - from : 0;
  out.end = std::min<std::uint64_t>(t.raw.end(), out.start + max_bytes);
  out.truncated = out.end < t.raw.end();
  out.bytes = t.raw.copy(out.start, out.end);
  return out;
}

Result<History> Service::history(std::string_view id, std::size_t max_lines) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  std::lock_guard lock(t.mutex);
  std::vector<std::string> screen_lines = t.render_locked().lines;
  while (!screen_lines.empty() && screen_lines.back().empty()) screen_lines.pop_back();
  History h;
  const std::uint64_t kept_first = t.scrolled - t.scrollback.size();
  h.total_lines = t.scrolled + screen_lines.size();
  const std::uint64_t first = h.total_lines - std::min<std::uint64_t>(h.total_lines - kept_first, max_lines);
  h.first_line = first;
  for (std::uint64_t n = first; n < t.scrolled; ++n)
    h.lines.push_back(t.scrollback[static_cast<std::size_t>(n - kept_first)]);
  const std::uint64_t screen_from = std::max(first, t.scrolled) - t.scrolled;
  for (std::size_t i = static_cast<std::size_t>(screen_from); i < screen_lines.size(); ++i)
    h.lines.push_back(screen_lines[i]);
  return h;
}

Result<Info> Service::resize(std::string_view id, int cols, int rows) {
  if (cols < 1 || cols > 1000 || rows < 1 || rows > 500)
    return make_error(error_code::kInvalidParams, "terminal_resize: cols must be 1..1000 and rows 1..500, got " +
                                                      std::to_string(cols) + "x" + std::to_string(rows));
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  std::lock_guard lock(t.mutex);
  if (!t.alive) return make_error(error_code::kRequestFailed, "terminal_resize: terminal " + t.id + " has exited");
  t.cols = cols;
  t.rows = rows;
  vterm_set_size(t.vt, rows, cols);
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  ::ioctl(t.master.get(), TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to the foreground group
  return t.info_locked();
}

Result<Info> Service::kill(std::string_view id, std::optional<int> signal) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  auto wait_exit = [&](Clock::duration budget) {
    std::unique_lock lock(t.mutex);
    t.changed.wait_for(lock, budget, [&] { return !t.alive; });
  };
  if (!t.info().alive) return t.info();
  if (signal) {
    signal_session(t.pid, *signal);
    return t.info();
  }
  signal_session(t.pid, SIGHUP);
  wait_exit(std::chrono::seconds(1));
  {
    // What ignored the hangup (the child, or a job of its session still
    // holding the PTY) goes now.
    std::unique_lock lock(t.mutex);
    if (!t.alive && !t.reading) return t.info_locked();
  }
  signal_session(t.pid, SIGKILL);
  wait_exit(std::chrono::seconds(3));
  return t.info();
}

Result<Info> Service::info(std::string_view id) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  return (*found)->info();
}

std::vector<Info> Service::list() {
  forget_old_exited();
  std::vector<std::shared_ptr<Terminal>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [n, t] : terminals_) all.push_back(t);
  }
  std::vector<Info> out;
  out.reserve(all.size());
  for (auto& t : all) out.push_back(t->info());
  return out;
}

}  // namespace icotes::terminal
