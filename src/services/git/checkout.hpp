// Moving the work tree and index to another commit, as git switch and git
// checkout <commit> do (git-checkout(1)), for git_branch switch,
// git_checkout and git_reset --hard; and git_checkout itself.
#pragma once

#include <git2.h>

#include <string>
#include <string_view>
#include <vector>

#include "icotes/git.hpp"

namespace icotes::git {

/// What moving from `head` (HEAD's tree, null on an unborn branch) to
/// `target` writes or removes: the paths whose entries differ between the
/// trees, and with `force` also every path where the index or the work
/// tree differs from HEAD (force resets or removes those). Sorted.
Result<std::vector<std::string>> move_paths(const Repo& r, git_tree* head, git_tree* target, bool force);

/// Checks out `target`'s tree over HEAD's, index included, judged first
/// (worktree_guard.hpp): only the paths that differ are written, and a
/// local change (or untracked file) in their way refuses the whole move,
/// kConflict "<op>: <what> would overwrite local changes ... in: <paths>"
/// with data {paths}, nothing changed; `force` discards such changes (git
/// switch --discard-changes, checkout -f, reset --hard). HEAD is not moved.
Status move_worktree(const Repo& r, std::string_view op, git_commit* target, bool force, std::string_view what);

/// git switch <name> (branch.cpp): checks out the local branch `name`, or
/// creates it from the one remote-tracking branch <remote>/<name>, and
/// points HEAD at it. Errors: kNotFound when neither exists; kConflict
/// during a merge, rebase and the like, or as move_worktree().
Result<json> switch_branch(Repo& r, std::string_view op, const std::string& name, bool force);

}  // namespace icotes::git
