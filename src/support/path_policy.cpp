// What no client may change, and where an opened path lands. See
// include/support/icotes/path_policy.hpp.
#include "icotes/path_policy.hpp"

#include <unistd.h>

#include <climits>
#include <vector>

namespace icotes {
namespace {

std::vector<std::string_view> components(std::string_view rel) {
  std::vector<std::string_view> out;
  while (!rel.empty()) {
    const std::size_t slash = rel.find('/');
    std::string_view part = rel.substr(0, slash);
    if (!part.empty()) out.push_back(part);
    if (slash == std::string_view::npos) break;
    rel.remove_prefix(slash + 1);
  }
  return out;
}

// Inside a git directory (the components after `.git`, or after
// `.git/modules/<name>` or `.git/worktrees/<name>`): the files git reads
// commands from, and `commondir`, which names the directory whose config and
// hooks git then uses (gitrepository-layout(5)).
bool runs_commands(const std::vector<std::string_view>& rest, std::size_t from) {
  if (from >= rest.size()) return false;
  const std::string_view first = rest[from];
  if (first == "config" || first == "config.worktree" || first == "hooks" || first == "commondir") return true;
  return first == "info" && from + 1 < rest.size() && rest[from + 1] == "attributes";
}

}  // namespace

std::optional<std::string> protected_path_reason(std::string_view rel) {
  const auto parts = components(rel);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == ".icotes")
      return std::string(
          "icotes' own settings and grants (.icotes/) are changed with `icotes permissions` or by the "
          "user's own hand, never by an operation");
    if (parts[i] != ".git") continue;
    const std::string why =
        "git runs commands named in a repository's config, hooks and attributes at the user's next git command, so "
        "no operation may change .git itself, .git/config, .git/hooks/, .git/info/attributes, .git/commondir or a "
        "submodule's or worktree's (.git/modules/, .git/worktrees/)";
    if (i + 1 == parts.size()) return why;
    if (runs_commands(parts, i + 1)) return why;
    if (parts[i + 1] == "modules" || parts[i + 1] == "worktrees") {
      if (i + 2 == parts.size()) return why;
      // A submodule's git directory: .git/modules/<name, maybe with slashes>/...
      // (a worktree's: .git/worktrees/<name>/...)
      for (std::size_t j = i + 2; j < parts.size(); ++j)
        if (runs_commands(parts, j)) return why;
    }
  }
  return std::nullopt;
}

Result<std::string> landing_path(const ConfinedRoot& root, int fd) {
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(proc.c_str(), buf, sizeof buf - 1);
  if (n < 0) return errno_error(errno, "readlink", proc);
  std::string target(buf, static_cast<std::size_t>(n));
  if (target.empty() || target.front() != '/' || target.ends_with(" (deleted)"))
    return make_error(error_code::kIoError, "the file was deleted or moved away while it was being used: " + target);
  if (target == root.path()) return std::string();
  return root.relative(target);
}

Result<std::string> landing_path_in(const ConfinedRoot& root, int dir_fd, std::string_view name) {
  auto dir = landing_path(root, dir_fd);
  if (!dir) return dir;
  if (dir->empty()) return std::string(name);
  return *dir + "/" + std::string(name);
}

}  // namespace icotes
