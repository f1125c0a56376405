// Path confinement: every path a client names is resolved beneath the
// workspace root, never outside it.
//
// Resolution uses openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
// (Linux 5.6+), so `..` escapes, absolute symlinks, symlinks that lead out at
// any depth and /proc/self/root tricks fail at open time, on the same fd the
// operation then uses (no check-then-use window). Where the kernel lacks
// openat2 (ENOSYS), a component-by-component walk with O_NOFOLLOW and
// explicit symlink resolution gives the same answers.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <utility>

#include "icotes/result.hpp"

namespace icotes {

/// An owned file descriptor (RAII).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  void reset() noexcept;
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

class ConfinedRoot {
 public:
  /// Opens `root` (made absolute and canonical). Errors: kNotFound when it is
  /// missing or not a directory.
  static Result<ConfinedRoot> open(const std::string& root);

  /// The canonical absolute root, without a trailing slash ("/" stays "/").
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

  /// Maps a client path — relative to the root, or absolute inside it — to a
  /// normalised relative path ("" is the root itself; no "." or ".."
  /// components, no trailing slash). Purely lexical: symlinks are judged when
  /// the path is opened. Errors (kOutsideWorkspace): an absolute path outside
  /// the root (a sibling such as /work/app-evil for /work/app included), a
  /// `..` that climbs above the root, an empty path or a NUL byte.
  Result<std::string> relative(std::string_view client_path) const;

  /// openat2 beneath the root. `flags` as open(2) (O_CLOEXEC is added).
  /// `rel` must come from relative(). Errors: kOutsideWorkspace when a
  /// symlink leads out of the root, kNotFound (ENOENT/ENOTDIR), kIoError.
  Result<Fd> open_beneath(const std::string& rel, int flags, mode_t mode = 0) const;

  /// Opens the parent directory of `rel` (O_PATH|O_DIRECTORY) and returns it
  /// with the last component. `rel` must not be the root.
  Result<std::pair<Fd, std::string>> open_parent(const std::string& rel) const;

  /// Absolute path of a relative one, for messages and URIs.
  std::string absolute(const std::string& rel) const {
    return rel.empty() ? path_ : (path_ == "/" ? "/" + rel : path_ + "/" + rel);
  }

  /// Whether openat2 is in use (false: the portable walk).
  static bool has_openat2();

 private:
  ConfinedRoot(std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Result<Fd> walk_beneath(const std::string& rel, int flags, mode_t mode) const;
  std::string path_;
  Fd fd_;
};

/// Builds an Error for errno `err` on `path`, mapping ENOENT/ENOTDIR to
/// kNotFound, EXDEV/ELOOP-at-boundary to kOutsideWorkspace, EACCES/EPERM to
/// kPermissionDenied, else kIoError. `what` is the failed step ("open").
Error errno_error(int err, std::string_view what, std::string_view path);

}  // namespace icotes
