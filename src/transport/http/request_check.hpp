// What the HTTP door judges from a request's head alone, before routing and
// before a byte of the body is read: the path, duplicated headers, Origin
// and Host against DNS rebinding (loopback.hpp), the bearer token, the
// method, the body's framing and size (RFC 9112 section 6), the
// MCP-Protocol-Version. Free of cpp-httplib so the unit tests call it
// directly (tests/unit/http_request_check_test.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "icotes/http_module.hpp"

namespace icotes::http {

/// A request's head as the checks read it.
struct HeadView {
  std::string_view method;  // "GET", "POST", ...
  std::string_view path;    // the target's path, without the query
  /// How many times the header `name` (any letter case) was sent.
  std::function<std::size_t(const char* name)> count;
  /// The first value of header `name`, whole: cpp-httplib URL-decodes
  /// values, so "127.0.0.1%00.evil.com" arrives as a value holding a NUL.
  /// Empty when absent.
  std::function<std::string(const char* name)> value;
};

/// A refusal: the HTTP status, the JSON-RPC error code and message of the
/// body (error_body), and one header to add when `header` is not empty
/// (WWW-Authenticate for 401, Allow for 405). A refused request's
/// connection is closed without reading its body.
struct Refusal {
  int status = 0;
  int code = 0;
  std::string message;
  std::string header;
  std::string header_value;
};

/// Nullopt when the head may go on to its route; else why not. In this
/// order: a path other than /mcp (404); more than one Host, Origin,
/// Authorization, Content-Length or Transfer-Encoding (400); an Origin
/// that is not a loopback origin, "null" included (403); a Host that is
/// not a loopback authority while `options.host` is a loopback address
/// (403); a wrong or missing "Authorization: Bearer <options.token>"
/// (401, compared in constant time); a method other than GET, POST and
/// DELETE (405); a Range (416); both framings (400), a transfer coding
/// other than chunked (501), a Content-Length not all digits (400); a POST
/// without a body's framing (411) or declaring more than
/// `options.max_body_bytes` (413); a GET or DELETE with a body (400); an
/// MCP-Protocol-Version not in `options.protocol_versions` (400). An empty
/// header counts as absent (as cpp-httplib's parser drops it).
std::optional<Refusal> check_head(const HeadView& head, const Options& options);

/// The 413 message for a body over `max_body_bytes`.
std::string too_large_message(std::size_t max_body_bytes);

}  // namespace icotes::http
