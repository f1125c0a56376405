// UTF-8 checking and repair (RFC 3629; the Unicode Standard, chapter 3.9).
//
// One rule everywhere icotes turns bytes into text (command output, terminal
// output, JSON strings): each maximal subpart of an ill-formed sequence
// becomes one U+FFFD (Unicode 15, section 3.9, "U+FFFD Substitution of
// Maximal Subparts"), as the WHATWG Encoding Standard, Python's
// errors="replace" and nlohmann::json's error_handler_t::replace do:
// "\xE2\x82A" is U+FFFD then "A", not two U+FFFDs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace icotes {

/// U+FFFD REPLACEMENT CHARACTER as UTF-8 (3 bytes).
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

/// What starts at `p` (before `end`, and p < end).
struct Utf8Sequence {
  std::size_t length = 1;  // bytes: the whole sequence, or the maximal subpart (1 to 3) when not valid
  bool valid = true;       // a well-formed sequence (Unicode table 3-7), ASCII included
  bool truncated = false;  // not valid only because `end` cut it: more bytes could complete it
};

/// The sequence at `p`: well-formed (Unicode table 3-7: no overlong forms, surrogates or code points above
/// U+10FFFF), or the maximal subpart of an ill-formed one. Inline: the JSON writer and the validator call it per
/// non-ASCII character.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one branch per row of table 3-7, as Unicode gives it
inline Utf8Sequence utf8_sequence(const unsigned char* p, const unsigned char* end) noexcept {
  const unsigned char c = p[0];
  if (c < 0x80) return {};
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return {1, false, false};
  }
  for (std::size_t k = 1; k < n; ++k) {
    if (p + k >= end) return {k, false, true};
    const unsigned char d = p[k];
    if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) return {k, false, false};
  }
  return {n, true, false};
}

/// `bytes` as valid UTF-8: each maximal subpart of an ill-formed sequence
/// (a cut one at the end included) becomes one U+FFFD.
std::string repair_utf8(std::string_view bytes);

/// The same for a stream read in pieces: `carry` (bytes of a sequence cut
/// by the previous piece) is prepended to `bytes`, and a sequence cut at the
/// end of this piece is left in `carry` (at most 3 bytes) instead of being
/// replaced. At the end of the stream, a non-empty `carry` stands for one
/// U+FFFD.
std::string repair_utf8(std::string_view bytes, std::string& carry);

/// Length of the longest prefix of `bytes` that does not end inside a
/// sequence more bytes could complete (a place to cut a stream of text).
std::size_t utf8_complete_prefix(std::string_view bytes);

}  // namespace icotes
