// The git operations: the one table that names them, and their params.
//
// ICOTES_GIT_OPERATIONS is the only place in the code where a git verb is
// spelled (the other spelling is its schema, schemas/git/<verb>.json). Each
// row X(verb, Params, Target) gives:
// - the operation "git/<verb>", registered with Registry::add<Params> by
//   src/ops/git_ops.cpp, its MCP text rendered by git_text::<verb>
//   (git_text.hpp);
// - the module's entry ModuleApi::<verb> (git_module.hpp), which the
//   registered handler calls;
// - the service function `Result<json> git::<verb>(Target&, const Params&)`
//   (git.hpp), run by that entry: Target is Repo (the repository open and
//   locked) or Service (init, which runs where there is no repository yet).
// Adding a git operation: docs/ARCHITECTURE.md "Adding an operation".
//
// The params structs hold no JSON logic: their from_json lives in
// src/ops/git_json.hpp, on the executable's side; the module gets them
// typed. Every default below is the schema's documented default; a member
// the service must tell apart from its default ("not given": take git's
// config, or the client's cap) is a std::optional.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "icotes/json.hpp"

#define ICOTES_GIT_OPERATIONS(X)    \
  X(status, StatusParams, Repo)     \
  X(diff, DiffParams, Repo)         \
  X(log, LogParams, Repo)           \
  X(show, ShowParams, Repo)         \
  X(blame, BlameParams, Repo)       \
  X(branch, BranchParams, Repo)     \
  X(stage, StageParams, Repo)       \
  X(unstage, UnstageParams, Repo)   \
  X(commit, CommitParams, Repo)     \
  X(stash, StashParams, Repo)       \
  X(restore, RestoreParams, Repo)   \
  X(reset, ResetParams, Repo)       \
  X(checkout, CheckoutParams, Repo) \
  X(tag, TagParams, Repo)           \
  X(init, InitParams, Service)

namespace icotes::git {

/// What a paged listing's params share: a page's note names the call that
/// fetches the next page, which is this call again with a new cursor.
struct PagedParams {
  /// Items per page (the operation's default when absent; an MCP client's
  /// cap on text may cut a page shorter only when absent).
  std::optional<std::size_t> limit;
  /// nextCursor of the previous page, unchanged.
  std::optional<std::string> cursor;
  /// The params as the client sent them (schema-valid): what the next
  /// page's call repeats.
  json given = json::object();
};

/// git/status (git-status(1)).
struct StatusParams : PagedParams {
  std::optional<std::string> path;       // limit to this file or directory
  std::optional<std::string> untracked;  // "no", "normal", "all"; absent: status.showUntrackedFiles, else "normal"
  bool ignored = false;
  std::optional<bool> find_renames;  // absent: status.renames, else diff.renames
};

/// git/diff (git-diff(1)): the work tree against the index, the index
/// against HEAD ("staged"), or two revisions.
struct DiffParams : PagedParams {
  /// Target {from, to}: two revisions.
  struct Revisions {
    std::string from;
    std::optional<std::string> to;  // absent: the work tree
  };
  bool staged = false;                 // target "staged": the index against HEAD
  std::optional<Revisions> revisions;  // neither: target "worktree", the work tree against the index
  std::vector<std::string> paths;
  std::uint32_t context_lines = 3;  // -U
  bool stat = false;
  bool name_only = false;
  std::optional<bool> find_renames;      // absent: diff.renames
  std::optional<std::size_t> max_bytes;  // text per page (bytes)
};

/// git/log (git-log(1)).
struct LogParams : PagedParams {
  std::string rev = "HEAD";
  std::vector<std::string> paths;
  std::size_t skip = 0;
  std::optional<std::string> author;  // a POSIX extended regex on "name <email>"
  std::optional<std::string> grep;    // a POSIX extended regex on the message
  std::optional<std::string> since;   // a date as git-log(1) takes it
  std::optional<std::string> until;
  bool body = false;
};

/// git/show (git-show(1)): a commit with its patch, or one file at a revision.
struct ShowParams : PagedParams {
  std::string rev = "HEAD";
  std::optional<std::string> path;
  std::uint32_t context_lines = 3;
  std::optional<bool> find_renames;
  std::optional<std::size_t> max_bytes;  // text per page (bytes)
};

/// git/blame (git-blame(1)).
struct BlameParams : PagedParams {
  std::string path;
  std::optional<std::string> rev;  // absent: the work tree's file
  std::optional<std::size_t> start_line;
  std::optional<std::size_t> end_line;
};

/// git/branch (git-branch(1), git-switch(1)).
struct BranchParams : PagedParams {
  std::string action;  // "list", "create", "delete", "switch"
  std::optional<std::string> name;
  std::string start_point = "HEAD";
  bool force = false;
};

/// git/stage (git-add(1)).
struct StageParams {
  std::vector<std::string> paths;
};

/// git/unstage (git-restore(1) --staged).
struct UnstageParams {
  std::vector<std::string> paths;
};

/// git/commit (git-commit(1)).
struct CommitParams {
  struct Author {
    std::string name;
    std::string email;
  };
  std::optional<std::string> message;  // absent: only with amend (keeps the old message)
  bool amend = false;
  bool allow_empty = false;
  std::optional<Author> author;  // absent: the configured user
};

/// git/stash (git-stash(1)).
struct StashParams : PagedParams {
  std::string action;  // "push", "pop", "list", "drop"
  std::optional<std::string> message;
  std::size_t index = 0;  // stash@{index}
  bool include_untracked = false;
  bool keep_index = false;
  bool reinstate_index = false;
};

/// git/restore (git-restore(1)).
struct RestoreParams {
  std::vector<std::string> paths;
  bool staged = false;
  std::optional<bool> worktree;    // absent: !staged
  std::optional<std::string> rev;  // absent: the index (or HEAD with staged)
};

/// git/reset (git-reset(1)).
struct ResetParams {
  std::string rev = "HEAD";
  std::string mode = "mixed";  // "soft", "mixed", "hard"
};

/// git/checkout (git-checkout(1) of a revision).
struct CheckoutParams {
  std::string rev;
  bool force = false;
};

/// git/tag (git-tag(1)).
struct TagParams : PagedParams {
  std::string action = "list";  // "list", "create", "delete"
  std::optional<std::string> name;
  std::string rev = "HEAD";
  std::optional<std::string> message;  // given: an annotated tag
  bool force = false;
  std::string pattern;  // list: a glob (fnmatch)
};

/// git/init (git-init(1)).
struct InitParams {
  std::optional<std::string> initial_branch;  // absent: init.defaultBranch, else "master"
};

}  // namespace icotes::git
