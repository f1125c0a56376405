// What the sandbox keeps from a command: the client variables refused
// before anything runs, the workspace binds that keep protected paths
// unchangeable inside, and the per-run pids cgroups. See exec_internal.hpp.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "exec_internal.hpp"
#include "icotes/fd_io.hpp"

namespace icotes::exec {

std::optional<std::string> refused_variable(std::string_view name) {
  // glibc's UNSECURE_ENVVARS (sysdeps/generic/unsecvars.h) but TMPDIR, and
  // every LD_* (ld.so(8), musl's too) and MALLOC_* (malloc tunables and
  // mtrace's output file).
  static constexpr std::array<std::string_view, 11> kNames = {
      "GCONV_PATH", "GETCONF_DIR",      "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
      "NIS_PATH",   "RESOLV_HOST_CONF", "RES_OPTIONS",    "NLSPATH",     "TZDIR"};
  const bool refused = name.starts_with("LD_") || name.starts_with("MALLOC_") ||
                       std::find(kNames.begin(), kNames.end(), name) != kNames.end();
  if (!refused) return std::nullopt;
  return std::string(name) +
         " is refused: the dynamic loader and the C library act on it in every program before the program "
         "itself runs (loading a shared object, writing a trace file, reading modules or data from a path it "
         "names), so the command would do more than its command line says. No client may set LD_*, MALLOC_*, "
         "GLIBC_TUNABLES, GCONV_PATH, GETCONF_DIR, HOSTALIASES, LOCALDOMAIN, LOCPATH, NIS_PATH, NLSPATH, "
         "RESOLV_HOST_CONF, RES_OPTIONS or TZDIR";
}

Status check_client_variable(std::string_view name, std::string_view value) {
  const auto shown = [](std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) out += (c == '\0' ? std::string("\\0") : std::string(1, c));
    return out;
  };
  if (name.empty() || name.find('=') != std::string_view::npos || name.find('\0') != std::string_view::npos)
    return make_error(error_code::kInvalidParams,
                      "env: '" + shown(name) + "' is not a variable name (non-empty, without '=' or NUL bytes)",
                      json{{"variable", shown(name)}});
  if (value.find('\0') != std::string_view::npos)
    return make_error(error_code::kInvalidParams, "env: the value of " + std::string(name) + " holds a NUL byte",
                      json{{"variable", std::string(name)}});
  if (auto why = refused_variable(name))
    return make_error(error_code::kInvalidParams, "env: " + *why, json{{"variable", std::string(name)}});
  return ok_status();
}

namespace detail {

namespace {

enum class Kind { Missing, Dir, File, Link, Other };

Kind kind_at(int dir, const char* name) {
  struct stat st {};
  if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? Kind::Missing : Kind::Other;
  if (S_ISDIR(st.st_mode)) return Kind::Dir;
  if (S_ISREG(st.st_mode)) return Kind::File;
  if (S_ISLNK(st.st_mode)) return Kind::Link;
  return Kind::Other;
}

Fd open_dir(int dir, const char* name) {
  return Fd(::openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// An empty file or directory made beneath `dir` without following a
// symlink; true when it exists as that now.
bool make_file(int dir, const char* name) {
  const int fd = ::openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
  return kind_at(dir, name) == Kind::File;
}
bool make_dir(int dir, const char* name) {
  ::mkdirat(dir, name, 0755);
  return kind_at(dir, name) == Kind::Dir;
}

bool empty_dir(int dir, const char* name) {
  const int fd = ::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return false;
  }
  bool empty = true;
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// The first `max` bytes of a regular file beneath `dir`; empty when unreadable.
std::string read_small(int dir, const char* name, std::size_t max = 1 << 20) {
  std::string out;
  const int fd = ::openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[8192];
  ssize_t n;
  while (out.size() < max && (n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

void ro(std::vector<std::string>& a, const std::string& path) { a.insert(a.end(), {"--ro-bind", path, path}); }

// The root's git directory `path` (open as `dfd`): pinned by a bind onto
// itself (a mount point cannot be renamed or removed) and writable, with
// what git runs commands from read-only. Placeholders for a missing config,
// hooks/ and info/attributes are made on the host first (git would read
// them once made). Anything unexpected (a symlink there, a placeholder that
// cannot be made) binds the whole directory read-only instead.
//
// Only this directory and its info/ are bound writable: their paths cannot
// be changed by a sandbox running meanwhile (every sandbox pins them), so
// bwrap, which follows symlinks in the paths it binds, cannot be led
// elsewhere. The other binds are read-only: misled, they would only show
// something read-only.
void protect_git_dir(int dfd, const std::string& path, std::vector<std::string>& a) {
  const Kind config = kind_at(dfd, "config"), worktree = kind_at(dfd, "config.worktree"), hooks = kind_at(dfd, "hooks"),
             info = kind_at(dfd, "info"), modules = kind_at(dfd, "modules");
  const auto plain = [](Kind k, Kind want) { return k == Kind::Missing || k == want; };
  bool whole = !plain(config, Kind::File) || !plain(worktree, Kind::File) || !plain(hooks, Kind::Dir) ||
               !plain(info, Kind::Dir) || !plain(modules, Kind::Dir);
  bool with_worktree = worktree == Kind::File;
  if (!whole) whole = !make_file(dfd, "config") || !make_dir(dfd, "hooks") || !make_dir(dfd, "info");
  if (!whole) {
    const Fd info_fd = open_dir(dfd, "info");
    whole = !info_fd.valid() || !make_file(info_fd.get(), "attributes");
  }
  if (!whole && !with_worktree) {
    // git reads config.worktree only with extensions.worktreeConfig set.
    std::string text = read_small(dfd, "config");
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    if (text.find("worktreeconfig") != std::string::npos) {
      whole = !make_file(dfd, "config.worktree");
      with_worktree = true;
    }
  }
  if (whole) {
    ro(a, path);
    return;
  }
  a.insert(a.end(), {"--bind", path, path});
  ro(a, path + "/config");
  if (with_worktree) ro(a, path + "/config.worktree");
  ro(a, path + "/hooks");
  // info/ pinned too (else it could be renamed away with the attributes
  // mount inside it), its other files writable (exclude, sparse-checkout).
  a.insert(a.end(), {"--bind", path + "/info", path + "/info"});
  ro(a, path + "/info/attributes");
  // Submodules' git directories, read-only whole (a writable bind there
  // could be misled, see above).
  if (modules == Kind::Dir) ro(a, path + "/modules");
}

// A gitfile's (`gitdir: <path>`) git directory when it lies in the
// workspace, else empty.
std::string gitfile_target(const ConfinedRoot& root) {
  std::string text = read_small(root.fd(), ".git", 4096);
  if (text.rfind("gitdir:", 0) != 0) return {};
  text.erase(0, 7);
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), space));
  while (!text.empty() && space(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return {};
  auto rel = root.relative(text[0] == '/' ? text : root.path() + "/" + text);
  if (!rel || rel->empty() || !root.open_beneath(*rel, O_PATH | O_DIRECTORY)) return {};
  return root.absolute(*rel);
}

// FNV-1a, 64 bits: a name for the workspace that every icotes build agrees on.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Keeps the root's placeholder `.git` while a sandbox that needs it runs,
// across every icotes process of this user on this workspace: each such
// run holds a shared flock(2) on /tmp/icotes-sandbox-<uid>-<hash>.lock (no
// sandbox sees the host's /tmp, so none can hold it); the last one out, the
// exclusive lock granted, removes the placeholder if it is still empty
// (removing it while another sandbox runs would undo that sandbox's mount),
// and the lock file. A taker that locked a file since removed tries again.
class PlaceholderLock {
 public:
  // Null when the lock file cannot be used (another user made it): the
  // placeholder then stays.
  static std::shared_ptr<PlaceholderLock> take(const ConfinedRoot& root) {
    char name[128];
    std::snprintf(name, sizeof name, "/tmp/icotes-sandbox-%u-%016llx.lock", static_cast<unsigned>(::geteuid()),
                  static_cast<unsigned long long>(fnv1a(root.path())));
    Fd root_fd(::fcntl(root.fd(), F_DUPFD_CLOEXEC, 3));
    if (!root_fd.valid()) return nullptr;
    for (int attempt = 0; attempt < 100; ++attempt) {
      Fd fd(::open(name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
      struct stat st {};
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
        return nullptr;
      int locked;
      while ((locked = ::flock(fd.get(), LOCK_SH)) != 0 && errno == EINTR) {
      }
      if (locked != 0) return nullptr;
      struct stat now {};
      if (::stat(name, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
        return std::shared_ptr<PlaceholderLock>(new PlaceholderLock(name, std::move(fd), std::move(root_fd)));
    }
    return nullptr;
  }
  ~PlaceholderLock() {
    if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) return;
    if (kind_at(root_.get(), ".git") == Kind::Dir && empty_dir(root_.get(), ".git"))
      ::unlinkat(root_.get(), ".git", AT_REMOVEDIR);
    ::unlink(name_.c_str());
  }
  PlaceholderLock(const PlaceholderLock&) = delete;
  PlaceholderLock& operator=(const PlaceholderLock&) = delete;

 private:
  PlaceholderLock(std::string name, Fd lock, Fd root)
      : name_(std::move(name)), lock_(std::move(lock)), root_(std::move(root)) {}
  std::string name_;
  Fd lock_;
  Fd root_;
};

Error unprotectable(const std::string& path, const std::string& what) {
  return make_error(error_code::kRequestFailed,
                    "the sandbox cannot keep " + path + " from being changed: it is " + what +
                        " (a command could replace it and git or icotes would then run what it put there). "
                        "Make it a plain directory" +
                        (path.ends_with("/.git") ? std::string(" (or a `gitdir:` file)") : std::string()) +
                        ", or set `sandbox = false` under [exec] in .icotes/config.toml");
}

// icotes' settings and grants: read-only, an empty placeholder when
// absent (left in place: icotes keeps its own state there).
Status bind_icotes_dir(int rfd, const std::string& r, std::vector<std::string>& a) {
  Kind k = kind_at(rfd, ".icotes");
  if (k == Kind::Missing) k = make_dir(rfd, ".icotes") ? Kind::Dir : kind_at(rfd, ".icotes");
  if (k == Kind::Dir)
    ro(a, r + "/.icotes");
  else if (k != Kind::Missing)  // missing still: not ours to make, nor the sandbox's (same user)
    return unprotectable(r + "/.icotes", k == Kind::Link ? "a symbolic link" : "not a directory");
  return ok_status();
}

// The root's .git. Absent (or the empty placeholder of a run still
// going): a read-only empty directory, so no `git init` there.
Status bind_root_git(const ConfinedRoot& root, WorkspaceBinds& b) {
  const std::string& r = root.path();
  const int rfd = root.fd();
  auto& a = b.args;
  Kind k = kind_at(rfd, ".git");
  if (k == Kind::Missing || (k == Kind::Dir && empty_dir(rfd, ".git"))) {
    auto lock = PlaceholderLock::take(root);
    k = kind_at(rfd, ".git");
    if (k == Kind::Missing) k = make_dir(rfd, ".git") ? Kind::Dir : kind_at(rfd, ".git");
    if (k == Kind::Dir && empty_dir(rfd, ".git")) {
      ro(a, r + "/.git");
      b.hold = std::move(lock);
      k = Kind::Missing;  // bound
    }
  }
  switch (k) {
    case Kind::Missing:  // bound above, or not ours to make, nor the sandbox's (same user)
      break;
    case Kind::Dir: {
      const Fd git = open_dir(rfd, ".git");
      if (!git.valid()) return unprotectable(r + "/.git", "a directory that cannot be opened");
      protect_git_dir(git.get(), r + "/.git", a);
      break;
    }
    case Kind::File: {  // a gitfile (a linked worktree, a submodule's checkout)
      ro(a, r + "/.git");
      if (const std::string target = gitfile_target(root); !target.empty()) ro(a, target);
      break;
    }
    case Kind::Link:
      return unprotectable(r + "/.git", "a symbolic link");
    case Kind::Other:
      return unprotectable(r + "/.git", "not a directory or a file");
  }
  return ok_status();
}

// Repositories and workspaces one level down: read-only whole (a
// writable bind there could be misled, see protect_git_dir()).
void bind_nested_repos(int rfd, const std::string& r, std::vector<std::string>& a) {
  const int dfd = ::openat(rfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = dfd >= 0 ? ::fdopendir(dfd) : nullptr;
  if (d == nullptr && dfd >= 0) ::close(dfd);
  for (int seen = 0; d != nullptr && seen < 4096; ++seen) {
    const dirent* e = ::readdir(d);
    if (e == nullptr) break;
    const std::string_view n = e->d_name;
    if (n == "." || n == ".." || n == ".git" || n == ".icotes") continue;
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    const Fd sub = open_dir(rfd, e->d_name);
    if (!sub.valid()) continue;
    for (const char* inner : {".git", ".icotes"}) {
      const Kind ik = kind_at(sub.get(), inner);
      if (ik == Kind::Dir || ik == Kind::File) ro(a, r + "/" + std::string(n) + "/" + inner);
    }
  }
  if (d != nullptr) ::closedir(d);
}

}  // namespace

Result<WorkspaceBinds> workspace_binds(const ConfinedRoot& root, bool read_only) {
  WorkspaceBinds b;
  const std::string& r = root.path();
  if (read_only) {
    ro(b.args, r);
    return b;
  }
  b.args = {"--bind", r, r};
  if (auto ok = bind_icotes_dir(root.fd(), r, b.args); !ok) return std::move(ok).error();
  if (auto ok = bind_root_git(root, b); !ok) return std::move(ok).error();
  bind_nested_repos(root.fd(), r, b.args);
  return b;
}

// ---- pids cgroups ----

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

bool write_text(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write_fully(fd, text) == 0;
  ::close(fd);
  return ok;
}

bool has_word(std::string_view list, std::string_view word, char sep) {
  while (!list.empty()) {
    const std::size_t end = std::min(list.find(sep), list.size());
    std::string_view w = list.substr(0, end);
    while (!w.empty() && std::isspace(static_cast<unsigned char>(w.back()))) w.remove_suffix(1);
    if (w == word) return true;
    list.remove_prefix(std::min(end + 1, list.size()));
  }
  return false;
}

// mountinfo(5) escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Removes `dir` once the tasks of the run it held are gone: after bwrap was
// killed, its pid 1 and the rest of the PID namespace are still being torn
// down. Bounded: a cgroup still busy after ~2 s is left for the next sweep.
void remove_cgroup(const std::string& dir) {
  auto delay = std::chrono::microseconds(200);
  for (int i = 0; i < 40; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno != EBUSY) return;
    std::this_thread::sleep_for(delay);
    delay = std::min<std::chrono::microseconds>(delay * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace

PidsCgroups::Run::~Run() {
  procs.reset();
  current.reset();
  events.reset();
  remove_cgroup(dir);
}

Result<std::unique_ptr<PidsCgroups::Run>> PidsCgroups::create(std::uint64_t pids_max) {
  auto run = std::make_unique<Run>();
  for (int attempt = 0;; ++attempt) {
    run->dir = base_ + "/" + std::to_string(::getpid()) + "-" + std::to_string(next_++);
    if (::mkdir(run->dir.c_str(), 0755) == 0) break;
    if (errno != EEXIST || attempt > 100) {
      const int e = errno;
      run->dir.clear();
      return errno_error(e, "make the run's pids cgroup", base_);
    }
  }
  if (!write_text(run->dir + "/pids.max", std::to_string(pids_max)))
    return errno_error(errno, "write pids.max of", run->dir);
  run->procs = Fd(::open((run->dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!run->procs.valid()) return errno_error(errno, "open cgroup.procs of", run->dir);
  run->current = Fd(::open((run->dir + "/pids.current").c_str(), O_RDONLY | O_CLOEXEC));
  if (!run->current.valid()) return errno_error(errno, "open pids.current of", run->dir);
  run->events = Fd(::open((run->dir + "/pids.events").c_str(), O_RDONLY | O_CLOEXEC));
  if (!run->events.valid()) return errno_error(errno, "open pids.events of", run->dir);
  return run;
}

namespace {

// Where /proc/self/mountinfo says the cgroup hierarchies are: v2's mount,
// and v1's pids controller's mount with the root it shows.
struct CgroupMounts {
  std::string v2_mount, v1_mount, v1_root;
};

CgroupMounts cgroup_mounts() {
  CgroupMounts m;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream left(line.substr(0, dash)), right(line.substr(dash + 3));
    std::string id, parent, dev, root, mount, fstype, source, super;
    left >> id >> parent >> dev >> root >> mount;
    right >> fstype >> source >> super;
    if (fstype == "cgroup2" && m.v2_mount.empty()) m.v2_mount = unescape(mount);
    if (fstype == "cgroup" && m.v1_mount.empty() && has_word(super, "pids", ',')) {
      m.v1_mount = unescape(mount);
      m.v1_root = unescape(root);
    }
  }
  return m;
}

// This process's cgroup in v1's pids hierarchy (/proc/self/cgroup), empty
// when there is none.
std::string own_v1_pids_cgroup() {
  std::string v1_path;
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    const std::size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    if (has_word(std::string_view(line).substr(a + 1, b - a - 1), "pids", ',')) v1_path = line.substr(b + 1);
  }
  return v1_path;
}

}  // namespace

std::unique_ptr<PidsCgroups> PidsCgroups::find() {
  const auto [v2_mount, v1_mount, v1_root] = cgroup_mounts();
  const std::string v1_path = own_v1_pids_cgroup();
  std::vector<std::string> bases;
  // v2: beside everything else, under the hierarchy's root, where the pids
  // controller can be handed down (a cgroup that holds processes cannot).
  if (!v2_mount.empty() && has_word(read_text(v2_mount + "/cgroup.subtree_control"), "pids", ' ')) {
    const std::string base = v2_mount + "/icotes";
    ::mkdir(base.c_str(), 0755);
    if (write_text(base + "/cgroup.subtree_control", "+pids")) bases.push_back(base);
  }
  // v1: under this process's own pids cgroup.
  if (!v1_mount.empty() && !v1_path.empty()) {
    std::string rel = v1_path;
    if (v1_root != "/" && rel.rfind(v1_root, 0) == 0) rel.erase(0, v1_root.size());
    if (rel == "/") rel.clear();
    const std::string base = v1_mount + rel + "/icotes";
    ::mkdir(base.c_str(), 0755);
    bases.push_back(base);
  }
  for (const auto& base : bases) {
    std::unique_ptr<PidsCgroups> c(new PidsCgroups(base));
    if (!c->create(64)) continue;  // the probe goes with its Run
    // Runs of icotes processes that are gone.
    if (DIR* d = ::opendir(base.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        const long pid = std::strtol(e->d_name, nullptr, 10);
        if (pid > 0 && std::strchr(e->d_name, '-') != nullptr && ::kill(static_cast<pid_t>(pid), 0) != 0 &&
            errno == ESRCH)
          ::rmdir((base + "/" + e->d_name).c_str());
      }
      ::closedir(d);
    }
    return c;
  }
  return nullptr;
}

}  // namespace detail
}  // namespace icotes::exec
