// kind = "client": a ChatRequest as MCP sampling/createMessage params
// (specs/mcp/2025-11-25/schema.json) and the CreateMessageResult back as a
// ChatResult, against a fake `sample` that records what it was sent.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "icotes/provider.hpp"

namespace icotes::providers {
namespace {

// Records what the provider streamed.
class Recorder : public ChatSink {
 public:
  void on_text(std::string_view delta) override { deltas.emplace_back(delta); }
  void on_tool_call(const ToolCall& call) override { calls.push_back(call); }
  std::vector<std::string> deltas;
  std::vector<ToolCall> calls;
};

// A host whose model answers `answer` and keeps the params it was sent.
struct FakeHost {
  json sent;
  int calls = 0;
  Result<json> answer = json::object();
  ProviderHost host(bool tools = false) {
    return ProviderHost{[this](const json& params, const CancellationToken&) -> Result<json> {
                          sent = params;
                          ++calls;
                          return answer;
                        },
                        tools};
  }
};

ProviderConfig client_config(std::string model = "") {
  ProviderConfig c;
  c.name = "client";
  c.kind = "client";
  c.model = std::move(model);
  return c;
}

ChatRequest ask(std::string text) {
  ChatRequest r;
  r.messages.push_back({"user", std::move(text), {}, ""});
  return r;
}

TEST(ClientProvider, RegisteredAsAKind) { EXPECT_EQ(provider_kinds().count("client"), 1u); }

TEST(ClientProvider, WithoutSamplingSaysSo) {
  auto p = make_provider(client_config(), ProviderHost{});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, error_code::kInvalidParams);
  EXPECT_NE(p.error().message.find("provider client: no connected MCP client offers sampling"), std::string::npos)
      << p.error().message;
  EXPECT_NE(p.error().message.find("`sampling`"), std::string::npos);
  // The name "client" needs no table in the configuration, and fails the same way.
  auto s = select_provider(ProvidersConfig{}, "client", "", ProviderHost{});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("no connected MCP client offers sampling"), std::string::npos);
}

TEST(ClientProvider, TextRequestAndAnswer) {
  FakeHost fake;
  fake.answer = json{{"role", "assistant"},
                     {"content", {{"type", "text"}, {"text", "Paris."}}},
                     {"model", "host-model-1"},
                     {"stopReason", "endTurn"}};
  auto p = select_provider(ProvidersConfig{}, "client", "", fake.host());
  ASSERT_TRUE(p.ok()) << p.error().message;
  ChatRequest r;
  r.messages = {{"system", "Be brief.", {}, ""},
                {"user", "Capital of France?", {}, ""},
                {"assistant", "Which France?", {}, ""},
                {"system", "Answer in one word.", {}, ""},
                {"user", "The country.", {}, ""}};
  r.temperature = 0.5;
  Recorder sink;
  auto out = (*p)->chat(r, sink, CancellationToken{});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(fake.sent["systemPrompt"], "Be brief.\n\nAnswer in one word.");
  EXPECT_EQ(fake.sent["maxTokens"], 4096);  // required by MCP: the default when the request has none
  EXPECT_EQ(fake.sent["temperature"], 0.5);
  EXPECT_FALSE(fake.sent.contains("tools"));
  EXPECT_FALSE(fake.sent.contains("modelPreferences"));  // no model named
  const json want = json::array({
      {{"role", "user"}, {"content", {{"type", "text"}, {"text", "Capital of France?"}}}},
      {{"role", "assistant"}, {"content", {{"type", "text"}, {"text", "Which France?"}}}},
      {{"role", "user"}, {"content", {{"type", "text"}, {"text", "The country."}}}},
  });
  EXPECT_EQ(fake.sent["messages"], want);
  EXPECT_EQ(out->text, "Paris.");
  EXPECT_EQ(out->model, "host-model-1");
  EXPECT_EQ(out->stop, StopReason::kEndTurn);
  EXPECT_EQ(out->stop_raw, "endTurn");
  EXPECT_EQ(out->usage.input_tokens, 0);  // MCP reports no counts
  ASSERT_EQ(sink.deltas.size(), 1u);      // one delta: sampling does not stream
  EXPECT_EQ(sink.deltas[0], "Paris.");
}

TEST(ClientProvider, ModelAndMaxTokensAsked) {
  FakeHost fake;
  fake.answer = json{{"role", "assistant"}, {"content", {{"type", "text"}, {"text", "x"}}}, {"model", "m"}};
  auto p = select_provider(ProvidersConfig{}, "client", "claude-sonnet", fake.host());
  ASSERT_TRUE(p.ok());
  ChatRequest r = ask("hi");
  r.max_tokens = 100;
  NullSink sink;
  ASSERT_TRUE((*p)->chat(r, sink, CancellationToken{}).ok());
  EXPECT_EQ(fake.sent["maxTokens"], 100);
  EXPECT_EQ(fake.sent["modelPreferences"], (json{{"hints", json::array({{{"name", "claude-sonnet"}}})}}));
}

TEST(ClientProvider, StopReasons) {
  const std::pair<const char*, StopReason> cases[] = {{"endTurn", StopReason::kEndTurn},
                                                      {"stopSequence", StopReason::kEndTurn},
                                                      {"maxTokens", StopReason::kMaxTokens},
                                                      {"toolUse", StopReason::kToolUse},
                                                      {"refused_by_host", StopReason::kOther}};
  for (const auto& [raw, want] : cases) {
    FakeHost fake;
    fake.answer = json{
        {"role", "assistant"}, {"content", {{"type", "text"}, {"text", "x"}}}, {"model", "m"}, {"stopReason", raw}};
    auto p = make_provider(client_config(), fake.host());
    ASSERT_TRUE(p.ok());
    NullSink sink;
    auto out = (*p)->chat(ask("q"), sink, CancellationToken{});
    ASSERT_TRUE(out.ok()) << raw;
    EXPECT_EQ(out->stop, want) << raw;
    EXPECT_EQ(out->stop_raw, raw);
  }
}

TEST(ClientProvider, ToolsWithSamplingTools) {
  FakeHost fake;
  fake.answer =
      json{{"role", "assistant"},
           {"content",
            json::array({{{"type", "text"}, {"text", "Reading it."}},
                         {{"type", "tool_use"}, {"id", "t2"}, {"name", "read_file"}, {"input", {{"path", "b.c"}}}}})},
           {"model", "m"},
           {"stopReason", "toolUse"}};
  auto p = make_provider(client_config(), fake.host(/*tools=*/true));
  ASSERT_TRUE(p.ok());
  ChatRequest r = ask("read a.c");
  r.tools.push_back({"read_file", "Reads a file", json{{"properties", {{"path", {{"type", "string"}}}}}}});
  r.messages.push_back({"assistant", "", {{"t1", "read_file", R"({"path":"a.c"})"}, {"t0", "grep", "not json"}}, ""});
  r.messages.push_back({"tool", "int main() {}", {}, "t1"});
  r.messages.push_back({"tool", "no match", {}, "t0"});
  Recorder sink;
  auto out = (*p)->chat(r, sink, CancellationToken{});
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(fake.sent["tools"].size(), 1u);
  EXPECT_EQ(fake.sent["tools"][0]["name"], "read_file");
  EXPECT_EQ(fake.sent["tools"][0]["description"], "Reads a file");
  EXPECT_EQ(fake.sent["tools"][0]["inputSchema"]["type"], "object");  // MCP Tool.inputSchema is an object schema
  const json& msgs = fake.sent["messages"];
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(
      msgs[1],
      (json{{"role", "assistant"},
            {"content",
             json::array({{{"type", "tool_use"}, {"id", "t1"}, {"name", "read_file"}, {"input", {{"path", "a.c"}}}},
                          {{"type", "tool_use"}, {"id", "t0"}, {"name", "grep"}, {"input", json::object()}}})}}));
  // Both results in one user message that holds only tool results.
  EXPECT_EQ(msgs[2],
            (json{{"role", "user"},
                  {"content", json::array({{{"type", "tool_result"},
                                            {"toolUseId", "t1"},
                                            {"content", json::array({{{"type", "text"}, {"text", "int main() {}"}}})}},
                                           {{"type", "tool_result"},
                                            {"toolUseId", "t0"},
                                            {"content", json::array({{{"type", "text"}, {"text", "no match"}}})}}})}}));
  EXPECT_EQ(out->text, "Reading it.");
  ASSERT_EQ(out->tool_calls.size(), 1u);
  EXPECT_EQ(out->tool_calls[0].id, "t2");
  EXPECT_EQ(out->tool_calls[0].name, "read_file");
  EXPECT_EQ(json::parse(out->tool_calls[0].arguments), (json{{"path", "b.c"}}));
  EXPECT_EQ(out->stop, StopReason::kToolUse);
  ASSERT_EQ(sink.calls.size(), 1u);  // whole
  EXPECT_EQ(sink.calls[0].id, "t2");
}

TEST(ClientProvider, ToolsWithoutSamplingToolsFailClearly) {
  FakeHost fake;
  auto p = make_provider(client_config(), fake.host(/*tools=*/false));
  ASSERT_TRUE(p.ok());
  ChatRequest r = ask("read a.c");
  r.tools.push_back({"read_file", "", json::object()});
  NullSink sink;
  auto out = (*p)->chat(r, sink, CancellationToken{});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("sampling.tools"), std::string::npos) << out.error().message;
  EXPECT_EQ(fake.calls, 0);  // MCP: never sent tools to a host that did not declare them
}

TEST(ClientProvider, HistoryWithToolsAsTextWithoutSamplingTools) {
  FakeHost fake;
  fake.answer = json{{"role", "assistant"}, {"content", {{"type", "text"}, {"text", "done"}}}, {"model", "m"}};
  auto p = make_provider(client_config(), fake.host(false));
  ASSERT_TRUE(p.ok());
  ChatRequest r = ask("q");
  r.messages.push_back({"assistant", "Let me look.", {{"t1", "read_file", R"({"path":"a.c"})"}}, ""});
  r.messages.push_back({"tool", "int x;", {}, "t1"});
  NullSink sink;
  ASSERT_TRUE((*p)->chat(r, sink, CancellationToken{}).ok());
  const json& msgs = fake.sent["messages"];
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[1]["content"]["type"], "text");
  EXPECT_EQ(msgs[1]["content"]["text"], "Let me look.\n[tool call t1: read_file {\"path\":\"a.c\"}]");
  EXPECT_EQ(msgs[2]["role"], "user");
  EXPECT_EQ(msgs[2]["content"]["text"], "[tool result t1]\nint x;");
}

TEST(ClientProvider, ClientErrorNamesProvider) {
  FakeHost fake;
  fake.answer = make_error(-1, "User rejected sampling request");
  auto p = make_provider(client_config(), fake.host());
  ASSERT_TRUE(p.ok());
  NullSink sink;
  auto out = (*p)->chat(ask("q"), sink, CancellationToken{});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, error_code::kRequestFailed);
  EXPECT_NE(out.error().message.find("provider \"client\""), std::string::npos) << out.error().message;
  EXPECT_NE(out.error().message.find("User rejected sampling request"), std::string::npos);
  EXPECT_EQ(out.error().data["code"], -1);
}

TEST(ClientProvider, ResultWithoutContentFails) {
  FakeHost fake;
  fake.answer = json{{"model", "m"}};
  auto p = make_provider(client_config(), fake.host());
  ASSERT_TRUE(p.ok());
  NullSink sink;
  auto out = (*p)->chat(ask("q"), sink, CancellationToken{});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("no content"), std::string::npos);
}

TEST(ClientProvider, BadRoleAndNoMessages) {
  FakeHost fake;
  auto p = make_provider(client_config(), fake.host());
  ASSERT_TRUE(p.ok());
  NullSink sink;
  ChatRequest r;
  r.messages.push_back({"system", "only a system prompt", {}, ""});
  EXPECT_FALSE((*p)->chat(r, sink, CancellationToken{}).ok());
  r.messages.push_back({"narrator", "x", {}, ""});
  auto out = (*p)->chat(r, sink, CancellationToken{});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("narrator"), std::string::npos);
  EXPECT_EQ(fake.calls, 0);
}

// A host that never answers: sample waits on its token, as the MCP one does.
ProviderHost silent_host(std::atomic<bool>& saw_cancel) {
  return ProviderHost{[&saw_cancel](const json&, const CancellationToken& cancel) -> Result<json> {
                        for (int i = 0; i < 1000 && !cancel.cancelled(); ++i)
                          std::this_thread::sleep_for(std::chrono::milliseconds(5));
                        saw_cancel = cancel.cancelled();
                        return make_error(error_code::kRequestCancelled, "cancelled");
                      },
                      false};
}

TEST(ClientProvider, CancelReachesTheSample) {
  std::atomic<bool> saw_cancel{false};
  auto p = make_provider(client_config(), silent_host(saw_cancel));
  ASSERT_TRUE(p.ok());
  CancellationToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel.cancel();
  });
  NullSink sink;
  const auto start = std::chrono::steady_clock::now();
  auto out = (*p)->chat(ask("q"), sink, cancel);
  canceller.join();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, error_code::kRequestCancelled);
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(ClientProvider, TimeoutEndsTheSample) {
  std::atomic<bool> saw_cancel{false};
  ProviderConfig c = client_config();
  c.timeout = std::chrono::milliseconds(60);
  auto p = make_provider(c, silent_host(saw_cancel));
  ASSERT_TRUE(p.ok());
  NullSink sink;
  auto out = (*p)->chat(ask("q"), sink, CancellationToken{});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, error_code::kRequestFailed);
  EXPECT_NE(out.error().message.find("within 60 ms"), std::string::npos) << out.error().message;
  EXPECT_TRUE(saw_cancel.load());
}

}  // namespace
}  // namespace icotes::providers
