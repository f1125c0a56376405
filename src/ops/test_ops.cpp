// Operations that exist only for the test tiers (ICOTES_TEST_OPERATIONS=1):
// a deterministic slow operation to exercise progress and cancellation, and
// one that returns the result it is given (how dialects render results).
#include <chrono>
#include <thread>

#include "icotes/builtin_ops.hpp"

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
}

}  // namespace icotes
