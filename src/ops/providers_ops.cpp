// providers/* operations: the model providers of the user's configuration
// ($XDG_CONFIG_HOME/icotes/config.toml, never the workspace's; see
// include/providers/icotes/provider.hpp): which are configured, and one
// model call streamed as progress. No operation returns a key.
#include "icotes/builtin_ops.hpp"
#include "icotes/provider.hpp"
#include "provider_host.hpp"
#include "providers_json.hpp"

namespace icotes {
namespace {

Result<json> list(Context&, bind::NoParams&&) {
  auto config = providers::load_providers_config(providers::user_config_path());
  if (!config) return std::move(config).error();
  json out = json::array();
  for (const auto& [name, c] : config->providers) {
    const providers::KeyStatus key = providers::key_status(c);
    json p = {{"name", name},
              {"kind", c.kind},
              {"model", c.model},
              {"baseUrl", c.base_url},
              {"key", {{"source", key.source}, {"present", key.present}}},
              {"default", name == config->default_provider}};
    if (!c.preset.empty()) p["preset"] = c.preset;
    out.push_back(std::move(p));
  }
  return json{{"providers", std::move(out)}, {"path", config->path}};
}

// Forwards text deltas to the caller: partial results
// ([{"type": "text", "text": delta}]) when it asked for them, else progress
// messages.
class ProgressSink final : public providers::ChatSink {
 public:
  explicit ProgressSink(Progress& progress) : progress_(progress), partial_(progress.wants_partial()) {}
  void on_text(std::string_view delta) override {
    if (delta.empty()) return;
    if (partial_) {
      progress_.partial(json::array({{{"type", "text"}, {"text", delta}}}));
    } else {
      progress_.report(delta, 0, 0);
    }
  }
  void on_reasoning(std::string_view delta) override {
    if (partial_ && !delta.empty()) progress_.partial(json::array({{{"type", "reasoning"}, {"text", delta}}}));
  }
  void on_usage(const providers::Usage& u) override {
    if (partial_) {
      progress_.partial(json::array({providers::usage_event(u)}));
    }
  }

 private:
  Progress& progress_;
  bool partial_;
};

Result<json> chat(Context& ctx, providers::ChatParams&& p) {
  auto config = providers::load_providers_config(providers::user_config_path());
  if (!config) return std::move(config).error();
  auto provider = providers::select_provider(*config, p.provider, p.model, provider_host(ctx));
  if (!provider) return std::move(provider).error();
  providers::ChatRequest request;
  if (!p.system.empty()) request.messages.push_back({"system", std::move(p.system), {}, {}});
  for (auto& m : p.messages) request.messages.push_back({std::move(m.role), std::move(m.content), {}, {}});
  request.max_tokens = p.max_tokens;
  ProgressSink sink(ctx.progress);
  auto result = (*provider)->chat(request, sink, ctx.cancel);
  if (!result) return std::move(result).error();
  return json{{"text", std::move(result->text)},
              {"model", std::move(result->model)},
              {"usage", providers::usage_json(providers::with_cost((*provider)->config(), result->usage))},
              {"stop", providers::to_string(result->stop)},
              {"provider", (*provider)->config().name}};
}

}  // namespace

void register_providers_ops(Registry& r) {
  r.add<bind::NoParams>("providers/list", list);
  r.add<providers::ChatParams>("providers/chat", chat);
}

}  // namespace icotes
