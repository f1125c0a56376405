// The anthropic back end against a loopback server speaking the Messages
// API's streaming format. The streams follow the examples of Anthropic's
// "Streaming Messages" guide (docs.anthropic.com/en/docs/build-with-claude/
// streaming, now platform.claude.com/docs/en/build-with-claude/streaming):
// its basic text stream (message_start with usage, content_block_start of a
// text block, ping, text_delta deltas, content_block_stop, message_delta with
// stop_reason and output_tokens, message_stop), its tool-use stream (a
// tool_use block whose input arrives as input_json_delta partial_json pieces,
// the first one empty), its extended-thinking stream (a thinking block with
// thinking_delta then signature_delta) and its error event
// ({"type": "error", "error": {"type": "overloaded_error", "message":
// "Overloaded"}}). Each test names the example it follows.
#include "loopback.hpp"
#include "scenarios.hpp"

namespace icotes::providers {
namespace {

using namespace test_support;
using std::chrono::milliseconds;

constexpr const char* kPath = "/v1/messages";

std::string event(const json& data) {
  return "event: " + data["type"].get<std::string>() + "\ndata: " + data.dump() + "\n\n";
}

json message_start(std::int64_t input, std::int64_t cache_read = 0, std::int64_t cache_write = 0) {
  return {{"type", "message_start"},
          {"message",
           {{"id", "msg_01"},
            {"type", "message"},
            {"role", "assistant"},
            {"content", json::array()},
            {"model", "claude-served"},
            {"stop_reason", nullptr},
            {"stop_sequence", nullptr},
            {"usage",
             {{"input_tokens", input},
              {"cache_creation_input_tokens", cache_write},
              {"cache_read_input_tokens", cache_read},
              {"output_tokens", 1}}}}}};
}

json block_start(int index, const json& block) {
  return {{"type", "content_block_start"}, {"index", index}, {"content_block", block}};
}
json delta(int index, const json& d) { return {{"type", "content_block_delta"}, {"index", index}, {"delta", d}}; }
json text_delta(int index, const std::string& t) { return delta(index, {{"type", "text_delta"}, {"text", t}}); }
json json_delta(int index, const std::string& p) {
  return delta(index, {{"type", "input_json_delta"}, {"partial_json", p}});
}
json block_stop(int index) { return {{"type", "content_block_stop"}, {"index", index}}; }
json message_delta(const char* stop, std::int64_t output) {
  return {{"type", "message_delta"},
          {"delta", {{"stop_reason", stop}, {"stop_sequence", nullptr}}},
          {"usage", {{"output_tokens", output}}}};
}
const json kPing = {{"type", "ping"}};
const json kStop = {{"type", "message_stop"}};

// The basic example: one text block.
std::string text_stream(const std::string& text) {
  return event(message_start(25)) + event(block_start(0, {{"type", "text"}, {"text", ""}})) + event(kPing) +
         event(text_delta(0, text)) + event(block_stop(0)) + event(message_delta("end_turn", 15)) + event(kStop);
}

ProviderConfig config_for(const Loopback& server) {
  return loopback_config("claude", "anthropic", server.origin(), "claude-test");
}

ChatRequest hello() {
  ChatRequest r;
  r.messages = {{"system", "Be brief.", {}, {}}, {"user", "Read a.c", {}, {}}};
  r.tools = {{"read_file", "Read a file", {{"type", "object"}, {"properties", {{"path", {{"type", "string"}}}}}}},
             {"grep", "Search", {{"type", "object"}, {"properties", {{"pattern", {{"type", "string"}}}}}}}};
  return r;
}

// The tool-use and extended-thinking examples together: a thinking block,
// a text block, two tool_use blocks whose input is cut inside a string,
// after a backslash and inside a \u escape; usage from message_start (input
// and cache counts) and message_delta (output).
std::string tool_stream(const std::vector<std::string>& pieces) {
  std::string body = event(message_start(12, 100, 7));
  body += event(block_start(0, {{"type", "thinking"}, {"thinking", ""}}));
  body += event(delta(0, {{"type", "thinking_delta"}, {"thinking", "Plan: "}}));
  body += event(delta(0, {{"type", "thinking_delta"}, {"thinking", "read."}}));
  body += event(delta(0, {{"type", "signature_delta"}, {"signature", "EqQBCgIYAhIM"}}));
  body += event(block_stop(0));
  body += event(block_start(1, {{"type", "text"}, {"text", ""}}));
  body += event(text_delta(1, "Reading "));
  body += event(kPing);
  body += event(text_delta(1, "both."));
  body += event(block_stop(1));
  body += event(
      block_start(2, {{"type", "tool_use"}, {"id", "toolu_a"}, {"name", "read_file"}, {"input", json::object()}}));
  body += event(json_delta(2, ""));
  for (const auto& p : pieces) body += event(json_delta(2, p));
  body += event(block_stop(2));
  body += event(block_start(3, {{"type", "tool_use"}, {"id", "toolu_b"}, {"name", "grep"}, {"input", json::object()}}));
  body += event(json_delta(3, "{\"pattern\":"));
  body += event(json_delta(3, "\"main\"}"));
  body += event(block_stop(3));
  body += event(message_delta("tool_use", 34));
  body += event(kStop);
  return body;
}

void expect_tool_stream_result(const Collect& sink, const ChatResult& r) {
  expect_split_calls(sink, "toolu_a", "toolu_b");
  EXPECT_EQ(r.stop, StopReason::kToolUse);
  EXPECT_EQ(r.stop_raw, "tool_use");
  EXPECT_EQ(r.model, "claude-served");
  EXPECT_EQ(r.text, "Reading both.");
  EXPECT_EQ(r.reasoning, "Plan: read.");
  EXPECT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(sink.usage_reports, 1);
  EXPECT_EQ(r.usage.input_tokens, 12 + 100 + 7);  // the whole prompt, cached parts included
  EXPECT_EQ(r.usage.cached_input_tokens, 100);
  EXPECT_EQ(r.usage.output_tokens, 34);
}

TEST(ProvidersAnthropic, ToolUseThinkingAndUsageWithJsonSplitMidStringAndMidEscape) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, tool_stream(kSplitPieces));
  });
  auto p = make_with_key(config_for(server), "ICOTES_TEST_ANTHROPIC_KEY", "sk-ant-loopback-1");
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_tool_stream_result(sink, *r);
  EXPECT_EQ(r->attempts, 1);

  // What was asked: the headers, the streamed body, and the caching markers
  // on the system prompt and on the last tool (the stable prefix).
  std::lock_guard lock(server.seen_mutex);
  auto header = [&](const char* name) {
    const auto it = server.last_headers.find(name);
    return it == server.last_headers.end() ? std::string("(none)") : it->second;
  };
  EXPECT_EQ(header("x-api-key"), "sk-ant-loopback-1");
  EXPECT_EQ(header("anthropic-version"), "2023-06-01");
  EXPECT_EQ(header("Authorization"), "(none)");
  const json& b = server.last_body;
  EXPECT_EQ(b["model"], "claude-test");
  EXPECT_EQ(b["stream"], true);
  EXPECT_EQ(b["max_tokens"], 8192);
  EXPECT_EQ(b["system"],
            (json::array({{{"type", "text"}, {"text", "Be brief."}, {"cache_control", {{"type", "ephemeral"}}}}})));
  ASSERT_EQ(b["messages"].size(), 1u);  // the system message is not a message
  EXPECT_EQ(b["messages"][0], (json{{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Read a.c"}}}}}));
  ASSERT_EQ(b["tools"].size(), 2u);
  EXPECT_EQ(b["tools"][0]["name"], "read_file");
  EXPECT_EQ(b["tools"][0]["input_schema"]["properties"]["path"]["type"], "string");
  EXPECT_FALSE(b["tools"][0].contains("cache_control"));
  EXPECT_EQ(b["tools"][1]["cache_control"], (json{{"type", "ephemeral"}}));
}

TEST(ProvidersAnthropic, TheStreamCutAtEveryByteGivesTheSameResult) {
  // The same stream, each byte its own HTTP chunk: every split point of
  // every event, line and JSON text.
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, tool_stream(kSplitPieces), 1);
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_tool_stream_result(sink, *r);
}

TEST(ProvidersAnthropic, ToolResultsGoBackAsToolResultBlocks) {
  // The tool-use guide's second request: the assistant's tool_use blocks,
  // then one user message holding a tool_result per call.
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, text_stream("ok"));
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  ChatRequest r = hello();
  r.tools.clear();
  r.messages.push_back(
      {"assistant", "Reading.", {{"toolu_a", "read_file", R"({"path":"a.c"})"}, {"toolu_b", "grep", ""}}, {}});
  r.messages.push_back({"tool", "int main(void) { return 0; }", {}, "toolu_a"});
  r.messages.push_back({"tool", "a.c:1:int main", {}, "toolu_b"});
  r.messages.push_back({"user", "Now fix it.", {}, {}});
  r.model = "claude-other";
  r.max_tokens = 100;
  r.temperature = 0.5;
  Collect sink;
  auto out = p->chat(r, sink, CancellationToken{});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->stop, StopReason::kEndTurn);
  EXPECT_EQ(out->text, "ok");
  EXPECT_EQ(out->usage.input_tokens, 25);
  EXPECT_EQ(out->usage.output_tokens, 15);

  std::lock_guard lock(server.seen_mutex);
  EXPECT_EQ(server.last_headers.count("x-api-key"), 0u);  // no key configured: no header
  const json& b = server.last_body;
  EXPECT_EQ(b["model"], "claude-other");
  EXPECT_EQ(b["max_tokens"], 100);
  EXPECT_EQ(b["temperature"], 0.5);
  EXPECT_FALSE(b.contains("tools"));
  const json& m = b["messages"];
  ASSERT_EQ(m.size(), 3u) << m.dump();
  EXPECT_EQ(m[1],
            (json{{"role", "assistant"},
                  {"content",
                   {{{"type", "text"}, {"text", "Reading."}},
                    {{"type", "tool_use"}, {"id", "toolu_a"}, {"name", "read_file"}, {"input", {{"path", "a.c"}}}},
                    {{"type", "tool_use"}, {"id", "toolu_b"}, {"name", "grep"}, {"input", json::object()}}}}}));
  EXPECT_EQ(m[2],
            (json{{"role", "user"},
                  {"content",
                   {{{"type", "tool_result"}, {"tool_use_id", "toolu_a"}, {"content", "int main(void) { return 0; }"}},
                    {{"type", "tool_result"}, {"tool_use_id", "toolu_b"}, {"content", "a.c:1:int main"}},
                    {{"type", "text"}, {"text", "Now fix it."}}}}}));
}

TEST(ProvidersAnthropic, AnErrorEventMidStreamFailsTheCall) {
  // The guide's error event, after text was streamed: no retry.
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, event(message_start(25)) + event(block_start(0, {{"type", "text"}, {"text", ""}})) +
                    event(text_delta(0, "Par")) +
                    event({{"type", "error"}, {"error", {{"type", "overloaded_error"}, {"message", "Overloaded"}}}}));
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(sink.text, "Par");
  EXPECT_EQ(server.requests, 1);
  EXPECT_EQ(r.error().code, error_code::kRequestFailed);
  EXPECT_EQ(r.error().message,
            "provider \"claude\" (model claude-test): error in the stream: overloaded_error: Overloaded");
  EXPECT_EQ(r.error().data["status"], 200);
}

TEST(ProvidersAnthropic, AnOverloadedEventBeforeAnyOutputIsRetried) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    if (server.requests == 1) {
      stream(res, event(message_start(25)) + event(kPing) +
                      event({{"type", "error"}, {"error", {{"type", "overloaded_error"}, {"message", "Overloaded"}}}}));
      return;
    }
    stream(res, text_stream("second time"));
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(sink.text, "second time");
  EXPECT_EQ(r->attempts, 2);
}

TEST(ProvidersAnthropic, A529IsRetriedAfterRetryAfter) {
  // HTTP 529 with the errors page's overloaded_error body, then success.
  Loopback server;
  serve_refusals(server, kPath,
                 {.status = 529,
                  .body = R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
                  .headers = {{"retry-after", "1"}},
                  .times = 1},
                 text_stream("after the wait"));
  expect_retried_once(config_for(server), hello(), server, "after the wait", milliseconds(1000));
}

TEST(ProvidersAnthropic, A429PastMaxRetriesNamesProviderModelStatusAndMessage) {
  Loopback server;
  serve_refusals(
      server, kPath,
      {.status = 429,
       .body =
           R"({"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}})",
       .headers = {{"retry-after", "0"}}});
  expect_refused_three_times(config_for(server), hello(), server, 429,
                             "provider \"claude\" (model claude-test): HTTP 429: rate_limit_error: Number of request "
                             "tokens has exceeded your per-minute rate limit");
}

TEST(ProvidersAnthropic, TheKeyIsRedactedAndA401IsNotRetried) {
  Loopback server;
  serve_refusals(
      server, kPath,
      {.status = 401,
       .body =
           R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-leaky"}})"});
  auto p = make_with_key(config_for(server), "ICOTES_TEST_ANTHROPIC_KEY", "sk-ant-leaky");
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(server.requests, 1);
  EXPECT_EQ(r.error().message,
            "provider \"claude\" (model claude-test): HTTP 401: authentication_error: invalid x-api-key [redacted]");
}

TEST(ProvidersAnthropic, AStreamWithoutMessageStopIsAnError) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, event(message_start(25)) + event(block_start(0, {{"type", "text"}, {"text", ""}})) +
                    event(text_delta(0, "Half")));
  });
  expect_broken_off(config_for(server), hello(), server, "Half", "the stream ended before message_stop");
}

TEST(ProvidersAnthropic, AConnectionCutMidStreamIsAnError) {
  Loopback server;
  serve_cut_stream(server, kPath, event(message_start(25)) + event(text_delta(0, "Half")) + "event: content_block_del");
  expect_broken_off(config_for(server), hello(), server, "Half", "the stream broke off before message_stop");
}

TEST(ProvidersAnthropic, AConnectionLeftOpenAfterMessageStopEndsTheCall) {
  Loopback server;
  serve_stalled_stream(server, kPath, text_stream("whole"));
  auto c = config_for(server);
  c.timeout = milliseconds(5000);
  auto p = make(c);
  ASSERT_TRUE(p);
  Collect sink;
  auto [r, took] = timed_chat(*p, hello(), sink);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->text, "whole");
  EXPECT_LT(took, milliseconds(2000));
}

TEST(ProvidersAnthropic, CancellationStopsAStalledStream) {
  Loopback server;
  serve_stalled_stream(server, kPath, event(message_start(25)) + event(text_delta(0, "Start")));
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  expect_cancelled(chat_cancelled_on_first_text(*p, hello(), sink));
}

TEST(ProvidersAnthropic, ASlowServerHitsTheTimeout) {
  Loopback server;
  serve_no_headers(server, kPath);
  Collect sink;
  expect_timeout(config_for(server), hello(), sink);
}

TEST(ProvidersAnthropic, TheBaseUrlDefaultsToAnthropicsAndAModelIsNeeded) {
  ProviderConfig c;
  c.name = "claude";
  c.kind = "anthropic";
  c.model = "claude-test";
  EXPECT_TRUE(make_provider(c).ok());
  c.base_url = "ftp://h";
  EXPECT_FALSE(make_provider(c).ok());
  c.base_url.clear();
  c.model.clear();
  auto none = make_provider(c);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("needs a model"), std::string::npos);
}

}  // namespace
}  // namespace icotes::providers
