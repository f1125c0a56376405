// The HTTP door's connection layer, under cpp-httplib: who gets a thread,
// for how long, and how many bytes a request may make the server hold.
//
// cpp-httplib 0.11 (Debian 12's) gives each accepted connection a pool
// thread at once and bounds reading only per recv(2) (its read timeout):
// a client that sends one header line every few seconds (slowloris) holds
// the thread forever, and 128 such clients starve every real request, which
// then waits in the pool's unbounded queue. It reads a head line by line
// into a string that grows without limit, and buffers a chunked or
// length-less body whole before any size check. Its hooks cannot bound a
// whole request's time, so this layer does, in three parts:
//
//  1. Gate: the listener hands every accepted socket to one epoll thread,
//     which reads (without blocking) until the request head is complete.
//     A connection still sending its head costs a descriptor and a buffer
//     of at most `max_head_bytes`, no thread. The head must be complete
//     within `head_timeout` of the accept (else 408 and close); above
//     `max_pending` waiting connections the oldest is closed (a real
//     client's head arrives in one packet, so it never waits long enough to
//     be the oldest); a head over `max_head_bytes` gets 431.
//  2. Workers: a complete head goes to an idle worker thread. When all
//     `workers` are busy it may wait for one, but only briefly and only so
//     many (`max_queued` heads, `queue_timeout` each); beyond, 503 at once:
//     a short, bounded queue for bursts, never an unbounded one.
//     Between requests a worker keeps its connection only briefly (a
//     client's next request usually follows at once); an idle kept-alive
//     connection goes back to the gate, again without a thread, until its
//     next head is complete or `keep_alive` passes (at most `max_kept` of
//     them, the longest idle closed beyond). Only connections whose last
//     request was served are kept: a refused one is closed.
//  3. Conn: the worker's socket I/O. Each request's head must arrive before
//     its head deadline and head plus body before its request deadline,
//     whatever the pace of single recv(2)s; the head's bytes and the raw
//     body's bytes are counted and reading stops past their limits. The
//     caller (mcp_http.cpp) maps why reading stopped to 408, 413 or 431.
//
// Nothing here knows HTTP beyond finding the end of a head (RFC 9112
// section 2.2: the first empty CRLF line after the request line).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace icotes::http {

using Clock = std::chrono::steady_clock;

/// Finds where a request head ends, as cpp-httplib reads one: lines end at
/// '\n'; the head ends with the first line, after the request line, that
/// is exactly "\r\n". Fed incrementally.
class HeadScanner {
 public:
  /// Scans `bytes` (the next bytes of the connection); returns how many of
  /// them belong to the head: all of them until the end is found.
  std::size_t feed(std::string_view bytes);
  bool done() const { return done_; }
  void reset() { *this = HeadScanner(); }

 private:
  bool first_line_ = true;
  bool done_ = false;
  std::size_t line_len_ = 0;  // bytes of the current line so far
  bool last_cr_ = false;      // the current line's last byte so far is '\r'
};

/// A canned response for refusals outside any handler (503, 408, 431):
/// status line, Connection: close and a JSON-RPC error body.
std::string canned_response(int status, std::string_view reason, std::string_view message);

struct ConnLimits {
  std::size_t max_head_bytes = 32 << 10;     // request line and headers
  std::size_t max_body_raw_bytes = 5 << 20;  // body as sent (chunk framing included)
  std::chrono::milliseconds head_timeout{10000};
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds io_timeout{10000};  // no progress on a read or write for this long
};

/// One connection's socket I/O with deadlines and byte limits (not
/// thread-safe; the descriptor stays the caller's).
class Conn {
 public:
  /// Why reading stopped for good.
  enum class Stop { None, Closed, Error, HeadTimeout, HeadTooLarge, RequestTimeout, BodyTooLarge, Idle };

  /// `fd`: a connected socket (made non-blocking); `buffered`: bytes already
  /// read from it (the gate's).
  Conn(int fd, std::string buffered, ConnLimits limits);

  /// Starts the next request at `start` (when its first byte came, or the
  /// accept for a connection's first request): its deadlines count from it.
  void begin_request(Clock::time_point start);
  /// Up to `size` bytes: > 0, 0 at end of stream, -1 when reading stopped
  /// (stop() says why; a stopped Conn reads nothing more).
  ssize_t read(char* out, std::size_t size);
  /// All of `size` bytes, or -1 (peer gone, or no progress for io_timeout).
  ssize_t write(const char* data, std::size_t size);
  /// Whether a byte can be read within `wait` (or is buffered); for the
  /// wait between requests on a kept-alive connection.
  bool wait_readable(std::chrono::milliseconds wait);
  bool writable() const;

  Stop stop() const { return stop_; }
  /// Whether the current request's head is still being read.
  bool in_head() const { return in_head_; }
  int fd() const { return fd_; }

 private:
  bool fill();

  int fd_;
  std::string buf_;
  std::size_t pos_ = 0;
  ConnLimits limits_;
  HeadScanner scanner_;
  bool in_head_ = true;
  std::size_t head_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  Clock::time_point head_deadline_ = Clock::time_point::max();
  Clock::time_point deadline_ = Clock::time_point::max();
  Stop stop_ = Stop::None;
};

struct GateOptions {
  std::size_t workers = 128;      // requests served at once
  std::size_t max_pending = 256;  // connections still sending their first head
  std::size_t max_head_bytes = 32 << 10;
  std::chrono::milliseconds head_timeout{10000};
  std::size_t max_kept = 1024;                    // served connections idle between requests
  std::chrono::milliseconds keep_alive{5000};     // how long one may stay idle
  std::size_t max_queued = 128;                   // complete heads waiting for a busy worker
  std::chrono::milliseconds queue_timeout{1000};  // how long one may wait (then 503)
  // A connection closed after its response (a refusal, Connection: close)
  // is shut down for writing and read to its end, unread bytes thrown away,
  // for at most this long before it is closed; past `linger_bytes` it is no
  // longer read, only held until then (or until the client closes): closing a
  // socket with unread input sends a reset: a client still sending its body
  // then fails its next write and drops the connection with the response
  // (a 413) unread. The "lingering close" of RFC 9112 section 9.6. At most
  // max_pending connections linger at once; past that they close at once.
  std::chrono::milliseconds linger{2000};
  std::size_t linger_bytes = 1 << 20;
};

/// Accepted sockets wait here, threadless, until their first request head
/// is complete; then a worker serves them, or they are refused (above).
class Gate {
 public:
  /// Serves one connection on a worker thread: `fd` with the bytes the gate
  /// read from it (the whole next head, maybe more), whose first byte came
  /// (or which was accepted) at `start`. Returns true to have the gate keep
  /// `fd` until its next request (nothing of it may be left unread), false
  /// to have it closed.
  using Serve = std::function<bool(int fd, std::string bytes, Clock::time_point start)>;

  /// Starts the epoll thread and the workers. Throws std::system_error when
  /// epoll or eventfd cannot be created.
  Gate(GateOptions options, Serve serve);
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  /// Takes `fd`, a just-accepted socket; any thread.
  void admit(int fd);
  /// Closes waiting connections, shuts down the ones being served (their
  /// reads and writes fail at once), and joins every thread. Idempotent.
  void stop();

  /// Connections waiting for their first head, and kept ones between requests.
  std::size_t pending() const;
  std::size_t kept() const;
  std::size_t busy() const;

 private:
  struct Pending {
    std::string bytes;
    HeadScanner scanner;
    std::size_t head_bytes = 0;
    Clock::time_point start;  // accepted, or (kept) its next request's first byte
    Clock::time_point deadline;
    std::uint64_t seq = 0;
    bool kept = false;
    bool lingering = false;  // served and shut down for writing; read to its end, then closed
  };
  struct Job {
    int fd;
    std::string bytes;
    Clock::time_point start;
    Clock::time_point queued;
  };

  void run();
  void work();
  // With mutex_ held: starts watching `fd`; false (and `fd` closed) on failure.
  bool watch(int fd, bool kept);
  void linger(int fd);
  // With mutex_ held: reads what `fd` has; dispatches, refuses or keeps it.
  void read_pending(int fd);
  void drop_pending(int fd, std::string_view response);
  void set_deadline(int fd, Pending& p, Clock::time_point deadline);
  void dispatch(int fd, std::string bytes, Clock::time_point start);
  std::string busy_response() const;

  const GateOptions options_;
  const Serve serve_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::unordered_map<int, Pending> pending_;
  std::map<std::uint64_t, int> order_;                     // first heads, seq → fd: the oldest first
  std::map<std::uint64_t, int> kept_order_;                // kept connections, the longest idle first
  std::set<std::pair<Clock::time_point, int>> deadlines_;  // every waiting connection's
  std::uint64_t next_seq_ = 0;
  std::deque<Job> jobs_;       // oldest first; those beyond idle_ wait for a worker
  std::size_t idle_ = 0;       // workers not serving a job
  std::size_t lingering_ = 0;  // connections closing lingering (in pending_ with lingering set)
  std::set<int> active_;       // descriptors being served (closed only under mutex_)
  bool stopping_ = false;
  std::thread thread_;
  std::vector<std::thread> workers_;
};

}  // namespace icotes::http
