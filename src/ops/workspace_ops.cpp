// workspace/* operations: what concerns the workspace's attached clients.
#include <fcntl.h>
#include <sys/stat.h>

#include <ctime>

#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/workspace.hpp"
#include "workspace_json.hpp"

namespace icotes {
namespace {

Result<json> open_in_editor(Context& ctx, workspace_ops::OpenParams&& p) {
  auto rel = ctx.workspace.root().relative(p.path);
  if (!rel) return std::move(rel).error();
  // The editor attached last that can show a document.
  const auto editors = ctx.workspace.documents().editors();
  std::shared_ptr<EditorLink> editor;
  for (const auto& e : editors)
    if (!editor && e->can_show_document()) editor = e;
  if (editors.empty())
    return make_error(error_code::kRequestFailed,
                      "no editor is attached to the workspace at " + ctx.workspace.root().path() +
                          ": start your editor's icotes client (an LSP client running `icotes serve` on stdio, which "
                          "attaches to the daemon) first",
                      json{{"reason", "noEditor"}});
  if (!editor) {
    json names = json::array();
    for (const auto& e : editors) names.push_back(e->editor_name());
    return make_error(error_code::kRequestFailed,
                      (editors.size() == 1 ? "the attached editor (" + editors.front()->editor_name() + ") lacks"
                                           : "none of the attached editors (" + names.dump() + ") has") +
                          " window/showDocument (LSP 3.16), which showing a file needs: open " + p.path +
                          " there by hand",
                      json{{"reason", "noShowDocument"}, {"editors", std::move(names)}});
  }
  std::optional<Position> at;
  if (p.line) at = Position{*p.line - 1, p.column - 1};
  const std::string uri = ctx.workspace.uri_of(*rel);
  auto shown = editor->show_document(uri, at, std::chrono::seconds(10));
  if (!shown) return std::move(shown).error();
  return json{{"shown", *shown}, {"editor", editor->editor_name()}, {"uri", uri}};
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The git line: through the git service's status (one entry is enough for
// the count), only when the root holds a repository, so a workspace
// without one never loads the git module.
std::optional<json> git_state(Context& ctx) {
  struct stat st {};
  if (::fstatat(ctx.workspace.root().fd(), ".git", &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  git::StatusParams params;
  params.limit = 1;
  params.given = {{"limit", 1}};
  const git::Policy policy{ctx.read_denied, nullptr};
  auto status = ctx.workspace.git().run(&git::ModuleApi::status, params, git::Call{ctx.cancel, ctx.progress, policy});
  if (!status) return json{{"branch", nullptr}, {"changed", 0}, {"error", status.error().message}};
  const json& b = (*status)["branch"];
  json g = {{"branch", b.value("head", json())}, {"changed", status->value("total", 0)}};
  const json oid = b.value("oid", json());
  g["commit"] = oid.is_string() ? json(oid.get<std::string>().substr(0, 12)) : json();
  if (b.contains("upstream")) g["upstream"] = b["upstream"];
  if (b.contains("ahead")) g["ahead"] = b["ahead"];
  if (b.contains("behind")) g["behind"] = b["behind"];
  return g;
}

Result<json> info(Context& ctx, bind::NoParams&&) {
  Workspace& ws = ctx.workspace;
  json out = {{"root", ws.root().path()}};
  if (auto g = git_state(ctx)) out["git"] = std::move(*g);
  json clients = json::array();
  const void* me = ctx.connection.get();
  for (const auto& c : ws.clients().list()) {
    json j = {{"dialect", c.dialect}, {"name", c.name}, {"since", rfc3339(c.since)}};
    if (!c.version.empty()) j["version"] = c.version;
    if (me && c.connection == me) j["you"] = true;
    clients.push_back(std::move(j));
  }
  out["clients"] = std::move(clients);
  const permissions::Settings& perms = ctx.client ? ctx.client->settings : ws.gate().settings();
  out["permissions"] = {{"mode", std::string(permissions::to_string(perms.mode))},
                        {"allowRules", perms.allow.size()},
                        {"denyRules", perms.deny.size()}};
  const exec::Settings& ex = ws.exec().settings();
  out["limits"] = {
      {"maxResultBytes", ctx.max_result_bytes},
      {"defaultResultBytes", ctx.max_result_bytes ? std::min(ctx.max_result_bytes, kDefaultToolResultBytes) : 0},
      {"sandbox", ex.sandbox},
      {"network", ex.network},
      {"maxProcesses", ex.limits.max_processes},
      {"memoryBytes", ex.limits.memory_bytes},
      {"cpuSeconds", ex.limits.cpu_seconds}};
  out["version"] = ICOTES_VERSION;
  return out;
}

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The git line of info_text: "branch main at 1a2b3c, up to date with origin/main, clean".
std::string git_state(const json& g) {
  std::string t;
  if (g.contains("error")) {
    t += "unreadable (" + g.value("error", std::string()).substr(0, 200) + ")";
  } else {
    const json& branch = g["branch"];
    t += branch.is_string() ? "branch " + branch.get<std::string>() : std::string("detached HEAD");
    if (auto c = g.find("commit"); c != g.end() && c->is_string())
      t += " at " + c->get<std::string>();
    else
      t += " (no commit yet)";
    if (g.contains("upstream")) {
      const auto ahead = g.value("ahead", std::uint64_t{0}), behind = g.value("behind", std::uint64_t{0});
      t += ", ";
      if (!g.contains("ahead"))
        t += "upstream " + g.value("upstream", std::string()) + " gone";
      else if (ahead == 0 && behind == 0)
        t += "up to date with " + g.value("upstream", std::string());
      else
        t += std::to_string(ahead) + " ahead, " + std::to_string(behind) + " behind " +
             g.value("upstream", std::string());
    }
    const auto changed = g.value("changed", std::uint64_t{0});
    t += changed == 0 ? ", clean" : ", " + plural(changed, "changed path", "changed paths");
  }
  return t;
}

// The clients line of info_text: the first few by dialect, name and version, and how many more.
std::string clients_list(const json& clients) {
  std::string t;
  constexpr std::size_t kShown = 8;
  for (std::size_t i = 0; i < clients.size() && i < kShown; ++i) {
    const json& c = clients[i];
    std::string name = c.value("name", std::string()).substr(0, 60);
    if (name.empty()) name = "unnamed";
    if (c.contains("version")) name += " " + c.value("version", std::string()).substr(0, 20);
    if (i) t += "; ";
    t += c.value("dialect", std::string());
    t += ' ';
    t += name;
    t += " (";
    if (c.value("you", false)) t += "you, ";
    t += "since ";
    t += c.value("since", std::string());
    t += ')';
  }
  if (clients.empty()) t += "none";
  if (clients.size() > kShown) t += "; " + std::to_string(clients.size() - kShown) + " more";
  return t;
}

// workspace_info as `key: value` lines, under 2 KB whatever is attached.
std::string info_text(const json& r) {
  std::string t = "root: " + r.value("root", std::string()) + "\n";
  if (auto g = r.find("git"); g != r.end())
    t += "git: " + git_state(*g) + "\n";
  else
    t += "git: no repository at the root\n";
  t += "clients: " + clients_list(r["clients"]);
  t += "\n";
  const json& p = r["permissions"];
  t += "permission mode: " + p.value("mode", std::string()) + " (" +
       plural(p.value("allowRules", std::uint64_t{0}), "allow rule", "allow rules") + ", " +
       plural(p.value("denyRules", std::uint64_t{0}), "deny rule", "deny rules") + ")\n";
  const json& l = r["limits"];
  const auto max = l.value("maxResultBytes", std::uint64_t{0});
  t += "limits: ";
  t += max == 0 ? std::string("results not capped")
                : "results up to " + std::to_string(max) + " bytes of text (" +
                      std::to_string(l.value("defaultResultBytes", std::uint64_t{0})) + " with default parameters)";
  t += l.value("sandbox", true) ? "; commands sandboxed" : "; run_command NOT sandboxed (run_code is)";
  t += l.value("network", false) ? ", network on" : ", no network";
  t += ", " + plural(l.value("maxProcesses", std::uint64_t{0}), "process", "processes") + " at most";
  const auto mem = l.value("memoryBytes", std::uint64_t{0}), cpu = l.value("cpuSeconds", std::uint64_t{0});
  if (mem) t += ", " + std::to_string(mem >> 20) + " MiB memory";
  if (cpu) t += ", " + std::to_string(cpu) + " s CPU";
  t += "\nicotes " + r.value("version", std::string()) + "\n";
  return t;
}

// workspace/editorContext: the attached editors' latest contexts.
Result<json> editor_context(Context& ctx, bind::NoParams&&) {
  return json{{"editors", ctx.workspace.editor_contexts().list(ctx.read_denied)}};
}

}  // namespace

void register_workspace_ops(Registry& r) {
  r.add<workspace_ops::OpenParams>("workspace/open", open_in_editor);
  r.add<bind::NoParams>("workspace/info", info, info_text);
  r.add<bind::NoParams>("workspace/editorContext", editor_context, render_editor_context);
}

}  // namespace icotes
