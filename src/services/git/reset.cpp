// git/reset: `git reset [--soft | --mixed | --hard] <rev>` (git-reset(1)):
// the current branch (or a detached HEAD) moves to <rev>; mixed also resets
// the index, hard also the work tree. As libgit2's git_reset (reset.c), with
// the work tree written through the guarded checkout (worktree_guard.hpp),
// ORIG_HEAD kept as git keeps it, and git's reflog message.
#include <git2.h>

#include <set>

#include "checkout.hpp"
#include "commit_format.hpp"
#include "repo_util.hpp"

namespace icotes::git {
namespace {

// The paths whose work-tree files differ from the (new) index: what git
// reset --mixed lists as "Unstaged changes after reset".
Result<std::vector<std::string>> unstaged_paths(const Repo& r, git_index* index) {
  const auto candidates = changed_candidates(r, index, "");
  if (candidates && candidates->empty()) return std::vector<std::string>();
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE;
  StrArray spec(candidates ? *candidates : std::vector<std::string>());
  if (candidates) {
    opts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
    opts.pathspec = *spec.get();
  }
  git_diff* raw = nullptr;
  if (int rc = git_diff_index_to_workdir(&raw, r.repo, index, &opts); rc != 0)
    return libgit2_error(rc, "git_reset: compare the index with the work tree");
  DiffPtr diff(raw);
  std::set<std::string> out;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff.get()); i < n; ++i)
    out.insert(git_diff_get_delta(diff.get(), i)->new_file.path);
  return std::vector<std::string>(out.begin(), out.end());
}

}  // namespace

// `git reset` [--soft|--mixed|--hard] <rev>: each mode's
// checks and steps in git's order and with git's messages (compared by
// git.differential); kept in that order rather than restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> reset(Repo& r, const ResetParams& p) {
  const std::string& rev = p.rev;
  const std::string& mode = p.mode;
  if (auto st = check_revision(rev); !st) return st.error();
  if (rev == "HEAD" && git_repository_head_unborn(r.repo) == 1)
    return make_error(error_code::kNotFound, "git_reset: HEAD has no commit yet; there is nothing to reset to");
  auto target = detail::lookup_commit(r, rev);
  if (!target) return std::move(target).error();
  git_commit* commit = target->get();
  const git_oid new_id = *git_commit_id(commit);

  auto guard = IndexGuard::open(r.repo);
  if (!guard) return std::move(guard).error();
  git_index* index = guard->get();
  const int state = git_repository_state(r.repo);
  if (mode == "soft" && (state == GIT_REPOSITORY_STATE_MERGE || git_index_has_conflicts(index)))
    return make_error(error_code::kConflict,
                      "git_reset: cannot do a soft reset in the middle of a merge; use mode mixed or hard");

  // The ref HEAD names (HEAD itself when detached), and where it was.
  std::string ref_name = "HEAD";
  git_reference* head_raw = nullptr;
  if (int rc = git_reference_lookup(&head_raw, r.repo, "HEAD"); rc != 0)
    return libgit2_error(rc, "git_reset: read HEAD");
  ReferencePtr head(head_raw);
  json branch = nullptr;
  if (const char* t = git_reference_symbolic_target(head.get())) {
    ref_name = t;
    branch = std::string(short_ref(t));
  }
  std::optional<git_oid> old_id;
  git_oid id;
  if (git_reference_name_to_id(&id, r.repo, "HEAD") == 0) old_id = id;
  git_error_clear();
  if (auto st = r.check_cancel("git_reset"); !st) return st.error();

  if (mode == "hard") {
    // Everything that differs from the target, local changes included, is
    // judged, then written.
    if (auto st = move_worktree(r, "git_reset", commit, true, "resetting to '" + rev + "'"); !st) return st.error();
  }
  // git reset keeps the old HEAD in ORIG_HEAD.
  if (old_id) {
    git_reference* orig = nullptr;
    if (int rc = git_reference_create(&orig, r.repo, "ORIG_HEAD", &*old_id, 1, nullptr); rc != 0)
      return write_error(rc, "git_reset: write ORIG_HEAD");
    git_reference_free(orig);
  }
  // The reflog names the revision as given, as git's does.
  if (auto who = identity(r.repo, Role::kCommitter)) git_repository_set_ident(r.repo, (*who)->name, (*who)->email);
  git_reference* moved = nullptr;
  const std::string message = "reset: moving to " + rev;
  int rc = git_reference_create(&moved, r.repo, ref_name.c_str(), &new_id, 1, message.c_str());
  git_repository_set_ident(r.repo, nullptr, nullptr);
  git_reference_free(moved);
  if (rc != 0) return write_error(rc, "git_reset: move " + ref_name);

  json out = {{"mode", mode},
              {"oid", oid_hex(new_id)},
              {"subject", subject_of(git_commit_message(commit))},
              {"previous", old_id ? json(oid_hex(*old_id)) : json(nullptr)},
              {"branch", branch}};
  if (mode != "soft") {
    git_tree* raw = nullptr;
    if (int trc = git_commit_tree(&raw, commit); trc != 0) return libgit2_error(trc, "git_reset: read the tree");
    TreePtr tree(raw);
    if (int irc = git_index_read_tree(index, tree.get()); irc != 0)
      return libgit2_error(irc, "git_reset: reset the index");
    if (auto st = guard->write("git_reset"); !st) return st.error();
    if (int src = git_repository_state_cleanup(r.repo); src != 0)
      return libgit2_error(src, "git_reset: clean up the merge state");
  }
  if (mode == "mixed") {
    auto unstaged = unstaged_paths(r, index);
    if (!unstaged) return std::move(unstaged).error();
    json listed = affected_paths(*unstaged, "");
    out["paths"] = std::move(listed["paths"]);
    out["total"] = listed["total"];
  }
  return out;
}

}  // namespace icotes::git
