// Text encoding helpers shared by the files and search services.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace icotes {

/// Appends code point `cp` (at most U+10FFFF) to `out` as UTF-8 (RFC 3629).
void append_utf8(std::string& out, std::uint32_t cp);

/// Decodes UTF-16 code units (`little_endian` or big-endian, no BOM) to
/// UTF-8; unpaired surrogates become U+FFFD, as the WHATWG decoder does.
std::string utf16_to_utf8(std::string_view bytes, bool little_endian);

}  // namespace icotes
