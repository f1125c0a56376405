// The providers' configuration: [providers.<name>] and [agent] of the
// user's config.toml (include/providers/icotes/provider.hpp), and their keys.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "icotes/config.hpp"
#include "icotes/provider.hpp"

namespace icotes::providers {

namespace {

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

Error config_error(const std::string& path, std::uint32_t line, const std::string& what) {
  return make_error(error_code::kInvalidParams, path + ":" + std::to_string(line) + ": " + what);
}

std::string expand_home(const std::string& p) {
  if (p.rfind("~/", 0) == 0) {
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + p.substr(1);
  }
  return p;
}

// The directory of `path` (for files named relative to the config file).
std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

Result<std::string> string_key(const toml::table& t, std::string_view key, const std::string& where) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::string();
  if (const auto* s = n->as_string()) return s->get();
  return config_error(where, n->source().begin.line, std::string(key) + " must be a string");
}

Result<std::int64_t> integer_key(const toml::table& t, std::string_view key, std::int64_t fallback, std::int64_t lo,
                                 std::int64_t hi, const std::string& where) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return fallback;
  const auto* v = n->as_integer();
  if (v == nullptr || v->get() < lo || v->get() > hi) {
    return config_error(
        where, n->source().begin.line,
        std::string(key) + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v->get();
}

// A price in US dollars per million tokens: a number (TOML integer or
// float) from 0 to 10,000; nullopt when absent.
Result<std::optional<double>> price_key(const toml::table& t, std::string_view key, const std::string& where) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::optional<double>();
  std::optional<double> v;
  if (const auto* f = n->as_floating_point()) v = f->get();
  if (const auto* i = n->as_integer()) v = static_cast<double>(i->get());
  if (!v || !(*v >= 0 && *v <= 10000))
    return config_error(where, n->source().begin.line,
                        std::string(key) + " must be a number of US dollars per million tokens, from 0 to 10000");
  return v;
}

// Fills what `preset` names and the table leaves out (provider_presets()).
Status apply_preset(ProviderConfig& c, const toml::table& t, const std::string& path) {
  const auto& presets = provider_presets();
  const auto it =
      std::find_if(presets.begin(), presets.end(), [&](const ProviderPreset& p) { return p.name == c.preset; });
  const std::string where = "[providers." + c.name + "] ";
  const std::uint32_t line = t.get("preset")->source().begin.line;
  if (it == presets.end()) {
    std::string known;
    for (const auto& p : presets) known += (known.empty() ? "" : ", ") + std::string(p.name);
    return config_error(path, line, where + "preset \"" + c.preset + "\" is not one of " + known);
  }
  if (c.kind.empty()) c.kind = "openai";
  if (c.kind != "openai") {
    return config_error(path, line,
                        where + "preset \"" + c.preset + "\" is for kind \"openai\", not \"" + c.kind + "\"");
  }
  if (c.base_url.empty()) c.base_url = it->base_url;
  if (c.api_key_env.empty() && c.api_key_file.empty()) c.api_key_env = it->api_key_env;
  return ok_status();
}

Result<ProviderConfig> parse_provider(const std::string& name, const toml::table& t, const std::string& path) {
  ProviderConfig c;
  c.name = name;
  c.line = t.source().begin.line;
  struct StringField {
    std::string_view key;
    std::string* out;
  };
  for (const StringField& f :
       {StringField{"kind", &c.kind}, StringField{"base_url", &c.base_url}, StringField{"model", &c.model},
        StringField{"api_key_env", &c.api_key_env}, StringField{"api_key_file", &c.api_key_file},
        StringField{"script", &c.script}, StringField{"preset", &c.preset}, StringField{"ca_file", &c.ca_file}}) {
    auto v = string_key(t, f.key, path);
    if (!v) return std::move(v).error();
    *f.out = std::move(*v);
  }
  if (!c.preset.empty()) {
    if (Status st = apply_preset(c, t, path); !st) return std::move(st).error();
  }
  if (c.kind.empty()) return config_error(path, c.line, "[providers." + name + "] needs a kind (or a preset)");
  if (!provider_kinds().contains(c.kind)) {
    std::string known;
    for (const auto& [k, _] : provider_kinds()) known += (known.empty() ? "" : ", ") + k;
    return config_error(path, c.line, "[providers." + name + "] kind \"" + c.kind + "\" is not one of " + known);
  }
  if (!c.api_key_env.empty() && !c.api_key_file.empty()) {
    return config_error(path, c.line, "[providers." + name + "] has both api_key_env and api_key_file");
  }
  if (!c.api_key_file.empty()) {
    c.api_key_file = expand_home(c.api_key_file);
    if (c.api_key_file.front() != '/') c.api_key_file = directory_of(path) + "/" + c.api_key_file;
  }
  if (!c.ca_file.empty()) {
    c.ca_file = expand_home(c.ca_file);
    if (c.ca_file.front() != '/') c.ca_file = directory_of(path) + "/" + c.ca_file;
  }
  if (!c.script.empty()) {
    c.script = expand_home(c.script);
    if (c.script.front() != '/') c.script = directory_of(path) + "/" + c.script;
  }
  struct IntField {
    std::string_view key;
    std::int64_t lo, hi;
    std::chrono::milliseconds* out;
  };
  for (const IntField& f :
       {IntField{"timeout_ms", 1, 3600000, &c.timeout}, IntField{"connect_timeout_ms", 1, 600000, &c.connect_timeout},
        IntField{"retry_base_ms", 0, 600000, &c.retry_base},
        IntField{"max_retry_wait_ms", 0, 3600000, &c.max_retry_wait}}) {
    auto v = integer_key(t, f.key, f.out->count(), f.lo, f.hi, path);
    if (!v) return std::move(v).error();
    *f.out = std::chrono::milliseconds(*v);
  }
  auto retries = integer_key(t, "max_retries", c.max_retries, 0, 10, path);
  if (!retries) return std::move(retries).error();
  c.max_retries = static_cast<int>(*retries);
  for (auto [key, out] : {std::pair{"input_price", &c.input_price}, std::pair{"output_price", &c.output_price}}) {
    auto v = price_key(t, key, path);
    if (!v) return std::move(v).error();
    *out = *v;
  }
  return c;
}

}  // namespace

Usage with_cost(const ProviderConfig& config, Usage usage) {
  if (!usage.cost_usd && config.input_price && config.output_price)
    usage.cost_usd = (static_cast<double>(usage.input_tokens) * *config.input_price +
                      static_cast<double>(usage.output_tokens) * *config.output_price) /
                     1e6;
  return usage;
}

std::string_view to_string(StopReason r) {
  switch (r) {
    case StopReason::kEndTurn:
      return "end_turn";
    case StopReason::kToolUse:
      return "tool_use";
    case StopReason::kMaxTokens:
      return "max_tokens";
    case StopReason::kContentFilter:
      return "content_filter";
    case StopReason::kOther:
      return "other";
  }
  return "other";
}

const std::vector<ProviderPreset>& provider_presets() {
  // Each service's documented OpenAI-compatible base URL (the openai kind
  // appends /chat/completions) and the variable its own SDKs read the key
  // from; the local servers' default ports.
  static const std::vector<ProviderPreset> presets = {
      {"openai", "https://api.openai.com/v1", "OPENAI_API_KEY"},
      {"groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"},
      {"deepseek", "https://api.deepseek.com", "DEEPSEEK_API_KEY"},
      {"together", "https://api.together.ai/v1", "TOGETHER_API_KEY"},
      {"openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"},
      {"ollama", "http://127.0.0.1:11434/v1", ""},
      {"llama-server", "http://127.0.0.1:8080/v1", ""},
      {"vllm", "http://127.0.0.1:8000/v1", ""},
  };
  return presets;
}

std::string user_config_path() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x == '/') return std::string(x) + "/icotes/config.toml";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.config/icotes/config.toml";
  return {};
}

Result<ProvidersConfig> load_providers_config(const std::string& path) {
  ProvidersConfig out;
  out.path = path;
  if (path.empty()) return out;
  auto file = read_config(path);
  if (!file) return std::move(file).error();
  if (!file->has_value()) return out;
  const toml::table& root = **file;
  if (const toml::node* p = root.get("providers")) {
    const auto* table = p->as_table();
    if (table == nullptr) return config_error(path, p->source().begin.line, "providers must be a table");
    for (const auto& [key, node] : *table) {
      const auto* t = node.as_table();
      if (t == nullptr) {
        return config_error(path, node.source().begin.line, "providers." + std::string(key.str()) + " must be a table");
      }
      auto c = parse_provider(std::string(key.str()), *t, path);
      if (!c) return std::move(c).error();
      out.providers.emplace(c->name, std::move(*c));
    }
  }
  if (const toml::node* a = root.get("agent")) {
    const auto* t = a->as_table();
    if (t == nullptr) return config_error(path, a->source().begin.line, "agent must be a table");
    auto name = string_key(*t, "provider", path);
    if (!name) return std::move(name).error();
    if (!name->empty() && !out.providers.contains(*name)) {
      return config_error(path, t->get("provider")->source().begin.line,
                          "[agent] provider \"" + *name + "\" has no [providers." + *name + "] table");
    }
    out.default_provider = std::move(*name);
  }
  if (out.default_provider.empty() && out.providers.size() == 1) out.default_provider = out.providers.begin()->first;
  return out;
}

KeyStatus key_status(const ProviderConfig& c) {
  if (!c.api_key_env.empty()) {
    const char* v = std::getenv(c.api_key_env.c_str());
    return {"env:" + c.api_key_env, v != nullptr && *v != '\0'};
  }
  if (!c.api_key_file.empty()) {
    struct stat st {};
    const bool present = ::stat(c.api_key_file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    return {"file:" + c.api_key_file, present};
  }
  return {"none", false};
}

namespace {

// The whole of the regular file open at `fd` (at most kMaxKeyFileBytes), or
// `failure` set.
std::string read_key_file(int fd, std::string& failure) {
  std::string key;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    failure = "not a regular file";
  } else if (static_cast<std::size_t>(st.st_size) > kMaxKeyFileBytes) {
    failure = "larger than " + std::to_string(kMaxKeyFileBytes) + " bytes";
  } else {
    key.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < key.size()) {
      const ssize_t n = ::read(fd, key.data() + got, key.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    key.resize(got);
  }
  return key;
}

}  // namespace

Result<std::string> read_api_key(const ProviderConfig& c) {
  const std::string who = "provider \"" + c.name + "\": ";
  if (!c.api_key_env.empty()) {
    const char* v = std::getenv(c.api_key_env.c_str());
    if (v == nullptr || *v == '\0') {
      return make_error(error_code::kInvalidParams,
                        who + "the environment variable " + c.api_key_env + " (api_key_env) is not set");
    }
    return std::string(v);
  }
  if (c.api_key_file.empty()) return std::string();
  const int fd = ::open(c.api_key_file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return make_error(error_code::kInvalidParams,
                      who + "api_key_file " + c.api_key_file + " cannot be read: " + std::strerror(errno));
  }
  std::string failure;
  std::string key = read_key_file(fd, failure);
  ::close(fd);
  while (!key.empty() && std::strchr(" \t\r\n", key.back()) != nullptr) key.pop_back();
  std::size_t start = 0;
  while (start < key.size() && std::strchr(" \t\r\n", key[start]) != nullptr) ++start;
  key.erase(0, start);
  if (failure.empty() && key.empty()) failure = "empty";
  if (!failure.empty()) {
    return make_error(error_code::kInvalidParams, who + "api_key_file " + c.api_key_file + ": " + failure);
  }
  return key;
}

std::string redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "[redacted]");
    at += 10;
  }
  return text;
}

Result<std::unique_ptr<Provider>> make_provider(const ProviderConfig& config, const ProviderHost& host) {
  const auto& kinds = provider_kinds();
  const auto it = kinds.find(config.kind);
  if (it == kinds.end()) {
    return make_error(error_code::kInvalidParams,
                      "provider \"" + config.name + "\": kind \"" + config.kind + "\" is not registered");
  }
  return it->second(config, host);
}

Result<std::unique_ptr<Provider>> select_provider(const ProvidersConfig& config, std::string_view name,
                                                  std::string_view model, const ProviderHost& host) {
  const std::string wanted = name.empty() ? config.default_provider : std::string(name);
  const std::string file = config.path.empty() ? std::string("the user's config.toml") : config.path;
  if (wanted.empty()) {
    return make_error(error_code::kInvalidParams,
                      "no provider configured: add [providers.NAME] with kind, base_url and model to " + file);
  }
  ProviderConfig chosen;
  if (auto it = config.providers.find(wanted); it != config.providers.end()) {
    chosen = it->second;
  } else if (wanted == "client") {
    chosen.name = "client";
    chosen.kind = "client";
  } else {
    std::string known;
    for (const auto& [n, _] : config.providers) known += (known.empty() ? "" : ", ") + n;
    return make_error(error_code::kInvalidParams, "provider \"" + wanted + "\" is not in " + file + " (configured: " +
                                                      (known.empty() ? std::string("none") : known) + ")");
  }
  if (!model.empty()) chosen.model = std::string(model);
  return make_provider(chosen, host);
}

}  // namespace icotes::providers
