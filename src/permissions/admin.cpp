// icotes/permissions/{list,grant,revoke,log}: LSP requests and the
// `icotes permissions` CLI. Never MCP tools: an AI client cannot change
// what it is allowed to do.
#include "icotes/permission_admin.hpp"

#include <unistd.h>

#include <toml++/toml.h>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "icotes/permission_store.hpp"
#include "icotes/shell_rule.hpp"

namespace icotes::permissions {
namespace {

json grant_json(const Gate::Listed& l) {
  return {{"kind", std::string(to_string(l.grant.kind))},
          {"scope", std::string(to_string(l.grant.scope))},
          {"value", l.grant.value},
          {"answer", std::string(to_string(l.grant.answer))}};
}

Result<Grant> grant_from(const json& p) {
  if (!p.is_object())
    return make_error(error_code::kInvalidParams, "params must be an object {kind, scope, value?, answer?}");
  Grant g;
  auto kind = operation_kind_from_string(member_or(p, "kind", std::string()));
  if (!kind || *kind == OperationKind::None)
    return make_error(error_code::kInvalidParams,
                      "kind must be one of ReadFile, WriteFile, EditFile, Bash, GitWrite, Network");
  g.kind = *kind;
  auto scope = scope_from_string(member_or(p, "scope", std::string()));
  if (!scope)
    return make_error(error_code::kInvalidParams, "scope must be one of specific, directory, project, global");
  g.scope = *scope;
  g.value = member_or(p, "value", std::string());
  const std::string answer = member_or(p, "answer", std::string("allow"));
  if (answer != "allow" && answer != "deny")
    return make_error(error_code::kInvalidParams, "answer must be allow or deny");
  g.answer = answer == "allow" ? Answer::Allow : Answer::Deny;
  return g;
}

// icotes/permissions/list: the mode, the rules in force and the saved grants.
json list_result(Gate& gate) {
  json grants = json::array();
  for (const auto& l : gate.list()) grants.push_back(grant_json(l));
  const Settings& s = gate.settings();
  json allow = json::array(), deny = json::array();
  for (const auto& r : s.allow) allow.push_back(r.text());
  for (const auto& r : s.deny) deny.push_back(r.text());
  return json{
      {"mode", std::string(to_string(s.mode))}, {"rules", {{"allow", allow}, {"deny", deny}}}, {"grants", grants}};
}

// icotes/permissions/log: the audit log's records, newest first, paged by limit and offset.
Result<json> log_result(Gate& gate, const json& params) {
  const std::size_t limit = member_or<std::size_t>(params, "limit", 100);
  const std::size_t offset = member_or<std::size_t>(params, "offset", 0);
  auto records = gate.log(std::min<std::size_t>(limit, 10000), offset);
  if (!records) return std::move(records).error();
  json out = json::array();
  for (const auto& r : *records)
    out.push_back({{"time", r.time_ms},
                   {"client", r.client},
                   {"operation", r.operation},
                   {"kind", r.kind},
                   {"target", r.target},
                   {"answer", r.answer},
                   {"decidedBy", r.decided_by}});
  return json{{"records", std::move(out)}};
}

}  // namespace

bool is_admin_method(std::string_view method) {
  return method == "icotes/permissions/list" || method == "icotes/permissions/grant" ||
         method == "icotes/permissions/revoke" || method == "icotes/permissions/log";
}

Result<json> admin(Gate& gate, const ConfinedRoot& root, std::string_view method, const json& params,
                   const std::string& by) {
  // Answer from the files as they are now: the CLI or an editor of
  // config.toml may have changed them since the last decision.
  gate.refresh();
  if (method == "icotes/permissions/list") return list_result(gate);
  if (method == "icotes/permissions/grant" || method == "icotes/permissions/revoke") {
    auto g = grant_from(params);
    if (!g) return std::move(g).error();
    if (g->kind != OperationKind::Bash && (g->scope == Scope::Specific || g->scope == Scope::Directory)) {
      auto rel = root.relative(g->value.empty() ? "." : g->value);  // normalised beneath the root
      if (!rel) return std::move(rel).error();
      g->value = *rel;
    }
    const bool global = g->scope == Scope::Global;
    if (method == "icotes/permissions/grant") {
      if (auto st = gate.grant(*g, global, by); !st) return st.error();
      return json{{"granted", true}, {"value", g->value}};
    }
    auto removed = gate.revoke(g->kind, g->scope, g->value, global);
    if (!removed) return std::move(removed).error();
    return json{{"revoked", *removed}};
  }
  if (method == "icotes/permissions/log") return log_result(gate, params);
  return make_error(error_code::kMethodNotFound, "method not found: " + std::string(method));
}

namespace {

Error cli_error(std::string message) { return make_error(error_code::kInvalidParams, std::move(message)); }

std::string kinds_text(std::string_view name) {
  if (name == "Read") return "reads (ReadFile)";
  if (name == "Edit") return "file writes and edits (EditFile, WriteFile)";
  if (name == "Write") return "file writes (WriteFile)";
  if (name == "Bash") return "commands (Bash)";
  if (name == "GitWrite") return "git changes (GitWrite)";
  return "network access (Network)";
}

// A Bash pattern names one command: `git diff:*` (these words, then anything), `npm run *` (a glob on the
// words). Errors say why another text is not one.
Status check_bash_pattern(const std::string& what, const std::string& arg) {
  const bool prefix = arg.size() >= 2 && arg.compare(arg.size() - 2, 2, ":*") == 0;
  if (!prefix && arg.find(":*") != std::string::npos)
    return cli_error("'" + what + "': ':*' must end the pattern ('Bash(git diff:*)': git diff and any arguments)");
  std::string body = prefix ? arg.substr(0, arg.size() - 2) : arg.substr(0, arg.size() - 1);
  while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) body.pop_back();
  if (body.empty())
    return cli_error("'" + what +
                     "' names no command: write the bare kind 'Bash' to allow every command line, or "
                     "the command's first words ('Bash(make:*)')");
  const ShellParse parse = parse_shell_command(body);
  if (parse.opaque)
    return cli_error("'" + what + "': '" + body + "' cannot be read as a command (" + parse.reason + ")");
  if (parse.commands.size() != 1)
    return cli_error("'" + what + "': a rule names one command, and '" + body + "' holds " +
                     std::to_string(parse.commands.size()) + "; allow each one with its own rule");
  return ok_status();
}

// What a saved rule with argument `arg` covers, for the CLI's answer.
std::string rule_scope_text(const std::string& arg, bool bash, bool pattern) {
  if (arg.empty()) return "every target";
  if (bash) {
    if (arg.size() >= 2 && arg.compare(arg.size() - 2, 2, ":*") == 0)
      return "command lines whose commands each start with the words '" + arg.substr(0, arg.size() - 2) + "'";
    if (pattern) return "command lines whose commands each match the glob '" + arg + "'";
    return "the command line '" + arg + "'";
  }
  if (pattern) return "paths matching " + arg;
  if (arg.back() == '/') return "everything under " + arg;
  return "the path " + arg + " and what is beneath it";
}

// What a grant of `scope` ("global", "project", "directory", "specific") on `value` covers, for the CLI's answer.
std::string grant_scope_text(const std::string& scope, const std::string& value, bool bash) {
  if (scope == "global") return "every workspace";
  if (scope == "project") return "this whole workspace";
  if (scope == "directory") return "everything under " + (value.empty() ? std::string(".") : value) + "/";
  if (bash) return "exactly the command line '" + value + "'";
  return "the file " + value;
}

// Saves (allow, deny) or removes (revoke) the workspace rule `what` (kind `name`, covering `scope_text`).
Result<std::string> change_rule(Gate& gate, const ConfinedRoot& root, std::string_view action, const std::string& what,
                                const std::string& name, const std::string& scope_text) {
  const Answer answer = action == "deny" ? Answer::Deny : Answer::Allow;
  auto rule = Rule::parse(what, answer);
  if (!rule) return std::move(rule).error();
  if (action == "revoke") {
    auto removed = gate.remove_rule(what, answer);
    if (!removed) return std::move(removed).error();
    if (!*removed)
      return make_error(error_code::kNotFound,
                        "no saved rule '" + what + "' (rules written in .icotes/config.toml are removed there)");
    return "revoked " + what + ": the rule for " + kinds_text(name) + " of " + scope_text;
  }
  if (auto st = gate.save_rule(*rule, "cli"); !st) return st.error();
  return std::string(action == "deny" ? "denied" : "allowed") + " " + what + ": a rule for " + kinds_text(name) + ", " +
         scope_text + " (saved in " + root.path() + "/.icotes/permissions.sqlite)";
}

// Sets `line` (mode = "...") in config.toml's lines: replaces the [permissions] table's mode line, or adds one
// (and the table when there is none). The other lines stay as the user wrote them.
void set_mode_line(std::vector<std::string>& lines, const std::string& line) {
  auto trimmed = [](const std::string& l) {
    const std::size_t b = l.find_first_not_of(" \t");
    return b == std::string::npos ? std::string() : l.substr(b);
  };
  std::size_t header = lines.size();
  for (std::size_t i = 0; i < lines.size() && header == lines.size(); ++i) {
    std::string t = trimmed(lines[i]);
    if (t.rfind("[permissions]", 0) == 0) header = i;
  }
  if (header == lines.size()) {
    if (!lines.empty() && !lines.back().empty()) lines.emplace_back();
    lines.push_back("[permissions]");
    lines.push_back(line);
  } else {
    std::size_t i = header + 1;
    bool replaced = false;
    for (; i < lines.size() && trimmed(lines[i]).rfind('[', 0) != 0; ++i) {
      const std::string t = trimmed(lines[i]);
      if (t.rfind("mode", 0) == 0 && t.find_first_not_of(" \t", 4) != std::string::npos &&
          t[t.find_first_not_of(" \t", 4)] == '=') {
        lines[i] = line;
        replaced = true;
        break;
      }
    }
    if (!replaced) lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(header) + 1, line);
  }
}

}  // namespace

// The CLI's allow, deny and revoke: reads the permission as written, then saves or removes a rule (patterns, and
// every workspace deny) or a grant per operation kind, and says what it covers, one command's path per branch.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
Result<std::string> change_from_cli(Gate& gate, const ConfinedRoot& root, std::string_view action,
                                    const std::string& what, bool global) {
  const std::string example =
      "e.g. 'Edit(src/main.c)', 'Edit(src/)', 'Edit(src/**)', 'Bash(make test)', 'Bash(git diff:*)', 'Read'";
  if (what.empty()) return cli_error("which permission? " + example);
  const std::size_t open = what.find('(');
  const std::string name = what.substr(0, open);
  std::string arg;
  if (open != std::string::npos) {
    if (what.back() != ')') return cli_error("'" + what + "': missing ')' at the end");
    arg = what.substr(open + 1, what.size() - open - 2);
    if (arg.empty())
      return cli_error("'" + what + "' names nothing: write the bare kind '" + name +
                       "' for every target, or a target inside the parentheses (" + example + ")");
  }
  const auto kinds = kinds_of_rule_name(name);
  if (!kinds)
    return cli_error("unknown kind '" + name + "' in '" + what +
                     "': use Read, Edit, Write, Bash, GitWrite or Network (" + example + ")");
  const bool bash = name == "Bash";
  if (bash && arg.find(":*") != std::string::npos && arg.compare(arg.size() - 2, 2, ":*") != 0)
    return cli_error("'" + what + "': ':*' must end the pattern ('Bash(git diff:*)': git diff and any arguments)");
  const Answer answer = action == "deny" ? Answer::Deny : Answer::Allow;
  const std::string verb = action == "revoke" ? "revoked" : action == "deny" ? "denied" : "allowed";
  const bool pattern = bash ? !arg.empty() && arg.back() == '*'
                            : arg.find_first_of("*?[") != std::string::npos || (!arg.empty() && arg[0] == '/');
  // A workspace deny is always saved as a rule: deny rules are judged before
  // anything allows (a client's own --allow, mode bypass), where a saved
  // deny answer would be looked up only after them.
  const bool deny_rule = action == "deny" && !global;
  if (pattern || deny_rule) {
    if (global)
      return cli_error("'" + what +
                       "' is a pattern: patterns are saved for one workspace (--global takes a bare kind)");
    if (bash && pattern)
      if (auto st = check_bash_pattern(what, arg); !st) return st.error();
    return change_rule(gate, root, action, what, name, rule_scope_text(arg, bash, pattern));
  }
  if (action == "revoke" && !global) {
    // A deny saved as a rule (above) is revoked by its text.
    auto removed = gate.remove_rule(what, answer);
    if (!removed) return std::move(removed).error();
    if (*removed) return "revoked " + what + ": the saved rule for " + kinds_text(name);
  }
  std::string scope = global ? "global" : "project";
  if (!arg.empty()) scope = !bash && arg.back() == '/' ? "directory" : "specific";
  if (scope == "directory") arg.pop_back();
  std::string value;
  bool any_removed = false;
  for (const auto kind : *kinds) {
    json p = {{"kind", std::string(to_string(kind))},
              {"scope", scope},
              {"value", arg},
              {"answer", std::string(to_string(answer))}};
    auto r = admin(gate, root, action == "revoke" ? "icotes/permissions/revoke" : "icotes/permissions/grant", p, "cli");
    if (!r) return std::move(r).error();
    if (action == "revoke")
      any_removed = any_removed || (*r)["revoked"].get<bool>();
    else
      value = (*r)["value"].get<std::string>();
  }
  if (action == "revoke") value = arg;
  const std::string scope_text = grant_scope_text(scope, value, bash);
  if (action == "revoke" && !any_removed)
    return make_error(error_code::kNotFound,
                      "no saved grant " + what + " (" + kinds_text(name) + ", scope " + scope + ")");
  return verb + " " + what + ": " + kinds_text(name) + ", scope " + scope + ": " + scope_text +
         (action == "revoke"
              ? std::string()
              : " (saved in " +
                    (global ? std::string("the user's state directory") : root.path() + "/.icotes/permissions.sqlite") +
                    ")");
}

Result<std::string> mode_from_cli(Gate& gate, const ConfinedRoot& root, const std::string& mode) {
  if (mode.empty()) return "mode " + std::string(to_string(gate.settings().mode));
  const auto m = mode_from_string(mode);
  if (!m) return cli_error("mode '" + mode + "' is not one of default, acceptEdits, readOnly");
  if (*m == Mode::Bypass)
    return cli_error("mode bypass is not saved for a workspace: only a client's own --permission-mode bypass sets it");
  const std::string dir = root.path() + "/.icotes", path = dir + "/config.toml";
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    // A config that exists but cannot be read is not replaced by one line
    // (its deny rules would be lost).
    std::error_code ec;
    if ((!in || in.bad()) && std::filesystem::exists(path, ec))
      return make_error(error_code::kIoError, path + " exists but cannot be read; mode not changed");
  }
  // One line changed or added: the rest of the file (comments, order) stays as the user wrote it.
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  set_mode_line(lines, "mode = \"" + mode + "\"");
  std::string out;
  for (const auto& l : lines) {
    out += l;
    out += '\n';
  }
  // The edit must say what was meant, or nothing is written.
  try {
    const toml::table t = toml::parse(out, path);
    if (t["permissions"]["mode"].value<std::string>() != mode) throw std::runtime_error("");
  } catch (const std::exception&) {
    return cli_error(path + ": its [permissions] table is written in a form this command does not edit; set mode = \"" +
                     mode + "\" there by hand");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << out;
    f.flush();
    if (!f) return make_error(error_code::kIoError, "cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return make_error(error_code::kIoError, "cannot replace " + path);
  }
  return "mode " + mode + " for this workspace (set in " + path +
         "); a client started with --permission-mode keeps its own";
}

}  // namespace icotes::permissions
