// One terminal's session: the PTY's reader and processor threads, the
// emulated screen (libvterm), its scrollback and the raw byte ring. The
// service (terminal.cpp) finds sessions by id and waits on them.
#pragma once

#include <sys/types.h>
#include <vterm.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/events.hpp"
#include "icotes/ring_buffer.hpp"
#include "icotes/terminal.hpp"

namespace icotes::terminal {

using Clock = std::chrono::steady_clock;

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
  ~Terminal();
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
  void stop_reader();
  /// Records a write of `data` about to go to the input (under `mutex`):
  /// its offset and its lines, whose echo a wait leaves out.
  void note_write(std::string_view data);
  /// Reaps the child when it has exited (blocking when `block`).
  void reap(bool block);

  Info info() {
    std::lock_guard lock(mutex);
    return info_locked();
  }
  Info info_locked() const;

  /// The screen as text (under `mutex`).
  Screen render_locked() const;

  // libvterm callbacks (under `mutex`: they run inside vterm_input_write or vterm_set_size).
  static int on_pushline(int cols, const VTermScreenCell* cells, void* user);
  void push_line(std::string line);
  static int on_termprop(VTermProp prop, VTermValue* val, void* user);
  // What the emulator answers the program (cursor position reports, device
  // attributes): queued, written to the master by the reader thread.
  static void on_output(const char* s, std::size_t len, void* user) {
    static_cast<Terminal*>(user)->replies_.append(s, len);
  }

  /// Makes the emulator, `c` columns by `r` rows.
  void init_vterm(int c, int r);

 private:
  void read_loop();
  struct Polled {
    bool stop = false;   // stop_reader() was called, or poll(2) failed
    short master = 0;    // the master's revents (0 when not polled)
    bool child = false;  // the child may have exited
  };
  /// One poll(2) of the wake eventfd, the master (while `reading_master`)
  /// and the child's pidfd (while `child_running`).
  Polled poll_once(bool reading_master, bool child_running);
  /// The master polled ready (`revents`): replies written, output taken in.
  /// Whether it is still open (else `reading` is false).
  bool master_ready(short revents);
  /// The child may have exited (its pidfd polled ready, or a periodic
  /// check): its last output taken in (`reading_master` updated), then
  /// reaped. Whether it still runs.
  bool child_ready(bool& reading_master);
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

}  // namespace icotes::terminal
