// The helpers of files_internal.hpp.
#include "files_internal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "icotes/path_policy.hpp"
#include "icotes/text.hpp"

namespace icotes::files::detail {
namespace {

std::string shown(std::string_view rel) { return rel.empty() ? std::string("the workspace root") : std::string(rel); }

}  // namespace

Result<std::string> read_fd(int fd, const std::string& rel, std::size_t size_hint) {
  std::string out;
  out.resize(size_hint + 1);
  std::size_t have = 0;
  for (;;) {
    if (have == out.size()) out.resize(out.size() * 2 + 4096);
    const ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "read", rel);
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  out.resize(have);
  return out;
}

std::string parent_of(std::string_view rel) {
  const std::size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(rel.substr(0, slash));
}

std::string join(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  out += '/';
  out += name;
  return out;
}

Status judge_change(const std::string& landing, const Access& access) {
  if (auto why = protected_path_reason(landing))
    return make_error(error_code::kPermissionDenied,
                      "permission denied: this change lands on " + shown(landing) + " (" + *why + ")",
                      json{{"path", landing}});
  if (access.may_write) return access.may_write(landing);
  return ok_status();
}

Status judge_read(std::string_view what, const std::string& rel, const std::string& landing, const Access& access) {
  if (!access.read_denied) return ok_status();
  if (!access.read_denied(rel) && (landing == rel || !access.read_denied(landing))) return ok_status();
  return make_error(error_code::kPermissionDenied,
                    std::string(what) +
                        ": permission denied: " + (landing == rel ? shown(rel) : rel + " leads to " + shown(landing)) +
                        ", which a Read deny rule covers",
                    json{{"path", rel}});
}

Error changed_meanwhile(const std::string& rel) {
  return make_error(error_code::kConflict,
                    rel +
                        " changed (renamed, replaced or relinked) while it was being written; nothing was written "
                        "there, retry",
                    json{{"path", rel}});
}

std::string read_call(const std::string& rel, std::int64_t offset, const std::string& extra) {
  std::string call = "read_file {\"path\":";
  append_json_string(call, rel);
  call += ",\"offset\":" + std::to_string(offset) + extra + "}";
  return call;
}

Result<DirNames> read_directory(int fd, const char* op, const std::string& shown) {
  const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR* dir = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!dir) {
    if (dup >= 0) ::close(dup);
    return errno_error(errno, op, shown);
  }
  DirNames names;
  while (struct dirent* e = ::readdir(dir)) {
    const std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n, e->d_type);
  }
  ::closedir(dir);
  return names;
}

}  // namespace icotes::files::detail
