#include "icotes/framing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "icotes/json_parse.hpp"

namespace icotes {
namespace {

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The value of the last well-formed Content-Length header among `headers`
// (lines ending in "\n" or "\r\n", names compared case-insensitively), or
// nullopt when there is none.
std::optional<std::size_t> content_length(std::string_view headers) {
  std::optional<std::size_t> length;
  for (std::size_t start = 0; start < headers.size();) {
    std::size_t nl = headers.find('\n', start);
    if (nl == std::string_view::npos) nl = headers.size();
    const std::string_view line = trim(headers.substr(start, nl - start));
    start = nl + 1;
    if (!iequals_prefix(line, "content-length:")) continue;
    const std::string_view num = trim(line.substr(15));
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
    if (ec == std::errc() && ptr == num.data() + num.size()) length = n;
  }
  return length;
}

}  // namespace

namespace {

void skip_space(std::string_view text, std::size_t& i) {
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
}

// From an opening quote at text[i] to just past its closing quote; false when
// the text ends first. `escaped` tells whether a backslash was seen.
bool skip_string(std::string_view text, std::size_t& i, bool& escaped) {
  escaped = false;
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      escaped = true;
      ++i;
    } else if (text[i] == '"') {
      ++i;
      return true;
    }
  }
  return false;
}

// The value at text[i] of an "id" member: a string, or an integer read whole
// ("1e9", "1.5" and "99999999999999999999" are not read as 1 or as a clipped
// value); null for anything else.
json read_id_value(std::string_view text, std::size_t i) {
  if (i < text.size() && text[i] == '"') {
    const std::size_t value = i;
    bool escaped = false;
    if (!skip_string(text, i, escaped)) return nullptr;
    if (!escaped) return std::string(text.substr(value + 1, i - value - 2));
    json id = json::parse(text.substr(value, i - value), nullptr, false);  // "a\"b", "\u00e9"
    return id.is_string() ? id : json(nullptr);
  }
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
  const bool whole =
      ptr == text.data() + text.size() || std::string_view(" \t\r\n,}]").find(*ptr) != std::string_view::npos;
  if (ec == std::errc() && whole) return n;
  return nullptr;
}

}  // namespace

json sniff_request_id(std::string_view text) {
  text = text.substr(0, 4096);
  // Only a member of the top-level object counts: an "id" inside params
  // belongs to something else, and a batch that cannot be parsed is
  // answered with id null (JSON-RPC 2.0 section 6).
  std::size_t i = 0;
  skip_space(text, i);
  if (i >= text.size() || text[i] != '{') return nullptr;
  int depth = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      const std::size_t open = i;
      bool escaped = false;
      if (!skip_string(text, i, escaped)) return nullptr;
      const bool is_id_key = depth == 1 && text.substr(open, i - open) == "\"id\"";
      if (!is_id_key) continue;
      skip_space(text, i);
      if (i >= text.size() || text[i] != ':') continue;  // a string value "id", not the key
      ++i;
      skip_space(text, i);
      return read_id_value(text, i);
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    ++i;
  }
  return nullptr;
}

void FrameReader::feed(std::string_view data, const OnMessage& on_message, const OnError& on_error) {
  if (discard_ > 0) {  // skipping the body of a refused LSP frame
    const std::size_t n = std::min(discard_, data.size());
    discard_ -= n;
    data.remove_prefix(n);
  }
  if (discard_line_) {  // skipping a refused line
    const std::size_t nl = data.find('\n');
    if (nl == std::string_view::npos) return;
    discard_line_ = false;
    data.remove_prefix(nl + 1);
  }
  buf_.append(data);
  while (step(on_message, on_error)) {
  }
}

bool FrameReader::step(const OnMessage& on_message, const OnError& on_error) {
  if (framing_ == Framing::Unknown) {
    const std::size_t first = buf_.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
      buf_.clear();
      scanned_ = 0;
      return false;
    }
    buf_.erase(0, first);
    const char c = buf_[0];
    if (c == 'C' || c == 'c') {
      if (buf_.size() < 2) return false;
      framing_ = Framing::ContentLength;
    } else {
      framing_ = Framing::NewlineDelimited;
    }
  }
  if (framing_ == Framing::NewlineDelimited) return step_line(on_message, on_error);

  if (!body_length_) return step_headers(on_error);
  if (buf_.size() < *body_length_) return false;
  std::string body = buf_.substr(0, *body_length_);
  buf_.erase(0, *body_length_);
  body_length_.reset();
  scanned_ = 0;
  on_message(std::move(body));
  return true;
}

bool FrameReader::step_headers(const OnError& on_error) {
  // Headers end at an empty line; accept bare "\n" line ends from lenient clients.
  std::size_t end = std::string::npos;
  std::size_t sep = 0;
  for (std::size_t i = scanned_; i < buf_.size(); ++i) {
    if (buf_[i] != '\n') continue;
    if (i >= 1 && buf_[i - 1] == '\n') {
      end = i - 1;
      sep = 2;
      break;
    }
    if (i >= 3 && buf_.compare(i - 3, 4, "\r\n\r\n") == 0) {
      end = i - 3;
      sep = 4;
      break;
    }
  }
  if (end == std::string::npos) {
    scanned_ = buf_.size() >= 3 ? buf_.size() - 3 : 0;
    // Headers are a few dozen bytes: past 64 KiB (or the frame limit, when
    // smaller) this is not LSP framing.
    if (const std::size_t limit = std::min<std::size_t>(64 * 1024, max_); buf_.size() > limit) {
      on_error({FrameError::Kind::BadHeader,
                "LSP header block exceeds " + std::to_string(limit) + " bytes without an empty line", nullptr});
      buf_.clear();
      scanned_ = 0;
    }
    return false;
  }
  const std::optional<std::size_t> length = content_length(std::string_view(buf_.data(), end));
  buf_.erase(0, end + sep);
  scanned_ = 0;
  if (!length) {
    on_error({FrameError::Kind::BadHeader, "LSP header block has no valid Content-Length", nullptr});
    return true;
  }
  if (*length > max_) {
    on_error({FrameError::Kind::TooLarge,
              "message of " + std::to_string(*length) + " bytes exceeds the frame limit of " + std::to_string(max_) +
                  " bytes",
              sniff_request_id(buf_)});
    const std::size_t have = std::min(*length, buf_.size());
    buf_.erase(0, have);
    discard_ = *length - have;
    return discard_ == 0;
  }
  body_length_ = *length;
  return true;
}

bool FrameReader::step_line(const OnMessage& on_message, const OnError& on_error) {
  const std::size_t nl = buf_.find('\n', scanned_);
  if (nl == std::string::npos) {
    scanned_ = buf_.size();
    if (buf_.size() > max_) {
      on_error({FrameError::Kind::TooLarge,
                "line of more than " + std::to_string(max_) + " bytes exceeds the frame limit",
                sniff_request_id(buf_)});
      buf_.clear();
      scanned_ = 0;
      discard_line_ = true;
    }
    return false;
  }
  std::string line;
  if (nl == buf_.size() - 1) {
    line.swap(buf_);
    line.pop_back();
  } else {
    line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
  }
  scanned_ = 0;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > max_) {
    on_error({FrameError::Kind::TooLarge,
              "line of " + std::to_string(line.size()) + " bytes exceeds the frame limit of " + std::to_string(max_),
              sniff_request_id(line)});
    return true;
  }
  if (trim(line).empty()) return true;
  on_message(std::move(line));
  return true;
}

void EnvelopeScanner::feed(std::string_view data, const OnEnvelope& on_envelope) {
  const char* p = data.data();
  const char* const end = p + data.size();
  while (p < end) {
    if (framing_ == Framing::Unknown) {  // as FrameReader: 'C' starts LSP headers, anything else a line
      while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) ++p;
      if (p == end) return;
      framing_ = (*p == 'C' || *p == 'c') ? Framing::ContentLength : Framing::NewlineDelimited;
    }
    if (framing_ == Framing::NewlineDelimited) {
      p = feed_line(p, end, on_envelope);
    } else if (in_body_) {
      p = feed_body(p, end, on_envelope);
    } else {
      p = feed_header(p);
    }
  }
}

// Newline-delimited: up to the end of the line (or of the data).
const char* EnvelopeScanner::feed_line(const char* p, const char* end, const OnEnvelope& on_envelope) {
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
  body(p, nl ? nl : end, on_envelope);
  if (!nl) {
    in_line_ = true;
    return end;
  }
  end_frame();
  in_line_ = false;
  return nl + 1;
}

// Content-Length: up to the end of the body (or of the data).
const char* EnvelopeScanner::feed_body(const char* p, const char* end, const OnEnvelope& on_envelope) {
  const std::size_t n = std::min(body_left_, static_cast<std::size_t>(end - p));
  body(p, p + n, on_envelope);
  body_left_ -= n;
  if (body_left_ == 0) {
    end_frame();
    in_body_ = false;
  }
  return p + n;
}

// Content-Length: one header byte; the header block ends at an empty line
// (bare "\n" line ends accepted).
const char* EnvelopeScanner::feed_header(const char* p) {
  const char c = *p++;
  header_.push_back(c);
  const std::size_t h = header_.size();
  const bool ended =
      c == '\n' && ((h >= 2 && header_[h - 2] == '\n') || (h >= 4 && header_.compare(h - 4, 4, "\r\n\r\n") == 0));
  if (!ended) {
    if (h > 64 * 1024) header_.clear();  // not LSP headers: FrameReader refuses them the same way
    return p;
  }
  const std::optional<std::size_t> length = content_length(header_);
  header_.clear();
  if (!length) return p;  // no length: the next header block is looked for
  body_left_ = *length;
  in_body_ = body_left_ > 0;
  if (!in_body_) end_frame();
  return p;
}

FrameFiller EnvelopeScanner::frame_filler() const {
  if (framing_ == Framing::ContentLength) return {{}, in_body_ ? body_left_ : 0};
  if (framing_ == Framing::NewlineDelimited) return {in_line_ ? std::string("\n") : std::string(), 0};
  return {};
}

// From p inside a string: the closing quote, or `end`. A quote is escaped
// when an odd run of backslashes precedes it; runs are counted back to
// `clean`, where no escape is pending, so memchr finds quotes without a
// look at each byte.
const char* EnvelopeScanner::scan_string(const char* p, const char* end) {
  if (escape_) {
    if (p == end) return end;
    escape_ = false;
    ++p;  // the escaped byte
  }
  const char* const clean = p;
  const auto run_before = [clean](const char* at) {
    std::size_t n = 0;
    while (at > clean && at[-1] == '\\') {
      --at;
      ++n;
    }
    return n;
  };
  for (const char* from = p;;) {
    const char* q = static_cast<const char*>(std::memchr(from, '"', static_cast<std::size_t>(end - from)));
    if (!q) {
      escape_ = run_before(end) % 2 == 1;
      return end;
    }
    if (run_before(q) % 2 == 0) return q;
    from = q + 1;
  }
}

void EnvelopeScanner::keep(const char* p, const char* end) {
  if (in_key_) {
    if (key_.size() <= 16) key_.append(p, static_cast<std::size_t>(std::min<std::ptrdiff_t>(end - p, 17)));
    return;
  }
  if (value_ == Value::None || overflow_) return;
  const auto n = static_cast<std::size_t>(end - p);
  if (text_.size() + n > kEnvelopeValueBytes) {
    overflow_ = true;
    text_.clear();
    return;
  }
  text_.append(p, n);
}

void EnvelopeScanner::end_value() {
  if (value_ == Value::None) return;
  const json v = overflow_ ? json(json::value_t::discarded) : parse_json_or_discarded(text_);
  switch (value_) {
    case Value::Id:
      current_.id = !v.is_discarded() && (v.is_string() || v.is_number_integer()) ? v : json();
      break;
    case Value::Method:
      if (v.is_string()) current_.method = v.get<std::string>();
      break;
    case Value::Params:
      if (!v.is_discarded()) current_.params = v;
      break;
    case Value::None:
      break;
  }
  value_ = Value::None;
  text_.clear();
  overflow_ = false;
}

void EnvelopeScanner::body(const char* p, const char* end, const OnEnvelope& on_envelope) {
  while (p < end) {
    if (in_string_) {
      p = string_part(p, end);
    } else if (depth_ == 0 && *p == '[') {
      batch_ = true;  // members are one level deeper now
      depth_ = 1;
      ++p;
    } else {
      structural(p, on_envelope);
      ++p;
    }
  }
}

// Inside a string: up to its closing quote (or `end`); returns where to go on.
const char* EnvelopeScanner::string_part(const char* p, const char* end) {
  const char* q = scan_string(p, end);
  keep(p, q);
  if (q == end) return end;
  in_string_ = false;
  if (in_key_) {
    end_key();
  } else {
    keep(q, q + 1);  // the closing quote of a kept value
  }
  return q + 1;
}

// A member name of the message object was read: what it says of the message.
void EnvelopeScanner::end_key() {
  in_key_ = false;
  expect_key_ = false;
  after_key_ = true;
  if (key_ == "id") {
    current_.has_id = true;
  } else if (key_ == "method") {
    current_.has_method = true;
  } else if (key_ == "result" || key_ == "error") {
    current_.has_result_or_error = true;
  }
}

// One byte outside strings at *p.
void EnvelopeScanner::structural(const char* p, const OnEnvelope& on_envelope) {
  const char c = *p;
  const bool at_member = in_member_ && depth_ == member_depth();
  if (c == '"') {
    in_string_ = true;
    if (at_member && expect_key_) {
      in_key_ = true;
      key_.clear();
    } else {
      keep(p, p + 1);
    }
  } else if (c == '{' || c == '[') {
    open_bracket(p);
  } else if (c == '}' || c == ']') {
    close_bracket(p, at_member, on_envelope);
  } else if (c == ',' && at_member) {
    end_value();
    expect_key_ = true;
  } else if (c == ':' && at_member && after_key_) {
    after_key_ = false;
    value_ = key_ == "id"       ? Value::Id
             : key_ == "method" ? Value::Method
             : key_ == "params" ? Value::Params
                                : Value::None;
  } else {
    keep(p, p + 1);
  }
}

// '{' or '[' at *p: a message object starts, or a value goes one level deeper.
void EnvelopeScanner::open_bracket(const char* p) {
  if (*p == '{' && depth_ == member_depth() - 1 && !in_member_) {
    current_ = Envelope();
    in_member_ = true;
    expect_key_ = true;
    after_key_ = false;
  } else {
    keep(p, p + 1);
  }
  ++depth_;
}

// '}' or ']' at *p: the message object ends (it is reported), or a value one level up.
void EnvelopeScanner::close_bracket(const char* p, bool at_member, const OnEnvelope& on_envelope) {
  if (at_member && *p == '}') {
    end_value();
    in_member_ = false;
    on_envelope(current_);
  } else {
    keep(p, p + 1);
  }
  if (depth_ > 0) --depth_;
}

void EnvelopeScanner::end_frame() {
  depth_ = 0;
  batch_ = false;
  in_string_ = escape_ = in_member_ = expect_key_ = in_key_ = after_key_ = false;
  value_ = Value::None;
  key_.clear();
  text_.clear();
  overflow_ = false;
}

std::string frame_message(Framing framing, std::string body) {
  if (framing == Framing::ContentLength) {
    std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    out += body;
    return out;
  }
  body.push_back('\n');
  return body;
}

}  // namespace icotes
