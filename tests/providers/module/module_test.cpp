// The executable's side of icotes-providers.so: this program links the
// providers layer without the HTTP back ends (as the icotes executable
// does), so make_provider of an HTTP kind loads the module, and the provider
// it returns talks to a loopback server.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "icotes/provider.hpp"
#include "icotes/providers_module.hpp"
#include "loopback.hpp"

namespace icotes::providers {
namespace {

using test_support::Collect;
using test_support::Loopback;

TEST(ProvidersModule, HttpKindsComeFromTheModule) {
  // Nothing in this program defines the back ends: the module must.
  ASSERT_TRUE(&module_api == nullptr);
  ::setenv("ICOTES_PROVIDERS_MODULE", ICOTES_PROVIDERS_MODULE_PATH, 1);
  for (const char* proxy : {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) ::unsetenv(proxy);

  Loopback server;
  server.server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    std::string body;
    for (const char* piece : {"Hel", "lo"}) {
      body += "data: " +
              json{{"choices", {{{"index", 0}, {"delta", {{"content", piece}}}, {"finish_reason", nullptr}}}}}.dump() +
              "\n\n";
    }
    body +=
        "data: " + json{{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "stop"}}}}}.dump() +
        "\n\n";
    body += "data: " +
            json{{"choices", json::array()}, {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 2}}}}.dump() +
            "\n\n";
    body += "data: [DONE]\n\n";
    test_support::stream(res, body);
  });

  ProviderConfig c;
  c.name = "local";
  c.kind = "openai";
  c.base_url = server.origin() + "/v1";
  c.model = "m";
  c.timeout = std::chrono::milliseconds(10000);
  auto p = make_provider(c);
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto api = http_backends();
  ASSERT_TRUE(api.ok()) << api.error().message;
  EXPECT_EQ((*api)->abi_version, ModuleApi::kAbiVersion);

  ChatRequest r;
  r.messages = {{"user", "hi", {}, {}}};
  Collect sink;
  CancellationToken cancel;
  auto out = (*p)->chat(r, sink, cancel);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->text, "Hello");
  EXPECT_EQ(sink.text, "Hello");
  EXPECT_EQ(out->usage.input_tokens, 3);
  EXPECT_EQ(out->usage.output_tokens, 2);
  EXPECT_EQ(server.requests.load(), 1);
  EXPECT_EQ(server.last_body.value("model", ""), "m");

  // The module itself: an unknown kind is refused by its table.
  auto other = (*api)->make("nope", c, {});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("not an HTTP back end"), std::string::npos);
}

// The executable maps no TLS or HTTP library until a model is called: it
// does not link them at all (the module does).
TEST(ProvidersModule, TheExecutableDoesNotLinkHttpOrTls) {
  const std::string cmd = std::string("ldd '") + ICOTES_BINARY + "' 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  ASSERT_EQ(::pclose(f), 0) << out;
  EXPECT_NE(out.find("libc.so"), std::string::npos) << out;
  for (const char* lib : {"libcpp-httplib", "libssl", "libcrypto", "libbrotli", "libz.so"}) {
    EXPECT_EQ(out.find(lib), std::string::npos) << lib << " is linked:\n" << out;
  }
}

}  // namespace
}  // namespace icotes::providers
