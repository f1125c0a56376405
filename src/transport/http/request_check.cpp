// The HTTP door's checks of a request's head (request_check.hpp).
#include "request_check.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "loopback.hpp"

namespace icotes::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A value as cpp-httplib's get_header_value() gives it, through a C string:
// up to its first NUL. Only for messages and values that are compared whole
// where the door always read them so (the loopback checks read the whole
// value).
std::string up_to_nul(std::string value) {
  if (const auto nul = value.find('\0'); nul != std::string::npos) value.resize(nul);
  return value;
}

Refusal refuse(int status, int code, std::string message) { return Refusal{status, code, std::move(message), {}, {}}; }

// Path, duplicated headers, Origin and Host: who may talk to the door at all.
std::optional<Refusal> check_origin(const HeadView& head, const Options& options) {
  if (head.path != "/mcp") return refuse(404, -32601, "not found: the MCP endpoint is /mcp");
  for (const char* h : {"Host", "Origin", "Authorization", "Content-Length", "Transfer-Encoding"})
    if (head.count(h) > 1) return refuse(400, -32600, std::string("bad request: more than one ") + h + " header");
  if (const std::string origin = head.value("Origin"); head.count("Origin") > 0 && !loopback_origin(origin))
    return refuse(403, -32600,
                  "forbidden: Origin " + up_to_nul(origin) + " is not this machine (DNS rebinding is refused)");
  if (const std::string host = head.value("Host");
      head.count("Host") > 0 && loopback_host(options.host) && !loopback_authority(host))
    return refuse(403, -32600, "forbidden: Host " + up_to_nul(host) + " is not a loopback name");
  return std::nullopt;
}

// The bearer token: equal length first, then every byte, so the time does
// not tell where a guess went wrong.
std::optional<Refusal> check_token(const HeadView& head, const Options& options) {
  const std::string auth = up_to_nul(head.value("Authorization"));
  const std::string expected = "Bearer " + options.token;
  bool ok = auth.size() == expected.size();
  unsigned char diff = 0;
  for (std::size_t i = 0; ok && i < auth.size(); ++i) diff |= static_cast<unsigned char>(auth[i] ^ expected[i]);
  if (ok && diff == 0) return std::nullopt;
  Refusal r =
      refuse(401, -32600,
             "unauthorized: send Authorization: Bearer <token>; the token is in the file icotes printed at start");
  r.header = "WWW-Authenticate";
  r.header_value = "Bearer";
  return r;
}

// The method, and the body's framing (RFC 9112 section 6) judged before a
// byte of it is read.
std::optional<Refusal> check_body(const HeadView& head, const Options& options) {
  if (head.method != "GET" && head.method != "POST" && head.method != "DELETE") {
    Refusal r = refuse(405, -32600, "method not allowed: /mcp takes GET, POST and DELETE");
    r.header = "Allow";
    r.header_value = "GET, POST, DELETE";
    return r;
  }
  // One answer per request: no multi-range copies of it.
  if (head.count("Range") > 0) return refuse(416, -32600, "range requests are not served");
  const std::string coding = up_to_nul(head.value("Transfer-Encoding"));
  const std::string size = head.value("Content-Length");
  const bool chunked = head.count("Transfer-Encoding") > 0;
  const bool sized = head.count("Content-Length") > 0;
  if (chunked && sized) return refuse(400, -32600, "bad request: both Content-Length and Transfer-Encoding");
  if (chunked && !iequals(coding, "chunked"))
    return refuse(501, -32600, "transfer coding " + coding + " is not served (only chunked)");
  std::uint64_t length = 0;
  if (sized) {
    const std::string v = up_to_nul(size);
    if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
      return refuse(400, -32600, "bad request: Content-Length " + v);
    length = std::stoull(v);
  }
  if (head.method == "POST") {
    if (!chunked && !sized) return refuse(411, -32600, "length required: POST a body with Content-Length or chunked");
    if (length > options.max_body_bytes) return refuse(413, -32600, too_large_message(options.max_body_bytes));
  } else if (chunked || length > 0) {
    return refuse(400, -32600, "bad request: " + std::string(head.method) + " /mcp takes no body");
  }
  return std::nullopt;
}

}  // namespace

std::optional<Refusal> check_head(const HeadView& head, const Options& options) {
  if (auto r = check_origin(head, options)) return r;
  if (auto r = check_token(head, options)) return r;
  if (auto r = check_body(head, options)) return r;
  const std::string version = up_to_nul(head.value("MCP-Protocol-Version"));
  if (!version.empty() && std::find(options.protocol_versions.begin(), options.protocol_versions.end(), version) ==
                              options.protocol_versions.end())
    return refuse(400, -32600, "unsupported MCP-Protocol-Version " + version);
  return std::nullopt;
}

std::string too_large_message(std::size_t max_body_bytes) {
  return "payload too large: the body exceeds " + std::to_string(max_body_bytes) +
         " bytes (icotes serve --max-frame-bytes)";
}

}  // namespace icotes::http
