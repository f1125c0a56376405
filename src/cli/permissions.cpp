// `icotes permissions`, and the permission flags of `serve` and `call`.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <utility>

#include "cli/cli.hpp"
#include "icotes/daemon.hpp"
#include "icotes/log.hpp"
#include "icotes/permission_admin.hpp"
#include "icotes/workspace.hpp"

namespace icotes::cli {

void PermissionFlags::fill(ClientProfile& profile) const {
  if (mode_given) profile.permission_mode = mode;
  profile.allow = allow;
  profile.deny = deny;
}

Result<permissions::Settings> PermissionFlags::settings() const {
  permissions::Settings s;
  s.mode = permissions::mode_from_string(mode).value_or(permissions::Mode::Default);
  for (const auto& [list, answer] :
       {std::pair{&allow, permissions::Answer::Allow}, std::pair{&deny, permissions::Answer::Deny}})
    for (const auto& text : *list) {
      auto r = permissions::Rule::parse(text, answer);
      if (!r) return std::move(r).error();
      (answer == permissions::Answer::Allow ? s.allow : s.deny).push_back(std::move(*r));
    }
  if (s.mode == permissions::Mode::Bypass) {
    std::fprintf(stderr,
                 "icotes: WARNING: --permission-mode bypass: every operation is allowed without asking "
                 "(deny rules still apply)\n");
    spdlog::warn("PERMISSION MODE BYPASS: every operation is allowed without asking (deny rules still apply)");
  }
  return s;
}

namespace {

// The nearest folder at or above `from` that `is_root` accepts; "" when none.
template <typename IsRoot>
std::string nearest(const std::filesystem::path& from, IsRoot&& is_root) {
  for (auto dir = from;; dir = dir.parent_path()) {
    if (is_root(dir)) return dir.string();
    if (dir == dir.parent_path() || dir.empty()) return "";
  }
}

// The workspace the current folder belongs to: the nearest folder at or
// above it with settings or grants (.icotes/) or a daemon, else a git
// repository's top. Outside any, the current folder for what may go on
// there (listing, the log, global grants; with a note), else the command ends.
std::string workspace_here(const PermissionsOptions& o) {
  std::error_code ec;
  const auto cwd = std::filesystem::current_path(ec);
  std::string root = nearest(cwd, [&](const std::filesystem::path& d) {
    auto a = daemon_address(d.string());
    return std::filesystem::is_directory(d / ".icotes", ec) || (a && std::filesystem::exists(a->socket_path, ec));
  });
  if (root.empty())
    root = nearest(cwd, [&](const std::filesystem::path& d) { return std::filesystem::exists(d / ".git", ec); });
  if (!root.empty()) return root;
  const std::string why =
      cwd.string() + " is not in an icotes workspace (no .icotes/, daemon or git repository at or above it)";
  if (o.action != "list" && o.action != "log" && !o.global)
    die(make_error(error_code::kNotFound, why + "; pass --root DIR to name the workspace (its grants go to "
                                                "DIR/.icotes/), or --global"),
        2, "icotes permissions " + o.action);
  std::fprintf(
      stderr, "icotes permissions: %s; %s (--root DIR names a workspace)\n", why.c_str(),
      o.action == "log" ? "the audit log of a workspace here is empty" : "only global grants and rules apply here");
  return cwd.string();
}

}  // namespace

// Grants in the rule syntax. `Edit(src/a.c)` a file, `Edit(src/)` a
// directory, `Edit` the whole project (with --global: every workspace);
// `Bash(make test)` a command.
int permissions_cli(PermissionsOptions o) {
  setup_logging("warn", "");
  if (!o.root_given) o.root = workspace_here(o);
  auto ws = Workspace::open(o.root, 1);
  if (!ws) die(ws.error());
  permissions::Gate& gate = (*ws)->gate();
  auto print = [](const Result<json>& r) {
    if (!r) die(r.error(), 1, "icotes permissions");
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  };
  if (o.action == "list")
    return print(permissions::admin(gate, (*ws)->root(), "icotes/permissions/list", json::object(), "cli"));
  if (o.action == "log")
    return print(permissions::admin(gate, (*ws)->root(), "icotes/permissions/log", json{{"limit", o.limit}}, "cli"));
  Result<std::string> done = o.action == "mode"
                                 ? permissions::mode_from_cli(gate, (*ws)->root(), o.what)
                                 : permissions::change_from_cli(gate, (*ws)->root(), o.action, o.what, o.global);
  if (!done) die(done.error(), done.error().code == error_code::kNotFound ? 1 : 2, "icotes permissions " + o.action);
  std::printf("%s\n", done->c_str());
  if (auto why = gate.grants_unavailable(); !why.empty()) std::fprintf(stderr, "icotes permissions: %s\n", why.c_str());
  return 0;
}

}  // namespace icotes::cli
