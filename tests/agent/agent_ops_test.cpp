// agent/run, agent/resume, agent/list and delegate through the real
// registry and permission gate, on a workspace in a temporary directory,
// with the mock provider of the user's config.toml ($XDG_CONFIG_HOME).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "agent_test_util.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/workspace.hpp"

namespace icotes::agent::test {
namespace {

using permissions::Choice;

json call(const std::string& name, const json& args) { return {{"name", name}, {"arguments", args}}; }

// Keeps partial() events and report() lines.
class Capture final : public Progress {
 public:
  explicit Capture(bool partial) : partial_(partial) {}
  void report(std::string_view message, double done, double total) override {
    lines.emplace_back(message);
    EXPECT_GT(done, last_);
    last_ = done;
    EXPECT_GT(total, 0);
  }
  bool wants_partial() const override { return partial_; }
  void partial(const json& items) override {
    for (const auto& i : items) events.push_back(i);
  }
  std::vector<std::string> lines;
  json events = json::array();

 private:
  bool partial_;
  double last_ = -1;
};

class AgentOps : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("XDG_CONFIG_HOME", config_.path().c_str(), 1);
    ::setenv("XDG_STATE_HOME", state_.path().c_str(), 1);
    write_file(config_ / "icotes/config.toml",
               "[providers.mock]\nkind = \"mock\"\nscript = \"script.json\"\nmodel = \"m\"\n"
               "[agent]\nprovider = \"mock\"\n");
    write_file(root_ / "src/add.c", "int add(int a, int b) { return a - b; }\n");
    write_file(root_ / "src/main.c", "#include <stdio.h>\nint add(int, int);\nint main(void) { return add(1, 2); }\n");
    auto ws = Workspace::open(root_.path(), 2);
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    ws_ = std::move(*ws);
    client_ = std::make_shared<permissions::ClientState>();
    client_->name = "lsp:test-editor";
    client_->ask = [this](const permissions::Question& q, std::function<void(std::optional<Choice>)> answer) {
      questions_.push_back(q.operation);
      // Answered from another thread, as a client's reply comes.
      threads_.emplace_back([answer = std::move(answer), c = answer_] { answer(c); });
      return std::function<void()>();
    };
  }
  void TearDown() override {
    for (auto& t : threads_) t.join();
    ws_.reset();
  }
  void script(const json& responses) { write_file(config_ / "icotes/script.json", responses.dump()); }
  Result<json> invoke(const std::string& id, const json& params, Progress& progress) {
    const Operation* op = builtin_registry().find(id);
    EXPECT_NE(op, nullptr) << id;
    Context ctx{*ws_, token_, progress, nullptr};
    ctx.client = client_;
    ctx.tool_groups = tool_groups_;
    return builtin_registry().invoke(*op, ctx, params);
  }
  Result<json> invoke(const std::string& id, const json& params) {
    NullProgress p;
    return invoke(id, params, p);
  }
  // Reads, greps, then edits src/add.c; then answers.
  json fix_script() {
    return json::array(
        {{{"text", "Looking."},
          {"tool_calls", {call("read_file", {{"path", "src/add.c"}}), call("grep", {{"pattern", "add\\("}})}}},
         {{"tool_calls",
           {call("edit_file", {{"path", "src/add.c"},
                               {"edits", {{{"oldString", "return a - b;"}, {"newString", "return a + b;"}}}}})}}},
         {{"text", "Fixed add."}, {"usage", {{"input_tokens", 10}, {"output_tokens", 2}}}}});
  }

  TempDir root_, config_, state_;
  std::unique_ptr<Workspace> ws_;
  std::shared_ptr<permissions::ClientState> client_;
  std::optional<Choice> answer_ = Choice::AllowOnce;
  std::optional<std::set<std::string>> tool_groups_;  // the client's --tools, as MCP passes them
  std::vector<std::string> questions_;
  std::vector<std::thread> threads_;
  CancellationToken token_;
};

TEST_F(AgentOps, ReadsGrepsAndEditsThroughTheGate) {
  script(fix_script());
  Capture progress(true);
  auto r = invoke("agent/run", {{"prompt", "Fix add in src/add.c"}}, progress);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["stop"], "end_turn") << r->dump();
  EXPECT_EQ((*r)["text"], "Fixed add.");
  EXPECT_EQ((*r)["turns"], 3);
  ASSERT_EQ((*r)["toolCalls"].size(), 3u);
  for (const auto& c : (*r)["toolCalls"]) EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
  // The file's one line, not the header the model reads above it.
  EXPECT_EQ((*r)["toolCalls"][0]["summary"], "read_file src/add.c: 1 line");
  EXPECT_EQ(read_file(root_ / "src/add.c"), "int add(int a, int b) { return a + b; }\n");
  EXPECT_EQ(questions_, std::vector<std::string>{"files/edit"});  // reads are not asked about
  // The contract's events, in order.
  std::vector<std::string> types;
  for (const auto& e : progress.events) types.push_back(e["type"]);
  const std::vector<std::string> expected = {"conversation", "turn",        "text",        "usage", "tool_call",
                                             "tool_result",  "tool_call",   "tool_result", "turn",  "usage",
                                             "tool_call",    "tool_result", "turn",        "text",  "usage"};
  EXPECT_EQ(types, expected);
  EXPECT_EQ(progress.events[0]["conversation"], (*r)["conversation"]);  // named before any step
  EXPECT_EQ(progress.events[4]["name"], "read_file");
  EXPECT_EQ(progress.events[4]["summary"], "read_file src/add.c");
  EXPECT_EQ(progress.events[5]["ok"], true);
  EXPECT_TRUE(progress.lines.empty());

  // Saved: listed, and resumed with everything the model saw.
  auto listed = invoke("agent/list", json::object());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ((*listed)["conversations"].size(), 1u);
  EXPECT_EQ((*listed)["conversations"][0]["id"], (*r)["conversation"]);
  EXPECT_EQ((*listed)["conversations"][0]["title"], "Fix add in src/add.c");
  EXPECT_EQ((*listed)["conversations"][0]["turns"], 3);
  script(json::array({{{"text", "Nothing else."}}}));
  Capture lines(false);
  auto resumed = invoke("agent/resume", {{"id", (*r)["conversation"]}, {"prompt", "Anything else?"}}, lines);
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ((*resumed)["text"], "Nothing else.");
  EXPECT_EQ((*resumed)["conversation"], (*r)["conversation"]);
  EXPECT_EQ(lines.lines, std::vector<std::string>{"Nothing else."});
  auto store = Store::open(Store::path_for(ws_->root().path()));
  ASSERT_TRUE(store.ok());
  auto messages = (*store)->load((*r)["conversation"]);
  ASSERT_TRUE(messages.ok());
  EXPECT_EQ(messages->size(), 9u);  // user, a, tool, tool, a, tool, a, user, a
}

TEST_F(AgentOps, DeniedEditLeavesTheFileAndTellsTheModel) {
  answer_ = Choice::Deny;
  script(fix_script());
  auto r = invoke("agent/run", {{"prompt", "Fix add"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["stop"], "end_turn");
  EXPECT_EQ(read_file(root_ / "src/add.c"), "int add(int a, int b) { return a - b; }\n");
  ASSERT_EQ((*r)["toolCalls"].size(), 3u);
  EXPECT_FALSE((*r)["toolCalls"][2]["ok"].get<bool>());
  EXPECT_EQ((*r)["toolCalls"][2]["summary"], "edit_file src/add.c: denied");
  auto store = Store::open(Store::path_for(ws_->root().path()));
  ASSERT_TRUE(store.ok());
  auto messages = (*store)->load((*r)["conversation"]);
  ASSERT_TRUE(messages.ok());
  // The message the model got after its edit: the tool result, the denial.
  const auto& told = (*messages)[5];
  EXPECT_EQ(told.role, "tool");
  EXPECT_EQ(told.content.rfind("Error: denied by the user: ", 0), 0u) << told.content;
}

TEST_F(AgentOps, CancelWhileAQuestionWaitsEndsTheRun) {
  // The user cancels the run instead of answering the edit's question.
  client_->ask = [this](const permissions::Question& q, std::function<void(std::optional<Choice>)>) {
    questions_.push_back(q.operation);
    token_.cancel();
    return std::function<void()>();
  };
  script(fix_script());
  const auto start = std::chrono::steady_clock::now();
  auto r = invoke("agent/run", {{"prompt", "Fix add"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ((*r)["stop"], "cancelled");
  EXPECT_EQ(questions_, std::vector<std::string>{"files/edit"});
  EXPECT_EQ((*r)["toolCalls"][2]["summary"], "edit_file src/add.c: cancelled");
  EXPECT_EQ(read_file(root_ / "src/add.c"), "int add(int a, int b) { return a - b; }\n");
}

TEST_F(AgentOps, DelegateIsNotOfferedToTheAgentAndAnswersInLines) {
  script(json::array({{{"tool_calls", {call("delegate", {{"task", "recurse"}})}}}, {{"text", "Done."}}}));
  auto r = invoke("agent/delegate", {{"task", "look around"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["summary"], "Done.");
  ASSERT_EQ((*r)["toolCalls"].size(), 1u);
  EXPECT_EQ((*r)["toolCalls"][0], "(failed) unknown tool delegate");
  const Operation* op = builtin_registry().find("agent/delegate");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->mcp_name, "delegate");
  ASSERT_TRUE(op->mcp_text);
  const std::string text = op->mcp_text(*r);
  EXPECT_EQ(text, "Done.\n\ntool calls (1):\n- (failed) unknown tool delegate\n");
  EXPECT_FALSE(builtin_registry().find("agent/run")->mcp_tool);
}

TEST_F(AgentOps, ToolsNarrowTheOfferAndUnknownNamesAreRefused) {
  script(json::array({{{"tool_calls", {call("edit_file", {{"path", "src/add.c"}})}}}, {{"text", "ok"}}}));
  auto r = invoke("agent/run", {{"prompt", "read only"}, {"tools", {"read_file", "grep"}}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["toolCalls"][0]["summary"], "unknown tool edit_file");
  auto bad = invoke("agent/run", {{"prompt", "x"}, {"tools", {"delegate"}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, error_code::kInvalidParams);
}

// A host that offered itself only some tool groups (serve --tools) cannot
// widen them by delegating: the agent is offered those groups' tools only.
TEST_F(AgentOps, TheClientsToolGroupsBoundWhatTheAgentMayCall) {
  tool_groups_ = std::set<std::string>{"files", "agent"};
  script(
      json::array({{{"tool_calls", {call("grep", {{"pattern", "add"}}), call("read_file", {{"path", "src/add.c"}})}}},
                   {{"text", "ok"}}}));
  auto r = invoke("agent/delegate", {{"task", "look"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ((*r)["toolCalls"].size(), 2u) << r->dump();
  EXPECT_EQ((*r)["toolCalls"][0], "(failed) unknown tool grep");
  EXPECT_NE((*r)["toolCalls"][1].get<std::string>().find("read_file"), std::string::npos) << r->dump();
  EXPECT_EQ((*r)["toolCalls"][1].get<std::string>().find("(failed)"), std::string::npos) << r->dump();
  // Naming a tool of a group left out is refused before the model is called.
  auto bad = invoke("agent/run", {{"prompt", "x"}, {"tools", {"grep"}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, error_code::kInvalidParams);
  EXPECT_NE(bad.error().message.find("'search'"), std::string::npos) << bad.error().message;
}

TEST_F(AgentOps, InvalidToolArgumentsAreToldToTheModel) {
  script(json::array({{{"tool_calls", {call("read_file", {{"nopath", 1}})}}}, {{"text", "ok"}}}));
  auto r = invoke("agent/run", {{"prompt", "x"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE((*r)["toolCalls"][0]["ok"].get<bool>());
  EXPECT_NE((*r)["toolCalls"][0]["summary"].get<std::string>().find("invalid read_file params"), std::string::npos)
      << (*r)["toolCalls"][0].dump();
}

TEST_F(AgentOps, NoProviderConfiguredIsAClearError) {
  write_file(config_ / "icotes/config.toml", "");
  auto r = invoke("agent/run", {{"prompt", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no provider configured"), std::string::npos) << r.error().message;
}

TEST_F(AgentOps, ResumeOfAnUnknownConversationIsNotFound) {
  script(json::array({{{"text", "x"}}}));
  auto r = invoke("agent/resume", {{"id", std::string(32, '0')}, {"prompt", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kNotFound);
}

}  // namespace
}  // namespace icotes::agent::test
