// agent/run, agent/resume, agent/list, agent/delegate: the agent loop
// (include/agent/icotes/agent.hpp) with the registry's MCP tools as its
// tools, each call through the permission gate as the asking client, then
// the handler with the client's read filter and write check, its result as
// the MCP text a model reads (model_text.hpp) within the default tool budget.
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "agent_json.hpp"
#include "icotes/agent.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/model_text.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/text.hpp"
#include "icotes/workspace.hpp"
#include "provider_host.hpp"
#include "providers_json.hpp"

namespace icotes {
namespace {

using agent_ops::RunParams;

constexpr std::string_view kDelegateId = "agent/delegate";

std::string first_line(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

// The operations the agent may call: MCP tools (never events, never the
// agent's own operations, so delegate cannot recurse).
bool agent_tool(const Operation& op) {
  const std::string_view group = op.group();
  return op.mcp_tool && group != "events" && group != "agent" && group != "test";
}

// The registry's MCP tools, run as the asking client runs them.
class RegistryTools final : public agent::ToolRunner {
 public:
  RegistryTools(Context& ctx, const Registry& registry, std::vector<const Operation*> ops)
      : ctx_(ctx), registry_(registry), ops_(std::move(ops)) {
    client_ = std::const_pointer_cast<permissions::ClientState>(ctx.client);
    if (!client_) {
      // `icotes call` in process: nobody to ask (what needs asking is denied).
      client_ = std::make_shared<permissions::ClientState>();
      client_->name = "cli";
    }
  }

  std::vector<providers::ToolSpec> tools() const override {
    std::vector<providers::ToolSpec> out;
    out.reserve(ops_.size());
    for (const Operation* op : ops_)
      out.push_back(providers::ToolSpec{op->mcp_name, op->description, mcp::listed_input_schema(*op)});
    return out;
  }

  std::string describe(const providers::ToolCall& call) const override {
    const json args = json::parse(call.arguments, nullptr, false);
    if (args.is_object()) {
      for (const char* key : {"path", "pattern", "command", "query", "glob", "message", "task", "name", "id"}) {
        if (auto it = args.find(key); it != args.end() && it->is_string())
          return one_line(call.name + " " + it->get<std::string>(), 120);
      }
      if (auto it = args.find("paths"); it != args.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
        return one_line(call.name + " " + (*it)[0].get<std::string>() +
                            (it->size() > 1 ? " (+" + std::to_string(it->size() - 1) + ")" : std::string()),
                        120);
    }
    return agent::ToolRunner::describe(call);
  }

  agent::ToolOutcome run(const providers::ToolCall& call, const CancellationToken& cancel) override {
    const Operation* op = nullptr;
    for (const Operation* o : ops_)
      if (o->mcp_name == call.name) op = o;
    const std::string what = describe(call);
    if (!op) return {false, "Error: unknown tool '" + call.name + "'", what + ": unknown tool"};
    json args = json::parse(call.arguments, nullptr, false);
    if (!args.is_object()) args = json::object();
    if (auto st = registry_.validate(*op, args); !st)
      return {false, "Error: " + st.error().message, what + ": " + one_line(first_line(st.error().message), 100)};
    permissions::Gate& gate = ctx_.workspace.gate();
    auto needs = gate.needs(*op, args);
    Status allowed = op->run_inline ? gate.check_now(*client_, op->id, needs) : ask(*op, needs, cancel);
    if (cancel.cancelled()) return {false, "Error: cancelled by the user.", what + ": cancelled"};
    if (!allowed) {
      const std::string& m = allowed.error().message;
      if (allowed.error().code == error_code::kPermissionDenied)
        return {false, "Error: denied by the user: " + m, what + ": denied"};
      return {false, "Error: " + m, what + ": " + one_line(first_line(m), 100)};
    }
    NullProgress progress;
    Context sub{ctx_.workspace, cancel, progress, ctx_.connection};
    sub.client = client_;
    sub.read_denied = gate.read_filter(client_);
    if (permissions::is_write_kind(op->kind)) sub.may_write = gate.write_check(client_, op->kind, needs);
    sub.max_result_bytes = kDefaultToolResultBytes;
    sub.sample = ctx_.sample;
    sub.sampling_tools = ctx_.sampling_tools;
    sub.tool_groups = ctx_.tool_groups;
    Result<json> result = registry_.run(*op, sub, args);
    if (!result) {
      const std::string& m = result.error().message;
      return {false, m.rfind("Error", 0) == 0 ? m : "Error: " + m, what + ": " + one_line(first_line(m), 100)};
    }
    std::string text = render(*op, *result);
    // The lines of the operation's own text (a file's content, a diff)
    // where it has one, not of the header lines the model reads above it.
    std::string_view counted = text;
    if (!op->mcp_text_field.empty())
      if (auto it = result->find(op->mcp_text_field); it != result->end() && it->is_string())
        counted = it->get_ref<const std::string&>();
    const auto lines = static_cast<std::size_t>(std::count(counted.begin(), counted.end(), '\n')) +
                       (!counted.empty() && counted.back() != '\n' ? 1 : 0);
    return {true, std::move(text), what + ": " + std::to_string(lines) + (lines == 1 ? " line" : " lines")};
  }

 private:
  // The gate's check, waited on: the answer may come on another thread
  // (a question answered by the client). Cancellation stops the wait.
  Status ask(const Operation& op, std::vector<permissions::Need> needs, const CancellationToken& cancel) {
    struct Wait {
      std::mutex mutex;
      std::condition_variable cv;
      std::optional<Status> status;
    };
    auto w = std::make_shared<Wait>();
    ctx_.workspace.gate().check(client_, op.id, std::move(needs), cancel, [w](Status st) {
      std::lock_guard lock(w->mutex);
      w->status = std::move(st);
      w->cv.notify_all();
    });
    std::unique_lock lock(w->mutex);
    while (!w->status && !cancel.cancelled()) w->cv.wait_for(lock, std::chrono::milliseconds(50));
    if (w->status) return std::move(*w->status);
    return make_error(error_code::kRequestCancelled, "cancelled");
  }

  // The text MCP's tools/call would send (McpDialect::tool_result), within
  // the default tool budget.
  static std::string render(const Operation& op, json& value) {
    const std::size_t cap = kDefaultToolResultBytes;
    std::string text;
    try {
      mcp::expand_raw_parts(value);
      text = op.mcp_text ? op.mcp_text(value) : mcp::render_text(value, op.mcp_text_field, cap);
    } catch (const std::exception&) {
      text = mcp::render_text(value, op.mcp_text_field, cap);
    }
    if (text.size() > cap) text = mcp::cut_text(std::move(text), cap, mcp::cut_note(op, cap));
    return text;
  }

  Context& ctx_;
  const Registry& registry_;
  std::vector<const Operation*> ops_;
  std::shared_ptr<permissions::ClientState> client_;
};

// Progress per the contract (docs/ARCHITECTURE.md, "The agent"): partial
// events for a client that asked for partial results, else report() lines
// whose `done` grows within a turn (MCP progress must increase).
class ProgressEvents final : public agent::EventSink {
 public:
  ProgressEvents(Progress& progress, int max_turns)
      : progress_(progress), partial_(progress.wants_partial()), max_turns_(max_turns) {}

  /// Names the run's conversation as it starts: a client whose run is
  /// cancelled (answered with an error, no result) can still resume it.
  void on_conversation(const std::string& id) {
    if (partial_) progress_.partial(json::array({{{"type", "conversation"}, {"conversation", id}}}));
  }
  void on_turn(int turn) override {
    turn_ = turn;
    steps_ = 0;
    if (partial_) progress_.partial(json::array({{{"type", "turn"}, {"turn", turn}}}));
  }
  void on_text(std::string_view delta) override {
    if (partial_)
      progress_.partial(json::array({{{"type", "text"}, {"text", std::string(delta)}}}));
    else
      line(delta);
  }
  void on_reasoning(std::string_view delta) override {
    if (partial_) progress_.partial(json::array({{{"type", "reasoning"}, {"text", std::string(delta)}}}));
  }
  void on_tool_call(const providers::ToolCall& call, const std::string& summary) override {
    if (partial_)
      progress_.partial(json::array({{{"type", "tool_call"},
                                      {"id", call.id},
                                      {"name", call.name},
                                      {"arguments", call.arguments},
                                      {"summary", summary}}}));
    else
      line("> " + summary);
  }
  void on_tool_result(const providers::ToolCall& call, const agent::ToolOutcome& outcome) override {
    if (partial_)
      progress_.partial(json::array({{{"type", "tool_result"},
                                      {"id", call.id},
                                      {"name", call.name},
                                      {"ok", outcome.ok},
                                      {"summary", outcome.summary}}}));
    else
      line((outcome.ok ? "< " : "< failed: ") + outcome.summary);
  }
  void on_usage(const providers::Usage& total) override {
    if (!partial_) return;
    progress_.partial(json::array({providers::usage_event(total)}));
  }

 private:
  void line(std::string_view message) {
    ++steps_;
    const double done = (turn_ > 0 ? turn_ - 1 : 0) + 1.0 - 1.0 / (steps_ + 1.0);
    progress_.report(message, done, max_turns_);
  }
  Progress& progress_;
  bool partial_;
  int max_turns_;
  int turn_ = 0;
  int steps_ = 0;
};

// One store per workspace database, kept open for the process.
Result<std::shared_ptr<agent::Store>> store_for(Workspace& ws) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<agent::Store>> stores;
  const std::string path = agent::Store::path_for(ws.root().path());
  std::lock_guard lock(mutex);
  if (auto it = stores.find(path); it != stores.end()) return it->second;
  auto opened = agent::Store::open(path);
  if (!opened) return std::move(opened).error();
  std::shared_ptr<agent::Store> s = std::move(*opened);
  stores.emplace(path, s);
  return s;
}

std::string iso8601(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The tools a run offers: `names` (MCP tool names), else every agent tool;
// either way only of the `groups` the asking client is offered (nullopt:
// all), so a host that narrowed its tools cannot widen them by delegating.
Result<std::vector<const Operation*>> tool_ops(const Registry& registry,
                                               const std::optional<std::vector<std::string>>& names,
                                               const std::optional<std::set<std::string>>& groups) {
  const auto offered = [&](const Operation& op) { return !groups || groups->count(std::string(op.group())) > 0; };
  std::vector<const Operation*> out;
  for (const Operation* op : registry.all())
    if (agent_tool(*op)) out.push_back(op);
  if (!names) {
    std::erase_if(out, [&](const Operation* op) { return !offered(*op); });
    return out;
  }
  std::vector<const Operation*> chosen;
  for (const auto& n : *names) {
    auto it = std::find_if(out.begin(), out.end(), [&](const Operation* op) { return op->mcp_name == n; });
    if (it == out.end())
      return make_error(
          error_code::kInvalidParams,
          "agent: tools: '" + n + "' is not a tool the agent may use (MCP tool names; delegate is not one)");
    if (!offered(**it))
      return make_error(error_code::kInvalidParams,
                        "agent: tools: '" + n + "' is in the tool group '" + std::string((*it)->group()) +
                            "', which this client's --tools (or the workspace's [mcp] tools) leaves out");
    if (std::find(chosen.begin(), chosen.end(), *it) == chosen.end()) chosen.push_back(*it);
  }
  return chosen;
}

// A run (new or resumed) of the loop, as agent/run's result.
Result<json> run_agent(Context& ctx, RunParams& p) {
  const Registry& registry = builtin_registry();
  // A run waits on the model and the user for long: the pool grows rather
  // than stall other requests (as exec/run does).
  WorkerPool::Blocking waiting(ctx.workspace.workers());
  auto ops = tool_ops(registry, p.tools, ctx.tool_groups);
  if (!ops) return std::move(ops).error();
  auto config = providers::load_providers_config(providers::user_config_path());
  if (!config) return std::move(config).error();
  auto provider = providers::select_provider(*config, p.provider, p.model, provider_host(ctx));
  if (!provider) return std::move(provider).error();
  auto store = store_for(ctx.workspace);
  if (!store) return std::move(store).error();
  std::vector<providers::Message> history;
  std::string id = p.conversation;
  if (!id.empty()) {
    auto loaded = (*store)->load(id);
    if (!loaded) return std::move(loaded).error();
    history = std::move(*loaded);
  } else {
    auto created = (*store)->create(p.prompt);
    if (!created) return std::move(created).error();
    id = std::move(*created);
  }
  RegistryTools tools(ctx, registry, std::move(*ops));
  ProgressEvents events(ctx.progress, p.max_turns);
  events.on_conversation(id);
  agent::RunOptions options;
  options.system = p.system;
  options.max_turns = p.max_turns;
  options.max_tokens = p.max_tokens;
  agent::Store& s = **store;
  auto r = agent::run(
      **provider, tools, std::move(history), p.prompt, options, events,
      [&s, &id](const providers::Message& m) { return s.append(id, m); }, ctx.cancel);
  json calls = json::array();
  for (const auto& c : r.tool_calls)
    calls.push_back({{"name", c.name}, {"arguments", c.arguments}, {"ok", c.ok}, {"summary", c.summary}});
  json out = {{"conversation", id},
              {"text", r.text},
              {"turns", r.turns},
              {"toolCalls", std::move(calls)},
              {"usage", providers::usage_json(r.usage)},
              {"stop", std::string(agent::to_string(r.stop))}};
  if (!r.error.empty()) out["error"] = r.error;
  return out;
}

Result<json> run_op(Context& ctx, RunParams&& p) { return run_agent(ctx, p); }

Result<json> resume_op(Context& ctx, agent_ops::ResumeParams&& p) { return run_agent(ctx, p); }

Result<json> list_op(Context& ctx, agent_ops::ListParams&& p) {
  auto store = store_for(ctx.workspace);
  if (!store) return std::move(store).error();
  auto listed = (*store)->list(p.limit);
  if (!listed) return std::move(listed).error();
  json out = json::array();
  for (const auto& c : *listed)
    out.push_back({{"id", c.id}, {"title", c.title}, {"updated", iso8601(c.updated_ms)}, {"turns", c.turns}});
  return json{{"conversations", std::move(out)}};
}

Result<json> delegate_op(Context& ctx, agent_ops::DelegateParams&& p) {
  auto r = run_agent(ctx, p);
  if (!r) return r;
  json lines = json::array();
  for (const auto& c : (*r)["toolCalls"])
    lines.push_back((c["ok"].get<bool>() ? "" : "(failed) ") + c["summary"].get<std::string>());
  return json{{"summary", (*r)["text"]}, {"toolCalls", std::move(lines)},
              {"stop", (*r)["stop"]},    {"conversation", (*r)["conversation"]},
              {"turns", (*r)["turns"]},  {"usage", (*r)["usage"]}};
}

// What the host's model reads of a delegation: the answer, then the tool
// calls one line each, then why it stopped when it stopped early.
std::string delegate_text(const json& r) {
  std::string out = r.value("summary", std::string());
  if (!out.empty() && out.back() != '\n') out += '\n';
  const json calls = r.value("toolCalls", json::array());
  if (!calls.empty()) {
    out += "\ntool calls (" + std::to_string(calls.size()) + "):\n";
    for (const auto& c : calls) out += "- " + (c.is_string() ? c.get<std::string>() : c.dump()) + "\n";
  }
  const std::string stop = r.value("stop", std::string());
  if (stop != "end_turn") out += "stop: " + stop + "\n";
  return out;
}

}  // namespace

void register_agent_ops(Registry& r) {
  r.add<RunParams>("agent/run", run_op);
  r.add<agent_ops::ResumeParams>("agent/resume", resume_op);
  r.add<agent_ops::ListParams>("agent/list", list_op);
  r.add<agent_ops::DelegateParams>(kDelegateId, delegate_op, delegate_text);
}

}  // namespace icotes
