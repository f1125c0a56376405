// What a git write may change in the work tree, judged before anything is
// written (README "Safety"). A repository's content is not the user's word:
// a sandboxed `git` can build any tree, branch or stash, so a checkout,
// stash or reset is judged by the paths it changes, with the same rules as
// a file write:
//  - protected_path_reason() (path_policy.hpp): .icotes/ and git's config,
//    hooks and attributes, at any depth, never change;
//  - the client's WriteCheck (Repo::policy.may_write): deny rules;
//  - where each path lands: a write to `d/f` where `d` is a symlink lands
//    where the symlink leads (libgit2 follows symlinks in the directories
//    leading to a file it writes), so that place is judged, and a symlink
//    out of the workspace refuses the write.
// A refusal refuses the whole operation before any file is written.
#pragma once

#include <git2.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "icotes/git.hpp"

namespace icotes::git {

/// A work-tree path a write changes, and what it becomes.
struct Change {
  std::string path;        // relative to the work tree, '/'-separated, as in a tree
  std::uint32_t mode = 0;  // the new entry's git file mode (GIT_FILEMODE_*); 0: the path is removed
};

/// The changes of checking out `paths` from `target`: each path with the
/// target's mode there, 0 where the target has no entry (the file goes).
std::vector<Change> changes_toward(git_tree* target, const std::vector<std::string>& paths);
std::vector<Change> changes_toward(git_index* target, const std::vector<std::string>& paths);

/// The changes of one write by path: path -> the new entry's mode.
using ChangeMap = std::unordered_map<std::string, std::uint32_t>;
ChangeMap change_map(const std::vector<Change>& changes);

/// Where work-tree paths lead now, their leading directories resolved one
/// by one beneath the root as the kernel resolves them when libgit2 writes
/// (symlinks followed), except those the same write changes itself
/// (`changes`): one it removes is gone before anything is created beneath
/// it (git and libgit2 remove an entry before they make a directory
/// there); one it makes a file, symlink or submodule cannot have anything
/// written beneath it by the same write (Where::becomes). Results for
/// directories are cached: resolving every path of a large tree costs one
/// fstatat per directory.
class Landing {
 public:
  struct Where {
    std::string path;      // the workspace-relative path a write to the name reaches now
    std::string via_link;  // the first leading directory that is a symlink, "" when none
    std::string escape;    // non-empty: why a write there leaves the workspace (the link, where it leads)
    std::string becomes;   // the first leading directory the same write makes a file or symlink, or ""
  };
  explicit Landing(const Repo& r, const ChangeMap* changes = nullptr) : r_(r), changes_(changes) {}
  Where of(const std::string& rel);

 private:
  struct Dir {
    std::string path;  // where the directory lands
    bool exists = true;
    std::string via_link;
    std::string escape;
    std::string becomes;
  };
  const Dir& dir(const std::string& rel);

  const Repo& r_;
  const ChangeMap* changes_;
  std::unordered_map<std::string, Dir> dirs_;
};

/// Judges `changes` (see the top of this file) before anything is written:
/// each path as named and where it lands; and, where a file or symlink is
/// to replace a real directory (a forced checkout removes the directory
/// with all it holds), everything beneath it. Errors: kPermissionDenied
/// "<op>: refused: <path> ... Nothing was changed." naming the path, where
/// it lands and why, with data {path, landsOn}.
Status judge_changes(const Repo& r, std::string_view op, const std::vector<Change>& changes);

/// judge_changes() for one change, resolving through `landing` (whose
/// ChangeMap should hold all the write's changes).
Status judge_change(const Repo& r, std::string_view op, Landing& landing, const Change& change);

/// A libgit2 checkout (git_checkout_tree / git_checkout_index) of changes
/// judge_changes() approved, hardened against what the judgement cannot
/// see:
///  - files are created with O_NOFOLLOW: libgit2 1.5.1 opens the path as it
///    is, and under GIT_CHECKOUT_FORCE a symlink where a file goes would be
///    followed out of the workspace; with FORCE such symlinks are removed
///    first (run()), as git's checkout unlinks an old entry before it
///    writes the new one;
///  - its notify callback judges every path libgit2 plans to write or (with
///    FORCE) reset that was not among the changes, and aborts the checkout
///    when one is refused. libgit2 notifies while it plans
///    (checkout_get_actions), before it removes or writes any file, so an
///    abort leaves the work tree as it was;
///  - conflicts libgit2 finds are collected (conflicts()).
class GuardedCheckout {
 public:
  GuardedCheckout(const Repo& r, std::string_view op, const std::vector<Change>& changes);
  GuardedCheckout(const GuardedCheckout&) = delete;
  GuardedCheckout& operator=(const GuardedCheckout&) = delete;

  /// Runs git_checkout_tree(tree) (or, with tree null, git_checkout_index(
  /// index)) with `opts` hardened as above (their notify callback is
  /// replaced). Returns libgit2's return code (0, GIT_ECONFLICT, ...);
  /// errors: the callback's refusal (kPermissionDenied, nothing written).
  Result<int> run(git_object* tree, git_index* index, git_checkout_options opts);
  /// Paths libgit2 reported as conflicts (a local change in the way).
  const std::vector<std::string>& conflicts() const { return conflicts_; }

 private:
  static int notify(git_checkout_notify_t why, const char* path, const git_diff_file* baseline,
                    const git_diff_file* target, const git_diff_file* workdir, void* payload);

  const Repo& r_;
  std::string op_;
  const std::vector<Change>& changes_;
  ChangeMap judged_;
  bool force_ = false;
  std::vector<std::string> conflicts_;
  std::optional<Error> refusal_;
};

/// Whether the client may read the content of `rel` (Repo::policy
/// .read_denied, null: always): judged as named and, when the content is
/// read from the work tree (`worktree`), where the name leads now.
/// Errors: kPermissionDenied "<op>: <path> is covered by a Read deny rule".
Status check_readable(const Repo& r, std::string_view op, const std::string& rel, bool worktree);

/// Removes the file `rel` through a descriptor of its directory opened
/// beneath the root, after judging where it lands; then its parent
/// directories while they are empty. For files git stash removes itself
/// (untracked files it saved). Errors: kPermissionDenied as
/// judge_changes(); a file already gone is not an error.
Status remove_beneath(const Repo& r, std::string_view op, const std::string& rel);

}  // namespace icotes::git
