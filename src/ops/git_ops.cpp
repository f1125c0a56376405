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
    // The client's read and write restrictions go with the call: the module
    // judges the paths it really reads and writes (README "Safety").
    return ctx.workspace.git().run(verb, p, ctx.cancel, ctx.progress, git::Policy{ctx.read_denied, ctx.may_write});
  };
}

}  // namespace

void register_git_ops(Registry& r) {
  for (const char* verb : {"status", "diff", "log", "show", "blame", "branch", "stage", "unstage", "commit", "stash"})
    r.add(std::string("git/") + verb, git_operation(verb));
}

}  // namespace icotes
