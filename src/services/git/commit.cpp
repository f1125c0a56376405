// git/commit: `git commit -m <message> [--amend] [--allow-empty]
// [--author]` (git-commit(1)) with libgit2: the index is written as a tree,
// the commit created, and the branch HEAD points at moved with a
// compare-and-swap (git_reference_create_matching), so a concurrent commit
// by git is not overwritten.
//
// Hooks are not run (libgit2 has no hook support); the ones that git would
// run are reported so the caller knows.
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "repo_util.hpp"

namespace icotes::git {
namespace {

constexpr const char* kHooks[] = {"pre-commit", "prepare-commit-msg", "commit-msg", "post-commit"};

// Executable commit hooks in core.hooksPath (relative to the work tree, as
// git resolves it for a non-bare repository) or .git/hooks.
std::vector<std::string> hooks_present(const Repo& r) {
  std::string dir;
  git_config* raw = nullptr;
  if (git_repository_config_snapshot(&raw, r.repo) == 0) {
    ConfigPtr cfg(raw);
    Buf buf;
    if (git_config_get_path(&buf.buf, cfg.get(), "core.hooksPath") == 0) {
      dir = buf.str();
      if (!dir.empty() && dir.front() != '/') dir = r.root.path() + "/" + dir;
    }
  }
  git_error_clear();
  if (dir.empty()) dir = std::string(git_repository_path(r.repo)) + "hooks";
  std::vector<std::string> out;
  for (const char* name : kHooks) {
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0)
      out.emplace_back(name);
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// git commit's "whitespace" cleanup, its default for -m and for messages it
// does not open an editor on: trailing whitespace and leading/trailing blank
// lines removed, runs of blank lines collapsed; '#' lines are kept.
Result<std::string> clean_message(const std::string& message) {
  Buf buf;
  if (int rc = git_message_prettify(&buf.buf, message.c_str(), 0, '#'); rc != 0)
    return libgit2_error(rc, "git_commit: clean up the message");
  return buf.str();
}

// The state files git commit removes when it concludes a merge, cherry-pick
// or revert. git_repository_state_cleanup would also delete rebase and
// bisect state, which a commit in the middle of those must keep.
void end_state(git_repository* repo, int state) {
  std::vector<const char*> files;
  if (state == GIT_REPOSITORY_STATE_MERGE) files = {"MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"};
  if (state == GIT_REPOSITORY_STATE_CHERRYPICK || state == GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE)
    files = {"CHERRY_PICK_HEAD", "MERGE_MSG"};
  if (state == GIT_REPOSITORY_STATE_REVERT || state == GIT_REPOSITORY_STATE_REVERT_SEQUENCE)
    files = {"REVERT_HEAD", "MERGE_MSG"};
  const std::string gitdir = git_repository_path(repo);
  for (const char* f : files) std::remove((gitdir + f).c_str());
}

struct Head {
  std::string ref;                    // "refs/heads/main", or "HEAD" when detached
  std::optional<std::string> branch;  // short name; nullopt when detached
  CommitPtr commit;                   // null on an unborn branch
};

Result<Head> read_head(git_repository* repo) {
  Head h;
  git_reference* raw = nullptr;
  if (int rc = git_reference_lookup(&raw, repo, "HEAD"); rc != 0) return libgit2_error(rc, "git_commit: read HEAD");
  ReferencePtr head(raw);
  if (const char* target = git_reference_symbolic_target(head.get())) {
    h.ref = target;
    h.branch = std::string(short_ref(target));
  } else {
    h.ref = "HEAD";
  }
  git_object* obj = nullptr;
  int rc = git_revparse_single(&obj, repo, "HEAD^{commit}");
  if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
    git_error_clear();
    return h;
  }
  if (rc != 0) return libgit2_error(rc, "git_commit: read HEAD");
  h.commit.reset(reinterpret_cast<git_commit*>(obj));
  return h;
}

Result<std::vector<CommitPtr>> merge_heads(git_repository* repo) {
  std::vector<git_oid> oids;
  int rc = git_repository_mergehead_foreach(
      repo,
      [](const git_oid* oid, void* payload) {
        static_cast<std::vector<git_oid>*>(payload)->push_back(*oid);
        return 0;
      },
      &oids);
  if (rc != 0) return libgit2_error(rc, "git_commit: read MERGE_HEAD");
  std::vector<CommitPtr> out;
  for (const auto& oid : oids) {
    git_commit* c = nullptr;
    if (int lrc = git_commit_lookup(&c, repo, &oid); lrc != 0) return libgit2_error(lrc, "git_commit: read MERGE_HEAD");
    out.emplace_back(c);
  }
  return out;
}

// The author: the caller's, else (amend) the old commit's, else (during a
// cherry-pick) the picked commit's, else the configured identity.
Result<SignaturePtr> author_for(const Repo& r, const CommitParams& p, const git_commit* amended, int state) {
  if (p.author) return signature_for(Role::kAuthor, p.author->name, p.author->email);
  const git_signature* keep = nullptr;
  CommitPtr picked;
  if (amended) {
    keep = git_commit_author(amended);
  } else if (state == GIT_REPOSITORY_STATE_CHERRYPICK || state == GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE) {
    git_object* obj = nullptr;
    if (git_revparse_single(&obj, r.repo, "CHERRY_PICK_HEAD^{commit}") == 0) {
      picked.reset(reinterpret_cast<git_commit*>(obj));
      keep = git_commit_author(picked.get());
    }
    git_error_clear();
  }
  if (!keep) return identity(r.repo, Role::kAuthor);
  git_signature* dup = nullptr;
  if (int rc = git_signature_dup(&dup, keep); rc != 0) return libgit2_error(rc, "git_commit: copy the author");
  return SignaturePtr(dup);
}

std::string reflog_message(const Head& head, bool amend, bool merge, int state, const std::string& message) {
  std::string kind = "commit";
  if (amend) {
    kind = "commit (amend)";
  } else if (!head.commit) {
    kind = "commit (initial)";
  } else if (merge) {
    kind = "commit (merge)";
  } else if (state == GIT_REPOSITORY_STATE_CHERRYPICK || state == GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE) {
    kind = "commit (cherry-pick)";
  }
  return squash_spaces(kind + ": " + message.substr(0, message.find('\n')));
}

}  // namespace

// `git commit` [--amend] [--allow-empty]: its checks in git's order and with
// git's messages (git.differential compares them), then the tree, the
// parents, the commit, the reflog; kept in git's order rather than split.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> commit(Repo& r, const CommitParams& p) {
  const bool amend = p.amend;
  const bool allow_empty = p.allow_empty;
  const int state = git_repository_state(r.repo);
  const bool merging = state == GIT_REPOSITORY_STATE_MERGE;

  auto fresh = fresh_index(r.repo);
  if (!fresh) return std::move(fresh).error();
  git_index* index = fresh->get();
  if (git_index_has_conflicts(index))
    return make_error(error_code::kConflict,
                      "git_commit: cannot commit with unresolved conflicts in: " + conflicted_paths(index) +
                          ". Edit the files to resolve them, stage them with git_stage, then commit.");

  auto head = read_head(r.repo);
  if (!head) return std::move(head).error();
  if (amend && !head->commit)
    return make_error(error_code::kInvalidParams, "git_commit: nothing to amend: the branch has no commit yet");
  if (amend && merging)
    return make_error(error_code::kConflict,
                      "git_commit: a merge is in progress, it cannot be amended into the last commit; commit the "
                      "merge (without amend) or abort it (git merge --abort)");

  // Parents: HEAD (or, amending, HEAD's parents), then MERGE_HEAD's.
  std::vector<CommitPtr> parents;
  if (amend) {
    for (unsigned i = 0, n = git_commit_parentcount(head->commit.get()); i < n; ++i) {
      git_commit* c = nullptr;
      if (int rc = git_commit_parent(&c, head->commit.get(), i); rc != 0)
        return libgit2_error(rc, "git_commit: read the parents of HEAD");
      parents.emplace_back(c);
    }
  } else if (head->commit) {
    git_commit* c = nullptr;
    git_commit_dup(&c, head->commit.get());
    parents.emplace_back(c);
  }
  if (merging) {
    auto theirs = merge_heads(r.repo);
    if (!theirs) return std::move(theirs).error();
    for (auto& c : *theirs) parents.push_back(std::move(c));
  }

  std::string raw_message;
  if (p.message) {
    raw_message = *p.message;
  } else if (amend) {
    raw_message = git_commit_message(head->commit.get());
  } else if (state != GIT_REPOSITORY_STATE_NONE &&
             ::access((std::string(git_repository_path(r.repo)) + "MERGE_MSG").c_str(), F_OK) == 0) {
    raw_message = read_text(std::string(git_repository_path(r.repo)) + "MERGE_MSG");
  } else {
    return make_error(error_code::kInvalidParams, "git_commit: message is required");
  }
  auto message = clean_message(raw_message);
  if (!message) return std::move(message).error();
  if (message->empty())
    return make_error(error_code::kInvalidParams,
                      "git_commit: the message is empty once blank lines and trailing spaces are removed; give a "
                      "message");

  git_oid tree_id;
  if (int rc = git_index_write_tree(&tree_id, index); rc != 0) return libgit2_error(rc, "git_commit: write the tree");
  if (!allow_empty && !merging) {
    git_oid base{};  // the tree the commit would be compared with: its first parent's, or the empty tree
    if (!parents.empty()) {
      base = *git_commit_tree_id(parents[0].get());
    } else if (git_oid_fromstr(&base, "4b825dc642cb6eb9a060e54bf8d69288fbee4904") != 0) {
      return libgit2_error(-1, "git_commit: empty tree id");
    }
    if (git_oid_equal(&base, &tree_id)) {
      if (amend)
        return make_error(error_code::kInvalidParams,
                          "git_commit: amending would make the last commit empty (its tree would equal its "
                          "parent's); pass allowEmpty to do it anyway");
      return make_error(error_code::kInvalidParams,
                        std::string("git_commit: nothing to commit: ") +
                            (head->commit ? "the staged tree equals HEAD's" : "nothing is staged") +
                            ". Stage changes with git_stage first (git_status shows them), or pass allowEmpty.");
    }
  }

  auto author = author_for(r, p, amend ? head->commit.get() : nullptr, state);
  if (!author) return std::move(author).error();
  auto committer = identity(r.repo, Role::kCommitter);
  if (!committer) return std::move(committer).error();
  if (auto st = r.check_cancel("git_commit"); !st) return st.error();

  git_tree* raw_tree = nullptr;
  if (int rc = git_tree_lookup(&raw_tree, r.repo, &tree_id); rc != 0)
    return libgit2_error(rc, "git_commit: read the tree");
  TreePtr tree(raw_tree);
  std::vector<const git_commit*> parent_ptrs;
  parent_ptrs.reserve(parents.size());
  for (const auto& c : parents) parent_ptrs.push_back(c.get());
  git_oid oid;
  if (int rc = git_commit_create(&oid, r.repo, nullptr, author->get(), committer->get(), nullptr, message->c_str(),
                                 tree.get(), parent_ptrs.size(), parent_ptrs.data());
      rc != 0)
    return libgit2_error(rc, "git_commit: create the commit");

  const std::string summary = subject_of(*message);
  const std::string log = reflog_message(*head, amend, merging, state, *message);
  // The reflog records the committer, as git's does.
  git_repository_set_ident(r.repo, (*committer)->name, (*committer)->email);
  git_reference* moved = nullptr;
  int rc = git_reference_create_matching(&moved, r.repo, head->ref.c_str(), &oid, 1,
                                         head->commit ? git_commit_id(head->commit.get()) : nullptr, log.c_str());
  git_repository_set_ident(r.repo, nullptr, nullptr);
  if (rc != 0) {
    if (rc == GIT_EMODIFIED)
      return make_error(error_code::kConflict, "git_commit: " + head->ref +
                                                   " moved while committing (another git process committed); "
                                                   "nothing was changed, check git_status and try again");
    return write_error(rc, "git_commit: update " + head->ref);
  }
  git_reference_free(moved);
  end_state(r.repo, state);

  json out;
  out["oid"] = oid_hex(oid);
  out["summary"] = summary;
  out["branch"] = head->branch ? json(*head->branch) : json(nullptr);
  out["parents"] = json::array();
  for (const auto& c : parents) out["parents"].push_back(oid_hex(*git_commit_id(c.get())));
  if (amend) out["amended"] = true;
  if (merging) out["merge"] = true;
  if (auto hooks = hooks_present(r); !hooks.empty()) {
    std::string names;
    for (const auto& h : hooks) names += (names.empty() ? "" : ", ") + h;
    out["hooksSkipped"] = hooks;
    out["note"] = "Git hooks were not run (libgit2 does not run hooks): " + names +
                  ". If they matter (formatting, checks), run them yourself and amend.";
  }
  return out;
}

}  // namespace icotes::git
