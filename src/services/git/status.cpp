// git/status: `git status --porcelain=v2 --branch` (git-status(1),
// "Porcelain Format Version 2") as JSON, from libgit2's HEAD → index and
// index → work tree diffs.
#include <dirent.h>
#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "commit_format.hpp"
#include "icotes/git_text.hpp"
#include "repo_util.hpp"
#include "similarity.hpp"

namespace icotes::git {
namespace {

enum class Kind { kChanged, kRenamed, kUnmerged, kUntracked, kIgnored };

constexpr const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kChanged:
      return "changed";
    case Kind::kRenamed:
      return "renamed";
    case Kind::kUnmerged:
      return "unmerged";
    case Kind::kUntracked:
      return "untracked";
    case Kind::kIgnored:
      return "ignored";
  }
  return "changed";
}

struct Entry {
  std::string path;
  std::string orig_path;  // renamed entries
  int score = 0;          // renamed entries: similarity in percent
  char index = '.';
  char worktree = '.';
  Kind kind = Kind::kChanged;
  bool submodule = false;
  unsigned submodule_flags = 0;  // git_submodule_status_t

  // git prints changed and renamed entries, then unmerged ones, then
  // untracked, then ignored, each group sorted by path with strcmp
  // (wt-status.c, wt_porcelain_v2_print: one pass over the sorted change
  // list for the entries without conflict stages, one for those with).
  int group() const {
    switch (kind) {
      case Kind::kChanged:
      case Kind::kRenamed:
        return 0;
      case Kind::kUnmerged:
        return 1;
      case Kind::kUntracked:
        return 2;
      case Kind::kIgnored:
        return 3;
    }
    return 0;
  }
};

char index_letter(const git_diff_delta* d) {
  if (!d) return '.';
  switch (d->status) {
    case GIT_DELTA_ADDED:
      return 'A';
    case GIT_DELTA_DELETED:
      return 'D';
    case GIT_DELTA_MODIFIED:
      return 'M';
    case GIT_DELTA_RENAMED:
      return 'R';
    case GIT_DELTA_COPIED:
      return 'C';
    case GIT_DELTA_TYPECHANGE:
      return 'T';
    default:
      return '.';
  }
}

char worktree_letter(const git_diff_delta* d) {
  if (!d) return '.';
  switch (d->status) {
    case GIT_DELTA_MODIFIED:
      return 'M';
    case GIT_DELTA_DELETED:
      return 'D';
    case GIT_DELTA_TYPECHANGE:
      return 'T';
    default:
      return '.';
  }
}

// The XY of an unmerged entry from which stages exist (wt-status.c,
// unmerged_mask → "DD", "AU", "UD", "UA", "DU", "AA", "UU").
std::pair<char, char> unmerged_letters(git_index* index, const char* path) {
  const git_index_entry *ancestor = nullptr, *ours = nullptr, *theirs = nullptr;
  if (git_index_conflict_get(&ancestor, &ours, &theirs, index, path) != 0) {
    git_error_clear();
    return {'U', 'U'};
  }
  const int mask = (ancestor ? 1 : 0) | (ours ? 2 : 0) | (theirs ? 4 : 0);
  static constexpr const char* kCodes[8] = {"UU", "DD", "AU", "UD", "UA", "DU", "AA", "UU"};
  return {kCodes[mask][0], kCodes[mask][1]};
}

bool is_gitlink(const git_diff_delta* d) {
  return d && (d->old_file.mode == GIT_FILEMODE_COMMIT || d->new_file.mode == GIT_FILEMODE_COMMIT);
}

struct Options {
  std::string path;  // "" = everything
  std::string untracked = "normal";
  bool ignored = false;
  bool renames = true;
};

// Defaults git takes from config when the caller does not say:
// status.showUntrackedFiles, and status.renames falling back to
// diff.renames (any value but false means on; git-config(1)).
void config_defaults(git_repository* repo, const StatusParams& p, Options& o) {
  git_config* raw = nullptr;
  if (git_repository_config_snapshot(&raw, repo) != 0) {
    git_error_clear();
    return;
  }
  ConfigPtr cfg(raw);
  auto get = [&](const char* key) -> std::optional<std::string> {
    git_config_entry* e = nullptr;
    if (git_config_get_entry(&e, cfg.get(), key) != 0) {
      git_error_clear();
      return std::nullopt;
    }
    std::string v = e->value ? e->value : "true";  // a bare "key" line is true
    git_config_entry_free(e);
    return v;
  };
  if (!p.untracked) {
    if (auto v = get("status.showUntrackedFiles")) {
      if (*v == "no" || *v == "all" || *v == "normal") o.untracked = *v;
    }
  }
  if (!p.find_renames) {
    auto v = get("status.renames");
    if (!v) v = get("diff.renames");
    if (v) {
      int b = 0;
      o.renames = git_config_parse_bool(&b, v->c_str()) != 0 || b != 0;
      git_error_clear();
    }
  }
}

// Whether refreshed stat data may be written back to the index. git status
// does the same when it can take the lock (repo_update_index_if_able); a
// read-only repository or a held lock just means racy entries are hashed
// again next time.
bool can_update_index(git_repository* repo) {
  const char* gitdir = git_repository_path(repo);
  if (!gitdir || ::access(gitdir, W_OK) != 0) return false;
  const std::string lock = std::string(gitdir) + "index.lock";
  return ::access(lock.c_str(), F_OK) != 0;
}

Result<json> branch_header(git_repository* repo) {
  json b;
  b["head"] = nullptr;
  b["oid"] = nullptr;
  b["detached"] = false;
  git_reference* raw = nullptr;
  int rc = git_repository_head(&raw, repo);
  ReferencePtr head(raw);
  if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND) {
    git_error_clear();
    // Unborn: HEAD names a branch that has no commit yet.
    if (git_reference_lookup(&raw, repo, "HEAD") == 0) {
      ReferencePtr sym(raw);
      if (const char* target = git_reference_symbolic_target(sym.get())) b["head"] = std::string(short_ref(target));
    } else {
      git_error_clear();
    }
    return b;
  }
  if (rc != 0) return libgit2_error(rc, "read HEAD");
  const git_oid* oid = git_reference_target(head.get());
  if (oid) b["oid"] = oid_hex(*oid);
  if (git_repository_head_detached(repo) == 1) {
    b["detached"] = true;
    return b;
  }
  b["head"] = std::string(short_ref(git_reference_name(head.get())));
  auto up = upstream_of(repo, git_reference_name(head.get()), oid);
  if (!up) return std::move(up).error();
  if (*up) put_upstream(b, **up);
  return b;
}

// Flags for the index → work tree diff, as git_status_list_new sets them.
unsigned workdir_flags(const Options& o) {
  unsigned flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  // Ignored entries are asked for even without --ignored: a nested
  // repository without files is among them (see holds_untracked_repo); the
  // rest are dropped. git status --ignored lists nothing ignored with -uno,
  // and each ignored file (not the directory) with -uall.
  if (o.untracked != "no") flags |= GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_INCLUDE_IGNORED;
  if (o.untracked == "all") flags |= GIT_DIFF_RECURSE_UNTRACKED_DIRS;
  if (o.ignored && o.untracked == "all") flags |= GIT_DIFF_RECURSE_IGNORED_DIRS;
  return flags;
}

Result<DiffPtr> diff_head_to_index(git_repository* repo, git_index* index, const std::vector<std::string>& paths) {
  auto tree = head_tree(repo);
  if (!tree) return std::move(tree).error();
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  StrArray pathspec(paths);
  opts.pathspec = *pathspec.get();
  git_diff* raw = nullptr;
  if (int rc = git_diff_tree_to_index(&raw, repo, tree->get(), index, &opts); rc != 0)
    return libgit2_error(rc, "git status: compare HEAD with the index");
  return DiffPtr(raw);
}

// Paths the index → work tree diff walked past without a delta: libgit2
// passes over the ignored files inside an ignored directory that holds
// tracked files ("build/" with a tracked build/.gitkeep) unless it expands
// every ignored directory, where git status --ignored lists each of them
// (dir.c reads a directory the index has). The progress callback sees
// every work tree item the diff steps through; the ones in neither the
// index nor the diff are those files.
int note_unmatched(const git_diff*, const char* old_path, const char* new_path, void* payload) {
  if (new_path && (!old_path || std::strcmp(old_path, new_path) != 0))
    static_cast<std::vector<std::string>*>(payload)->emplace_back(new_path);
  return 0;
}

Result<DiffPtr> diff_index_to_workdir(git_repository* repo, git_index* index, unsigned flags,
                                      const std::vector<std::string>& paths,
                                      std::vector<std::string>* passed = nullptr) {
  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.flags = flags;
  StrArray pathspec(paths);
  opts.pathspec = *pathspec.get();
  if (passed) {
    passed->clear();
    opts.progress_cb = note_unmatched;
    opts.payload = passed;
  }
  git_diff* raw = nullptr;
  if (int rc = git_diff_index_to_workdir(&raw, repo, index, &opts); rc != 0)
    return libgit2_error(rc, "git status: compare the index with the work tree");
  return DiffPtr(raw);
}

// Whether a directory entry is a directory (not following symlinks).
bool entry_is_dir(DIR* dir, const dirent* e) {
  if (e->d_type != DT_UNKNOWN) return e->d_type == DT_DIR;
  struct stat st {};
  return ::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Whether the directory `rel` of the work tree holds anything git lists: a
// file or symlink, or a nested repository (a ".git" entry), at any depth.
// In normal untracked mode git hides a directory without any
// (dir.c, DIR_HIDE_EMPTY_DIRECTORIES), which libgit2 reports as ignored.
bool has_content(int parent_fd, const char* rel) {
  const int fd = ::openat(parent_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return false;
  }
  bool found = false;
  while (!found) {
    const dirent* e = ::readdir(dir);
    if (!e) break;
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    found = !entry_is_dir(dir, e) || std::strcmp(e->d_name, ".git") == 0 || has_content(::dirfd(dir), e->d_name);
  }
  ::closedir(dir);
  return found;
}

bool is_directory(const Repo& r, const std::string& rel) {
  struct stat st {};
  return ::fstatat(r.root.fd(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Whether `path` is a directory entry ("a/b/") with nothing git lists in it.
bool is_empty_dir(const Repo& r, const std::string& path) {
  return !path.empty() && path.back() == '/' && !has_content(r.root.fd(), path.substr(0, path.size() - 1).c_str());
}

bool excluded(const Repo& r, const std::string& path) {
  int ignored = 0;
  if (git_ignore_path_is_ignored(&ignored, r.repo, path.c_str()) != 0) git_error_clear();
  return ignored != 0;
}

// Looks in the directory `rel`, open as `fd` (closed here), and below it for
// a nested repository (a ".git" entry) that no ignore rule covers;
// `checked`: `rel` is known not to be ignored.
bool find_untracked_repo(const Repo& r, int fd, const std::string& rel, bool checked) {
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return false;
  }
  bool repo = false;
  std::vector<std::string> subdirs;
  while (const dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (std::strcmp(e->d_name, ".git") == 0) {
      repo = true;
      break;
    }
    if (entry_is_dir(dir, e)) subdirs.emplace_back(e->d_name);
  }
  // An ignored repository is not looked into: git shows it as ignored.
  bool found = repo && (checked || !excluded(r, rel));
  for (std::size_t i = 0; !repo && !found && i < subdirs.size(); ++i) {
    const int sub = ::openat(::dirfd(dir), subdirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) found = find_untracked_repo(r, sub, rel + "/" + subdirs[i], false);
  }
  ::closedir(dir);
  return found;
}

// Whether the directory `rel` ("a/b"), which libgit2 reports as ignored, is
// one git lists as untracked: not ignored itself, and holding a nested
// repository no ignore rule covers, `rel` itself included. git lists a
// nested repository as one untracked entry ("? a/b/"; dir.c,
// treat_directory); libgit2 looks inside, and when it finds no file there
// (a fresh `git init`) reports it, and a directory holding only it, as
// ignored.
bool holds_untracked_repo(const Repo& r, const std::string& rel) {
  if (excluded(r, rel)) return false;
  const int fd = ::openat(r.root.fd(), rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd >= 0 && find_untracked_repo(r, fd, rel, true);
}

// An ignored directory entry ("a/b/") that holds_untracked_repo() says is untracked.
bool untracked_repo_entry(const Repo& r, const std::string& path) {
  return !path.empty() && path.back() == '/' && holds_untracked_repo(r, path.substr(0, path.size() - 1));
}

// git status --ignored (normal untracked mode) shows a wholly untracked
// directory as "? dir/" and still lists what is ignored inside it: ignored
// files, ignored directories ("! dir/build/") and directories holding
// nothing but ignored files ("! dir/sub/"; dir.c, treat_directory pops their
// entries). libgit2 does not look inside; look again, in those directories
// only, and group the ignored paths found as git does. One walk in dir.c's
// order, whose output git.differential compares with git's.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Status add_ignored_in_untracked_dirs(const Repo& r, git_index* index, std::vector<Entry>& entries) {
  std::vector<std::string> dirs;
  // Directories ("a/b/") that hold an untracked file or repository, which
  // git shows by their contents rather than as one ignored directory.
  std::unordered_set<std::string> busy;
  const auto mark_busy = [&](const std::string& path) {  // every "dir/" prefix, path itself included
    for (std::size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1))
      busy.insert(path.substr(0, pos + 1));
  };
  for (const Entry& e : entries) {
    if (e.kind == Kind::kUntracked && !e.path.empty() && e.path.back() == '/') {
      dirs.push_back(e.path.substr(0, e.path.size() - 1));
      mark_busy(e.path);
    }
  }
  if (dirs.empty()) return ok_status();
  auto diff = diff_index_to_workdir(r.repo, index,
                                    GIT_DIFF_DISABLE_PATHSPEC_MATCH | GIT_DIFF_INCLUDE_UNTRACKED |
                                        GIT_DIFF_RECURSE_UNTRACKED_DIRS | GIT_DIFF_INCLUDE_IGNORED,
                                    dirs);
  if (!diff) return std::move(diff).error();
  std::vector<std::string> ignored;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff->get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff->get(), i);
    if (d->status == GIT_DELTA_UNTRACKED) mark_busy(d->new_file.path);
    if (d->status != GIT_DELTA_IGNORED) continue;
    if (untracked_repo_entry(r, d->new_file.path))
      mark_busy(d->new_file.path);
    else
      ignored.emplace_back(d->new_file.path);
  }
  std::unordered_set<std::string> shown;
  for (std::string& path : ignored) {
    if (is_empty_dir(r, path)) continue;
    Entry e;
    e.kind = Kind::kIgnored;
    e.index = e.worktree = '!';
    e.path = std::move(path);
    // The outermost directory on the way that holds nothing untracked
    // stands for everything ignored below it.
    for (std::size_t pos = e.path.find('/'); pos != std::string::npos && pos + 1 < e.path.size();
         pos = e.path.find('/', pos + 1)) {
      if (!busy.count(e.path.substr(0, pos + 1))) {
        e.path.resize(pos + 1);
        break;
      }
    }
    if (shown.insert(e.path).second) entries.push_back(std::move(e));
  }
  return ok_status();
}

// Adds the ignored files among what note_unmatched() collected.
void add_passed_over_ignored(git_index* index, git_diff* diff, std::vector<std::string>& passed,
                             std::vector<Entry>& entries) {
  std::sort(passed.begin(), passed.end());
  passed.erase(std::unique(passed.begin(), passed.end()), passed.end());
  std::erase_if(passed, [&](const std::string& path) { return path.back() == '/' || index_knows(index, path); });
  if (passed.empty() || !diff) return;
  std::unordered_set<std::string_view> listed;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff); i < n; ++i)
    listed.insert(git_diff_get_delta(diff, i)->new_file.path);
  for (std::string& path : passed) {
    if (listed.count(path)) continue;
    Entry e;
    e.kind = Kind::kIgnored;
    e.index = e.worktree = '!';
    e.path = std::move(path);
    entries.push_back(std::move(e));
  }
}

// git status -- PATH, with PATH a path the index has nothing at or under,
// in normal untracked mode. git reads the untracked directories on the way
// to PATH (dir.c, leading pathspec) but stops at an ignored one and shows
// it whole ("! build/" for -- build/out/bin), and shows a directory PATH as
// it shows it listed from its parent: "? PATH/" when something in it is
// untracked, "! PATH/" (--ignored) when everything in it is ignored,
// nothing when it is empty. libgit2, restricted to PATH, takes the tracked
// directories on the way for untracked ones and reports nothing. Adds that
// entry and returns true, or returns false when PATH is a file (or does not
// exist) under no ignored directory: then a diff that descends to it, as
// for untracked "all", gives git's answer.
Result<bool> add_untracked_target(const Repo& r, git_index* index, const Options& o, std::vector<Entry>& entries) {
  const bool is_dir = is_directory(r, o.path);
  // The directories on the way, outermost first, from the first one the index has nothing in.
  std::vector<std::string> dirs;
  for (std::size_t slash = o.path.find('/'); slash != std::string::npos; slash = o.path.find('/', slash + 1)) {
    if (dirs.empty() && index_knows(index, o.path.substr(0, slash))) continue;
    dirs.push_back(o.path.substr(0, slash));
  }
  if (is_dir) dirs.push_back(o.path);
  const auto add = [&](const std::string& dir, Kind kind) {
    Entry e;
    e.kind = kind;
    e.path = dir + "/";
    e.index = e.worktree = kind == Kind::kIgnored ? '!' : '?';
    entries.push_back(std::move(e));
  };
  for (const std::string& dir : dirs) {
    if (!excluded(r, dir)) continue;
    if (o.ignored && has_content(r.root.fd(), dir.c_str())) add(dir, Kind::kIgnored);
    return true;
  }
  if (!is_dir) return false;
  auto diff = diff_index_to_workdir(r.repo, index,
                                    GIT_DIFF_DISABLE_PATHSPEC_MATCH | GIT_DIFF_INCLUDE_UNTRACKED |
                                        GIT_DIFF_RECURSE_UNTRACKED_DIRS | GIT_DIFF_INCLUDE_IGNORED,
                                    {o.path});
  if (!diff) return std::move(diff).error();
  bool ignored = false;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff->get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff->get(), i);
    if (d->status == GIT_DELTA_UNTRACKED ||
        (d->status == GIT_DELTA_IGNORED && untracked_repo_entry(r, d->new_file.path))) {
      add(o.path, Kind::kUntracked);
      return true;
    }
    if (d->status == GIT_DELTA_IGNORED && !ignored) ignored = !is_empty_dir(r, d->new_file.path);
  }
  if (ignored && o.ignored) add(o.path, Kind::kIgnored);
  return true;
}

// Whether a submodule differs from its index entry in the work tree (any of
// porcelain v2's C, M, U).
bool submodule_changed(unsigned flags) {
  return (flags & (GIT_SUBMODULE_STATUS_WD_MODIFIED | GIT_SUBMODULE_STATUS_WD_INDEX_MODIFIED |
                   GIT_SUBMODULE_STATUS_WD_WD_MODIFIED | GIT_SUBMODULE_STATUS_WD_ADDED |
                   GIT_SUBMODULE_STATUS_WD_DELETED | GIT_SUBMODULE_STATUS_WD_UNTRACKED)) != 0;
}

// Appends the porcelain v2 entries for a path's HEAD → index and index →
// work tree changes (either may be null): usually one; two when a path
// deleted from the index is back in the work tree as an untracked or
// ignored file (git lists "D." and "?" / "!"). A table of git's porcelain
// v2 cases, kept as one piece so each reads against git-status(1).
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void add_entries(git_repository* repo, git_index* index, const git_diff_delta* h2i, const git_diff_delta* i2w,
                 const Options& o, std::vector<Entry>& out) {
  Entry e;
  if ((h2i && h2i->status == GIT_DELTA_CONFLICTED) || (i2w && i2w->status == GIT_DELTA_CONFLICTED)) {
    e.kind = Kind::kUnmerged;
    e.path = (i2w ? i2w : h2i)->new_file.path;
    std::tie(e.index, e.worktree) = unmerged_letters(index, e.path.c_str());
    out.push_back(std::move(e));
    return;
  }
  if (i2w && (i2w->status == GIT_DELTA_IGNORED || i2w->status == GIT_DELTA_UNTRACKED)) {
    Entry u;
    u.kind = i2w->status == GIT_DELTA_IGNORED ? Kind::kIgnored : Kind::kUntracked;
    u.path = i2w->new_file.path;
    u.index = u.worktree = u.kind == Kind::kIgnored ? '!' : '?';
    out.push_back(std::move(u));
    if (!h2i) return;
    i2w = nullptr;
  }
  e.index = index_letter(h2i);
  e.worktree = worktree_letter(i2w);
  e.path = (h2i ? h2i : i2w)->new_file.path;
  if (e.index == 'A') {
    // `git add -N` (intent to add): git shows ".A" (".D" once the file is
    // gone), where libgit2 sees an added empty blob.
    const git_index_entry* ie = git_index_get_bypath(index, e.path.c_str(), 0);
    if (ie && (ie->flags_extended & GIT_INDEX_ENTRY_INTENT_TO_ADD)) {
      e.index = '.';
      e.worktree = e.worktree == 'D' ? 'D' : 'A';
    }
  }
  if (is_gitlink(h2i) || is_gitlink(i2w)) {
    e.submodule = true;
    git_submodule* sm = nullptr;
    unsigned flags = 0;
    if (git_submodule_lookup(&sm, repo, e.path.c_str()) == 0) {
      if (git_submodule_status(&flags, repo, git_submodule_name(sm), GIT_SUBMODULE_IGNORE_UNSPECIFIED) == 0)
        e.submodule_flags = flags;
      git_submodule_free(sm);
    }
    git_error_clear();
    // Like git status -uno, untracked files inside a submodule do not count
    // then (wt-status.c: ignore_untracked_in_submodules).
    if (o.untracked == "no") {
      e.submodule_flags &= ~static_cast<unsigned>(GIT_SUBMODULE_STATUS_WD_UNTRACKED);
      if (!submodule_changed(e.submodule_flags)) e.worktree = '.';
    }
  }
  if (e.index != '.' || e.worktree != '.') out.push_back(std::move(e));
}

// Staged renames, found as git status finds them (git's similarity, see
// similarity.hpp) between the paths added to and deleted from the index:
// the added entry becomes the renamed one, the deleted one goes.
Status find_renames(git_repository* repo, git_diff* diff, std::vector<Entry>& entries) {
  const auto staged = [](const Entry& e, char letter) {
    return e.kind == Kind::kChanged && e.index == letter && !e.submodule;
  };
  if (std::none_of(entries.begin(), entries.end(), [&](const Entry& e) { return staged(e, 'A'); }) ||
      std::none_of(entries.begin(), entries.end(), [&](const Entry& e) { return staged(e, 'D'); }))
    return ok_status();
  const git_diff_similarity_metric metric = detail::git_similarity_metric(repo);
  const git_diff_find_options find = detail::git_rename_options(&metric);
  if (int rc = git_diff_find_similar(diff, &find); rc != 0) return libgit2_error(rc, "find renames");
  std::unordered_map<std::string, std::pair<std::string, int>> renamed;  // new path → (old path, score)
  std::unordered_set<std::string> sources;
  for (std::size_t i = 0, n = git_diff_num_deltas(diff); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->status != GIT_DELTA_RENAMED) continue;
    renamed[d->new_file.path] = {d->old_file.path, static_cast<int>(d->similarity)};
    sources.insert(d->old_file.path);
  }
  if (renamed.empty()) return ok_status();
  std::erase_if(entries, [&](const Entry& e) { return staged(e, 'D') && sources.count(e.path); });
  for (Entry& e : entries) {
    if (!staged(e, 'A')) continue;
    auto it = renamed.find(e.path);
    if (it == renamed.end()) continue;
    e.kind = Kind::kRenamed;
    e.index = 'R';
    e.orig_path = it->second.first;
    e.score = it->second.second;
  }
  return ok_status();
}

json entry_json(const Entry& e) {
  json j;
  j["path"] = e.path;
  if (e.kind == Kind::kRenamed) {
    j["origPath"] = e.orig_path;
    j["score"] = e.score;
  }
  j["index"] = std::string(1, e.index);
  j["worktree"] = std::string(1, e.worktree);
  j["kind"] = kind_name(e.kind);
  if (e.submodule) {
    j["submodule"] = {{"commitChanged", (e.submodule_flags & GIT_SUBMODULE_STATUS_WD_MODIFIED) != 0},
                      {"modified", (e.submodule_flags & (GIT_SUBMODULE_STATUS_WD_INDEX_MODIFIED |
                                                         GIT_SUBMODULE_STATUS_WD_WD_MODIFIED)) != 0},
                      {"untracked", (e.submodule_flags & GIT_SUBMODULE_STATUS_WD_UNTRACKED) != 0}};
  }
  return j;
}

}  // namespace

// `git status --porcelain=v2 --branch` with its options: the
// entries in git's order and the text git prints (compared byte for byte by
// git.differential); kept in git's order rather than restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> status(Repo& r, const StatusParams& p) {
  Options o;
  if (p.path) {
    auto rel = r.path(*p.path);
    if (!rel) return std::move(rel).error();
    o.path = std::move(*rel);
  }
  config_defaults(r.repo, p, o);
  o.untracked = p.untracked.value_or(o.untracked);
  o.ignored = p.ignored;
  o.renames = p.find_renames.value_or(o.renames);
  if (auto st = r.check_cancel("git_status"); !st) return st.error();

  auto branch = branch_header(r.repo);
  if (!branch) return std::move(branch).error();

  auto fresh = fresh_index(r.repo);
  if (!fresh) return std::move(fresh).error();
  git_index* index = fresh->get();

  std::vector<std::string> spec;
  if (!o.path.empty()) spec.push_back(o.path);
  auto h2i = diff_head_to_index(r.repo, index, spec);
  if (!h2i) return std::move(h2i).error();
  if (auto st = r.check_cancel("git_status"); !st) return st.error();
  r.report("compared HEAD with the index; comparing the index with the work tree", 1, 2);

  // Without untracked files, only paths whose stat data changed need a look.
  std::optional<std::vector<std::string>> candidates;
  if (o.untracked == "no") candidates = changed_candidates(r, index, o.path);
  // A path the index has nothing at or under, in normal untracked mode: see
  // add_untracked_target.
  const bool untracked_target = !o.path.empty() && o.untracked == "normal" && !index_knows(index, o.path);
  std::vector<Entry> entries;
  bool answered = false;
  if (untracked_target) {
    auto done = add_untracked_target(r, index, o, entries);
    if (!done) return std::move(done).error();
    answered = *done;
  }
  Result<DiffPtr> i2w = DiffPtr();
  std::vector<std::string> passed;  // see note_unmatched()
  if (!answered && (!candidates || !candidates->empty())) {
    const std::vector<std::string>& wspec = candidates ? *candidates : spec;
    unsigned flags = workdir_flags(o);
    if (untracked_target) flags |= GIT_DIFF_RECURSE_UNTRACKED_DIRS | (o.ignored ? GIT_DIFF_RECURSE_IGNORED_DIRS : 0);
    const bool update = can_update_index(r.repo);
    std::vector<std::string>* note = o.ignored && o.untracked == "normal" ? &passed : nullptr;
    i2w = diff_index_to_workdir(r.repo, index, flags | (update ? GIT_DIFF_UPDATE_INDEX : 0), wspec, note);
    if (!i2w && update) i2w = diff_index_to_workdir(r.repo, index, flags, wspec, note);  // the write back failed
    if (!i2w) return std::move(i2w).error();
  }
  if (auto st = r.check_cancel("git_status"); !st) return st.error();

  // Pair the two sides by path, as git_status_list_new does.
  std::unordered_map<std::string_view, const git_diff_delta*> staged;
  for (std::size_t i = 0, n = git_diff_num_deltas(h2i->get()); i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(h2i->get(), i);
    staged.emplace(d->new_file.path, d);
  }
  for (std::size_t i = 0, n = i2w->get() ? git_diff_num_deltas(i2w->get()) : 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(i2w->get(), i);
    const git_diff_delta* s = nullptr;
    if (auto it = staged.find(d->old_file.path); it != staged.end()) {
      s = it->second;
      staged.erase(it);
    }
    add_entries(r.repo, index, s, d, o, entries);
  }
  for (const auto& [path, d] : staged) add_entries(r.repo, index, d, nullptr, o, entries);
  if (o.renames) {
    if (auto st = find_renames(r.repo, h2i->get(), entries); !st) return st.error();
  }
  for (Entry& e : entries) {
    if (e.kind == Kind::kIgnored && untracked_repo_entry(r, e.path)) {
      e.kind = Kind::kUntracked;
      e.index = e.worktree = '?';
    }
  }
  if (!o.ignored) std::erase_if(entries, [](const Entry& e) { return e.kind == Kind::kIgnored; });
  if (o.ignored && o.untracked == "normal") {
    add_passed_over_ignored(index, i2w->get(), passed, entries);
    std::erase_if(entries, [&](const Entry& e) { return e.kind == Kind::kIgnored && is_empty_dir(r, e.path); });
    if (auto st = add_ignored_in_untracked_dirs(r, index, entries); !st) return st.error();
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.group() != b.group()) return a.group() < b.group();
    return std::strcmp(a.path.c_str(), b.path.c_str()) < 0;
  });

  // Pages end at `limit` entries or at the text budget, counted in
  // `git status --short` lines (icotes/git_text.hpp), whichever comes first.
  auto page = page_of(p, entries.size(), 1000, detail::page_budget(r, p.limit.has_value()),
                      [&](std::size_t i) { return git_text::status_line(entry_json(entries[i])).size(); });
  if (!page) return std::move(page).error();
  json out;
  out["branch"] = std::move(*branch);
  json items = json::array();
  for (std::size_t i = page->begin; i < page->end; ++i) items.push_back(entry_json(entries[i]));
  out["entries"] = std::move(items);
  put_page(out, *page, entries.size(), "entries", "pass path to look at one directory", "git_status", p);
  out["clean"] = std::all_of(entries.begin(), entries.end(), [](const Entry& e) { return e.kind == Kind::kIgnored; });
  return out;
}

}  // namespace icotes::git
