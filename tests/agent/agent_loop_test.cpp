// The agent loop with the mock provider and fake tools: calls and results
// round-trip, the turn limit, the token budget, cancellation, a failing tool,
// an unknown tool, malformed arguments (the model is told; the loop goes on).
#include <gtest/gtest.h>

#include "agent_test_util.hpp"

namespace icotes::agent::test {
namespace {

json call(const std::string& name, const json& args, const std::string& id = "") {
  json c = {{"name", name}, {"arguments", args}};
  if (!id.empty()) c["id"] = id;
  return c;
}

struct Loop : ::testing::Test {
  RunResult go(const json& script, const std::string& prompt = "do it", RunOptions options = {}) {
    provider = std::make_unique<Recording>(mock_provider(dir, script));
    return run(*provider, tools, {}, prompt, options, events, persist, cancel);
  }
  // The last request's messages from the end: the tool results the model got.
  const providers::Message& sent(std::size_t from_end) const {
    const auto& m = provider->requests.back().messages;
    return m[m.size() - 1 - from_end];
  }
  TempDir dir;
  FakeTools tools;
  RecordEvents events;
  std::vector<providers::Message> persisted;
  Persist persist = [this](const providers::Message& m) -> Status {
    persisted.push_back(m);
    return ok_status();
  };
  CancellationToken cancel;
  std::unique_ptr<Recording> provider;
};

TEST_F(Loop, ToolCallsAndResultsRoundTrip) {
  tools.add("read_file", [](const json& a, const CancellationToken&) {
    return ToolOutcome{true, "1: int main() {}\n", "read_file " + a["path"].get<std::string>() + ": 1 line"};
  });
  auto r = go(json::array({{{"text", "Reading."},
                            {"chunks", {"Read", "ing."}},
                            {"tool_calls", {call("read_file", {{"path", "a.c"}}, "c1")}},
                            {"usage", {{"input_tokens", 100}, {"output_tokens", 10}}}},
                           {{"text", "It is empty."}, {"usage", {{"input_tokens", 150}, {"output_tokens", 5}}}}}));
  EXPECT_EQ(r.stop, Stop::kEndTurn);
  EXPECT_EQ(r.text, "It is empty.");
  EXPECT_EQ(r.turns, 2);
  EXPECT_EQ(r.usage.input_tokens, 250);
  EXPECT_EQ(r.usage.output_tokens, 15);
  EXPECT_FALSE(r.usage.cost_usd) << "no call's cost is known";
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "read_file");
  EXPECT_EQ(json::parse(r.tool_calls[0].arguments), (json{{"path", "a.c"}}));
  EXPECT_TRUE(r.tool_calls[0].ok);
  EXPECT_EQ(r.tool_calls[0].summary, "read_file a.c: 1 line");
  // The second call carried the assistant's call and the tool's result.
  ASSERT_EQ(provider->requests.size(), 2u);
  EXPECT_EQ(provider->requests[0].messages.front().role, "system");
  EXPECT_EQ(provider->requests[0].tools.size(), 1u);
  EXPECT_EQ(sent(0).role, "tool");
  EXPECT_EQ(sent(0).tool_call_id, "c1");
  EXPECT_EQ(sent(0).content, "1: int main() {}\n");
  EXPECT_EQ(sent(1).role, "assistant");
  ASSERT_EQ(sent(1).tool_calls.size(), 1u);
  EXPECT_EQ(sent(1).tool_calls[0].id, "c1");
  EXPECT_EQ(sent(2).role, "user");
  EXPECT_EQ(sent(2).content, "do it");
  // Persisted as made: user, assistant, tool, assistant.
  ASSERT_EQ(persisted.size(), 4u);
  EXPECT_EQ(persisted[3].content, "It is empty.");
  const std::vector<std::string> expected = {"turn 1",
                                             "text Read",
                                             "text ing.",
                                             "usage 100/10",
                                             "call read_file read_file {\"path\":\"a.c\"}",
                                             "result read_file ok read_file a.c: 1 line",
                                             "turn 2",
                                             "text It is empty.",
                                             "usage 250/15"};
  EXPECT_EQ(events.lines, expected);
}

// A run's cost is the sum of its calls' while every call's is known (the
// provider's figure here, the mock's usage.cost), and unknown once one is not.
TEST_F(Loop, CostIsSummedWhileEveryCallsIsKnown) {
  tools.add("grep", [](const json&, const CancellationToken&) { return ToolOutcome{true, "none\n", "grep: none"}; });
  const json priced =
      json::array({{{"tool_calls", {call("grep", json::object())}},
                    {"usage", {{"input_tokens", 10}, {"output_tokens", 1}, {"cost", 0.25}}}},
                   {{"text", "done"}, {"usage", {{"input_tokens", 20}, {"output_tokens", 2}, {"cost", 0.5}}}}});
  auto r = go(priced);
  ASSERT_TRUE(r.usage.cost_usd);
  EXPECT_DOUBLE_EQ(*r.usage.cost_usd, 0.75);
  json half = priced;
  half[1]["usage"].erase("cost");
  auto unknown = go(half);
  EXPECT_EQ(unknown.usage.input_tokens, 30);
  EXPECT_FALSE(unknown.usage.cost_usd) << "one call's cost unknown: the run's is too";
}

TEST_F(Loop, TurnLimitEndsARunawayLoopSayingSo) {
  int ran = 0;
  tools.add("grep", [&](const json&, const CancellationToken&) {
    ++ran;
    return ToolOutcome{true, "nothing", "grep: 0 matches"};
  });
  json script = json::array();
  for (int i = 0; i < 10; ++i)
    script.push_back({{"text", "again"}, {"tool_calls", {call("grep", {{"pattern", "x"}})}}});
  RunOptions o;
  o.max_turns = 3;
  auto r = go(script, "loop", o);
  EXPECT_EQ(r.stop, Stop::kMaxTurns);
  EXPECT_EQ(r.turns, 3);
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(provider->requests.size(), 3u);
  EXPECT_NE(r.text.find("turn limit (maxTurns 3)"), std::string::npos) << r.text;
  EXPECT_EQ(r.text.rfind("again", 0), 0u) << r.text;
}

TEST_F(Loop, TokenBudgetStopsBeforeTheNextModelCall) {
  tools.add("grep", [](const json&, const CancellationToken&) { return ToolOutcome{true, "x", "grep"}; });
  json script = json::array();
  for (int i = 0; i < 10; ++i)
    script.push_back(
        {{"tool_calls", {call("grep", json::object())}}, {"usage", {{"input_tokens", 400}, {"output_tokens", 100}}}});
  RunOptions o;
  o.max_tokens = 1200;
  auto r = go(script, "spend", o);
  EXPECT_EQ(r.stop, Stop::kTokenBudget);
  EXPECT_EQ(r.turns, 3);  // 500, 1000, 1500 >= 1200
  EXPECT_EQ(r.usage.input_tokens + r.usage.output_tokens, 1500);
  EXPECT_NE(r.text.find("1500 tokens used, the budget is 1200 (maxTokens)"), std::string::npos) << r.text;
}

TEST_F(Loop, CancelDuringAToolStopsTheRunAndAnswersEveryCall) {
  bool saw_cancel = false;
  tools.add("run_command", [&](const json&, const CancellationToken& c) {
    cancel.cancel();  // the user cancels while the tool runs
    saw_cancel = c.cancelled();
    return ToolOutcome{false, "Error: cancelled", "run_command: cancelled"};
  });
  tools.add("read_file", [](const json&, const CancellationToken&) { return ToolOutcome{true, "x", "read"}; });
  auto r = go(
      json::array({{{"tool_calls",
                     {call("run_command", {{"command", "sleep 100"}}, "a"), call("read_file", {{"path", "x"}}, "b")}}},
                   {{"text", "never"}}}));
  EXPECT_TRUE(saw_cancel);
  EXPECT_EQ(r.stop, Stop::kCancelled);
  EXPECT_EQ(r.turns, 1);
  EXPECT_EQ(tools.calls.size(), 1u);  // read_file never ran
  ASSERT_EQ(persisted.size(), 4u);    // user, assistant, two tool answers: resumable
  EXPECT_EQ(persisted[3].tool_call_id, "b");
  EXPECT_NE(persisted[3].content.find("cancelled"), std::string::npos);
  EXPECT_NE(r.text.find("[agent: cancelled]"), std::string::npos);
}

TEST_F(Loop, CancelStopsTheModelCall) {
  tools.add("grep", [](const json&, const CancellationToken&) { return ToolOutcome{true, "x", "grep"}; });
  provider = std::make_unique<Recording>(mock_provider(dir, json::array({{{"text", "never"}}})));
  provider->before_call = [](const CancellationToken& c) { c.cancel(); };
  auto r = run(*provider, tools, {}, "x", {}, events, persist, cancel);
  EXPECT_EQ(r.stop, Stop::kCancelled);
  EXPECT_EQ(r.text, "[agent: cancelled]");
}

TEST_F(Loop, ToolErrorIsToldToTheModelAndTheLoopGoesOn) {
  tools.add("edit_file", [](const json&, const CancellationToken&) {
    return ToolOutcome{false, "Error: oldString not found in a.c", "edit_file a.c: not found"};
  });
  auto r = go(json::array({{{"tool_calls", {call("edit_file", {{"path", "a.c"}})}}}, {{"text", "I could not."}}}));
  EXPECT_EQ(r.stop, Stop::kEndTurn);
  EXPECT_EQ(r.text, "I could not.");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_FALSE(r.tool_calls[0].ok);
  EXPECT_EQ(sent(0).content, "Error: oldString not found in a.c");
}

TEST_F(Loop, UnknownToolIsToldToTheModel) {
  tools.add("read_file", [](const json&, const CancellationToken&) { return ToolOutcome{true, "x", "read"}; });
  auto r = go(json::array({{{"tool_calls", {call("rm_rf", json::object())}}}, {{"text", "ok"}}}));
  EXPECT_EQ(r.stop, Stop::kEndTurn);
  EXPECT_TRUE(tools.calls.empty());
  EXPECT_EQ(sent(0).content, "Error: there is no tool named 'rm_rf'. The tools are: read_file.");
  EXPECT_EQ(r.tool_calls[0].summary, "unknown tool rm_rf");
}

TEST_F(Loop, MalformedArgumentsAreToldToTheModel) {
  tools.add("read_file", [](const json& a, const CancellationToken&) {
    return ToolOutcome{true, "read " + a.value("path", std::string()), "read"};
  });
  auto r = go(json::array({{{"tool_calls", {call("read_file", "{\"path\": \"a.c\"")}}},
                           {{"tool_calls", {call("read_file", "[1]")}}},
                           {{"tool_calls", {call("read_file", "")}}},
                           {{"text", "done"}}}));
  EXPECT_EQ(r.stop, Stop::kEndTurn);
  EXPECT_EQ(r.turns, 4);
  ASSERT_EQ(r.tool_calls.size(), 3u);
  EXPECT_FALSE(r.tool_calls[0].ok);
  EXPECT_FALSE(r.tool_calls[1].ok);
  EXPECT_TRUE(r.tool_calls[2].ok);  // no arguments at all: {}
  ASSERT_EQ(tools.calls.size(), 1u);
  EXPECT_EQ(tools.calls[0].arguments, "{}");
  const auto& second = provider->requests[1].messages.back();
  EXPECT_NE(second.content.find("are not a JSON object (invalid JSON)"), std::string::npos) << second.content;
  const auto& third = provider->requests[2].messages.back();
  EXPECT_NE(third.content.find("(not an object)"), std::string::npos) << third.content;
}

TEST_F(Loop, ProviderErrorEndsTheRunWithItsMessage) {
  auto r = go(json::array({{{"error", "HTTP 500: overloaded"}}}));
  EXPECT_EQ(r.stop, Stop::kError);
  EXPECT_NE(r.error.find("HTTP 500: overloaded"), std::string::npos);
  EXPECT_NE(r.text.find("[agent: stopped by an error"), std::string::npos);
}

TEST_F(Loop, PersistFailureEndsTheRun) {
  persist = [](const providers::Message&) -> Status { return make_error(error_code::kIoError, "disk full"); };
  auto r = go(json::array({{{"text", "hi"}}}));
  EXPECT_EQ(r.stop, Stop::kError);
  EXPECT_NE(r.error.find("disk full"), std::string::npos);
  EXPECT_TRUE(provider->requests.empty());
}

TEST_F(Loop, HistoryComesBeforeThePrompt) {
  provider = std::make_unique<Recording>(mock_provider(dir, json::array({{{"text", "again"}}})));
  std::vector<providers::Message> history = {{"user", "first", {}, {}}, {"assistant", "answer", {}, {}}};
  RunOptions o;
  o.system = "be brief";
  auto r = run(*provider, tools, history, "second", o, events, persist, cancel);
  EXPECT_EQ(r.stop, Stop::kEndTurn);
  const auto& m = provider->requests[0].messages;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].content, "be brief");
  EXPECT_EQ(m[1].content, "first");
  EXPECT_EQ(m[3].content, "second");
  EXPECT_EQ(persisted.size(), 2u);  // only what this run added
}

}  // namespace
}  // namespace icotes::agent::test
