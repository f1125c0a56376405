// git/stash: push, pop, list and drop (git-stash(1)).
//
// list and drop are libgit2's. push and pop are built here from libgit2's
// trees, commits and checkout, because git_stash_save and git_stash_pop
// compare and check out the whole work tree several times (1.5 s and 1.0 s
// on the Linux tree, against git's 0.7 s and 0.3 s), and git_stash_pop
// writes conflict markers (then drops the stash) when the stash conflicts
// with HEAD. Here only the paths that changed are read and written, and pop
// checks everything that could stop it before it writes anything.
//
// The commits are git's (builtin/stash.c, do_create_stash): the index
// commit "index on <branch>: <abbrev> <subject>" (parent HEAD), for
// includeUntracked the untracked commit "untracked files on ..." (no
// parent), and the stash itself, "WIP on <branch>: <abbrev> <subject>" or
// "On <branch>: <message>", whose parents are HEAD, the index commit and
// the untracked one; refs/stash points at it and its reflog is the list.
#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "commit_format.hpp"
#include "repo_util.hpp"
#include "worktree_guard.hpp"

namespace icotes::git {
namespace {

struct StashInfo {
  std::size_t index;
  std::string message;
  git_oid oid;
};

Result<std::vector<StashInfo>> all_stashes(git_repository* repo) {
  std::vector<StashInfo> out;
  int rc = git_stash_foreach(
      repo,
      [](std::size_t index, const char* message, const git_oid* oid, void* payload) {
        static_cast<std::vector<StashInfo>*>(payload)->push_back({index, message ? message : "", *oid});
        return 0;
      },
      &out);
  if (rc != 0 && rc != GIT_ENOTFOUND) return libgit2_error(rc, "git_stash: list the stashes");
  git_error_clear();
  return out;
}

json info_json(const StashInfo& s) { return {{"index", s.index}, {"message", s.message}, {"oid", oid_hex(s.oid)}}; }

Result<StashInfo> pick(git_repository* repo, const StashParams& p) {
  auto stashes = all_stashes(repo);
  if (!stashes) return std::move(stashes).error();
  const std::size_t index = p.index;
  if (index >= stashes->size())
    return make_error(
        error_code::kNotFound,
        "git_stash: no stash@{" + std::to_string(index) + "}: there " +
            (stashes->size() == 1 ? "is 1 stash" : "are " + std::to_string(stashes->size()) + " stashes") +
            " (action list shows them)");
  return (*stashes)[index];
}

std::vector<std::string> delta_paths(git_diff* diff) {
  std::vector<std::string> out;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    out.emplace_back(d->old_file.path);
    if (std::strcmp(d->old_file.path, d->new_file.path) != 0) out.emplace_back(d->new_file.path);
  }
  return out;
}

struct Idents {
  SignaturePtr author, committer;
};

Result<git_oid> make_commit(git_repository* repo, const Idents& who, const std::string& message, const git_oid& tree_id,
                            std::vector<const git_commit*> parents) {
  git_tree* raw = nullptr;
  if (int rc = git_tree_lookup(&raw, repo, &tree_id); rc != 0) return libgit2_error(rc, "git_stash: read a tree");
  TreePtr tree(raw);
  git_oid oid;
  if (int rc = git_commit_create(&oid, repo, nullptr, who.author.get(), who.committer.get(), nullptr, message.c_str(),
                                 tree.get(), parents.size(), parents.data());
      rc != 0)
    return libgit2_error(rc, "git_stash: create a stash commit");
  return oid;
}

// The work tree's version of `path` as an index entry (content written as
// a blob, through the clean filters); nullopt when it is missing.
Result<std::optional<git_index_entry>> workdir_entry(const Repo& r, const std::string& path) {
  struct stat st {};
  if (::fstatat(r.root.fd(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
    return std::optional<git_index_entry>();
  git_index_entry e{};
  e.mode = S_ISLNK(st.st_mode)   ? GIT_FILEMODE_LINK
           : (st.st_mode & 0100) ? GIT_FILEMODE_BLOB_EXECUTABLE
                                 : GIT_FILEMODE_BLOB;
  if (int rc = git_blob_create_from_workdir(&e.id, r.repo, path.c_str()); rc != 0)
    return libgit2_error(rc, "git_stash: read " + path);
  return std::optional<git_index_entry>(e);
}

std::string first_paths(const std::vector<std::string>& paths) {
  std::string list;
  for (std::size_t i = 0; i < paths.size() && i < 10; ++i) list += (i ? ", " : "") + paths[i];
  if (paths.size() > 10) list += ", ...";
  return list;
}

// `git stash push` [-u] [<paths>]: git's checks and steps in git's order
// (the stash commits, then the work tree and index put back), with git's
// messages (compared by git.differential); kept in that order rather than
// restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> push(Repo& r, const StashParams& p) {
  const bool with_untracked = p.include_untracked;
  const bool keep_index = p.keep_index;
  auto fresh = fresh_index(r.repo);
  if (!fresh) return std::move(fresh).error();
  git_index* index = fresh->get();
  if (git_index_has_conflicts(index))
    return make_error(error_code::kConflict, "git_stash: cannot stash with unresolved conflicts in: " +
                                                 conflicted_paths(index) + "; resolve and stage them first");
  git_object* raw_head = nullptr;
  if (int rc = git_revparse_single(&raw_head, r.repo, "HEAD^{commit}"); rc != 0) {
    git_error_clear();
    return make_error(error_code::kInvalidParams,
                      "git_stash: the branch has no commit yet, so there is nothing to stash against; commit first");
  }
  CommitPtr head(reinterpret_cast<git_commit*>(raw_head));
  git_tree* raw_tree = nullptr;
  if (int rc = git_commit_tree(&raw_tree, head.get()); rc != 0) return libgit2_error(rc, "git_stash: read HEAD");
  TreePtr head_tree(raw_tree);

  // What there is to save: staged changes, unstaged ones, untracked files.
  git_diff* raw = nullptr;
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE;
  if (int rc = git_diff_tree_to_index(&raw, r.repo, head_tree.get(), index, &opts); rc != 0)
    return libgit2_error(rc, "git_stash: compare HEAD with the index");
  DiffPtr staged_diff(raw);
  const std::vector<std::string> staged = delta_paths(staged_diff.get());
  std::vector<std::string> unstaged, untracked;
  std::optional<std::vector<std::string>> candidates;
  if (!with_untracked) candidates = changed_candidates(r, index, "");
  if (!candidates || !candidates->empty()) {
    opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_DISABLE_PATHSPEC_MATCH;
    if (with_untracked) opts.flags |= GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS;
    const std::vector<std::string> paths = candidates ? std::move(*candidates) : std::vector<std::string>();
    StrArray spec(paths);
    opts.pathspec = *spec.get();
    if (int rc = git_diff_index_to_workdir(&raw, r.repo, index, &opts); rc != 0)
      return libgit2_error(rc, "git_stash: compare the index with the work tree");
    DiffPtr work(raw);
    for (std::size_t i = 0, n = git_diff_num_deltas(work.get()); i < n; ++i) {
      const git_diff_delta* d = git_diff_get_delta(work.get(), i);
      const std::string path = d->new_file.path;
      if (d->status != GIT_DELTA_UNTRACKED) {
        unstaged.push_back(path);
      } else if (path.back() != '/') {  // "dir/": a nested repository, which git stash leaves alone
        untracked.push_back(path);
      }
    }
  }
  json out;
  out["action"] = "push";
  // Untracked files this client may not change (icotes' settings, a path a
  // deny rule covers) stay where they are, and out of the stash: stashing
  // removes them, and popping would write them back.
  std::vector<std::string> kept;
  if (!untracked.empty()) {
    ChangeMap removed;
    for (const auto& path : untracked) removed.emplace(path, 0);
    Landing landing(r, &removed);
    std::erase_if(untracked, [&](const std::string& path) {
      if (judge_change(r, "git_stash", landing, {path, 0})) return false;
      kept.push_back(path);
      return true;
    });
  }
  if (!kept.empty())
    out["note"] = "Left in place and out of the stash: " + first_paths(kept) +
                  " (untracked files this client may not change or remove).";
  if (staged.empty() && unstaged.empty() && untracked.empty()) {
    out["stashed"] = false;
    out["note"] = "No local changes to save." + (kept.empty() ? "" : " " + out["note"].get<std::string>());
    return out;
  }
  // Putting HEAD (or, keepIndex, the index) back where anything changed:
  // judged before the stash is made, so a refusal leaves no stash behind.
  std::set<std::string> changed(staged.begin(), staged.end());
  changed.insert(unstaged.begin(), unstaged.end());
  const std::vector<std::string> reset(changed.begin(), changed.end());
  const std::vector<Change> resets =
      keep_index ? changes_toward(index, unstaged) : changes_toward(head_tree.get(), reset);
  if (auto st = judge_changes(r, "git_stash", resets); !st) return st.error();
  // git commits stashes as any commit: author and committer identities.
  Idents who;
  auto author = identity(r.repo, Role::kAuthor);
  if (!author) return std::move(author).error();
  auto committer = identity(r.repo, Role::kCommitter);
  if (!committer) return std::move(committer).error();
  who.author = std::move(*author);
  who.committer = std::move(*committer);
  if (auto st = r.check_cancel("git_stash"); !st) return st.error();

  std::string branch = "(no branch)";
  git_reference* raw_ref = nullptr;
  if (git_reference_lookup(&raw_ref, r.repo, "HEAD") == 0) {
    ReferencePtr ref(raw_ref);
    if (const char* target = git_reference_symbolic_target(ref.get())) branch = std::string(short_ref(target));
  }
  Buf abbrev;
  if (int rc = git_object_short_id(&abbrev.buf, raw_head); rc != 0)
    return libgit2_error(rc, "git_stash: abbreviate HEAD");
  const std::string on = branch + ": " + abbrev.str() + " " + subject_of(git_commit_message(head.get()));

  git_oid index_tree;
  if (int rc = git_index_write_tree(&index_tree, index); rc != 0)
    return libgit2_error(rc, "git_stash: write the index as a tree");
  auto index_commit = make_commit(r.repo, who, "index on " + on + "\n", index_tree, {head.get()});
  if (!index_commit) return std::move(index_commit).error();

  std::optional<git_oid> untracked_commit;
  if (!untracked.empty()) {
    git_index* raw_u = nullptr;
    if (int rc = git_index_new(&raw_u); rc != 0) return libgit2_error(rc, "git_stash: new index");
    IndexPtr u(raw_u);
    for (const auto& path : untracked) {
      auto e = workdir_entry(r, path);
      if (!e) return std::move(e).error();
      if (!*e) continue;
      (*e)->path = path.c_str();
      if (int rc = git_index_add(u.get(), &**e); rc != 0) return libgit2_error(rc, "git_stash: save " + path);
    }
    git_oid tree;
    if (int rc = git_index_write_tree_to(&tree, u.get(), r.repo); rc != 0)
      return libgit2_error(rc, "git_stash: write the untracked files' tree");
    auto c = make_commit(r.repo, who, "untracked files on " + on + "\n", tree, {});
    if (!c) return std::move(c).error();
    untracked_commit = *c;
  }

  // The work tree commit: the index, with every path where the work tree
  // differs from HEAD taken from the work tree (git: the paths of
  // `diff-index HEAD`, updated into a copy of the index).
  git_index* raw_w = nullptr;
  if (int rc = git_index_new(&raw_w); rc != 0) return libgit2_error(rc, "git_stash: new index");
  IndexPtr w(raw_w);
  {
    git_tree* t = nullptr;
    if (int rc = git_tree_lookup(&t, r.repo, &index_tree); rc != 0) return libgit2_error(rc, "git_stash: read a tree");
    TreePtr tree(t);
    if (int rc = git_index_read_tree(w.get(), tree.get()); rc != 0) return libgit2_error(rc, "git_stash: read a tree");
  }
  for (const auto& path : changed) {
    auto e = workdir_entry(r, path);
    if (!e) return std::move(e).error();
    git_tree_entry* in_head = nullptr;
    if (git_tree_entry_bypath(&in_head, head_tree.get(), path.c_str()) != 0) git_error_clear();
    const bool same = in_head ? (*e && git_oid_equal(git_tree_entry_id(in_head), &(*e)->id) &&
                                 static_cast<std::uint32_t>(git_tree_entry_filemode(in_head)) == (*e)->mode)
                              : !*e;
    git_tree_entry_free(in_head);
    if (same) continue;
    int rc;
    if (*e) {
      (*e)->path = path.c_str();
      rc = git_index_add(w.get(), &**e);
    } else {
      rc = git_index_remove(w.get(), path.c_str(), 0);
      if (rc == GIT_ENOTFOUND) rc = 0;
    }
    if (rc != 0) return libgit2_error(rc, "git_stash: save " + path);
  }
  git_error_clear();
  git_oid work_tree;
  if (int rc = git_index_write_tree_to(&work_tree, w.get(), r.repo); rc != 0)
    return libgit2_error(rc, "git_stash: write the work tree's tree");
  git_commit* raw_i = nullptr;
  if (int rc = git_commit_lookup(&raw_i, r.repo, &*index_commit); rc != 0) return libgit2_error(rc, "git_stash: read");
  CommitPtr i_commit(raw_i);
  CommitPtr u_commit;
  std::vector<const git_commit*> parents{head.get(), i_commit.get()};
  if (untracked_commit) {
    git_commit* raw_u = nullptr;
    if (int rc = git_commit_lookup(&raw_u, r.repo, &*untracked_commit); rc != 0)
      return libgit2_error(rc, "git_stash: read");
    u_commit.reset(raw_u);
    parents.push_back(u_commit.get());
  }
  const std::string user_message = p.message.value_or(std::string());
  const std::string message = user_message.empty() ? "WIP on " + on : "On " + branch + ": " + user_message;
  auto stash_commit = make_commit(r.repo, who, message, work_tree, parents);
  if (!stash_commit) return std::move(stash_commit).error();

  if (int rc = git_reference_ensure_log(r.repo, "refs/stash"); rc != 0)
    return write_error(rc, "git_stash: create the stash reflog");
  git_repository_set_ident(r.repo, who.committer->name, who.committer->email);
  git_reference* raw_stash = nullptr;
  int rc = git_reference_create(&raw_stash, r.repo, "refs/stash", &*stash_commit, 1, squash_spaces(message).c_str());
  git_repository_set_ident(r.repo, nullptr, nullptr);
  if (rc != 0) return write_error(rc, "git_stash: update refs/stash");
  git_reference_free(raw_stash);

  // The untracked files saved go (git stash -u runs git clean first), then
  // HEAD (or, keepIndex, the index) comes back where anything changed.
  for (const auto& path : untracked) {
    if (auto st = remove_beneath(r, "git_stash", path); !st) return st.error();
  }
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
  StrArray reset_paths(keep_index ? unstaged : reset);
  co.paths = *reset_paths.get();
  if (co.paths.count > 0) {
    GuardedCheckout checkout(r, "git_stash", resets);
    auto done = checkout.run(keep_index ? nullptr : raw_head, index, co);
    if (!done) return std::move(done).error();
    if (*done != 0) return write_error(*done, "git_stash: reset the saved changes (they are saved in stash@{0})");
  }

  out["stashed"] = true;
  out["stash"] = info_json({0, squash_spaces(message), *stash_commit});
  return out;
}

Result<TreePtr> tree_of(git_repository* repo, const git_oid& commit_id, int parent) {
  git_commit* raw = nullptr;
  if (int rc = git_commit_lookup(&raw, repo, &commit_id); rc != 0)
    return libgit2_error(rc, "git_stash: read the stash");
  CommitPtr commit(raw);
  if (parent >= 0) {
    if (static_cast<unsigned>(parent) >= git_commit_parentcount(commit.get())) return TreePtr();
    git_commit* p = nullptr;
    if (int rc = git_commit_parent(&p, commit.get(), static_cast<unsigned>(parent)); rc != 0)
      return libgit2_error(rc, "git_stash: read the stash");
    commit.reset(p);
  }
  git_tree* tree = nullptr;
  if (int rc = git_commit_tree(&tree, commit.get()); rc != 0) return libgit2_error(rc, "git_stash: read the stash");
  return TreePtr(tree);
}

// The tree of `theirs` merged onto HEAD's (`ours`) from `base`, or, when
// that conflicts, the conflicted paths.
struct Merged : std::optional<git_oid> {
  std::string conflicts;
};
Result<Merged> merge_onto_head(git_repository* repo, git_tree* base, git_tree* ours, git_tree* theirs) {
  Merged out;
  // Popped onto the commit it was made on (the usual case): nothing to merge.
  if (git_oid_equal(git_tree_id(base), git_tree_id(ours))) {
    out.emplace(*git_tree_id(theirs));
    return out;
  }
  git_index* raw = nullptr;
  if (int rc = git_merge_trees(&raw, repo, base, ours, theirs, nullptr); rc != 0)
    return libgit2_error(rc, "git_stash: merge the stash with HEAD");
  IndexPtr merged(raw);
  if (git_index_has_conflicts(merged.get())) {
    out.conflicts = conflicted_paths(merged.get());
    return out;
  }
  git_oid oid;
  if (int rc = git_index_write_tree_to(&oid, merged.get(), repo); rc != 0)
    return libgit2_error(rc, "git_stash: write the merged tree");
  out.emplace(oid);
  return out;
}

// What pop writes, all decided before anything is written.
struct Plan {
  git_oid merged{};                     // HEAD's tree with the stashed changes
  std::vector<std::string> touched;     // paths the stash changes
  std::vector<std::string> added;       // ...new to HEAD: staged, as git stash apply does
  std::optional<git_oid> index_merged;  // reinstateIndex: HEAD's tree with the stashed index changes
  TreePtr untracked;                    // the stash's untracked files, or null
  std::vector<std::string> untracked_files;
  std::vector<Change> changes;      // what the stash writes, the touched paths first (judged)
  std::size_t touched_changes = 0;  // how many of `changes` are the touched paths'
};

// Refusals, each leaving everything as it was: staged changes (the stash
// is applied onto an index equal to HEAD, as libgit2's stash does),
// stashed changes that conflict with HEAD (git would write conflict
// markers), local changes or untracked files where the stash writes.
// One list of refusals in git's order, each a case of the same walk over the
// stash's changes.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<Plan> plan_pop(Repo& r, const StashInfo& s, bool reinstate_index) {
  auto index = fresh_index(r.repo);
  if (!index) return std::move(index).error();
  const std::string which = "stash@{" + std::to_string(s.index) + "}";
  if (git_index_has_conflicts(index->get()))
    return make_error(error_code::kConflict, "git_stash: cannot pop with unresolved conflicts in: " +
                                                 conflicted_paths(index->get()) + "; resolve them first");
  auto head = head_tree(r.repo);
  if (!head) return std::move(head).error();
  if (!*head) return make_error(error_code::kInvalidParams, "git_stash: the branch has no commit yet; commit first");
  git_diff* raw = nullptr;
  if (int rc = git_diff_tree_to_index(&raw, r.repo, head->get(), index->get(), nullptr); rc != 0)
    return libgit2_error(rc, "git_stash: compare HEAD with the index");
  DiffPtr staged(raw);
  if (git_diff_num_deltas(staged.get()) > 0)
    return make_error(error_code::kConflict, "git_stash: cannot pop while changes are staged (" +
                                                 first_paths(delta_paths(staged.get())) +
                                                 "); commit them, or unstage them with git_unstage, then pop");

  auto stash_tree = tree_of(r.repo, s.oid, -1);
  if (!stash_tree) return std::move(stash_tree).error();
  auto base_tree = tree_of(r.repo, s.oid, 0);
  if (!base_tree) return std::move(base_tree).error();
  Plan plan;
  auto merged_tree = merge_onto_head(r.repo, base_tree->get(), head->get(), stash_tree->get());
  if (!merged_tree) return std::move(merged_tree).error();
  if (!*merged_tree)
    return make_error(error_code::kConflict, "git_stash: " + which +
                                                 " conflicts with the current commit in: " + merged_tree->conflicts +
                                                 ". Nothing was changed and the stash is kept; apply it by hand "
                                                 "(git stash apply) or pop it onto the commit it was made on.");
  plan.merged = **merged_tree;

  if (int rc = git_diff_tree_to_tree(&raw, r.repo, base_tree->get(), stash_tree->get(), nullptr); rc != 0)
    return libgit2_error(rc, "git_stash: read the stash");
  DiffPtr changes(raw);
  plan.touched = delta_paths(changes.get());
  for (std::size_t i = 0, n = git_diff_num_deltas(changes.get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(changes.get(), i);
    git_tree_entry* in_head = nullptr;
    if (d->status == GIT_DELTA_ADDED && git_tree_entry_bypath(&in_head, head->get(), d->new_file.path) != 0)
      plan.added.emplace_back(d->new_file.path);
    git_tree_entry_free(in_head);
  }
  git_error_clear();
  if (!plan.touched.empty()) {
    git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
    opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_DISABLE_PATHSPEC_MATCH;
    StrArray pathspec(plan.touched);
    opts.pathspec = *pathspec.get();
    if (int rc = git_diff_index_to_workdir(&raw, r.repo, index->get(), &opts); rc != 0)
      return libgit2_error(rc, "git_stash: compare the index with the work tree");
    DiffPtr local(raw);
    if (git_diff_num_deltas(local.get()) > 0)
      return make_error(error_code::kConflict, "git_stash: popping " + which + " would overwrite local changes in: " +
                                                   first_paths(delta_paths(local.get())) +
                                                   ". Nothing was changed and the stash is kept; commit or stash "
                                                   "those changes first.");
  }

  if (reinstate_index) {
    auto index_tree = tree_of(r.repo, s.oid, 1);
    if (!index_tree) return std::move(index_tree).error();
    if (!git_oid_equal(git_tree_id(index_tree->get()), git_tree_id(base_tree->get()))) {
      auto t = merge_onto_head(r.repo, base_tree->get(), head->get(), index_tree->get());
      if (!t) return std::move(t).error();
      if (!*t)
        return make_error(error_code::kConflict, "git_stash: the staged changes of " + which +
                                                     " conflict with the current commit in: " + t->conflicts +
                                                     ". Nothing was changed; pop without reinstateIndex.");
      plan.index_merged = **t;
    }
  }

  auto untracked = tree_of(r.repo, s.oid, 2);
  if (!untracked) return std::move(untracked).error();
  plan.untracked = std::move(*untracked);
  if (plan.untracked) {
    git_tree_walk(
        plan.untracked.get(), GIT_TREEWALK_PRE,
        [](const char* root, const git_tree_entry* entry, void* payload) {
          if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB)
            static_cast<std::vector<std::string>*>(payload)->push_back(std::string(root) + git_tree_entry_name(entry));
          return 0;
        },
        &plan.untracked_files);
  }

  // Everything the pop writes, judged where it lands (worktree_guard.hpp):
  // a stash is anyone's tree, and the work tree may have changed since.
  git_tree* raw_merged = nullptr;
  if (int rc = git_tree_lookup(&raw_merged, r.repo, &plan.merged); rc != 0)
    return libgit2_error(rc, "git_stash: read the merged tree");
  TreePtr merged(raw_merged);
  plan.changes = changes_toward(merged.get(), plan.touched);
  plan.touched_changes = plan.changes.size();
  for (Change& c : changes_toward(plan.untracked.get(), plan.untracked_files)) plan.changes.push_back(std::move(c));
  if (auto st = judge_changes(r, "git_stash", plan.changes); !st) return st.error();
  if (!plan.untracked) return plan;
  std::vector<std::string> present;
  for (const auto& path : plan.untracked_files) {
    if (on_disk(r, path)) present.push_back(path);
  }
  if (!present.empty())
    return make_error(error_code::kConflict, "git_stash: " + which +
                                                 " holds untracked files that exist again: " + first_paths(present) +
                                                 ". Nothing was changed and the stash is kept; move those files "
                                                 "away, then pop.");
  return plan;
}

Status checkout_paths(const Repo& r, const git_oid& tree_id, const std::vector<std::string>& paths,
                      const std::vector<Change>& changes) {
  if (paths.empty()) return ok_status();
  git_object* tree = nullptr;
  if (int rc = git_object_lookup(&tree, r.repo, &tree_id, GIT_OBJECT_TREE); rc != 0)
    return libgit2_error(rc, "git_stash: read a tree");
  ObjectPtr owner(tree);
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  // The index is updated separately: popped changes stay unstaged.
  co.checkout_strategy = GIT_CHECKOUT_SAFE | GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
  StrArray spec(paths);
  co.paths = *spec.get();
  GuardedCheckout checkout(r, "git_stash", changes);
  auto rc = checkout.run(tree, nullptr, co);
  if (!rc) return std::move(rc).error();
  if (*rc != 0) return write_error(*rc, "git_stash: write the stashed files");
  return ok_status();
}

// Makes the index entries of the paths differing between HEAD's tree and
// `target` equal to `target`'s (stat data of the others is kept).
Status index_to(git_repository* repo, git_index* index, const git_oid& target) {
  auto head = head_tree(repo);
  if (!head) return std::move(head).error();
  git_tree* raw_tree = nullptr;
  if (int rc = git_tree_lookup(&raw_tree, repo, &target); rc != 0) return libgit2_error(rc, "git_stash: read a tree");
  TreePtr tree(raw_tree);
  git_diff* raw = nullptr;
  if (int rc = git_diff_tree_to_tree(&raw, repo, head->get(), tree.get(), nullptr); rc != 0)
    return libgit2_error(rc, "git_stash: read the stashed index");
  DiffPtr diff(raw);
  for (std::size_t i = 0, n = git_diff_num_deltas(diff.get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    int rc;
    if (d->status == GIT_DELTA_DELETED) {
      rc = git_index_remove(index, d->old_file.path, 0);
    } else {
      git_index_entry e{};
      e.mode = d->new_file.mode;
      e.id = d->new_file.id;
      e.path = d->new_file.path;
      rc = git_index_add(index, &e);
    }
    if (rc != 0) return libgit2_error(rc, std::string("git_stash: stage ") + d->new_file.path);
  }
  return ok_status();
}

Result<json> pop(Repo& r, const StashParams& p) {
  auto s = pick(r.repo, p);
  if (!s) return std::move(s).error();
  auto plan = plan_pop(r, *s, p.reinstate_index);
  if (!plan) return std::move(plan).error();
  if (auto st = r.check_cancel("git_stash"); !st) return st.error();
  auto guard = IndexGuard::open(r.repo);
  if (!guard) return std::move(guard).error();

  const auto split = plan->changes.begin() + static_cast<std::ptrdiff_t>(plan->touched_changes);
  if (auto st = checkout_paths(r, plan->merged, plan->touched, {plan->changes.begin(), split}); !st) return st.error();
  if (plan->untracked) {
    if (auto st =
            checkout_paths(r, *git_tree_id(plan->untracked.get()), plan->untracked_files, {split, plan->changes.end()});
        !st)
      return st.error();
  }
  if (plan->index_merged) {
    if (auto st = index_to(r.repo, guard->get(), *plan->index_merged); !st) return st.error();
  } else {
    for (const auto& path : plan->added) {
      if (int rc = git_index_add_bypath(guard->get(), path.c_str()); rc != 0)
        return libgit2_error(rc, "git_stash: stage " + path);
    }
  }
  if (auto st = guard->write("git_stash"); !st) return st.error();
  if (int rc = git_stash_drop(r.repo, s->index); rc != 0)
    return write_error(rc, "git_stash: drop stash@{" + std::to_string(s->index) + "} (it was applied)");
  json out;
  out["action"] = "pop";
  out["stash"] = info_json(*s);
  return out;
}

Result<json> drop(Repo& r, const StashParams& p) {
  auto s = pick(r.repo, p);
  if (!s) return std::move(s).error();
  if (int rc = git_stash_drop(r.repo, s->index); rc != 0)
    return write_error(rc, "git_stash: drop stash@{" + std::to_string(s->index) + "}");
  json out;
  out["action"] = "drop";
  out["stash"] = info_json(*s);
  out["note"] = "Dropped stash@{" + std::to_string(s->index) + "} (" + oid_hex(s->oid) +
                "); until git gc prunes it, git stash apply " + oid_hex(s->oid) + " restores it.";
  return out;
}

Result<json> list(Repo& r, const StashParams& p) {
  auto stashes = all_stashes(r.repo);
  if (!stashes) return std::move(stashes).error();
  // Within the text budget as `git stash list` lines.
  auto page = page_of(p, stashes->size(), 1000, detail::page_budget(r, p.limit.has_value()),
                      [&](std::size_t i) { return (*stashes)[i].message.size() + 16; });
  if (!page) return std::move(page).error();
  json out;
  out["action"] = "list";
  json items = json::array();
  for (std::size_t i = page->begin; i < page->end; ++i) items.push_back(info_json((*stashes)[i]));
  out["stashes"] = std::move(items);
  put_page(out, *page, stashes->size(), "stashes", "", "git_stash", p);
  return out;
}

}  // namespace

Result<json> stash(Repo& r, const StashParams& p) {
  const std::string& action = p.action;
  if (action == "push") return push(r, p);
  if (action == "pop") return pop(r, p);
  if (action == "drop") return drop(r, p);
  return list(r, p);
}

}  // namespace icotes::git
