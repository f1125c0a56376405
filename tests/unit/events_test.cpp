#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "icotes/builtin_ops.hpp"
#include "icotes/events.hpp"
#include "icotes/session.hpp"
#include "icotes/workspace.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using events::Broker;
using events::Event;

TEST(EventTopics, SegmentsAndWildcards) {
  using events::topic_matches;
  EXPECT_TRUE(topic_matches("files/changed", "files/changed"));
  EXPECT_FALSE(topic_matches("files/changed", "files/changed/x"));
  EXPECT_FALSE(topic_matches("files/changed", "files"));
  EXPECT_FALSE(topic_matches("files", "files/changed"));
  EXPECT_TRUE(topic_matches("terminal/*/output", "terminal/3/output"));
  EXPECT_FALSE(topic_matches("terminal/*/output", "terminal/3/exit"));
  EXPECT_FALSE(topic_matches("terminal/*/output", "terminal/output"));
  EXPECT_FALSE(topic_matches("terminal/*", "terminal/3/output"));
  EXPECT_TRUE(topic_matches("terminal/**", "terminal/3/output"));
  EXPECT_TRUE(topic_matches("terminal/**", "terminal"));  // "**" takes none too
  EXPECT_TRUE(topic_matches("**", "a/b/c"));
  EXPECT_TRUE(topic_matches("**/exit", "terminal/3/exit"));
  EXPECT_TRUE(topic_matches("**/exit", "exit"));
  EXPECT_FALSE(topic_matches("**/exit", "terminal/3/output"));
  EXPECT_TRUE(topic_matches("a/**/d", "a/b/c/d"));
  EXPECT_TRUE(topic_matches("a/**/d", "a/d"));
  EXPECT_FALSE(topic_matches("a/**/d", "a/b/c/e"));
  // A segment is compared whole: "term" is not a prefix pattern.
  EXPECT_FALSE(topic_matches("term", "terminal"));
}

TEST(EventTopics, PatternsAreChecked) {
  EXPECT_TRUE(events::check_pattern("terminal/*/output").ok());
  EXPECT_TRUE(events::check_pattern("**").ok());
  for (const char* bad : {"", "/files", "files/", "a//b", "term*", "a/*b/c", "***"}) {
    auto r = events::check_pattern(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, error_code::kInvalidParams) << bad;
  }
  EXPECT_FALSE(events::check_pattern(std::string(257, 'a')).ok());
}

struct Recorder {
  std::vector<std::pair<std::uint64_t, Event>> got;
  Broker::Sink sink() {
    return [this](std::uint64_t sub, const Event& e) { got.emplace_back(sub, e); };
  }
};

TEST(EventBroker, NumbersEachTopicAndDeliversToMatches) {
  Broker b;
  Recorder all, term;
  int owner = 0;
  auto s1 = b.subscribe(&owner, {"**"}, all.sink());
  auto s2 = b.subscribe(&owner, {"terminal/*/output"}, term.sink());
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_NE(*s1, *s2);
  EXPECT_EQ(b.publish("terminal/1/output", json{{"data", "a"}}), 1u);
  EXPECT_EQ(b.publish("terminal/1/output", json{{"data", "b"}}), 2u);
  EXPECT_EQ(b.publish("terminal/1/exit", json{{"code", 0}}), 1u);  // its own numbering
  EXPECT_EQ(b.publish("files/changed", json::array()), 1u);
  ASSERT_EQ(all.got.size(), 4u);
  ASSERT_EQ(term.got.size(), 2u);
  EXPECT_EQ(term.got[0].first, *s2);
  EXPECT_EQ(term.got[1].second.seq, 2u);
  EXPECT_EQ(term.got[1].second.data["data"], "b");
  EXPECT_GT(term.got[1].second.time_ms, 1'700'000'000'000);  // Unix ms
  EXPECT_EQ(b.last_seq("terminal/1/output"), 2u);
  EXPECT_EQ(b.last_seq("nothing"), 0u);
}

TEST(EventBroker, ReplaysFromASequenceNumber) {
  Broker b;
  for (int i = 1; i <= 5; ++i) b.publish("t/a", i);
  b.publish("t/b", 100);
  b.publish("other", 0);
  Recorder r;
  std::size_t replayed = 0;
  std::vector<std::string> gaps;
  auto s = b.subscribe(nullptr, {"t/*"}, r.sink(), 3, &replayed, &gaps);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(gaps.empty());
  // t/a 4 and 5; t/b has only seq 1 <= 3.
  ASSERT_EQ(replayed, 2u);
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[0].second.data, 4);
  EXPECT_EQ(r.got[1].second.data, 5);
  // New events follow the replay, none twice.
  b.publish("t/a", 6);
  ASSERT_EQ(r.got.size(), 3u);
  EXPECT_EQ(r.got[2].second.seq, 6u);
  // since 0: everything kept.
  Recorder r0;
  ASSERT_TRUE(b.subscribe(nullptr, {"t/b"}, r0.sink(), 0).ok());
  ASSERT_EQ(r0.got.size(), 1u);
  EXPECT_EQ(r0.got[0].second.data, 100);
  // Without since: nothing old.
  Recorder none;
  ASSERT_TRUE(b.subscribe(nullptr, {"t/*"}, none.sink()).ok());
  EXPECT_TRUE(none.got.empty());
}

TEST(EventBroker, HistoryIsBoundedByCountAndBytesAndSaysWhatIsLost) {
  Broker b(events::Limits{.history_events = 10, .history_bytes = 1000, .max_topics = 4096});
  for (int i = 1; i <= 25; ++i) b.publish("count", i);
  auto kept = b.history("count");
  ASSERT_EQ(kept.size(), 10u);
  EXPECT_EQ(kept.front().seq, 16u);
  EXPECT_EQ(kept.back().seq, 25u);
  // A flood of big events: kept by their size hint, never more than the bound.
  for (int i = 1; i <= 100; ++i) b.publish("big", std::string(300, 'x'), 300);
  EXPECT_EQ(b.history("big").size(), 3u);  // 3 x 300 <= 1000 < 4 x 300
  Recorder r;
  std::size_t replayed = 0;
  std::vector<std::string> gaps;
  ASSERT_TRUE(b.subscribe(nullptr, {"**"}, r.sink(), 5, &replayed, &gaps).ok());
  EXPECT_EQ(gaps, (std::vector<std::string>{"big", "count"}));
  EXPECT_EQ(replayed, 13u);
  // A subscriber that has seen up to 15 of "count" loses nothing.
  gaps.clear();
  ASSERT_TRUE(b.subscribe(nullptr, {"count"}, r.sink(), 15, nullptr, &gaps).ok());
  EXPECT_TRUE(gaps.empty());
}

TEST(EventBroker, TopicCountIsBounded) {
  Broker b(events::Limits{.history_events = 10, .history_bytes = 1000, .max_topics = 8});
  for (int i = 0; i < 100; ++i) b.publish("t/" + std::to_string(i), i);
  EXPECT_EQ(b.history("**").size(), 8u);
  EXPECT_EQ(b.last_seq("t/99"), 1u);
  EXPECT_EQ(b.last_seq("t/0"), 0u);  // forgotten
}

TEST(EventBroker, UnsubscribeIsPerOwner) {
  Broker b;
  Recorder r;
  int a = 0, other = 0;
  auto s = b.subscribe(&a, {"x"}, r.sink());
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(b.unsubscribe(&other, *s));  // not its subscription
  b.publish("x", 1);
  EXPECT_EQ(r.got.size(), 1u);
  EXPECT_TRUE(b.unsubscribe(&a, *s));
  EXPECT_FALSE(b.unsubscribe(&a, *s));
  b.publish("x", 2);
  EXPECT_EQ(r.got.size(), 1u);
  ASSERT_TRUE(b.subscribe(&a, {"x"}, r.sink()).ok());
  ASSERT_TRUE(b.subscribe(&a, {"y"}, r.sink()).ok());
  ASSERT_TRUE(b.subscribe(&other, {"y"}, r.sink()).ok());
  EXPECT_EQ(b.unsubscribe_owner(&a), 2u);
  EXPECT_EQ(b.subscription_count(), 1u);
}

TEST(EventBroker, RejectsBadPatternsWithoutSubscribing) {
  Broker b;
  Recorder r;
  auto s = b.subscribe(nullptr, {"ok", "bad//x"}, r.sink());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("bad//x"), std::string::npos);
  EXPECT_EQ(b.subscription_count(), 0u);
  EXPECT_FALSE(b.subscribe(nullptr, {}, r.sink()).ok());
}

TEST(EventBroker, ConcurrentPublishersKeepEachTopicInOrder) {
  Broker b;
  std::mutex m;
  std::map<std::string, std::vector<std::uint64_t>> seen;
  ASSERT_TRUE(b.subscribe(nullptr, {"**"}, [&](std::uint64_t, const Event& e) {
                 std::lock_guard lock(m);
                 seen[e.topic].push_back(e.seq);
               }).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) b.publish(t % 2 ? "odd" : "even", i);
    });
  for (auto& t : threads) t.join();
  for (const auto& [topic, seqs] : seen) {
    ASSERT_EQ(seqs.size(), 1000u) << topic;
    for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1) << topic;
  }
}

// The operations, on a real connection: notifications carry the
// subscription, and the subscription ends with the connection.
TEST(EventOperations, SubscribeDeliversNotificationsUntilTheConnectionCloses) {
  test::TempDir dir;
  auto ws = Workspace::open(dir.path(), 1);
  ASSERT_TRUE(ws.ok());
  Workspace& w = **ws;
  auto transport = std::make_shared<test::CaptureTransport>();
  auto conn = std::make_shared<Connection>(transport);
  const Registry& reg = builtin_registry();
  const Operation* sub = reg.find("events/subscribe");
  const Operation* unsub = reg.find("events/unsubscribe");
  ASSERT_TRUE(sub && unsub);
  EXPECT_EQ(sub->kind, OperationKind::None);
  CancellationToken token;
  NullProgress progress;
  Context ctx{w, token, progress, conn};

  w.events().publish("terminal/7/output", json{{"data", "old"}});
  auto r = reg.invoke(*sub, ctx, json{{"topics", {"terminal/*/output"}}, {"since", 0}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["replayed"], 1);
  const auto id = (*r)["subscription"].get<std::uint64_t>();
  w.events().publish("terminal/7/output", json{{"data", "new"}});
  w.events().publish("terminal/7/exit", json{{"code", 0}});  // not subscribed
  auto frames = transport->frames();
  ASSERT_EQ(frames.size(), 2u);
  json first = json::parse(frames[0]), second = json::parse(frames[1]);
  EXPECT_EQ(first["method"], "icotes/event");
  EXPECT_EQ(first["params"]["subscription"], id);
  EXPECT_EQ(first["params"]["topic"], "terminal/7/output");
  EXPECT_EQ(first["params"]["seq"], 1);
  EXPECT_EQ(first["params"]["data"]["data"], "old");
  EXPECT_EQ(second["params"]["seq"], 2);
  EXPECT_EQ(second["params"]["data"]["data"], "new");

  // Bad patterns are refused by name.
  auto bad = reg.invoke(*sub, ctx, json{{"topics", {"terminal/**/x*"}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, error_code::kInvalidParams);

  // Unsubscribe stops delivery.
  auto u = reg.invoke(*unsub, ctx, json{{"subscription", id}});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)["removed"], true);
  w.events().publish("terminal/7/output", json{{"data", "after"}});
  EXPECT_EQ(transport->frames().size(), 2u);

  // A session's close ends what its connection subscribed.
  ASSERT_TRUE(reg.invoke(*sub, ctx, json{{"topics", {"**"}}}).ok());
  EXPECT_EQ(w.events().subscription_count(), 1u);
  {
    Session session(w, conn, SessionOptions{});
    session.on_close();
  }
  EXPECT_EQ(w.events().subscription_count(), 0u);

  // Without a connection (icotes call) there is nowhere to send events.
  Context no_conn{w, token, progress, nullptr};
  auto none = reg.invoke(*sub, no_conn, json{{"topics", {"**"}}});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("icotes serve"), std::string::npos);
}

}  // namespace
}  // namespace icotes
