// Text helpers shared by the services and the command line: encodings, one-line summaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace icotes {

/// Appends code point `cp` (at most U+10FFFF) to `out` as UTF-8 (RFC 3629).
void append_utf8(std::string& out, std::uint32_t cp);

/// Decodes UTF-16 code units (`little_endian` or big-endian, no BOM) to
/// UTF-8; unpaired surrogates become U+FFFD, as the WHATWG decoder does.
std::string utf16_to_utf8(std::string_view bytes, bool little_endian);

/// `s` as one line of a summary (a tool call's, a status line's): line
/// breaks and tabs become spaces, and past `max` bytes it is cut before the
/// UTF-8 character that would cross `max`, then "..." is added.
std::string one_line(std::string s, std::size_t max);

}  // namespace icotes
