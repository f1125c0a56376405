// Moving the work tree to another commit, and git/checkout: `git checkout
// <branch>` (as git switch) and `git checkout <commit>` (a detached HEAD),
// refusing to overwrite local changes as git does (git-checkout(1)).
#include "checkout.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "commit_format.hpp"
#include "repo_util.hpp"
#include "worktree_guard.hpp"

namespace icotes::git {
namespace {

// The paths whose entries differ between `from` (null: the empty tree) and
// `to`, old and new names.
Status diff_paths(git_repository* repo, git_tree* from, git_tree* to, std::vector<std::string>& out) {
  if (from && git_oid_equal(git_tree_id(from), git_tree_id(to))) return ok_status();
  git_diff* raw_diff = nullptr;
  if (int rc = git_diff_tree_to_tree(&raw_diff, repo, from, to, nullptr); rc != 0)
    return libgit2_error(rc, "compare HEAD with the target");
  DiffPtr diff(raw_diff);
  for (std::size_t i = 0, n = git_diff_num_deltas(diff.get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    out.emplace_back(d->old_file.path);
    if (std::strcmp(d->old_file.path, d->new_file.path) != 0) out.emplace_back(d->new_file.path);
  }
  return ok_status();
}

bool head_tree_equals(git_repository* repo, git_commit* target) {
  auto head = head_tree(repo);
  return head && *head && git_oid_equal(git_tree_id(head->get()), git_commit_tree_id(target));
}

}  // namespace

Result<std::vector<std::string>> move_paths(const Repo& r, git_tree* head, git_tree* target, bool force) {
  std::vector<std::string> out;
  if (auto st = diff_paths(r.repo, head, target, out); !st) return st.error();
  if (!force) return out;
  auto index = fresh_index(r.repo);
  if (!index) return std::move(index).error();
  git_diff* raw = nullptr;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE;
  if (int rc = git_diff_tree_to_index(&raw, r.repo, head, index->get(), &opts); rc != 0)
    return libgit2_error(rc, "compare HEAD with the index");
  DiffPtr staged(raw);
  const auto candidates = changed_candidates(r, index->get(), "");
  DiffPtr local;
  if (!candidates || !candidates->empty()) {
    StrArray spec(candidates ? *candidates : std::vector<std::string>());
    opts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
    opts.pathspec = *spec.get();
    if (int rc = git_diff_index_to_workdir(&raw, r.repo, index->get(), &opts); rc != 0)
      return libgit2_error(rc, "compare the index with the work tree");
    local.reset(raw);
  }
  for (git_diff* d : {staged.get(), local.get()}) {
    for (std::size_t i = 0, n = d ? git_diff_num_deltas(d) : 0; i < n; ++i) {
      const git_diff_delta* delta = git_diff_get_delta(d, i);
      out.emplace_back(delta->old_file.path);
      if (std::strcmp(delta->old_file.path, delta->new_file.path) != 0) out.emplace_back(delta->new_file.path);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status move_worktree(const Repo& r, std::string_view op, git_commit* target, bool force, std::string_view what) {
  git_tree* raw_tree = nullptr;
  if (int rc = git_commit_tree(&raw_tree, target); rc != 0)
    return libgit2_error(rc, std::string(op) + ": read the target tree");
  TreePtr tree(raw_tree);
  auto head = head_tree(r.repo);
  if (!head) return std::move(head).error();
  // Whatever the move would write or remove is judged first; a refusal
  // changes nothing.
  auto changing = move_paths(r, head->get(), tree.get(), force);
  if (!changing) return std::move(changing).error();
  const std::vector<Change> changes = changes_toward(tree.get(), *changing);
  if (auto st = judge_changes(r, op, changes); !st) return st;
  git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
  opts.checkout_strategy = force ? GIT_CHECKOUT_FORCE : GIT_CHECKOUT_SAFE;
  // A safe checkout only needs to look at the paths the move changes
  // (git's unpack-trees does the same); libgit2 would otherwise compare the
  // whole work tree (0.5 s on the Linux tree, against git's 0.2 s). force
  // resets everything, so it looks at everything; so does a move from an
  // unborn branch (everything is new).
  StrArray only(*changing);
  if (!force && *head && !changing->empty()) {
    opts.paths = *only.get();
    opts.checkout_strategy |= GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
  }
  // Same tree as HEAD (a new branch, say): nothing in the work tree changes.
  if (!force && changing->empty() && head_tree_equals(r.repo, target)) return ok_status();
  GuardedCheckout checkout(r, op, changes);
  auto rc = checkout.run(reinterpret_cast<git_object*>(target), nullptr, opts);
  if (!rc) return std::move(rc).error();
  if (*rc == 0) return ok_status();
  const auto& conflicts = checkout.conflicts();
  if (*rc == GIT_ECONFLICT || !conflicts.empty()) {
    std::string list;
    for (std::size_t i = 0; i < conflicts.size() && i < 20; ++i) list += (i ? ", " : "") + conflicts[i];
    if (conflicts.size() > 20) list += ", ... (" + std::to_string(conflicts.size()) + " in all)";
    return make_error(error_code::kConflict,
                      std::string(op) + ": " + std::string(what) +
                          " would overwrite local changes (or untracked files) in: " + list +
                          ". Nothing was changed. Commit or stash them (git_stash), or pass force to discard them.",
                      json{{"paths", conflicts}});
  }
  return write_error(*rc, std::string(op) + ": " + std::string(what));
}

namespace {

// HEAD as git describes it in messages: the branch, or the commit.
struct HeadState {
  std::optional<std::string> branch;  // null: detached (or no HEAD)
  std::optional<git_oid> oid;         // null: unborn
};
HeadState head_state(git_repository* repo) {
  HeadState out;
  git_reference* raw = nullptr;
  if (git_reference_lookup(&raw, repo, "HEAD") == 0) {
    ReferencePtr head(raw);
    if (const char* target = git_reference_symbolic_target(head.get())) out.branch = std::string(short_ref(target));
  }
  git_oid oid;
  if (git_reference_name_to_id(&oid, repo, "HEAD") == 0) out.oid = oid;
  git_error_clear();
  return out;
}

bool is_local_branch(git_repository* repo, const std::string& name) {
  int valid = 0;
  if (git_branch_name_is_valid(&valid, name.c_str()) != 0 || !valid) {
    git_error_clear();
    return false;
  }
  git_reference* raw = nullptr;
  const bool found = git_branch_lookup(&raw, repo, name.c_str(), GIT_BRANCH_LOCAL) == 0;
  git_reference_free(raw);
  git_error_clear();
  return found;
}

json head_json(const HeadState& h) {
  if (h.branch) return *h.branch;
  return h.oid ? json(oid_hex(*h.oid)) : json(nullptr);
}

Result<json> checkout_branch(Repo& r, const std::string& name, bool force) {
  auto switched = switch_branch(r, "git_checkout", name, force);
  if (!switched) return switched;
  json out = {{"head", name}, {"detached", false}, {"oid", (*switched)["oid"]}, {"previous", (*switched)["previous"]}};
  for (const char* key : {"created", "upstream", "note"})
    if (switched->contains(key)) out[key] = (*switched)[key];
  return out;
}

}  // namespace

Result<json> checkout(Repo& r, const CheckoutParams& p) {
  const std::string& rev = p.rev;
  if (auto st = check_revision(rev); !st) return st.error();
  const bool force = p.force;
  // A local branch wins over a tag or commit of the same name, as in git.
  if (rev != "HEAD" && is_local_branch(r.repo, rev)) return checkout_branch(r, rev, force);

  git_annotated_commit* raw_ac = nullptr;
  if (int rc = git_annotated_commit_from_revspec(&raw_ac, r.repo, rev.c_str()); rc != 0) {
    git_error_clear();
    // git checkout's --guess: origin/<rev> when <rev> names nothing else.
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC) return checkout_branch(r, rev, force);
    if (rc == GIT_EAMBIGUOUS)
      return make_error(error_code::kInvalidParams, "git_checkout: ambiguous revision '" + rev + "'");
    return make_error(error_code::kInvalidParams,
                      "git_checkout: '" + rev + "' is not a branch, tag or commit (or names a tree or blob)");
  }
  std::unique_ptr<git_annotated_commit, Freer<git_annotated_commit_free>> ac(raw_ac);
  if (const int state = git_repository_state(r.repo); state != GIT_REPOSITORY_STATE_NONE)
    return make_error(error_code::kConflict, "git_checkout: cannot check out while " + std::string(state_name(state)) +
                                                 " is in progress; finish it (commit) or abort it first");
  git_commit* raw = nullptr;
  if (int rc = git_commit_lookup(&raw, r.repo, git_annotated_commit_id(ac.get())); rc != 0)
    return libgit2_error(rc, "git_checkout: read " + rev);
  CommitPtr commit(raw);
  const HeadState before = head_state(r.repo);
  json out = {{"detached", true},
              {"head", nullptr},
              {"oid", oid_hex(*git_commit_id(commit.get()))},
              {"subject", subject_of(git_commit_message(commit.get()))},
              {"previous", head_json(before)}};
  if (rev == "HEAD") {
    // git checkout HEAD stays where it is (with force: discards changes).
    out["detached"] = !before.branch;
    if (before.branch) out["head"] = *before.branch;
    if (force) {
      if (auto st = move_worktree(r, "git_checkout", commit.get(), true, "checking out HEAD"); !st) return st.error();
      out["note"] = "Local changes to tracked files were discarded.";
    } else {
      out["note"] = "HEAD stays where it is; nothing changed.";
    }
    return out;
  }
  if (auto st = r.check_cancel("git_checkout"); !st) return st.error();
  if (auto st = move_worktree(r, "git_checkout", commit.get(), force, "checking out '" + rev + "'"); !st)
    return st.error();
  // The reflog says "checkout: moving from <previous> to <rev>", as git's.
  if (int rc = git_repository_set_head_detached_from_annotated(r.repo, ac.get()); rc != 0)
    return write_error(rc, "git_checkout: detach HEAD at '" + rev + "'");
  out["note"] = "HEAD is detached: commits made now belong to no branch (git_branch create keeps them).";
  return out;
}

}  // namespace icotes::git
