// Operations that exist only for the test tiers (ICOTES_TEST_OPERATIONS=1):
// a deterministic slow operation to exercise progress and cancellation, one
// that returns the result it is given (how dialects render results), and
// one model call through the `client` provider (MCP sampling, lent by the
// asking client or the workspace's most recent host).
#include <chrono>
#include <thread>

#include "icotes/builtin_ops.hpp"
#include "provider_host.hpp"

namespace icotes {

void register_test_ops(Registry& r) {
  r.add("test/sleep", [](Context& ctx, const json& p) -> Result<json> {
    const auto ms = p.at("ms").get<std::int64_t>();
    const auto start = std::chrono::steady_clock::now();
    std::int64_t slept = 0;
    while (slept < ms) {
      if (ctx.cancel.cancelled()) return make_error(error_code::kRequestCancelled, "test_sleep: cancelled");
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(10, ms - slept)));
      slept = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      if (ctx.cancel.cancelled()) return make_error(error_code::kRequestCancelled, "test_sleep: cancelled");
      ctx.progress.report("sleeping", static_cast<double>(std::min(slept, ms)), static_cast<double>(ms));
    }
    return json{{"sleptMs", slept}};
  });
  r.add("test/result", [](Context&, const json& p) -> Result<json> { return p.at("result"); });
  r.add("test/sample", [](Context& ctx, const json& p) -> Result<json> {
    auto provider = providers::select_provider(providers::ProvidersConfig{}, "client", "", provider_host(ctx));
    if (!provider) return std::move(provider).error();
    providers::ChatRequest request;
    if (p.contains("system")) request.messages.push_back({"system", p["system"].get<std::string>(), {}, ""});
    request.messages.push_back({"user", p.at("prompt").get<std::string>(), {}, ""});
    if (p.value("tools", false)) {
      request.tools.push_back({"read_file", "Reads a file of the workspace.",
                               json{{"type", "object"},
                                    {"properties", {{"path", {{"type", "string"}}}}},
                                    {"required", json::array({"path"})}}});
    }
    providers::NullSink sink;
    auto out = (*provider)->chat(request, sink, ctx.cancel);
    if (!out) return std::move(out).error();
    json calls = json::array();
    for (const auto& c : out->tool_calls) calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
    return json{{"text", out->text},
                {"model", out->model},
                {"stop", std::string(providers::to_string(out->stop))},
                {"toolCalls", std::move(calls)}};
  });
}

}  // namespace icotes
