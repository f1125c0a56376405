#include "icotes/confine.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

namespace icotes {

void Fd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Error errno_error(int err, std::string_view what, std::string_view path) {
  int code = error_code::kIoError;
  std::string why = std::strerror(err);
  switch (err) {
    case ENOENT:
      code = error_code::kNotFound;
      why = "no such file or directory";
      break;
    case ENOTDIR:
      code = error_code::kNotFound;
      why = "a parent is not a directory";
      break;
    case EXDEV:
      code = error_code::kOutsideWorkspace;
      why = "it resolves outside the workspace (through '..' or a symlink)";
      break;
    case EACCES:
    case EPERM:
      code = error_code::kPermissionDenied;
      break;
    default:
      break;
  }
  return make_error(code, std::string(what) + " " + std::string(path) + ": " + why,
                    json{{"path", std::string(path)}, {"errno", err}});
}

namespace {

long sys_openat2(int dirfd, const char* path, int flags, mode_t mode, unsigned long long resolve) {
  struct open_how how {};
  how.flags = static_cast<unsigned long long>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  return ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

bool probe_openat2() {
  const long fd = sys_openat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0, RESOLVE_BENEATH);
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return true;
  }
  return errno != ENOSYS && errno != EPERM;  // EPERM: seccomp filters that refuse it
}

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) out.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

bool ConfinedRoot::has_openat2() {
  static const bool available = probe_openat2();
  return available;
}

Result<ConfinedRoot> ConfinedRoot::open(const std::string& root) {
  char buf[PATH_MAX];
  if (::realpath(root.empty() ? "." : root.c_str(), buf) == nullptr) return errno_error(errno, "workspace root", root);
  Fd fd(::open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "workspace root", buf);
  return ConfinedRoot(buf, std::move(fd));
}

Result<std::string> ConfinedRoot::relative(std::string_view client_path) const {
  auto outside = [&](const std::string& why) {
    return make_error(error_code::kOutsideWorkspace,
                      "path '" + std::string(client_path) + "' " + why + " (workspace root: " + path_ + ")",
                      json{{"path", std::string(client_path)}, {"root", path_}});
  };
  if (client_path.empty()) return outside("is empty");
  if (client_path.find('\0') != std::string_view::npos) return outside("contains a NUL byte");
  std::string_view rest = client_path;
  if (rest.front() == '/') {
    // Component-wise prefix test: /work/app-evil is not inside /work/app.
    if (path_ != "/") {
      if (rest.substr(0, path_.size()) != path_ || (rest.size() > path_.size() && rest[path_.size()] != '/'))
        return outside("is outside the workspace");
      rest.remove_prefix(path_.size());
    }
  }
  std::vector<std::string> parts;
  for (auto& part : split_path(rest)) {
    if (part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return outside("climbs above the workspace root with '..'");
      parts.pop_back();
      continue;
    }
    parts.push_back(std::move(part));
  }
  std::string rel;
  for (const auto& p : parts) {
    if (!rel.empty()) rel.push_back('/');
    rel += p;
  }
  return rel;
}

Result<Fd> ConfinedRoot::open_beneath(const std::string& rel, int flags, mode_t mode) const {
  flags |= O_CLOEXEC;
  if (!has_openat2()) return walk_beneath(rel, flags, mode);
  const char* p = rel.empty() ? "." : rel.c_str();
  for (;;) {
    const long fd = sys_openat2(fd_.get(), p, flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) return Fd(static_cast<int>(fd));
    if (errno == EAGAIN || errno == EINTR) continue;  // a concurrent rename raced the lookup
    return errno_error(errno, "open", rel.empty() ? "." : rel);
  }
}

// Portable resolution for kernels without openat2: one component at a time,
// never following a symlink implicitly; symlink targets are spliced into the
// remaining path and re-checked against the root.
// The confinement walk as RESOLVE_BENEATH does it ('..' within the stack, symlinks spliced and re-checked, absolute
// targets refused): one loop over the components, kept whole so the boundary reads in one place.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
Result<Fd> ConfinedRoot::walk_beneath(const std::string& rel, int flags, mode_t mode) const {
  std::vector<std::string> todo = split_path(rel);
  std::vector<Fd> stack;  // directory fds from the root down
  auto current = [&]() { return stack.empty() ? fd_.get() : stack.back().get(); };
  int links = 0;
  std::size_t i = 0;
  while (i < todo.size()) {
    const std::string part = todo[i];
    const bool last = i + 1 == todo.size();
    if (part == ".") {
      ++i;
      continue;
    }
    if (part == "..") {
      if (stack.empty()) return errno_error(EXDEV, "open", rel);
      stack.pop_back();
      ++i;
      continue;
    }
    struct stat st {};
    if (::fstatat(current(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) &&
        !(last && (flags & O_NOFOLLOW))) {
      if (++links > 40) return errno_error(ELOOP, "open", rel);
      char target[PATH_MAX];
      const ssize_t n = ::readlinkat(current(), part.c_str(), target, sizeof target - 1);
      if (n < 0) return errno_error(errno, "readlink", rel);
      const std::string_view t(target, static_cast<std::size_t>(n));
      if (!t.empty() && t.front() == '/') return errno_error(EXDEV, "open", rel);  // as RESOLVE_BENEATH
      std::vector<std::string> spliced = split_path(t);
      spliced.insert(spliced.end(), todo.begin() + static_cast<std::ptrdiff_t>(i) + 1, todo.end());
      todo = std::move(spliced);
      i = 0;
      continue;
    }
    if (last) {
      const int fd = ::openat(current(), part.c_str(), flags | O_NOFOLLOW, mode);
      if (fd < 0) return errno_error(errno, "open", rel);
      return Fd(fd);
    }
    const int fd = ::openat(current(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, "open", rel);
    stack.emplace_back(fd);
    ++i;
  }
  const int fd = ::openat(current(), ".", flags, mode);
  if (fd < 0) return errno_error(errno, "open", rel.empty() ? "." : rel);
  return Fd(fd);
}

Result<std::pair<Fd, std::string>> ConfinedRoot::open_parent(const std::string& rel) const {
  const std::size_t slash = rel.rfind('/');
  const std::string parent = slash == std::string::npos ? std::string() : rel.substr(0, slash);
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  auto fd = open_beneath(parent, O_PATH | O_DIRECTORY);
  if (!fd) return std::move(fd).error();
  return std::make_pair(std::move(*fd), std::move(name));
}

}  // namespace icotes
