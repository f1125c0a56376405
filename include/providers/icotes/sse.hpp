// An incremental parser for text/event-stream (server-sent events), by the
// WHATWG HTML Living Standard, section 9.2.6 "Interpreting an event stream":
// lines end in CRLF, LF or CR; a blank line dispatches the event; a line
// starting with ':' is a comment; "field: value" (one leading space of the
// value dropped) or a bare "field" with an empty value; the fields are event,
// data (several data lines are joined with "\n"), id (ignored when it holds
// U+0000) and retry (ASCII digits only, else ignored); other fields are
// ignored; one UTF-8 byte order mark at the start of the stream is skipped;
// an event not followed by a blank line when the stream ends is discarded.
//
// Bytes may arrive split anywhere (inside a line, between CR and LF, inside
// the byte order mark): feed() keeps what it has not finished. The bytes of
// values are passed through as they are (the standard decodes UTF-8 first;
// callers that parse the data as JSON reject ill-formed UTF-8 there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "icotes/result.hpp"

namespace icotes::sse {

/// One dispatched event.
struct Event {
  std::string type = "message";  // the event field, or "message" when none or empty
  std::string data;              // the data lines joined with "\n"
  std::string id;                // the last event ID at dispatch (it carries over events)
};

struct Limits {
  std::size_t max_line_bytes = 4u << 20;   // one line, its end excluded
  std::size_t max_event_bytes = 8u << 20;  // the data of one event
};

class Parser {
 public:
  using OnEvent = std::function<void(Event&&)>;

  explicit Parser(Limits limits = {}) : limits_(limits) {}

  /// Parses `bytes`, calling `on_event` for each event dispatched (in
  /// order, before returning). Errors (kFrameTooLarge): a line longer than
  /// max_line_bytes or an event's data larger than max_event_bytes; the
  /// parser is then unusable.
  Status feed(std::string_view bytes, const OnEvent& on_event);

  /// The end of the stream: a pending incomplete event is discarded.
  void finish();

  /// The reconnection time (ms) last set by a valid retry field.
  std::optional<std::uint64_t> retry_ms() const { return retry_ms_; }
  const std::string& last_event_id() const { return last_id_; }

 private:
  Status line(std::string_view text, const OnEvent& on_event);
  Status field(std::string_view name, std::string_view value);
  Status consume(std::string_view bytes, const OnEvent& on_event);

  Limits limits_;
  std::size_t bom_matched_ = 0;  // bytes of EF BB BF seen at the start
  bool bom_done_ = false;
  bool after_cr_ = false;  // the last byte fed ended a line with CR: skip one LF
  bool failed_ = false;
  std::string partial_;  // the current line's bytes so far
  std::string data_;
  std::string type_;
  std::string id_buffer_;
  std::string last_id_;
  std::optional<std::uint64_t> retry_ms_;
};

}  // namespace icotes::sse
