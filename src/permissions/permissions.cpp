// Permission rules, the remembered-answer cache and the decision order.
// See include/permissions/icotes/permissions.hpp.
#include "icotes/permissions.hpp"

#include "icotes/config.hpp"
#include "icotes/path_policy.hpp"

#include <toml++/toml.h>

#include <algorithm>

#include "icotes/shell_rule.hpp"

namespace icotes::permissions {

std::string_view to_string(Mode mode) {
  switch (mode) {
    case Mode::Default:
      return "default";
    case Mode::AcceptEdits:
      return "acceptEdits";
    case Mode::ReadOnly:
      return "readOnly";
    case Mode::Bypass:
      return "bypass";
  }
  return "default";
}

std::optional<Mode> mode_from_string(std::string_view name) {
  if (name == "default") return Mode::Default;
  if (name == "acceptEdits") return Mode::AcceptEdits;
  if (name == "readOnly") return Mode::ReadOnly;
  if (name == "bypass") return Mode::Bypass;
  return std::nullopt;
}

std::string_view to_string(Scope scope) {
  switch (scope) {
    case Scope::Global:
      return "global";
    case Scope::ProjectWide:
      return "project";
    case Scope::Directory:
      return "directory";
    case Scope::Specific:
      return "specific";
  }
  return "specific";
}

std::optional<Scope> scope_from_string(std::string_view name) {
  if (name == "global") return Scope::Global;
  if (name == "project") return Scope::ProjectWide;
  if (name == "directory") return Scope::Directory;
  if (name == "specific") return Scope::Specific;
  return std::nullopt;
}

bool is_write_kind(OperationKind kind) { return kind != OperationKind::None && kind != OperationKind::ReadFile; }

// --- rules -------------------------------------------------------------------

std::optional<std::vector<OperationKind>> kinds_of_rule_name(std::string_view name) {
  if (name == "Read") return std::vector{OperationKind::ReadFile};
  if (name == "Edit") return std::vector{OperationKind::EditFile, OperationKind::WriteFile};  // every file change
  if (name == "Write") return std::vector{OperationKind::WriteFile};
  if (name == "Bash") return std::vector{OperationKind::Bash};
  if (name == "GitWrite") return std::vector{OperationKind::GitWrite};
  if (name == "Network") return std::vector{OperationKind::Network};
  return std::nullopt;
}

Result<Rule> Rule::parse(std::string_view text, Answer answer) {
  Rule r;
  r.answer_ = answer;
  r.text_ = std::string(text);
  const std::size_t open = text.find('(');
  const std::string_view name = text.substr(0, open);
  auto kinds = kinds_of_rule_name(name);
  if (!kinds)
    return make_error(
        error_code::kInvalidParams,
        "permission rule '" + r.text_ +
            "': unknown kind; use Read(...), Edit(...), Write(...), Bash(...), GitWrite(...) or Network(...)");
  r.kinds_ = std::move(*kinds);
  if (open == std::string_view::npos) return r;  // bare kind: any target
  if (text.back() != ')')
    return make_error(error_code::kInvalidParams, "permission rule '" + r.text_ + "': missing closing ')'");
  r.pattern_ = std::string(text.substr(open + 1, text.size() - open - 2));
  if (r.pattern_.empty())
    return make_error(error_code::kInvalidParams,
                      "permission rule '" + r.text_ + "': empty pattern; write the bare kind for any target");
  if (name != "Bash") {
    std::string p = r.pattern_;
    if (p.size() > 2 && p.compare(0, 2, "./") == 0) p.erase(0, 2);
    while (p.size() > 1 && p.back() == '/') p += "**";  // "src/" means everything beneath
    r.glob_.emplace(p);
  }
  return r;
}

bool Rule::covers_kind(OperationKind kind) const {
  return std::find(kinds_.begin(), kinds_.end(), kind) != kinds_.end();
}

bool Rule::matches(const Need& need) const {
  if (!covers_kind(need.kind)) return false;
  if (pattern_.empty()) return true;
  if (need.kind == OperationKind::Bash) {
    // An allow rule must cover every simple command; a deny rule applies when it may name any of them.
    if (answer_ == Answer::Allow) return bash_rule_matches(pattern_, need.target);
    return bash_rule_may_match(pattern_, parse_shell_command(need.target));
  }
  const bool absolute_pattern = !pattern_.empty() && pattern_[0] == '/';
  if (need.outside != absolute_pattern) return false;  // relative globs never name outside paths
  if (glob_->matches(need.target)) return true;
  // "src/**" also names "src" itself, as people read it.
  const std::string& g = glob_->pattern();
  if (g.size() > 3 && g.compare(g.size() - 3, 3, "/**") == 0 &&
      need.target == std::string_view(g).substr(0, g.size() - 3))
    return true;
  // As in .gitignore, a pattern naming a directory covers what is beneath
  // it: Read(secrets) denies secrets/key.pem too.
  const std::string_view t = need.target;
  for (std::size_t slash = t.find('/', 1); slash != std::string_view::npos; slash = t.find('/', slash + 1))
    if (glob_->matches(t.substr(0, slash))) return true;
  return false;
}

std::string rule_for(const Need& need) {
  std::string name;
  switch (need.kind) {
    case OperationKind::ReadFile:
      name = "Read";
      break;
    case OperationKind::WriteFile:
    case OperationKind::EditFile:
      name = "Edit";
      break;
    case OperationKind::Bash:
      name = "Bash";
      break;
    case OperationKind::GitWrite:
      name = "GitWrite";
      break;
    case OperationKind::Network:
      name = "Network";
      break;
    case OperationKind::None:
      return need.target;
  }
  // The workspace as a whole (a search of everything, a commit): the bare
  // kind, since a rule's pattern cannot be empty.
  if (need.target.empty()) return name;
  return name + "(" + need.target + ")";
}

// --- cache -------------------------------------------------------------------

std::string Cache::key(OperationKind kind, Scope scope, std::string_view value) {
  std::string k;
  k.reserve(value.size() + 2);
  k.push_back(static_cast<char>('0' + static_cast<int>(kind)));
  k.push_back(static_cast<char>('0' + static_cast<int>(scope)));
  k.append(value);
  return k;
}

void Cache::put(const Grant& grant) {
  std::lock_guard lock(mutex_);
  map_[key(grant.kind, grant.scope, grant.value)] = grant;
}

void Cache::replace(const std::vector<Grant>& grants) {
  std::unordered_map<std::string, Grant> map;
  for (const Grant& g : grants) map[key(g.kind, g.scope, g.value)] = g;
  std::lock_guard lock(mutex_);
  map_.swap(map);
}

bool Cache::remove(OperationKind kind, Scope scope, std::string_view value) {
  std::lock_guard lock(mutex_);
  return map_.erase(key(kind, scope, value)) > 0;
}

std::optional<Grant> Cache::lookup(const Need& need) const {
  std::lock_guard lock(mutex_);
  if (map_.empty()) return std::nullopt;
  // One key buffer, rewritten per probe: no allocation after the first.
  std::string k = key(need.kind, Scope::Specific, need.target);
  auto probe = [&](Scope scope, std::string_view value) -> const Grant* {
    k.resize(2);
    k[1] = static_cast<char>('0' + static_cast<int>(scope));
    k.append(value);
    auto it = map_.find(k);
    return it == map_.end() ? nullptr : &it->second;
  };
  if (const Grant* g = probe(Scope::Specific, need.target)) return *g;
  if (need.kind != OperationKind::Bash && !need.outside) {
    // Ancestors, nearest first: "a/b/c" → "a/b", "a", "" (the root).
    std::string_view t = need.target;
    while (!t.empty()) {
      const std::size_t slash = t.rfind('/');
      t = slash == std::string_view::npos ? std::string_view() : t.substr(0, slash);
      if (const Grant* g = probe(Scope::Directory, t)) return *g;
    }
  }
  if (!need.outside)
    if (const Grant* g = probe(Scope::ProjectWide, "")) return *g;
  if (const Grant* g = probe(Scope::Global, "")) return *g;
  return std::nullopt;
}

bool Cache::any(OperationKind kind, Answer answer) const {
  std::lock_guard lock(mutex_);
  return std::any_of(map_.begin(), map_.end(),
                     [&](const auto& entry) { return entry.second.kind == kind && entry.second.answer == answer; });
}

std::vector<Grant> Cache::all() const {
  std::lock_guard lock(mutex_);
  std::vector<Grant> out;
  out.reserve(map_.size());
  for (const auto& [k, g] : map_) out.push_back(g);
  std::sort(out.begin(), out.end(), [](const Grant& a, const Grant& b) {
    return std::tie(a.kind, a.scope, a.value) < std::tie(b.kind, b.scope, b.value);
  });
  return out;
}

void Cache::clear() {
  std::lock_guard lock(mutex_);
  map_.clear();
}

// --- settings ----------------------------------------------------------------

Result<Settings> load_settings(const std::string& path) {
  Settings s;
  auto config = read_config(path);
  if (!config) return std::move(config).error();
  if (!*config) return s;  // no file: defaults
  const toml::table* perms = (**config)["permissions"].as_table();
  if (!perms) return s;
  if (auto mode = (*perms)["mode"].value<std::string>()) {
    auto m = mode_from_string(*mode);
    if (!m)
      return make_error(error_code::kInvalidParams,
                        path + ": permissions.mode '" + *mode + "' is not one of default, acceptEdits, readOnly");
    if (*m == Mode::Bypass)
      return make_error(
          error_code::kInvalidParams,
          path + ": permissions.mode 'bypass' can only be set by the command-line flag --permission-mode bypass");
    s.mode = *m;
  }
  for (auto [list_name, answer] : {std::pair{"allow", Answer::Allow}, std::pair{"deny", Answer::Deny}}) {
    const auto* arr = (*perms)[list_name].as_array();
    if (!arr) continue;
    for (const auto& item : *arr) {
      auto text = item.value<std::string>();
      if (!text)
        return make_error(error_code::kInvalidParams, path + ":" + std::to_string(item.source().begin.line) +
                                                          ": permissions." + list_name + " holds a non-string");
      auto rule = Rule::parse(*text, answer);
      if (!rule) return make_error(error_code::kInvalidParams, path + ": " + rule.error().message);
      (answer == Answer::Allow ? s.allow : s.deny).push_back(std::move(*rule));
    }
  }
  return s;
}

// --- decisions ---------------------------------------------------------------

namespace {

// The first allow rule (the workspace's, then the client's) that covers simple command `c`, or null.
const Rule* first_command_rule(const std::vector<Rule>& workspace, const std::vector<Rule>& own,
                               const SimpleCommand& c) {
  for (const auto* allow : {&workspace, &own})
    for (const Rule& r : *allow)
      if (r.covers_kind(OperationKind::Bash) && rule_matches_command(r.pattern(), c)) return &r;
  return nullptr;
}

// The allow rules that together cover every simple command of a parsed line ("rule Bash(ls:*) + Bash(echo:*)"),
// or nothing. A bare `Bash` rule covers any line.
std::optional<std::string> allowed_by(const std::vector<Rule>& workspace, const std::vector<Rule>& own,
                                      const ShellParse& parse) {
  for (const auto* allow : {&workspace, &own})
    for (const Rule& r : *allow)
      if (r.covers_kind(OperationKind::Bash) && r.pattern().empty()) return "rule " + r.text();
  if (parse.opaque || parse.commands.empty()) return std::nullopt;
  std::vector<const Rule*> used;
  for (const SimpleCommand& c : parse.commands) {
    const Rule* by = first_command_rule(workspace, own, c);
    if (!by) return std::nullopt;
    if (std::find(used.begin(), used.end(), by) == used.end()) used.push_back(by);
  }
  std::string text = "rule ";
  for (std::size_t k = 0; k < used.size(); ++k) text += (k > 0 ? " + " : "") + used[k]->text();
  return text;
}

// The first deny rule (the workspace's, then the client's) that refuses `need`, or null. For a command line
// (`parse` not null) a rule about commands refuses it when it may match any of its commands, and
// `bash_deny_rules` tells whether there was any such rule.
const Rule* denying_rule(const Need& need, const Settings& workspace, const Settings& own, const ShellParse* parse,
                         bool& bash_deny_rules) {
  for (const auto* deny : {&workspace.deny, &own.deny})
    for (const Rule& r : *deny) {
      if (parse && r.covers_kind(OperationKind::Bash)) {
        bash_deny_rules = true;
        if (r.pattern().empty() || bash_rule_may_match(r.pattern(), *parse)) return &r;
      } else if (r.matches(need)) {
        return &r;
      }
    }
  return nullptr;
}

// The grant that answers `need`: the widest scope of the session's, the project's and the global one, a deny
// winning a tie. `from` names where it was found ("session", "saved").
std::optional<Grant> best_grant(const Need& need, const Cache& session, const Cache* persisted, const Cache* global,
                                std::string& from) {
  std::optional<Grant> best;
  for (auto [cache, name] :
       {std::pair{&session, "session"}, std::pair{persisted, "saved"}, std::pair{global, "saved"}}) {
    if (!cache) continue;
    auto g = cache->lookup(need);
    if (!g) continue;
    if (!best || g->scope > best->scope || (g->scope == best->scope && g->answer == Answer::Deny)) {
      best = g;
      from = name;
    }
  }
  return best;
}

// The decision order itself (protected paths, deny rules, readOnly, allow rules, outside the workspace, bypass,
// saved answers, the mode's defaults, then asking): one ordered list of returns, read in one place.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
Decision decide_one(const Need& need, const Settings& workspace, const Settings& own, const Cache& session,
                    const Cache* persisted, const Cache* global) {
  const Mode mode = effective_mode(workspace, own);
  auto out = [&](Decision::Kind kind, std::string by) { return Decision{kind, need, std::move(by)}; };
  if (need.kind == OperationKind::None) return out(Decision::Kind::Allow, "no permission needed");
  // icotes' own settings and grants change only by the user's hand (the
  // CLI, an editor's icotes/permissions requests), never by an operation a
  // client asks for: else an AI could allow itself more on the next start.
  // Likewise git's config, hooks and attributes, which name commands git runs.
  const bool changes_paths = need.kind == OperationKind::WriteFile || need.kind == OperationKind::EditFile ||
                             need.kind == OperationKind::GitWrite;
  if (changes_paths && !need.outside)
    if (auto why = protected_path_reason(need.target)) return out(Decision::Kind::Deny, std::move(*why));
  // A command line is parsed once. Deny rules that cannot judge it (it is opaque, or a command's name is an
  // expansion) must not be passed by an allow rule, mode bypass or a broad grant: only an answer about
  // exactly this line (a Specific grant) or a question lets it run.
  const bool bash = need.kind == OperationKind::Bash;
  const ShellParse parse = bash ? parse_shell_command(need.target) : ShellParse{};
  bool bash_deny_rules = false;
  if (const Rule* r = denying_rule(need, workspace, own, bash ? &parse : nullptr, bash_deny_rules))
    return out(Decision::Kind::Deny, "rule " + r->text());
  const bool unjudged = bash && bash_deny_rules && !names_known(parse);
  if (mode == Mode::ReadOnly && is_write_kind(need.kind)) return out(Decision::Kind::Deny, "mode readOnly");
  if (bash) {
    if (!unjudged)
      if (auto by = allowed_by(workspace.allow, own.allow, parse)) return out(Decision::Kind::Allow, std::move(*by));
  } else {
    for (const auto* allow : {&workspace.allow, &own.allow})
      for (const Rule& r : *allow)
        if (r.matches(need)) return out(Decision::Kind::Allow, "rule " + r.text());
  }
  if (need.outside) return out(Decision::Kind::Deny, "outside the workspace");
  if (mode == Mode::Bypass && !unjudged) return out(Decision::Kind::Allow, "mode bypass");
  std::string from;
  const std::optional<Grant> best = best_grant(need, session, persisted, global, from);
  if (best && (!unjudged || best->scope == Scope::Specific)) {
    std::string by = from + " grant " + std::string(to_string(best->scope));
    if (!best->value.empty()) by += " " + best->value;
    return out(best->answer == Answer::Allow ? Decision::Kind::Allow : Decision::Kind::Deny, std::move(by));
  }
  if (need.kind == OperationKind::ReadFile) return out(Decision::Kind::Allow, "mode " + std::string(to_string(mode)));
  if (mode == Mode::AcceptEdits && (need.kind == OperationKind::WriteFile || need.kind == OperationKind::EditFile))
    return out(Decision::Kind::Allow, "mode acceptEdits");
  if (unjudged)
    return out(Decision::Kind::Ask, "the deny rules cannot judge this command line (" +
                                        (parse.opaque ? parse.reason : std::string("a command name is an expansion")) +
                                        ")");
  if (bash && parse.opaque)
    return out(Decision::Kind::Ask,
               "no rule or saved answer (the command line cannot be analysed: " + parse.reason + ")");
  return out(Decision::Kind::Ask, "no rule or saved answer");
}

}  // namespace

Mode effective_mode(const Settings& workspace, const Settings& own) {
  return own.mode_given || own.mode != Mode::Default ? own.mode : workspace.mode;
}

Decision decide(const std::vector<Need>& needs, const Settings& settings, const Cache& session, const Cache* persisted,
                const Cache* global) {
  return decide(needs, settings, Settings{}, session, persisted, global);
}

Decision decide(const std::vector<Need>& needs, const Settings& workspace, const Settings& own, const Cache& session,
                const Cache* persisted, const Cache* global) {
  Decision first_ask;
  bool ask = false;
  Decision last{Decision::Kind::Allow, Need{}, "no permission needed"};
  for (const Need& need : needs) {
    Decision d = decide_one(need, workspace, own, session, persisted, global);
    if (d.kind == Decision::Kind::Deny) return d;  // any deny decides the call
    if (d.kind == Decision::Kind::Ask && !ask) {
      ask = true;
      first_ask = std::move(d);
    } else if (d.kind == Decision::Kind::Allow) {
      last = std::move(d);
    }
  }
  return ask ? first_ask : last;
}

}  // namespace icotes::permissions
