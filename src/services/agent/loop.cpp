// The agent loop: model call, tool calls, their results back to the model,
// until the model answers without a tool call or a limit ends it. See
// include/agent/icotes/agent.hpp.
#include <optional>
#include <set>

#include "icotes/agent.hpp"
#include "icotes/json.hpp"

namespace icotes::agent {
namespace {

using providers::Message;
using providers::ToolCall;

// The provider's stream, forwarded to the run's events.
class Forward final : public providers::ChatSink {
 public:
  explicit Forward(EventSink& events) : events_(events) {}
  void on_text(std::string_view delta) override { events_.on_text(delta); }
  void on_reasoning(std::string_view delta) override { events_.on_reasoning(delta); }

 private:
  EventSink& events_;
};

std::string one_line(std::string s, std::size_t max) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max) {
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    s.resize(end);
    s += "...";
  }
  return s;
}

// The check the loop makes before a tool runs: a known name and a JSON
// object of arguments. Nullopt: the call may run.
std::optional<ToolOutcome> refuse(const ToolCall& call, const std::set<std::string, std::less<>>& names) {
  if (names.count(call.name) == 0) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    return ToolOutcome{false,
                       "Error: there is no tool named '" + call.name +
                           "'. The tools are: " + (known.empty() ? std::string("(none)") : known) + ".",
                       "unknown tool " + one_line(call.name, 60)};
  }
  const std::string_view args = call.arguments;
  const bool blank = args.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) return std::nullopt;  // no arguments: an empty object
  const json parsed = json::parse(args, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return ToolOutcome{false,
                       "Error: the arguments of " + call.name + " are not a JSON object (" +
                           (parsed.is_discarded() ? "invalid JSON" : "not an object") +
                           "): " + one_line(call.arguments, 200) +
                           ". Call the tool again with its arguments as one JSON object.",
                       call.name + ": malformed arguments"};
  }
  return std::nullopt;
}

std::string stopped_note(Stop stop, const RunOptions& o, const RunResult& r) {
  switch (stop) {
    case Stop::kMaxTurns:
      return "[agent: stopped after " + std::to_string(r.turns) + " turns, the turn limit (maxTurns " +
             std::to_string(o.max_turns) + "); resume the conversation to let it continue]";
    case Stop::kTokenBudget:
      return "[agent: stopped: " + std::to_string(r.usage.input_tokens + r.usage.output_tokens) +
             " tokens used, the budget is " + std::to_string(o.max_tokens) +
             " (maxTokens); resume the conversation to let it continue]";
    case Stop::kCancelled:
      return "[agent: cancelled]";
    case Stop::kError:
      return "[agent: stopped by an error: " + r.error + "]";
    case Stop::kEndTurn:
      break;
  }
  return {};
}

}  // namespace

std::string_view to_string(Stop stop) {
  switch (stop) {
    case Stop::kEndTurn:
      return "end_turn";
    case Stop::kMaxTurns:
      return "max_turns";
    case Stop::kTokenBudget:
      return "token_budget";
    case Stop::kCancelled:
      return "cancelled";
    case Stop::kError:
      return "error";
  }
  return "error";
}

std::string ToolRunner::describe(const ToolCall& call) const { return one_line(call.name + " " + call.arguments, 120); }

const std::string& default_system_prompt() {
  static const std::string prompt =
      "You are a coding agent working in the user's workspace through the tools given to you. "
      "Read before you change anything; change files only with edit_file or apply_patch. "
      "Paths are relative to the workspace root. When a tool call is denied by the user, do not try "
      "to get around it: say what you needed and why. End with a short answer saying what you did.";
  return prompt;
}

RunResult run(providers::Provider& provider, ToolRunner& tools, std::vector<Message> history, const std::string& prompt,
              const RunOptions& options, EventSink& events, const Persist& persist, const CancellationToken& cancel) {
  RunResult out;
  const auto store = [&](Message m) -> bool {
    if (persist) {
      if (auto st = persist(m); !st) {
        out.stop = Stop::kError;
        out.error = "the conversation could not be saved: " + st.error().message;
        return false;
      }
    }
    history.push_back(std::move(m));
    return true;
  };
  const auto finish = [&](Stop stop, const std::string& last_text) {
    out.stop = stop;
    out.text = last_text;
    const std::string note = stopped_note(stop, options, out);
    if (!note.empty()) out.text += (out.text.empty() ? "" : "\n\n") + note;
    return out;
  };

  providers::ChatRequest request;
  request.model = options.model;
  request.tools = tools.tools();
  std::set<std::string, std::less<>> names;
  for (const auto& t : request.tools) names.insert(t.name);

  std::string last_text;
  if (!store(Message{"user", prompt, {}, {}})) return finish(Stop::kError, last_text);
  Forward forward(events);
  while (true) {
    if (cancel.cancelled()) return finish(Stop::kCancelled, last_text);
    if (out.turns >= options.max_turns) return finish(Stop::kMaxTurns, last_text);
    if (out.usage.input_tokens + out.usage.output_tokens >= options.max_tokens)
      return finish(Stop::kTokenBudget, last_text);
    ++out.turns;
    events.on_turn(out.turns);
    request.messages.clear();
    request.messages.reserve(history.size() + 1);
    request.messages.push_back(
        Message{"system", options.system.empty() ? default_system_prompt() : options.system, {}, {}});
    request.messages.insert(request.messages.end(), history.begin(), history.end());
    auto reply = provider.chat(request, forward, cancel);
    if (!reply) {
      if (cancel.cancelled() || reply.error().code == error_code::kRequestCancelled)
        return finish(Stop::kCancelled, last_text);
      out.error = reply.error().message;
      return finish(Stop::kError, last_text);
    }
    out.usage.input_tokens += reply->usage.input_tokens;
    out.usage.output_tokens += reply->usage.output_tokens;
    out.usage.cached_input_tokens += reply->usage.cached_input_tokens;
    out.usage.reasoning_tokens += reply->usage.reasoning_tokens;
    events.on_usage(out.usage);
    last_text = reply->text;
    std::vector<ToolCall> calls = std::move(reply->tool_calls);
    for (std::size_t i = 0; i < calls.size(); ++i)
      if (calls[i].id.empty()) calls[i].id = "call_" + std::to_string(out.turns) + "_" + std::to_string(i + 1);
    if (!store(Message{"assistant", reply->text, calls, {}})) return finish(Stop::kError, last_text);
    if (calls.empty()) return finish(Stop::kEndTurn, last_text);
    for (const auto& call : calls) {
      ToolOutcome outcome;
      if (cancel.cancelled()) {
        // Every call gets its answer, so the conversation can be resumed.
        outcome = ToolOutcome{false, "Error: cancelled by the user before it ran.", call.name + ": cancelled"};
      } else {
        events.on_tool_call(call, tools.describe(call));
        if (auto refused = refuse(call, names)) {
          outcome = std::move(*refused);
        } else {
          providers::ToolCall normal = call;
          if (normal.arguments.find_first_not_of(" \t\r\n") == std::string::npos) normal.arguments = "{}";
          outcome = tools.run(normal, cancel);
        }
        events.on_tool_result(call, outcome);
      }
      out.tool_calls.push_back(ToolCallRecord{call.name, call.arguments, outcome.ok, outcome.summary});
      if (!store(Message{"tool", outcome.text, {}, call.id})) return finish(Stop::kError, last_text);
    }
  }
}

}  // namespace icotes::agent
