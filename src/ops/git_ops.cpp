// git/* operations, one per row of ICOTES_GIT_OPERATIONS
// (include/git/icotes/git_params.hpp): typed params (git_json.hpp) handed to
// the git service through the workspace's door, which loads the icotes-git
// module on first use (include/git/icotes/git_module.hpp); MCP clients read
// each result in the form git prints it (icotes/git_text.hpp).
#include "git_json.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/git_module.hpp"
#include "icotes/git_text.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

// The handler of the operation whose module entry is `E`: one call.
template <class P, git::ModuleEntry<P> E>
Result<json> run(Context& ctx, P&& params) {
  // The client's read and write restrictions and its cap on a result's
  // text go with the call: the module judges the paths it really reads
  // and writes (README "Safety") and sizes its pages.
  const git::Policy policy{ctx.read_denied, ctx.may_write, ctx.max_result_bytes};
  return ctx.workspace.git().run(E, params, git::Call{ctx.cancel, ctx.progress, policy});
}

}  // namespace

void register_git_ops(Registry& r) {
#define ICOTES_GIT_REGISTER(verb, Params, Target) \
  r.add<git::Params>("git/" #verb, run<git::Params, &git::ModuleApi::verb>, git_text::verb);
  ICOTES_GIT_OPERATIONS(ICOTES_GIT_REGISTER)
#undef ICOTES_GIT_REGISTER
}

}  // namespace icotes
