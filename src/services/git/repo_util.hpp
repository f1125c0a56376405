// Helpers shared by git status and the write operations (branch, stage,
// unstage, commit, stash): the user's identity, upstream tracking, paging of
// list results and the index guard that keeps a failed write from leaving
// changes in memory.
#pragma once

#include <git2.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handles.hpp"
#include "icotes/git.hpp"

namespace icotes::git {

/// A git_strarray (pathspecs) holding its own copy of the strings, so a
/// temporary list (`StrArray s(cond ? list : {})`) cannot leave it pointing
/// at freed memory. Neither copied nor moved (array_ points into it).
class StrArray {
 public:
  explicit StrArray(std::vector<std::string> items);
  StrArray(const StrArray&) = delete;
  StrArray& operator=(const StrArray&) = delete;
  const git_strarray* get() const { return &array_; }

 private:
  std::vector<std::string> items_;
  std::vector<char*> ptrs_;
  git_strarray array_{};
};

/// The repository's index, reloaded if the file changed on disk (another
/// process, git itself, may have written it).
Result<IndexPtr> fresh_index(git_repository* repo);

/// The repository's index (refreshed from disk when the file changed). On
/// destruction, unless write() succeeded, the in-memory index is reread
/// from disk, so an operation that fails half-way leaves neither the file
/// (libgit2 writes it through index.lock) nor the cached copy changed.
class IndexGuard {
 public:
  static Result<IndexGuard> open(git_repository* repo);
  IndexGuard(IndexGuard&& other) noexcept : index_(std::move(other.index_)), committed_(other.committed_) {}
  IndexGuard& operator=(IndexGuard&&) = delete;
  ~IndexGuard();
  git_index* get() const { return index_.get(); }
  /// Writes the index (through index.lock); errors: kConflict when another
  /// git process holds the lock.
  Status write(std::string_view op);

 private:
  explicit IndexGuard(git_index* index) : index_(index) {}
  IndexPtr index_;
  bool committed_ = false;
};

/// Maps a libgit2 failure of a write to an Error, with the advice git gives
/// for a held index.lock.
Error write_error(int rc, std::string_view what);

enum class Role { kAuthor, kCommitter };

/// The identity git would record for `role` (git-commit-tree(1) "Commit
/// information"): GIT_<ROLE>_NAME / _EMAIL, then <role>.name / .email and
/// user.name / user.email from git config, then EMAIL; the date from
/// GIT_<ROLE>_DATE ("<unix seconds> <+hhmm>", optionally '@'-prefixed, or
/// ISO 8601 "YYYY-MM-DD[T ]HH:MM:SS <+hhmm>") or now. Errors:
/// kInvalidParams saying how to configure the identity.
Result<SignaturePtr> identity(git_repository* repo, Role role);

/// A signature for `name` <`email`> dated as identity() dates `role`;
/// newlines are dropped from both, as git drops them (ident.c). Errors:
/// kInvalidParams for a name or email libgit2 refuses ('<', '>').
Result<SignaturePtr> signature_for(Role role, std::string name, std::string email);

/// The branch's upstream (branch.<name>.remote/.merge), as git status and
/// git branch -vv show it.
struct Upstream {
  std::string name;   // shortened, e.g. "origin/main"
  bool gone = false;  // configured, but the ref does not exist
  std::size_t ahead = 0;
  std::size_t behind = 0;
};
/// The upstream's full ref name ("refs/remotes/origin/main") for
/// `branch_ref`, as git's branch_get_upstream finds it: branch.<name>.merge
/// mapped through the fetch refspecs of remote branch.<name>.remote (or
/// itself for remote "."). nullopt when not configured. Not
/// git_branch_upstream_name: through git_remote_lookup it leaks ~20 KB of
/// PCRE2 match data per call in libgit2 1.5.1 (libgit2#6382), and status
/// asks on every call.
std::optional<std::string> upstream_ref(git_repository* repo, std::string_view branch_ref);

/// nullopt when `branch_ref` ("refs/heads/x") has no upstream configured;
/// `local` is the branch's commit (null on an unborn branch: no counts).
Result<std::optional<Upstream>> upstream_of(git_repository* repo, const char* branch_ref, const git_oid* local);

/// Adds upstream/upstreamGone/ahead/behind members to `out`.
void put_upstream(json& out, const Upstream& up);

/// A page [begin, end) of `total` items for params' limit (default
/// `default_limit`) and cursor (an offset given as nextCursor); with
/// `bytes` (the text item i adds to the page), also ended before the
/// page's text passes `budget` bytes (a page holds at least one item).
/// Errors: kInvalidParams for a cursor that is not one.
struct Page {
  std::size_t begin = 0;
  std::size_t end = 0;
};
Result<Page> page_of(const PagedParams& params, std::size_t total, std::size_t default_limit,
                     std::size_t budget = static_cast<std::size_t>(-1),
                     const std::function<std::size_t(std::size_t)>& bytes = nullptr);

/// Adds total/truncated/nextCursor/note for `page` of `total` `what`
/// ("entries"); the note gives the call that continues (`tool` with
/// `params` as given and the cursor) and `narrow`, how to ask for less
/// ("pass path").
void put_page(json& out, const Page& page, std::size_t total, std::string_view what, std::string_view narrow,
              std::string_view tool, const PagedParams& params);

/// The affected-paths result of stage/unstage: the first 1000 paths,
/// total, truncated, and `none_note` when there are none.
json affected_paths(const std::vector<std::string>& paths, std::string_view none_note);

/// Refuses, as git restore does, a path known neither to the index nor to
/// `source` (HEAD's tree or another, named `source_name` in the message;
/// null: none). Errors: kNotFound "<op>: pathspec 'x' did not match any
/// file known to git ...".
Status check_known_paths(std::string_view op, git_index* index, git_tree* source, std::string_view source_name,
                         const std::vector<std::string>& paths);

/// Resets the index entries under `paths` ("" is all) to `source`'s (null:
/// the empty tree, so they are removed), as `git restore --staged` does;
/// conflicts there are resolved away. Writes nothing to disk (the caller's
/// IndexGuard does). Returns the paths whose entries changed, sorted.
Result<std::vector<std::string>> reset_index_paths(const Repo& r, std::string_view op, git_index* index,
                                                   git_tree* source, const std::vector<std::string>& paths);

/// Whether the index has an entry at `rel` (any stage) or under `rel/`;
/// "" (the whole tree) always matches.
bool index_knows(git_index* index, const std::string& rel);

/// Whether `rel` exists in the work tree (not following a final symlink).
bool on_disk(const Repo& r, const std::string& rel);

/// Up to 10 conflicted paths of the index, for messages: "a, b, c".
std::string conflicted_paths(git_index* index);

/// Tracked paths under `prefix` whose file may differ from its index entry,
/// found by lstat-ing every index entry on a few threads, as git's
/// core.preloadIndex does. libgit2's index → work tree diff walks every
/// directory even when untracked files are not wanted (0.16 s on the Linux
/// tree against git's 0.07 s for -uno); restricted to these paths it only
/// confirms the few that changed. Candidates: stat data (size, mtime, ctime,
/// inode, owner, mode type and exec bit) unlike the index's, racily clean
/// entries (modified no earlier than the index file), conflicts, intent-to-add
/// entries and submodules. Skip-worktree and assume-unchanged entries are
/// left out, as git leaves them. nullopt: too many candidates to be worth a
/// path list (then diff everything).
std::optional<std::vector<std::string>> changed_candidates(const Repo& r, git_index* index, const std::string& prefix);

/// HEAD's tree; null on an unborn branch.
Result<TreePtr> head_tree(git_repository* repo);

/// git log's %s (git-log(1), "subject"): the first paragraph of a commit
/// message, its lines joined by spaces.
std::string subject_of(std::string_view message);

/// A reflog message as git writes one (refs.c, copy_reflog_msg): runs of
/// whitespace, newlines included, become one space; none at either end.
std::string squash_spaces(std::string_view text);

/// "refs/heads/main" → "main", "refs/remotes/origin/x" → "origin/x".
std::string_view short_ref(std::string_view ref);

/// Repository state names for messages ("a merge", "a rebase", ...); empty
/// for GIT_REPOSITORY_STATE_NONE.
std::string_view state_name(int state);

}  // namespace icotes::git
