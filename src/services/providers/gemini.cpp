// kind = "gemini": the Gemini API's streamGenerateContent (POST
// <base_url>/v1beta/models/<model>:streamGenerateContent?alt=sse, default
// base_url https://generativelanguage.googleapis.com), the key in the
// x-goog-api-key header.
//
// The request: "contents" (role "user" or "model", each a list of parts),
// "systemInstruction" ({parts: [{text}]}: the system messages joined),
// "tools" ([{functionDeclarations: [{name, description,
// parametersJsonSchema}]}]: the tool's JSON Schema as it is) and
// "generationConfig" (maxOutputTokens, temperature). Assistant tool calls go
// back as functionCall parts ({name, args}); tool results as user
// functionResponse parts ({name, response: {output}}), consecutive ones
// together; the name is the call's, found by the tool_call_id.
//
// The response is an event stream whose every event's data is a
// GenerateContentResponse: candidates[0].content.parts[] with text (a part
// with "thought": true is reasoning) or functionCall {name, args, id?},
// candidates[0].finishReason, usageMetadata (promptTokenCount,
// candidatesTokenCount, thoughtsTokenCount, cachedContentTokenCount: the last
// one sent counts), modelVersion, promptFeedback.blockReason. There is no
// end marker: the call is whole when a finishReason came and the stream
// ended cleanly. Calls without an id get one ("icotes-gemini-<n>"); a
// functionCall part's thoughtSignature is kept by the provider (the last
// 1024) and sent back with the part when the call returns in the history.
// Usage: output_tokens is candidatesTokenCount + thoughtsTokenCount (as the
// OpenAI back end counts reasoning), reasoning_tokens thoughtsTokenCount.
#include <atomic>
#include <deque>
#include <map>
#include <mutex>

#include "http_backends.hpp"
#include "stream_call.hpp"

namespace icotes::providers {

namespace {

constexpr const char* kDefaultBaseUrl = "https://generativelanguage.googleapis.com";
constexpr std::string_view kOurIdPrefix = "icotes-gemini-";
constexpr std::size_t kMaxSignatures = 1024;

// functionCall thought signatures by call id, bounded (oldest out first).
class Signatures {
 public:
  void put(const std::string& id, std::string signature) {
    std::lock_guard lock(m_);
    if (!by_id_.contains(id)) order_.push_back(id);
    by_id_[id] = std::move(signature);
    while (order_.size() > kMaxSignatures) {
      by_id_.erase(order_.front());
      order_.pop_front();
    }
  }
  std::string get(const std::string& id) const {
    std::lock_guard lock(m_);
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? std::string() : it->second;
  }

 private:
  mutable std::mutex m_;
  std::map<std::string, std::string> by_id_;
  std::deque<std::string> order_;
};

void append_turn(json& contents, const char* role, json part) {
  if (!contents.empty() && contents.back()["role"] == role) {
    contents.back()["parts"].push_back(std::move(part));
    return;
  }
  contents.push_back({{"role", role}, {"parts", json::array({std::move(part)})}});
}

// The model's parts for an assistant message; remembers each call's name.
void add_assistant(json& contents, const Message& m, const Signatures& signatures,
                   std::map<std::string, std::string>& call_names) {
  if (!m.content.empty()) append_turn(contents, "model", {{"text", m.content}});  // no empty parts
  for (const ToolCall& t : m.tool_calls) {
    call_names[t.id] = t.name;
    json args = json::parse(t.arguments.empty() ? "{}" : t.arguments, nullptr, false);
    if (!args.is_object()) args = json::object();
    json call = {{"name", t.name}, {"args", std::move(args)}};
    if (!t.id.starts_with(kOurIdPrefix)) call["id"] = t.id;
    json part = {{"functionCall", std::move(call)}};
    if (std::string sig = signatures.get(t.id); !sig.empty()) part["thoughtSignature"] = std::move(sig);
    append_turn(contents, "model", std::move(part));
  }
}

// The contents, and the system messages joined into `system`.
json contents_of(const ChatRequest& r, const Signatures& signatures, std::string& system) {
  std::map<std::string, std::string> call_names;  // tool_call_id -> name
  json contents = json::array();
  for (const Message& m : r.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else if (m.role == "tool") {
      json response = {{"name", call_names[m.tool_call_id]}, {"response", {{"output", m.content}}}};
      if (!m.tool_call_id.starts_with(kOurIdPrefix)) response["id"] = m.tool_call_id;
      append_turn(contents, "user", {{"functionResponse", std::move(response)}});
    } else if (m.role == "assistant") {
      add_assistant(contents, m, signatures, call_names);
    } else {
      append_turn(contents, "user", {{"text", m.content}});
    }
  }
  return contents;
}

json request_body(const ChatRequest& r, const Signatures& signatures) {
  std::string system;
  json body = {{"contents", contents_of(r, signatures, system)}};
  if (!system.empty()) body["systemInstruction"] = {{"parts", json::array({{{"text", system}}})}};
  if (!r.tools.empty()) {
    json declarations = json::array();
    for (const ToolSpec& t : r.tools) {
      // parametersJsonSchema takes JSON Schema as it is ("parameters" takes
      // an OpenAPI subset that refuses keys such as additionalProperties).
      declarations.push_back(
          {{"name", t.name}, {"description", t.description}, {"parametersJsonSchema", t.parameters}});
    }
    body["tools"] = json::array({{{"functionDeclarations", std::move(declarations)}}});
  }
  json generation = json::object();
  if (r.max_tokens) generation["maxOutputTokens"] = *r.max_tokens;
  if (r.temperature) generation["temperature"] = *r.temperature;
  if (!generation.empty()) body["generationConfig"] = std::move(generation);
  return body;
}

StopReason stop_from(std::string_view s) {
  if (s == "STOP") return StopReason::kEndTurn;
  if (s == "MAX_TOKENS") return StopReason::kMaxTokens;
  if (s == "SAFETY" || s == "RECITATION" || s == "BLOCKLIST" || s == "PROHIBITED_CONTENT" || s == "SPII" ||
      s == "IMAGE_SAFETY") {
    return StopReason::kContentFilter;
  }
  return StopReason::kOther;
}

class GenerateDecoder final : public stream::Decoder {
 public:
  GenerateDecoder(Signatures& signatures, std::atomic<std::uint64_t>& next_id)
      : signatures_(signatures), next_id_(next_id) {}

  void on_event(sse::Event&& e, ChatResult& result, ChatSink& sink) override {
    const json j = json::parse(e.data, nullptr, false);
    if (!j.is_object()) {
      failure = "a stream event is not a JSON object: " + stream::provider_message(e.data);
      return;
    }
    if (const auto err = j.find("error"); err != j.end() && !err->is_null()) {
      const std::string status = err->is_object() ? stream::string_or_empty(*err, "status") : std::string();
      retryable = status == "UNAVAILABLE" || status == "INTERNAL" || status == "RESOURCE_EXHAUSTED";
      failure = "error in the stream: " + stream::provider_message(e.data);
      return;
    }
    if (std::string v = stream::string_or_empty(j, "modelVersion"); !v.empty()) result.model = std::move(v);
    if (const auto f = j.find("promptFeedback"); f != j.end() && f->is_object()) {
      if (const std::string reason = stream::string_or_empty(*f, "blockReason"); !reason.empty()) {
        failure = "the prompt was blocked: " + reason;
        return;
      }
    }
    if (const auto u = j.find("usageMetadata"); u != j.end() && u->is_object()) on_usage(*u);
    const auto candidates = j.find("candidates");
    if (candidates == j.end() || !candidates->is_array()) return;
    for (const json& c : *candidates) {
      if (c.is_object() && stream::integer_or(c, "index", 0) == 0) on_candidate(c, result, sink);  // one asked for
    }
  }

  void finish(ChatResult& result, ChatSink& sink) override {
    result.usage = usage_;
    sink.on_usage(result.usage);
    for (auto& [call, signature] : calls_) {
      if (!signature.empty()) signatures_.put(call.id, std::move(signature));
      sink.on_tool_call(call);
      result.tool_calls.push_back(std::move(call));
    }
    // Gemini says STOP after function calls too.
    if (!result.tool_calls.empty() && result.stop == StopReason::kEndTurn) result.stop = StopReason::kToolUse;
  }

 private:
  void on_usage(const json& u) {
    const std::int64_t thoughts = stream::integer_or(u, "thoughtsTokenCount", 0);
    usage_.input_tokens = stream::integer_or(u, "promptTokenCount", usage_.input_tokens);
    usage_.output_tokens = stream::integer_or(u, "candidatesTokenCount", 0) + thoughts;
    usage_.cached_input_tokens = stream::integer_or(u, "cachedContentTokenCount", 0);
    usage_.reasoning_tokens = thoughts;
  }

  void on_candidate(const json& c, ChatResult& result, ChatSink& sink) {
    if (const auto content = c.find("content"); content != c.end() && content->is_object()) {
      if (const auto parts = content->find("parts"); parts != content->end() && parts->is_array()) {
        for (const json& part : *parts) {
          if (part.is_object()) on_part(part, result, sink);
        }
      }
    }
    if (std::string finish = stream::string_or_empty(c, "finishReason"); !finish.empty()) {
      result.stop = stop_from(finish);
      result.stop_raw = std::move(finish);
      complete = true;
    }
  }

  void on_part(const json& part, ChatResult& result, ChatSink& sink) {
    if (const auto fc = part.find("functionCall"); fc != part.end() && fc->is_object()) {
      ToolCall call;
      call.id = stream::string_or_empty(*fc, "id");
      if (call.id.empty()) call.id = std::string(kOurIdPrefix) + std::to_string(++next_id_);
      call.name = stream::string_or_empty(*fc, "name");
      const auto args = fc->find("args");
      call.arguments = args != fc->end() && args->is_object() ? args->dump() : "{}";
      calls_.emplace_back(std::move(call), stream::string_or_empty(part, "thoughtSignature"));
      streamed = true;
      return;
    }
    const std::string text = stream::string_or_empty(part, "text");
    if (text.empty()) return;
    streamed = true;
    if (const auto t = part.find("thought"); t != part.end() && t->is_boolean() && t->get<bool>()) {
      result.reasoning += text;
      sink.on_reasoning(text);
    } else {
      result.text += text;
      sink.on_text(text);
    }
  }

  Signatures& signatures_;
  std::atomic<std::uint64_t>& next_id_;
  std::vector<std::pair<ToolCall, std::string>> calls_;  // with their thought signatures
  Usage usage_;
};

bool valid_model_name(std::string_view m) {
  if (m.empty()) return false;
  for (const char c : m) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

class GeminiProvider final : public stream::HttpProvider {
 public:
  explicit GeminiProvider(stream::Setup s) : HttpProvider(std::move(s)) {}

 private:
  Result<json> prepare(const ChatRequest& request, stream::Call& call) override {
    if (call.model.starts_with("models/")) call.model.erase(0, 7);
    if (!valid_model_name(call.model)) {
      return make_error(error_code::kInvalidParams, "provider \"" + config_.name + "\": model \"" + call.model +
                                                        "\" is not a model name (letters, digits, '-', '.', '_')");
    }
    call.path += "/v1beta/models/" + call.model + ":streamGenerateContent?alt=sse";
    if (!key().empty()) call.headers.emplace("x-goog-api-key", key());
    call.end_name = "a finishReason";
    call.make_decoder = [this] { return std::make_unique<GenerateDecoder>(signatures_, next_id_); };
    return request_body(request, signatures_);
  }

  Signatures signatures_;
  std::atomic<std::uint64_t> next_id_{0};
};

}  // namespace

Result<std::unique_ptr<Provider>> make_gemini_backend(const ProviderConfig& config, const ProviderHost& /*host*/) {
  const std::string_view model = std::string_view(config.model).substr(config.model.starts_with("models/") ? 7 : 0);
  if (!config.model.empty() && !valid_model_name(model)) {
    return make_error(error_code::kInvalidParams, "provider \"" + config.name + "\": model \"" + config.model +
                                                      "\" is not a model name (letters, digits, '-', '.', '_')");
  }
  return stream::make<GeminiProvider>(config, "gemini", kDefaultBaseUrl);
}

}  // namespace icotes::providers
