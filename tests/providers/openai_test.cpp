// The OpenAI-compatible back end against a cpp-httplib server on loopback
// speaking Chat Completions streaming: chunks whose choices[].delta carry
// content and tool_calls pieces, a last chunk with empty choices and the
// usage, then "data: [DONE]"; and the failures: 429 with retry-after, a 500
// with an error body, a connection cut mid-stream, a stalled server.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "icotes/provider.hpp"
#include "loopback.hpp"
#include "scenarios.hpp"

namespace icotes::providers {
namespace {

using namespace test_support;
using std::chrono::milliseconds;

constexpr const char* kPath = "/v1/chat/completions";

std::string event(const json& chunk) { return "data: " + chunk.dump() + "\n\n"; }

json chunk_with_delta(const json& delta, const json& finish = nullptr) {
  return {{"id", "chatcmpl-1"},
          {"object", "chat.completion.chunk"},
          {"created", 1700000000},
          {"model", "served-model"},
          {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
}

json tool_piece(int index, const json& function, const char* id = nullptr) {
  json t = {{"index", index}, {"function", function}};
  if (id != nullptr) {
    t["id"] = id;
    t["type"] = "function";
  }
  return chunk_with_delta({{"tool_calls", json::array({t})}});
}

ProviderConfig config_for(const Loopback& server) {
  return loopback_config("local", "openai", server.base_url(), "qwen2.5-coder");
}

ChatRequest hello() {
  ChatRequest r;
  r.messages = {{"system", "Be brief.", {}, {}}, {"user", "Read a.c", {}, {}}};
  r.tools = {{"read_file", "Read a file", {{"type", "object"}, {"properties", {{"path", {{"type", "string"}}}}}}}};
  return r;
}

TEST(ProvidersOpenAi, ToolCallArgumentsSplitMidStringAndMidEscape) {
  // The arguments' JSON text, cut inside a string, after a backslash, and
  // inside a \u escape (kSplitPieces); the model sends each cut as its own
  // delta.
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    std::string body = ": keep-alive comment\n\n";
    body += event(chunk_with_delta({{"role", "assistant"}, {"content", ""}, {"reasoning_content", "Plan: read."}}));
    body += event(chunk_with_delta({{"content", "Reading "}}));
    body += event(chunk_with_delta({{"content", "both."}}));
    body += event(tool_piece(0, {{"name", "read_file"}, {"arguments", ""}}, "call_a"));
    for (const auto& p : kSplitPieces) body += event(tool_piece(0, {{"arguments", p}}));
    body += event(tool_piece(1, {{"name", "grep"}, {"arguments", "{\"pattern\":"}}, "call_b"));
    body += event(tool_piece(1, {{"arguments", "\"main\"}"}}));
    body += event(chunk_with_delta(json::object(), "tool_calls"));
    body += event({{"id", "chatcmpl-1"},
                   {"object", "chat.completion.chunk"},
                   {"choices", json::array()},
                   {"usage",
                    {{"prompt_tokens", 12},
                     {"completion_tokens", 34},
                     {"total_tokens", 46},
                     {"prompt_tokens_details", {{"cached_tokens", 5}}},
                     {"cost", 0.00042}}}});  // OpenRouter's usage accounting
    body += "data: [DONE]\n\n";
    stream(res, body);
  });
  auto p = make_with_key(config_for(server), "ICOTES_TEST_OPENAI_KEY", "sk-loopback-1");
  ASSERT_TRUE(p);
  Collect sink;
  CancellationToken cancel;
  auto r = p->chat(hello(), sink, cancel);
  ASSERT_TRUE(r.ok()) << r.error().message;

  expect_split_calls(sink, "call_a", "call_b");
  EXPECT_EQ(sink.text_deltas, 2);
  EXPECT_EQ(r->stop, StopReason::kToolUse);
  EXPECT_EQ(r->stop_raw, "tool_calls");
  EXPECT_EQ(r->model, "served-model");
  // Usage comes in the last chunk, after the finish_reason.
  EXPECT_EQ(sink.usage_reports, 1);
  EXPECT_EQ(r->usage.input_tokens, 12);
  EXPECT_EQ(r->usage.output_tokens, 34);
  EXPECT_EQ(r->usage.cached_input_tokens, 5);
  EXPECT_EQ(r->usage.cost_usd, 0.00042);
  EXPECT_EQ(r->attempts, 1);

  // What was asked: a streamed request with usage, the tools and the key.
  std::lock_guard lock(server.seen_mutex);
  EXPECT_EQ(server.last_authorization, "Bearer sk-loopback-1");
  EXPECT_EQ(server.last_body["model"], "qwen2.5-coder");
  EXPECT_EQ(server.last_body["stream"], true);
  EXPECT_EQ(server.last_body["stream_options"]["include_usage"], true);
  EXPECT_EQ(server.last_body["messages"][1]["content"], "Read a.c");
  EXPECT_EQ(server.last_body["tools"][0]["type"], "function");
  EXPECT_EQ(server.last_body["tools"][0]["function"]["name"], "read_file");
}

TEST(ProvidersOpenAi, ToolResultsGoBackAsToolMessages) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, event(chunk_with_delta({{"content", "ok"}}, "stop")) + "data: [DONE]\n\n");
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  ChatRequest r = hello();
  r.messages.push_back({"assistant", "", {{"call_a", "read_file", R"({"path":"a.c"})"}}, {}});
  r.messages.push_back({"tool", "int main(void) { return 0; }", {}, "call_a"});
  r.model = "other-model";
  Collect sink;
  auto out = p->chat(r, sink, CancellationToken{});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->stop, StopReason::kEndTurn);
  std::lock_guard lock(server.seen_mutex);
  EXPECT_EQ(server.last_authorization, "");  // no key configured: no header
  EXPECT_EQ(server.last_body["model"], "other-model");
  const json& m = server.last_body["messages"];
  EXPECT_TRUE(m[2]["content"].is_null());
  EXPECT_EQ(m[2]["tool_calls"][0]["id"], "call_a");
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["arguments"], R"({"path":"a.c"})");
  EXPECT_EQ(m[3]["role"], "tool");
  EXPECT_EQ(m[3]["tool_call_id"], "call_a");
}

// The success stream after a refusal.
std::string answer(const std::string& text) {
  return event(chunk_with_delta({{"content", text}}, "stop")) + "data: [DONE]\n\n";
}

TEST(ProvidersOpenAi, RetriesA429AfterRetryAfter) {
  Loopback server;
  serve_refusals(server, kPath,
                 {.status = 429,
                  .body = R"({"error":{"message":"Rate limit reached","type":"requests"}})",
                  .headers = {{"retry-after", "1"}},
                  .times = 1},
                 answer("after the wait"));
  expect_retried_once(config_for(server), hello(), server, "after the wait", milliseconds(1000));
}

TEST(ProvidersOpenAi, RetriesOverloadedAfterRetryAfterMs) {
  Loopback server;
  serve_refusals(server, kPath,
                 {.status = 529,
                  .body = R"({"error":{"message":"Overloaded"}})",
                  .headers = {{"retry-after-ms", "150"}},
                  .times = 1},
                 answer("ok"));
  auto c = config_for(server);
  c.retry_base = milliseconds(0);  // the wait below is the server's
  expect_retried_once(c, hello(), server, "ok", milliseconds(150));
}

TEST(ProvidersOpenAi, CancellationDuringTheBackoffEndsTheCall) {
  Loopback server;
  std::promise<void> refused;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.status = 503;
    res.set_header("retry-after", "5");
    res.set_content(R"({"error":{"message":"busy"}})", "application/json");
    if (server.requests == 1) refused.set_value();
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  // Cancelled once the first refusal went out: the call is then in its
  // backoff (or about to be), five seconds long.
  expect_cancelled(chat_cancelled_when(*p, hello(), sink, refused.get_future()));
  EXPECT_EQ(server.requests, 1);
}

TEST(ProvidersOpenAi, RetryAfterPastTheBoundFailsAtOnce) {
  Loopback server;
  serve_refusals(
      server, kPath,
      {.status = 429, .body = R"({"error":{"message":"Quota exceeded"}})", .headers = {{"retry-after", "3600"}}});
  auto c = config_for(server);
  c.max_retry_wait = milliseconds(2000);
  auto p = make(c);
  ASSERT_TRUE(p);
  Collect sink;
  auto [r, took] = timed_chat(*p, hello(), sink);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_EQ(server.requests, 1);
  EXPECT_NE(r.error().message.find("HTTP 429: Quota exceeded"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("retry-after 3600000 ms"), std::string::npos) << r.error().message;
}

TEST(ProvidersOpenAi, ServerErrorNamesProviderModelStatusAndMessage) {
  Loopback server;
  serve_refusals(
      server, kPath,
      {.status = 500,
       .body =
           R"({"error":{"message":"The server had an error while processing your request.","type":"server_error"}})"});
  expect_refused_three_times(
      config_for(server), hello(), server, 500,
      "provider \"local\" (model qwen2.5-coder): HTTP 500: The server had an error while processing your request.");
}

TEST(ProvidersOpenAi, TheKeyIsRedactedFromErrors) {
  Loopback server;
  serve_refusals(
      server, kPath,
      {.status = 401, .body = R"({"error":{"message":"Incorrect API key provided: sk-leaky-42. Check it."}})"});
  auto p = make_with_key(config_for(server), "ICOTES_TEST_OPENAI_KEY", "sk-leaky-42");
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(server.requests, 1);  // 401 is not retried
  EXPECT_EQ(r.error().message.find("sk-leaky-42"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("HTTP 401: Incorrect API key provided: [redacted]. Check it."), std::string::npos)
      << r.error().message;
}

TEST(ProvidersOpenAi, ConnectionCutMidStreamIsAnError) {
  Loopback server;
  serve_cut_stream(server, kPath, event(chunk_with_delta({{"content", "Half"}})) + "data: {\"choices\":[{\"ind");
  expect_broken_off(config_for(server), hello(), server, "Half", "broke off before data: [DONE]");
}

TEST(ProvidersOpenAi, ASlowServerHitsTheTimeout) {
  Loopback server;
  serve_stalled_stream(server, kPath, event(chunk_with_delta({{"content", "Thinking"}})));
  Collect sink;
  expect_timeout(config_for(server), hello(), sink);
  EXPECT_EQ(sink.text, "Thinking");
}

TEST(ProvidersOpenAi, CancellationStopsAStalledStream) {
  Loopback server;
  serve_stalled_stream(server, kPath, event(chunk_with_delta({{"content", "Start"}})));
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  expect_cancelled(chat_cancelled_on_first_text(*p, hello(), sink));
}

TEST(ProvidersOpenAi, CancellationBeforeTheHeadersEndsTheCall) {
  Loopback server;
  std::promise<void> arrived;
  serve_no_headers(server, kPath, &arrived);
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  expect_cancelled(chat_cancelled_when(*p, hello(), sink, arrived.get_future()));
  EXPECT_EQ(server.requests, 1);

  CancellationToken already;
  already.cancel();
  auto again = p->chat(hello(), sink, already);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, error_code::kRequestCancelled);
  EXPECT_EQ(server.requests, 1);  // nothing was sent
}

TEST(ProvidersOpenAi, AnErrorEventInTheStreamFailsTheCall) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, event(chunk_with_delta({{"content", "Par"}})) +
                    event({{"error", {{"message", "upstream overloaded"}, {"code", 502}}}}));
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("error in the stream: upstream overloaded"), std::string::npos) << r.error().message;
}

TEST(ProvidersOpenAi, UnreachableServerIsRetriedThenNamed) {
  int port = 0;
  {
    Loopback closed;  // a port that was just free, now closed
    port = std::stoi(closed.base_url().substr(17));
  }
  ProviderConfig c;
  c.name = "gone";
  c.kind = "openai";
  c.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  c.model = "m";
  c.max_retries = 1;
  c.retry_base = milliseconds(1);
  auto p = make(c);
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("provider \"gone\" (model m): cannot reach http://127.0.0.1:"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().data["attempts"], 2);
}

TEST(ProvidersOpenAi, BadBaseUrlsAreRefused) {
  ProviderConfig c;
  c.name = "x";
  c.kind = "openai";
  c.model = "m";
  for (const char* url : {"", "ftp://h/v1", "http://user:pw@h/v1", "http:///v1", "http://h/v1?x=1"}) {
    c.base_url = url;
    EXPECT_FALSE(make_provider(c).ok()) << url;
  }
  c.base_url = "http://127.0.0.1:11434/v1/";
  EXPECT_TRUE(make_provider(c).ok());
}

}  // namespace
}  // namespace icotes::providers
