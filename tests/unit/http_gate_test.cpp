// The HTTP door's connection layer (src/transport/http/gate.hpp): heads
// found, deadlines that hold however slowly bytes trickle, byte limits, and
// a gate that spends no thread on a connection still sending its head.
#include "transport/http/gate.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace icotes::http {
namespace {

using namespace std::chrono_literals;

TEST(HttpHeadScanner, FindsTheEmptyLineAfterTheRequestLine) {
  HeadScanner s;
  const std::string head = "POST /mcp HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(s.feed(head + "{}"), head.size());
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.feed("more"), 0u);
}

TEST(HttpHeadScanner, AcrossFeedsAnyWayTheBytesAreSplit) {
  const std::string head = "GET /mcp HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n";
  for (std::size_t cut = 0; cut <= head.size(); ++cut) {
    HeadScanner s;
    const std::size_t first = s.feed(std::string_view(head).substr(0, cut));
    const std::size_t second = s.feed(std::string_view(head).substr(cut));
    EXPECT_TRUE(s.done()) << cut;
    EXPECT_EQ(first + second, head.size()) << cut;
  }
  HeadScanner bytewise;
  std::size_t n = 0;
  for (const char c : head + "body") n += bytewise.feed(std::string_view(&c, 1));
  EXPECT_EQ(n, head.size());
}

TEST(HttpHeadScanner, OnlyAnEmptyCrlfLineEndsIt) {
  HeadScanner s;
  EXPECT_EQ(s.feed("\r\n"), 2u);  // the request line, however empty
  EXPECT_FALSE(s.done());
  s.feed("X: y\n\n");  // bare LF lines: cpp-httplib skips them
  EXPECT_FALSE(s.done());
  s.feed("Z: \r\r\n");
  EXPECT_FALSE(s.done());
  s.feed("\r\n");
  EXPECT_TRUE(s.done());
}

// A connected pair: [0] the server's end, [1] the client's.
struct Pair {
  int fd[2] = {-1, -1};
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0); }
  ~Pair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void send(std::string_view s) const {
    ASSERT_EQ(::send(fd[1], s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
};

ConnLimits small_limits() {
  ConnLimits l;
  l.max_head_bytes = 256;
  l.max_body_raw_bytes = 1000;
  l.head_timeout = 300ms;
  l.request_timeout = 600ms;
  l.io_timeout = 200ms;
  return l;
}

// Reads until the Conn stops; what it read.
std::string drain(Conn& c) {
  std::string out;
  char buf[64];
  for (ssize_t n; (n = c.read(buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

TEST(HttpConn, TheHeadDeadlineHoldsHoweverSteadilyBytesTrickle) {
  Pair p;
  Conn c(p.fd[0], "", small_limits());
  const auto start = Clock::now();
  c.begin_request(start);
  std::atomic<bool> done{false};
  // One byte every 50 ms: each well within the 200 ms per-read timeout.
  std::thread slow([&] {
    const std::string head = "POST /mcp HTTP/1.1\r\nX: " + std::string(100, 'a');
    for (std::size_t i = 0; i < head.size() && !done; ++i) {
      if (::send(p.fd[1], &head[i], 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(50ms);
    }
  });
  drain(c);
  done = true;
  slow.join();
  EXPECT_EQ(c.stop(), Conn::Stop::HeadTimeout);
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2000ms);
}

TEST(HttpConn, TheRequestDeadlineCoversTheBody) {
  Pair p;
  Conn c(p.fd[0], "", small_limits());
  const auto start = Clock::now();
  c.begin_request(start);
  p.send("POST /mcp HTTP/1.1\r\nContent-Length: 900\r\n\r\n");
  std::atomic<bool> done{false};
  std::thread slow([&] {
    for (int i = 0; i < 100 && !done; ++i) {
      if (::send(p.fd[1], "x", 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(50ms);
    }
  });
  drain(c);
  done = true;
  slow.join();
  EXPECT_EQ(c.stop(), Conn::Stop::RequestTimeout);
  EXPECT_LT(Clock::now() - start, 3000ms);
}

TEST(HttpConn, SilenceEndsItAfterTheIoTimeout) {
  Pair p;
  Conn c(p.fd[0], "", small_limits());
  c.begin_request(Clock::now() + 10s);  // deadlines far away
  p.send("POST");
  drain(c);
  EXPECT_EQ(c.stop(), Conn::Stop::Idle);
}

TEST(HttpConn, HeadAndBodyBytesAreLimited) {
  {
    Pair p;
    Conn c(p.fd[0], "", small_limits());
    c.begin_request(Clock::now());
    p.send("GET / HTTP/1.1\r\n" + std::string(300, 'h'));
    const std::string got = drain(c);
    EXPECT_EQ(c.stop(), Conn::Stop::HeadTooLarge);
    EXPECT_LE(got.size(), 256u);
  }
  {
    Pair p;
    const std::string head = "POST / HTTP/1.1\r\n\r\n";
    Conn c(p.fd[0], head, small_limits());  // the head as the gate read it
    c.begin_request(Clock::now());
    std::thread sender([&] {
      const std::string body(4000, 'b');
      (void)::send(p.fd[1], body.data(), body.size(), MSG_NOSIGNAL);
    });
    const std::string got = drain(c);
    sender.join();
    EXPECT_EQ(c.stop(), Conn::Stop::BodyTooLarge);
    EXPECT_LE(got.size(), head.size() + 1000);
  }
}

TEST(HttpConn, KeptAliveRequestsEachGetTheirOwnDeadlines) {
  Pair p;
  Conn c(p.fd[0], "", small_limits());
  for (int i = 0; i < 3; ++i) {
    p.send("GET / HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(c.wait_readable(1s));
    c.begin_request(Clock::now());
    std::string head;
    char b;
    while (c.in_head() && c.read(&b, 1) == 1) head.push_back(b);
    EXPECT_EQ(head, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(c.stop(), Conn::Stop::None);
    std::this_thread::sleep_for(150ms);  // 450 ms in all: past one request's head deadline
  }
  ::close(p.fd[1]);
  p.fd[1] = -1;
  char b;
  EXPECT_EQ(c.read(&b, 1), 0);
  EXPECT_EQ(c.stop(), Conn::Stop::Closed);
}

// The first response the client end receives within `wait`: its head and
// Content-Length bytes of body ("" if none; what came if the peer closed).
std::string response(int fd, std::chrono::milliseconds wait) {
  std::string out;
  const auto until = Clock::now() + wait;
  while (Clock::now() < until) {
    if (const std::size_t end = out.find("\r\n\r\n"); end != std::string::npos) {
      std::size_t length = 0;
      if (const std::size_t cl = out.find("Content-Length: "); cl != std::string::npos && cl < end)
        length = std::stoul(out.substr(cl + 16));
      if (out.size() >= end + 4 + length) break;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(
        &p, 1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count()));
    if (r <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// True when the peer closed `fd` within `wait`.
bool closed_within(int fd, std::chrono::milliseconds wait) {
  const auto until = Clock::now() + wait;
  while (Clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1,
               static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count())) <=
        0)
      return false;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
  }
  return false;
}

// A client socket whose server end the gate gets.
int admitted(Gate& gate) {
  int fd[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0);
  gate.admit(fd[0]);
  return fd[1];
}

struct Served {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> heads;
  bool release = false;
  // Waits for `n` served connections.
  bool wait_for(std::size_t n, std::chrono::milliseconds wait) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, wait, [&] { return heads.size() >= n; });
  }
};

GateOptions small_gate() {
  GateOptions o;
  o.workers = 2;
  o.max_pending = 4;
  o.max_head_bytes = 128;
  o.head_timeout = 300ms;
  o.max_queued = 1;
  o.queue_timeout = 200ms;
  return o;
}

TEST(HttpGate, ConnectionsSendingTheirHeadHoldNoThread) {
  Served served;
  Gate gate(GateOptions{2, 64, 1024, 2000ms}, [&](int fd, std::string bytes, Clock::time_point) {
    const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    (void)::send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL);
    std::lock_guard lock(served.m);
    served.heads.push_back(std::move(bytes));
    served.cv.notify_all();
    return false;
  });
  std::vector<int> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(admitted(gate));
    (void)::send(slow.back(), "POST /mcp HTTP/1.1\r\nX: 1\r\n", 27, MSG_NOSIGNAL);
  }
  EXPECT_EQ(gate.busy(), 0u);  // two workers, forty slow clients: none of them has one
  const int real = admitted(gate);
  const std::string req = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}";
  (void)::send(real, req.data(), req.size(), MSG_NOSIGNAL);
  EXPECT_NE(response(real, 3000ms).find("200 OK"), std::string::npos);
  ASSERT_TRUE(served.wait_for(1, 3000ms));
  EXPECT_EQ(served.heads[0], req);  // the head, and the body bytes that came with it
  EXPECT_EQ(gate.pending(), 40u);
  gate.stop();
  for (int fd : slow) ::close(fd);
  ::close(real);
}

TEST(HttpGate, AHeadNotCompleteByTheDeadlineIsRefusedWith408) {
  Gate gate(small_gate(), [](int, std::string, Clock::time_point) {
    ADD_FAILURE() << "served";
    return false;
  });
  const int c = admitted(gate);
  const auto start = Clock::now();
  std::string got;
  // A header line every 50 ms, until the gate answers.
  for (int i = 0; i < 40 && got.empty(); ++i) {
    (void)::send(c, "X: 1\r\n", 6, MSG_NOSIGNAL);
    got = response(c, 50ms);
  }
  EXPECT_NE(got.find("408 Request Timeout"), std::string::npos) << got;
  EXPECT_LT(Clock::now() - start, 2000ms);
  EXPECT_TRUE(closed_within(c, 500ms));
  ::close(c);
}

TEST(HttpGate, ABigHeadIsRefusedWith431) {
  Gate gate(small_gate(), [](int, std::string, Clock::time_point) {
    ADD_FAILURE() << "served";
    return false;
  });
  const int c = admitted(gate);
  const std::string head = "GET /mcp HTTP/1.1\r\nX: " + std::string(200, 'a') + "\r\n\r\n";
  (void)::send(c, head.data(), head.size(), MSG_NOSIGNAL);
  EXPECT_NE(response(c, 3000ms).find("431"), std::string::npos);
  ::close(c);
}

TEST(HttpGate, PastMaxPendingTheOldestWaitingConnectionIsClosed) {
  Gate gate(small_gate(), [](int, std::string, Clock::time_point) { return false; });
  std::vector<int> c;
  for (int i = 0; i < 6; ++i) c.push_back(admitted(gate));
  EXPECT_EQ(gate.pending(), 4u);
  EXPECT_TRUE(closed_within(c[0], 500ms));
  EXPECT_TRUE(closed_within(c[1], 500ms));
  EXPECT_FALSE(closed_within(c[5], 50ms));
  for (int fd : c) ::close(fd);
}

TEST(HttpGate, WhenEveryWorkerIsBusyAFewRequestsWaitBrieflyAndTheRestAreRefused) {
  Served served;
  Gate gate(small_gate(), [&](int, std::string bytes, Clock::time_point) {
    std::unique_lock lock(served.m);
    served.heads.push_back(std::move(bytes));
    served.cv.notify_all();
    served.cv.wait(lock, [&] { return served.release; });
    return false;
  });
  const std::string req = "GET /mcp HTTP/1.1\r\n\r\n";
  std::vector<int> c;
  for (int i = 0; i < 2; ++i) {
    c.push_back(admitted(gate));
    (void)::send(c.back(), req.data(), req.size(), MSG_NOSIGNAL);
  }
  ASSERT_TRUE(served.wait_for(2, 3000ms));
  EXPECT_EQ(gate.busy(), 2u);
  // The third waits in the queue (max_queued 1); the fourth finds it full.
  const auto start = Clock::now();
  for (int i = 0; i < 2; ++i) {
    c.push_back(admitted(gate));
    (void)::send(c.back(), req.data(), req.size(), MSG_NOSIGNAL);
  }
  const std::string full = response(c[3], 3000ms);
  EXPECT_NE(full.find("503 Service Unavailable"), std::string::npos) << full;
  EXPECT_NE(full.find("Retry-After"), std::string::npos);
  EXPECT_LT(Clock::now() - start, 150ms);
  // The queued one gets 503 once it has waited queue_timeout.
  const std::string waited = response(c[2], 3000ms);
  EXPECT_NE(waited.find("503 Service Unavailable"), std::string::npos) << waited;
  EXPECT_GE(Clock::now() - start, 190ms);
  // Queued, and served when a worker frees up in time.
  c.push_back(admitted(gate));
  (void)::send(c.back(), req.data(), req.size(), MSG_NOSIGNAL);
  {
    std::lock_guard lock(served.m);
    served.release = true;
  }
  served.cv.notify_all();
  EXPECT_TRUE(served.wait_for(3, 3000ms));
  EXPECT_EQ(served.heads.back(), req);
  gate.stop();
  for (int fd : c) ::close(fd);
}

TEST(HttpGate, StopEndsConnectionsBeingServed) {
  std::atomic<bool> returned{false};
  std::mutex m;
  std::condition_variable cv;
  bool started = false;
  Gate gate(small_gate(), [&](int fd, std::string bytes, Clock::time_point) {
    Conn conn(fd, std::move(bytes), ConnLimits{});
    conn.begin_request(Clock::now());
    {
      std::lock_guard lock(m);
      started = true;
    }
    cv.notify_all();
    drain(conn);  // blocks: the client sends nothing more
    returned = true;
    return true;  // to be kept: stopping closes it all the same
  });
  const int c = admitted(gate);
  const std::string req = "GET /mcp HTTP/1.1\r\n\r\n";
  (void)::send(c, req.data(), req.size(), MSG_NOSIGNAL);
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 3000ms, [&] { return started; }));
  }
  const auto start = Clock::now();
  gate.stop();
  EXPECT_TRUE(returned);
  EXPECT_LT(Clock::now() - start, 3000ms);
  ::close(c);
}

TEST(HttpGate, AKeptAliveConnectionWaitsForItsNextRequestWithoutAThread) {
  Served served;
  GateOptions o = small_gate();
  o.workers = 1;
  o.keep_alive = 300ms;
  Gate gate(o, [&](int fd, std::string bytes, Clock::time_point) {
    const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    (void)::send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL);
    std::lock_guard lock(served.m);
    served.heads.push_back(std::move(bytes));
    served.cv.notify_all();
    return true;
  });
  const std::string req = "GET /mcp HTTP/1.1\r\n\r\n";
  const int a = admitted(gate);
  (void)::send(a, req.data(), req.size(), MSG_NOSIGNAL);
  EXPECT_NE(response(a, 3000ms).find("200 OK"), std::string::npos);
  ASSERT_TRUE(served.wait_for(1, 3000ms));
  // `a` idles in the gate: the only worker serves another client...
  const int b = admitted(gate);
  (void)::send(b, req.data(), req.size(), MSG_NOSIGNAL);
  EXPECT_NE(response(b, 3000ms).find("200 OK"), std::string::npos);
  ASSERT_TRUE(served.wait_for(2, 3000ms));
  // ... and `a`'s next request is served too.
  (void)::send(a, req.data(), req.size(), MSG_NOSIGNAL);
  EXPECT_NE(response(a, 3000ms).find("200 OK"), std::string::npos);
  ASSERT_TRUE(served.wait_for(3, 3000ms));
  // Idle past keep_alive: closed without a word.
  const auto start = Clock::now();
  EXPECT_TRUE(closed_within(a, 3000ms));
  EXPECT_GE(Clock::now() - start, 250ms);
  ::close(a);
  ::close(b);
}

// A connected TCP pair on loopback: {client, server}.
std::pair<int, int> tcp_pair() {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  ::listen(listener, 1);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(listener);
  return {client, server};
}

TEST(HttpGate, ARefusalReachesAClientStillSendingItsBody) {
  // The worker answers after the head and leaves the body unread, as a 413
  // does. Closing a TCP socket with unread input sends a reset: the client's
  // next write fails (EPIPE / ECONNRESET) and a client that writes before it
  // reads (Node's http, most HTTP libraries sending a body) drops the
  // connection with the 413 unread. The gate shuts the connection down for
  // writing and reads it to its end (a lingering close) instead.
  std::atomic<int> served{0};
  Gate gate(small_gate(), [&](int fd, std::string, Clock::time_point) {
    const char refused[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)::send(fd, refused, sizeof refused - 1, MSG_NOSIGNAL);
    ++served;
    return false;
  });
  for (int round = 0; round < 3; ++round) {
    auto [client, server] = tcp_pair();
    gate.admit(server);
    const std::string request = "POST /mcp HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n" + std::string(64 << 10, 'x');
    (void)::send(client, request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    for (int i = 0; i < 3000 && served.load() <= round; ++i) std::this_thread::sleep_for(1ms);
    ASSERT_GT(served.load(), round);
    // Time for the connection's end after the answer: a close, or a lingering one.
    std::this_thread::sleep_for(100ms);
    const std::string more(16 << 10, 'y');
    EXPECT_EQ(::send(client, more.data(), more.size(), MSG_NOSIGNAL | MSG_DONTWAIT), static_cast<ssize_t>(more.size()))
        << "round " << round << ": " << std::strerror(errno);
    EXPECT_NE(response(client, 3000ms).find("413"), std::string::npos) << "round " << round;
    ::close(client);
  }
}

TEST(HttpGate, PastTheLingerBytesAClientStillSendingIsStalledNotReset) {
  // A client that sends far more than the gate throws away still reads the
  // refusal: past linger_bytes the gate stops reading (TCP flow control
  // stalls the client) rather than closing with input unread, which would
  // send a reset (the client's writes fail with ECONNRESET and a client
  // that writes before it reads never sees the 413). It closes at the
  // linger deadline.
  GateOptions o = small_gate();
  o.linger_bytes = 32 << 10;
  o.linger = 800ms;
  std::atomic<int> served{0};
  Gate gate(o, [&](int fd, std::string, Clock::time_point) {
    const char refused[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)::send(fd, refused, sizeof refused - 1, MSG_NOSIGNAL);
    ++served;
    return false;
  });
  auto [client, server] = tcp_pair();
  gate.admit(server);
  const std::string head = "POST /mcp HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n";
  ASSERT_EQ(::send(client, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  for (int i = 0; i < 3000 && served.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(served.load(), 1);
  // Write without reading until the socket is full (or 64 MiB, more than
  // any socket buffer holds): no write may fail.
  const std::string chunk(64 << 10, 'x');
  std::size_t sent = 0;
  const auto until = Clock::now() + 5s;
  while (sent < (64u << 20) && Clock::now() < until) {
    const ssize_t n = ::send(client, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        << "after " << sent << " bytes: " << std::strerror(errno);
    // Full for now; the gate may still be draining its first linger_bytes.
    pollfd p{client, POLLOUT, 0};
    if (::poll(&p, 1, 200) == 0) break;  // stalled: the gate no longer reads
  }
  EXPECT_GT(sent, o.linger_bytes);
  EXPECT_LT(sent, 64u << 20) << "the gate read everything: it should stop past linger_bytes";
  EXPECT_NE(response(client, 3000ms).find("413"), std::string::npos);
  // The refusal came with the gate's end of writing (EOF); the gate's close
  // at the deadline, with the stalled input unread, resets the connection.
  pollfd p{client, POLLOUT, 0};
  ASSERT_EQ(::poll(&p, 1, 3000), 1) << "the linger deadline closes it";
  EXPECT_NE(p.revents & (POLLERR | POLLHUP), 0) << p.revents;
  ::close(client);
}

TEST(HttpGate, PastMaxKeptTheLongestIdleConnectionIsClosed) {
  GateOptions o = small_gate();
  o.max_kept = 2;
  o.keep_alive = 10s;
  std::atomic<int> n{0};
  Gate gate(o, [&](int fd, std::string, Clock::time_point) {
    const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    (void)::send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL);
    ++n;
    return true;
  });
  const std::string req = "GET /mcp HTTP/1.1\r\n\r\n";
  std::vector<int> c;
  for (int i = 0; i < 3; ++i) {
    c.push_back(admitted(gate));
    (void)::send(c.back(), req.data(), req.size(), MSG_NOSIGNAL);
    ASSERT_NE(response(c.back(), 3000ms).find("200 OK"), std::string::npos);
    // Kept once the worker returns it: wait for the count to settle.
    for (int k = 0; k < 300 && gate.kept() + (i >= 2 ? 1u : 0u) < static_cast<std::size_t>(i + 1); ++k)
      std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(closed_within(c[0], 3000ms));
  EXPECT_FALSE(closed_within(c[2], 100ms));
  EXPECT_EQ(gate.kept(), 2u);
  for (int fd : c) ::close(fd);
}

}  // namespace
}  // namespace icotes::http
