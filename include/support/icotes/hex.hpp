// Hexadecimal text of bytes (RFC 4648 section 8, "base16").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace icotes {

/// The digits of each case: kHexLower for digests and tokens (as git and
/// sha256sum print them), kHexUpper where a format asks for it (RFC 3986
/// percent-encoding, section 2.1).
inline constexpr char kHexLower[] = "0123456789abcdef";
inline constexpr char kHexUpper[] = "0123456789ABCDEF";

/// `size` bytes at `data` as 2 x size lowercase hex digits.
std::string hex_encode(const std::uint8_t* data, std::size_t size);

/// `bytes` as 2 x bytes.size() lowercase hex digits.
std::string hex_encode(std::string_view bytes);

}  // namespace icotes
