// Provider configuration (the user's config.toml), keys, redaction, the
// registration table and the mock back end.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "icotes/provider.hpp"
#include "loopback.hpp"

namespace icotes::providers {
namespace {

using test_support::ScopedEnv;
using test_support::TempDir;
using test_support::write_file;

class Collect : public ChatSink {
 public:
  void on_text(std::string_view d) override { text += d; }
  void on_reasoning(std::string_view d) override { reasoning += d; }
  void on_tool_call(const ToolCall& c) override { calls.push_back(c); }
  void on_usage(const Usage& u) override { usage = u; }
  std::string text, reasoning;
  std::vector<ToolCall> calls;
  Usage usage;
};

TEST(ProvidersConfig, UserConfigPathFollowsXdg) {
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", "/x/conf");
    EXPECT_EQ(user_config_path(), "/x/conf/icotes/config.toml");
  }
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", "relative/conf");  // ignored, as the XDG spec says
    ScopedEnv home("HOME", "/home/u");
    EXPECT_EQ(user_config_path(), "/home/u/.config/icotes/config.toml");
  }
}

TEST(ProvidersConfig, ReadsProvidersAndTheDefault) {
  TempDir dir;
  write_file(dir / "config.toml", R"([providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "qwen2.5-coder"
api_key_env = "ICOTES_TEST_LOCAL_KEY"
timeout_ms = 5000
max_retries = 1

[providers.demo]
kind = "mock"
script = "demo.json"
api_key_file = "keys/demo.key"

[agent]
provider = "local"
)");
  auto c = load_providers_config(dir / "config.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->providers.size(), 2u);
  EXPECT_EQ(c->default_provider, "local");
  const ProviderConfig& local = c->providers.at("local");
  EXPECT_EQ(local.kind, "openai");
  EXPECT_EQ(local.base_url, "http://127.0.0.1:11434/v1");
  EXPECT_EQ(local.model, "qwen2.5-coder");
  EXPECT_EQ(local.timeout.count(), 5000);
  EXPECT_EQ(local.max_retries, 1);
  const ProviderConfig& demo = c->providers.at("demo");
  EXPECT_EQ(demo.script, dir / "demo.json");  // relative to the config file
  EXPECT_EQ(demo.api_key_file, dir / "keys/demo.key");
}

// A call's cost: the provider's own figure wins; else the tokens at the
// configured prices (dollars per million tokens), which need both prices.
TEST(ProvidersConfig, CostFromThePricesUnlessTheProviderGaveIt) {
  TempDir dir;
  write_file(dir / "config.toml", "[providers.a]\nkind = \"openai\"\ninput_price = 3\noutput_price = 15.5\n");
  auto c = load_providers_config(dir / "config.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const ProviderConfig& a = c->providers.at("a");
  EXPECT_EQ(a.input_price, 3.0);
  EXPECT_EQ(a.output_price, 15.5);
  Usage u;
  u.input_tokens = 1000000;
  u.output_tokens = 2000;
  EXPECT_DOUBLE_EQ(*with_cost(a, u).cost_usd, 3.0 + 0.031);
  u.cost_usd = 0.5;
  EXPECT_EQ(with_cost(a, u).cost_usd, 0.5);
  u.cost_usd.reset();
  ProviderConfig half = a;
  half.output_price.reset();
  EXPECT_FALSE(with_cost(half, u).cost_usd);
}

TEST(ProvidersConfig, MissingFileIsNoProviders) {
  TempDir dir;
  auto c = load_providers_config(dir / "absent.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->providers.empty());
  EXPECT_TRUE(c->default_provider.empty());
}

TEST(ProvidersConfig, ErrorsNameTheFileAndLine) {
  TempDir dir;
  struct Case {
    const char* toml;
    const char* says;
  };
  for (const Case& k : {Case{"[providers.a]\nmodel = \"m\"\n", "needs a kind"},
                        Case{"[providers.a]\nkind = \"telepathy\"\n", "is not one of anthropic, client, gemini, mock"},
                        Case{"[providers.a]\nkind = \"openai\"\napi_key_env = \"A\"\napi_key_file = \"f\"\n",
                             "both api_key_env and api_key_file"},
                        Case{"[providers.a]\nkind = \"openai\"\nmodel = 3\n", "model must be a string"},
                        Case{"[providers.a]\nkind = \"openai\"\nmax_retries = 99\n", "max_retries must be"},
                        Case{"[providers.a]\nkind = \"openai\"\ninput_price = \"3\"\n", "input_price must be a number"},
                        Case{"[providers.a]\nkind = \"openai\"\noutput_price = -1\n", "output_price must be a number"},
                        Case{"[providers.a]\nkind = \"mock\"\n[agent]\nprovider = \"b\"\n", "has no [providers.b]"},
                        Case{"[providers.a\n", "config.toml:1"}}) {
    write_file(dir / "config.toml", k.toml);
    auto c = load_providers_config(dir / "config.toml");
    ASSERT_FALSE(c.ok()) << k.toml;
    EXPECT_NE(c.error().message.find(k.says), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find(dir / "config.toml"), std::string::npos) << c.error().message;
  }
}

TEST(ProvidersConfig, KeysFromEnvironmentOrFileNeverInErrors) {
  TempDir dir;
  ProviderConfig c;
  c.name = "p";
  c.api_key_env = "ICOTES_TEST_PROVIDER_KEY";
  {
    ScopedEnv key("ICOTES_TEST_PROVIDER_KEY", nullptr);
    EXPECT_FALSE(key_status(c).present);
    auto k = read_api_key(c);
    ASSERT_FALSE(k.ok());
    EXPECT_NE(k.error().message.find("ICOTES_TEST_PROVIDER_KEY"), std::string::npos);
  }
  {
    ScopedEnv key("ICOTES_TEST_PROVIDER_KEY", "sk-env-secret");
    EXPECT_TRUE(key_status(c).present);
    EXPECT_EQ(key_status(c).source, "env:ICOTES_TEST_PROVIDER_KEY");
    auto k = read_api_key(c);
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(*k, "sk-env-secret");
  }
  c.api_key_env.clear();
  c.api_key_file = dir / "key";
  write_file(c.api_key_file, "  sk-file-secret\n");
  EXPECT_TRUE(key_status(c).present);
  auto k = read_api_key(c);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, "sk-file-secret");
  c.api_key_file = dir / "absent";
  EXPECT_FALSE(read_api_key(c).ok());
  EXPECT_EQ(redact("key sk-1 and sk-1 again", "sk-1"), "key [redacted] and [redacted] again");
  EXPECT_EQ(redact("nothing", ""), "nothing");
}

TEST(ProvidersConfig, UnknownKindIsRefusedByTheFactory) {
  ProviderConfig c;
  c.name = "x";
  c.kind = "nope";
  auto p = make_provider(c);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, error_code::kInvalidParams);
  EXPECT_TRUE(provider_kinds().contains("mock"));
  EXPECT_TRUE(provider_kinds().contains("openai"));
}

TEST(ProvidersMock, PlaysTheScriptInOrder) {
  TempDir dir;
  write_file(dir / "script.json", R"({"responses": [
    {"chunks": ["Let me ", "look."], "reasoning": "thinking",
     "tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "a.c"}},
                    {"name": "grep", "arguments": "{\"pattern\":\"main\"}"}],
     "usage": {"input_tokens": 10, "output_tokens": 5}},
    {"text": "Done."},
    {"error": "scripted failure"}
  ]})");
  ProviderConfig c;
  c.name = "demo";
  c.kind = "mock";
  c.model = "m1";
  c.script = dir / "script.json";
  auto p = make_provider(c);
  ASSERT_TRUE(p.ok()) << p.error().message;
  CancellationToken cancel;
  Collect sink;
  auto r1 = (*p)->chat(ChatRequest{}, sink, cancel);
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  EXPECT_EQ(r1->text, "Let me look.");
  EXPECT_EQ(sink.text, "Let me look.");
  EXPECT_EQ(sink.reasoning, "thinking");
  ASSERT_EQ(sink.calls.size(), 2u);
  EXPECT_EQ(sink.calls[0].id, "c1");
  EXPECT_EQ(json::parse(sink.calls[0].arguments), (json{{"path", "a.c"}}));
  EXPECT_EQ(sink.calls[1].name, "grep");
  EXPECT_EQ(json::parse(sink.calls[1].arguments), (json{{"pattern", "main"}}));
  EXPECT_EQ(r1->stop, StopReason::kToolUse);
  EXPECT_EQ(sink.usage.input_tokens, 10);
  EXPECT_EQ(r1->model, "m1");

  Collect sink2;
  auto r2 = (*p)->chat(ChatRequest{}, sink2, cancel);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(sink2.text, "Done.");
  EXPECT_EQ(r2->stop, StopReason::kEndTurn);

  auto r3 = (*p)->chat(ChatRequest{}, sink2, cancel);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().code, error_code::kRequestFailed);
  EXPECT_NE(r3.error().message.find("scripted failure"), std::string::npos);
  auto r4 = (*p)->chat(ChatRequest{}, sink2, cancel);
  ASSERT_FALSE(r4.ok());
  EXPECT_NE(r4.error().message.find("no response left"), std::string::npos);
}

TEST(ProvidersMock, BadScriptsAreRefusedWhenMade) {
  TempDir dir;
  ProviderConfig c;
  c.name = "demo";
  c.kind = "mock";
  EXPECT_FALSE(make_provider(c).ok());  // no script
  c.script = dir / "absent.json";
  EXPECT_FALSE(make_provider(c).ok());
  for (const char* bad : {"{}", "[1]", R"([{"tool_calls": [{"arguments": {}}]}])",
                          R"([{"usage": {"input_tokens": "x"}}])", R"([{"text": 3}])"}) {
    write_file(dir / "s.json", bad);
    c.script = dir / "s.json";
    EXPECT_FALSE(make_provider(c).ok()) << bad;
  }
}

}  // namespace
}  // namespace icotes::providers
