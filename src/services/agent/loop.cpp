// The agent loop: model call, tool calls, their results back to the model,
// until the model answers without a tool call or a limit ends it. See
// include/agent/icotes/agent.hpp.
#include <optional>
#include <set>

#include "icotes/agent.hpp"
#include "icotes/json.hpp"
#include "icotes/text.hpp"

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

namespace {

// One run's state: the history so far and the result being made.
class Run {
 public:
  Run(ToolRunner& tools, std::vector<Message> history, const RunOptions& options, EventSink& events,
      const Persist& persist, const CancellationToken& cancel)
      : tools_(tools),
        history_(std::move(history)),
        options_(options),
        events_(events),
        persist_(persist),
        cancel_(cancel) {
    request_.model = options.model;
    request_.tools = tools.tools();
    for (const auto& t : request_.tools) names_.insert(t.name);
  }

  RunResult go(providers::Provider& provider, const std::string& prompt) {
    if (!store(Message{"user", prompt, {}, {}})) return finish(Stop::kError);
    Forward forward(events_);
    while (true) {
      if (auto stop = limit()) return finish(*stop);
      ++out_.turns;
      events_.on_turn(out_.turns);
      std::vector<ToolCall> calls;
      if (auto stop = call_model(provider, forward, calls)) return finish(*stop);
      if (calls.empty()) return finish(Stop::kEndTurn);
      for (const auto& call : calls) {
        ToolOutcome outcome = run_tool(call);
        out_.tool_calls.push_back(ToolCallRecord{call.name, call.arguments, outcome.ok, outcome.summary});
        if (!store(Message{"tool", std::move(outcome.text), {}, call.id})) return finish(Stop::kError);
      }
    }
  }

 private:
  // Why no model call may start now, if one may not.
  std::optional<Stop> limit() const {
    if (cancel_.cancelled()) return Stop::kCancelled;
    if (out_.turns >= options_.max_turns) return Stop::kMaxTurns;
    if (out_.usage.input_tokens + out_.usage.output_tokens >= options_.max_tokens) return Stop::kTokenBudget;
    return std::nullopt;
  }

  // One model call on the history; its assistant message persisted, its
  // tool calls (ids given where the provider gave none) in `calls`.
  std::optional<Stop> call_model(providers::Provider& provider, Forward& forward, std::vector<ToolCall>& calls) {
    request_.messages.clear();
    request_.messages.reserve(history_.size() + 1);
    request_.messages.push_back(
        Message{"system", options_.system.empty() ? default_system_prompt() : options_.system, {}, {}});
    request_.messages.insert(request_.messages.end(), history_.begin(), history_.end());
    auto reply = provider.chat(request_, forward, cancel_);
    if (!reply) {
      if (cancel_.cancelled() || reply.error().code == error_code::kRequestCancelled) return Stop::kCancelled;
      out_.error = reply.error().message;
      return Stop::kError;
    }
    add_usage(providers::with_cost(provider.config(), reply->usage));
    last_text_ = reply->text;
    calls = std::move(reply->tool_calls);
    for (std::size_t i = 0; i < calls.size(); ++i)
      if (calls[i].id.empty()) calls[i].id = "call_" + std::to_string(out_.turns) + "_" + std::to_string(i + 1);
    if (!store(Message{"assistant", reply->text, calls, {}})) return Stop::kError;
    return std::nullopt;
  }

  // Persists `m`, then keeps it; false (the run's error set) when it could
  // not be saved.
  bool store(Message m) {
    if (persist_) {
      if (auto st = persist_(m); !st) {
        out_.error = "the conversation could not be saved: " + st.error().message;
        return false;
      }
    }
    history_.push_back(std::move(m));
    return true;
  }

  RunResult finish(Stop stop) {
    out_.stop = stop;
    out_.text = last_text_;
    const std::string note = stopped_note(stop, options_, out_);
    if (!note.empty()) out_.text += (out_.text.empty() ? "" : "\n\n") + note;
    return std::move(out_);
  }

  void add_usage(const providers::Usage& u) {
    out_.usage.input_tokens += u.input_tokens;
    out_.usage.output_tokens += u.output_tokens;
    out_.usage.cached_input_tokens += u.cached_input_tokens;
    out_.usage.reasoning_tokens += u.reasoning_tokens;
    // The run's cost is known while every call's is.
    cost_unknown_ = cost_unknown_ || !u.cost_usd;
    out_.usage.cost_usd = cost_unknown_ ? std::nullopt : std::optional(out_.usage.cost_usd.value_or(0) + *u.cost_usd);
    events_.on_usage(out_.usage);
  }

  ToolOutcome run_tool(const ToolCall& call) {
    // Every call gets its answer, so the conversation can be resumed.
    if (cancel_.cancelled())
      return ToolOutcome{false, "Error: cancelled by the user before it ran.", call.name + ": cancelled"};
    events_.on_tool_call(call, tools_.describe(call));
    ToolOutcome outcome;
    if (auto refused = refuse(call, names_)) {
      outcome = std::move(*refused);
    } else {
      providers::ToolCall normal = call;
      if (normal.arguments.find_first_not_of(" \t\r\n") == std::string::npos) normal.arguments = "{}";
      outcome = tools_.run(normal, cancel_);
    }
    events_.on_tool_result(call, outcome);
    return outcome;
  }

  ToolRunner& tools_;
  std::vector<Message> history_;
  const RunOptions& options_;
  EventSink& events_;
  const Persist& persist_;
  const CancellationToken& cancel_;
  providers::ChatRequest request_;
  std::set<std::string, std::less<>> names_;
  std::string last_text_;
  RunResult out_;
  bool cost_unknown_ = false;  // a call of this run had no cost (Usage::cost_usd)
};

}  // namespace

RunResult run(providers::Provider& provider, ToolRunner& tools, std::vector<Message> history, const std::string& prompt,
              const RunOptions& options, EventSink& events, const Persist& persist, const CancellationToken& cancel) {
  return Run(tools, std::move(history), options, events, persist, cancel).go(provider, prompt);
}

}  // namespace icotes::agent
