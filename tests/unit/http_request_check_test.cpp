// The HTTP door's checks of a request's head (src/transport/http/request_check.hpp):
// what integration/http-limits.test.mjs sees over a socket, called directly.
#include "transport/http/request_check.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>

namespace icotes::http {
namespace {

// Header names compare in any letter case, as cpp-httplib's do.
struct Caseless {
  bool operator()(const std::string& a, const std::string& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
    });
  }
};

class Head {
 public:
  explicit Head(std::string method = "POST", std::string path = "/mcp") : method_(method), path_(path) {
    set("Host", "127.0.0.1:8123");
    set("Authorization", "Bearer secret");
    if (method_ == "POST") set("Content-Length", "2");
  }
  Head& set(const std::string& name, const std::string& value) {
    headers_.erase(name);
    headers_.emplace(name, value);
    return *this;
  }
  Head& add(const std::string& name, const std::string& value) {
    headers_.emplace(name, value);
    return *this;
  }
  Head& remove(const std::string& name) {
    headers_.erase(name);
    return *this;
  }
  std::optional<Refusal> check(const Options& options) const {
    HeadView view;
    view.method = method_;
    view.path = path_;
    view.count = [this](const char* name) { return headers_.count(name); };
    view.value = [this](const char* name) {
      const auto it = headers_.find(name);
      return it == headers_.end() ? std::string() : it->second;
    };
    return check_head(view, options);
  }
  int status(const Options& options) const {
    const auto r = check(options);
    return r ? r->status : 0;
  }

 private:
  std::string method_, path_;
  std::multimap<std::string, std::string, Caseless> headers_;
};

Options options() {
  Options o;
  o.token = "secret";
  o.max_body_bytes = 1000;
  o.protocol_versions = {"2025-06-18", "2025-11-25"};
  return o;
}

TEST(HttpRequestCheck, AcceptsALoopbackRequestWithTheToken) {
  EXPECT_EQ(Head().check(options()), std::nullopt);
  EXPECT_EQ(Head("GET").check(options()), std::nullopt);
  EXPECT_EQ(Head("DELETE").check(options()), std::nullopt);
  // A client without a browser sends no Origin; one without Host is HTTP/1.0.
  EXPECT_EQ(Head().remove("Host").check(options()), std::nullopt);
}

TEST(HttpRequestCheck, HostsThatNameLoopbackAreAccepted) {
  for (const char* h : {"localhost:8123", "LOCALHOST", "localhost", "127.9.9.9", "127.0.0.1", "[::1]", "[::1]:8123"})
    EXPECT_EQ(Head().set("Host", h).status(options()), 0) << h;
}

TEST(HttpRequestCheck, HostsThatOnlyStartLikeLoopbackAreRefused) {
  for (const char* h : {"127.0.0.1.evil.com", "localhost.evil.com", "[::ffff:127.0.0.1]", "user@localhost", "127.1",
                        "evil.example", "127.0.0.1.evil.com:8123", "[::1%lo]"}) {
    const auto r = Head().set("Host", h).check(options());
    ASSERT_TRUE(r) << h;
    EXPECT_EQ(r->status, 403) << h;
    EXPECT_EQ(r->code, -32600);
    EXPECT_NE(r->message.find("is not a loopback name"), std::string::npos) << r->message;
  }
  // cpp-httplib URL-decodes "127.0.0.1%00.evil.com": the NUL is in the value.
  const auto r = Head().set("Host", std::string("127.0.0.1\0.evil.com", 19)).check(options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->message, "forbidden: Host 127.0.0.1 is not a loopback name");
}

TEST(HttpRequestCheck, HostIsNotJudgedWhenListeningBeyondLoopback) {
  Options o = options();
  o.host = "0.0.0.0";  // the user chose to serve other machines
  EXPECT_EQ(Head().set("Host", "build-box.example:8123").status(o), 0);
  // Origin still is: a browser page of another site is refused anywhere.
  EXPECT_EQ(Head().set("Host", "build-box.example").set("Origin", "http://evil.example").status(o), 403);
}

TEST(HttpRequestCheck, OriginsOfThisMachineOnly) {
  for (const char* o : {"http://localhost:3000", "https://127.0.0.1", "http://[::1]:5173", "HTTP://LOCALHOST"})
    EXPECT_EQ(Head().set("Origin", o).status(options()), 0) << o;
  for (const char* o : {"null", "http://evil.example", "http://127.0.0.1.evil.com", "http://localhost.evil.com",
                        "http://[::ffff:127.0.0.1]", "http://user@localhost", "http://127.1", "file://localhost"}) {
    const auto r = Head().set("Origin", o).check(options());
    ASSERT_TRUE(r) << o;
    EXPECT_EQ(r->status, 403) << o;
    EXPECT_NE(r->message.find("DNS rebinding"), std::string::npos) << r->message;
  }
  EXPECT_EQ(Head().set("Origin", std::string("http://127.0.0.1\0.evil.com", 26)).status(options()), 403);
}

TEST(HttpRequestCheck, OriginAndHostComeBeforeTheToken) {
  // Nothing about the token is told to a page of another site.
  EXPECT_EQ(Head().remove("Authorization").set("Origin", "null").status(options()), 403);
  EXPECT_EQ(Head().remove("Authorization").set("Host", "evil.example").status(options()), 403);
}

TEST(HttpRequestCheck, DuplicatedHeadersAreRefused) {
  for (const char* h : {"Host", "Origin", "Authorization", "Content-Length", "Transfer-Encoding"}) {
    Head head;
    head.set(h, h == std::string("Origin") ? "http://localhost" : "x");
    if (h == std::string("Host")) head.set(h, "localhost");
    if (h == std::string("Content-Length")) head.set(h, "2");
    if (h == std::string("Authorization")) head.set(h, "Bearer secret");
    head.add(h, h == std::string("Authorization") ? "Bearer secret" : "localhost");
    const auto r = head.check(options());
    ASSERT_TRUE(r) << h;
    EXPECT_EQ(r->status, 400) << h;
    EXPECT_EQ(r->message, std::string("bad request: more than one ") + h + " header");
  }
}

TEST(HttpRequestCheck, TheToken) {
  for (const char* a : {"", "Bearer", "Bearer ", "Bearer secreT", "Bearer secret2", "bearer secret", "secret"}) {
    const auto r = Head().set("Authorization", a).check(options());
    ASSERT_TRUE(r) << a;
    EXPECT_EQ(r->status, 401) << a;
    EXPECT_EQ(r->header, "WWW-Authenticate");
    EXPECT_EQ(r->header_value, "Bearer");
  }
  EXPECT_EQ(Head().remove("Authorization").status(options()), 401);
}

TEST(HttpRequestCheck, PathAndMethod) {
  EXPECT_EQ(Head("POST", "/").status(options()), 404);
  EXPECT_EQ(Head("POST", "/mcp/").status(options()), 404);
  EXPECT_EQ(Head("POST", "/other").check(options())->code, -32601);
  const auto r = Head("PUT").check(options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header, "Allow");
  EXPECT_EQ(r->header_value, "GET, POST, DELETE");
  EXPECT_EQ(Head().set("Range", "bytes=0-1").status(options()), 416);
}

TEST(HttpRequestCheck, BodyFraming) {
  EXPECT_EQ(Head().set("Transfer-Encoding", "chunked").status(options()), 400);  // and Content-Length
  EXPECT_EQ(Head().remove("Content-Length").set("Transfer-Encoding", "chunked").status(options()), 0);
  EXPECT_EQ(Head().remove("Content-Length").set("Transfer-Encoding", "CHUNKED").status(options()), 0);
  EXPECT_EQ(Head().remove("Content-Length").set("Transfer-Encoding", "gzip, chunked").status(options()), 501);
  EXPECT_EQ(Head().remove("Content-Length").status(options()), 411);
  for (const char* v : {"-1", "1e3", " 2", "0x10", "12345678901234567890"})
    EXPECT_EQ(Head().set("Content-Length", v).status(options()), 400) << v;
  EXPECT_EQ(Head().set("Content-Length", "1000").status(options()), 0);
  const auto r = Head().set("Content-Length", "1001").check(options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->message, too_large_message(1000));
  EXPECT_EQ(Head("GET").set("Content-Length", "1").status(options()), 400);
  EXPECT_EQ(Head("GET").set("Content-Length", "0").status(options()), 0);
  EXPECT_EQ(Head("DELETE").set("Transfer-Encoding", "chunked").status(options()), 400);
}

TEST(HttpRequestCheck, ProtocolVersionHeader) {
  EXPECT_EQ(Head().set("MCP-Protocol-Version", "2025-06-18").status(options()), 0);
  const auto r = Head().set("MCP-Protocol-Version", "1999-01-01").check(options());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->message, "unsupported MCP-Protocol-Version 1999-01-01");
}

}  // namespace
}  // namespace icotes::http
