// kind = "openai": OpenAI-compatible Chat Completions (POST
// <base_url>/chat/completions), streamed: the request sets "stream": true and
// "stream_options": {"include_usage": true}; the response is an event stream
// (sse.hpp) of chat.completion.chunk objects whose choices[].delta carry
// content, reasoning (reasoning_content or reasoning, as DeepSeek, Ollama and
// OpenRouter send it) and tool_calls[] pieces keyed by index (id and
// function.name in the first piece, function.arguments in pieces), a
// finish_reason, a last chunk with empty choices and the usage, then
// "data: [DONE]". Error bodies are {"error": {"message": ...}}.
//
// Retries, the timeout, cancellation and redaction: stream_call.hpp (while a
// TCP or TLS connection is being set up, cancellation takes effect once that
// ends: connect_timeout at most); HTTPS certificates and proxies:
// stream_call.hpp and provider.hpp.
#include <map>

#include "http_backends.hpp"
#include "stream_call.hpp"

namespace icotes::providers {

namespace {

json request_body(const ChatRequest& r, const std::string& model) {
  json messages = json::array();
  for (const Message& m : r.messages) {
    json j = {{"role", m.role}};
    if (m.role == "tool") {
      j["tool_call_id"] = m.tool_call_id;
      j["content"] = m.content;
    } else if (!m.tool_calls.empty()) {
      j["content"] = m.content.empty() ? json() : json(m.content);
      json calls = json::array();
      for (const ToolCall& t : m.tool_calls) {
        calls.push_back({{"id", t.id},
                         {"type", "function"},
                         {"function", {{"name", t.name}, {"arguments", t.arguments.empty() ? "{}" : t.arguments}}}});
      }
      j["tool_calls"] = std::move(calls);
    } else {
      j["content"] = m.content;
    }
    messages.push_back(std::move(j));
  }
  json body = {{"model", model},
               {"messages", std::move(messages)},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (!r.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : r.tools) {
      tools.push_back({{"type", "function"},
                       {"function", {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}}}});
    }
    body["tools"] = std::move(tools);
  }
  if (r.max_tokens) body["max_tokens"] = *r.max_tokens;
  if (r.temperature) body["temperature"] = *r.temperature;
  return body;
}

StopReason stop_from(std::string_view finish) {
  if (finish == "stop") return StopReason::kEndTurn;
  if (finish == "tool_calls" || finish == "function_call") return StopReason::kToolUse;
  if (finish == "length") return StopReason::kMaxTokens;
  if (finish == "content_filter") return StopReason::kContentFilter;
  return StopReason::kOther;
}

// Decodes chat.completion.chunk events; whole at data: [DONE] or a
// finish_reason (with the connection then closed cleanly).
class ChunkDecoder final : public stream::Decoder {
 public:
  void on_event(sse::Event&& e, ChatResult& result, ChatSink& sink) override {
    if (done_) return;
    if (e.data == "[DONE]") {
      done_ = true;
      complete = true;
      return;
    }
    const json chunk = json::parse(e.data, nullptr, false);
    if (!chunk.is_object()) {
      failure = "a stream event is not a JSON object: " + stream::provider_message(e.data, false);
      return;
    }
    if (const auto err = chunk.find("error"); err != chunk.end() && !err->is_null()) {
      failure = "error in the stream: " + stream::provider_message(e.data, false);
      return;
    }
    handle_chunk(chunk, result, sink);
  }

  // Tool calls go out whole, in index order, once the stream is complete.
  void finish(ChatResult& result, ChatSink& sink) override {
    for (auto& [_, call] : calls_) {
      if (call.arguments.empty()) call.arguments = "{}";
      sink.on_tool_call(call);
      result.tool_calls.push_back(std::move(call));
    }
    if (result.stop_raw.empty()) result.stop = calls_.empty() ? StopReason::kEndTurn : StopReason::kToolUse;
  }

 private:
  void handle_chunk(const json& chunk, ChatResult& result, ChatSink& sink) {
    if (const auto m = chunk.find("model"); m != chunk.end() && m->is_string() && result.model.empty()) {
      result.model = m->get<std::string>();
    }
    if (const auto choices = chunk.find("choices"); choices != chunk.end() && choices->is_array()) {
      for (const json& choice : *choices) {
        // n = 1: the first choice only
        if (!choice.is_object() || stream::integer_or(choice, "index", 0) != 0) continue;
        if (const auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
          handle_delta(*d, result, sink);
        }
        if (const auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
          result.stop_raw = f->get<std::string>();
          result.stop = stop_from(result.stop_raw);
          complete = true;  // a finish_reason: whole once the connection closes cleanly
        }
      }
    }
    if (const auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) handle_usage(*u, result, sink);
  }

  void handle_usage(const json& u, ChatResult& result, ChatSink& sink) {
    auto count = [](const json& o, const char* k) { return stream::integer_or(o, k, 0); };
    result.usage.input_tokens = count(u, "prompt_tokens");
    result.usage.output_tokens = count(u, "completion_tokens");
    if (const auto p = u.find("prompt_tokens_details"); p != u.end() && p->is_object()) {
      result.usage.cached_input_tokens = count(*p, "cached_tokens");
    }
    if (const auto c = u.find("completion_tokens_details"); c != u.end() && c->is_object()) {
      result.usage.reasoning_tokens = count(*c, "reasoning_tokens");
    }
    // OpenRouter's usage accounting adds the call's cost in its credits (a
    // dollar each) to the last chunk's usage; OpenAI's API has no such field.
    if (const auto c = u.find("cost"); c != u.end() && c->is_number() && c->get<double>() >= 0)
      result.usage.cost_usd = c->get<double>();
    streamed = true;
    sink.on_usage(result.usage);
  }

  void handle_delta(const json& d, ChatResult& result, ChatSink& sink) {
    for (const char* key : {"reasoning_content", "reasoning"}) {
      if (const auto r = d.find(key); r != d.end() && r->is_string() && !r->get_ref<const std::string&>().empty()) {
        result.reasoning += r->get_ref<const std::string&>();
        streamed = true;
        sink.on_reasoning(r->get_ref<const std::string&>());
        break;
      }
    }
    if (const auto c = d.find("content"); c != d.end() && c->is_string() && !c->get_ref<const std::string&>().empty()) {
      result.text += c->get_ref<const std::string&>();
      streamed = true;
      sink.on_text(c->get_ref<const std::string&>());
    }
    const auto tcs = d.find("tool_calls");
    if (tcs == d.end() || !tcs->is_array()) return;
    for (const json& t : *tcs) {
      if (!t.is_object()) continue;
      const std::int64_t index = stream::integer_or(t, "index", 0);
      ToolCall& call = calls_[index];
      streamed = true;
      if (const auto id = t.find("id"); id != t.end() && id->is_string() && call.id.empty()) {
        call.id = id->get<std::string>();
      }
      const auto f = t.find("function");
      if (f == t.end() || !f->is_object()) continue;
      if (const auto n = f->find("name"); n != f->end() && n->is_string() && call.name.empty()) {
        call.name = n->get<std::string>();
      }
      if (const auto args = f->find("arguments"); args != f->end() && args->is_string()) {
        call.arguments += args->get_ref<const std::string&>();
      }
    }
  }

  std::map<std::int64_t, ToolCall> calls_;  // by tool_calls[].index
  bool done_ = false;                       // data: [DONE]
};

class OpenAiProvider final : public stream::HttpProvider {
 public:
  explicit OpenAiProvider(stream::Setup s) : HttpProvider(std::move(s)) {}

 private:
  Result<json> prepare(const ChatRequest& request, stream::Call& call) override {
    call.path += "/chat/completions";
    if (!key().empty()) call.headers.emplace("Authorization", "Bearer " + key());
    call.end_name = "data: [DONE]";
    call.error_type = false;
    call.make_decoder = [] { return std::make_unique<ChunkDecoder>(); };
    return request_body(request, call.model);
  }
};

}  // namespace

Result<std::unique_ptr<Provider>> make_openai_backend(const ProviderConfig& config, const ProviderHost& /*host*/) {
  return stream::make<OpenAiProvider>(config, "openai");
}

}  // namespace icotes::providers
