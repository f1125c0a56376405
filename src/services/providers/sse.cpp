#include "icotes/sse.hpp"

#include <limits>

namespace icotes::sse {

namespace {

constexpr char kBom[] = "\xEF\xBB\xBF";

Error too_large(const char* what, std::size_t limit) {
  return make_error(error_code::kFrameTooLarge,
                    std::string("event stream: ") + what + " larger than " + std::to_string(limit) + " bytes");
}

}  // namespace

Status Parser::feed(std::string_view bytes, const OnEvent& on_event) {
  if (failed_) return make_error(error_code::kInternalError, "event stream: parser used after an error");
  // The byte order mark may itself arrive split: hold its prefix until a
  // byte that does not continue it, then give the prefix back as text.
  while (!bom_done_ && !bytes.empty()) {
    if (bytes.front() == kBom[bom_matched_]) {
      bytes.remove_prefix(1);
      if (++bom_matched_ == 3) bom_done_ = true;
      continue;
    }
    bom_done_ = true;
    if (bom_matched_ > 0) {
      if (Status s = consume(std::string_view(kBom, bom_matched_), on_event); !s) return s;
    }
  }
  if (!bom_done_) return ok_status();
  return consume(bytes, on_event);
}

Status Parser::consume(std::string_view bytes, const OnEvent& on_event) {
  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
        continue;
      }
    }
    const std::size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      if (partial_.size() + bytes.size() > limits_.max_line_bytes) {
        failed_ = true;
        return too_large("a line", limits_.max_line_bytes);
      }
      partial_.append(bytes);
      return ok_status();
    }
    if (partial_.size() + end > limits_.max_line_bytes) {
      failed_ = true;
      return too_large("a line", limits_.max_line_bytes);
    }
    after_cr_ = bytes[end] == '\r';
    Status s = ok_status();
    if (partial_.empty()) {
      s = line(bytes.substr(0, end), on_event);
    } else {
      partial_.append(bytes.substr(0, end));
      s = line(partial_, on_event);
      partial_.clear();
    }
    if (!s) {
      failed_ = true;
      return s;
    }
    bytes.remove_prefix(end + 1);
  }
  return ok_status();
}

Status Parser::line(std::string_view text, const OnEvent& on_event) {
  if (text.empty()) {
    // Dispatch: the last event ID is set even when no event fires.
    last_id_ = id_buffer_;
    if (data_.empty()) {
      type_.clear();
      return ok_status();
    }
    if (data_.back() == '\n') data_.pop_back();
    Event e;
    e.type = type_.empty() ? "message" : std::move(type_);
    e.data = std::move(data_);
    e.id = last_id_;
    data_.clear();
    type_.clear();
    on_event(std::move(e));
    return ok_status();
  }
  if (text.front() == ':') return ok_status();
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return field(text, {});
  std::string_view value = text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return field(text.substr(0, colon), value);
}

Status Parser::field(std::string_view name, std::string_view value) {
  if (name == "event") {
    type_.assign(value);
  } else if (name == "data") {
    if (data_.size() + value.size() + 1 > limits_.max_event_bytes) {
      return too_large("an event's data", limits_.max_event_bytes);
    }
    data_.append(value);
    data_.push_back('\n');
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) id_buffer_.assign(value);
  } else if (name == "retry") {
    if (value.empty()) return ok_status();
    std::uint64_t ms = 0;
    for (const char c : value) {
      if (c < '0' || c > '9') return ok_status();
      const auto digit = static_cast<std::uint64_t>(c - '0');
      // Past 2^64 the value saturates: any such delay means "never".
      ms = ms > (std::numeric_limits<std::uint64_t>::max() - digit) / 10 ? std::numeric_limits<std::uint64_t>::max()
                                                                         : ms * 10 + digit;
    }
    retry_ms_ = ms;
  }
  return ok_status();
}

void Parser::finish() {
  partial_.clear();
  data_.clear();
  type_.clear();
  after_cr_ = false;
}

}  // namespace icotes::sse
