// The session of one terminal: see session.hpp.
#include "session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <utility>

#include "icotes/text.hpp"
#include "icotes/utf8.hpp"

namespace icotes::terminal {
namespace {

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

}  // namespace

Terminal::~Terminal() {
  stop_reader();
  if (vt != nullptr) vterm_free(vt);
  if (pidfd >= 0) ::close(pidfd);
}

void Terminal::stop_reader() {
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

Info Terminal::info_locked() const {
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

Screen Terminal::render_locked() const {
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

int Terminal::on_pushline(int cols, const VTermScreenCell* cells, void* user) {
  auto* t = static_cast<Terminal*>(user);
  if (t->drop_pushes_ > 0) {  // rows feed_plain() already put in scrollback
    --t->drop_pushes_;
    return 1;
  }
  t->push_line(cells_to_text(cells, cols));
  return 1;
}

void Terminal::push_line(std::string line) {
  ++scrolled;
  if (scrollback_limit_ == 0) return;
  if (scrollback.size() >= scrollback_limit_) scrollback.pop_front();
  scrollback.push_back(std::move(line));
}

int Terminal::on_termprop(VTermProp prop, VTermValue* val, void* user) {
  auto* t = static_cast<Terminal*>(user);
  if (prop == VTERM_PROP_TITLE) t->title = val->string != nullptr ? val->string : "";
  if (prop == VTERM_PROP_CURSORVISIBLE) t->cursor_visible = val->boolean != 0;
  if (prop == VTERM_PROP_ALTSCREEN) t->alt_screen = val->boolean != 0;
  return 1;
}

void Terminal::init_vterm(int c, int r) {
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

void Terminal::note_write(std::string_view data) {
  last_write_offset = raw.end();
  last_write_lines.clear();
  std::size_t kept = 0;
  for (std::string_view rest = data; !rest.empty() && kept < 4096;) {
    const std::size_t end = rest.find_first_of("\r\n");
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (line.empty()) continue;
    line = line.substr(0, 4096 - kept);
    kept += line.size();
    last_write_lines.emplace_back(line);
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
    const Polled polled = poll_once(reading_master, child_running);
    if (polled.stop) break;
    if (reading_master && polled.master != 0) reading_master = master_ready(polled.master);
    if (child_running && polled.child) child_running = child_ready(reading_master);
  }
}

Terminal::Polled Terminal::poll_once(bool reading_master, bool child_running) {
  pollfd fds[3];
  nfds_t n = 0;
  fds[n++] = {wake.get(), POLLIN, 0};
  const nfds_t master_at = n;
  if (reading_master) fds[n++] = {master.get(), static_cast<short>(POLLIN | (replies_pending() ? POLLOUT : 0)), 0};
  const nfds_t pid_at = n;
  if (child_running && pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
  // Without a pidfd (kernels before 5.3) the child is checked every 100 ms.
  const int timeout = child_running && pidfd < 0 ? 100 : -1;
  Polled p;
  if (::poll(fds, n, timeout) < 0 && errno != EINTR) p.stop = true;
  if ((fds[0].revents & POLLIN) != 0) p.stop = true;  // stop_reader()
  if (reading_master) p.master = fds[master_at].revents;
  p.child = pidfd < 0 || (pid_at < n && fds[pid_at].revents != 0);
  return p;
}

bool Terminal::master_ready(short revents) {
  bool open = true;
  if ((revents & POLLOUT) != 0) flush_replies();
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) open = drain();
  if (!open) {
    wait_processed();
    std::lock_guard lock(mutex);
    reading = false;
  }
  return open;
}

bool Terminal::child_ready(bool& reading_master) {
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
  return alive;
}

}  // namespace icotes::terminal
