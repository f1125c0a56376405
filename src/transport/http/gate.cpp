#include "gate.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace icotes::http {

std::size_t HeadScanner::feed(std::string_view bytes) {
  if (done_) return 0;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const void* nl = std::memchr(bytes.data() + at, '\n', bytes.size() - at);
    if (!nl) {
      line_len_ += bytes.size() - at;
      last_cr_ = bytes.back() == '\r';
      return bytes.size();
    }
    const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - bytes.data());
    // The line's bytes before '\n': those seen before this call plus [at, end).
    const std::size_t len = line_len_ + (end - at);
    const bool cr = end > at ? bytes[end - 1] == '\r' : last_cr_;
    at = end + 1;
    if (!first_line_ && len == 1 && cr) {
      done_ = true;
      return at;
    }
    first_line_ = false;
    line_len_ = 0;
    last_cr_ = false;
  }
  return bytes.size();
}

std::string canned_response(int status, std::string_view reason, std::string_view message) {
  std::string body = R"({"jsonrpc":"2.0","error":{"code":-32000,"message":")";
  for (const char c : message) {
    if (c == '"' || c == '\\') body.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) body.push_back(c);
  }
  body += R"("},"id":null})";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                    "\r\nConnection: close\r\nContent-Type: application/json\r\n";
  if (status == 503) out += "Retry-After: 1\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

namespace {

int poll_ms(Clock::duration d) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 1 << 30));
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Best effort: a short refusal into the socket buffer, never waiting.
void send_now(int fd, std::string_view text) {
  if (!text.empty()) (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

Conn::Conn(int fd, std::string buffered, ConnLimits limits) : fd_(fd), buf_(std::move(buffered)), limits_(limits) {
  set_nonblocking(fd_);
}

void Conn::begin_request(Clock::time_point start) {
  scanner_.reset();
  in_head_ = true;
  head_bytes_ = 0;
  body_bytes_ = 0;
  head_deadline_ = start + limits_.head_timeout;
  deadline_ = start + limits_.request_timeout;
}

bool Conn::fill() {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  constexpr std::size_t kChunk = 16 << 10;
  for (;;) {
    const auto now = Clock::now();
    const auto deadline = in_head_ ? std::min(head_deadline_, deadline_) : deadline_;
    if (now >= deadline) {
      stop_ = in_head_ ? Stop::HeadTimeout : Stop::RequestTimeout;
      return false;
    }
    const auto wait = std::min<Clock::duration>(limits_.io_timeout, deadline - now);
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, poll_ms(wait));
    if (r < 0) {
      if (errno == EINTR) continue;
      stop_ = Stop::Error;
      return false;
    }
    if (r == 0) {
      if (wait == limits_.io_timeout) {
        stop_ = Stop::Idle;
        return false;
      }
      continue;  // the deadline: checked at the top
    }
    const std::size_t old = buf_.size();
    buf_.resize(old + kChunk);
    const ssize_t n = ::recv(fd_, buf_.data() + old, kChunk, MSG_DONTWAIT);
    buf_.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) return true;
    if (n == 0) {
      stop_ = Stop::Closed;
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
    stop_ = Stop::Error;
    return false;
  }
}

ssize_t Conn::read(char* out, std::size_t size) {
  if (stop_ != Stop::None) return stop_ == Stop::Closed ? 0 : -1;
  if (size == 0) return 0;
  if (pos_ == buf_.size() && !fill()) return stop_ == Stop::Closed ? 0 : -1;
  const std::size_t n = std::min(size, buf_.size() - pos_);
  const std::string_view piece(buf_.data() + pos_, n);
  if (in_head_) {
    const std::size_t head = scanner_.feed(piece);
    head_bytes_ += head;
    if (!scanner_.done()) {
      if (head_bytes_ > limits_.max_head_bytes) {
        stop_ = Stop::HeadTooLarge;
        return -1;
      }
    } else {
      in_head_ = false;
      body_bytes_ += n - head;
    }
  } else {
    body_bytes_ += n;
  }
  if (body_bytes_ > limits_.max_body_raw_bytes) {
    stop_ = Stop::BodyTooLarge;
    return -1;
  }
  std::memcpy(out, piece.data(), n);  // NOLINT(bugprone-not-null-terminated-result): bytes read, not a C string
  pos_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t Conn::write(const char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::send(fd_, data + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int r;
      do r = ::poll(&p, 1, poll_ms(limits_.io_timeout));
      while (r < 0 && errno == EINTR);
      if (r <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return -1;
      continue;
    }
    return -1;
  }
  return static_cast<ssize_t>(size);
}

bool Conn::wait_readable(std::chrono::milliseconds wait) {
  if (pos_ < buf_.size()) return true;
  if (stop_ != Stop::None) return false;
  pollfd p{fd_, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, poll_ms(wait));
  while (r < 0 && errno == EINTR);
  return r > 0;
}

bool Conn::writable() const {
  pollfd p{fd_, POLLOUT, 0};
  int r;
  do r = ::poll(&p, 1, poll_ms(limits_.io_timeout));
  while (r < 0 && errno == EINTR);
  return r > 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

Gate::Gate(GateOptions options, Serve serve) : options_(options), serve_(std::move(serve)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    const int err = errno;
    ::close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  idle_ = options_.workers;
  for (std::size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  thread_ = std::thread([this] { run(); });
}

Gate::~Gate() {
  stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void Gate::admit(int fd) {
  set_nonblocking(fd);
  std::lock_guard lock(mutex_);
  if (stopping_) {
    ::close(fd);
    return;
  }
  // Make room first: the oldest waiting connection has had the longest to
  // send its head.
  while (!order_.empty() && order_.size() >= options_.max_pending)
    drop_pending(order_.begin()->second,
                 canned_response(503, "Service Unavailable", "too many connections still sending their request"));
  if (watch(fd, false)) read_pending(fd);  // a fast client's head is often there already
}

bool Gate::watch(int fd, bool kept) {
  Pending& p = pending_[fd];
  p.start = Clock::now();
  p.seq = next_seq_++;
  p.kept = kept;
  (kept ? kept_order_ : order_)[p.seq] = fd;
  set_deadline(fd, p, p.start + (kept ? options_.keep_alive : options_.head_timeout));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    drop_pending(fd, {});
    return false;
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);  // the nearest deadline may have changed
  return true;
}

void Gate::set_deadline(int fd, Pending& p, Clock::time_point deadline) {
  deadlines_.erase({p.deadline, fd});
  p.deadline = deadline;
  deadlines_.insert({deadline, fd});
}

void Gate::drop_pending(int fd, std::string_view response) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  if (!it->second.lingering) (it->second.kept ? kept_order_ : order_).erase(it->second.seq);
  deadlines_.erase({it->second.deadline, fd});
  const bool lingering = it->second.lingering;
  if (lingering) --lingering_;
  pending_.erase(it);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (lingering || response.empty()) {
    ::close(fd);
    return;
  }
  send_now(fd, response);
  linger(fd);  // the client may still be sending what was refused
}

void Gate::linger(int fd) {
  // At most max_pending of them: past it (a flood of refused or closing
  // connections) a connection is closed at once, as before lingering.
  if (lingering_ >= options_.max_pending || ::shutdown(fd, SHUT_WR) != 0) {
    ::close(fd);
    return;
  }
  ++lingering_;
  Pending& p = pending_[fd];
  p.lingering = true;
  p.start = Clock::now();
  set_deadline(fd, p, p.start + options_.linger);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    drop_pending(fd, {});
    return;
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);  // the nearest deadline may have changed
  read_pending(fd);
}

// Reads what a waiting connection sent: a lingering one's input thrown away,
// a head grown until whole (then queued for a worker), or the connection
// dropped at its end or past its limits; the cases share the buffer and the
// entry in `pending_`.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void Gate::read_pending(int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  char buf[16 << 10];
  if (p.lingering) {
    if (p.head_bytes > options_.linger_bytes) {
      drop_pending(fd, {});  // no longer read: woken only by the client's end or an error
      return;
    }
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0 && (p.head_bytes += static_cast<std::size_t>(n)) <= options_.linger_bytes) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n > 0) {
        // More than we throw away. Closing now, with input unread, would
        // send a reset that can reach the client before it has read the
        // refusal; stop reading instead (TCP flow control stalls the
        // client's writes) and close at the linger deadline, or when the
        // client closes its end.
        epoll_event ev{};
        ev.events = EPOLLRDHUP;
        ev.data.fd = fd;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0) return;
      }
      drop_pending(fd, {});  // its end, or an error
      return;
    }
  }
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      if (p.kept && p.bytes.empty()) {
        // A kept connection's next request began: its head has head_timeout.
        p.start = Clock::now();
        set_deadline(fd, p, p.start + options_.head_timeout);
      }
      const std::string_view piece(buf, static_cast<std::size_t>(n));
      p.head_bytes += p.scanner.feed(piece);
      p.bytes.append(piece);
      if (p.head_bytes > options_.max_head_bytes) {
        drop_pending(fd, canned_response(431, "Request Header Fields Too Large",
                                         "the request line and headers exceed " +
                                             std::to_string(options_.max_head_bytes) + " bytes"));
        return;
      }
      if (p.scanner.done()) {
        std::string bytes = std::move(p.bytes);
        const auto start = p.start;
        (p.kept ? kept_order_ : order_).erase(p.seq);
        deadlines_.erase({p.deadline, fd});
        pending_.erase(it);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        dispatch(fd, std::move(bytes), start);
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    drop_pending(fd, {});  // closed before a whole head, or failed
    return;
  }
}

std::string Gate::busy_response() const {
  return canned_response(503, "Service Unavailable",
                         "server busy: all " + std::to_string(options_.workers) + " request slots are in use; retry");
}

void Gate::dispatch(int fd, std::string bytes, Clock::time_point start) {
  // Heads beyond the idle workers wait, up to max_queued of them.
  if (jobs_.size() >= idle_ + options_.max_queued) {
    send_now(fd, busy_response());
    linger(fd);
    return;
  }
  active_.insert(fd);
  jobs_.push_back({fd, std::move(bytes), start, Clock::now()});
  work_cv_.notify_one();
  if (jobs_.size() > idle_) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);  // its deadline in the queue
  }
}

// The gate's epoll loop: readable connections, wake-ups and the deadlines
// (head timeout, idle keep-alive, queued too long, linger); one loop whose
// branches are the events it meets.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void Gate::run() {
  std::vector<epoll_event> events(64);
  for (;;) {
    int timeout = -1;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      // Past their deadline: a head that did not come whole in time (408),
      // a kept connection idle too long (closed as keep-alive allows).
      const auto now = Clock::now();
      // Heads that waited too long for a worker.
      while (jobs_.size() > idle_ && jobs_.front().queued + options_.queue_timeout <= now) {
        const int fd = jobs_.front().fd;
        jobs_.pop_front();
        active_.erase(fd);
        send_now(fd, busy_response());
        linger(fd);
      }
      if (jobs_.size() > idle_) timeout = poll_ms(jobs_.front().queued + options_.queue_timeout - now);
      while (!deadlines_.empty()) {
        const auto [deadline, fd] = *deadlines_.begin();
        if (deadline > now) {
          const int ms = poll_ms(deadline - now);
          timeout = timeout < 0 ? ms : std::min(timeout, ms);
          break;
        }
        const Pending& p = pending_.at(fd);
        if (p.lingering || (p.kept && p.bytes.empty()))
          drop_pending(fd, {});
        else
          drop_pending(fd, canned_response(408, "Request Timeout",
                                           "the request head did not arrive within " +
                                               std::to_string(options_.head_timeout.count()) + " ms"));
      }
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0 && errno != EINTR) return;
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == wake_fd_) {
        std::uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof v);
        continue;
      }
      read_pending(fd);
    }
  }
}

void Gate::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, nothing left
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    --idle_;
    lock.unlock();
    bool keep = false;
    try {
      keep = serve_(job.fd, std::move(job.bytes), job.start);
    } catch (...) {
      // A handler's failure ends its connection, not the server.
    }
    lock.lock();
    active_.erase(job.fd);
    ++idle_;
    if (stopping_) {
      ::close(job.fd);
      continue;
    }
    if (!keep) {
      linger(job.fd);
      continue;
    }
    while (!kept_order_.empty() && kept_order_.size() >= options_.max_kept)
      drop_pending(kept_order_.begin()->second, {});
    if (watch(job.fd, true)) read_pending(job.fd);  // its next request may have come already
  }
}

void Gate::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    while (!pending_.empty()) drop_pending(pending_.begin()->first, {});
    // Under the mutex no served descriptor can be closed and reused meanwhile.
    for (const int fd : active_) ::shutdown(fd, SHUT_RDWR);
    for (auto& job : jobs_) {
      active_.erase(job.fd);
      ::close(job.fd);
    }
    jobs_.clear();
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

std::size_t Gate::pending() const {
  std::lock_guard lock(mutex_);
  return order_.size();
}

std::size_t Gate::kept() const {
  std::lock_guard lock(mutex_);
  return kept_order_.size();
}

std::size_t Gate::busy() const {
  std::lock_guard lock(mutex_);
  return options_.workers - idle_;
}

}  // namespace icotes::http
