// git/unstage: `git restore --staged -- <paths>` (git-restore(1)): the
// index entries of the paths are reset to HEAD's; on an unborn branch they
// are removed. The work tree is not touched.
//
// This is git_reset_default's algorithm (reset.c) with the paths taken
// literally: git_reset_default matches them as glob patterns.
#include <git2.h>

#include <algorithm>

#include "repo_util.hpp"

namespace icotes::git {

Status check_known_paths(std::string_view op, git_index* index, git_tree* source, std::string_view source_name,
                         const std::vector<std::string>& paths) {
  for (const auto& rel : paths) {
    if (index_knows(index, rel)) continue;
    git_tree_entry* entry = nullptr;
    if (source && git_tree_entry_bypath(&entry, source, rel.c_str()) == 0) {
      git_tree_entry_free(entry);
      continue;
    }
    git_error_clear();
    return make_error(error_code::kNotFound, std::string(op) + ": pathspec '" + rel +
                                                 "' did not match any file known to git (it is neither in the "
                                                 "index nor in " +
                                                 std::string(source_name) + ")");
  }
  return ok_status();
}

Result<std::vector<std::string>> reset_index_paths(const Repo& r, std::string_view op, git_index* index,
                                                   git_tree* source, const std::vector<std::string>& paths) {
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  std::vector<std::string> spec = paths;
  if (std::find(spec.begin(), spec.end(), "") != spec.end()) spec.clear();  // "." = everything
  StrArray pathspec(spec);
  opts.pathspec = *pathspec.get();
  git_diff* raw = nullptr;
  if (int rc = git_diff_tree_to_index(&raw, r.repo, source, index, &opts); rc != 0)
    return libgit2_error(rc, std::string(op) + ": compare the source with the index");
  DiffPtr diff(raw);
  if (auto st = r.check_cancel(op); !st) return st.error();

  std::vector<std::string> affected;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff.get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff.get(), i);
    const char* path = d->old_file.path;
    if (git_index_conflict_remove(index, path) != 0) git_error_clear();  // none: nothing to drop
    int rc;
    if (d->old_file.mode == 0) {
      rc = git_index_remove(index, path, 0);  // not in the source: no longer staged at all
      if (rc == GIT_ENOTFOUND) rc = 0;        // only conflict stages were there
    } else {
      // Back to the source's blob and mode. Stat data is left empty, so the
      // next status compares the file's content, as after git restore.
      git_index_entry entry{};
      entry.mode = d->old_file.mode;
      entry.id = d->old_file.id;
      entry.path = path;
      rc = git_index_add(index, &entry);
    }
    if (rc != 0) return libgit2_error(rc, std::string(op) + ": reset " + path);
    affected.emplace_back(path);
  }
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  return affected;
}

Result<json> unstage(Repo& r, const UnstageParams& p) {
  auto paths = r.paths(p.paths);
  if (!paths) return std::move(paths).error();
  auto guard = IndexGuard::open(r.repo);
  if (!guard) return std::move(guard).error();
  git_index* index = guard->get();
  auto tree = head_tree(r.repo);
  if (!tree) return std::move(tree).error();
  // git restore refuses a path known neither to the index nor to HEAD.
  if (auto st = check_known_paths("git_unstage", index, tree->get(), "HEAD", *paths); !st) return st.error();
  auto affected = reset_index_paths(r, "git_unstage", index, tree->get(), *paths);
  if (!affected) return std::move(affected).error();
  if (!affected->empty()) {
    if (auto st = guard->write("git_unstage"); !st) return st.error();
  }
  return affected_paths(*affected, "Nothing to unstage: the index already matches HEAD for these paths.");
}

}  // namespace icotes::git
