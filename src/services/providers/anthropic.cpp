// kind = "anthropic": the Anthropic Messages API (POST <base_url>/v1/messages,
// default base_url https://api.anthropic.com), streamed. Headers x-api-key and
// anthropic-version: 2023-06-01.
//
// The request: "system" is a list of one text block (the system messages
// joined) and "tools" the tool definitions ({name, description,
// input_schema}); both carry the prompt-caching marker cache_control
// {"type": "ephemeral"} (on the system block and on the last tool), so the
// stable prefix (tools, then system) is cached between turns. Assistant tool
// calls go back as tool_use blocks ({id, name, input}); tool results as
// tool_result blocks ({tool_use_id, content}) in a user message, consecutive
// ones together. max_tokens is required by the API: 8192 unless asked.
//
// The response is an event stream: message_start (message.model,
// message.usage), then per content block content_block_start (index,
// content_block {type: text | tool_use {id, name} | thinking}),
// content_block_delta (delta text_delta.text, input_json_delta.partial_json,
// thinking_delta.thinking, signature_delta), content_block_stop; then
// message_delta (delta.stop_reason, usage with the final output_tokens) and
// message_stop. ping events may come anywhere; an error event
// ({"type": "error", "error": {"type", "message"}}) ends the stream. Tool
// calls go to the sink whole once message_stop came. Usage: input_tokens is
// input_tokens + cache_read_input_tokens + cache_creation_input_tokens (all
// the prompt, as the OpenAI back end counts it); cached_input_tokens is
// cache_read_input_tokens.
#include <map>

#include "http_backends.hpp"
#include "stream_call.hpp"

namespace icotes::providers {

namespace {

constexpr const char* kDefaultBaseUrl = "https://api.anthropic.com";
constexpr const char* kApiVersion = "2023-06-01";
constexpr std::int64_t kDefaultMaxTokens = 8192;

const json kEphemeral = {{"type", "ephemeral"}};

json text_block(const std::string& text) { return {{"type", "text"}, {"text", text}}; }

// Adds `blocks` as a message of `role`, joined to the previous one when it
// has the same role (the API wants user and assistant turns to alternate).
void append_turn(json& messages, const char* role, json blocks) {
  if (!messages.empty() && messages.back()["role"] == role) {
    for (json& b : blocks) messages.back()["content"].push_back(std::move(b));
    return;
  }
  messages.push_back({{"role", role}, {"content", std::move(blocks)}});
}

json assistant_blocks(const Message& m) {
  json blocks = json::array();
  if (!m.content.empty()) blocks.push_back(text_block(m.content));
  for (const ToolCall& t : m.tool_calls) {
    json input = json::parse(t.arguments.empty() ? "{}" : t.arguments, nullptr, false);
    if (!input.is_object()) input = json::object();  // the API takes an object only
    blocks.push_back({{"type", "tool_use"}, {"id", t.id}, {"name", t.name}, {"input", std::move(input)}});
  }
  return blocks;
}

// The messages, and the system messages joined into `system`.
json messages_of(const ChatRequest& r, std::string& system) {
  json messages = json::array();
  for (const Message& m : r.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else if (m.role == "tool") {
      append_turn(messages, "user",
                  json::array({{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}}}));
    } else if (m.role == "assistant") {
      // An empty turn is left out: the API refuses empty text blocks.
      if (json blocks = assistant_blocks(m); !blocks.empty()) append_turn(messages, "assistant", std::move(blocks));
    } else {
      append_turn(messages, "user", json::array({text_block(m.content)}));
    }
  }
  return messages;
}

json request_body(const ChatRequest& r, const std::string& model) {
  std::string system;
  json body = {{"model", model},
               {"max_tokens", r.max_tokens.value_or(kDefaultMaxTokens)},
               {"messages", messages_of(r, system)},
               {"stream", true}};
  if (!system.empty()) {
    json block = text_block(system);
    block["cache_control"] = kEphemeral;
    body["system"] = json::array({std::move(block)});
  }
  if (!r.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : r.tools) {
      tools.push_back({{"name", t.name}, {"description", t.description}, {"input_schema", t.parameters}});
    }
    tools.back()["cache_control"] = kEphemeral;
    body["tools"] = std::move(tools);
  }
  if (r.temperature) body["temperature"] = *r.temperature;
  return body;
}

StopReason stop_from(std::string_view s) {
  if (s == "end_turn" || s == "stop_sequence") return StopReason::kEndTurn;
  if (s == "tool_use") return StopReason::kToolUse;
  if (s == "max_tokens") return StopReason::kMaxTokens;
  if (s == "refusal") return StopReason::kContentFilter;
  return StopReason::kOther;
}

// Server-side trouble worth another attempt when it comes before anything
// was streamed (an error event right after message_start).
bool retryable_error(std::string_view type) {
  return type == "overloaded_error" || type == "api_error" || type == "rate_limit_error";
}

class MessagesDecoder final : public stream::Decoder {
 public:
  void on_event(sse::Event&& e, ChatResult& result, ChatSink& sink) override {
    if (complete) return;  // nothing follows message_stop
    const json j = json::parse(e.data, nullptr, false);
    if (!j.is_object()) {
      failure = "a stream event is not a JSON object: " + stream::provider_message(e.data);
      return;
    }
    const std::string type = stream::string_or_empty(j, "type");
    if (type == "message_start") {
      on_message_start(j, result);
    } else if (type == "content_block_start") {
      on_block_start(j);
    } else if (type == "content_block_delta") {
      on_block_delta(j, result, sink);
    } else if (type == "message_delta") {
      on_message_delta(j, result);
    } else if (type == "message_stop") {
      complete = true;
    } else if (type == "error") {
      const auto err = j.find("error");
      retryable = err != j.end() && err->is_object() && retryable_error(stream::string_or_empty(*err, "type"));
      failure = "error in the stream: " + stream::provider_message(e.data);
    }
    // ping, content_block_stop and event types added later: nothing to do.
  }

  void finish(ChatResult& result, ChatSink& sink) override {
    result.usage.input_tokens = input_ + cache_read_ + cache_write_;
    result.usage.cached_input_tokens = cache_read_;
    result.usage.output_tokens = output_;
    sink.on_usage(result.usage);
    for (auto& [_, call] : calls_) {
      if (call.arguments.empty()) call.arguments = "{}";
      sink.on_tool_call(call);
      result.tool_calls.push_back(std::move(call));
    }
    if (result.stop_raw.empty()) result.stop = calls_.empty() ? StopReason::kEndTurn : StopReason::kToolUse;
  }

 private:
  void on_message_start(const json& j, ChatResult& result) {
    const auto m = j.find("message");
    if (m == j.end() || !m->is_object()) return;
    if (std::string model = stream::string_or_empty(*m, "model"); !model.empty()) result.model = std::move(model);
    if (const auto u = m->find("usage"); u != m->end() && u->is_object()) add_usage(*u);
  }

  void on_block_start(const json& j) {
    const auto b = j.find("content_block");
    if (b == j.end() || !b->is_object() || stream::string_or_empty(*b, "type") != "tool_use") return;
    ToolCall& call = calls_[stream::integer_or(j, "index", 0)];
    call.id = stream::string_or_empty(*b, "id");
    call.name = stream::string_or_empty(*b, "name");
    streamed = true;
  }

  void on_block_delta(const json& j, ChatResult& result, ChatSink& sink) {
    const auto d = j.find("delta");
    if (d == j.end() || !d->is_object()) return;
    const std::string kind = stream::string_or_empty(*d, "type");
    if (kind == "text_delta") {
      const std::string text = stream::string_or_empty(*d, "text");
      if (text.empty()) return;
      result.text += text;
      streamed = true;
      sink.on_text(text);
    } else if (kind == "thinking_delta") {
      const std::string thinking = stream::string_or_empty(*d, "thinking");
      if (thinking.empty()) return;
      result.reasoning += thinking;
      streamed = true;
      sink.on_reasoning(thinking);
    } else if (kind == "input_json_delta") {
      calls_[stream::integer_or(j, "index", 0)].arguments += stream::string_or_empty(*d, "partial_json");
      streamed = true;
    }
  }

  void on_message_delta(const json& j, ChatResult& result) {
    if (const auto d = j.find("delta"); d != j.end() && d->is_object()) {
      if (std::string stop = stream::string_or_empty(*d, "stop_reason"); !stop.empty()) {
        result.stop = stop_from(stop);
        result.stop_raw = std::move(stop);
      }
    }
    if (const auto u = j.find("usage"); u != j.end() && u->is_object()) add_usage(*u);
  }

  // message_start has the input counts, message_delta the final (cumulative)
  // output count and sometimes the input counts again: the last value wins.
  void add_usage(const json& u) {
    input_ = stream::integer_or(u, "input_tokens", input_);
    output_ = stream::integer_or(u, "output_tokens", output_);
    cache_read_ = stream::integer_or(u, "cache_read_input_tokens", cache_read_);
    cache_write_ = stream::integer_or(u, "cache_creation_input_tokens", cache_write_);
  }

  std::map<std::int64_t, ToolCall> calls_;  // by content block index
  std::int64_t input_ = 0, output_ = 0, cache_read_ = 0, cache_write_ = 0;
};

class AnthropicProvider final : public stream::HttpProvider {
 public:
  explicit AnthropicProvider(stream::Setup s) : HttpProvider(std::move(s)) {}

 private:
  Result<json> prepare(const ChatRequest& request, stream::Call& call) override {
    call.path += "/v1/messages";
    call.headers = {{"anthropic-version", kApiVersion}};
    if (!key().empty()) call.headers.emplace("x-api-key", key());
    call.end_name = "message_stop";
    call.end_is_event = true;
    call.make_decoder = [] { return std::make_unique<MessagesDecoder>(); };
    return request_body(request, call.model);
  }
};

}  // namespace

Result<std::unique_ptr<Provider>> make_anthropic_backend(const ProviderConfig& config, const ProviderHost& /*host*/) {
  return stream::make<AnthropicProvider>(config, "anthropic", kDefaultBaseUrl);
}

}  // namespace icotes::providers
