// PTY sessions rendered by libvterm. See include/terminal/icotes/terminal.hpp.
#include "icotes/terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <re2/re2.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <vterm.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "icotes/events.hpp"
#include "icotes/exec.hpp"
#include "icotes/ring_buffer.hpp"
#include "icotes/text.hpp"
#include "icotes/utf8.hpp"
#include "spawn.hpp"

namespace icotes::terminal {

using detail::signal_session;

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One cell row as UTF-8, trailing blanks trimmed.
std::string cells_to_text(const VTermScreenCell* cells, int count) {
  std::string line;
  for (int col = 0; col < count; ++col) {
    const VTermScreenCell& cell = cells[col];
    if (cell.chars[0] == static_cast<std::uint32_t>(-1)) continue;  // right half of a wide character
    if (cell.chars[0] == 0) {
      line += ' ';
      continue;
    }
    for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && cell.chars[i] != 0; ++i) append_utf8(line, cell.chars[i]);
    if (cell.width > 1) col += cell.width - 1;
  }
  line.erase(line.find_last_not_of(' ') + 1);
  return line;
}

}  // namespace

// One PTY session. Two threads carry its output: the reader owns the
// master's reading side and only reads, into a bounded queue; the processor
// feeds the queue to the emulator, the byte ring and the event broker. A PTY
// hands out at most 4 KiB a read (the line discipline's buffer), so reading
// must not wait on processing: serialised, a `cat` of 100 MB ran at a third
// of what the kernel delivers. Every field below `mutex` is guarded by it.
class Terminal {
 public:
  Terminal(std::string id_, const Limits& limits, events::Broker& broker)
      : id(std::move(id_)),
        raw(limits.raw_bytes),
        broker_(broker),
        scrollback_limit_(limits.scrollback_lines),
        fast_scroll_(limits.fast_scroll) {}
  ~Terminal() {
    stop_reader();
    if (vt != nullptr) vterm_free(vt);
    if (pidfd >= 0) ::close(pidfd);
  }
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  const std::string id;
  std::string command, cwd;
  pid_t pid = 0;
  int pidfd = -1;
  Fd master, wake;
  std::int64_t created_ms = 0;
  std::mutex write_mutex;  // one write at a time, so writes do not interleave

  std::mutex mutex;
  std::condition_variable changed;  // output, exit
  VTerm* vt = nullptr;
  VTermScreen* screen = nullptr;
  int cols = 0, rows = 0;
  std::string title;
  bool cursor_visible = true, alt_screen = false;
  std::deque<std::string> scrollback;
  std::uint64_t scrolled = 0;  // lines ever pushed off the top
  ByteRing raw;
  std::uint64_t last_write_offset = 0;
  // The lines of the last write (without their line ends, each non-empty,
  // at most 4 KiB in all): the terminal echoes them, and a wait for output
  // after that write must not match the echo (`echo DONE` is not DONE).
  std::vector<std::string> last_write_lines;
  Clock::time_point last_output = Clock::now();
  bool alive = true;
  bool reading = true;  // false once the master reported EOF/EIO (no process holds the slave)
  std::optional<int> exit_code, exit_signal;

  void start_reader() {
    processor_ = std::thread([this] { process_loop(); });
    reader_ = std::thread([this] { read_loop(); });
  }
  void stop_reader() {
    if (reader_.joinable()) {
      const std::uint64_t one = 1;
      if (::write(wake.get(), &one, sizeof one) < 0) {
        // eventfd writes fail only on counter overflow: the thread is awake already.
      }
      {
        std::lock_guard lock(queue_mutex_);
        queue_stopping_ = true;  // a reader waiting for room gives up
      }
      queue_room_.notify_all();
      reader_.join();
    }
    if (processor_.joinable()) {
      {
        std::lock_guard lock(queue_mutex_);
        queue_closed_ = true;
      }
      queue_ready_.notify_all();
      processor_.join();
    }
  }
  /// Reaps the child when it has exited (blocking when `block`).
  void reap(bool block);

  Info info() {
    std::lock_guard lock(mutex);
    return info_locked();
  }
  Info info_locked() const {
    Info i;
    i.id = id;
    i.pid = pid;
    i.command = command;
    i.cwd = cwd;
    i.cols = cols;
    i.rows = rows;
    i.alive = alive;
    i.exit_code = exit_code;
    i.signal = exit_signal;
    i.created_ms = created_ms;
    i.title = title;
    i.offset = raw.end();
    return i;
  }

  Screen render_locked() const {
    Screen s;
    s.cols = cols;
    s.rows = rows;
    s.title = title;
    s.cursor_visible = cursor_visible;
    s.alt_screen = alt_screen;
    VTermPos cursor{};
    vterm_state_get_cursorpos(vterm_obtain_state(vt), &cursor);
    s.cursor_row = cursor.row;
    s.cursor_col = cursor.col;
    std::vector<VTermScreenCell> cells(static_cast<std::size_t>(cols));
    for (int row = 0; row < rows; ++row) {
      for (int col = 0; col < cols; ++col)
        vterm_screen_get_cell(screen, VTermPos{row, col}, &cells[static_cast<std::size_t>(col)]);
      s.lines.push_back(cells_to_text(cells.data(), cols));
    }
    return s;
  }

  // libvterm callbacks (under `mutex`: they run inside vterm_input_write or vterm_set_size).
  static int on_pushline(int cols, const VTermScreenCell* cells, void* user) {
    auto* t = static_cast<Terminal*>(user);
    if (t->drop_pushes_ > 0) {  // rows feed_plain() already put in scrollback
      --t->drop_pushes_;
      return 1;
    }
    t->push_line(cells_to_text(cells, cols));
    return 1;
  }
  void push_line(std::string line) {
    ++scrolled;
    if (scrollback_limit_ == 0) return;
    if (scrollback.size() >= scrollback_limit_) scrollback.pop_front();
    scrollback.push_back(std::move(line));
  }
  static int on_termprop(VTermProp prop, VTermValue* val, void* user) {
    auto* t = static_cast<Terminal*>(user);
    if (prop == VTERM_PROP_TITLE) t->title = val->string != nullptr ? val->string : "";
    if (prop == VTERM_PROP_CURSORVISIBLE) t->cursor_visible = val->boolean != 0;
    if (prop == VTERM_PROP_ALTSCREEN) t->alt_screen = val->boolean != 0;
    return 1;
  }
  // What the emulator answers the program (cursor position reports, device
  // attributes): queued, written to the master by the reader thread.
  static void on_output(const char* s, std::size_t len, void* user) {
    static_cast<Terminal*>(user)->replies_.append(s, len);
  }

  void init_vterm(int c, int r) {
    cols = c;
    rows = r;
    vt = vterm_new(rows, cols);
    vterm_set_utf8(vt, 1);
    vterm_output_set_callback(vt, &Terminal::on_output, this);
    screen = vterm_obtain_screen(vt);
    static const VTermScreenCallbacks callbacks = {
        nullptr, nullptr, nullptr, &Terminal::on_termprop, nullptr, nullptr, &Terminal::on_pushline, nullptr,
    };
    vterm_screen_set_callbacks(screen, &callbacks, this);
    vterm_screen_enable_altscreen(screen, 1);
    vterm_screen_set_damage_merge(screen, VTERM_DAMAGE_SCROLL);
    vterm_screen_reset(screen, 1);
  }

 private:
  void read_loop();
  void process_loop();
  /// Queues a chunk for the processor; waits while kQueueBytes are queued
  /// (the PTY then fills and the program blocks: memory stays flat). False
  /// when stopping.
  bool enqueue(std::string chunk);
  /// Waits until the processor has taken in everything queued (before the
  /// exit event and `reading = false`, which must follow the last output).
  void wait_processed();
  void take_output(std::string_view chunk);
  void feed_plain(std::string_view s);
  void note_margins(std::string_view s);
  std::string row_text(int row) const;
  void flush_replies();
  bool replies_pending() {
    std::lock_guard lock(reply_mutex_);
    return !reply_backlog_.empty();
  }
  /// Reads what the master has now (non-blocking); false at EOF/EIO.
  bool drain();

  std::thread reader_;
  events::Broker& broker_;
  std::size_t scrollback_limit_;
  bool fast_scroll_;
  bool margins_maybe_ = false;  // output may have set a scroll region or margins (guarded by mutex)
  int drop_pushes_ = 0;         // libvterm pushes that repeat rows already in scrollback (guarded by mutex)
  std::string replies_;         // guarded by mutex
  std::mutex reply_mutex_;
  std::string reply_backlog_;  // guarded by reply_mutex_ (filled by the processor, written by either thread)
  std::string utf8_carry_;     // processor thread only
  std::thread processor_;
  static constexpr std::size_t kQueueBytes = 1 << 20;   // queued output, at most (bytes)
  static constexpr std::size_t kPassBytes = 256 << 10;  // output handled in one pass, at most (bytes)
  std::mutex queue_mutex_;
  std::condition_variable queue_ready_, queue_room_;
  std::deque<std::string> queue_;  // guarded by queue_mutex_, as are the four below
  std::size_t queued_bytes_ = 0;
  bool processing_ = false;  // the processor holds a chunk taken off the queue
  bool queue_stopping_ = false, queue_closed_ = false;
  std::string topic_output_ = "terminal/" + id + "/output";
};

// Printable ASCII lines ("\n" or "\r\n" ends), what `cat` of a text file
// or a build log is: nothing in it moves the cursor but down.
bool plain_lines(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c >= 0x20 && c < 0x7f) || c == '\n') continue;
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    return false;
  }
  return true;
}

std::string Terminal::row_text(int row) const {
  std::vector<VTermScreenCell> cells(static_cast<std::size_t>(cols));
  for (int col = 0; col < cols; ++col)
    vterm_screen_get_cell(screen, VTermPos{row, col}, &cells[static_cast<std::size_t>(col)]);
  return cells_to_text(cells.data(), cols);
}

// The fast path assumes the whole screen scrolls: output that may have set
// a scroll region (DECSTBM, CSI t;b r) or left/right margins (CSI l;r s)
// turns it off until a reset (CSI r, RIS). A sequence cut by the chunk's
// end counts as setting them.
void Terminal::note_margins(std::string_view s) {
  for (std::size_t i = s.find('\x1b'); i != std::string_view::npos; i = s.find('\x1b', i + 1)) {
    if (i + 1 >= s.size()) {
      margins_maybe_ = true;
      return;
    }
    if (s[i + 1] == 'c') {
      margins_maybe_ = false;
      continue;
    }
    if (s[i + 1] != '[') continue;
    std::size_t j = i + 2;
    bool params = false;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == ';' || s[j] == '?')) {
      params = true;
      ++j;
    }
    if (j >= s.size()) {
      margins_maybe_ = true;
      return;
    }
    if (s[j] == 'r') margins_maybe_ = params;
    if (s[j] == 's' && params) margins_maybe_ = true;
  }
}

// Plain lines scrolling through the bottom row: libvterm would move the
// whole screen once per line and read back every cell of each line that
// leaves it (a `cat` of 100 MB ran at 15 MB/s). Lines that only pass
// through go to scrollback as text here; the emulator gets the last
// screenful. Needs the cursor at the start of a blank bottom row, which
// finishing the current line (fed normally) gives when it is at the bottom.
void Terminal::feed_plain(std::string_view s) {
  const std::size_t first = s.find('\n');
  if (first == std::string_view::npos) {
    vterm_input_write(vt, s.data(), s.size());
    return;
  }
  vterm_input_write(vt, s.data(), first + 1);
  s.remove_prefix(first + 1);
  VTermPos cursor{};
  vterm_state_get_cursorpos(vterm_obtain_state(vt), &cursor);
  const auto lines = static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
  if (cursor.row != rows - 1 || cursor.col != 0 || lines <= static_cast<std::size_t>(rows) ||
      !row_text(rows - 1).empty()) {
    vterm_input_write(vt, s.data(), s.size());
    return;
  }
  // Skip all but the last `rows` lines (and the unfinished one after them).
  std::size_t split = 0;
  for (std::size_t skip = lines - static_cast<std::size_t>(rows); skip > 0; --skip) split = s.find('\n', split) + 1;
  // What leaves the screen, in order: the rows above the cursor, then each
  // skipped line as the rows it would fill (cols characters each).
  for (int row = 0; row < rows - 1; ++row) push_line(row_text(row));
  std::string_view skipped = s.substr(0, split);
  while (!skipped.empty()) {
    const std::size_t nl = skipped.find('\n');
    std::string_view line = skipped.substr(0, nl);
    skipped.remove_prefix(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t at = 0;
    do {
      std::string piece(line.substr(at, static_cast<std::size_t>(cols)));
      piece.erase(piece.find_last_not_of(' ') + 1);
      push_line(std::move(piece));
      at += static_cast<std::size_t>(cols);
    } while (at < line.size());
  }
  // The emulator still shows the old rows: its first rows-1 pushes repeat
  // them, and the last `rows` lines scroll them all out.
  drop_pushes_ = rows - 1;
  const std::string_view kept = s.substr(split);
  vterm_input_write(vt, kept.data(), kept.size());
}

void Terminal::take_output(std::string_view chunk) {
  std::uint64_t offset = 0;
  {
    std::lock_guard lock(mutex);
    offset = raw.end();
    raw.append(chunk);
    last_output = Clock::now();
    if (fast_scroll_ && !alt_screen && !margins_maybe_ && plain_lines(chunk)) {
      feed_plain(chunk);
    } else {
      vterm_input_write(vt, chunk.data(), chunk.size());
      note_margins(chunk);
    }
    if (!replies_.empty()) {
      std::lock_guard reply_lock(reply_mutex_);
      reply_backlog_ += std::exchange(replies_, std::string());
    }
  }
  changed.notify_all();
  // `offset` is the first byte of this chunk; a character split at the end
  // waits for the next chunk (so `data` may end before offset + bytes).
  std::string text = repair_utf8(chunk, utf8_carry_);
  broker_.publish(topic_output_, json{{"data", std::move(text)}, {"offset", offset}, {"bytes", chunk.size()}},
                  chunk.size());
  flush_replies();
}

void Terminal::flush_replies() {
  std::lock_guard lock(reply_mutex_);
  while (!reply_backlog_.empty()) {
    const ssize_t n = ::write(master.get(), reply_backlog_.data(), reply_backlog_.size());
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;  // input full: polled for POLLOUT
      reply_backlog_.clear();                // EIO: nobody reads any more
      return;
    }
    reply_backlog_.erase(0, static_cast<std::size_t>(n));
  }
}

bool Terminal::drain() {
  // Coalesce what is ready into chunks of up to 64 KiB (the processor joins
  // queued chunks further): one emulator pass and one event per chunk rather
  // than per 4 KiB PTY read.
  constexpr std::size_t kChunk = 64 * 1024;
  std::string buf(kChunk, '\0');
  std::size_t have = 0;
  bool open = true;
  while (true) {
    const ssize_t n = ::read(master.get(), buf.data() + have, kChunk - have);
    if (n > 0) {
      have += static_cast<std::size_t>(n);
      if (have < kChunk) continue;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n == 0 || errno != EAGAIN) {
      open = false;  // EIO: every slave descriptor is closed
    }
    if (have > 0 && !enqueue(std::string(buf.data(), have))) return false;
    if (!open || n <= 0) return open;
    have = 0;
  }
}

bool Terminal::enqueue(std::string chunk) {
  std::unique_lock lock(queue_mutex_);
  queue_room_.wait(lock, [&] { return queued_bytes_ < kQueueBytes || queue_stopping_; });
  if (queue_stopping_) return false;
  queued_bytes_ += chunk.size();
  queue_.push_back(std::move(chunk));
  lock.unlock();
  queue_ready_.notify_one();
  return true;
}

void Terminal::wait_processed() {
  std::unique_lock lock(queue_mutex_);
  queue_room_.wait(lock, [&] { return (queue_.empty() && !processing_) || queue_stopping_; });
}

void Terminal::process_loop() {
  std::unique_lock lock(queue_mutex_);
  while (true) {
    queue_ready_.wait(lock, [&] { return !queue_.empty() || queue_closed_; });
    if (queue_.empty()) return;  // closed and drained
    // What queued up while the last chunk was processed goes in one pass.
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    while (!queue_.empty() && chunk.size() + queue_.front().size() <= kPassBytes) {
      chunk += queue_.front();
      queue_.pop_front();
    }
    queued_bytes_ -= chunk.size();
    processing_ = true;
    lock.unlock();
    take_output(chunk);
    lock.lock();
    processing_ = false;
    queue_room_.notify_all();
  }
}

void Terminal::reap(bool block) {
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid) return;
  json data;
  {
    std::lock_guard lock(mutex);
    alive = false;
    if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) exit_signal = WTERMSIG(status);
    data = json{{"exitCode", exit_code ? json(*exit_code) : json(nullptr)},
                {"signal", exit_signal ? json(signal_name(*exit_signal)) : json(nullptr)},
                {"offset", raw.end()}};
  }
  changed.notify_all();
  broker_.publish("terminal/" + id + "/exit", std::move(data));
}

void Terminal::read_loop() {
  bool reading_master = true;
  bool child_running = true;
  while (reading_master || child_running) {
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake.get(), POLLIN, 0};
    const nfds_t master_at = n;
    if (reading_master) fds[n++] = {master.get(), static_cast<short>(POLLIN | (replies_pending() ? POLLOUT : 0)), 0};
    const nfds_t pid_at = n;
    if (child_running && pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    // Without a pidfd (kernels before 5.3) the child is checked every 100 ms.
    const int timeout = child_running && pidfd < 0 ? 100 : -1;
    if (::poll(fds, n, timeout) < 0 && errno != EINTR) break;
    if ((fds[0].revents & POLLIN) != 0) break;  // stop_reader()
    if (reading_master && fds[master_at].revents != 0) {
      if ((fds[master_at].revents & POLLOUT) != 0) flush_replies();
      if ((fds[master_at].revents & (POLLIN | POLLHUP | POLLERR)) != 0) reading_master = drain();
      if (!reading_master) {
        wait_processed();
        std::lock_guard lock(mutex);
        reading = false;
      }
    }
    const bool pid_ready = pidfd < 0 || (pid_at < n && fds[pid_at].revents != 0);
    if (child_running && pid_ready) {
      // What the child wrote before it exited is in the PTY already: take it
      // first, so the exit event comes after the last output.
      if (reading_master) reading_master = drain();
      wait_processed();
      if (!reading_master) {
        std::lock_guard lock(mutex);
        reading = false;
      }
      reap(false);
      std::lock_guard lock(mutex);
      child_running = alive;
    }
  }
}

// --- Service -----------------------------------------------------------------

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

Result<Info> Service::create(const CreateOptions& o) {
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

Result<std::uint64_t> Service::write(std::string_view id, std::string_view data, const CancellationToken& cancel) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  auto exited = [&](const Info& i) {
    if (i.alive)
      return make_error(error_code::kRequestFailed, "terminal_write: terminal " + t.id +
                                                        " no longer takes input (its programs closed the terminal)");
    return make_error(error_code::kRequestFailed,
                      "terminal " + t.id + " has exited (" +
                          (i.exit_code ? "exit code " + std::to_string(*i.exit_code)
                           : i.signal  ? "killed by " + signal_name(*i.signal)
                                       : std::string("gone")) +
                          "); its output can still be read; start a new one with terminal_create");
  };
  std::lock_guard write_lock(t.write_mutex);
  std::uint64_t before = 0;
  {
    std::lock_guard lock(t.mutex);
    if (!t.alive) return exited(t.info_locked());
    before = t.raw.end();
    t.last_write_offset = before;
    t.last_write_lines.clear();
    std::size_t kept = 0;
    for (std::string_view rest = data; !rest.empty() && kept < 4096;) {
      const std::size_t end = rest.find_first_of("\r\n");
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      if (line.empty()) continue;
      line = line.substr(0, 4096 - kept);
      kept += line.size();
      t.last_write_lines.emplace_back(line);
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!data.empty()) {
    const ssize_t n = ::write(t.master.get(), data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return exited(t.info());
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

Result<WaitOutcome> Service::wait(std::string_view id, const WaitFor& w, std::optional<std::uint64_t> since,
                                  const CancellationToken& cancel) {
  auto found = find(id);
  if (!found) return std::move(found).error();
  Terminal& t = **found;
  std::unique_ptr<RE2> re;
  if (!w.regex.empty()) {
    re = std::make_unique<RE2>("(?m)" + w.regex, RE2::Quiet);
    if (!re->ok())
      return make_error(error_code::kInvalidParams, "terminal_read: waitFor.regex '" + w.regex + "': " + re->error());
  }
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(std::max<std::int64_t>(0, w.timeout_ms));
  WaitOutcome out;
  auto done = [&](WaitResult r) {
    out.result = r;
    out.waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    return out;
  };
  ControlStripper stripper;
  std::string text, carry;
  std::unique_lock lock(t.mutex);
  std::uint64_t scanned = std::max(since.value_or(t.last_write_offset), t.raw.start());
  // Waiting on the output of the last write: its echo is not that output.
  const std::vector<std::string> echoed = since ? std::vector<std::string>() : t.last_write_lines;
  std::string unechoed;
  std::uint64_t screen_seen = UINT64_MAX;
  while (true) {
    if (re && w.on == WaitOn::Output && scanned < t.raw.end()) {
      stripper.feed(repair_utf8(t.raw.copy(std::max(scanned, t.raw.start()), t.raw.end()), carry), text);
      scanned = t.raw.end();
      // Bounded like the ring: a pattern is not expected to span more.
      if (text.size() > t.raw.end() - t.raw.start() + 1) text.erase(0, text.size() - (t.raw.end() - t.raw.start()));
      // The echo of each written line, in order, is left out (where it is
      // echoed as written: a line the shell wrapped or edited stays).
      const std::string* haystack = &text;
      if (!echoed.empty()) {
        unechoed.clear();
        std::size_t from = 0;
        for (const std::string& line : echoed) {
          // An echo comes at once: within a few bytes (a prompt's redraw,
          // a carriage return) of where the last one ended. Further on the
          // same text is output (a terminal with echo off, `ls` inside
          // `tools`), which stays.
          constexpr std::size_t kEchoWithin = 256;
          std::size_t at = text.find(line, from);
          if (at != std::string::npos && at - from > kEchoWithin) break;
          if (at == std::string::npos) {
            if (text.size() - from > kEchoWithin + line.size()) break;
            // An echo still arriving: the text's end is the line's start.
            const std::size_t first = text.size() > line.size() ? text.size() - line.size() : from;
            for (std::size_t k = std::max(first, from); k < text.size(); ++k) {
              if (line.compare(0, text.size() - k, text, k, std::string::npos) == 0) {
                unechoed.append(text, from, k - from);
                from = text.size();
                break;
              }
            }
            break;
          }
          unechoed.append(text, from, at - from);
          from = at + line.size();
        }
        unechoed.append(text, from, std::string::npos);
        haystack = &unechoed;
      }
      re2::StringPiece m;
      if (re->Match(*haystack, 0, haystack->size(), RE2::UNANCHORED, &m, 1)) {
        std::string partial;  // a character the match cuts is dropped
        out.match = repair_utf8(std::string_view(m.data(), m.size()), partial);
        return done(WaitResult::Matched);
      }
    }
    if (re && w.on == WaitOn::Screen && screen_seen != t.raw.end()) {
      screen_seen = t.raw.end();
      std::string joined;
      for (const auto& line : t.render_locked().lines) joined += line + "\n";
      re2::StringPiece m;
      if (re->Match(joined, 0, joined.size(), RE2::UNANCHORED, &m, 1)) {
        out.match = std::string(m.data(), m.size());
        return done(WaitResult::Matched);
      }
    }
    if (!t.alive) return done(WaitResult::Exited);
    const auto now = Clock::now();
    auto wake_at = std::min(deadline, now + std::chrono::milliseconds(50));
    if (w.idle_ms) {
      const auto quiet_since = std::max(t.last_output, start);
      const auto idle_at = quiet_since + std::chrono::milliseconds(*w.idle_ms);
      if (now >= idle_at) return done(WaitResult::Idle);
      wake_at = std::min(wake_at, idle_at);
    }
    if (now >= deadline) return done(WaitResult::Timeout);
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
  for (auto& t : all) out.push_back(t->info());
  return out;
}

}  // namespace icotes::terminal
