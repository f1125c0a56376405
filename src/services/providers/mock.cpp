// kind = "mock": a provider that plays back a script, for tests and demos.
// The script (the `script` key, a JSON file) is a list of responses, or
// {"responses": [...]}; each call takes the next one:
//
//   {"text": "Hello", "chunks": ["Hel", "lo"], "reasoning": "...",
//    "tool_calls": [{"id": "call_1", "name": "read_file", "arguments": {"path": "a.c"}}],
//    "usage": {"input_tokens": 10, "output_tokens": 5, "cost": 0.0001}, "stop": "tool_use",
//    "error": "a message: this call fails with it"}
//
// chunks (the text's pieces, streamed one by one) defaults to the whole
// text; arguments may be an object or its JSON text; stop defaults to
// tool_use when there are tool calls, else end_turn.
#include <fstream>
#include <mutex>
#include <sstream>

#include "backends.hpp"

namespace icotes::providers {

namespace {

constexpr std::size_t kMaxScriptBytes = 16u << 20;

StopReason stop_from(std::string_view s) {
  if (s == "end_turn") return StopReason::kEndTurn;
  if (s == "tool_use") return StopReason::kToolUse;
  if (s == "max_tokens") return StopReason::kMaxTokens;
  if (s == "content_filter") return StopReason::kContentFilter;
  return StopReason::kOther;
}

class MockProvider final : public Provider {
 public:
  MockProvider(ProviderConfig config, json responses) : Provider(std::move(config)), responses_(std::move(responses)) {}

  Result<ChatResult> chat(const ChatRequest& request, ChatSink& sink, const CancellationToken& cancel) override {
    json r;
    {
      std::lock_guard lock(mutex_);
      if (next_ >= responses_.size()) {
        return fail("the script has no response left (it holds " + std::to_string(responses_.size()) + ")");
      }
      r = responses_[next_++];
    }
    if (cancel.cancelled()) return make_error(error_code::kRequestCancelled, who(request) + ": cancelled");
    if (const auto e = r.find("error"); e != r.end() && e->is_string()) return fail(e->get<std::string>());
    ChatResult out;
    out.model = request.model.empty() ? config_.model : request.model;
    if (const auto s = r.find("reasoning"); s != r.end() && s->is_string()) {
      out.reasoning = s->get<std::string>();
      sink.on_reasoning(out.reasoning);
    }
    json chunks = r.value("chunks", json());
    if (!chunks.is_array()) chunks = json::array({r.value("text", std::string())});
    for (const auto& c : chunks) {
      if (cancel.cancelled()) return make_error(error_code::kRequestCancelled, who(request) + ": cancelled");
      if (!c.is_string() || c.get_ref<const std::string&>().empty()) continue;
      out.text += c.get<std::string>();
      sink.on_text(c.get_ref<const std::string&>());
    }
    int n = 0;
    for (const auto& t : r.value("tool_calls", json::array())) {
      ToolCall call;
      call.id = t.value("id", "call_" + std::to_string(++n));
      call.name = t.value("name", std::string());
      const json args = t.value("arguments", json::object());
      call.arguments = args.is_string() ? args.get<std::string>() : args.dump();
      sink.on_tool_call(call);
      out.tool_calls.push_back(std::move(call));
    }
    if (const auto u = r.find("usage"); u != r.end() && u->is_object()) {
      out.usage.input_tokens = u->value("input_tokens", std::int64_t{0});
      out.usage.output_tokens = u->value("output_tokens", std::int64_t{0});
      if (const auto c = u->find("cost"); c != u->end()) out.usage.cost_usd = c->get<double>();
      sink.on_usage(out.usage);
    }
    out.stop_raw = r.value("stop", std::string(out.tool_calls.empty() ? "end_turn" : "tool_use"));
    out.stop = stop_from(out.stop_raw);
    return out;
  }

 private:
  std::string who(const ChatRequest& request) const {
    return "provider \"" + config_.name + "\" (mock, model " + (request.model.empty() ? config_.model : request.model) +
           ")";
  }
  Error fail(const std::string& what) const {
    return make_error(error_code::kRequestFailed, "provider \"" + config_.name + "\" (mock): " + what,
                      json{{"provider", config_.name}, {"model", config_.model}});
  }

  std::mutex mutex_;
  json responses_;
  std::size_t next_ = 0;
};

// [{name, id?, arguments}]
bool valid_tool_calls(const json& calls) {
  bool ok = calls.is_array();
  for (const auto& t : ok ? calls : json::array()) {
    ok = ok && t.is_object() && t.value("name", json()).is_string() && (!t.contains("id") || t["id"].is_string());
  }
  return ok;
}

// A scripted response: an object with string text, chunks, reasoning, stop,
// error, tool_calls [{name, id?, arguments}] and usage (integer tokens, a number cost).
bool valid_response(const json& r) {
  bool ok = r.is_object();
  for (const char* k : {"text", "reasoning", "stop", "error"}) ok = ok && (!r.contains(k) || r[k].is_string());
  if (ok && r.contains("chunks")) {
    ok = r["chunks"].is_array();
    for (const auto& c : ok ? r["chunks"] : json::array()) ok = ok && c.is_string();
  }
  if (ok && r.contains("tool_calls")) ok = valid_tool_calls(r["tool_calls"]);
  if (ok && r.contains("usage")) {
    const json& u = r["usage"];
    ok = u.is_object();
    for (const char* k : {"input_tokens", "output_tokens"}) ok = ok && (!u.contains(k) || u[k].is_number_integer());
    ok = ok && (!u.contains("cost") || u["cost"].is_number());
  }
  return ok;
}

}  // namespace

Result<std::unique_ptr<Provider>> make_mock_provider(const ProviderConfig& config, const ProviderHost& /*host*/) {
  const std::string who = "provider \"" + config.name + "\" (mock): ";
  if (config.script.empty()) return make_error(error_code::kInvalidParams, who + "needs a script (a JSON file)");
  std::ifstream in(config.script, std::ios::binary);
  if (!in) return make_error(error_code::kInvalidParams, who + "script " + config.script + " cannot be read");
  std::string text;
  text.resize(kMaxScriptBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxScriptBytes) {
    return make_error(error_code::kInvalidParams,
                      who + "script larger than " + std::to_string(kMaxScriptBytes) + " bytes");
  }
  json script = json::parse(text, nullptr, false);
  if (script.is_object()) script = script.value("responses", json());
  if (!script.is_array()) {
    return make_error(error_code::kInvalidParams,
                      who + "script " + config.script + " is not a JSON list of responses or {\"responses\": [...]}");
  }
  for (std::size_t i = 0; i < script.size(); ++i) {
    if (!valid_response(script[i])) {
      return make_error(error_code::kInvalidParams,
                        who + "script " + config.script + ": response " + std::to_string(i) +
                            " is not an object with string text, chunks, reasoning, stop,"
                            " error, tool_calls [{name, id?, arguments}] and usage (integer tokens, a number cost)");
    }
  }
  return std::unique_ptr<Provider>(new MockProvider(config, std::move(script)));
}

}  // namespace icotes::providers
