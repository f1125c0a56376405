// Parsing JSON that a peer sent, with a bound on nesting depth.
//
// nlohmann's parser is iterative, but copying, comparing and dumping a value
// recurse once per level: a message nested 100,000 deep parses fine and then
// overflows the stack of whoever copies it. RFC 8259 section 9 lets a parser
// limit the depth of nesting; icotes refuses deeper texts while parsing, in
// the same single pass that builds the value (a SAX handler counting depth
// around nlohmann's own DOM builder), so every value taken from a peer is at
// most kMaxJsonDepth deep.
//
// Header-only (nlohmann's headers are all it needs), so the HTTP module can
// use it as the executable does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace icotes {

/// Deepest nesting accepted in a message from a peer: arrays and objects
/// inside one another, the outermost counting as 1 (so `{"params":{"x":[]}}`
/// is 3 deep). JSON-RPC, LSP and MCP messages use a dozen levels at most.
inline constexpr std::size_t kMaxJsonDepth = 512;

struct JsonParse {
  enum class Failure { None, Syntax, TooDeep };
  nlohmann::json value;  ///< the parsed value; null when the text was refused
  Failure failure = Failure::None;
  std::string message;  ///< why the text was refused: where and what ("line 1, column 41: syntax error ..."), or the
                        ///< depth limit
  explicit operator bool() const { return failure == Failure::None; }
};

namespace detail {

// nlohmann's DOM builder behind a depth count: the same events, the same
// value, and a refusal (false stops the parser) past the limit.
class DepthBoundedSax {
 public:
  using json = nlohmann::json;
  DepthBoundedSax(json& root, std::size_t max_depth) : dom_(root, false), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return enter() && dom_.start_object(n); }
  bool key(json::string_t& k) { return dom_.key(k); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return enter() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& e) {
    // parse_error, and out_of_range 406 for a number no double holds
    // ("1e400"): RFC 8259 section 6 lets a parser limit the range.
    message_ = plain_message(e.what());
    return false;
  }

  // nlohmann's text without its exception label: "[json.exception.
  // parse_error.101] parse error at line 1, column 41: syntax error while
  // parsing object key - invalid literal; last read: '"ping",x'; expected
  // string literal" becomes "line 1, column 41: syntax error while parsing
  // object key - invalid literal; last read: '"ping",x'; expected string
  // literal".
  static std::string plain_message(std::string_view what) {
    if (what.rfind("[json.exception.", 0) == 0) {
      if (const std::size_t end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
    }
    for (std::string_view label : {"parse error at ", "parse error: "}) {
      if (what.rfind(label, 0) == 0) {
        what.remove_prefix(label.size());
        break;
      }
    }
    return std::string(what);
  }

  bool too_deep() const { return too_deep_; }
  const std::string& message() const { return message_; }

 private:
  bool enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool too_deep_ = false;
  std::string message_;
};

}  // namespace detail

/// Parses `text` as one JSON value (RFC 8259; trailing bytes other than
/// whitespace are an error), refusing nesting deeper than `max_depth`.
/// Never throws for bad input: a refusal is reported in the result (Syntax
/// for invalid JSON or a number out of range, TooDeep past the limit).
inline JsonParse parse_json(std::string_view text, std::size_t max_depth = kMaxJsonDepth) {
  JsonParse out;
  detail::DepthBoundedSax sax(out.value, max_depth);
  if (nlohmann::json::sax_parse(text, &sax)) return out;
  // What was built before the refusal is at most max_depth + 1 deep, and
  // nlohmann's destructor is iterative anyway.
  out.value = nullptr;
  if (sax.too_deep()) {
    out.failure = JsonParse::Failure::TooDeep;
    out.message = "JSON nested deeper than " + std::to_string(max_depth) + " levels (the limit)";
  } else {
    out.failure = JsonParse::Failure::Syntax;
    out.message = sax.message().empty() ? std::string("invalid JSON") : sax.message();
  }
  return out;
}

/// parse_json(), or a discarded value (json::is_discarded()) for any
/// refused text: the bounded counterpart of json::parse(text, nullptr, false).
inline nlohmann::json parse_json_or_discarded(std::string_view text, std::size_t max_depth = kMaxJsonDepth) {
  JsonParse p = parse_json(text, max_depth);
  if (p) return std::move(p.value);
  return nlohmann::json(nlohmann::json::value_t::discarded);
}

}  // namespace icotes
