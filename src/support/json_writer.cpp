#include "icotes/json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "icotes/hex.hpp"
#include "icotes/utf8.hpp"

namespace icotes {
namespace {

// 0: copy as is; 1: escape (control, quote, backslash); 2: non-ASCII lead.
constexpr std::array<std::uint8_t, 256> make_class_table() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) t[c] = 2;
  return t;
}
constexpr auto kClass = make_class_table();

// True when none of the 8 bytes at p needs attention (ASCII, >= 0x20, not '"' or '\\').
inline bool word_is_plain(const unsigned char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  auto has_zero = [&](std::uint64_t x) { return (x - ones) & ~x & highs; };
  const std::uint64_t control = (w - ones * 0x20) & ~w & highs;  // byte < 0x20
  const std::uint64_t quote = has_zero(w ^ (ones * '"'));
  const std::uint64_t backslash = has_zero(w ^ (ones * '\\'));
  return ((w & highs) | control | quote | backslash) == 0;
}

// The first byte at or after p that is not copied as is (control, quote,
// backslash or non-ASCII), or end. 16 bytes at a time with SSE2.
inline const unsigned char* next_special(const unsigned char* p, const unsigned char* end) noexcept {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches controls and non-ASCII.
    const __m128i special =
        _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (end - p >= 8 && word_is_plain(p)) p += 8;
  while (p < end && kClass[*p] == 0) ++p;
  return p;
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  const auto end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const Utf8Sequence seq = utf8_sequence(p, end);
    if (!seq.valid) return false;
    p += seq.length;
  }
  return true;
}

namespace {

// Appends `s` quoted to `out`: a std::string or a raw_json() value's byte vector.
template <class Buffer>
void append_json_string_to(Buffer& out, std::string_view s) {
  // Written through a raw pointer into room made up front (the text, its
  // quotes and 1/8 for escapes; grown when escapes need more), so an escape
  // costs a few stores instead of two std::string appends, and a large
  // string is not reallocated (and copied) halfway.
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  const auto end = p + s.size();
  std::size_t pos = out.size();
  std::size_t room = pos + s.size() + s.size() / 8 + 16;
  // Within the capacity already there when the text fits unescaped: a page
  // reserved at its size is not regrown (and copied) for slack it never uses.
  if (room > out.capacity() && pos + s.size() + 9 <= out.capacity()) room = pos + s.size() + 9;
  out.resize(room);
  char* dst = reinterpret_cast<char*>(out.data());
  dst[pos++] = '"';
  for (;;) {
    // The run of bytes copied as they are: up to the next byte that needs
    // attention, past well-formed UTF-8 sequences.
    const unsigned char* q = next_special(p, end);
    Utf8Sequence seq;
    while (q < end && kClass[*q] == 2) {
      seq = utf8_sequence(q, end);
      if (!seq.valid) break;
      q = next_special(q + seq.length, end);
    }
    const auto len = static_cast<std::size_t>(q - p);
    if (pos + len + 7 > out.size()) {  // the run, one escape (at most 6 bytes), the closing quote
      // Room for the rest of `s` at twice its size (not twice `out`, which may
      // be a page of megabytes being appended to).
      out.resize(pos + len + 7 + 2 * static_cast<std::size_t>(end - q) + 16);
      dst = reinterpret_cast<char*>(out.data());
    }
    std::memcpy(dst + pos, p, len);
    pos += len;
    if (q == end) break;
    const unsigned char c = *q;
    p = q + 1;
    char* o = dst + pos;
    if (kClass[c] == 2) {  // U+FFFD for the maximal subpart of an ill-formed sequence (utf8.hpp)
      o[0] = '\xEF';
      o[1] = '\xBF';
      o[2] = '\xBD';
      pos += 3;
      p = q + seq.length;
      continue;
    }
    o[0] = '\\';
    switch (c) {
      case '"':
        o[1] = '"';
        pos += 2;
        break;
      case '\\':
        o[1] = '\\';
        pos += 2;
        break;
      case '\n':
        o[1] = 'n';
        pos += 2;
        break;
      case '\r':
        o[1] = 'r';
        pos += 2;
        break;
      case '\t':
        o[1] = 't';
        pos += 2;
        break;
      case '\b':
        o[1] = 'b';
        pos += 2;
        break;
      case '\f':
        o[1] = 'f';
        pos += 2;
        break;
      default:
        o[1] = 'u';
        o[2] = '0';
        o[3] = '0';
        o[4] = kHexLower[c >> 4];
        o[5] = kHexLower[c & 0xF];
        pos += 6;
    }
  }
  dst[pos++] = '"';
  out.resize(pos);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) { append_json_string_to(out, s); }

namespace {

// The writer's switch on the value's type, one case per JSON type (and the raw-JSON binaries); every response goes
// through it.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
void write_value(std::string& out, const json& value, std::vector<RawSplice>* splices) {
  switch (value.type()) {
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (item.is_binary() && item.get_binary().has_subtype() && item.get_binary().subtype() == kHiddenTextSubtype)
          continue;
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, key);
        out.push_back(':');
        write_value(out, item, splices);
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : value) {
        if (!first) out.push_back(',');
        first = false;
        write_value(out, item, splices);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::string:
      append_json_string(out, value.get_ref<const std::string&>());
      return;
    case json::value_t::binary: {
      const auto& bin = value.get_binary();
      if (bin.has_subtype() && bin.subtype() == kRawJsonSubtype) {
        const std::string_view text(reinterpret_cast<const char*>(bin.data()), bin.size());
        if (splices)
          splices->push_back({out.size(), text});
        else
          out.append(text);
        return;
      }
      // The binary holds the pointer itself (raw_json_source), so its size is a pointer's.
      // NOLINTNEXTLINE(bugprone-sizeof-expression): the pointer's size is meant
      if (bin.has_subtype() && bin.subtype() == kRawSourceSubtype && bin.size() == sizeof(const RawJsonSource*)) {
        const RawJsonSource* source = nullptr;
        std::memcpy(&source, bin.data(), sizeof source);  // NOLINT(bugprone-sizeof-expression): likewise
        if (splices)
          splices->push_back({out.size(), {}, source});
        else
          source->write([&](std::string_view piece) { out.append(piece); });
        return;
      }
      out.append(value.dump());
      return;
    }
    case json::value_t::discarded:
    case json::value_t::null:
      out.append("null");
      return;
    case json::value_t::boolean:
      out.append(value.get<bool>() ? "true" : "false");
      return;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: {
      char buf[24];
      const auto r = value.is_number_unsigned() ? std::to_chars(buf, buf + sizeof buf, value.get<std::uint64_t>())
                                                : std::to_chars(buf, buf + sizeof buf, value.get<std::int64_t>());
      out.append(buf, static_cast<std::size_t>(r.ptr - buf));
      return;
    }
    default:
      // Doubles (and binary): nlohmann's formatting, shortest round-trip.
      out.append(value.dump());
      return;
  }
}

}  // namespace

void write_json(std::string& out, const json& value) { write_value(out, value, nullptr); }

void write_json(std::string& out, const json& value, std::vector<RawSplice>& splices) {
  write_value(out, value, &splices);
}

json raw_json(std::string_view serialized) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(serialized.data());
  return json::binary(json::binary_t::container_type(p, p + serialized.size()), kRawJsonSubtype);
}

json raw_json_source(const RawJsonSource* source) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&source);
  // NOLINTNEXTLINE(bugprone-sizeof-expression): the pointer's bytes are what is stored
  return json::binary(json::binary_t::container_type(p, p + sizeof source), kRawSourceSubtype);
}

json hidden_text(std::string_view text) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  return json::binary(json::binary_t::container_type(p, p + text.size()), kHiddenTextSubtype);
}

std::optional<std::string_view> hidden_text_of(const json& value) {
  if (!value.is_binary()) return std::nullopt;
  const auto& bin = value.get_binary();
  if (!bin.has_subtype() || bin.subtype() != kHiddenTextSubtype) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(bin.data()), bin.size());
}

RawJsonWriter::RawJsonWriter() : value_(json::binary({}, kRawJsonSubtype)) {}

// A little more than asked: append_json_string_to() wants a few bytes of
// room past a string's end, and a page must not be regrown for them.
void RawJsonWriter::reserve(std::size_t bytes) { value_.get_binary().reserve(bytes + 16); }

void RawJsonWriter::raw(std::string_view text) {
  auto& b = value_.get_binary();
  b.insert(b.end(), text.begin(), text.end());
}

void RawJsonWriter::raw(char c) { value_.get_binary().push_back(static_cast<std::uint8_t>(c)); }

void RawJsonWriter::string(std::string_view s) { append_json_string_to(value_.get_binary(), s); }

void RawJsonWriter::number(std::uint64_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  raw(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

void RawJsonWriter::value(const json& v) {
  scratch_.clear();
  write_json(scratch_, v);
  raw(scratch_);
}

std::size_t RawJsonWriter::size() const { return value_.get_binary().size(); }

std::string_view RawJsonWriter::view() const {
  const auto& b = value_.get_binary();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void RawJsonWriter::clear() { value_.get_binary().clear(); }

json RawJsonWriter::take() {
  json out = std::move(value_);
  value_ = json::binary({}, kRawJsonSubtype);
  return out;
}

std::string to_json_string(const json& value) {
  std::string out;
  write_json(out, value);
  return out;
}

}  // namespace icotes
