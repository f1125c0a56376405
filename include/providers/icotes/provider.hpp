// Model providers: one interface for every back end (OpenAI-compatible
// Chat Completions, a scripted mock, ...), chosen by `kind` from the user's
// configuration through a registration table (provider_kinds()), so adding
// a back end is one row there and one file, never a switch elsewhere.
//
// Configuration lives only in the user's file, $XDG_CONFIG_HOME/icotes/
// config.toml (user_config_path()), never in a workspace's
// .icotes/config.toml, which a cloned repository controls:
//
//   [providers.local]                 # any name
//   kind = "openai"                   # a registered kind: anthropic | gemini | openai | mock
//   base_url = "http://127.0.0.1:11434/v1"
//   model = "qwen2.5-coder"
//   api_key_env = "LOCAL_API_KEY"     # or api_key_file = "~/.config/icotes/local.key"
//   # or preset = "ollama" (provider_presets()): kind, base_url and the key's
//   # variable filled in, each unless given;
//   # ca_file = "/path/ca.pem": the CAs an https base_url's certificate must
//   # chain to (else the system's);
//   # optional: timeout_ms (120000, the whole call), connect_timeout_ms (10000),
//   # max_retries (3), retry_base_ms (500), max_retry_wait_ms (30000);
//   # input_price, output_price: US dollars per million tokens, for a
//   # call's cost where the provider does not report it (with_cost());
//   # kind = "mock" reads script = "file.json" (relative to this file);
//   # kind = "anthropic" and "gemini" default base_url to the vendor's API
//   [agent]
//   provider = "local"                # the default provider
//
// HTTP(S) requests go through the proxy of https_proxy / HTTPS_PROXY (for an
// https base_url) or http_proxy / HTTP_PROXY (http), else all_proxy /
// ALL_PROXY, unless no_proxy / NO_PROXY lists the host (curl's rules: a
// comma-separated list of names, each matching the host itself and the
// hosts of its domain; a leading '.' is ignored; "*" alone matches every
// host). A proxy is http://[user:password@]host[:port] (port 1080 when
// absent); an https base_url is tunnelled through it with CONNECT.
//
// API keys are read when a provider is made, kept inside it, sent only to
// its base_url, never logged and replaced by "[redacted]" in error texts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/cancellation.hpp"
#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes::providers {

/// One tool call the model asked for, whole: `arguments` is the JSON text
/// the model produced (pieces joined; not validated).
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;
};

/// A tool the model may call: `parameters` is a JSON Schema object.
struct ToolSpec {
  std::string name;
  std::string description;
  json parameters = json::object();
};

/// One message of the conversation. role: "system", "user", "assistant"
/// (content and/or tool_calls) or "tool" (content answers tool_call_id).
struct Message {
  std::string role;
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::string tool_call_id;
};

struct ChatRequest {
  std::string model;  // empty: the provider's configured model
  std::vector<Message> messages;
  std::vector<ToolSpec> tools;
  std::optional<std::int64_t> max_tokens;
  std::optional<double> temperature;
  std::chrono::milliseconds timeout{0};  // the whole call, retries included; 0: the provider's
};

/// Token counts as the provider reports them (0 when it does not).
struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cached_input_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  /// What the call cost in US dollars, where known: the provider's own
  /// figure (OpenRouter's `usage.cost`, in its credits of one dollar), or
  /// the tokens at the configured prices (with_cost()). Summed over a run
  /// only while every call's is known.
  std::optional<double> cost_usd;
};

/// Why the model stopped, normalised; `raw` keeps the provider's word.
enum class StopReason { kEndTurn, kToolUse, kMaxTokens, kContentFilter, kOther };
std::string_view to_string(StopReason r);

/// Receives a call's output as it streams, on the calling thread, in order.
/// Tool calls arrive whole, after their last fragment.
class ChatSink {
 public:
  virtual ~ChatSink() = default;
  virtual void on_text(std::string_view delta) = 0;
  virtual void on_reasoning(std::string_view /*delta*/) {}
  virtual void on_tool_call(const ToolCall& /*call*/) {}
  virtual void on_usage(const Usage& /*usage*/) {}
};

/// A sink that keeps nothing.
class NullSink : public ChatSink {
 public:
  void on_text(std::string_view) override {}
};

/// What one call produced, whole (the same as was streamed to the sink).
struct ChatResult {
  std::string model;  // as the provider named it, else the model asked for
  std::string text;
  std::string reasoning;
  std::vector<ToolCall> tool_calls;
  Usage usage;
  StopReason stop = StopReason::kEndTurn;
  std::string stop_raw;
  int attempts = 1;  // HTTP requests made (retries + 1)
};

/// One configured provider, as read from [providers.<name>].
struct ProviderConfig {
  std::string name;
  std::string kind;
  std::string base_url;
  std::string model;
  std::string api_key_env;                    // the environment variable holding the key
  std::string api_key_file;                   // a file holding the key ("~/" is $HOME)
  std::string script;                         // mock: the JSON script file
  std::string preset;                         // the preset it was filled from (provider_presets()), or empty
  std::string ca_file;                        // PEM CA certificates for https (empty: the system's)
  std::chrono::milliseconds timeout{120000};  // one call, retries included
  std::chrono::milliseconds connect_timeout{10000};
  int max_retries = 3;                              // on 429, 5xx, 529 and failed connections
  std::chrono::milliseconds retry_base{500};        // backoff: base * 2^attempt, jittered
  std::chrono::milliseconds max_retry_wait{30000};  // a longer retry-after fails the call at once
  std::uint32_t line = 0;                           // where the table starts in the file (messages)
  /// US dollars per million tokens, as providers' price pages list them
  /// ([providers.NAME] input_price, output_price); unset: not known.
  std::optional<double> input_price;
  std::optional<double> output_price;
};

/// `usage` with its cost filled in: the provider's own figure when it gave
/// one, else the tokens at `config`'s prices when both are set, else none.
Usage with_cost(const ProviderConfig& config, Usage usage);

/// The [providers.*] tables and [agent] provider of the user's file.
struct ProvidersConfig {
  std::string path;  // the file read (may not exist)
  std::map<std::string, ProviderConfig> providers;
  std::string default_provider;  // [agent] provider, else the only one, else empty
};

/// A well-known OpenAI-compatible service: `preset = "<name>"` in a
/// [providers.NAME] table sets kind = "openai", base_url and api_key_env
/// (empty for the local servers, which take no key), each unless the table
/// gives it.
struct ProviderPreset {
  std::string_view name;
  std::string_view base_url;
  std::string_view api_key_env;
};
/// Every preset, by name: openai, groq, deepseek, together, openrouter (keys
/// from OPENAI_API_KEY, GROQ_API_KEY, DEEPSEEK_API_KEY, TOGETHER_API_KEY,
/// OPENROUTER_API_KEY) and ollama, llama-server, vllm (on 127.0.0.1, no key).
const std::vector<ProviderPreset>& provider_presets();

/// $XDG_CONFIG_HOME/icotes/config.toml (an absolute XDG_CONFIG_HOME; the
/// XDG Base Directory spec ignores a relative one), else
/// $HOME/.config/icotes/config.toml; empty when neither is set.
std::string user_config_path();

/// Reads the providers from the TOML file at `path` (missing: none).
/// Errors (kInvalidParams): unreadable or invalid TOML, a provider without
/// kind or preset, a kind no back end registered, a key of the wrong type, both
/// api_key_env and api_key_file, an unknown preset or one with a kind other
/// than "openai", [agent] provider naming no provider.
Result<ProvidersConfig> load_providers_config(const std::string& path);

/// Where the key comes from and whether it is there, for listings: never
/// the key itself.
struct KeyStatus {
  std::string source;  // "env:NAME", "file:PATH" or "none"
  bool present = false;
};
KeyStatus key_status(const ProviderConfig& config);

/// Reads the key named by the configuration: empty when none is configured.
/// Errors (kInvalidParams): the variable is unset or empty, the file cannot
/// be read, is larger than 64 KiB or empty. The key never appears in them.
Result<std::string> read_api_key(const ProviderConfig& config);

/// `text` with every occurrence of `secret` (when not empty) replaced by
/// "[redacted]".
std::string redact(std::string text, std::string_view secret);

class Provider {
 public:
  virtual ~Provider() = default;
  const ProviderConfig& config() const { return config_; }

  /// One model call. Streams to `sink` and returns the whole of it.
  /// Cancellation and the timeout end the call promptly (the HTTP request is
  /// abandoned). Retries happen only before anything reached the sink.
  /// Errors: kRequestCancelled when cancelled; kRequestFailed for the
  /// provider's refusals and transport failures, the message naming the
  /// provider, the model, the HTTP status and the provider's own message,
  /// data {provider, model, status?, attempts}.
  virtual Result<ChatResult> chat(const ChatRequest& request, ChatSink& sink, const CancellationToken& cancel) = 0;

 protected:
  explicit Provider(ProviderConfig config) : config_(std::move(config)) {}
  ProviderConfig config_;
};

/// What the asking client lends a provider: the `client` kind sends MCP
/// sampling/createMessage (MCP 2025-06-18 and later, "Sampling") through
/// `sample` to the connected host, whose own model answers. `sample` is null
/// when the asking client did not declare the `sampling` capability;
/// `sampling_tools` when it declared `sampling.tools` (MCP 2025-11-25).
/// `sample` returns the CreateMessageResult, or the client's error.
struct ProviderHost {
  std::function<Result<json>(const json& params, const CancellationToken& cancel)> sample;
  bool sampling_tools = false;
};

using ProviderFactory = std::function<Result<std::unique_ptr<Provider>>(const ProviderConfig&, const ProviderHost&)>;

/// The registration table: kind -> factory, one row per back end
/// (src/services/providers/kinds.cpp).
const std::map<std::string, ProviderFactory, std::less<>>& provider_kinds();

/// Makes the provider `config` describes, lent `host` (the `client` kind
/// needs its `sample`). Errors: an unknown kind (kInvalidParams), the back
/// end's own (a missing key, a bad base_url or script, no sampling client).
Result<std::unique_ptr<Provider>> make_provider(const ProviderConfig& config, const ProviderHost& host = {});

/// The provider a call names, made: `name` (empty: the configuration's
/// default_provider) from `config`, with `model` (when not empty) in place
/// of the configured one. The name "client" needs no table: it is the
/// `client` kind (the connected MCP host's model). Errors (kInvalidParams):
/// no name and no default ("no provider configured: add [providers.NAME] to
/// <path>"), a name the file does not define (listing the ones it does),
/// make_provider's.
Result<std::unique_ptr<Provider>> select_provider(const ProvidersConfig& config, std::string_view name,
                                                  std::string_view model, const ProviderHost& host = {});

}  // namespace icotes::providers
