#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "icotes/rpc.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::CaptureTransport;

// Records everything; answers requests according to `mode`.
class RecordingHandler final : public MessageHandler {
 public:
  enum class Mode { Echo, Keep, Drop, Throw };
  Mode mode = Mode::Echo;
  std::vector<std::pair<std::string, json>> notifications;
  std::vector<Request> kept;
  std::vector<std::string> methods;
  int closes = 0;

  void on_request(Request request) override {
    methods.push_back(request.method());
    switch (mode) {
      case Mode::Echo:
        request.reply(json{{"method", request.method()}, {"params", request.params()}});
        break;
      case Mode::Keep:
        kept.push_back(std::move(request));
        break;
      case Mode::Drop:
        break;  // the last copy goes away unanswered
      case Mode::Throw:
        (void)request.params().at("n").get<int>();
        request.reply(json());
        break;
    }
  }
  void on_notification(const std::string& method, const json& params) override {
    if (mode == Mode::Throw) (void)params.at("n").get<int>();
    notifications.emplace_back(method, params);
  }
  void on_close() override { ++closes; }
};

struct Fixture {
  std::shared_ptr<CaptureTransport> transport = std::make_shared<CaptureTransport>();
  std::shared_ptr<Connection> conn;
  RecordingHandler handler;

  explicit Fixture(std::size_t max = kDefaultMaxFrameBytes) {
    conn = std::make_shared<Connection>(transport, max);
    conn->set_handler(&handler);
  }
  void line(const std::string& s) { conn->on_bytes(s + "\n"); }

  // Frames written, parsed (newline-delimited framing assumed).
  std::vector<json> replies() const {
    std::vector<json> out;
    for (const auto& f : transport->frames()) {
      EXPECT_FALSE(f.empty());
      EXPECT_EQ(f.back(), '\n') << f;
      out.push_back(json::parse(f));
    }
    return out;
  }
  json only_reply() const {
    auto r = replies();
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? json() : r[0];
  }
};

TEST(Connection, AnswersARequest) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"a":1}})");
  const json r = f.only_reply();
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["result"]["method"], "echo");
  EXPECT_EQ(r["result"]["params"]["a"], 1);
  EXPECT_FALSE(r.contains("error"));
}

TEST(Connection, StringIdsAndArrayParamsRoundTrip) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":"x-1","method":"m","params":[1,2]})");
  const json r = f.only_reply();
  EXPECT_EQ(r["id"], "x-1");
  EXPECT_EQ(r["result"]["params"], json::array({1, 2}));
}

TEST(Connection, MissingParamsBecomeEmptyObject) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":2,"method":"m"})");
  EXPECT_EQ(f.only_reply()["result"]["params"], json::object());
}

TEST(Connection, ParseErrorThenKeepsWorking) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":5,"method":)");
  f.line(R"({"jsonrpc":"2.0","id":6,"method":"after"})");
  const auto r = f.replies();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["error"]["code"], -32700);
  EXPECT_EQ(r[0]["id"], 5);  // sniffed from the broken text
  EXPECT_EQ(r[1]["id"], 6);
  EXPECT_EQ(r[1]["result"]["method"], "after");
}

// nlohmann::json throws out_of_range (406), not parse_error, for a number
// no double can hold; uncaught, one such request ended the server (found by
// fuzz/framing_rpc_fuzz in CI).
TEST(Connection, NumberOutOfRangeIsAParseErrorAndTheConnectionLives) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":5,"method":"m","params":{"n":1e400}})");
  f.line(R"([{"jsonrpc":"2.0","id":6,"method":"m","params":[-1e99999]}])");
  f.line(R"({"jsonrpc":"2.0","id":1e99999999,"method":"m"})");
  f.line(R"({"jsonrpc":"2.0","id":7,"method":"after"})");
  const auto r = f.replies();
  ASSERT_EQ(r.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r[i]["error"]["code"], -32700) << r[i];
    EXPECT_NE(r[i]["error"]["message"].get<std::string>().find("number overflow"), std::string::npos) << r[i];
  }
  EXPECT_EQ(r[0]["id"], 5);
  EXPECT_TRUE(r[1]["id"].is_null());  // a batch: JSON-RPC 2.0 section 6 answers id null
  EXPECT_TRUE(r[2]["id"].is_null());  // not "1"
  EXPECT_EQ(r[3]["id"], 7);
  EXPECT_EQ(f.handler.methods, std::vector<std::string>{"after"});
}

TEST(Connection, ParseErrorWithoutIdAnswersNullId) {
  Fixture f;
  f.line("this is not json");
  const json r = f.only_reply();
  EXPECT_EQ(r["error"]["code"], -32700);
  EXPECT_TRUE(r["id"].is_null());
  EXPECT_TRUE(f.handler.methods.empty());
}

TEST(Connection, WrongJsonrpcVersionIsInvalidRequest) {
  Fixture f;
  f.line(R"({"jsonrpc":"1.0","id":3,"method":"m"})");
  const json r = f.only_reply();
  EXPECT_EQ(r["error"]["code"], -32600);
  EXPECT_EQ(r["id"], 3);
  EXPECT_TRUE(f.handler.methods.empty());
}

TEST(Connection, MissingJsonrpcIsInvalidRequest) {
  Fixture f;
  f.line(R"({"id":3,"method":"m"})");
  EXPECT_EQ(f.only_reply()["error"]["code"], -32600);
  EXPECT_TRUE(f.handler.methods.empty());
}

TEST(Connection, NonObjectIsInvalidRequest) {
  Fixture f;
  f.line("42");
  const json r = f.only_reply();
  EXPECT_EQ(r["error"]["code"], -32600);
  EXPECT_TRUE(r["id"].is_null());
}

TEST(Connection, BadIdTypesAreInvalidRequest) {
  for (const char* id : {"1.5", "{}", "[1]", "true"}) {
    Fixture f;
    f.line(std::string(R"({"jsonrpc":"2.0","method":"m","id":)") + id + "}");
    const json r = f.only_reply();
    EXPECT_EQ(r["error"]["code"], -32600) << id;
    EXPECT_TRUE(r["id"].is_null()) << id;
    EXPECT_TRUE(f.handler.methods.empty()) << id;
  }
}

TEST(Connection, MethodMustBeAString) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":7})");
  EXPECT_EQ(f.only_reply()["error"]["code"], -32600);
}

TEST(Connection, ParamsMustBeStructured) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"m","params":"text"})");
  const json r = f.only_reply();
  EXPECT_EQ(r["error"]["code"], -32600);
  EXPECT_EQ(r["id"], 1);
}

TEST(Connection, NotificationsGetNoReply) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","method":"note","params":{"k":"v"}})");
  EXPECT_TRUE(f.transport->frames().empty());
  ASSERT_EQ(f.handler.notifications.size(), 1u);
  EXPECT_EQ(f.handler.notifications[0].first, "note");
  EXPECT_EQ(f.handler.notifications[0].second["k"], "v");
}

TEST(Connection, EmptyBatchIsOneInvalidRequest) {
  Fixture f;
  f.line("[]");
  const json r = f.only_reply();
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["error"]["code"], -32600);
  EXPECT_TRUE(r["id"].is_null());
}

TEST(Connection, MixedBatchIsAnsweredAsOneArray) {
  Fixture f;
  f.line(R"([{"jsonrpc":"2.0","id":1,"method":"a"},)"
         R"({"jsonrpc":"2.0","method":"n1"},)"
         R"({"jsonrpc":"2.0","id":2,"method":"b"},)"
         R"(7,)"
         R"({"jsonrpc":"2.0","method":"n2"}])");
  const auto frames = f.transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  const json r = json::parse(frames[0]);
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["id"], 1);
  EXPECT_EQ(r[0]["result"]["method"], "a");
  EXPECT_EQ(r[1]["id"], 2);
  EXPECT_EQ(r[1]["result"]["method"], "b");
  EXPECT_EQ(r[2]["error"]["code"], -32600);
  EXPECT_EQ(f.handler.notifications.size(), 2u);
}

TEST(Connection, BatchOfOnlyNotificationsSendsNothing) {
  Fixture f;
  f.line(R"([{"jsonrpc":"2.0","method":"n1"},{"jsonrpc":"2.0","method":"n2","params":[]}])");
  EXPECT_TRUE(f.transport->frames().empty());
  EXPECT_EQ(f.handler.notifications.size(), 2u);
}

TEST(Connection, BatchWaitsForLateAnswersFromOtherThreads) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"b"}])");
  EXPECT_TRUE(f.transport->frames().empty());
  ASSERT_EQ(f.handler.kept.size(), 2u);
  // Answer in reverse order, from another thread.
  std::thread t([&] {
    f.handler.kept[1].reply(json("second"));
    f.handler.kept[0].fail(make_error(error_code::kInvalidParams, "bad"));
  });
  t.join();
  const auto frames = f.transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  const json r = json::parse(frames[0]);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], 2);
  EXPECT_EQ(r[0]["result"], "second");
  EXPECT_EQ(r[1]["id"], 1);
  EXPECT_EQ(r[1]["error"]["code"], -32602);
}

TEST(Connection, ReplyTwiceSendsOnce) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"a"})");
  ASSERT_EQ(f.handler.kept.size(), 1u);
  EXPECT_FALSE(f.handler.kept[0].answered());
  f.handler.kept[0].reply(1);
  f.handler.kept[0].reply(2);
  f.handler.kept[0].fail(make_error(error_code::kInternalError, "x"));
  EXPECT_TRUE(f.handler.kept[0].answered());
  EXPECT_EQ(f.only_reply()["result"], 1);
}

TEST(Connection, ErrorReplyCarriesData) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"({"jsonrpc":"2.0","id":9,"method":"a"})");
  f.handler.kept[0].fail(make_error(error_code::kOutsideWorkspace, "nope", json{{"path", "../x"}}));
  const json r = f.only_reply();
  EXPECT_EQ(r["error"]["code"], -32005);
  EXPECT_EQ(r["error"]["message"], "nope");
  EXPECT_EQ(r["error"]["data"]["path"], "../x");
  EXPECT_FALSE(r.contains("result"));
}

TEST(Connection, DroppedRequestAnswersInternalError) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Drop;
  f.line(R"({"jsonrpc":"2.0","id":"lost","method":"a"})");
  const json r = f.only_reply();
  EXPECT_EQ(r["id"], "lost");
  EXPECT_EQ(r["error"]["code"], -32603);
}

TEST(Connection, DroppedRequestInABatchAnswersInsideTheArray) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Drop;
  f.line(R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"b"}])");
  const auto frames = f.transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  const json r = json::parse(frames[0]);
  ASSERT_TRUE(r.is_array());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["error"]["code"], -32603);
  EXPECT_EQ(r[1]["error"]["code"], -32603);
}

TEST(Connection, DroppedMemberOfABatchIsLeftOut) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"b"}])");
  ASSERT_EQ(f.handler.kept.size(), 2u);
  f.handler.kept[0].drop();
  EXPECT_TRUE(f.transport->frames().empty());
  f.handler.kept[1].reply("b");
  const auto frames = f.transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  const json r = json::parse(frames[0]);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["id"], 2);
}

TEST(Connection, DropMarksAnsweredWithoutSending) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"a"})");
  f.handler.kept[0].drop();
  f.handler.kept.clear();  // destroying the last copy must not answer -32603 now
  EXPECT_TRUE(f.transport->frames().empty());
}

TEST(Connection, NoHandlerAnswersMethodNotFound) {
  auto transport = std::make_shared<CaptureTransport>();
  auto conn = std::make_shared<Connection>(transport);
  conn->on_bytes(R"({"jsonrpc":"2.0","id":1,"method":"a"})"
                 "\n");
  const auto frames = transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(json::parse(frames[0])["error"]["code"], -32601);
}

TEST(Connection, CallRoutesResultToCallback) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","method":"hello"})");  // fixes the framing
  std::optional<Result<json>> got;
  f.conn->call("workspace/applyEdit", json{{"label", "x"}}, [&](Result<json> r) { got.emplace(std::move(r)); });
  const json sent = f.only_reply();
  EXPECT_EQ(sent["method"], "workspace/applyEdit");
  EXPECT_EQ(sent["params"]["label"], "x");
  ASSERT_TRUE(sent["id"].is_string());
  EXPECT_FALSE(got.has_value());
  f.line(json{{"jsonrpc", "2.0"}, {"id", sent["id"]}, {"result", {{"applied", true}}}}.dump());
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok());
  EXPECT_EQ(got->value()["applied"], true);
  EXPECT_TRUE(f.handler.methods.empty());
  // A second response with the same id is ignored.
  got.reset();
  f.line(json{{"jsonrpc", "2.0"}, {"id", sent["id"]}, {"result", 1}}.dump());
  EXPECT_FALSE(got.has_value());
}

TEST(Connection, CallRoutesErrorToCallback) {
  Fixture f;
  std::optional<Result<json>> got;
  f.conn->call("window/showMessageRequest", json::object(), [&](Result<json> r) { got.emplace(std::move(r)); });
  const json sent = f.only_reply();
  f.line(json{{"jsonrpc", "2.0"}, {"id", sent["id"]}, {"error", {{"code", -32601}, {"message", "nope"}, {"data", 3}}}}
             .dump());
  ASSERT_TRUE(got.has_value());
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, -32601);
  EXPECT_EQ(got->error().message, "nope");
  EXPECT_EQ(got->error().data, 3);
}

// A client's error object with members of the wrong type used to throw
// type_error on the reading thread and end the server.
TEST(Connection, CallErrorWithWrongTypesIsStillAnError) {
  Fixture f;
  std::optional<Result<json>> got;
  f.conn->call("workspace/applyEdit", json::object(), [&](Result<json> r) { got.emplace(std::move(r)); });
  const json sent = f.only_reply();
  f.line(json{{"jsonrpc", "2.0"}, {"id", sent["id"]}, {"error", {{"code", "x"}, {"message", 5}}}}.dump());
  ASSERT_TRUE(got.has_value());
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, -32603);
  EXPECT_EQ(got->error().message, "error");
}

// A handler that throws (a member of a type no schema checked) answers the
// request with an error instead of ending the process; a notification's
// handler that throws drops that notification only.
TEST(Connection, HandlerThatThrowsAnswersAndTheConnectionLives) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Throw;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"n":"text"}})");
  f.line(R"({"jsonrpc":"2.0","method":"n","params":{"n":"text"}})");
  f.handler.mode = RecordingHandler::Mode::Echo;
  f.line(R"({"jsonrpc":"2.0","id":2,"method":"after"})");
  const auto r = f.replies();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], 1);
  EXPECT_EQ(r[0]["error"]["code"], -32602);
  EXPECT_NE(r[0]["error"]["message"].get<std::string>().find("type must be number"), std::string::npos) << r[0];
  EXPECT_EQ(r[1]["id"], 2);
  EXPECT_EQ(r[1]["result"]["method"], "after");
}

TEST(Connection, CallIdsAreDistinctAndRoutedIndependently) {
  Fixture f;
  std::vector<int> order;
  f.conn->call("a", json::object(), [&](Result<json> r) { order.push_back(r.ok() ? r.value().get<int>() : -1); });
  f.conn->call("b", json::object(), [&](Result<json> r) { order.push_back(r.ok() ? r.value().get<int>() : -1); });
  const auto sent = f.replies();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[0]["id"], sent[1]["id"]);
  f.line(json{{"jsonrpc", "2.0"}, {"id", sent[1]["id"]}, {"result", 2}}.dump());
  f.line(json{{"jsonrpc", "2.0"}, {"id", sent[0]["id"]}, {"result", 1}}.dump());
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

TEST(Connection, ResponseToUnknownIdIsIgnored) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":"nobody","result":1})");
  EXPECT_TRUE(f.transport->frames().empty());
  EXPECT_TRUE(f.handler.methods.empty());
}

TEST(Connection, EofFailsPendingCallsAndClosesHandler) {
  Fixture f;
  std::optional<Result<json>> got;
  f.conn->call("x", json::object(), [&](Result<json> r) { got.emplace(std::move(r)); });
  f.conn->on_eof();
  ASSERT_TRUE(got.has_value());
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, error_code::kRequestCancelled);
  EXPECT_EQ(f.handler.closes, 1);
  // Later calls fail at once.
  std::optional<Result<json>> late;
  f.conn->call("y", json::object(), [&](Result<json> r) { late.emplace(std::move(r)); });
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(late->ok());
}

TEST(Connection, InFlightRequestsStillAnsweredAfterEof) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"slow"})");
  f.conn->on_eof();
  f.handler.kept[0].reply("late");
  EXPECT_EQ(f.only_reply()["result"], "late");
}

TEST(Connection, CancelRequestSetsToken) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"({"jsonrpc":"2.0","id":11,"method":"slow"})");
  f.line(R"({"jsonrpc":"2.0","id":"s","method":"slow"})");
  ASSERT_EQ(f.handler.kept.size(), 2u);
  EXPECT_FALSE(f.handler.kept[0].token().cancelled());
  EXPECT_FALSE(f.conn->cancel_request(json(12)));
  EXPECT_FALSE(f.conn->cancel_request(json("11")));  // ids are typed
  EXPECT_TRUE(f.conn->cancel_request(json(11)));
  EXPECT_TRUE(f.handler.kept[0].token().cancelled());
  EXPECT_FALSE(f.handler.kept[1].token().cancelled());
  f.handler.kept[0].fail(make_error(error_code::kRequestCancelled, "cancelled"));
  EXPECT_FALSE(f.conn->cancel_request(json(11)));  // finished: no longer in flight
  EXPECT_TRUE(f.conn->cancel_request(json("s")));
  EXPECT_TRUE(f.handler.kept[1].token().cancelled());
}

TEST(Connection, CancelAllCancelsEveryInFlightRequest) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"a"})");
  f.line(R"({"jsonrpc":"2.0","id":2,"method":"b"})");
  f.conn->cancel_all();
  EXPECT_TRUE(f.handler.kept[0].token().cancelled());
  EXPECT_TRUE(f.handler.kept[1].token().cancelled());
}

TEST(Connection, FailedWriteClosesAndCancels) {
  Fixture f;
  f.handler.mode = RecordingHandler::Mode::Keep;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"a"})");
  f.line(R"({"jsonrpc":"2.0","id":2,"method":"b"})");
  f.transport->set_broken(true);
  f.handler.kept[0].reply(1);
  EXPECT_TRUE(f.conn->closed());
  EXPECT_TRUE(f.handler.kept[1].token().cancelled());
}

TEST(Connection, RepliesUseTheClientsLspFraming) {
  Fixture f;
  const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"lsp"})";
  f.conn->on_bytes("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(f.conn->framing(), Framing::ContentLength);
  const auto frames = f.transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  const std::string& fr = frames[0];
  const std::string prefix = "Content-Length: ";
  ASSERT_EQ(fr.compare(0, prefix.size(), prefix), 0) << fr;
  const std::size_t sep = fr.find("\r\n\r\n");
  ASSERT_NE(sep, std::string::npos);
  const std::size_t len = std::stoul(fr.substr(prefix.size(), sep - prefix.size()));
  const std::string reply = fr.substr(sep + 4);
  EXPECT_EQ(reply.size(), len);
  EXPECT_EQ(json::parse(reply)["result"]["method"], "lsp");
  // Notifications and server→client requests use it too.
  f.conn->notify("window/logMessage", json{{"type", 3}, {"message", "é"}});
  const auto after = f.transport->frames();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].compare(0, prefix.size(), prefix), 0);
  EXPECT_EQ(after[1].back(), '}');
}

TEST(Connection, RepliesUseTheClientsNewlineFraming) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"nd"})");
  EXPECT_EQ(f.conn->framing(), Framing::NewlineDelimited);
  const auto frames = f.transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].back(), '\n');
  EXPECT_EQ(std::count(frames[0].begin(), frames[0].end(), '\n'), 1);
}

TEST(Connection, NotifyWritesANotification) {
  Fixture f;
  f.conn->notify("$/progress", json{{"token", "t"}, {"value", {{"kind", "end"}}}});
  const json n = f.only_reply();
  EXPECT_EQ(n["jsonrpc"], "2.0");
  EXPECT_EQ(n["method"], "$/progress");
  EXPECT_FALSE(n.contains("id"));
  EXPECT_EQ(n["params"]["token"], "t");
}

TEST(Connection, OversizedFrameIsRefusedWithItsId) {
  Fixture f(64);
  f.line(R"({"jsonrpc":"2.0","id":77,"method":"big","params":{"x":")" + std::string(200, 'x') + "\"}}");
  f.line(R"({"jsonrpc":"2.0","id":78,"method":"small"})");
  const auto r = f.replies();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], 77);
  EXPECT_TRUE(r[0]["error"]["code"] == -32600 || r[0]["error"]["code"] == error_code::kFrameTooLarge) << r[0];
  EXPECT_EQ(r[1]["id"], 78);
  EXPECT_EQ(r[1]["result"]["method"], "small");
  EXPECT_EQ(f.handler.methods, std::vector<std::string>{"small"});
}

// Nesting `levels` deep: [[[...]]].
std::string nested(std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

// A message nested 100,000 deep parsed fine, then overflowed the stack when
// its params were copied (SIGSEGV before any authentication on the TCP
// door). Refused while parsing, with its id, and the connection lives.
TEST(Connection, DeepNestingIsRefusedWhileParsingAndTheConnectionLives) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"icotes/authenticate","params":{"x":)" + nested(100000) + "}}");
  f.line(R"([{"jsonrpc":"2.0","id":2,"method":"m","params":)" + nested(100000) + "}]");
  f.line(R"({"jsonrpc":"2.0","id":"r","result":)" + nested(100000) + "}");
  f.line(R"({"jsonrpc":"2.0","method":"note","params":)" + nested(100000) + "}");
  f.line(R"({"jsonrpc":"2.0","id":3,"method":"after"})");
  const auto r = f.replies();
  ASSERT_EQ(r.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r[i]["error"]["code"], -32700) << r[i];
    EXPECT_NE(r[i]["error"]["message"].get<std::string>().find("deeper than 512"), std::string::npos) << r[i];
  }
  EXPECT_EQ(r[0]["id"], 1);
  EXPECT_TRUE(r[1]["id"].is_null());  // a batch
  EXPECT_EQ(r[2]["id"], "r");
  EXPECT_TRUE(r[3]["id"].is_null());
  EXPECT_EQ(r[4]["id"], 3);
  EXPECT_EQ(f.handler.methods, std::vector<std::string>{"after"});
  EXPECT_TRUE(f.handler.notifications.empty());
}

TEST(Connection, ParseErrorsSayWhereAndWhatWithoutTheLibrarysLabel) {
  Fixture f;
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"ping",x})");
  f.line(R"({"jsonrpc":"2.0","id":2,"method":"ping","params":[1e400]})");
  const auto r = f.replies();
  ASSERT_EQ(r.size(), 2u);
  const std::string syntax = r[0]["error"]["message"];
  EXPECT_EQ(r[0]["error"]["code"], -32700);
  EXPECT_EQ(syntax.rfind("parse error: line 1, column 41: syntax error while parsing object key", 0), 0u) << syntax;
  const std::string range = r[1]["error"]["message"];
  EXPECT_EQ(r[1]["error"]["code"], -32700);
  EXPECT_NE(range.find("1e400"), std::string::npos) << range;
  for (const std::string& m : {syntax, range}) EXPECT_EQ(m.find("json.exception"), std::string::npos) << m;
}

TEST(Connection, NestingAtTheLimitIsAccepted) {
  Fixture f;
  // The message object is level 1, params level 2: 510 more fill 512.
  f.line(R"({"jsonrpc":"2.0","id":1,"method":"m","params":)" + std::string("[") + nested(510) + "]}");
  f.line(R"({"jsonrpc":"2.0","id":2,"method":"m","params":)" + std::string("[") + nested(511) + "]}");
  const auto r = f.replies();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], 1);
  EXPECT_TRUE(r[0].contains("result")) << r[0]["error"];
  EXPECT_EQ(r[1]["id"], 2);
  EXPECT_EQ(r[1]["error"]["code"], -32700);
}

TEST(Connection, ErrorObject) {
  EXPECT_EQ(error_object(make_error(-1, "m")), (json{{"code", -1}, {"message", "m"}}));
  EXPECT_EQ(error_object(make_error(-2, "m", json{{"a", 1}})),
            (json{{"code", -2}, {"message", "m"}, {"data", {{"a", 1}}}}));
}

}  // namespace
}  // namespace icotes
