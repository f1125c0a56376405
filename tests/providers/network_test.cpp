// The HTTP back ends' network settings: presets (the configuration's table
// of well-known services), proxies from the environment (curl's NO_PROXY
// rules, a loopback proxy that records what it is sent) and TLS (a loopback
// server with a certificate made here: refused without ca_file, served with
// it).
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <thread>

#include "icotes/provider.hpp"
#include "loopback.hpp"
#include "stream_call.hpp"

namespace icotes::providers {
namespace {

using test_support::Collect;
using test_support::Loopback;
using test_support::ScopedEnv;
using test_support::TempDir;
using test_support::write_file;

// --- presets -----------------------------------------------------------

TEST(ProvidersPresets, TableIsWholeAndEveryBaseUrlParses) {
  std::set<std::string_view> names;
  for (const ProviderPreset& p : provider_presets()) {
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    ProviderConfig c;
    c.name = std::string(p.name);
    c.base_url = std::string(p.base_url);
    EXPECT_TRUE(stream::parse_base_url(c).ok()) << p.name;
    const bool local = p.base_url.rfind("http://127.0.0.1:", 0) == 0;
    // The services take a key over HTTPS; the local servers take none.
    EXPECT_EQ(local, p.api_key_env.empty()) << p.name;
    EXPECT_TRUE(local || p.base_url.rfind("https://", 0) == 0) << p.name;
  }
  for (const char* n : {"openai", "groq", "deepseek", "together", "openrouter", "ollama", "llama-server", "vllm"}) {
    EXPECT_TRUE(names.contains(n)) << n;
  }
}

TEST(ProvidersPresets, FillWhatTheTableLeavesOut) {
  TempDir dir;
  write_file(dir / "config.toml", R"(
[providers.g]
preset = "groq"
model = "llama-3.3-70b-versatile"

[providers.local]
preset = "ollama"
model = "qwen2.5-coder"

[providers.mine]
preset = "openrouter"
kind = "openai"
base_url = "https://gateway.example/v1"
api_key_file = "key.txt"
model = "m"

[providers.ds]
preset = "deepseek"
api_key_env = "MY_DEEPSEEK"
model = "deepseek-chat"
)");
  auto cfg = load_providers_config(dir / "config.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const auto& g = cfg->providers.at("g");
  EXPECT_EQ(g.kind, "openai");
  EXPECT_EQ(g.preset, "groq");
  EXPECT_EQ(g.base_url, "https://api.groq.com/openai/v1");
  EXPECT_EQ(g.api_key_env, "GROQ_API_KEY");
  const auto& local = cfg->providers.at("local");
  EXPECT_EQ(local.kind, "openai");
  EXPECT_EQ(local.base_url, "http://127.0.0.1:11434/v1");
  EXPECT_EQ(local.api_key_env, "");
  EXPECT_EQ(key_status(local).source, "none");
  const auto& mine = cfg->providers.at("mine");
  EXPECT_EQ(mine.base_url, "https://gateway.example/v1");
  EXPECT_EQ(mine.api_key_env, "");
  EXPECT_EQ(mine.api_key_file, dir / "key.txt");
  EXPECT_EQ(cfg->providers.at("ds").api_key_env, "MY_DEEPSEEK");
  EXPECT_EQ(cfg->providers.at("ds").base_url, "https://api.deepseek.com");
}

TEST(ProvidersPresets, UnknownPresetOrOtherKindIsRefused) {
  TempDir dir;
  write_file(dir / "a.toml", "[providers.x]\npreset = \"nope\"\nmodel = \"m\"\n");
  auto a = load_providers_config(dir / "a.toml");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("preset \"nope\" is not one of openai, groq"), std::string::npos)
      << a.error().message;
  EXPECT_NE(a.error().message.find("a.toml:2:"), std::string::npos) << a.error().message;
  write_file(dir / "b.toml", "[providers.x]\npreset = \"groq\"\nkind = \"anthropic\"\nmodel = \"m\"\n");
  auto b = load_providers_config(dir / "b.toml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("is for kind \"openai\""), std::string::npos) << b.error().message;
}

// --- proxies -------------------------------------------------------------

TEST(ProvidersProxy, NoProxyFollowsCurlsRules) {
  using stream::no_proxy_matches;
  EXPECT_TRUE(no_proxy_matches("*", "api.openai.com"));
  EXPECT_TRUE(no_proxy_matches("example.com", "example.com"));
  EXPECT_TRUE(no_proxy_matches("example.com", "www.example.com"));
  EXPECT_TRUE(no_proxy_matches(".example.com", "www.example.com"));
  EXPECT_TRUE(no_proxy_matches(".example.com", "example.com"));
  EXPECT_FALSE(no_proxy_matches("example.com", "notexample.com"));
  EXPECT_FALSE(no_proxy_matches("example.com", "example.com.org"));
  EXPECT_TRUE(no_proxy_matches("localhost, 127.0.0.1 ,::1", "127.0.0.1"));
  EXPECT_TRUE(no_proxy_matches("localhost,127.0.0.1,::1", "::1"));
  EXPECT_TRUE(no_proxy_matches("EXAMPLE.com", "Api.Example.COM"));
  EXPECT_FALSE(no_proxy_matches("", "example.com"));
  EXPECT_FALSE(no_proxy_matches("*.example.com", "www.example.com"));  // "*" only alone
  EXPECT_FALSE(no_proxy_matches("other.com,,", "example.com"));
  EXPECT_EQ(stream::origin_host("https://[::1]:8443"), "::1");
  EXPECT_EQ(stream::origin_host("http://API.example.com:80"), "api.example.com");
  EXPECT_EQ(stream::origin_host("https://example.com"), "example.com");
}

// Clears every proxy variable for one test.
struct NoProxyEnv {
  ScopedEnv a{"http_proxy", nullptr}, b{"HTTP_PROXY", nullptr}, c{"https_proxy", nullptr}, d{"HTTPS_PROXY", nullptr},
      e{"all_proxy", nullptr}, f{"ALL_PROXY", nullptr}, g{"no_proxy", nullptr}, h{"NO_PROXY", nullptr};
};

TEST(ProvidersProxy, ChosenBySchemeFromTheEnvironment) {
  NoProxyEnv clean;
  auto none = stream::proxy_for("https://api.openai.com");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  {
    ScopedEnv https("HTTPS_PROXY", "http://user:p%40ss@proxy.corp:3128/");
    auto p = stream::proxy_for("https://api.openai.com");
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_TRUE(p->has_value());
    EXPECT_EQ((*p)->host, "proxy.corp");
    EXPECT_EQ((*p)->port, 3128);
    EXPECT_EQ((*p)->user, "user");
    EXPECT_EQ((*p)->password, "p@ss");
    auto plain = stream::proxy_for("http://127.0.0.1:11434");  // http takes http_proxy only
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE(plain->has_value());
    ScopedEnv no("no_proxy", "openai.com");
    auto bypassed = stream::proxy_for("https://api.openai.com");
    ASSERT_TRUE(bypassed.ok());
    EXPECT_FALSE(bypassed->has_value());
  }
  {
    ScopedEnv lower("https_proxy", "proxy.corp");  // no scheme: http; no port: 1080
    ScopedEnv upper("HTTPS_PROXY", "http://ignored:1");
    auto p = stream::proxy_for("https://api.openai.com");
    ASSERT_TRUE(p.ok() && p->has_value());
    EXPECT_EQ((*p)->host, "proxy.corp");
    EXPECT_EQ((*p)->port, 1080);
  }
  {
    ScopedEnv all("ALL_PROXY", "http://[::1]:8080");
    auto p = stream::proxy_for("http://example.com");
    ASSERT_TRUE(p.ok() && p->has_value());
    EXPECT_EQ((*p)->host, "::1");
    EXPECT_EQ((*p)->port, 8080);
  }
  for (const char* bad : {"socks5://proxy:1080", "http://proxy:99999", "http://:8080", "http://proxy:80/path"}) {
    ScopedEnv https("HTTPS_PROXY", bad);
    auto p = stream::proxy_for("https://api.openai.com");
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.error().message.find("HTTPS_PROXY"), std::string::npos) << p.error().message;
  }
}

std::string done_stream(const std::string& text) {
  return "data: " +
         json{{"choices", {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", "stop"}}}}}.dump() +
         "\n\ndata: [DONE]\n\n";
}

ProviderConfig openai_config(const std::string& base_url) {
  ProviderConfig c;
  c.name = "local";
  c.kind = "openai";
  c.base_url = base_url;
  c.model = "m";
  c.timeout = std::chrono::milliseconds(10000);
  c.retry_base = std::chrono::milliseconds(1);
  c.max_retries = 0;
  return c;
}

ChatRequest hi() {
  ChatRequest r;
  r.messages = {{"user", "hi", {}, {}}};
  return r;
}

// One call through a provider made for `c` now: the proxy (or none) is taken
// from the environment when the provider is made. A provider that cannot be
// made is the call's error.
Result<ChatResult> chat_hi(const ProviderConfig& c) {
  auto p = make_provider(c);
  if (!p.ok()) return p.error();
  Collect sink;
  return (*p)->chat(hi(), sink, CancellationToken{});
}

TEST(ProvidersProxy, PlainHttpGoesThroughTheProxyUnlessNoProxyListsTheHost) {
  NoProxyEnv clean;
  Loopback upstream;
  upstream.server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    upstream.record(req);
    test_support::stream(res, done_stream("direct"));
  });
  // A forward proxy that answers itself, keeping what it was asked.
  Loopback proxy;
  std::string target, host, proxy_auth;
  proxy.server.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
    proxy.record(req);
    {
      std::lock_guard lock(proxy.seen_mutex);
      target = req.path;
      host = req.get_header_value("Host");
      proxy_auth = req.get_header_value("Proxy-Authorization");
    }
    test_support::stream(res, done_stream("proxied"));
  });
  const std::string proxy_port = proxy.origin().substr(proxy.origin().rfind(':') + 1);
  {
    ScopedEnv via("HTTP_PROXY", ("http://me:secret@127.0.0.1:" + proxy_port).c_str());
    auto r = chat_hi(openai_config(upstream.base_url()));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->text, "proxied");
    EXPECT_EQ(proxy.requests.load(), 1);
    EXPECT_EQ(upstream.requests.load(), 0);
    std::lock_guard lock(proxy.seen_mutex);
    EXPECT_EQ(target, upstream.base_url() + "/chat/completions");  // the absolute URI
    EXPECT_EQ(host, upstream.origin().substr(7));
    EXPECT_EQ(proxy_auth, "Basic bWU6c2VjcmV0");  // me:secret
    EXPECT_EQ(proxy.last_body.value("model", ""), "m");
  }
  {
    ScopedEnv via("http_proxy", ("127.0.0.1:" + proxy_port).c_str());
    ScopedEnv bypass("NO_PROXY", "example.com, 127.0.0.1");
    auto r = chat_hi(openai_config(upstream.base_url()));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->text, "direct");
    EXPECT_EQ(proxy.requests.load(), 1);
    EXPECT_EQ(upstream.requests.load(), 1);
  }
}

TEST(ProvidersProxy, ABadProxyVariableFailsMakingTheProvider) {
  NoProxyEnv clean;
  ScopedEnv via("HTTPS_PROXY", "socks5h://127.0.0.1:9050");
  auto p = make_provider(openai_config("https://api.example.com/v1"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("provider \"local\": the proxy in HTTPS_PROXY"), std::string::npos)
      << p.error().message;
}

// --- TLS -------------------------------------------------------------------

// A self-signed certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1, its
// own CA) and its key, written as PEM files.
void make_certificate(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("icotes test"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] :
       {std::pair{NID_subject_alt_name, "IP:127.0.0.1"}, std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  ASSERT_GT(X509_sign(x, key, EVP_sha256()), 0);
  FILE* cf = std::fopen(cert_path.c_str(), "w");
  FILE* kf = std::fopen(key_path.c_str(), "w");
  ASSERT_TRUE(cf && kf);
  PEM_write_X509(cf, x);
  PEM_write_PrivateKey(kf, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(cf);
  std::fclose(kf);
  X509_free(x);
  EVP_PKEY_free(key);
}

// An HTTPS server on 127.0.0.1 with that certificate.
class TlsLoopback {
 public:
  TlsLoopback(const std::string& cert, const std::string& key) : server(cert.c_str(), key.c_str()) {
    port_ = server.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server.listen_after_bind(); });
  }
  ~TlsLoopback() {
    for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.stop();
    thread_.join();
  }
  TlsLoopback(const TlsLoopback&) = delete;
  TlsLoopback& operator=(const TlsLoopback&) = delete;
  std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  httplib::SSLServer server;
  std::atomic<int> requests{0};

 private:
  int port_ = 0;
  std::thread thread_;
};

TEST(ProvidersTls, AnUnknownCertificateIsRefusedAndCaFileTrustsIt) {
  NoProxyEnv clean;
  TempDir dir;
  make_certificate(dir / "cert.pem", dir / "key.pem");
  TlsLoopback server(dir / "cert.pem", dir / "key.pem");
  ASSERT_TRUE(server.server.is_valid());
  server.server.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
    ++server.requests;
    test_support::stream(res, done_stream("over TLS"));
  });

  auto c = openai_config(server.base_url());
  c.max_retries = 3;  // a failed verification is not retried
  {
    auto r = chat_hi(c);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("certificate failed verification"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("self-signed"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("ca_file"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().data.value("attempts", 0), 1);
    EXPECT_EQ(server.requests.load(), 0);
  }
  c.ca_file = dir / "cert.pem";
  {
    auto r = chat_hi(c);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->text, "over TLS");
    EXPECT_EQ(server.requests.load(), 1);
  }
  c.ca_file = dir / "missing.pem";
  auto missing = make_provider(c);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("ca_file"), std::string::npos) << missing.error().message;
}

TEST(ProvidersTls, CaFileIsReadFromTheConfigRelativeToIt) {
  TempDir dir;
  write_file(dir / "config.toml", "[providers.x]\nkind = \"openai\"\nmodel = \"m\"\nca_file = \"ca.pem\"\n");
  auto cfg = load_providers_config(dir / "config.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->providers.at("x").ca_file, dir / "ca.pem");
}

}  // namespace
}  // namespace icotes::providers
