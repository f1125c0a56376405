// JSON values and a fast writer.
//
// Envelopes and small messages use nlohmann::json. Its dump() validates UTF-8
// byte by byte and costs ~10 ms for a reply holding a 1 MB file
// (docs/ARCHITECTURE.md#hot-paths), so every message icotes sends is written by
// write_json(), which copies runs of bytes that need no escaping in one go.
// Output is RFC 8259 JSON; strings must be valid UTF-8 (each maximal subpart
// of an ill-formed sequence is replaced by one U+FFFD, as nlohmann's
// error_handler_t::replace does: icotes/utf8.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace icotes {

using json = nlohmann::json;

/// Subtype marking a json binary value as already-serialised JSON text:
/// write_json() splices it as is. Lets a handler build a large array once,
/// as text, instead of as nlohmann objects (a search with 40,000 items).
inline constexpr std::uint8_t kRawJsonSubtype = 0x4A;

/// A value that write_json() writes as the given JSON text (which must be
/// valid JSON). Other serialisers see a binary value: use write_json().
json raw_json(std::string_view serialized);

/// Subtype marking a json binary value as text for the dialect layer only:
/// an object member holding it is left out by write_json(), so clients never
/// see it. An operation uses it to hand its MCP text block (already
/// rendered, e.g. a cached directory listing) to the MCP dialect.
inline constexpr std::uint8_t kHiddenTextSubtype = 0x48;

/// A member value write_json() leaves out; hidden_text_of() reads it back.
json hidden_text(std::string_view text);

/// The text of a hidden_text() value; nullopt for any other value.
std::optional<std::string_view> hidden_text_of(const json& value);

/// JSON text produced while a message is written, in pieces: a page of
/// 78,000 search results goes out without ever existing whole as text.
class RawJsonSource {
 public:
  virtual ~RawJsonSource() = default;
  /// Exact size in bytes of what write() produces (Content-Length needs it
  /// before the first byte).
  virtual std::size_t size() const = 0;
  /// Calls `sink` with consecutive pieces of the text; each piece is valid
  /// only during its call.
  virtual void write(const std::function<void(std::string_view)>& sink) const = 0;
};

/// Subtype marking a json binary value as a pointer to a RawJsonSource.
inline constexpr std::uint8_t kRawSourceSubtype = 0x53;

/// A value write_json() writes as `source`'s text. The value holds a plain
/// pointer: `source` must outlive every serialisation of the value (an
/// operation hands it to Context::keep, which keeps it until the reply is
/// written).
json raw_json_source(const RawJsonSource* source);

/// Builds a raw_json() value in place: the text is written straight into the
/// value's own buffer, so a page of several megabytes exists once (not as a
/// std::string and then a copy).
class RawJsonWriter {
 public:
  RawJsonWriter();
  /// Room for `bytes` of text (pages not written are not touched).
  void reserve(std::size_t bytes);
  /// Appends JSON text as is (it must be valid where it lands).
  void raw(std::string_view text);
  void raw(char c);
  /// Appends `s` as a quoted JSON string.
  void string(std::string_view s);
  void number(std::uint64_t n);
  /// Appends the compact serialisation of `value`.
  void value(const json& value);
  std::size_t size() const;
  /// The text so far.
  std::string_view view() const;
  /// Empties the text, keeping the buffer.
  void clear();
  /// The finished value (a raw_json()); the writer is empty afterwards.
  json take();

 private:
  json value_;
  std::string scratch_;
};

/// Appends `s` to `out` as a quoted JSON string (RFC 8259 section 7).
void append_json_string(std::string& out, std::string_view s);

/// Appends the compact serialisation of `value` to `out`.
void write_json(std::string& out, const json& value);

/// A raw_json() part left out of a serialisation: its text belongs at
/// `offset` of the output.
struct RawSplice {
  std::size_t offset;
  std::string_view text;                  // a raw_json() part, or
  const RawJsonSource* source = nullptr;  // a raw_json_source() part
};

/// As write_json(), but raw_json() and raw_json_source() parts are not copied into `out`: each is
/// recorded in `splices` (in order) for the caller to write in place. The
/// views point into `value`, which must outlive their use.
void write_json(std::string& out, const json& value, std::vector<RawSplice>& splices);

/// Compact serialisation of `value`.
std::string to_json_string(const json& value);

/// True for what JSON-RPC 2.0 (section 4) lets a request's "id" be: a
/// string, an integer or null. Any other id is answered with id null.
inline bool is_request_id(const json& id) { return id.is_string() || id.is_number_integer() || id.is_null(); }

/// `object[key]` when `object` is an object holding `key` with a value of
/// T's JSON type (string, boolean, integer that fits T, object/array for
/// json), else `fallback`. json::value() throws type_error 302 when the
/// member is there with another type; this never throws, for reading a
/// client's optional members before or without schema validation.
template <class T>  // NOLINTNEXTLINE(readability-function-cognitive-complexity): each T compiles one branch
T member_or(const json& object, std::string_view key, T fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  if (it == object.end()) return fallback;
  if constexpr (std::is_same_v<T, json>) {
    return *it;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get_ref<const std::string&>() : fallback;
  } else if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->template get<bool>() : fallback;
  } else {
    static_assert(std::is_integral_v<T>, "member_or: string, bool, an integer type or json");
    if (it->is_number_unsigned()) {
      const auto v = it->template get<std::uint64_t>();
      return v <= static_cast<std::uint64_t>(std::numeric_limits<T>::max()) ? static_cast<T>(v) : fallback;
    }
    if (it->is_number_integer()) {
      const auto v = it->template get<std::int64_t>();
      if constexpr (std::is_unsigned_v<T>)
        return v >= 0 && static_cast<std::uint64_t>(v) <= std::numeric_limits<T>::max() ? static_cast<T>(v) : fallback;
      else
        return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max() ? static_cast<T>(v) : fallback;
    }
    return fallback;
  }
}

/// True when `s` is well-formed UTF-8 (RFC 3629).
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace icotes
