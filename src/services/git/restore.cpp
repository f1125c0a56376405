// git/restore: `git restore [--staged] [--worktree] [--source=<rev>] --
// <paths>` (git-restore(1)): the work tree's files (by default) are put
// back as the index has them, or as <rev> has them; with staged the index
// entries are put back as HEAD (or <rev>) has them. Restoring from a tree
// removes the tracked files it does not have (git's default no-overlay
// mode); untracked files are never touched. Every path the restore writes
// or removes is judged first (worktree_guard.hpp).
#include <git2.h>

#include <algorithm>
#include <memory>
#include <set>

#include "commit_format.hpp"
#include "repo_util.hpp"
#include "worktree_guard.hpp"

namespace icotes::git {
namespace {

bool under(const std::string& path, const std::vector<std::string>& specs) {
  for (const auto& s : specs) {
    if (s.empty() || path == s ||
        (path.size() > s.size() && path.compare(0, s.size(), s) == 0 && path[s.size()] == '/'))
      return true;
  }
  return false;
}

// git restore refuses unmerged paths in the work tree ("path 'x' is
// unmerged"): which side to take is the user's call.
Status check_unmerged(git_index* index, const std::vector<std::string>& specs) {
  git_index_conflict_iterator* raw = nullptr;
  if (int rc = git_index_conflict_iterator_new(&raw, index); rc != 0) return libgit2_error(rc, "read the index");
  std::unique_ptr<git_index_conflict_iterator, Freer<git_index_conflict_iterator_free>> it(raw);
  const git_index_entry *ancestor = nullptr, *ours = nullptr, *theirs = nullptr;
  while (git_index_conflict_next(&ancestor, &ours, &theirs, it.get()) == 0) {
    const git_index_entry* e = ours ? ours : theirs ? theirs : ancestor;
    if (e && under(e->path, specs))
      return make_error(error_code::kConflict, std::string("git_restore: '") + e->path +
                                                   "' is unmerged (a conflict): resolve it and git_stage it, or "
                                                   "restore it with staged: true to take HEAD's version");
  }
  git_error_clear();
  return ok_status();
}

// The paths whose work-tree files differ from what a restore from `tree`
// (null: from `index`) writes, under `specs`: the index against the work
// tree, and from a tree also the tree against the index (files it lacks
// are removed, files it has differently are written).
Result<std::vector<std::string>> differing(const Repo& r, git_index* index, git_tree* tree,
                                           const std::vector<std::string>& specs) {
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  std::vector<std::string> spec = specs;
  if (std::find(spec.begin(), spec.end(), "") != spec.end()) spec.clear();
  StrArray pathspec(spec);
  opts.pathspec = *pathspec.get();
  std::set<std::string> out;
  git_diff* raw = nullptr;
  if (int rc = git_diff_index_to_workdir(&raw, r.repo, index, &opts); rc != 0)
    return libgit2_error(rc, "git_restore: compare the index with the work tree");
  DiffPtr local(raw);
  DiffPtr staged;
  if (tree) {
    if (int rc = git_diff_tree_to_index(&raw, r.repo, tree, index, &opts); rc != 0)
      return libgit2_error(rc, "git_restore: compare the source with the index");
    staged.reset(raw);
  }
  for (git_diff* d : {local.get(), staged.get()}) {
    for (std::size_t i = 0, n = d ? git_diff_num_deltas(d) : 0; i < n; ++i) {
      const git_diff_delta* delta = git_diff_get_delta(d, i);
      if (delta->status == GIT_DELTA_UNTRACKED || delta->status == GIT_DELTA_IGNORED) continue;
      out.insert(delta->old_file.path);
      out.insert(delta->new_file.path);
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

}  // namespace

// `git restore` [--staged] [--worktree] [--source] <paths>: which side is
// restored from where, each case with git's checks and messages (compared
// by git.differential); kept in git's order rather than restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> restore(Repo& r, const RestoreParams& p) {
  auto paths = r.paths(p.paths);
  if (!paths) return std::move(paths).error();
  const bool staged = p.staged;
  const bool worktree = p.worktree.value_or(!staged);
  if (!staged && !worktree)
    return make_error(error_code::kInvalidParams,
                      "git_restore: staged and worktree are both false: nothing to restore");
  auto guard = IndexGuard::open(r.repo);
  if (!guard) return std::move(guard).error();
  git_index* index = guard->get();

  // The source: rev; else HEAD for the index (and for both); else the index.
  TreePtr source;
  std::string source_name = "the index";
  if (p.rev) {
    const std::string& rev = *p.rev;
    auto commit = detail::lookup_commit(r, rev);
    if (!commit) return std::move(commit).error();
    git_tree* raw = nullptr;
    if (int rc = git_commit_tree(&raw, commit->get()); rc != 0) return libgit2_error(rc, "git_restore: read " + rev);
    source.reset(raw);
    source_name = "'" + rev + "'";
  } else if (staged) {
    auto head = head_tree(r.repo);
    if (!head) return std::move(head).error();
    source = std::move(*head);
    source_name = "HEAD";
  }
  const bool from_tree = p.rev.has_value() || staged;
  if (auto st = check_known_paths("git_restore", index, from_tree ? source.get() : nullptr, source_name, *paths); !st)
    return st.error();

  std::set<std::string> affected;
  if (worktree) {
    if (auto st = check_unmerged(index, *paths); !st) return st.error();
    auto changing = differing(r, index, from_tree ? source.get() : nullptr, *paths);
    if (!changing) return std::move(changing).error();
    const std::vector<Change> changes =
        from_tree ? changes_toward(source.get(), *changing) : changes_toward(index, *changing);
    if (auto st = judge_changes(r, "git_restore", changes); !st) return st.error();
    if (auto st = r.check_cancel("git_restore"); !st) return st.error();
    if (!changing->empty()) {
      git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
      opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
      // The work tree alone changes; the index part, when asked, follows.
      if (from_tree) {
        opts.checkout_strategy |= GIT_CHECKOUT_DONT_UPDATE_INDEX;
        opts.baseline_index = index;
      }
      StrArray only(*changing);
      opts.paths = *only.get();
      GuardedCheckout checkout(r, "git_restore", changes);
      auto rc = checkout.run(from_tree ? reinterpret_cast<git_object*>(source.get()) : nullptr, index, opts);
      if (!rc) return std::move(rc).error();
      if (*rc != 0) return write_error(*rc, "git_restore: write the files");
      // A file the source lacks is removed (no-overlay): libgit2 leaves
      // one the index still tracks.
      if (from_tree) {
        for (const Change& c : changes) {
          if (c.mode == 0 && on_disk(r, c.path)) {
            if (auto st = remove_beneath(r, "git_restore", c.path); !st) return st.error();
          }
        }
      }
    }
    affected.insert(changing->begin(), changing->end());
  }
  if (staged) {
    auto reset = reset_index_paths(r, "git_restore", index, source.get(), *paths);
    if (!reset) return std::move(reset).error();
    if (!reset->empty()) {
      if (auto st = guard->write("git_restore"); !st) return st.error();
    }
    affected.insert(reset->begin(), reset->end());
  }
  return affected_paths(std::vector<std::string>(affected.begin(), affected.end()),
                        "Nothing to restore: these paths already match " + source_name + ".");
}

}  // namespace icotes::git
