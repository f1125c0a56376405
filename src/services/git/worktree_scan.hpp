// Which files a diff needs to look at.
//
// Which tracked files may differ from the index: the stat check git runs
// before comparing contents (read-cache.c ie_match_stat, with the lstat
// calls spread over threads as core.preloadIndex does). libgit2's
// index -> working tree diff reads every directory and stats every file
// on one thread; handing it only these candidates makes `git diff` on a
// clean tree of 78,000 files cost what git's costs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "commit_format.hpp"

namespace icotes::git::detail {

/// Index paths (stage 0 and conflicted) matching `specs` (git pathspecs:
/// prefixes or globs, empty = all) whose working-tree file's stat data
/// (type, exec bit, size, mtime, ctime, inode, owner) differs from the
/// index's, that are racily clean (modified in the second the index was
/// written), missing, intent-to-add or submodules; never skip-worktree or
/// assume-unchanged ones (stat_changed_paths). Every file whose content
/// differs from the index is among them.
Result<std::vector<std::string>> stat_dirty_paths(const Repo& r, const std::vector<std::string>& specs);

/// The scan behind stat_dirty_paths and changed_candidates (repo_util.hpp):
/// the paths of `index`'s entries for which `wanted` holds whose file may
/// differ from the index, in index order, each once. Skip-worktree
/// (sparse checkout) and assume-unchanged entries are left out, as git
/// leaves them. When the index file cannot be stat'ed, every entry counts
/// as racily clean (a candidate). lstat runs on up to 8 threads.
std::vector<std::string> stat_changed_paths(const Repo& r, git_index* index,
                                            const std::function<bool(const char* path)>& wanted);

/// The file paths whose entries (id or mode) differ between trees `a` and
/// `b` (either may be null: the empty tree), matching `specs`; subtrees with
/// equal ids are skipped, as git's diff-tree does. libgit2's tree-to-tree
/// diff walks every entry of both trees (26 ms for a one-file change in the
/// kernel tree); given these paths exactly, it costs 0.1 ms.
Result<std::vector<std::string>> changed_paths(git_repository* repo, git_tree* a, git_tree* b,
                                               const std::vector<std::string>& specs);

}  // namespace icotes::git::detail
