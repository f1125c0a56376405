// The workspace's registry of MCP clients that lend their model (sampling)
// and provider_host(ctx)'s fallback to it for callers without sampling.
#include <gtest/gtest.h>

#include <string>

#include "icotes/sampler_registry.hpp"
#include "icotes/workspace.hpp"
#include "ops/provider_host.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

// A sampler that answers its own name as the model's text.
SamplerRegistry::Sampler named(const std::string& name, bool tools = false) {
  return {name,
          [name](const json&, const CancellationToken&) -> Result<json> {
            return json{{"role", "assistant"}, {"content", {{"type", "text"}, {"text", name}}}, {"model", name}};
          },
          tools};
}

std::string answer_of(const SamplerRegistry::SampleFn& f) {
  auto r = f(json::object(), CancellationToken{});
  return r ? (*r)["content"]["text"].get<std::string>() : "error: " + r.error().message;
}

TEST(SamplerRegistry, MostRecentWinsAndHandlesUnregister) {
  SamplerRegistry reg;
  EXPECT_FALSE(reg.latest().has_value());
  auto a = reg.add(named("a"));
  {
    auto b = reg.add(named("b", true));
    ASSERT_TRUE(reg.latest().has_value());
    EXPECT_EQ(reg.latest()->client, "b");
    EXPECT_TRUE(reg.latest()->tools);
    EXPECT_EQ(reg.size(), 2u);
  }  // b's session ended
  ASSERT_TRUE(reg.latest().has_value());
  EXPECT_EQ(reg.latest()->client, "a");
  EXPECT_EQ(answer_of(reg.latest()->sample), "a");
  SamplerRegistry::Handle moved = std::move(a);
  EXPECT_EQ(reg.size(), 1u);  // a move keeps it registered
  moved.reset();
  moved.reset();  // twice: nothing more
  EXPECT_FALSE(reg.latest().has_value());
}

TEST(SamplerRegistry, HandleOutlivesRegistry) {
  SamplerRegistry::Handle h;
  {
    SamplerRegistry reg;
    h = reg.add(named("a"));
    EXPECT_TRUE(static_cast<bool>(h));
  }
  h.reset();  // the registry is gone: nothing to do, no crash
  EXPECT_FALSE(static_cast<bool>(h));
}

class ProviderHostFallback : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::open(dir_.path(), 1);
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    ws_ = std::move(*ws);
  }
  test::TempDir dir_;
  std::unique_ptr<Workspace> ws_;
  CancellationToken cancel_;
  NullProgress progress_;
};

TEST_F(ProviderHostFallback, NoSamplerAnywhere) {
  Context ctx{*ws_, cancel_, progress_, nullptr};
  const auto host = provider_host(ctx);
  EXPECT_FALSE(static_cast<bool>(host.sample));
  // The client kind then says why it cannot be used.
  auto p = providers::select_provider(providers::ProvidersConfig{}, "client", "", host);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("no connected MCP client offers sampling"), std::string::npos);
}

TEST_F(ProviderHostFallback, CallerWithoutSamplingBorrowsTheMostRecentHost) {
  auto older = ws_->samplers().add(named("older"));
  auto newer = ws_->samplers().add(named("newer", true));
  Context ctx{*ws_, cancel_, progress_, nullptr};  // an LSP editor, `icotes call`: no sample of its own
  auto host = provider_host(ctx);
  ASSERT_TRUE(static_cast<bool>(host.sample));
  EXPECT_TRUE(host.sampling_tools);
  EXPECT_EQ(answer_of(host.sample), "newer");

  // Through the client kind, end to end.
  auto p = providers::select_provider(providers::ProvidersConfig{}, "client", "", host);
  ASSERT_TRUE(p.ok()) << p.error().message;
  providers::ChatRequest r;
  r.messages.push_back({"user", "hi", {}, ""});
  providers::NullSink sink;
  auto out = (*p)->chat(r, sink, cancel_);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->text, "newer");

  newer.reset();  // that host's session ended
  host = provider_host(ctx);
  ASSERT_TRUE(static_cast<bool>(host.sample));
  EXPECT_FALSE(host.sampling_tools);
  EXPECT_EQ(answer_of(host.sample), "older");
}

TEST_F(ProviderHostFallback, CallersOwnSamplingComesFirst) {
  auto other = ws_->samplers().add(named("other", true));
  Context ctx{*ws_, cancel_, progress_, nullptr};
  ctx.sample = named("mine").sample;
  ctx.sampling_tools = false;
  const auto host = provider_host(ctx);
  EXPECT_EQ(answer_of(host.sample), "mine");
  EXPECT_FALSE(host.sampling_tools);
}

}  // namespace
}  // namespace icotes
