// The gemini back end against a loopback server speaking the Gemini API's
// streamGenerateContent with alt=sse. The streams follow the API reference
// (ai.google.dev/api/generate-content, models.streamGenerateContent: a stream
// of GenerateContentResponse objects, candidates[].content.parts[],
// finishReason, usageMetadata with promptTokenCount, candidatesTokenCount,
// thoughtsTokenCount, cachedContentTokenCount, totalTokenCount, modelVersion)
// and the function-calling guide (ai.google.dev/gemini-api/docs/
// function-calling: a model part {"functionCall": {"name", "args"}}, answered
// by a user part {"functionResponse": {"name", "response"}}); errors follow
// Google's error body {"error": {"code", "message", "status"}}. Each test
// names the example it follows.
#include "loopback.hpp"
#include "scenarios.hpp"

namespace icotes::providers {
namespace {

using namespace test_support;

constexpr const char* kPath = "/v1beta/models/gemini-test:streamGenerateContent";

std::string event(const json& data, const char* end = "\n") { return std::string("data: ") + data.dump() + end + end; }

json chunk(const json& parts, const char* finish = nullptr, const json& usage = nullptr) {
  json candidate = {{"content", {{"role", "model"}, {"parts", parts}}}, {"index", 0}};
  if (finish != nullptr) candidate["finishReason"] = finish;
  json c = {{"candidates", json::array({candidate})}, {"modelVersion", "gemini-served-001"}};
  if (!usage.is_null()) c["usageMetadata"] = usage;
  return c;
}

ProviderConfig config_for(const Loopback& server) {
  return loopback_config("gem", "gemini", server.origin(), "gemini-test");
}

ChatRequest hello() {
  ChatRequest r;
  r.messages = {{"system", "Be brief.", {}, {}}, {"user", "Read a.c", {}, {}}};
  r.tools = {{"read_file", "Read a file", {{"type", "object"}, {"properties", {{"path", {{"type", "string"}}}}}}}};
  return r;
}

// The function-calling guide's response, streamed: thought and text parts,
// then two functionCall parts (one with an id and a thoughtSignature) in the
// last chunk with finishReason STOP and the usage.
const json kArgs = {{"path", "src/a \"quoted\".c"}, {"text", "one\ntwo \xC3\xA9 \\ end"}};
std::string call_stream(const char* end = "\n") {
  const json usage = {{"promptTokenCount", 40},
                      {"candidatesTokenCount", 20},
                      {"thoughtsTokenCount", 5},
                      {"cachedContentTokenCount", 30},
                      {"totalTokenCount", 65}};
  return event(chunk(json::array({{{"text", "Plan: read."}, {"thought", true}}})), end) +
         event(chunk(json::array({{{"text", "Reading "}}})), end) +
         event(chunk(json::array({{{"text", "both."}}})), end) +
         event(
             chunk(json::array({{{"functionCall", {{"name", "read_file"}, {"args", kArgs}}}},
                                {{"functionCall", {{"name", "grep"}, {"args", {{"pattern", "main"}}}, {"id", "fc_1"}}},
                                 {"thoughtSignature", "c2lnbmF0dXJl"}}}),
                   "STOP", usage),
             end);
}

void expect_call_stream_result(const Collect& sink, const ChatResult& r) {
  EXPECT_EQ(sink.text, "Reading both.");
  EXPECT_EQ(sink.reasoning, "Plan: read.");
  ASSERT_EQ(sink.calls.size(), 2u);
  EXPECT_EQ(sink.calls[0].name, "read_file");
  EXPECT_TRUE(sink.calls[0].id.starts_with("icotes-gemini-")) << sink.calls[0].id;
  EXPECT_EQ(json::parse(sink.calls[0].arguments), kArgs);
  EXPECT_EQ(sink.calls[1].name, "grep");
  EXPECT_EQ(sink.calls[1].id, "fc_1");
  EXPECT_EQ(json::parse(sink.calls[1].arguments), (json{{"pattern", "main"}}));
  EXPECT_EQ(r.stop, StopReason::kToolUse);
  EXPECT_EQ(r.stop_raw, "STOP");
  EXPECT_EQ(r.model, "gemini-served-001");
  EXPECT_EQ(sink.usage_reports, 1);
  EXPECT_EQ(r.usage.input_tokens, 40);
  EXPECT_EQ(r.usage.cached_input_tokens, 30);
  EXPECT_EQ(r.usage.output_tokens, 25);
  EXPECT_EQ(r.usage.reasoning_tokens, 5);
}

TEST(ProvidersGemini, TextThoughtsFunctionCallsAndUsage) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, call_stream());
  });
  auto p = make_with_key(config_for(server), "ICOTES_TEST_GEMINI_KEY", "AIza-loopback-1");
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_call_stream_result(sink, *r);

  std::lock_guard lock(server.seen_mutex);
  EXPECT_EQ(server.last_path, kPath);
  EXPECT_EQ(server.last_query.size(), 1u);
  EXPECT_EQ(server.last_query.find("alt")->second, "sse");
  const auto key = server.last_headers.find("x-goog-api-key");
  ASSERT_NE(key, server.last_headers.end());
  EXPECT_EQ(key->second, "AIza-loopback-1");
  const json& b = server.last_body;
  EXPECT_EQ(b["systemInstruction"], (json{{"parts", {{{"text", "Be brief."}}}}}));
  EXPECT_EQ(b["contents"], (json::array({{{"role", "user"}, {"parts", {{{"text", "Read a.c"}}}}}})));
  EXPECT_EQ(b["tools"][0]["functionDeclarations"][0]["name"], "read_file");
  EXPECT_EQ(b["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["properties"]["path"]["type"], "string");
  EXPECT_FALSE(b.contains("generationConfig"));
}

TEST(ProvidersGemini, TheStreamCutAtEveryByteGivesTheSameResult) {
  // The same stream with CRLF line ends (the event-stream format allows
  // them), each byte its own HTTP chunk: every split point, CR|LF included.
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    stream(res, call_stream("\r\n"), 1);
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_call_stream_result(sink, *r);
}

TEST(ProvidersGemini, ToolResultsGoBackAsFunctionResponseParts) {
  // The guide's second request: the model's functionCall parts (with the
  // thought signature they came with), then the user's functionResponse parts.
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    if (server.requests == 1) {
      stream(res, call_stream());
      return;
    }
    stream(res, event(chunk(json::array({{{"text", "done"}}}), "STOP",
                            {{"promptTokenCount", 90}, {"candidatesTokenCount", 1}, {"totalTokenCount", 91}})));
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect first;
  auto r1 = p->chat(hello(), first, CancellationToken{});
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  ASSERT_EQ(r1->tool_calls.size(), 2u);

  ChatRequest r = hello();
  r.messages.push_back({"assistant", "Reading both.", r1->tool_calls, {}});
  r.messages.push_back({"tool", "int main(void) { return 0; }", {}, r1->tool_calls[0].id});
  r.messages.push_back({"tool", "a.c:1:int main", {}, r1->tool_calls[1].id});
  r.max_tokens = 100;
  r.temperature = 0.5;
  Collect sink;
  auto out = p->chat(r, sink, CancellationToken{});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->text, "done");
  EXPECT_EQ(out->stop, StopReason::kEndTurn);
  EXPECT_EQ(out->usage.input_tokens, 90);
  EXPECT_EQ(out->usage.output_tokens, 1);

  std::lock_guard lock(server.seen_mutex);
  const json& b = server.last_body;
  EXPECT_EQ(b["generationConfig"], (json{{"maxOutputTokens", 100}, {"temperature", 0.5}}));
  const json& c = b["contents"];
  ASSERT_EQ(c.size(), 3u) << c.dump();
  EXPECT_EQ(c[1], (json{{"role", "model"},
                        {"parts",
                         {{{"text", "Reading both."}},
                          {{"functionCall", {{"name", "read_file"}, {"args", kArgs}}}},
                          {{"functionCall", {{"name", "grep"}, {"args", {{"pattern", "main"}}}, {"id", "fc_1"}}},
                           {"thoughtSignature", "c2lnbmF0dXJl"}}}}}));
  EXPECT_EQ(c[2], (json{{"role", "user"},
                        {"parts",
                         {{{"functionResponse",
                            {{"name", "read_file"}, {"response", {{"output", "int main(void) { return 0; }"}}}}}},
                          {{"functionResponse",
                            {{"name", "grep"}, {"response", {{"output", "a.c:1:int main"}}}, {"id", "fc_1"}}}}}}}));
}

TEST(ProvidersGemini, A429IsRetriedAndA400NamesStatusAndMessageWithTheKeyRedacted) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    if (server.requests == 1) {
      res.status = 429;
      res.set_header("retry-after", "0");
      res.set_content(R"({"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}})",
                      "application/json");
      return;
    }
    if (server.requests == 2) {
      stream(res, event(chunk(json::array({{{"text", "ok"}}}), "STOP")));
      return;
    }
    res.status = 400;
    res.set_content(
        R"({"error":{"code":400,"message":"API key not valid: AIza-leaky. Please pass a valid API key.","status":"INVALID_ARGUMENT"}})",
        "application/json");
  });
  auto p = make_with_key(config_for(server), "ICOTES_TEST_GEMINI_KEY", "AIza-leaky");
  ASSERT_TRUE(p);
  Collect sink;
  auto ok = p->chat(hello(), sink, CancellationToken{});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->attempts, 2);
  EXPECT_EQ(sink.text, "ok");

  auto bad = p->chat(hello(), sink, CancellationToken{});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(server.requests, 3);  // a 400 is not retried
  EXPECT_EQ(bad.error().message,
            "provider \"gem\" (model gemini-test): HTTP 400: INVALID_ARGUMENT: API key not valid: [redacted]. Please "
            "pass a valid API key.");
  EXPECT_EQ(bad.error().data["status"], 400);
}

TEST(ProvidersGemini, AnErrorInTheStreamOrAMissingFinishReasonFailsTheCall) {
  Loopback server;
  server.server.Post(kPath, [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    if (server.requests == 1) {
      stream(
          res,
          event(chunk(json::array({{{"text", "Par"}}}))) +
              event({{"error", {{"code", 503}, {"message", "The model is overloaded."}, {"status", "UNAVAILABLE"}}}}));
      return;
    }
    stream(res, event(chunk(json::array({{{"text", "Half"}}}))));
  });
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(hello(), sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(server.requests, 1);  // text was streamed: no retry
  EXPECT_EQ(r.error().message,
            "provider \"gem\" (model gemini-test): error in the stream: UNAVAILABLE: The model is overloaded.");

  Collect sink2;
  auto cut = p->chat(hello(), sink2, CancellationToken{});
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(sink2.text, "Half");
  EXPECT_NE(cut.error().message.find("the stream ended before a finishReason"), std::string::npos)
      << cut.error().message;
}

TEST(ProvidersGemini, CancellationStopsAStalledStream) {
  Loopback server;
  serve_stalled_stream(server, kPath, event(chunk(json::array({{{"text", "Start"}}}))));
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  Collect sink;
  expect_cancelled(chat_cancelled_on_first_text(*p, hello(), sink));
}

TEST(ProvidersGemini, ModelNamesAndTheDefaultBaseUrl) {
  ProviderConfig c;
  c.name = "gem";
  c.kind = "gemini";
  c.model = "models/gemini-test";
  EXPECT_TRUE(make_provider(c).ok());
  for (const char* bad : {"", "gemini/../x", "a?b", "a:b", "a b"}) {
    c.model = bad;
    EXPECT_FALSE(make_provider(c).ok()) << bad;
  }
  // A model asked for per request is checked too: it goes into the path.
  Loopback server;
  auto p = make(config_for(server));
  ASSERT_TRUE(p);
  ChatRequest r = hello();
  r.model = "x/../../admin";
  Collect sink;
  auto out = p->chat(r, sink, CancellationToken{});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, error_code::kInvalidParams);
  EXPECT_EQ(server.requests, 0);
}

}  // namespace
}  // namespace icotes::providers
