// git/stage: `git add -A -- <paths>` (git-add(1)) with libgit2's index.
//
// git_index_add_all is not used: it diffs the whole work tree before
// filtering (a 78,000-file tree costs that on every call) and reads paths
// as glob patterns. Instead the index → work tree diff is restricted to the
// literal paths, and each change it reports is applied: added or updated
// when the file exists, removed when it does not.
#include <git2.h>

#include <algorithm>

#include "repo_util.hpp"
#include "worktree_guard.hpp"

namespace icotes::git {
namespace {

// git add refuses, without changing anything, a path that names nothing,
// an untracked path that is ignored (git-add(1): "The following paths are
// ignored by one of your .gitignore files ... Use -f"), and a path through
// a symlink ("pathspec 'link/f' is beyond a symbolic link"): git records
// the link itself, never what lies behind it.
Status check_paths(const Repo& r, git_index* index, const std::vector<std::string>& paths) {
  std::vector<std::string> ignored;
  Landing landing(r);  // the same walk that judges where checkouts write
  for (const auto& rel : paths) {
    if (const std::string leading = landing.of(rel).via_link; !leading.empty()) {
      std::string message = "git_stage: '";
      message += rel;
      message += "' is beyond a symbolic link: '";
      message += leading;
      message += "' is a symlink, and git stages the link itself, not the files it leads to. Stage '";
      message += leading;
      message += "' to record the link, or the path in the directory it points to. Nothing was staged.";
      return make_error(error_code::kInvalidParams, message);
    }
    const bool tracked = index_knows(index, rel);
    if (!tracked && !on_disk(r, rel))
      return make_error(error_code::kNotFound, "git_stage: pathspec '" + rel +
                                                   "' did not match any files (it is neither in the work tree nor "
                                                   "in the index)");
    if (tracked || rel.empty()) continue;
    int is_ignored = 0;
    if (git_ignore_path_is_ignored(&is_ignored, r.repo, rel.c_str()) != 0) git_error_clear();
    if (is_ignored) ignored.push_back(rel);
  }
  if (ignored.empty()) return ok_status();
  std::string list;
  for (const auto& p : ignored) list += (list.empty() ? "" : ", ") + p;
  return make_error(error_code::kInvalidParams,
                    "git_stage: these paths are ignored by a .gitignore (or .git/info/exclude) and are not "
                    "tracked: " +
                        list + ". Nothing was staged. Remove the ignore rule, or stage other paths.");
}

}  // namespace

Result<json> stage(Repo& r, const StageParams& p) {
  auto paths = r.paths(p.paths);
  if (!paths) return std::move(paths).error();
  auto guard = IndexGuard::open(r.repo);
  if (!guard) return std::move(guard).error();
  git_index* index = guard->get();
  if (auto st = check_paths(r, index, *paths); !st) return st.error();

  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
               GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  std::vector<std::string> spec = *paths;
  if (std::find(spec.begin(), spec.end(), "") != spec.end()) spec.clear();  // "." = everything
  StrArray pathspec(spec);
  opts.pathspec = *pathspec.get();
  git_diff* raw = nullptr;
  if (int rc = git_diff_index_to_workdir(&raw, r.repo, index, &opts); rc != 0)
    return libgit2_error(rc, "git_stage: compare the index with the work tree");
  DiffPtr diff(raw);
  if (auto st = r.check_cancel("git_stage"); !st) return st.error();

  std::vector<std::string> affected;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff.get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    std::string path = d->new_file.path;
    // An untracked nested repository is reported as "dir/"; git adds it as
    // a gitlink, as libgit2's add_bypath does for a repository.
    if (!path.empty() && path.back() == '/') path.pop_back();
    const bool exists = d->status != GIT_DELTA_DELETED && on_disk(r, path);
    int rc = exists ? git_index_add_bypath(index, path.c_str()) : git_index_remove_bypath(index, path.c_str());
    if (rc != 0) return libgit2_error(rc, "git_stage: " + std::string(exists ? "add " : "remove ") + path);
    affected.push_back(std::move(path));
  }
  if (!affected.empty()) {
    if (auto st = guard->write("git_stage"); !st) return st.error();
  }
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  return affected_paths(affected, "Nothing to stage: the index already matches the work tree for these paths.");
}

}  // namespace icotes::git
