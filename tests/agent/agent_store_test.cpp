// The conversations' store: what was appended is there for a new store
// object on the same file (a daemon restarted), listing, a 100-turn
// conversation loaded whole.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "agent_test_util.hpp"

namespace icotes::agent::test {
namespace {

TEST(AgentStore, AppendedMessagesSurviveReopening) {
  TempDir dir;
  const std::string path = dir / "state/agent/x.sqlite";
  std::string id;
  {
    auto store = Store::open(path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto created = (*store)->create("  Fix the build\nsecond line");
    ASSERT_TRUE(created.ok()) << created.error().message;
    id = *created;
    EXPECT_EQ(id.size(), 32u);
    ASSERT_TRUE((*store)->append(id, {"user", "Fix the build\nsecond line", {}, {}}).ok());
    ASSERT_TRUE((*store)->append(id, {"assistant", "", {{"c1", "read_file", "{\"path\":\"a.c\"}"}}, {}}).ok());
    ASSERT_TRUE((*store)->append(id, {"tool", "1: x", {}, "c1"}).ok());
    ASSERT_TRUE((*store)->append(id, {"assistant", "Fixed.", {}, {}}).ok());
  }  // no close call needed: each append is committed
  auto store = Store::open(path);
  ASSERT_TRUE(store.ok());
  auto m = (*store)->load(id);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->size(), 4u);
  EXPECT_EQ((*m)[0].content, "Fix the build\nsecond line");
  ASSERT_EQ((*m)[1].tool_calls.size(), 1u);
  EXPECT_EQ((*m)[1].tool_calls[0].id, "c1");
  EXPECT_EQ((*m)[1].tool_calls[0].name, "read_file");
  EXPECT_EQ((*m)[1].tool_calls[0].arguments, "{\"path\":\"a.c\"}");
  EXPECT_EQ((*m)[2].role, "tool");
  EXPECT_EQ((*m)[2].tool_call_id, "c1");
  EXPECT_EQ((*m)[3].content, "Fixed.");
  auto listed = (*store)->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, id);
  EXPECT_EQ((*listed)[0].title, "Fix the build");
  EXPECT_EQ((*listed)[0].turns, 2);
  EXPECT_GT((*listed)[0].updated_ms, 0);
}

TEST(AgentStore, UnknownConversationIsNotFound) {
  TempDir dir;
  auto store = Store::open(dir / "a.sqlite");
  ASSERT_TRUE(store.ok());
  auto m = (*store)->load("00000000000000000000000000000000");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, error_code::kNotFound);
  auto st = (*store)->append("00000000000000000000000000000000", {"user", "x", {}, {}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, error_code::kNotFound);
}

TEST(AgentStore, ListIsMostRecentFirstWithLongTitlesCut) {
  TempDir dir;
  auto store = Store::open(dir / "a.sqlite");
  ASSERT_TRUE(store.ok());
  auto a = (*store)->create(std::string(200, 'a'));
  ASSERT_TRUE(a.ok());
  auto b = (*store)->create("b");
  ASSERT_TRUE(b.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE((*store)->append(*a, {"user", "later", {}, {}}).ok());
  auto listed = (*store)->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, *a);
  EXPECT_EQ((*listed)[0].title, std::string(80, 'a') + "...");
  EXPECT_EQ((*listed)[1].title, "b");
}

TEST(AgentStore, HundredTurnConversationLoadsWhole) {
  TempDir dir;
  const std::string path = dir / "a.sqlite";
  std::string id;
  {
    auto store = Store::open(path);
    ASSERT_TRUE(store.ok());
    id = *(*store)->create("long");
    ASSERT_TRUE((*store)->append(id, {"user", "long", {}, {}}).ok());
    for (int i = 0; i < 100; ++i) {
      const std::string cid = "c" + std::to_string(i);
      ASSERT_TRUE((*store)->append(id, {"assistant", "turn " + std::to_string(i), {{cid, "grep", "{}"}}, {}}).ok());
      ASSERT_TRUE((*store)->append(id, {"tool", std::string(2000, 'x'), {}, cid}).ok());
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto store = Store::open(path);
  ASSERT_TRUE(store.ok());
  auto m = (*store)->load(id);
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 201u);
  EXPECT_EQ((*m)[199].content, "turn 99");
  EXPECT_EQ((*m)[200].tool_call_id, "c99");
  EXPECT_EQ((*(*store)->list())[0].turns, 100);
  RecordProperty("open_and_load_ms", std::to_string(ms));
  std::printf("100-turn conversation: opened and loaded in %.2f ms\n", ms);
  EXPECT_LT(ms, 50.0);
}

TEST(AgentStore, PathIsPerWorkspaceUnderTheStateDirectory) {
  const std::string a = Store::path_for("/home/u/project");
  EXPECT_NE(a, Store::path_for("/home/u/other"));
  EXPECT_NE(a.find("/icotes/agent/"), std::string::npos) << a;
  EXPECT_EQ(a.substr(a.size() - 7), ".sqlite");
}

}  // namespace
}  // namespace icotes::agent::test

namespace icotes::agent::test {
namespace {

// A turn's cost outside the model and the tool: the loop, the events and
// the store's two appends (assistant message, tool result), with the mock
// provider and a tool that does nothing.
TEST(AgentStore, TurnOverheadWithPersistenceIsSmall) {
  TempDir dir;
  auto store = Store::open(dir / "a.sqlite");
  ASSERT_TRUE(store.ok());
  const std::string id = *(*store)->create("bench");
  json script = json::array();
  constexpr int kTurns = 200;
  for (int i = 0; i < kTurns - 1; ++i)
    script.push_back({{"text", "t"}, {"tool_calls", {{{"name", "noop"}, {"arguments", {{"path", "a.c"}}}}}}});
  script.push_back({{"text", "done"}});
  auto provider = mock_provider(dir, script);
  FakeTools tools;
  tools.add("noop", [](const json&, const CancellationToken&) { return ToolOutcome{true, "ok", "noop"}; });
  RecordEvents events;
  CancellationToken cancel;
  RunOptions o;
  o.max_turns = kTurns;
  Store& s = **store;
  const auto start = std::chrono::steady_clock::now();
  auto r = run(
      *provider, tools, {}, "go", o, events, [&](const providers::Message& m) { return s.append(id, m); }, cancel);
  const double per_turn =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kTurns;
  EXPECT_EQ(r.stop, Stop::kEndTurn);
  EXPECT_EQ(r.turns, kTurns);
  std::printf("agent turn overhead (loop + events + 2 SQLite appends): %.3f ms\n", per_turn);
  EXPECT_LT(per_turn, 5.0);  // the target is 2 ms; loose here for loaded CI machines
}

}  // namespace
}  // namespace icotes::agent::test
