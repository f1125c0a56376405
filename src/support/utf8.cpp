#include "icotes/utf8.hpp"

namespace icotes {

std::string repair_utf8(std::string_view bytes, std::string& carry) {
  std::string joined;
  if (!carry.empty()) {
    joined = carry;
    joined.append(bytes);
    bytes = joined;
    carry.clear();
  }
  std::string out;
  out.reserve(bytes.size());
  const auto* const begin = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = begin + bytes.size();
  const auto* p = begin;
  while (p < end) {
    // Runs of ASCII go out in one piece.
    const auto* q = p;
    while (q < end && *q < 0x80) ++q;
    out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(q - p));
    p = q;
    if (p == end) break;
    const Utf8Sequence s = utf8_sequence(p, end);
    if (s.valid) {
      out.append(reinterpret_cast<const char*>(p), s.length);
    } else if (s.truncated) {
      carry.assign(reinterpret_cast<const char*>(p), s.length);
    } else {
      out.append(kReplacementCharacter);
    }
    p += s.length;
  }
  return out;
}

std::string repair_utf8(std::string_view bytes) {
  std::string carry;
  std::string out = repair_utf8(bytes, carry);
  if (!carry.empty()) out.append(kReplacementCharacter);
  return out;
}

std::size_t utf8_complete_prefix(std::string_view bytes) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = begin + bytes.size();
  // A cut sequence starts at most 3 bytes from the end.
  for (const auto* p = bytes.size() > 3 ? end - 3 : begin; p < end; ++p)
    if (*p >= 0xC2 && utf8_sequence(p, end).truncated) return static_cast<std::size_t>(p - begin);
  return bytes.size();
}

}  // namespace icotes
