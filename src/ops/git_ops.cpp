// git/* operations: each is handed to the git service through the
// workspace's door, which loads the icotes-git module on first use
// (include/icotes/git_module.hpp).
#include "icotes/git_module.hpp"
#include "icotes/operation.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

Handler git_operation(std::string verb) {
  return [verb = std::move(verb)](Context& ctx, const json& p) -> Result<json> {
    return ctx.workspace.git().run(verb, p, ctx.cancel, ctx.progress);
  };
}

}  // namespace

void register_git_ops(Registry& r) {
  for (const char* verb : {"status", "diff", "log", "show", "blame", "branch", "stage", "unstage", "commit", "stash"})
    r.add(std::string("git/") + verb, git_operation(verb));
}

}  // namespace icotes
