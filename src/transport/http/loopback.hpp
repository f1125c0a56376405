// Which Host and Origin values name this machine's loopback interface: the
// HTTP door's defence against DNS rebinding (a page of evil.example whose
// name the attacker re-points at 127.0.0.1 sends `Host: evil.example` and
// `Origin: http://evil.example`). Header-only and free of icotes code: the
// module icotes-http.so uses it, and the unit tests call it directly.
//
// Accepted (nothing else):
//  - `localhost`, in any letter case, with or without one trailing dot (the
//    name RFC 6761 section 6.3 reserves for loopback; no subdomains);
//  - `[::1]` and any other spelling inet_pton(3) reads as ::1 (`[0::1]`);
//  - an IPv4 literal in 127.0.0.0/8 as inet_pton(AF_INET) reads it: four
//    decimal parts, no leading zeros, no `127.1`, no hex or octal;
// each with an optional `:port` (1 to 5 digits, at most 65535). Refused:
// names that merely start like one (`127.0.0.1.evil.com`,
// `127.attacker.example`, `localhost.evil.com`), IPv6 zones (`[::1%lo]`),
// IPv4-mapped IPv6 (`[::ffff:127.0.0.1]`), userinfo (`user@localhost`),
// an empty host or port, and anything with spaces or control bytes.
#pragma once

#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <string_view>

namespace icotes::http {

/// True when `host` (no port; an IPv6 literal with or without brackets)
/// is a loopback name or literal as listed above.
inline bool loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == std::string_view::npos) return false;  // `[127.0.0.1]` is no IPv6 literal
  }
  if (host.empty() || host.size() > 64) return false;
  // Letters, digits, '.' and ':' spell every accepted form; anything else
  // (a NUL that would end inet_pton's string early, '%', spaces) is refused.
  for (const char c : host)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == ':'))
      return false;
  if (host.find(':') != std::string_view::npos) {
    const std::string text(host);  // NUL-terminated for inet_pton; '%' (a zone) fails it
    unsigned char a[16];
    if (::inet_pton(AF_INET6, text.c_str(), a) != 1) return false;
    static constexpr unsigned char kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(a, kOne, sizeof a) == 0;
  }
  std::string_view name = host;
  if (name.back() == '.') name.remove_suffix(1);
  if (name.size() == 9) {
    bool same = true;
    for (std::size_t i = 0; i < 9; ++i) {
      const char c = name[i];
      same = same && (c == "localhost"[i] || c == "LOCALHOST"[i]);
    }
    if (same) return true;
  }
  const std::string text(host);
  unsigned char a[4];
  return ::inet_pton(AF_INET, text.c_str(), a) == 1 && a[0] == 127;
}

/// True when `authority` (a Host header's value, RFC 9110 section 7.2:
/// host[:port], IPv6 in brackets) names the loopback interface.
inline bool loopback_authority(std::string_view authority) {
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(0, close + 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    has_port = true;
    port = authority.substr(colon + 1);
  }
  if (has_port) {
    if (port.empty() || port.size() > 5) return false;
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9') return false;  // a second ':' too: "::1:80" needs brackets
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) return false;
  }
  return loopback_host(host);
}

/// True when `origin` (an Origin header, RFC 6454 section 7: scheme "://"
/// authority, nothing after it) is an http or https page served from the
/// loopback interface. "null" (file: pages, sandboxed frames) is refused.
inline bool loopback_origin(std::string_view origin) {
  const std::size_t sep = origin.find("://");
  if (sep == std::string_view::npos) return false;
  std::string scheme(origin.substr(0, sep));
  for (char& c : scheme)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (scheme != "http" && scheme != "https") return false;
  const std::string_view authority = origin.substr(sep + 3);
  if (authority.find_first_of("/?#@") != std::string_view::npos) return false;
  return loopback_authority(authority);
}

}  // namespace icotes::http
