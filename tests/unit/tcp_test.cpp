#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>

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

}  // namespace
}  // namespace icotes
