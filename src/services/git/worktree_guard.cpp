// Judging what a git write changes in the work tree. See worktree_guard.hpp.
#include "worktree_guard.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "icotes/path_policy.hpp"
#include "repo_util.hpp"

namespace icotes::git {
namespace {

// A directory a file replaces is judged entry by entry; one holding more
// than this is refused rather than walked.
constexpr std::size_t kMaxWalked = 10000;

bool writes_file(std::uint32_t mode) { return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE; }

std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

std::string in_quotes(std::string_view path) { return "'" + std::string(path) + "'"; }

Error refusal(std::string_view op, const std::string& named, const std::string& lands, const std::string& via,
              std::string_view why) {
  std::string msg = std::string(op) + ": refused to change " + in_quotes(named);
  if (!lands.empty() && lands != named)
    msg += " (it lands on " + in_quotes(lands) + (via.empty() ? "" : " through the symlink " + in_quotes(via)) + ")";
  msg += ": " + std::string(why);
  if (msg.back() != '.') msg += '.';
  msg += " Nothing was changed.";
  json data = {{"path", named}};
  if (!lands.empty()) data["landsOn"] = lands;
  return make_error(error_code::kPermissionDenied, std::move(msg), std::move(data));
}

// The rules for one path: as named and where it lands.
Status judge_path(const Repo& r, std::string_view op, const std::string& named, const std::string& lands,
                  const std::string& via) {
  for (const std::string* p : {&named, &lands}) {
    if (auto why = protected_path_reason(*p)) return refusal(op, named, lands, via, *why);
  }
  if (r.policy.may_write) {
    for (const std::string* p : {&lands, &named}) {
      if (p == &named && named == lands) break;
      if (auto st = r.policy.may_write(*p); !st) return refusal(op, named, lands, via, st.error().message);
    }
  }
  return ok_status();
}

std::string link_target(int dir_fd, const std::string& rel) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlinkat(dir_fd, rel.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string("?") : std::string(buf, static_cast<std::size_t>(n));
}

// Everything beneath the real directory `dir` (a landing path), judged as
// removed: a forced checkout that writes a file there removes the
// directory with all it holds.
Status judge_beneath(const Repo& r, std::string_view op, const std::string& named, const std::string& dir,
                     std::size_t& walked) {
  const int fd = ::openat(r.root.fd(), dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ok_status();  // gone or not a directory: nothing beneath
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), ::closedir);
  if (!d) {
    ::close(fd);
    return ok_status();
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    if (++walked > kMaxWalked)
      return refusal(op, named, dir, "",
                     "a file is to replace this directory, which holds more than " + std::to_string(kMaxWalked) +
                         " entries (too many to check one by one)");
    entries.emplace_back(join(dir, name), e->d_type == DT_DIR);
  }
  d.reset();
  for (const auto& [rel, is_dir] : entries) {
    std::optional<std::string> why = protected_path_reason(rel);
    if (!why && r.policy.may_write) {
      if (auto st = r.policy.may_write(rel); !st) why = st.error().message;
    }
    if (why)
      return refusal(op, rel, "", "",
                     "a file is to replace the directory " + in_quotes(named) + ", and with it " + in_quotes(rel) +
                         " inside: " + *why);
    if (is_dir) {
      if (auto st = judge_beneath(r, op, named, rel, walked); !st) return st;
    }
  }
  return ok_status();
}

}  // namespace

Status judge_change(const Repo& r, std::string_view op, Landing& landing, const Change& c) {
  const Landing::Where w = landing.of(c.path);
  if (!w.escape.empty()) return refusal(op, c.path, "", w.via_link, w.escape);
  if (c.mode != 0 && !w.becomes.empty())
    return refusal(op, c.path, "", "",
                   in_quotes(w.becomes) +
                       " becomes a file or symlink in the same write, so nothing can be written "
                       "beneath it");
  if (auto st = judge_path(r, op, c.path, w.path, w.via_link); !st) return st;
  if (c.mode != 0 && c.mode != GIT_FILEMODE_TREE && c.mode != GIT_FILEMODE_COMMIT) {
    struct stat st {};
    if (::fstatat(r.root.fd(), w.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      std::size_t walked = 0;
      if (auto s = judge_beneath(r, op, c.path, w.path, walked); !s) return s;
    }
  }
  return ok_status();
}

ChangeMap change_map(const std::vector<Change>& changes) {
  ChangeMap out;
  out.reserve(changes.size());
  for (const Change& c : changes) out.emplace(c.path, c.mode);
  return out;
}

std::vector<Change> changes_toward(git_tree* target, const std::vector<std::string>& paths) {
  std::vector<Change> out;
  out.reserve(paths.size());
  for (const auto& p : paths) {
    git_tree_entry* e = nullptr;
    std::uint32_t mode = 0;
    if (target && git_tree_entry_bypath(&e, target, p.c_str()) == 0) {
      mode = static_cast<std::uint32_t>(git_tree_entry_filemode(e));
      git_tree_entry_free(e);
    }
    out.push_back({p, mode});
  }
  git_error_clear();
  return out;
}

std::vector<Change> changes_toward(git_index* target, const std::vector<std::string>& paths) {
  std::vector<Change> out;
  out.reserve(paths.size());
  for (const auto& p : paths) {
    const git_index_entry* e = git_index_get_bypath(target, p.c_str(), 0);
    out.push_back({p, e ? e->mode : 0});
  }
  return out;
}

// Where one directory of a checkout lands: each case (beneath a refusal,
// replaced by the same write, missing, a link, a real directory) decides the
// same record, and they read best side by side.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
const Landing::Dir& Landing::dir(const std::string& rel) {
  if (auto it = dirs_.find(rel); it != dirs_.end()) return it->second;
  Dir d;
  if (!rel.empty()) {
    const std::size_t slash = rel.rfind('/');
    const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    // References into an unordered_map stay valid while it grows.
    const Dir& parent = dir(slash == std::string::npos ? std::string() : rel.substr(0, slash));
    d.path = join(parent.path, name);
    d.exists = parent.exists;
    d.via_link = parent.via_link;
    d.escape = parent.escape;
    d.becomes = parent.becomes;
    const auto change = changes_ ? changes_->find(rel) : ChangeMap::const_iterator();
    const bool changed = changes_ && change != changes_->end();
    struct stat st {};
    if (!d.escape.empty() || !d.exists) {
      // Beneath a refusal, or beneath a directory still to be created.
      // The next two branches do the same for two reasons, each said beside it.
      // NOLINTNEXTLINE(bugprone-branch-clone): two reasons, one effect
    } else if (changed && (change->second == 0 || change->second == GIT_FILEMODE_TREE)) {
      d.exists = false;  // removed first, then created afresh by the same write
    } else if (::fstatat(r_.root.fd(), d.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      d.exists = false;  // missing: created as named
    } else if (S_ISLNK(st.st_mode)) {
      // Followed, as the kernel follows it when libgit2 writes beneath.
      if (d.via_link.empty()) d.via_link = rel;
      const std::string target = link_target(r_.root.fd(), d.path);
      const int fd = ::openat(r_.root.fd(), d.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      auto lands = fd < 0 ? Result<std::string>(make_error(error_code::kNotFound, "")) : landing_path(r_.root, fd);
      if (fd >= 0) ::close(fd);
      if (fd < 0) {
        d.escape = in_quotes(rel) + " is a symlink (to " + target + ") that leads to no directory";
      } else if (!lands) {
        d.escape = in_quotes(rel) + " is a symlink that leads outside the workspace (to " + target +
                   "), and git would write through it";
      } else {
        d.path = std::move(*lands);
      }
    } else if (!S_ISDIR(st.st_mode)) {
      // A file: nothing can be created beneath it (the write fails), so
      // nothing lands elsewhere either.
      d.exists = false;
    }
    // Made a file, symlink or submodule by the same write: what it removes
    // beneath goes first (as resolved above), but nothing can be written
    // beneath it: a symlink written first would lead the write elsewhere.
    if (changed && change->second != 0 && change->second != GIT_FILEMODE_TREE && d.becomes.empty()) d.becomes = rel;
  }
  return dirs_.emplace(rel, std::move(d)).first->second;
}

Landing::Where Landing::of(const std::string& rel) {
  const std::size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {rel, "", "", ""};
  const Dir& parent = dir(rel.substr(0, slash));
  return {join(parent.path, std::string_view(rel).substr(slash + 1)), parent.via_link, parent.escape, parent.becomes};
}

Status judge_changes(const Repo& r, std::string_view op, const std::vector<Change>& changes) {
  const ChangeMap map = change_map(changes);
  Landing landing(r, &map);
  for (const Change& c : changes) {
    if (auto st = judge_change(r, op, landing, c); !st) return st;
  }
  return ok_status();
}

GuardedCheckout::GuardedCheckout(const Repo& r, std::string_view op, const std::vector<Change>& changes)
    : r_(r), op_(op), changes_(changes) {
  judged_ = change_map(changes);
}

int GuardedCheckout::notify(git_checkout_notify_t why, const char* path, const git_diff_file*,
                            const git_diff_file* target, const git_diff_file*, void* payload) {
  auto* self = static_cast<GuardedCheckout*>(payload);
  if (why == GIT_CHECKOUT_NOTIFY_CONFLICT) {
    self->conflicts_.emplace_back(path);
    return 0;
  }
  // UPDATED: libgit2 will write the path; DIRTY under FORCE: it will reset
  // or remove a changed file.
  const bool changes = why == GIT_CHECKOUT_NOTIFY_UPDATED || (why == GIT_CHECKOUT_NOTIFY_DIRTY && self->force_);
  if (!changes || self->judged_.count(path)) return 0;
  const Change c{path, target ? static_cast<std::uint32_t>(target->mode) : 0u};
  Landing landing(self->r_, &self->judged_);
  if (auto st = judge_change(self->r_, self->op_, landing, c); !st) {
    self->refusal_ = st.error();
    return -1;
  }
  self->judged_.emplace(c.path, c.mode);
  return 0;
}

Result<int> GuardedCheckout::run(git_object* tree, git_index* index, git_checkout_options opts) {
  force_ = (opts.checkout_strategy & GIT_CHECKOUT_FORCE) != 0;
  conflicts_.clear();
  refusal_.reset();
  opts.file_open_flags = O_CREAT | O_TRUNC | O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
  opts.notify_flags = GIT_CHECKOUT_NOTIFY_CONFLICT | GIT_CHECKOUT_NOTIFY_UPDATED | GIT_CHECKOUT_NOTIFY_DIRTY;
  opts.notify_cb = notify;
  opts.notify_payload = this;
  if (force_) {
    // A symlink where a file is to be written: git unlinks it and writes a
    // new file; libgit2 would open the symlink.
    Landing landing(r_, &judged_);
    for (const Change& c : changes_) {
      if (!writes_file(c.mode)) continue;
      const Landing::Where w = landing.of(c.path);
      struct stat st {};
      if (w.escape.empty() && ::fstatat(r_.root.fd(), w.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode))
        ::unlinkat(r_.root.fd(), w.path.c_str(), 0);
    }
  }
  const int rc = tree ? git_checkout_tree(r_.repo, tree, &opts) : git_checkout_index(r_.repo, index, &opts);
  if (refusal_) return *refusal_;
  return rc;
}

Status check_readable(const Repo& r, std::string_view op, const std::string& rel, bool worktree) {
  if (!r.policy.read_denied) return ok_status();
  std::string lands = rel;
  if (worktree) {
    Landing landing(r);
    lands = landing.of(rel).path;
  }
  for (const std::string* p : {&rel, static_cast<const std::string*>(&lands)}) {
    if (r.policy.read_denied(*p))
      return make_error(error_code::kPermissionDenied,
                        std::string(op) + ": permission denied: " + in_quotes(*p) +
                            " is covered by a Read deny rule, so its content is not shown" +
                            (*p == rel ? std::string() : " (" + in_quotes(rel) + " leads there)"),
                        json{{"path", rel}});
  }
  return ok_status();
}

Status remove_beneath(const Repo& r, std::string_view op, const std::string& rel) {
  auto parent = r.root.open_parent(rel);
  if (!parent) {
    if (parent.error().code == error_code::kNotFound) return ok_status();
    return refusal(op, rel, "", "", parent.error().message);
  }
  auto& [fd, name] = *parent;
  auto lands = landing_path_in(r.root, fd.get(), name);
  if (!lands) return refusal(op, rel, "", "", lands.error().message);
  if (auto st = judge_path(r, op, rel, *lands, ""); !st) return st;
  if (::unlinkat(fd.get(), name.c_str(), 0) != 0) return ok_status();
  // Then the directories it leaves empty (git clean -d leaves none behind).
  std::string dir = rel;
  for (auto slash = dir.rfind('/'); slash != std::string::npos; slash = dir.rfind('/')) {
    dir.resize(slash);
    auto up = r.root.open_parent(dir);
    if (!up || ::unlinkat(up->first.get(), up->second.c_str(), AT_REMOVEDIR) != 0) break;
  }
  return ok_status();
}

}  // namespace icotes::git
