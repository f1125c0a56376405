// git/branch: list, create, delete and switch branches, as git branch
// (git-branch(1): -vv listing, `git branch <name> [<start>]`, -d / -D) and
// git switch (git-switch(1)), with libgit2's branch, checkout and reference
// functions.
#include <git2.h>

#include <algorithm>
#include <cstring>

#include "checkout.hpp"
#include "commit_format.hpp"
#include "repo_util.hpp"

namespace icotes::git {
namespace {

Status check_name(const std::string& name) {
  int valid = 0;
  if (name.front() == '-' || name == "HEAD" || git_branch_name_is_valid(&valid, name.c_str()) != 0 || !valid) {
    git_error_clear();
    return make_error(error_code::kInvalidParams,
                      "invalid branch name '" + name.substr(0, 200) +
                          "': see git-check-ref-format(1) (no spaces, '..', '~', '^', ':', '?', '*', '[', '\\\\', no "
                          "leading '-' or '.', no trailing '/' or '.lock')");
  }
  return ok_status();
}

Result<ReferencePtr> local_branch(git_repository* repo, const std::string& name) {
  git_reference* raw = nullptr;
  int rc = git_branch_lookup(&raw, repo, name.c_str(), GIT_BRANCH_LOCAL);
  if (rc == GIT_ENOTFOUND) {
    git_error_clear();
    return ReferencePtr();
  }
  if (rc != 0) return libgit2_error(rc, "look up branch '" + name + "'");
  return ReferencePtr(raw);
}

std::string short_oid(const git_oid* oid) { return oid ? oid_hex(*oid).substr(0, 7) : "?"; }

struct Listed {
  std::string refname;
  bool remote = false;
  bool current = false;
  std::optional<git_oid> oid;
  std::string target;  // symbolic refs (origin/HEAD)
};

// `git branch --list` (with -a/-r/-v as asked): collect, sort and render in
// git's order and layout, which git.differential compares byte for byte.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> list(Repo& r, const BranchParams& p) {
  git_branch_iterator* raw_it = nullptr;
  if (int rc = git_branch_iterator_new(&raw_it, r.repo, GIT_BRANCH_ALL); rc != 0)
    return libgit2_error(rc, "git_branch: list branches");
  std::unique_ptr<git_branch_iterator, Freer<git_branch_iterator_free>> it(raw_it);
  std::vector<Listed> all;
  git_reference* raw = nullptr;
  git_branch_t type;
  while (git_branch_next(&raw, &type, it.get()) == 0) {
    ReferencePtr ref(raw);
    Listed b;
    b.refname = git_reference_name(ref.get());
    b.remote = type == GIT_BRANCH_REMOTE;
    if (const char* target = git_reference_symbolic_target(ref.get())) b.target = std::string(short_ref(target));
    git_oid oid;
    if (git_reference_name_to_id(&oid, r.repo, b.refname.c_str()) == 0) b.oid = oid;
    git_error_clear();
    b.current = !b.remote && git_branch_is_head(ref.get()) == 1;
    all.push_back(std::move(b));
  }
  git_error_clear();
  std::sort(all.begin(), all.end(), [](const Listed& a, const Listed& b) { return a.refname < b.refname; });

  json out;
  out["action"] = "list";
  out["head"] = nullptr;
  out["headOid"] = nullptr;
  out["detached"] = git_repository_head_detached(r.repo) == 1;
  git_reference* head_raw = nullptr;
  if (git_reference_lookup(&head_raw, r.repo, "HEAD") == 0) {
    ReferencePtr head(head_raw);
    if (const char* target = git_reference_symbolic_target(head.get())) out["head"] = std::string(short_ref(target));
    git_oid oid;
    if (git_reference_name_to_id(&oid, r.repo, "HEAD") == 0) out["headOid"] = oid_hex(oid);
  }
  git_error_clear();

  // Within the text budget as `git branch -a -v` lines (icotes/git_text.hpp):
  // name, id and upstream, about 60 bytes besides the name.
  auto page = page_of(p, all.size(), 1000, detail::page_budget(r, p.limit.has_value()),
                      [&](std::size_t i) { return all[i].refname.size() + all[i].target.size() + 60; });
  if (!page) return std::move(page).error();
  json items = json::array();
  for (std::size_t i = page->begin; i < page->end; ++i) {
    const Listed& b = all[i];
    json j;
    j["name"] = std::string(short_ref(b.refname));
    j["remote"] = b.remote;
    j["current"] = b.current;
    if (b.oid) j["oid"] = oid_hex(*b.oid);
    if (!b.target.empty()) j["target"] = b.target;
    if (!b.remote) {
      // Counted for this page only: each is a history walk.
      auto up = upstream_of(r.repo, b.refname.c_str(), b.oid ? &*b.oid : nullptr);
      if (!up) return std::move(up).error();
      if (*up) put_upstream(j, **up);
    }
    items.push_back(std::move(j));
  }
  out["branches"] = std::move(items);
  put_page(out, *page, all.size(), "branches", "", "git_branch", p);
  return out;
}

// git branch's default branch.autoSetupMerge=true: a branch started from a
// remote-tracking branch tracks it.
Result<std::optional<std::string>> track_if_remote(git_repository* repo, git_reference* branch,
                                                   const std::string& start) {
  git_reference* raw = nullptr;
  if (git_reference_dwim(&raw, repo, start.c_str()) != 0) {
    git_error_clear();
    return std::optional<std::string>();
  }
  ReferencePtr ref(raw);
  const std::string name = git_reference_name(ref.get());
  if (name.rfind("refs/remotes/", 0) != 0 || git_reference_type(ref.get()) != GIT_REFERENCE_DIRECT)
    return std::optional<std::string>();
  const std::string upstream(short_ref(name));
  if (int rc = git_branch_set_upstream(branch, upstream.c_str()); rc != 0)
    return libgit2_error(rc, "git_branch: set the upstream to " + upstream);
  return std::optional<std::string>(upstream);
}

Result<json> create(Repo& r, const std::string& name, const BranchParams& p) {
  const std::string& start = p.start_point;
  if (auto st = check_revision(start); !st) return st.error();
  const bool force = p.force;
  git_annotated_commit* raw_ac = nullptr;
  if (int rc = git_annotated_commit_from_revspec(&raw_ac, r.repo, start.c_str()); rc != 0) {
    if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH || rc == GIT_EINVALIDSPEC) {
      git_error_clear();
      if (start == "HEAD")
        return make_error(error_code::kNotFound, "git_branch: HEAD has no commit yet, so there is nothing to start '" +
                                                     name + "' from; commit first, or give startPoint");
      return make_error(error_code::kNotFound, "git_branch: unknown start point '" + start + "'");
    }
    return libgit2_error(rc, "git_branch: resolve '" + start + "'");
  }
  std::unique_ptr<git_annotated_commit, Freer<git_annotated_commit_free>> ac(raw_ac);
  auto existing = local_branch(r.repo, name);
  if (!existing) return std::move(existing).error();
  if (*existing && !force)
    return make_error(error_code::kConflict, "git_branch: a branch named '" + name + "' already exists (at " +
                                                 short_oid(git_reference_target(existing->get())) +
                                                 "); pass force to move it, or choose another name");
  if (*existing && git_branch_is_head(existing->get()) == 1)
    return make_error(error_code::kConflict, "git_branch: cannot force-update '" + name +
                                                 "', the current branch; use git_commit or switch away first");
  git_reference* raw = nullptr;
  if (int rc = git_branch_create_from_annotated(&raw, r.repo, name.c_str(), ac.get(), force ? 1 : 0); rc != 0)
    return write_error(rc, "git_branch: create '" + name + "'");
  ReferencePtr created(raw);
  auto upstream = track_if_remote(r.repo, created.get(), start);
  if (!upstream) return std::move(upstream).error();
  json out;
  out["action"] = "create";
  out["name"] = name;
  out["oid"] = oid_hex(*git_annotated_commit_id(ac.get()));
  if (*upstream) out["upstream"] = **upstream;
  return out;
}

// git branch -d: the branch must be merged into its upstream when it has
// one, else into HEAD (builtin/branch.c, branch_merged).
Result<bool> merged(git_repository* repo, git_reference* branch, const git_oid& tip) {
  git_oid reference{};
  bool have = false;
  if (const auto up = upstream_ref(repo, git_reference_name(branch)))
    have = git_reference_name_to_id(&reference, repo, up->c_str()) == 0;
  if (!have) have = git_reference_name_to_id(&reference, repo, "HEAD") == 0;
  git_error_clear();
  if (!have) return false;
  if (git_oid_equal(&reference, &tip)) return true;
  const int rc = git_graph_descendant_of(repo, &reference, &tip);
  if (rc < 0) return libgit2_error(rc, "git_branch: check whether the branch is merged");
  return rc == 1;
}

Result<json> remove(Repo& r, const std::string& name, const BranchParams& p) {
  auto ref = local_branch(r.repo, name);
  if (!ref) return std::move(ref).error();
  if (!*ref)
    return make_error(error_code::kNotFound,
                      "git_branch: no local branch named '" + name + "' (action list shows the branches)");
  if (git_branch_is_head(ref->get()) == 1)
    return make_error(error_code::kConflict,
                      "git_branch: cannot delete '" + name + "', the current branch; switch to another branch first");
  if (git_branch_is_checked_out(ref->get()) == 1)
    return make_error(error_code::kConflict,
                      "git_branch: cannot delete '" + name + "': it is checked out in another worktree");
  const git_oid tip = *git_reference_target(ref->get());
  if (!p.force) {
    auto ok = merged(r.repo, ref->get(), tip);
    if (!ok) return std::move(ok).error();
    if (!*ok)
      return make_error(error_code::kConflict,
                        "git_branch: the branch '" + name + "' (at " + short_oid(&tip) +
                            ") is not fully merged into its upstream or HEAD; deleting it would lose commits. Pass "
                            "force to delete it anyway (git branch -D)");
  }
  if (int rc = git_branch_delete(ref->get()); rc != 0) return write_error(rc, "git_branch: delete '" + name + "'");
  json out;
  out["action"] = "delete";
  out["name"] = name;
  out["oid"] = oid_hex(tip);
  return out;
}

// git switch's --guess: `name` not local but origin/<name> (one remote
// only) exists: a local branch tracking it.
Result<ReferencePtr> guess_remote(git_repository* repo, std::string_view op, const std::string& name,
                                  std::string& upstream) {
  git_strarray remotes{};
  if (int rc = git_remote_list(&remotes, repo); rc != 0) return libgit2_error(rc, std::string(op) + ": list remotes");
  std::vector<std::string> found;
  for (std::size_t i = 0; i < remotes.count; ++i) {
    const std::string ref = std::string("refs/remotes/") + remotes.strings[i] + "/" + name;
    git_oid oid;
    if (git_reference_name_to_id(&oid, repo, ref.c_str()) == 0) found.push_back(ref);
  }
  git_strarray_dispose(&remotes);
  git_error_clear();
  if (found.empty()) return ReferencePtr();
  if (found.size() > 1)
    return make_error(error_code::kInvalidParams, std::string(op) + ": '" + name +
                                                      "' exists on several remotes; create the branch from one of "
                                                      "them (action create with startPoint) and switch to it");
  git_annotated_commit* raw_ac = nullptr;
  if (int rc = git_annotated_commit_from_revspec(&raw_ac, repo, found[0].c_str()); rc != 0)
    return libgit2_error(rc, std::string(op) + ": resolve " + found[0]);
  std::unique_ptr<git_annotated_commit, Freer<git_annotated_commit_free>> ac(raw_ac);
  git_reference* raw = nullptr;
  if (int rc = git_branch_create_from_annotated(&raw, repo, name.c_str(), ac.get(), 0); rc != 0)
    return write_error(rc, std::string(op) + ": create '" + name + "'");
  ReferencePtr created(raw);
  upstream = std::string(short_ref(found[0]));
  if (int rc = git_branch_set_upstream(created.get(), upstream.c_str()); rc != 0) {
    git_branch_delete(created.get());
    return libgit2_error(rc, std::string(op) + ": set the upstream to " + upstream);
  }
  return created;
}

}  // namespace

Result<json> switch_branch(Repo& r, std::string_view op, const std::string& name, bool force) {
  if (const int state = git_repository_state(r.repo); state != GIT_REPOSITORY_STATE_NONE)
    return make_error(error_code::kConflict, std::string(op) + ": cannot switch branches while " +
                                                 std::string(state_name(state)) +
                                                 " is in progress; finish it (commit) or abort it first");
  auto ref = local_branch(r.repo, name);
  if (!ref) return std::move(ref).error();
  std::string upstream;
  bool created = false;
  if (!*ref) {
    ref = guess_remote(r.repo, op, name, upstream);
    if (!ref) return std::move(ref).error();
    if (!*ref)
      return make_error(error_code::kNotFound, std::string(op) + ": no branch named '" + name +
                                                   "' (action list shows the branches; action create makes one)");
    created = true;
  }
  json out;
  out["action"] = "switch";
  out["name"] = name;
  out["oid"] = oid_hex(*git_reference_target(ref->get()));
  if (created) {
    out["created"] = true;
    out["upstream"] = upstream;
  }
  out["head"] = name;
  std::optional<std::string> previous;
  git_reference* head_raw = nullptr;
  if (git_reference_lookup(&head_raw, r.repo, "HEAD") == 0) {
    ReferencePtr head(head_raw);
    if (const char* target = git_reference_symbolic_target(head.get())) previous = std::string(short_ref(target));
  }
  git_error_clear();
  out["previous"] = previous ? json(*previous) : json(nullptr);
  if (git_branch_is_head(ref->get()) == 1) {
    out["note"] = "Already on '" + name + "'.";
    return out;
  }
  if (auto st = r.check_cancel(op); !st) return st.error();

  git_object* target = nullptr;
  if (int rc = git_reference_peel(&target, ref->get(), GIT_OBJECT_COMMIT); rc != 0)
    return libgit2_error(rc, std::string(op) + ": read '" + name + "'");
  ObjectPtr commit(target);
  // A refusal changes nothing: the branch guessed from a remote goes again.
  if (auto st = move_worktree(r, op, reinterpret_cast<git_commit*>(commit.get()), force, "switching to '" + name + "'");
      !st) {
    if (created) git_branch_delete(ref->get());
    return st.error();
  }
  const std::string refname = git_reference_name(ref->get());
  if (int src = git_repository_set_head(r.repo, refname.c_str()); src != 0)
    return write_error(src, std::string(op) + ": point HEAD at '" + name + "'");
  return out;
}

Result<json> branch(Repo& r, const BranchParams& p) {
  const std::string& action = p.action;
  if (action == "list") return list(r, p);
  if (!p.name)
    return make_error(error_code::kInvalidParams, "git_branch: action '" + action + "' needs name (the branch)");
  const std::string& name = *p.name;
  if (auto st = check_name(name); !st) return st.error();
  if (action == "create") return create(r, name, p);
  if (action == "delete") return remove(r, name, p);
  return switch_branch(r, "git_branch", name, p.force);
}

}  // namespace icotes::git
