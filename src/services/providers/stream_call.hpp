// One streamed model call over HTTP, with the retries, the timeout and the
// cancellation every back end needs; the back end says what to send and
// decodes the event stream (a StreamDecoder made afresh for each attempt).
// Used by the anthropic and gemini back ends (anthropic.cpp, gemini.cpp).
//
// Retries (only before anything reached the sink): HTTP 429, 500, 502, 503,
// 504, 529, failed connections and stream failures the decoder marks
// retryable, after retry-after-ms / retry-after (seconds or an HTTP date, RFC
// 9110 section 10.2.3) when the server sends one, else retry_base * 2^attempt
// with jitter; a retry-after longer than max_retry_wait fails the call at
// once. The whole call, retries included, ends at the timeout; cancellation
// stops it within ~20 ms. Redirects are not followed (the key goes to
// base_url only); HTTPS verifies the server's certificate.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "icotes/provider.hpp"
#include "icotes/sse.hpp"

namespace icotes::providers::stream {

/// A base URL cut in two: scheme://host[:port] and its path without a
/// trailing '/'.
struct BaseUrl {
  std::string origin;
  std::string path;
};

/// Errors (kInvalidParams): not http(s), no host, a user, query or fragment.
Result<BaseUrl> parse_base_url(const ProviderConfig& config);

/// Decodes one attempt's event stream into the result and the sink.
class Decoder {
 public:
  virtual ~Decoder() = default;
  /// One event; sets `failure` (and `retryable`) to end the attempt.
  virtual void on_event(sse::Event&& event, ChatResult& result, ChatSink& sink) = 0;
  /// The stream ended with `complete` set and no failure: tool calls go out.
  virtual void finish(ChatResult& result, ChatSink& sink) = 0;

  bool streamed = false;   // something reached the sink: no retry
  bool complete = false;   // the stream said it is whole (message_stop, a finishReason)
  bool retryable = false;  // `failure` is the server's passing trouble (overloaded)
  std::string failure;
};

struct Call {
  std::string origin;
  std::string path;  // with its query
  httplib::Headers headers;
  std::string body;
  std::string model;
  std::string secret;                // redacted from every error text
  std::string end_name = "its end";  // what ends a whole stream, for messages: "message_stop"
  bool end_is_event = false;         // whole once that event came, even if the connection then broke
  std::function<std::unique_ptr<Decoder>()> make_decoder;
};

/// Runs `call` under `config`'s retries, `timeout` (the whole call) and
/// `cancel`. Errors as Provider::chat says.
Result<ChatResult> run(const ProviderConfig& config, const Call& call, std::chrono::milliseconds timeout,
                       ChatSink& sink, const CancellationToken& cancel);

/// The provider's own message in an error body: {"error": {"type",
/// "message"}} ("type: message"), {"error": "..."}, {"message": "..."},
/// else the body's first 500 bytes with control characters blanked.
std::string provider_message(std::string_view body);

/// object[key] when it is an integer, else `fallback`.
std::int64_t integer_or(const json& object, const char* key, std::int64_t fallback);

/// object[key] when it is a string, else empty.
std::string string_or_empty(const json& object, const char* key);

}  // namespace icotes::providers::stream
