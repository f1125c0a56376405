// The HTTP door's Host and Origin checks (src/transport/http/loopback.hpp).
#include "transport/http/loopback.hpp"

#include <gtest/gtest.h>

namespace icotes::http {
namespace {

TEST(HttpLoopback, AcceptsLoopbackHosts) {
  for (const char* h : {"localhost", "LOCALHOST", "LocalHost", "localhost.", "127.0.0.1", "127.1.2.3",
                        "127.255.255.255", "[::1]", "[0::1]", "[0:0:0:0:0:0:0:1]", "localhost:8080", "localhost.:1",
                        "127.0.0.1:65535", "[::1]:3000", "127.0.0.1:0"})
    EXPECT_TRUE(loopback_authority(h)) << h;
}

TEST(HttpLoopback, RefusesNamesThatOnlyStartLikeLoopback) {
  for (const char* h : {"127.0.0.1.evil.com", "127.attacker.example", "127.0.0.1.nip.io:80", "localhost.evil.com",
                        "localhost.localdomain", "evil.localhost", "localhostx", "localhost..", "127.evil:80"})
    EXPECT_FALSE(loopback_authority(h)) << h;
}

TEST(HttpLoopback, RefusesOtherSpellingsAndForms) {
  for (const char* h : {"",
                        ":80",
                        "[]",
                        "[::1",
                        "::1",
                        "::1:80",
                        "[::1%lo]",
                        "[::1%25lo]:80",
                        "[::ffff:127.0.0.1]",
                        "[127.0.0.1]",
                        "[::2]",
                        "127.1",
                        "127.0.0.01",
                        "0177.0.0.1",
                        "0x7f.0.0.1",
                        "2130706433",
                        "128.0.0.1",
                        "0.0.0.0",
                        "10.0.0.1",
                        "user@localhost",
                        "localhost@evil.com",
                        "localhost:",
                        "localhost:99999",
                        "localhost:123456",
                        "localhost:8a",
                        "localhost:80:80",
                        "localhost ",
                        " localhost",
                        "local\thost",
                        "127.0.0.1\r\n",
                        "[::1]x",
                        "[::1]:",
                        "evil.example"})
    EXPECT_FALSE(loopback_authority(h)) << '"' << h << '"';
  // cpp-httplib URL-decodes header values: "127.0.0.1%00.evil.com" arrives with a NUL.
  EXPECT_FALSE(loopback_authority(std::string_view("localhost\0.evil.com", 19)));
  EXPECT_FALSE(loopback_authority(std::string_view("127.0.0.1\0.evil.com", 19)));
  EXPECT_FALSE(loopback_authority(std::string_view("[::1\0]", 6)));
}

TEST(HttpLoopback, BareHostsForTheListenAddress) {
  EXPECT_TRUE(loopback_host("127.0.0.1"));
  EXPECT_TRUE(loopback_host("::1"));
  EXPECT_TRUE(loopback_host("[::1]"));
  EXPECT_FALSE(loopback_host("0.0.0.0"));
  EXPECT_FALSE(loopback_host("::"));
  EXPECT_FALSE(loopback_host("192.168.1.2"));
}

TEST(HttpLoopback, Origins) {
  for (const char* o :
       {"http://localhost", "http://localhost:3000", "https://127.0.0.1:8443", "HTTP://LOCALHOST", "http://[::1]:5173"})
    EXPECT_TRUE(loopback_origin(o)) << o;
  for (const char* o :
       {"null", "", "http://evil.example", "http://127.0.0.1.evil.com", "http://127.attacker.example:80",
        "ftp://localhost", "file://localhost", "http:/localhost", "localhost", "http://user@localhost",
        "http://localhost@evil.com", "http://localhost/path", "http://localhost:80/", "http://localhost?x",
        "http://localhost#x", "http://[::ffff:127.0.0.1]", "http://", "chrome-extension://abcdef"})
    EXPECT_FALSE(loopback_origin(o)) << '"' << o << '"';
}

}  // namespace
}  // namespace icotes::http
