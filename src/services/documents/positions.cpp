#include <algorithm>

#include "icotes/documents.hpp"

namespace icotes {
namespace {

// Length in bytes of the UTF-8 sequence led by `c` (1 for stray bytes).
std::size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;
}

std::size_t units_of(std::size_t bytes, PositionEncoding enc) {
  switch (enc) {
    case PositionEncoding::Utf8:
      return bytes;
    case PositionEncoding::Utf16:
      return bytes == 4 ? 2 : 1;
    case PositionEncoding::Utf32:
      return 1;
  }
  return 1;
}

}  // namespace

std::size_t offset_of(std::string_view text, Position pos, PositionEncoding encoding) {
  std::size_t off = 0;
  for (std::uint32_t line = 0; line < pos.line; ++line) {
    const std::size_t nl = text.find('\n', off);
    if (nl == std::string_view::npos) return text.size();
    off = nl + 1;
  }
  std::size_t line_end = text.find('\n', off);
  if (line_end == std::string_view::npos) line_end = text.size();
  if (line_end > off && text[line_end - 1] == '\r') --line_end;
  std::size_t units = 0;
  while (off < line_end && units < pos.character) {
    const std::size_t n = std::min(utf8_len(static_cast<unsigned char>(text[off])), line_end - off);
    const std::size_t u = units_of(n, encoding);
    if (units + u > pos.character) break;  // inside a surrogate pair: stay before it
    units += u;
    off += n;
  }
  return off;
}

Position position_of(std::string_view text, std::size_t offset, PositionEncoding encoding) {
  offset = std::min(offset, text.size());
  Position pos;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++pos.line;
      line_start = i + 1;
    }
  }
  std::size_t units = 0;
  for (std::size_t i = line_start; i < offset;) {
    const std::size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), offset - i);
    units += units_of(n, encoding);
    i += n;
  }
  pos.character = static_cast<std::uint32_t>(units);
  return pos;
}

}  // namespace icotes
