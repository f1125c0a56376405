// git/* operations: each is handed to the git service through the
// workspace's door, which loads the icotes-git module on first use
// (include/git/icotes/git_module.hpp); MCP clients read each result in the
// form git prints it (icotes/git_text.hpp).
#include "icotes/builtin_ops.hpp"
#include "icotes/git_module.hpp"
#include "icotes/git_text.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

Handler git_operation(std::string verb) {
  return [verb = std::move(verb)](Context& ctx, const json& p) -> Result<json> {
    // The client's read and write restrictions and its cap on a result's
    // text go with the call: the module judges the paths it really reads
    // and writes (README "Safety") and sizes its pages.
    return ctx.workspace.git().run(verb, p, ctx.cancel, ctx.progress,
                                   git::Policy{ctx.read_denied, ctx.may_write, ctx.max_result_bytes});
  };
}

}  // namespace

void register_git_ops(Registry& r) {
  using Render = std::string (*)(const json&);
  static constexpr std::pair<const char*, Render> kOps[] = {
      {"status", git_text::status},     {"diff", git_text::diff},       {"log", git_text::log},
      {"show", git_text::show},         {"blame", git_text::blame},     {"branch", git_text::branch},
      {"stage", git_text::stage},       {"unstage", git_text::unstage}, {"commit", git_text::commit},
      {"stash", git_text::stash},       {"restore", git_text::restore}, {"reset", git_text::reset},
      {"checkout", git_text::checkout}, {"init", git_text::init},       {"tag", git_text::tag},
  };
  for (const auto& [verb, render] : kOps) r.add(std::string("git/") + verb, git_operation(verb), render);
}

}  // namespace icotes
