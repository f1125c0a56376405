// Message framing, detected per connection from its first bytes
// (docs/ARCHITECTURE.md#framing):
//   "Content-Length: N\r\n...\r\n\r\n<N bytes>"  LSP base protocol (LSP 3.17 "Base Protocol")
//   one JSON value per line                      MCP stdio transport, scripts
// FrameReader is fed raw bytes and hands out whole message bodies. A frame
// above the size limit is reported and skipped without being buffered whole.
#pragma once

#include <cstddef>
#include <cstdint>
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
  /// Changes the size limit for the frames that follow (a TCP connection
  /// reads its first message under a small one: tcp.hpp). An LSP header
  /// block is refused past min(64 KiB, the limit).
  void set_max_frame_bytes(std::size_t max) noexcept { max_ = max; }
  std::size_t max_frame_bytes() const noexcept { return max_; }

 private:
  bool step(const OnMessage& on_message, const OnError& on_error);
  bool step_headers(const OnError& on_error);
  bool step_line(const OnMessage& on_message, const OnError& on_error);

  std::size_t max_;
  Framing framing_ = Framing::Unknown;
  std::string buf_;
  std::size_t scanned_ = 0;                 // bytes of buf_ already searched for a delimiter
  std::optional<std::size_t> body_length_;  // LSP: header parsed, waiting for body
  std::size_t discard_ = 0;                 // LSP: bytes of a refused body still to skip
  bool discard_line_ = false;               // NDJSON: skipping a refused line up to '\n'
};

/// Bytes that complete a frame cut short, so that what follows them is read
/// as a frame of its own: `text` (the rest of an LSP header, or the newline
/// ending a partial line), then `spaces` spaces (the missing body bytes of a
/// Content-Length frame, which JSON allows as trailing whitespace, RFC 8259
/// section 2). Spaces are counted rather than held: a header may declare a
/// length of gigabytes.
struct FrameFiller {
  std::string text;
  std::uint64_t spaces = 0;
  bool empty() const noexcept { return text.empty() && spaces == 0; }
  bool operator==(const FrameFiller&) const = default;
};

/// What EnvelopeScanner reads of one JSON-RPC message (JSON-RPC 2.0
/// sections 4 and 5): its kind and id, and its method and params when short.
struct Envelope {
  bool has_method = false;  ///< a request or a notification
  bool has_id = false;
  bool has_result_or_error = false;  ///< a response
  std::string method;                ///< the method when a string (of at most kEnvelopeValueBytes of JSON)
  json id;                           ///< a string or an integer; null for an id of any other type or length
  json params;                       ///< when at most kEnvelopeValueBytes of JSON, else null
  bool is_request() const { return has_method && has_id; }
  bool is_response() const { return !has_method && has_id && has_result_or_error; }
};

/// Longest JSON text of an id, method or params that Envelope keeps.
inline constexpr std::size_t kEnvelopeValueBytes = 4096;

/// Follows a stream of framed JSON-RPC messages (either framing, detected
/// as FrameReader does) in one pass and without keeping bodies: each message,
/// and each member of a batch, is reported when its object closes, whatever
/// the order of its members or the size of its params. For the launcher
/// that forwards stdio to the daemon (daemon.hpp): which requests are still
/// waiting for an answer. Never throws; invalid JSON reports what it can.
class EnvelopeScanner {
 public:
  using OnEnvelope = std::function<void(const Envelope&)>;
  void feed(std::string_view data, const OnEnvelope& on_envelope);
  Framing framing() const noexcept { return framing_; }
  /// Bytes that end the frame in progress, so that what is written after
  /// them is read as a new frame: the missing body bytes of a Content-Length
  /// frame as spaces, or a newline after a partial line. Empty between
  /// frames, and inside an LSP header block (which cannot be completed).
  /// Counted, not built: a header may declare any length.
  FrameFiller frame_filler() const;

 private:
  const char* feed_line(const char* p, const char* end, const OnEnvelope& on_envelope);
  const char* feed_body(const char* p, const char* end, const OnEnvelope& on_envelope);
  const char* feed_header(const char* p);
  void body(const char* p, const char* end, const OnEnvelope& on_envelope);
  const char* string_part(const char* p, const char* end);
  void end_key();
  void structural(const char* p, const OnEnvelope& on_envelope);
  void open_bracket(const char* p);
  void close_bracket(const char* p, bool at_member, const OnEnvelope& on_envelope);
  int member_depth() const noexcept { return batch_ ? 2 : 1; }  // the message objects' level
  const char* scan_string(const char* p, const char* end);
  void keep(const char* p, const char* end);
  void end_value();
  void end_frame();

  Framing framing_ = Framing::Unknown;
  // Content-Length framing
  std::string header_;
  std::size_t body_left_ = 0;
  bool in_body_ = false;
  // newline-delimited framing
  bool in_line_ = false;
  // the body's JSON
  enum class Value { None, Id, Method, Params };
  int depth_ = 0;
  bool batch_ = false;
  bool in_string_ = false;
  bool escape_ = false;        // the next byte of the string is escaped
  bool in_member_ = false;     // inside a message object
  bool expect_key_ = false;    // a string at the message object's level now is a key
  bool in_key_ = false;        // reading a key
  bool after_key_ = false;     // a key was read; its ':' is next
  Value value_ = Value::None;  // the member whose value's text is being kept
  std::string key_;
  std::string text_;  // that value's JSON text so far
  bool overflow_ = false;
  Envelope current_;
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
