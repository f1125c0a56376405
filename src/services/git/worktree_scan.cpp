#include "worktree_scan.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>

#include "icotes/thread_pool.hpp"

namespace icotes::git::detail {
namespace {

using PathspecPtr = std::unique_ptr<git_pathspec, Freer<git_pathspec_free>>;

// The compiled pathspec of `specs`; null (everything) when there are none.
Result<PathspecPtr> pathspec(const std::vector<std::string>& specs) {
  if (specs.empty()) return PathspecPtr();
  std::vector<const char*> v;
  v.reserve(specs.size());
  for (const auto& s : specs) v.push_back(s.c_str());
  git_strarray arr{const_cast<char**>(v.data()), v.size()};
  git_pathspec* p = nullptr;
  if (int rc = git_pathspec_new(&p, &arr); rc != 0) return libgit2_error(rc, "parse paths");
  return PathspecPtr(p);
}

// True when the file may differ from what the index recorded: git's
// ie_match_stat() with core.checkStat=default (type, exec bit, size, mtime,
// ctime, inode, owner), read-cache.c is_racy_timestamp(), and the entries
// whose stat data says nothing (conflicts, intent-to-add, submodules).
bool may_differ(const git_index_entry* e, int root_fd, const struct stat& index_st) {
  if ((e->mode & 0170000) == 0160000) return true;  // a submodule: libgit2 checks its HEAD
  if (e->flags_extended & GIT_INDEX_ENTRY_INTENT_TO_ADD) return true;
  if (GIT_INDEX_ENTRY_STAGE(e) != 0) return true;
  struct stat st {};
  if (::fstatat(root_fd, e->path, &st, AT_SYMLINK_NOFOLLOW) != 0) return true;
  const bool link = (e->mode & 0170000) == 0120000;
  if (link ? !S_ISLNK(st.st_mode) : !S_ISREG(st.st_mode)) return true;
  if (!link && ((e->mode ^ st.st_mode) & 0100)) return true;
  if (e->file_size != static_cast<std::uint32_t>(st.st_size)) return true;
  if (e->mtime.seconds != static_cast<std::int32_t>(st.st_mtim.tv_sec) ||
      e->mtime.nanoseconds != static_cast<std::uint32_t>(st.st_mtim.tv_nsec))
    return true;
  if (e->ctime.seconds != static_cast<std::int32_t>(st.st_ctim.tv_sec) ||
      e->ctime.nanoseconds != static_cast<std::uint32_t>(st.st_ctim.tv_nsec))
    return true;
  if (e->ino != static_cast<std::uint32_t>(st.st_ino) || e->uid != st.st_uid || e->gid != st.st_gid) return true;
  // Racily clean: written in the same instant as the index, so a change
  // since would not show in the stat data.
  const std::int64_t s = e->mtime.seconds;
  return s != index_st.st_mtim.tv_sec ? s > index_st.st_mtim.tv_sec
                                      : static_cast<std::int64_t>(e->mtime.nanoseconds) >= index_st.st_mtim.tv_nsec;
}

}  // namespace

Result<std::vector<std::string>> stat_dirty_paths(const Repo& r, const std::vector<std::string>& specs) {
  git_index* raw = nullptr;
  if (int rc = git_repository_index(&raw, r.repo); rc != 0) return libgit2_error(rc, "read the index");
  IndexPtr index(raw);
  // The repository's index object is shared: bring it up to date with the
  // file first (a no-op when unchanged).
  if (int rc = git_index_read(raw, 0); rc != 0) return libgit2_error(rc, "read the index");
  auto compiled = pathspec(specs);
  if (!compiled) return std::move(compiled).error();
  const PathspecPtr ps = std::move(*compiled);
  return stat_changed_paths(r, raw, [&](const char* path) {
    return !ps || git_pathspec_matches_path(ps.get(), GIT_PATHSPEC_DEFAULT, path) != 0;
  });
}

std::vector<std::string> stat_changed_paths(const Repo& r, git_index* index,
                                            const std::function<bool(const char* path)>& wanted) {
  struct stat index_st {};
  const char* index_path = git_index_path(index);
  if (!index_path || ::stat(index_path, &index_st) != 0) index_st.st_mtim = {0, 0};  // every entry racy
  std::vector<const git_index_entry*> entries;
  const std::size_t n = git_index_entrycount(index);
  entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const git_index_entry* e = git_index_get_byindex(index, i);
    // Skip-worktree (sparse checkout) and assume-unchanged entries: git
    // does not look at their files.
    if (!e || (e->flags & GIT_INDEX_ENTRY_VALID) || (e->flags_extended & GIT_INDEX_ENTRY_SKIP_WORKTREE)) continue;
    if (wanted(e->path)) entries.push_back(e);
  }
  // lstat in parallel (git's preload-index.c: up to 20 threads, at least
  // 500 entries each).
  std::vector<char> flags(entries.size(), 0);
  const std::size_t threads = std::clamp<std::size_t>(entries.size() / 500, 1, hardware_threads(8));
  run_on_threads(threads, [&](std::size_t t) {
    for (std::size_t i = entries.size() * t / threads, end = entries.size() * (t + 1) / threads; i < end; ++i)
      flags[i] = may_differ(entries[i], r.root.fd(), index_st) ? 1 : 0;
  });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (flags[i] && (out.empty() || out.back() != entries[i]->path)) out.emplace_back(entries[i]->path);
  }
  return out;
}

namespace {

// Adds every file under `tree` (prefix "dir/") to `out`.
Status add_all(git_repository* repo, const git_tree* tree, const std::string& prefix, const git_pathspec* ps,
               std::vector<std::string>& out) {
  for (std::size_t i = 0, n = git_tree_entrycount(tree); i < n; ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree, i);
    std::string path = prefix + git_tree_entry_name(e);
    if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
      git_tree* sub = nullptr;
      if (int rc = git_tree_lookup(&sub, repo, git_tree_entry_id(e)); rc != 0) return libgit2_error(rc, "read a tree");
      TreePtr owned(sub);
      if (auto st = add_all(repo, sub, path + "/", ps, out); !st) return st;
    } else if (!ps || git_pathspec_matches_path(ps, GIT_PATHSPEC_DEFAULT, path.c_str())) {
      out.push_back(std::move(path));
    }
  }
  return ok_status();
}

// One recursive walk over two trees in git's path order, whose cases (added,
// removed, changed, a file turned directory) share the walk's position.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Status compare(git_repository* repo, const git_tree* a, const git_tree* b, const std::string& prefix,
               const git_pathspec* ps, std::vector<std::string>& out) {
  auto sub = [&](const git_tree_entry* e, TreePtr& holder) -> Result<git_tree*> {
    if (!e || git_tree_entry_type(e) != GIT_OBJECT_TREE) return static_cast<git_tree*>(nullptr);
    git_tree* t = nullptr;
    if (int rc = git_tree_lookup(&t, repo, git_tree_entry_id(e)); rc != 0) return libgit2_error(rc, "read a tree");
    holder.reset(t);
    return t;
  };
  auto visit = [&](const char* name, const git_tree_entry* ea, const git_tree_entry* eb) -> Status {
    if (ea && eb && git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)) &&
        git_tree_entry_filemode(ea) == git_tree_entry_filemode(eb))
      return ok_status();
    const std::string path = prefix + name;
    TreePtr ha, hb;
    auto ta = sub(ea, ha);
    if (!ta) return std::move(ta).error();
    auto tb = sub(eb, hb);
    if (!tb) return std::move(tb).error();
    // A file on either side (the other side missing, a file, or a tree).
    const bool file_a = ea && !*ta, file_b = eb && !*tb;
    if ((file_a || file_b) && (!ps || git_pathspec_matches_path(ps, GIT_PATHSPEC_DEFAULT, path.c_str())))
      out.push_back(path);
    if (*ta && *tb) return compare(repo, *ta, *tb, path + "/", ps, out);
    if (*ta) return add_all(repo, *ta, path + "/", ps, out);
    if (*tb) return add_all(repo, *tb, path + "/", ps, out);
    return ok_status();
  };
  const std::size_t na = a ? git_tree_entrycount(a) : 0;
  for (std::size_t i = 0; i < na; ++i) {
    const git_tree_entry* ea = git_tree_entry_byindex(a, i);
    const char* name = git_tree_entry_name(ea);
    if (auto st = visit(name, ea, b ? git_tree_entry_byname(b, name) : nullptr); !st) return st;
  }
  const std::size_t nb = b ? git_tree_entrycount(b) : 0;
  for (std::size_t i = 0; i < nb; ++i) {
    const git_tree_entry* eb = git_tree_entry_byindex(b, i);
    const char* name = git_tree_entry_name(eb);
    if (a && git_tree_entry_byname(a, name)) continue;  // seen above
    if (auto st = visit(name, nullptr, eb); !st) return st;
  }
  return ok_status();
}

}  // namespace

Result<std::vector<std::string>> changed_paths(git_repository* repo, git_tree* a, git_tree* b,
                                               const std::vector<std::string>& specs) {
  auto compiled = pathspec(specs);
  if (!compiled) return std::move(compiled).error();
  const PathspecPtr ps = std::move(*compiled);
  std::vector<std::string> out;
  if (auto st = compare(repo, a, b, "", ps.get(), out); !st) return std::move(st).error();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace icotes::git::detail
