// kind = "client": the connected MCP host's own model, through MCP sampling
// (specs/mcp/2025-11-25/schema.json, CreateMessageRequest and
// CreateMessageResult; "Sampling" in the specification). No key, no HTTP:
// the ProviderHost's `sample` sends sampling/createMessage to the host,
// which (after its user approves, as the specification asks) answers with
// one message of its model.
//
// A ChatRequest becomes CreateMessageRequest params:
//  - "system" messages -> systemPrompt (joined by blank lines);
//  - "user" -> {role: user, content: TextContent};
//  - "assistant" -> TextContent, or with tool calls (host declared
//    sampling.tools) an array of TextContent and ToolUseContent {id, name,
//    input: the arguments' JSON object};
//  - consecutive "tool" messages -> one user message of ToolResultContent
//    {toolUseId, content: [TextContent]} only (MCP: a message with tool
//    results holds nothing else);
//  - maxTokens (required by MCP): the request's, else kDefaultMaxTokens;
//    temperature when set; the model, when named, as modelPreferences.hints
//    (the host picks its model; hints are advisory);
//  - tools -> Tool {name, description, inputSchema}: only when the host
//    declared sampling.tools. Without it (MCP: a server MUST NOT send tools
//    then) a request with tools fails saying so; tool calls and results
//    already in the history are sent as text.
// The result: TextContent blocks -> text (one delta to the sink),
// ToolUseContent -> whole tool calls, model, stopReason endTurn /
// stopSequence -> end_turn, maxTokens -> max_tokens, toolUse -> tool_use.
// MCP reports no token counts: usage stays 0.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "backends.hpp"

namespace icotes::providers {

namespace {

constexpr std::int64_t kDefaultMaxTokens = 4096;

StopReason stop_from(std::string_view s, bool has_calls) {
  if (s.empty()) return has_calls ? StopReason::kToolUse : StopReason::kEndTurn;
  if (s == "endTurn" || s == "stopSequence") return StopReason::kEndTurn;
  if (s == "toolUse") return StopReason::kToolUse;
  if (s == "maxTokens") return StopReason::kMaxTokens;
  return StopReason::kOther;
}

json text_block(const std::string& text) { return {{"type", "text"}, {"text", text}}; }

// ToolUseContent.input must be an object: the model's arguments when they
// are one, else an empty object.
json tool_input(const std::string& arguments) {
  json input = json::parse(arguments, nullptr, false);
  return input.is_object() ? input : json::object();
}

// Tool.inputSchema is a JSON Schema whose type is "object".
json input_schema(const json& parameters) {
  json schema = parameters.is_object() ? parameters : json::object();
  if (!schema.contains("type")) schema["type"] = "object";
  return schema;
}

// An assistant message: its text, with its tool calls as ToolUseContent
// when the host takes tools, else written into the text.
json assistant_message(const Message& m, bool tools) {
  if (m.tool_calls.empty() || !tools) {
    std::string text = m.content;
    for (const auto& c : m.tool_calls)
      text += (text.empty() ? "" : "\n") + std::string("[tool call ") + c.id + ": " + c.name + " " + c.arguments + "]";
    return {{"role", "assistant"}, {"content", text_block(text)}};
  }
  json blocks = json::array();
  if (!m.content.empty()) blocks.push_back(text_block(m.content));
  for (const auto& c : m.tool_calls)
    blocks.push_back({{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", tool_input(c.arguments)}});
  return {{"role", "assistant"}, {"content", std::move(blocks)}};
}

// The "tool" messages from messages[i] on as one user message of
// ToolResultContent only; `i` is left on the last of them.
json tool_results(const std::vector<Message>& messages, std::size_t& i) {
  json blocks = json::array();
  for (; i < messages.size() && messages[i].role == "tool"; ++i) {
    blocks.push_back({{"type", "tool_result"},
                      {"toolUseId", messages[i].tool_call_id},
                      {"content", json::array({text_block(messages[i].content)})}});
  }
  --i;
  return {{"role", "user"}, {"content", std::move(blocks)}};
}

// A tool result for a host that takes no tools: user text.
json tool_result_text(const Message& m) {
  return {{"role", "user"}, {"content", text_block("[tool result " + m.tool_call_id + "]\n" + m.content)}};
}

// MCP Tool definitions.
json tool_list(const std::vector<ToolSpec>& tools) {
  json list = json::array();
  for (const auto& t : tools) {
    json tool = {{"name", t.name}, {"inputSchema", input_schema(t.parameters)}};
    if (!t.description.empty()) tool["description"] = t.description;
    list.push_back(std::move(tool));
  }
  return list;
}

class ClientProvider final : public Provider {
 public:
  ClientProvider(ProviderConfig config, ProviderHost host) : Provider(std::move(config)), host_(std::move(host)) {}

  Result<ChatResult> chat(const ChatRequest& request, ChatSink& sink, const CancellationToken& cancel) override {
    const std::string model = request.model.empty() ? config_.model : request.model;
    if (!request.tools.empty() && !host_.sampling_tools) {
      return make_error(error_code::kInvalidParams,
                        who(model) + ": the MCP client lending its model does not declare `sampling.tools` " +
                            "(MCP 2025-11-25), so the model cannot be offered the " +
                            std::to_string(request.tools.size()) +
                            " tool(s) of this call; use a host that declares it, or a provider with an API key",
                        data(model));
    }
    auto params = to_params(request, model);
    if (!params) return std::move(params).error();
    if (cancel.cancelled()) return make_error(error_code::kRequestCancelled, who(model) + ": cancelled", data(model));

    const auto timeout = request.timeout.count() > 0 ? request.timeout : config_.timeout;
    bool timed_out = false;
    Result<json> answer =
        timeout.count() > 0 ? sample_within(*params, cancel, timeout, timed_out) : host_.sample(*params, cancel);
    if (cancel.cancelled()) return make_error(error_code::kRequestCancelled, who(model) + ": cancelled", data(model));
    if (timed_out) {
      return make_error(error_code::kRequestFailed,
                        who(model) + ": the MCP client did not answer sampling/createMessage within " +
                            std::to_string(timeout.count()) + " ms",
                        data(model));
    }
    if (!answer) {
      json d = data(model);
      d["code"] = answer.error().code;
      return make_error(error_code::kRequestFailed,
                        who(model) + ": the MCP client refused sampling/createMessage: " + answer.error().message,
                        std::move(d));
    }
    return to_result(*answer, model, sink);
  }

 private:
  std::string who(const std::string& model) const {
    return "provider \"" + config_.name + "\" (client, MCP sampling" + (model.empty() ? "" : ", model " + model) + ")";
  }
  json data(const std::string& model) const { return {{"provider", config_.name}, {"model", model}, {"attempts", 1}}; }

  // The host's answer within `timeout`: a watcher cancels the sample when
  // the caller cancels or the time is up.
  Result<json> sample_within(const json& params, const CancellationToken& cancel, std::chrono::milliseconds timeout,
                             bool& timed_out) {
    CancellationToken mine;
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    std::thread watcher([&] {
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      std::unique_lock lock(mutex);
      while (!done) {
        if (cancel.cancelled()) {
          mine.cancel();
          return;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
          timed_out = true;
          mine.cancel();
          return;
        }
        cv.wait_for(lock, std::chrono::milliseconds(10));
      }
    });
    Result<json> answer = host_.sample(params, mine);
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    cv.notify_all();
    watcher.join();
    return answer;
  }

  Result<json> to_params(const ChatRequest& request, const std::string& model) const {
    const bool tools = host_.sampling_tools;
    std::string system;
    json messages = json::array();
    for (std::size_t i = 0; i < request.messages.size(); ++i) {
      const Message& m = request.messages[i];
      if (m.role == "system") {
        system += (system.empty() ? "" : "\n\n") + m.content;
      } else if (m.role == "user") {
        messages.push_back({{"role", "user"}, {"content", text_block(m.content)}});
      } else if (m.role == "assistant") {
        messages.push_back(assistant_message(m, tools));
      } else if (m.role == "tool") {
        messages.push_back(tools ? tool_results(request.messages, i) : tool_result_text(m));
      } else {
        return make_error(error_code::kInvalidParams,
                          who(model) + ": message " + std::to_string(i) + " has role \"" + m.role +
                              "\" (system, user, assistant or tool)",
                          data(model));
      }
    }
    if (messages.empty()) {
      return make_error(error_code::kInvalidParams, who(model) + ": no user or assistant message to send", data(model));
    }
    json params = {{"messages", std::move(messages)}, {"maxTokens", request.max_tokens.value_or(kDefaultMaxTokens)}};
    if (!system.empty()) params["systemPrompt"] = std::move(system);
    if (request.temperature) params["temperature"] = *request.temperature;
    if (!model.empty()) params["modelPreferences"] = {{"hints", json::array({{{"name", model}}})}};
    if (!request.tools.empty()) params["tools"] = tool_list(request.tools);
    return params;
  }

  Result<ChatResult> to_result(const json& r, const std::string& model, ChatSink& sink) const {
    const json content = r.is_object() ? r.value("content", json()) : json();
    if (!content.is_object() && !content.is_array()) {
      return make_error(error_code::kRequestFailed,
                        who(model) + ": the MCP client's CreateMessageResult has no content (an object or a list)",
                        data(model));
    }
    ChatResult out;
    out.model = member_or(r, "model", std::string());
    if (out.model.empty()) out.model = model;
    for (const json& block : content.is_array() ? content : json::array({content})) {
      const std::string type = member_or(block, "type", std::string());
      if (type == "text") {
        out.text += member_or(block, "text", std::string());
      } else if (type == "tool_use") {
        ToolCall call;
        call.id = member_or(block, "id", std::string());
        call.name = member_or(block, "name", std::string());
        call.arguments = block.value("input", json::object()).dump();
        if (call.id.empty()) call.id = "call_" + std::to_string(out.tool_calls.size() + 1);
        out.tool_calls.push_back(std::move(call));
      }  // image and audio: nothing a ChatResult holds
    }
    if (!out.text.empty()) sink.on_text(out.text);
    for (const auto& c : out.tool_calls) sink.on_tool_call(c);
    out.stop_raw = member_or(r, "stopReason", std::string());
    out.stop = stop_from(out.stop_raw, !out.tool_calls.empty());
    return out;
  }

  ProviderHost host_;
};

}  // namespace

Result<std::unique_ptr<Provider>> make_client_provider(const ProviderConfig& config, const ProviderHost& host) {
  if (!host.sample) {
    const std::string who = config.name == "client" ? "provider client" : "provider \"" + config.name + "\" (client)";
    return make_error(error_code::kInvalidParams,
                      who +
                          ": no connected MCP client offers sampling (its capabilities lack `sampling`); attach an "
                          "MCP host that declares it, or choose a provider with an API key",
                      json{{"provider", config.name}});
  }
  return std::unique_ptr<Provider>(new ClientProvider(config, host));
}

}  // namespace icotes::providers
