// One streamed model call over HTTP, with the retries, the timeout and the
// cancellation every back end needs; the back end says what to send and
// decodes the event stream (a StreamDecoder made afresh for each attempt).
// Used by the openai, anthropic and gemini back ends (openai.cpp,
// anthropic.cpp, gemini.cpp).
//
// Retries (only before anything reached the sink): HTTP 429, 500, 502, 503,
// 504, 529, failed connections and stream failures the decoder marks
// retryable, after retry-after-ms / retry-after (seconds or an HTTP date, RFC
// 9110 section 10.2.3) when the server sends one, else retry_base * 2^attempt
// with jitter; a retry-after longer than max_retry_wait fails the call at
// once. The whole call, retries included, ends at the timeout; cancellation
// stops it within ~20 ms. Redirects are not followed (the key goes to
// base_url only); HTTPS verifies the server's certificate and host name
// against the system's CAs, or ca_file's; a failed verification is not
// retried. Proxies: proxy_for().
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
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

/// An HTTP proxy: requests to an http origin are sent to it, an https
/// origin is tunnelled through it (CONNECT).
struct Proxy {
  std::string host;
  int port = 1080;
  std::string user;  // basic authentication, when the URL has user[:password]@
  std::string password;
};

/// The host of an origin ("https://[::1]:8443" -> "::1"), lower-cased.
std::string origin_host(std::string_view origin);

/// True when `no_proxy` (curl's NO_PROXY rules: comma-separated names, each
/// matching the host itself or a host in its domain, a leading '.' ignored,
/// "*" alone matching all) exempts `host`.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host);

/// The proxy for requests to `origin` from the environment (provider.hpp:
/// https_proxy / HTTPS_PROXY or http_proxy / HTTP_PROXY by the origin's
/// scheme, else all_proxy / ALL_PROXY; no_proxy / NO_PROXY), or none.
/// Errors (kInvalidParams, naming the variable): a proxy URL that is not
/// http://[user[:password]@]host[:port] (a bare host[:port] is taken as
/// http).
Result<std::optional<Proxy>> proxy_for(std::string_view origin);

/// `config`'s base_url parsed, a copy of `config` with `default_base_url` when
/// it has none, and its API key (read_api_key): what a back end's factory
/// needs. Errors: as parse_base_url, read_api_key and proxy_for; no model,
/// a ca_file that cannot be read (kInvalidParams).
struct Setup {
  ProviderConfig config;
  BaseUrl base;
  std::string key;
  std::optional<Proxy> proxy;  // proxy_for(base.origin)
};
Result<Setup> setup(const ProviderConfig& config, std::string_view kind, std::string_view default_base_url = {});

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
  std::optional<Proxy> proxy;
  std::string secret;                // redacted from every error text
  std::string end_name = "its end";  // what ends a whole stream, for messages: "message_stop"
  bool end_is_event = false;         // whole once that event came, even if the connection then broke
  bool error_type = true;            // error bodies' {"error": {"type"}} goes into messages ("type: message")
  std::function<std::unique_ptr<Decoder>()> make_decoder;
};

/// Runs `call` under `config`'s retries, `timeout` (the whole call) and
/// `cancel`. Errors as Provider::chat says.
Result<ChatResult> run(const ProviderConfig& config, const Call& call, std::chrono::milliseconds timeout,
                       ChatSink& sink, const CancellationToken& cancel);

/// A back end over run(): chat() makes a Call with the model (the
/// request's, else the config's), the base URL's origin and path and the key
/// as the secret; prepare() adds the back end's part; run() sends it under
/// the request's timeout, else the config's.
class HttpProvider : public Provider {
 public:
  Result<ChatResult> chat(const ChatRequest& request, ChatSink& sink, const CancellationToken& cancel) final;

 protected:
  explicit HttpProvider(Setup s)
      : Provider(std::move(s.config)), base_(std::move(s.base)), key_(std::move(s.key)), proxy_(std::move(s.proxy)) {}

  /// Appends to call.path and sets the headers, the end and the decoder;
  /// returns the request body, or why the request cannot be sent.
  virtual Result<json> prepare(const ChatRequest& request, Call& call) = 0;

  const std::string& key() const { return key_; }

 private:
  BaseUrl base_;
  std::string key_;
  std::optional<Proxy> proxy_;
};

/// A back end's factory: P made from setup(config, kind, default_base_url).
template <class P>
Result<std::unique_ptr<Provider>> make(const ProviderConfig& config, std::string_view kind,
                                       std::string_view default_base_url = {}) {
  auto s = setup(config, kind, default_base_url);
  if (!s) return std::move(s).error();
  return std::unique_ptr<Provider>(std::make_unique<P>(std::move(*s)));
}

/// The provider's own message in an error body: {"error": {"type",
/// "message"}} ("type: message"), {"error": "..."}, {"message": "..."},
/// else the body's first 500 bytes with control characters blanked. Without
/// `with_type` the error object's message alone.
std::string provider_message(std::string_view body, bool with_type = true);

/// object[key] when it is an integer, else `fallback`.
std::int64_t integer_or(const json& object, const char* key, std::int64_t fallback);

/// object[key] when it is a string, else empty.
std::string string_or_empty(const json& object, const char* key);

}  // namespace icotes::providers::stream
