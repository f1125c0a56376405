// The agent loop (docs/ARCHITECTURE.md, "The agent"): a model (any
// providers::Provider) and the tools it may call, in turns, until the model
// answers without a tool call, the turn limit or the token budget is
// reached, cancellation, or an error. The loop knows no operation registry:
// tools come through a ToolRunner (src/ops/agent_ops.cpp runs them through
// the permission gate and the registry), progress goes to an EventSink, and
// every message is handed to a persist callback as it is made (the Store
// below keeps conversations per workspace in SQLite).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/cancellation.hpp"
#include "icotes/provider.hpp"
#include "icotes/result.hpp"

namespace icotes::agent {

/// What one tool call produced: `text` is what the model reads (an error's
/// message when !ok), `summary` one line for people ("read_file src/x.c:
/// 120 lines").
struct ToolOutcome {
  bool ok = false;
  std::string text;
  std::string summary;
};

/// The tools a run offers and how they run.
class ToolRunner {
 public:
  virtual ~ToolRunner() = default;
  /// The tools offered to the model (name, description, JSON Schema).
  virtual std::vector<providers::ToolSpec> tools() const = 0;
  /// Runs `call`, whose name is one of tools() and whose arguments are a
  /// JSON object (the loop checks both first). Returns promptly once
  /// `cancel` is set. A refusal or failure is an outcome with ok false
  /// whose text tells the model why; the loop continues.
  virtual ToolOutcome run(const providers::ToolCall& call, const CancellationToken& cancel) = 0;
  /// One line naming the call before it runs ("read_file src/x.c"); the
  /// default is the name and the arguments, cut to 120 bytes.
  virtual std::string describe(const providers::ToolCall& call) const;
};

/// Progress of a run, on the loop's thread, in order.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void on_turn(int /*turn*/) {}
  virtual void on_text(std::string_view /*delta*/) {}
  virtual void on_reasoning(std::string_view /*delta*/) {}
  /// About to run (before any permission question); `summary` from describe().
  virtual void on_tool_call(const providers::ToolCall& /*call*/, const std::string& /*summary*/) {}
  virtual void on_tool_result(const providers::ToolCall& /*call*/, const ToolOutcome& /*outcome*/) {}
  /// The run's total so far, after each model call.
  virtual void on_usage(const providers::Usage& /*total*/) {}
};

enum class Stop { kEndTurn, kMaxTurns, kTokenBudget, kCancelled, kError };
/// "end_turn", "max_turns", "token_budget", "cancelled", "error".
std::string_view to_string(Stop stop);

struct RunOptions {
  std::string system;  // the system prompt; empty: default_system_prompt()
  std::string model;   // empty: the provider's configured model
  int max_turns = 20;  // model calls in this run
  /// Input plus output tokens of this run's model calls, as the provider
  /// reports them: no model call starts once this many were used.
  std::int64_t max_tokens = 200000;
};

/// One tool call as the result lists it.
struct ToolCallRecord {
  std::string name;
  std::string arguments;  // the JSON text the model sent
  bool ok = false;
  std::string summary;
};

struct RunResult {
  /// The final answer: the model's last text; when the run stopped early, a
  /// line saying why and how to go on follows ("[agent: stopped ...]").
  std::string text;
  int turns = 0;  // model calls made
  std::vector<ToolCallRecord> tool_calls;
  providers::Usage usage;  // summed over the model calls
  Stop stop = Stop::kEndTurn;
  std::string error;  // kError: the provider's or the store's message
};

/// Receives each message the moment it is whole (the user's prompt, each
/// assistant message, each tool result): the run ends with kError when it
/// fails.
using Persist = std::function<Status(const providers::Message&)>;

/// The system prompt when none is given: the agent works on the workspace
/// through its tools.
const std::string& default_system_prompt();

/// Runs the loop: `history` (a resumed conversation, without a system
/// message) then the user's `prompt`, then model calls and tool calls in
/// turns. Tool calls naming no offered tool, or whose arguments are not a
/// JSON object, are answered to the model as errors (ok false) and the loop
/// continues. Cancellation ends the model call and the running tool (both
/// get `cancel`); calls not yet run are answered "cancelled". Never fails:
/// what went wrong is in the result (stop, error).
RunResult run(providers::Provider& provider, ToolRunner& tools, std::vector<providers::Message> history,
              const std::string& prompt, const RunOptions& options, EventSink& events, const Persist& persist,
              const CancellationToken& cancel);

// --- Persistence -----------------------------------------------------------

/// One conversation as listed.
struct ConversationInfo {
  std::string id;
  std::string title;        // the first prompt's first line, at most 80 bytes
  std::int64_t updated_ms;  // Unix time of the last message, milliseconds
  int turns = 0;            // assistant messages (model calls)
};

/// A workspace's conversations: one SQLite file (WAL) per workspace root,
/// path_for(root). Every append is its own committed transaction before it
/// returns, so a daemon that stops loses nothing appended. Thread-safe.
class Store {
 public:
  /// Opens (creating it and its directory) the database at `path`.
  /// Errors: kInternalError naming the file when SQLite cannot open or set
  /// it up.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  /// $XDG_STATE_HOME/icotes/agent/<root_file_stem(root)>.sqlite (the audit log's
  /// naming; $HOME/.local/state without XDG_STATE_HOME).
  static std::string path_for(std::string_view root);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// A new conversation titled by `prompt`; returns its id (32 hex digits).
  Result<std::string> create(std::string_view prompt);
  /// Appends `message` to conversation `id`. Errors: kNotFound for an
  /// unknown id; kInternalError for SQLite's.
  Status append(const std::string& id, const providers::Message& message);
  /// The conversations, the most recently updated first, at most `limit`.
  Result<std::vector<ConversationInfo>> list(std::size_t limit = 1000);
  /// Every message of conversation `id`, in order. Errors: kNotFound.
  Result<std::vector<providers::Message>> load(const std::string& id);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace icotes::agent
