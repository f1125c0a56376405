// The git service (docs/ARCHITECTURE.md, "Git"): status, diff, log, show,
// blame, branches, stage/unstage, commit, stash, restore, reset, checkout,
// tags and init on libgit2 1.5
// (https://libgit2.org/libgit2/#v1.5.1), never by running `git`.
//
// Results are meant to equal git 2.39's own answers (git-status(1),
// git-diff(1), git-log(1), git-blame(1) ...); the differential test tier
// (tests/git/) compares them, and every deliberate divergence is listed in
// the README ("Git").
//
// Safety: the repository is the one whose work tree is the workspace root,
// discovered with the root's parent as ceiling (GIT_CEILING_DIRECTORIES), so
// nothing outside the root is ever opened. Revisions that could read as
// options (leading '-') or that hold control characters, and paths that
// leave the root (`..`, absolute, through a symlink), are refused with
// kInvalidParams / kOutsideWorkspace before libgit2 sees them.
//
// Threads: one libgit2 repository handle, used under a mutex (libgit2
// objects are not safe to share between threads without one); every
// operation takes it for its whole run. Long operations poll the
// cancellation token between steps.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/cancellation.hpp"
#include "icotes/confine.hpp"
#include "icotes/git_module.hpp"
#include "icotes/git_params.hpp"
#include "icotes/json.hpp"
#include "icotes/result.hpp"

struct git_repository;
struct git_oid;

namespace icotes {
class Progress;
}

namespace icotes::git {

/// Error code for "the workspace has no git repository" and friends.
inline constexpr int kNoRepository = error_code::kNotFound;

/// The last libgit2 error as an Error (`what`: the failing step).
Error libgit2_error(int rc, std::string_view what);

/// Rejects a revision string a client gave: empty, longer than 1024 bytes,
/// starting with '-', holding control characters or whitespace (refnames
/// cannot, git-check-ref-format(1)). Errors: kInvalidParams naming it.
Status check_revision(std::string_view rev);

/// A 40-hex object id as text.
std::string oid_hex(const git_oid& oid);

/// Everything an operation needs while it holds the repository.
struct Repo {
  git_repository* repo;      // never null
  const ConfinedRoot& root;  // the workspace root (== the work tree)
  const CancellationToken& cancel;
  Progress& progress;
  /// The asking client's restrictions (git_module.hpp): what multi-file
  /// results leave out, and what work-tree writes may change.
  Policy policy = {};

  /// A client path → a path relative to the work tree, '/'-separated, ""
  /// for the root. Refuses `..` escapes and absolute paths outside (as
  /// ConfinedRoot::relative, kOutsideWorkspace) and paths that pass through
  /// a symlink leading out of the root. The path need not exist (a deleted
  /// file can be staged).
  Result<std::string> path(std::string_view client_path) const;
  /// Same for a list (params "paths").
  Result<std::vector<std::string>> paths(const std::vector<std::string>& list) const;
  /// Resolves a revision (after check_revision) to an object id; errors
  /// kNotFound "unknown revision 'x'".
  Result<std::string> resolve(std::string_view rev) const;
  /// A cancelled() check that yields the standard error.
  Status check_cancel(std::string_view op) const;
  /// Reports progress (Progress::report; `done`/`total` in the operation's
  /// own units: commits, files; total 0 = unknown), at most every 100 ms.
  void report(std::string_view message, double done, double total = 0) const;

  mutable std::chrono::steady_clock::time_point last_report = {};
};

class Service {
 public:
  explicit Service(const ConfinedRoot& root);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  /// Runs `fn` with the repository open and locked. Opens it on first use
  /// (and again after a failure, so `git init` after start-up is seen).
  /// Errors: kNoRepository "no git repository at the workspace root <path>"
  /// (with the hint to run git init). `policy` is the asking client's
  /// (Repo::policy).
  Result<json> with_repo(const CancellationToken& cancel, Progress& progress,
                         const std::function<Result<json>(Repo&)>& fn, const Policy& policy = {});

  /// `git init` at the workspace root (git-init(1)): a new .git directory
  /// from libgit2's built-in template only (no template directory, so no
  /// hooks or config a template could bring), HEAD on `initialBranch`
  /// (params; default init.defaultBranch, else "master"). A repository
  /// already there is left as it is (created: false). Errors: kConflict
  /// when .git exists and is not a repository whose work tree is the root.
  Result<json> init(const InitParams& params);

  const ConfinedRoot& root() const { return root_; }

 private:
  const ConfinedRoot& root_;
  std::mutex mutex_;
  git_repository* repo_ = nullptr;
};

// The operations, one per row of ICOTES_GIT_OPERATIONS (git_params.hpp):
// `Result<json> status(Repo& r, const StatusParams& params)` and so on, init
// on the Service (Service::init). Params come from a schema-valid call
// (schemas/git/<verb>.json); results are shaped as its "output". Each lives
// in src/services/git/<verb>.cpp. (`Target` and `Params` name types, which
// parentheses cannot wrap: hence the NOLINT.)
#define ICOTES_GIT_DECLARE(verb, Params, Target) \
  Result<json> verb(Target& target, const Params& params);  // NOLINT(bugprone-macro-parentheses)
ICOTES_GIT_OPERATIONS(ICOTES_GIT_DECLARE)
#undef ICOTES_GIT_DECLARE

}  // namespace icotes::git
