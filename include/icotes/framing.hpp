// Message framing, detected per connection from its first bytes
// (DESIGN.md section 4):
//   "Content-Length: N\r\n...\r\n\r\n<N bytes>"  LSP base protocol (LSP 3.17 "Base Protocol")
//   one JSON value per line                      MCP stdio transport, scripts
// FrameReader is fed raw bytes and hands out whole message bodies. A frame
// above the size limit is reported and skipped without being buffered whole.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "icotes/json.hpp"

namespace icotes {

enum class Framing { Unknown, ContentLength, NewlineDelimited };

inline constexpr std::size_t kDefaultMaxFrameBytes = 64u * 1024u * 1024u;

struct FrameError {
  enum class Kind { TooLarge, BadHeader };
  Kind kind;
  std::string message;
  json id;  // the request id when one could be read from the frame's start, else null
};

class FrameReader {
 public:
  using OnMessage = std::function<void(std::string&& body)>;
  using OnError = std::function<void(const FrameError&)>;

  explicit FrameReader(std::size_t max_frame_bytes = kDefaultMaxFrameBytes) : max_(max_frame_bytes) {}

  /// Consumes `data`, calling `on_message` for each whole body and `on_error`
  /// for each refused frame. Bytes of an incomplete frame are kept.
  void feed(std::string_view data, const OnMessage& on_message, const OnError& on_error);

  Framing framing() const noexcept { return framing_; }
  /// Bytes held for an incomplete frame.
  std::size_t buffered() const noexcept { return buf_.size(); }

 private:
  bool step(const OnMessage& on_message, const OnError& on_error);
  bool step_headers(const OnError& on_error);
  bool step_line(const OnMessage& on_message, const OnError& on_error);

  std::size_t max_;
  Framing framing_ = Framing::Unknown;
  std::string buf_;
  std::size_t scanned_ = 0;        // bytes of buf_ already searched for a delimiter
  std::optional<std::size_t> body_length_;  // LSP: header parsed, waiting for body
  std::size_t discard_ = 0;        // LSP: bytes of a refused body still to skip
  bool discard_line_ = false;      // NDJSON: skipping a refused line up to '\n'
};

/// Writes `body` framed as `framing` (ContentLength or NewlineDelimited).
/// Unknown framing is written newline-delimited.
std::string frame_message(Framing framing, std::string body);

/// Best effort: the value of the top-level object's "id" member in the first
/// 4096 bytes of a JSON text that could not be parsed whole: a string, or an
/// integer read whole (not "1e9", "1.5" or one beyond int64). Null when there
/// is none, for any other value, and for a batch (JSON-RPC 2.0 section 6).
json sniff_request_id(std::string_view text);

}  // namespace icotes
