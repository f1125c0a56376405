#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include "icotes/tcp.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

TEST(TcpListen, ParsesLoopbackAddresses) {
  auto a = parse_tcp_listen("tcp:127.0.0.1:0", false);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  auto b = parse_tcp_listen("tcp:[::1]:8123", false);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 8123);
  EXPECT_TRUE(parse_tcp_listen("tcp:localhost:65535", false).ok());
  auto h = parse_tcp_listen("http:127.0.0.1:8080", false);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->scheme, "http");
  EXPECT_EQ(h->port, 8080);
  EXPECT_EQ(a->scheme, "tcp");
  EXPECT_FALSE(parse_tcp_listen("http:0.0.0.0:8080", false).ok());
  EXPECT_FALSE(parse_tcp_listen("https:127.0.0.1:8080", false).ok());
  EXPECT_TRUE(parse_tcp_listen("tcp:127.1.2.3:1", false).ok());
}

TEST(TcpListen, RefusesBadSpecsAndRemoteHostsByDefault) {
  for (const char* bad : {"127.0.0.1:80", "tcp:127.0.0.1", "tcp::80", "tcp:127.0.0.1:", "tcp:127.0.0.1:-1",
                          "tcp:127.0.0.1:65536", "tcp:127.0.0.1:http", "unix:/tmp/x", "tcp:127.0.0.1:123456"}) {
    auto r = parse_tcp_listen(bad, true);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, error_code::kInvalidParams) << bad;
    EXPECT_NE(r.error().message.find("tcp:127.0.0.1:PORT"), std::string::npos) << r.error().message;
  }
  for (const char* remote : {"tcp:0.0.0.0:80", "tcp:192.168.1.5:80", "tcp:[::]:80", "tcp:example.com:80"}) {
    auto r = parse_tcp_listen(remote, false);
    ASSERT_FALSE(r.ok()) << remote;
    EXPECT_NE(r.error().message.find("--allow-remote"), std::string::npos) << r.error().message;
    EXPECT_TRUE(parse_tcp_listen(remote, true).ok()) << remote;
  }
  EXPECT_FALSE(is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(is_loopback_host("localhost.evil.com"));
}

TEST(TcpToken, RandomHexAndComparedWhole) {
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    const std::string t = random_token();
    ASSERT_EQ(t.size(), 64u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 16u);
  const std::string t = random_token();
  EXPECT_TRUE(token_equal(t, t));
  std::string last = t;
  last.back() = last.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(token_equal(t, last));
  EXPECT_FALSE(token_equal(t, t.substr(0, 63)));
  EXPECT_FALSE(token_equal(t, ""));
  EXPECT_FALSE(token_equal(t, t + "0"));
}

TEST(TcpRuntimeDir, PrivateDirectoryUnderXdgRuntimeDir) {
  test::TempDir dir;
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved = old ? old : "";
  ::setenv("XDG_RUNTIME_DIR", dir.path().c_str(), 1);
  auto r = runtime_dir();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, dir.path() + "/icotes");
  struct stat st {};
  ASSERT_EQ(::stat(r->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Opened to others: refused, not repaired.
  ::chmod(r->c_str(), 0755);
  auto open = runtime_dir();
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().message.find("0700"), std::string::npos);
  // A symlink in its place: refused.
  ::rmdir(r->c_str());
  test::TempDir elsewhere;
  ::chmod(elsewhere.path().c_str(), 0700);
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), r->c_str()), 0);
  EXPECT_FALSE(runtime_dir().ok());
  if (old)
    ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
  else
    ::unsetenv("XDG_RUNTIME_DIR");
}

// ---- SocketTransport: replies never block the thread that wrote them ----

struct SocketPair {
  int server = -1, peer = -1;
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server = fds[0];
    peer = fds[1];
    // Small buffers: a few hundred KiB fill them.
    const int size = 64 * 1024;
    ::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  ~SocketPair() {
    ::close(server);
    ::close(peer);
  }
  // Reads until `n` bytes or EOF.
  std::string read_peer(std::size_t n) const {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
      const ssize_t r = ::read(peer, buf, std::min(sizeof buf, n - out.size()));
      if (r <= 0) break;
      out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
  }
};

std::string pattern(std::size_t n, char seed) {
  std::string s(n, ' ');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + static_cast<unsigned char>(seed)) % 26);
  return s;
}

TEST(SocketTransport, APeerThatDoesNotReadNeverBlocksTheWriter) {
  SocketPair sp;
  SocketTransport t(sp.server, OutboundLimits{}, "test");
  const std::string a = pattern(3 << 20, 'a'), b = pattern(1 << 20, 'b'), c = pattern(100, 'c');
  // 4 MiB into a socket that holds far less, nobody reading: returns at once.
  const auto start = std::chrono::steady_clock::now();
  const std::string_view pieces[] = {a, b};
  EXPECT_TRUE(t.write_pieces(pieces));
  EXPECT_TRUE(t.write(c));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_GT(t.queued_bytes(), 0u);
  // The peer reads: everything arrives, in order, and the queue empties.
  EXPECT_EQ(sp.read_peer(a.size() + b.size() + c.size()), a + b + c);
  EXPECT_TRUE(t.drain(std::chrono::seconds(10)));
  EXPECT_EQ(t.queued_bytes(), 0u);
  EXPECT_FALSE(t.broken());
}

TEST(SocketTransport, ProducedFramesKeepTheirOrderWhenTheSocketFills) {
  SocketPair sp;
  SocketTransport t(sp.server, OutboundLimits{}, "test");
  std::string expected;
  for (int frame = 0; frame < 3; ++frame) {
    std::vector<std::string> parts;
    for (int i = 0; i < 300; ++i)
      parts.push_back(pattern(static_cast<std::size_t>(1 + (i * 977) % 9000), static_cast<char>(i)));
    parts.push_back(pattern(200000, 'z'));  // a piece above the 64 KiB staging size
    for (const auto& p : parts) expected += p;
    EXPECT_TRUE(t.write_produced([&](const Transport::Emit& emit) {
      for (const auto& p : parts)
        if (!emit(p)) return;
    }));
    const std::string tail = "end" + std::to_string(frame);
    expected += tail;
    EXPECT_TRUE(t.write(tail));
  }
  EXPECT_EQ(sp.read_peer(expected.size()), expected);
  EXPECT_TRUE(t.drain(std::chrono::seconds(10)));
}

TEST(SocketTransport, TooMuchWaitingClosesTheConnection) {
  SocketPair sp;
  OutboundLimits limits;
  limits.max_queued_bytes = 1 << 20;
  SocketTransport t(sp.server, limits, "test");
  const std::string frame = pattern(256 * 1024, 'f');
  int accepted = 0;
  while (t.write(frame) && accepted < 100) ++accepted;
  // Whole frames are queued until 1 MiB waits; the next one closes.
  EXPECT_GE(accepted, 4);
  EXPECT_LT(accepted, 100);
  EXPECT_TRUE(t.broken());
  EXPECT_EQ(t.queued_bytes(), 0u);
  EXPECT_FALSE(t.write("more"));
  EXPECT_FALSE(t.wait_to_read());
  // Shut down both ways: the peer reads what the kernel held, then EOF.
  (void)sp.read_peer(std::size_t(1) << 30);
}

TEST(SocketTransport, APeerThatTakesNothingForTheStallTimeoutIsClosed) {
  SocketPair sp;
  OutboundLimits limits;
  limits.stall_timeout = std::chrono::milliseconds(300);
  SocketTransport t(sp.server, limits, "test");
  ASSERT_TRUE(t.write(pattern(2 << 20, 's')));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.drain(std::chrono::seconds(20)));  // returns once closed, not drained
  EXPECT_TRUE(t.broken());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  EXPECT_FALSE(t.write("x"));
}

TEST(SocketTransport, ReadingPausesWhileRepliesPileUp) {
  SocketPair sp;
  OutboundLimits limits;
  limits.pause_reading_bytes = 512 * 1024;
  SocketTransport t(sp.server, limits, "test");
  const std::string big = pattern(2 << 20, 'p');
  ASSERT_TRUE(t.write(big));
  std::atomic<bool> resumed{false};
  std::thread reader([&] {
    EXPECT_TRUE(t.wait_to_read());
    resumed = true;
  });
  // The reader waits while more than 512 KiB wait; reading them lets it go.
  EXPECT_FALSE(resumed.load());
  EXPECT_EQ(sp.read_peer(big.size()), big);
  reader.join();
  EXPECT_TRUE(resumed.load());
}

TEST(SocketTransport, DestroyedWhileThePeerDoesNotReadReturnsAtOnce) {
  SocketPair sp;
  const auto start = std::chrono::steady_clock::now();
  {
    SocketTransport t(sp.server, OutboundLimits{}, "test");  // stall timeout 30 s
    ASSERT_TRUE(t.write(pattern(2 << 20, 'd')));
    EXPECT_GT(t.queued_bytes(), 0u);
  }  // the writer thread, waiting for room, is woken and joined
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace icotes
