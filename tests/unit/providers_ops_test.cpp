// providers/list and providers/chat through the registry, with the user's
// configuration in a temporary XDG_CONFIG_HOME and the mock kind: the
// listing never holds a key, a chat streams its text deltas as progress
// (or as partial results) and returns the whole answer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "icotes/builtin_ops.hpp"
#include "icotes/workspace.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

// XDG_CONFIG_HOME pointed at a temporary directory for one test.
class UserConfig {
 public:
  UserConfig() {
    if (const char* old = std::getenv("XDG_CONFIG_HOME")) old_ = old;
    ::setenv("XDG_CONFIG_HOME", dir_.path().c_str(), 1);
  }
  ~UserConfig() {
    if (old_) {
      ::setenv("XDG_CONFIG_HOME", old_->c_str(), 1);
    } else {
      ::unsetenv("XDG_CONFIG_HOME");
    }
  }
  UserConfig(const UserConfig&) = delete;
  UserConfig& operator=(const UserConfig&) = delete;
  void write(const std::string& rel, const std::string& text) const {
    test::write_file(dir_ / ("icotes/" + rel), text);
  }
  std::string path() const { return dir_ / "icotes/config.toml"; }

 private:
  test::TempDir dir_;
  std::optional<std::string> old_;
};

class Recorder final : public Progress {
 public:
  explicit Recorder(bool partial) : partial_(partial) {}
  void report(std::string_view message, double, double) override { reports.emplace_back(message); }
  bool wants_partial() const override { return partial_; }
  void partial(const json& items) override { partials.push_back(items); }
  std::vector<std::string> reports;
  std::vector<json> partials;

 private:
  bool partial_;
};

class ProvidersOps : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::open(root_.path(), 1);
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    ws_ = std::move(*ws);
  }
  Result<json> call(const std::string& id, const json& params, Progress& progress) {
    const Operation* op = builtin_registry().find(id);
    EXPECT_NE(op, nullptr) << id;
    if (op == nullptr) return make_error(error_code::kInternalError, "no " + id);
    EXPECT_FALSE(op->mcp_tool) << id << " is not offered to models over MCP";
    CancellationToken token;
    Context ctx{*ws_, token, progress, nullptr};
    return builtin_registry().invoke(*op, ctx, params);
  }
  test::TempDir root_;
  std::unique_ptr<Workspace> ws_;
  UserConfig user_;
};

TEST_F(ProvidersOps, ListShowsWhereKeysComeFromNeverTheKeys) {
  ::setenv("ICOTES_TEST_LIST_KEY", "sk-never-shown", 1);
  user_.write("openai.key", "sk-file-never-shown\n");
  user_.write("config.toml", R"(
[providers.cloud]
preset = "openai"
model = "gpt-4.1"
api_key_env = "ICOTES_TEST_LIST_KEY"

[providers.filed]
kind = "anthropic"
model = "claude-sonnet-4-5"
api_key_file = "openai.key"

[providers.local]
preset = "ollama"
model = "qwen2.5-coder"

[agent]
provider = "local"
)");
  NullProgress progress;
  auto r = call("providers/list", json::object(), progress);
  ::unsetenv("ICOTES_TEST_LIST_KEY");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["path"], user_.path());
  const json& ps = (*r)["providers"];
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps[0]["name"], "cloud");
  EXPECT_EQ(ps[0]["kind"], "openai");
  EXPECT_EQ(ps[0]["preset"], "openai");
  EXPECT_EQ(ps[0]["baseUrl"], "https://api.openai.com/v1");
  EXPECT_EQ(ps[0]["key"], (json{{"source", "env:ICOTES_TEST_LIST_KEY"}, {"present", true}}));
  EXPECT_EQ(ps[0]["default"], false);
  EXPECT_EQ(ps[1]["key"]["source"], "file:" + user_.path().substr(0, user_.path().rfind('/')) + "/openai.key");
  EXPECT_EQ(ps[1]["key"]["present"], true);
  EXPECT_EQ(ps[1]["baseUrl"], "");
  EXPECT_EQ(ps[2]["name"], "local");
  EXPECT_EQ(ps[2]["baseUrl"], "http://127.0.0.1:11434/v1");
  EXPECT_EQ(ps[2]["key"], (json{{"source", "none"}, {"present", false}}));
  EXPECT_EQ(ps[2]["default"], true);
  const std::string text = r->dump();
  EXPECT_EQ(text.find("never-shown"), std::string::npos) << text;
}

TEST_F(ProvidersOps, ListWithoutAFileIsEmptyAndABadFileIsAnError) {
  NullProgress progress;
  auto none = call("providers/list", json::object(), progress);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ((*none)["providers"], json::array());
  user_.write("config.toml", "[providers.x]\nkind = \"nope\"\n");
  auto bad = call("providers/list", json::object(), progress);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("config.toml:1:"), std::string::npos) << bad.error().message;
}

TEST_F(ProvidersOps, ChatStreamsDeltasAsProgressAndReturnsTheAnswer) {
  // Each call makes its provider afresh: a script's first response answers.
  user_.write("hello.json", R"([{"text": "Hello there", "chunks": ["Hel", "lo", " there"],
                                "usage": {"input_tokens": 7, "output_tokens": 3}}])");
  user_.write("short.json", R"([{"text": "cut", "stop": "max_tokens"}])");
  user_.write("config.toml", R"(
[providers.demo]
kind = "mock"
model = "scripted"
script = "hello.json"

[providers.short]
kind = "mock"
script = "short.json"

[agent]
provider = "demo"
)");
  Recorder progress(false);
  auto r = call("providers/chat", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"system", "Be brief."}},
                progress);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)["text"], "Hello there");
  EXPECT_EQ((*r)["provider"], "demo");
  EXPECT_EQ((*r)["model"], "scripted");
  EXPECT_EQ((*r)["stop"], "end_turn");
  EXPECT_EQ((*r)["usage"], (json{{"inputTokens", 7}, {"outputTokens", 3}}));
  EXPECT_EQ(progress.reports, (std::vector<std::string>{"Hel", "lo", " there"}));
  EXPECT_TRUE(progress.partials.empty());

  // A client that asked for partial results gets the deltas as events.
  Recorder partial(true);
  auto again = call("providers/chat", {{"messages", {{{"role", "user"}, {"content", "again"}}}}}, partial);
  ASSERT_TRUE(again.ok()) << again.error().message;
  json events = json::array();
  for (const json& batch : partial.partials) {
    for (const json& e : batch) events.push_back(e);
  }
  EXPECT_EQ(events, (json::array({{{"type", "text"}, {"text", "Hel"}},
                                  {{"type", "text"}, {"text", "lo"}},
                                  {{"type", "text"}, {"text", " there"}},
                                  {{"type", "usage"}, {"inputTokens", 7}, {"outputTokens", 3}}})));
  EXPECT_TRUE(partial.reports.empty());

  NullProgress quiet;
  auto cut = call("providers/chat",
                  {{"messages", {{{"role", "user"}, {"content", "x"}}}},
                   {"provider", "short"},
                   {"model", "other-model"},
                   {"maxTokens", 5}},
                  quiet);
  ASSERT_TRUE(cut.ok()) << cut.error().message;
  EXPECT_EQ((*cut)["stop"], "max_tokens");
  EXPECT_EQ((*cut)["provider"], "short");
  EXPECT_EQ((*cut)["model"], "other-model");
}

// Where the provider reports no cost, the configured prices (US dollars per
// million tokens) give it; without them the result has none.
TEST_F(ProvidersOps, ChatCostComesFromTheConfiguredPrices) {
  user_.write("s.json", R"([{"text": "ok", "usage": {"input_tokens": 2000, "output_tokens": 500}}])");
  user_.write("config.toml", R"(
[providers.priced]
kind = "mock"
script = "s.json"
input_price = 3
output_price = 15.0

[providers.plain]
kind = "mock"
script = "s.json"
)");
  NullProgress quiet;
  const json hi = {{{"role", "user"}, {"content", "hi"}}};
  auto priced = call("providers/chat", {{"messages", hi}, {"provider", "priced"}}, quiet);
  ASSERT_TRUE(priced.ok()) << priced.error().message;
  EXPECT_DOUBLE_EQ((*priced)["usage"]["costUsd"].get<double>(), (2000 * 3.0 + 500 * 15.0) / 1e6);
  auto plain = call("providers/chat", {{"messages", hi}, {"provider", "plain"}}, quiet);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ((*plain)["usage"], (json{{"inputTokens", 2000}, {"outputTokens", 500}}));
}

TEST_F(ProvidersOps, ChatNamesWhatIsMissing) {
  NullProgress progress;
  const json hi = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  auto none = call("providers/chat", hi, progress);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no provider configured"), std::string::npos) << none.error().message;
  user_.write("config.toml", "[providers.demo]\nkind = \"mock\"\nscript = \"missing.json\"\n");
  auto unknown = call("providers/chat", {{"messages", hi["messages"]}, {"provider", "other"}}, progress);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("configured: demo"), std::string::npos) << unknown.error().message;
  auto bad_role = call("providers/chat", {{"messages", {{{"role", "tool"}, {"content", "x"}}}}}, progress);
  ASSERT_FALSE(bad_role.ok());
}

}  // namespace
}  // namespace icotes
