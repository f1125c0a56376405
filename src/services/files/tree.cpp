// Where a path lands (locate, prospective_landing), making directories,
// files/mkdir, files/move and files/delete.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include "files_internal.hpp"
#include "icotes/files.hpp"
#include "icotes/path_policy.hpp"

namespace icotes::files {

using detail::changed_meanwhile;
using detail::join;
using detail::judge_change;
using detail::parent_of;
using detail::read_directory;

namespace {

// `prefix` is `path` or one of its ancestors ("" is every path's).
bool is_within(std::string_view path, std::string_view prefix) {
  return prefix.empty() || path == prefix ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 && path[prefix.size()] == '/');
}

bool inside_git_dir(std::string_view rel) {
  for (std::size_t pos = 0; pos <= rel.size();) {
    std::size_t slash = rel.find('/', pos);
    if (slash == std::string_view::npos) slash = rel.size();
    if (rel.substr(pos, slash - pos) == ".git") return true;
    pos = slash + 1;
  }
  return false;
}

// An error opening a parent of `rel`, told about `rel` (what the client named).
Error renamed(Error e, const std::string& rel) {
  if (auto err = e.data.find("errno"); err != e.data.end() && err->is_number_integer())
    return errno_error(err->get<int>(), "open", rel);
  return e;
}

// Where the inside symlink at `landing` leads (workspace-relative), for a
// change asked of `rel`; never the workspace root itself.
Result<std::string> link_target(const ConfinedRoot& root, const std::string& landing, const std::string& rel) {
  auto target = root.open_beneath(landing, O_PATH);
  if (!target) return std::move(target).error();
  auto real = landing_path(root, target->get());
  if (!real) return std::move(real).error();
  if (real->empty())
    return make_error(error_code::kConflict, rel + " leads to the workspace root", json{{"path", rel}});
  return real;
}

// Whatever is at `prefix` must be a directory beneath the root (a symlink to
// one inside is fine).
Status check_directory(const ConfinedRoot& root, const std::string& prefix) {
  auto check = root.open_beneath(prefix, O_PATH | O_DIRECTORY);
  if (!check) {
    if (check.error().code == error_code::kNotFound || check.error().code == error_code::kIoError)
      return make_error(error_code::kConflict, "mkdir " + prefix + ": exists and is not a directory",
                        json{{"path", prefix}});
    return std::move(check).error();
  }
  return ok_status();
}

// A move of `from` to `to` (workspace-relative) that names no impossible
// pair: the root, the same path twice, a directory into itself.
Status check_move_names(const std::string& from, const std::string& to) {
  if (from.empty() || to.empty())
    return make_error(error_code::kInvalidParams, "move_file: cannot move the workspace root");
  if (from == to) return make_error(error_code::kInvalidParams, "move_file: source and destination are the same");
  if (is_within(to, from))
    return make_error(error_code::kInvalidParams, "move_file: cannot move " + from + " into itself");
  return ok_status();
}

}  // namespace

Result<Service::Target> Service::locate(const std::string& rel, bool follow) const {
  std::string at = rel;
  for (int hops = 0;; ++hops) {
    Target t;
    t.path = at;
    auto parent = root_.open_parent(at);
    if (!parent) {
      if (parent.error().code != error_code::kNotFound) return renamed(std::move(parent).error(), at);
      // Parents to be made: they will be where the deepest existing one is.
      auto landing = prospective_landing(at);
      if (!landing) return std::move(landing).error();
      t.landing = std::move(*landing);
      t.name = at.substr(at.rfind('/') + 1);
      return t;
    }
    t.dir = std::move(parent->first);
    t.name = std::move(parent->second);
    auto landing = landing_path_in(root_, t.dir.get(), t.name);
    if (!landing) return std::move(landing).error();
    t.landing = std::move(*landing);
    if (::fstatat(t.dir.get(), t.name.c_str(), &t.st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return errno_error(errno, "stat", at);
      return t;
    }
    t.exists = true;
    if (!follow || !S_ISLNK(t.st.st_mode)) return t;
    // An inside symlink: the change goes to its target, judged where that is.
    if (hops >= 40) return errno_error(ELOOP, "open", rel);
    auto real = link_target(root_, t.landing, rel);
    if (!real) return std::move(real).error();
    at = std::move(*real);
  }
}

Result<std::string> Service::prospective_landing(const std::string& rel) const {
  std::string existing = rel;
  std::string rest;
  while (!existing.empty()) {
    const std::size_t slash = existing.rfind('/');
    const std::string name = slash == std::string::npos ? existing : existing.substr(slash + 1);
    std::string path = name;
    if (!rest.empty()) {
      path += '/';
      path += rest;
    }
    rest = std::move(path);
    existing = slash == std::string::npos ? std::string() : existing.substr(0, slash);
    auto fd = root_.open_beneath(existing, O_PATH | O_DIRECTORY);
    if (!fd) {
      if (fd.error().code == error_code::kNotFound) continue;
      return std::move(fd).error();
    }
    auto landing = landing_path(root_, fd->get());
    if (!landing) return std::move(landing).error();
    return join(*landing, rest);
  }
  return rest;
}

// Creates each missing directory of `rel` in turn, judging where each one
// lands before it is made; one ordered walk down the path whose steps share
// the parent's descriptor.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<bool> Service::make_dirs(const std::string& rel, const std::string& landing) {
  if (rel.empty()) return false;
  bool created = false;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', pos);
    const std::string prefix = rel.substr(0, slash);
    auto parent = root_.open_parent(prefix);
    if (!parent) return std::move(parent).error();
    struct stat st {};
    if (::fstatat(parent->first.get(), parent->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return errno_error(errno, "mkdir", prefix);
      // Made in the directory judged: where it lands must be where the
      // whole was judged to land, and not protected.
      auto here = landing_path_in(root_, parent->first.get(), parent->second);
      if (!here) return std::move(here).error();
      if (!is_within(landing, *here)) return changed_meanwhile(prefix);
      if (auto st2 = judge_change(*here, Access{}); !st2) return st2.error();
      if (::mkdirat(parent->first.get(), parent->second.c_str(), 0777) == 0) {
        created = true;
      } else if (errno != EEXIST) {
        return errno_error(errno, "mkdir", prefix);
      }
    }
    if (auto is_dir = check_directory(root_, prefix); !is_dir) return is_dir.error();
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return created;
}

Result<bool> Service::mkdir(const std::string& path, const Access& access) {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return false;
  // An existing directory is no change; anything made is judged first, where it will be.
  if (auto fd = root_.open_beneath(*rel, O_PATH | O_DIRECTORY); fd) return false;
  auto landing = prospective_landing(*rel);
  if (!landing) return std::move(landing).error();
  if (auto st = judge_change(*landing, access); !st) return st.error();
  return make_dirs(*rel, *landing);
}

namespace {

// The entries of the directory open as `fd` (a duplicate is read, `fd`
// stays open): name and whether it is a directory (lstat: a symlink to one
// is not). Entries gone before they were stat'ed are left out. Errors:
// errno_error(op, shown).
Result<std::vector<std::pair<std::string, bool>>> dir_entries(int fd, const char* op, const std::string& shown) {
  auto names = read_directory(fd, op, shown);
  if (!names) return std::move(names).error();
  std::vector<std::pair<std::string, bool>> entries;
  for (auto& name : *names) {
    struct stat est {};
    if (::fstatat(fd, name.first.c_str(), &est, AT_SYMLINK_NOFOLLOW) != 0) continue;
    entries.emplace_back(std::move(name.first), S_ISDIR(est.st_mode));
  }
  return entries;
}

// Calls `visit(landing)` for every entry beneath the directory open as `fd`
// (landing path `landing`), depth first, following no symlink; stops at the
// first error `visit` returns.
Status walk_beneath(int fd, const std::string& landing, const std::function<Status(const std::string&)>& visit) {
  auto entries = dir_entries(fd, "read directory", landing);
  if (!entries) return std::move(entries).error();
  for (const auto& [en, is_dir] : *entries) {
    const std::string here = join(landing, en);
    if (auto s = visit(here); !s) return s;
    if (!is_dir) continue;
    Fd sub(::openat(fd, en.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) return errno_error(errno, "read directory", here);
    if (auto s = walk_beneath(sub.get(), here, visit); !s) return s;
  }
  return ok_status();
}

// Everything beneath the directory `name` in `dir` (`from` in errors),
// judged where it is and where it goes beneath `to_landing`.
Status judge_moved_tree(const ConfinedRoot& root, int dir, const std::string& name, const std::string& from,
                        const std::string& to_landing, const Access& access) {
  Fd tree(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!tree.valid()) return errno_error(errno, "move_file: open", from);
  auto src_landing = landing_path(root, tree.get());
  if (!src_landing) return std::move(src_landing).error();
  return walk_beneath(tree.get(), *src_landing, [&](const std::string& here) -> Status {
    if (auto st = judge_change(here, access); !st) return st;
    return judge_change(to_landing + here.substr(src_landing->size()), access);
  });
}

// Deletes the directory `name` in `at` (`shown` in errors) and everything
// beneath it, depth first through directory fds, never following symlinks;
// each entry judged as it goes.
Status remove_tree(const ConfinedRoot& root, int at, const std::string& name, const std::string& shown,
                   const Access& access) {
  Fd fd(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "delete_file", shown);
  auto here = landing_path(root, fd.get());
  if (!here) return std::move(here).error();
  auto entries = dir_entries(fd.get(), "delete_file", shown);
  if (!entries) return std::move(entries).error();
  for (const auto& [en, is_dir] : *entries) {
    if (auto st = judge_change(join(*here, en), access); !st) return st;
    std::string child = shown;
    child += '/';
    child += en;
    if (is_dir) {
      if (auto s = remove_tree(root, fd.get(), en, child, access); !s) return s;
    } else if (::unlinkat(fd.get(), en.c_str(), 0) != 0 && errno != ENOENT) {
      return errno_error(errno, "delete_file", child);
    }
  }
  if (::unlinkat(at, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return errno_error(errno, "delete_file", shown);
  return ok_status();
}

}  // namespace

Status Service::move(const std::string& source, const std::string& destination, bool overwrite, const Access& access) {
  auto from = root_.relative(source);
  if (!from) return std::move(from).error();
  auto to = root_.relative(destination);
  if (!to) return std::move(to).error();
  if (auto st = check_move_names(*from, *to); !st) return st;
  // The name itself moves (a symlink, not its target), from the directory
  // it was judged in.
  auto src = locate(*from, false);
  if (!src) return std::move(src).error();
  if (!src->dir.valid() || !src->exists) return errno_error(ENOENT, "move_file: stat", *from);
  if (auto st = judge_change(src->landing, access); !st) return st;
  const bool is_dir = S_ISDIR(src->st.st_mode);
  // Where it goes: judged before its parents are made, and again on the
  // directory it is renamed into.
  auto planned = prospective_landing(*to);
  if (!planned) return std::move(planned).error();
  if (auto st = judge_change(*planned, access); !st) return st;
  if (const std::size_t slash = to->rfind('/'); slash != std::string::npos) {
    auto made = make_dirs(to->substr(0, slash), parent_of(*planned));
    if (!made) return std::move(made).error();
  }
  auto dst = root_.open_parent(*to);
  if (!dst) return std::move(dst).error();
  auto dst_landing = landing_path_in(root_, dst->first.get(), dst->second);
  if (!dst_landing) return std::move(dst_landing).error();
  if (auto st = judge_change(*dst_landing, access); !st) return st;
  if (is_dir) {
    // A directory takes everything beneath it along: each of those paths is
    // changed where it was and where it goes. git's own directories are not
    // the file tools' to rearrange (their files run commands).
    if (inside_git_dir(src->landing) || inside_git_dir(*dst_landing))
      return make_error(error_code::kPermissionDenied,
                        "move_file: permission denied: directories are not moved into or out of a .git directory "
                        "(git runs commands named in its files); use git",
                        json{{"source", *from}, {"destination", *to}});
    if (auto s = judge_moved_tree(root_, src->dir.get(), src->name, *from, *dst_landing, access); !s) return s;
  }
  const unsigned flags = overwrite ? 0 : RENAME_NOREPLACE;
  if (::renameat2(src->dir.get(), src->name.c_str(), dst->first.get(), dst->second.c_str(), flags) != 0) {
    if (errno == EEXIST)
      return make_error(error_code::kConflict, "move_file: " + *to + " already exists; set overwrite to replace it",
                        json{{"path", *to}});
    return errno_error(errno, "move_file: rename " + *from + " to", *to);
  }
  return ok_status();
}

Status Service::remove(const std::string& path, bool recursive, const Access& access) {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return make_error(error_code::kInvalidParams, "delete_file: refusing to delete the workspace root");
  // The name itself goes (a symlink, not its target), from the directory it
  // was judged in.
  auto target = locate(*rel, false);
  if (!target) return std::move(target).error();
  if (!target->dir.valid() || !target->exists) return errno_error(ENOENT, "delete_file", *rel);
  if (auto st = judge_change(target->landing, access); !st) return st;
  const int dirfd = target->dir.get();
  const std::string& name = target->name;
  if (!S_ISDIR(target->st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return errno_error(errno, "delete_file", *rel);
    return ok_status();
  }
  if (!recursive) {
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
      if (errno == ENOTEMPTY || errno == EEXIST)
        return make_error(
            error_code::kConflict,
            "delete_file: directory " + *rel + " is not empty; set recursive to delete it and its contents",
            json{{"path", *rel}});
      return errno_error(errno, "delete_file", *rel);
    }
    return ok_status();
  }
  // Nothing beneath may be protected or refused: all judged before anything
  // is deleted (a .git inside, say), and each again as it goes.
  {
    Fd tree(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!tree.valid()) return errno_error(errno, "delete_file", *rel);
    auto landing = landing_path(root_, tree.get());
    if (!landing) return std::move(landing).error();
    auto s = walk_beneath(tree.get(), *landing, [&](const std::string& here) { return judge_change(here, access); });
    if (!s) return make_error(s.error().code, "delete_file: nothing was deleted: " + s.error().message, s.error().data);
  }
  return remove_tree(root_, dirfd, name, *rel, access);
}

}  // namespace icotes::files
