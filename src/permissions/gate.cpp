// The permission gate. See include/permissions/icotes/permission_gate.hpp.
#include "icotes/permission_gate.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "icotes/exec.hpp"
#include "icotes/fd_io.hpp"
#include "icotes/files.hpp"
#include "icotes/heap.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/permission_store.hpp"
#include "icotes/shell_rule.hpp"
#include "icotes/state_dir.hpp"

namespace icotes::permissions {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<OperationKind> kind_of(std::string_view s) { return operation_kind_from_string(s); }

Grant from_stored(const StoredGrant& s) {
  Grant g;
  g.kind = kind_of(s.kind).value_or(OperationKind::None);
  g.scope = scope_from_string(s.scope).value_or(Scope::Specific);
  g.value = s.value;
  g.answer = s.answer == "allow" ? Answer::Allow : Answer::Deny;
  return g;
}

StoredGrant to_stored(const Grant& g, const std::string& by) {
  StoredGrant s;
  s.kind = std::string(to_string(g.kind));
  s.scope = std::string(to_string(g.scope));
  s.value = g.value;
  s.answer = std::string(to_string(g.answer));
  s.created_ms = now_ms();
  s.granted_by = by;
  return s;
}

// A database's rows: its grants, and its saved rules (scope "rule") by answer.
struct Remembered {
  std::vector<Grant> grants;
  std::vector<Rule> allow, deny;
};

Remembered remembered_from(const std::vector<StoredGrant>& stored) {
  Remembered out;
  for (const auto& sg : stored) {
    if (sg.scope == "rule") {
      const Answer a = sg.answer == "allow" ? Answer::Allow : Answer::Deny;
      auto rule = Rule::parse(sg.value, a);
      if (rule)
        (a == Answer::Allow ? out.allow : out.deny).push_back(std::move(*rule));
      else
        spdlog::warn("permissions: a saved rule is not valid, ignored: {}", rule.error().message);
      continue;
    }
    out.grants.push_back(from_stored(sg));
  }
  return out;
}

std::string parent_dir(std::string_view rel) {
  const std::size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(rel.substr(0, slash));
}

}  // namespace

// A program and its arguments as the command line a user would type for them. The program is quoted even
// when it needs no quotes for its characters if the shell would read it as a reserved word (`if`) or an
// assignment (`A=1`): the line must run the same program.
std::string program_line(const std::vector<std::string>& argv) {
  std::string out;
  for (std::size_t k = 0; k < argv.size(); ++k) {
    std::string word = exec::shell_quote(argv[k]);
    if (k == 0 && !word.empty() && word[0] != '\'') {
      static constexpr std::string_view kReserved[] = {"if",    "then",   "else",     "elif",   "fi",  "while",
                                                       "until", "do",     "done",     "for",    "in",  "case",
                                                       "esac",  "select", "function", "coproc", "time"};
      bool quote = word.find('=') != std::string::npos;
      for (std::string_view r : kReserved) quote = quote || word == r;
      if (quote) {
        word.insert(0, 1, '\'');
        word += '\'';
      }
    }
    if (k > 0) out += ' ';
    out += word;
  }
  return out;
}

// The environment a client sets (`env`) as the words of `env NAME=value ... ` before the command, with the
// variables harmless_environment_variable() accepts left out; "" when nothing else remains. Every other
// variable can make an allowed program run other code (GIT_CONFIG_*, PATH, BASH_ENV, LD_PRELOAD, ...): in
// the command line, rules see it as `env`'s assignments, which a rule must name.
std::string env_words(const json& params) {
  auto it = params.find("env");
  if (it == params.end() || !it->is_object()) return {};
  std::string out;
  bool dash = false;
  for (const auto& [name, value] : it->items()) {
    const std::string v = value.is_string() ? value.get<std::string>() : value.dump();
    if (harmless_environment_variable(name, v)) continue;
    dash = dash || (!name.empty() && name[0] == '-');
    std::string assignment = name;
    assignment += '=';
    assignment += v;
    out += exec::shell_quote(assignment);
    out += ' ';
  }
  if (out.empty()) return out;
  return std::string(dash ? "env -- " : "env ") + out;
}

// The standard input a client gives (`stdin`) as a quoted here-document after the command line: its text is
// part of what the user sees and of what a remembered answer ("always allow this command") names.
std::string stdin_heredoc(const json& params) {
  auto it = params.find("stdin");
  if (it == params.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return {};
  const std::string& text = it->get_ref<const std::string&>();
  std::string delimiter = "ICOTES_STDIN";
  auto has_line = [&text](const std::string& line) {
    for (std::size_t at = 0; at <= text.size();) {
      std::size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      if (text.compare(at, end - at, line) == 0 && end - at == line.size()) return true;
      at = end + 1;
    }
    return false;
  };
  while (has_line(delimiter)) delimiter += '_';
  return " <<'" + delimiter + "'\n" + text + (text.back() == '\n' ? "" : "\n") + delimiter;
}

namespace {

// Lexically normalised absolute form of an outside path (for messages and rules).
std::string outside_path(const ConfinedRoot& root, const std::string& p) {
  std::filesystem::path path =
      p.empty() || p[0] != '/' ? std::filesystem::path(root.path()) / p : std::filesystem::path(p);
  return path.lexically_normal().string();
}

// What an operation of `kind` on path `p` (as the client wrote it) needs. `name_itself`: the operation
// changes the name (a move, a delete), not what a symlink there leads to.
Need path_need(const ConfinedRoot& root, OperationKind kind, const std::string& p, bool name_itself) {
  Need n;
  n.kind = kind;
  auto rel = root.relative(p.empty() ? "." : p);
  if (rel) {
    n.target = *rel;
    if (is_write_kind(kind) && !rel->empty()) {
      // A change is judged by where it lands: a symlink inside the
      // workspace that leads to src/ is a change to src/ (and one that
      // leads to .icotes/ is refused below). Move and delete change the
      // name itself, not what a symlink there leads to. (The files service
      // judges again where the descriptor it writes through lands.) Reads
      // stay lexical here, no syscall on the hot path: the service judges
      // where the descriptor it reads leads (Context::read_denied).
      const std::filesystem::path full = std::filesystem::path(root.path()) / *rel;
      std::error_code ec;
      auto real = std::filesystem::weakly_canonical(name_itself ? full.parent_path() : full, ec);
      if (name_itself) real /= full.filename();
      if (!ec) {
        auto real_rel = root.relative(real.string());
        if (real_rel) n.target = *real_rel;
      }
    }
  } else {
    n.outside = true;
    n.target = outside_path(root, p);
    n.outside_error = rel.error();
  }
  return n;
}

// The working directory `p` of a command (parameter `name`) as a read: where the command really runs.
Need cwd_need(const ConfinedRoot& root, const std::string& name, const std::string& p) {
  Need n;
  n.kind = OperationKind::ReadFile;
  auto rel = root.relative(p.empty() ? "." : p);
  if (rel) {
    n.target = *rel;
    std::error_code ec;
    const auto real = std::filesystem::weakly_canonical(std::filesystem::path(root.path()) / *rel, ec);
    if (!ec) {
      auto real_rel = root.relative(real.string());
      if (real_rel) {
        n.target = *real_rel;
      } else {
        n.outside = true;
        n.target = real.string();
        n.outside_error =
            make_error(error_code::kOutsideWorkspace, name + " '" + p + "' leads outside the workspace (to " +
                                                          real.string() + "); commands run inside it");
      }
    }
  } else {
    n.outside = true;
    n.target = outside_path(root, p);
    n.outside_error = make_error(rel.error().code, name + ": " + rel.error().message, rel.error().data);
  }
  return n;
}

// The paths the value of a declared path parameter names (x-permission `role`), each with whether the
// operation changes the name itself; none for the working directory (judged after the commands).
std::vector<std::pair<std::string, bool>> declared_paths(PathRole role, const json& value) {
  std::vector<std::pair<std::string, bool>> out;
  switch (role) {
    case PathRole::Path:
    case PathRole::Name:
      if (value.is_string()) out.emplace_back(value.get<std::string>(), role == PathRole::Name);
      break;
    case PathRole::Paths:
      if (!value.is_array()) break;
      for (const auto& p : value)
        if (p.is_string()) out.emplace_back(p.get<std::string>(), false);
      break;
    case PathRole::Patch: {
      if (!value.is_string()) break;
      auto parsed = files::parse_patch(value.get_ref<const std::string&>());
      if (!parsed) break;
      for (const auto& fp : *parsed) {
        if (!fp.old_path.empty()) out.emplace_back(fp.old_path, false);
        if (!fp.new_path.empty() && fp.new_path != fp.old_path) out.emplace_back(fp.new_path, false);
      }
      break;
    }
    case PathRole::Cwd:
      break;
  }
  return out;
}

// The working directories an operation declares (x-permission "cwd") and the call sets, as reads: where the
// command really runs. The root (the default) needs nothing.
void add_cwd_needs(const ConfinedRoot& root, const Operation& op, const json& params, std::vector<Need>& out) {
  for (const PathParam& decl : op.path_params) {
    if (decl.role != PathRole::Cwd) continue;
    if (auto it = params.find(decl.name); it != params.end() && it->is_string()) {
      Need n = cwd_need(root, decl.name, it->get_ref<const std::string&>());
      if (n.outside || !n.target.empty()) out.push_back(std::move(n));  // the root is the default
    }
  }
}

}  // namespace

struct Gate::Pending {
  std::shared_ptr<ClientState> client;
  std::string operation;
  Need need;
  struct Waiter {
    CancellationToken token;
    std::function<void(Status)> done;
    std::vector<Need> needs;  // all of the call's needs: the others are decided after this one
  };
  std::vector<Waiter> waiters;
  std::chrono::steady_clock::time_point deadline;
  std::function<void()> withdraw;
  bool finished = false;
};

Gate::Gate(const ConfinedRoot& root, Settings extra) : root_(root), extra_(std::move(extra)) {
  if (const char* t = std::getenv("ICOTES_PERMISSION_TIMEOUT_MS"); t && *t)
    ask_timeout_ = std::chrono::milliseconds(std::max(1L, std::strtol(t, nullptr, 10)));
  timer_ = std::thread([this] { timer_loop(); });
}

Gate::~Gate() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (timer_.joinable()) timer_.join();
  flush();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

namespace {
// What makes the gate re-read: files written, created, renamed over or removed.
constexpr std::uint32_t kDirEvents =
    IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
}  // namespace

Result<std::unique_ptr<Gate>> Gate::open(const ConfinedRoot& root, const Settings& extra) {
  auto loaded = load_settings(root.path() + "/.icotes/config.toml");
  if (!loaded) return std::move(loaded).error();
  std::unique_ptr<Gate> g(new Gate(root, extra));
  g->config_ = std::move(*loaded);
  g->project_db_path_ = root.path() + "/.icotes/permissions.sqlite";
  g->audit_db_path_ = state_dir() + "/audit/" + root_file_stem(root.path()) + ".sqlite";
  // Watched before the first read: a change made while reading is seen.
  g->inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (g->inotify_fd_ >= 0) {
    g->root_wd_ = ::inotify_add_watch(g->inotify_fd_, root.path().c_str(),
                                      IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
    g->watch_config_dir();
    std::error_code ec;
    std::filesystem::create_directories(state_dir(), ec);
    g->state_wd_ = ::inotify_add_watch(g->inotify_fd_, state_dir().c_str(), kDirEvents | IN_ONLYDIR);
  } else {
    g->warnings_.push_back(std::string("changes to .icotes/ are seen only on restart: inotify: ") +
                           std::strerror(errno));
  }
  // An unreadable or read-only grant database leaves the workspace usable:
  // reads and rules work, remembered answers are unavailable (one warning).
  g->load_grants(false);
  g->load_grants(true);
  g->rebuild_settings();
  g->opened_ = true;
  // Bash rules read a command line as dash and bash both would (shell_rule.hpp): say so when the shell that
  // runs it is another one (busybox ash, mksh), whose grammar may split a line differently.
  std::error_code ec;
  const std::string sh = std::filesystem::canonical(std::string(exec::kCommandShell), ec).filename().string();
  if (!ec && sh.rfind("dash", 0) != 0 && sh.rfind("bash", 0) != 0)
    g->warnings_.push_back(std::string(exec::kCommandShell) + " is " + sh +
                           ": Bash(...) rules are judged as dash and bash read a command line, which this shell "
                           "may read differently");
  return g;
}

void Gate::watch_config_dir() {
  if (inotify_fd_ < 0) return;
  if (icotes_wd_ >= 0) (void)::inotify_rm_watch(inotify_fd_, icotes_wd_);
  icotes_wd_ = ::inotify_add_watch(inotify_fd_, (root_.path() + "/.icotes").c_str(), kDirEvents | IN_ONLYDIR);
}

// Reads the grants (and saved rules) of one database into its cache. Called at open and by refresh().
// One database read into its cache under stores_mutex_, in order: gone, replaced, reopened, read, failed (the
// grants read before stay in force), taken in; each step may end it.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one sequence of early returns, as said above
void Gate::load_grants(bool global) {
  const std::string path = global ? state_dir() + "/permissions.sqlite" : project_db_path_;
  std::lock_guard stores_lock(stores_mutex_);
  std::unique_ptr<Store>& slot = global ? global_store_ : project_store_;
  std::error_code ec;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // Removed (or never made): nothing remembered.
    slot.reset();
    (global ? global_ : persisted_).replace({});
    if (!global) saved_allow_.clear(), saved_deny_.clear(), project_unavailable_.clear();
    return;
  }
  if (slot) {
    // Replaced by another file (a restore, a rename over it): read the new one.
    struct stat open_st {};
    if (::stat(slot->path().c_str(), &open_st) != 0 || open_st.st_ino != st.st_ino) slot.reset();
  }
  std::string failure;
  if (!slot) {
    // Re-reading (refresh()): never repair, only read; another process may
    // be writing the file that replaced the one we had.
    auto opened = Store::open(path, !opened_);
    if (!opened) {
      failure = opened.error().message;
    } else {
      if (!opened->warning.empty()) {
        if (!opened_)
          warnings_.push_back(opened->warning);
        else
          spdlog::warn("permissions: {}", opened->warning);
      }
      slot = std::move(opened->store);
    }
  }
  std::vector<StoredGrant> stored;
  if (slot) {
    auto grants = slot->grants();
    if (grants)
      stored = std::move(*grants);
    else
      failure = grants.error().message;
  }
  if (!failure.empty()) {
    slot.reset();
    const std::string why =
        global ? "global grants unavailable: " + failure
               : "saved grants unavailable (reads and rules still work; remembered answers are neither used nor "
                 "saved): " +
                     failure;
    // Once: at open through warnings(), later in the log when it changes.
    if (!opened_)
      warnings_.push_back(why);
    else if (global || project_unavailable_ != why)
      spdlog::warn("permissions: {}", why);
    if (!global) project_unavailable_ = why;
    return;  // the grants read before stay in force
  }
  if (!global) project_unavailable_.clear();
  Remembered remembered = remembered_from(stored);
  (global ? global_ : persisted_).replace(remembered.grants);
  if (!global) {
    saved_allow_ = std::move(remembered.allow);
    saved_deny_ = std::move(remembered.deny);
  }
}

void Gate::load_config(bool at_open) {
  const std::string path = root_.path() + "/.icotes/config.toml";
  auto loaded = load_settings(path);
  if (!loaded) {
    if (config_error_ != loaded.error().message)
      spdlog::warn("permissions: {} (the settings read before stay in force until it is fixed)",
                   loaded.error().message);
    config_error_ = loaded.error().message;
    return;
  }
  if (!at_open) spdlog::info("permissions: {} read again", path);
  config_error_.clear();
  config_ = std::move(*loaded);
}

void Gate::rebuild_settings() {
  auto s = std::make_shared<Settings>(config_);
  if (extra_.mode != Mode::Default) s->mode = extra_.mode;  // the command line wins
  {
    std::lock_guard stores_lock(stores_mutex_);
    s->allow.insert(s->allow.end(), saved_allow_.begin(), saved_allow_.end());
    s->deny.insert(s->deny.end(), saved_deny_.begin(), saved_deny_.end());
  }
  s->allow.insert(s->allow.end(), extra_.allow.begin(), extra_.allow.end());
  s->deny.insert(s->deny.end(), extra_.deny.begin(), extra_.deny.end());
  std::lock_guard lock(settings_mutex_);
  settings_ = std::move(s);
}

std::shared_ptr<const Settings> Gate::workspace_settings() const {
  std::lock_guard lock(settings_mutex_);
  return settings_;
}

Settings Gate::settings() const { return *workspace_settings(); }

std::string Gate::grants_unavailable() const {
  std::lock_guard stores_lock(stores_mutex_);
  return project_unavailable_;
}

namespace {

// What a change seen by inotify makes the gate read again.
struct Reread {
  bool config = false, project = false, global = false, rewatch = false;
};

// Notes in `r` what one inotify event (on the root's, .icotes/'s or the state directory's watch) changes.
void note_event(const struct inotify_event& e, int root_wd, int icotes_wd, int state_wd, Reread& r) {
  const std::string_view name = e.len ? std::string_view(e.name) : std::string_view();
  if (e.mask & IN_Q_OVERFLOW) r.config = r.project = r.global = r.rewatch = true;
  if (e.wd == root_wd && name == ".icotes") r.config = r.project = r.rewatch = true;
  if (e.wd == icotes_wd) {
    if (e.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) r.config = r.project = r.rewatch = true;
    // A config file is taken in once written (closed after writing, or renamed into place): never half-way
    // through a write, and never while an editor's rename-style save has moved it away for a moment (that
    // would lift its deny rules). A removed config.toml stays in force until the next start.
    if (name == "config.toml" && (e.mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) r.config = true;
    if (name.rfind("permissions.sqlite", 0) == 0) r.project = true;
  }
  if (e.wd == state_wd && name.rfind("permissions.sqlite", 0) == 0) r.global = true;
}

}  // namespace

void Gate::refresh() {
  if (inotify_fd_ < 0) return;
  std::lock_guard lock(refresh_mutex_);
  Reread r;
  alignas(struct inotify_event) char buf[16384];
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: nothing (more) happened
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const struct inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(struct inotify_event) + e->len);
      note_event(*e, root_wd_, icotes_wd_, state_wd_, r);
    }
  }
  if (r.rewatch) watch_config_dir();
  if (r.config) load_config(false);
  if (r.project) load_grants(false);
  if (r.global) load_grants(true);
  if (r.config || r.project) rebuild_settings();
}

std::vector<Need> Gate::needs(const Operation& op, const json& params) const {
  std::vector<Need> out;
  OperationKind kind = op.kind;
  // Declared in the schema: an edit's dryRun, a branch, stash or tag listing only reads.
  for (const auto& [name, value] : op.read_when)
    if (auto it = params.is_object() ? params.find(name) : params.end(); it != params.end() && *it == value)
      kind = OperationKind::ReadFile;
  auto add = [&](const std::string& p, bool name_itself) { out.push_back(path_need(root_, kind, p, name_itself)); };
  if (kind == OperationKind::None) return out;
  if (params.is_object()) {
    // The paths the schema declares (x-permission), in its order; the
    // working directory after the commands.
    for (const PathParam& decl : op.path_params) {
      const auto it = params.find(decl.name);
      if (it == params.end()) continue;
      for (const auto& [path, name_itself] : declared_paths(decl.role, *it)) add(path, name_itself);
    }
    // Commands: the command line a user would type for the same effect, so
    // Bash(...) rules judge it as they would judge that line and a question
    // shows it (the operation's NeedsHook, beside its handler).
    if (op.needs)
      for (std::string& line : op.needs(params)) out.push_back(Need{kind, std::move(line), false, std::nullopt});
    // The working directory is a path like any other: where the command
    // really runs (symlinks resolved), judged as a read (deny rules, the
    // workspace's bounds).
    add_cwd_needs(root_, op, params, out);
  }
  if (out.empty()) add("", false);
  return out;
}

namespace {

// A TOML string holding `text` (TOML 1.0 "String"): a literal string when it can be one, else a basic string.
std::string toml_string(const std::string& text) {
  bool literal = text.find('\'') == std::string::npos;
  for (unsigned char c : text) literal = literal && (c >= 0x20 || c == '\t') && c != 0x7f;
  if (literal) return "'" + text + "'";
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string cli(const std::string& args) { return "`icotes permissions " + args + "`"; }

// Each command of a command line by its name (`Bash(python3:*)`), once; none when a command's name is not
// plain words (an expansion, an assignment before it).
std::vector<std::string> program_rules(const std::string& line) {
  std::vector<std::string> names;
  const ShellParse parse = parse_shell_command(line);
  for (const auto& c : parse.commands) {
    if (c.words.empty() || c.dynamic.empty() || c.dynamic[0] || !c.assignments.empty()) return {};
    const std::string r = "Bash(" + c.words[0] + ":*)";
    if (std::find(names.begin(), names.end(), r) == names.end()) names.push_back(r);
  }
  return names;
}

// The rules as TOML strings, ", "-separated.
std::string toml_list(const std::vector<std::string>& rules) {
  std::string out;
  for (const std::string& r : rules) {
    if (!out.empty()) out += ", ";
    out += toml_string(r);
  }
  return out;
}

// Appends to `msg` how the user can allow `need` (a denial no rule or mode decided); returns the
// rules that would allow it in .icotes/config.toml.
std::vector<std::string> append_allow_advice(const Need& need, std::string& msg) {
  const bool bash = need.kind == OperationKind::Bash;
  // `icotes permissions allow` remembers exactly this target (for a
  // command line: this line, whatever it holds); a wider scope or the mode
  // allows more. A rule in the settings must be a pattern: for a command
  // line, one exact pattern per simple command, when each can be written
  // as one.
  std::vector<std::string> rules;
  if (!bash)
    rules.push_back(rule_for(need));
  else
    for (const std::string& p : exact_patterns_for(need.target)) rules.push_back("Bash(" + p + ")");
  msg += " To allow it, run in the workspace " + cli("allow " + exec::shell_quote(rule_for(need)));
  if (bash) {
    const std::vector<std::string> names = program_rules(need.target);
    if (!names.empty()) {
      msg += " (this exact line), or allow every run of " +
             std::string(names.size() > 1 ? "these programs" : "this program") + " with";
      for (std::size_t k = 0; k < names.size(); ++k)
        msg += (k > 0 ? " and " : " ") + cli("allow " + exec::shell_quote(names[k]));
    }
  } else if (need.kind == OperationKind::WriteFile || need.kind == OperationKind::EditFile) {
    const std::string dir = parent_dir(need.target);
    msg += " (this file)";
    if (!dir.empty())
      msg += ", " + cli("allow " + exec::shell_quote("Edit(" + dir + "/)")) + " (everything under " + dir + "/)";
    msg += ", or " + cli("mode acceptEdits") + " (every file edit in this workspace)";
  }
  if (!rules.empty()) {
    msg += "; or add ";
    msg += toml_list(rules);
    msg += " to allow under [permissions] in .icotes/config.toml";
  }
  msg += ".";
  return rules;
}

// How an answer shows in the audit log's "decided by".
std::string_view choice_label(Choice choice) {
  switch (choice) {
    case Choice::Deny:
      return "Deny";
    case Choice::AllowOnce:
      return "Allow once";
    case Choice::AllowSession:
      return "Allow this session";
    case Choice::AlwaysSpecific:
      return "Always (this target)";
    case Choice::AlwaysDirectory:
      return "Always (directory)";
    case Choice::AlwaysProject:
      break;
  }
  return "Always (project)";
}

// A call's needs without the one just answered (the others are decided next).
std::vector<Need> needs_other_than(std::vector<Need> needs, const Need& answered) {
  std::vector<Need> rest;
  for (auto& n : needs)
    if (n.kind != answered.kind || n.target != answered.target || n.outside != answered.outside)
      rest.push_back(std::move(n));
  return rest;
}

// Whether a write to `rel` falls in what the gate approved for the call: the same kind on that path, a
// directory above it, or the workspace root.
bool approved_covers(const std::vector<Need>& approved, OperationKind kind, std::string_view rel) {
  for (const Need& a : approved) {
    if (a.outside || a.kind != kind) continue;
    if (a.target.empty() || a.target == rel ||
        (rel.size() > a.target.size() && rel.compare(0, a.target.size(), a.target) == 0 && rel[a.target.size()] == '/'))
      return true;
  }
  return false;
}

// "Bash on 'make'; rule Bash(make:*)": what was denied and what decided it, for the message.
std::string denied_what(const Decision& d, bool saved_deny) {
  const bool bash = d.need.kind == OperationKind::Bash;
  const std::string what =
      std::string(to_string(d.need.kind)) + " on " +
      (bash ? "'" + d.need.target + "'" : (d.need.target.empty() ? "the workspace root" : d.need.target));
  if (!saved_deny) return what + "; " + d.decided_by;
  const std::size_t grant = d.decided_by.find(" grant ");
  return what + "; a saved deny: " + d.decided_by.substr(0, grant) + " deny" + d.decided_by.substr(grant + 6);
}

// "saved grant <scope> [value]": appends to `msg` that the deny was answered in this session, or the command
// that takes the saved deny back.
void append_saved_deny_advice(const Decision& d, std::string& msg) {
  const std::string rest = d.decided_by.substr(d.decided_by.find(" grant ") + 7);
  const std::string scope = rest.substr(0, rest.find(' '));
  const std::string value = rest.find(' ') == std::string::npos ? std::string() : rest.substr(rest.find(' ') + 1);
  const std::string bare = rule_for(Need{d.need.kind, "", false, std::nullopt});
  std::string target = scope == "specific" ? rule_for(d.need) : scope == "directory" ? bare + "(" + value + "/)" : bare;
  if (d.decided_by.rfind("session", 0) == 0)
    msg += " It was answered in this session.";
  else
    msg += " To allow it, take the deny back: " +
           cli("revoke " + exec::shell_quote(target) + (scope == "global" ? " --global" : "")) + ".";
}

}  // namespace

Status Gate::deny_status(const ClientState& client, std::string_view operation, const Decision& d) const {
  if (d.decided_by == "outside the workspace") {
    // The error confinement gives (README "Safety"), plus how to allow it.
    Error e = d.need.outside_error
                  ? *d.need.outside_error
                  : make_error(error_code::kOutsideWorkspace, d.need.target + " is outside the workspace");
    return e;
  }
  // An MCP client's model called a tool: name it as the model knows it.
  std::string called(operation);
  if (client.name.rfind("mcp:", 0) == 0)
    if (std::string name = mcp_name_of(operation); !name.empty()) called = std::move(name);
  const bool bash = d.need.kind == OperationKind::Bash;
  const bool saved_deny = d.decided_by.find(" grant ") != std::string::npos;  // decide() only denies by a deny grant
  std::string msg = called + ": permission denied (" + denied_what(d, saved_deny) + ").";
  json data{{"kind", std::string(to_string(d.need.kind))},
            {"target", d.need.target},
            {"rule", rule_for(d.need)},
            {"decidedBy", d.decided_by}};
  if (d.decided_by.rfind("rule ", 0) == 0) {
    const std::string rule = d.decided_by.substr(5);
    bool saved = false;
    {
      std::lock_guard stores_lock(stores_mutex_);
      saved = std::any_of(saved_deny_.begin(), saved_deny_.end(), [&](const Rule& r) { return r.text() == rule; });
    }
    if (saved)
      msg += " That is a saved deny (`icotes permissions deny`); " + cli("revoke " + exec::shell_quote(rule)) +
             " takes it back.";
    else
      msg +=
          " That deny rule comes from .icotes/config.toml or the client's command line; remove it there to "
          "allow this.";
  } else if (saved_deny) {
    append_saved_deny_advice(d, msg);
  } else if (!d.need.outside && !bash && protected_path_reason(d.need.target)) {
    // No rule or answer allows it: nothing to suggest.
  } else if (d.decided_by == "mode readOnly") {
    msg += " The connection is in readOnly mode: " + cli("mode default") +
           " (or acceptEdits) allows changes in this workspace, unless the client was started with "
           "--permission-mode readOnly.";
  } else {
    data["rules"] = append_allow_advice(d.need, msg);
  }
  return make_error(error_code::kPermissionDenied, std::move(msg), std::move(data));
}

void Gate::decided(const ClientState& client, std::string_view operation, const Decision& d, std::string_view answer) {
  AuditRecord r;
  r.time_ms = now_ms();
  r.client = client.name;
  r.operation = std::string(operation);
  r.kind = std::string(to_string(d.need.kind));
  r.target = d.need.target;
  r.answer = std::string(answer);
  r.decided_by = d.decided_by;
  std::lock_guard lock(mutex_);
  audit_buffer_.push_back(std::move(r));
  if (audit_buffer_.size() == 1) wake_.notify_all();  // written within 100 ms
}

ReadFilter Gate::read_filter(const std::shared_ptr<ClientState>& client) const {
  auto settings = workspace_settings();
  bool any = client->session.any(OperationKind::ReadFile, Answer::Deny) ||
             persisted_.any(OperationKind::ReadFile, Answer::Deny) ||
             global_.any(OperationKind::ReadFile, Answer::Deny);
  for (const std::vector<Rule>* deny : {&settings->deny, static_cast<const std::vector<Rule>*>(&client->settings.deny)})
    for (const Rule& r : *deny) any = any || r.covers_kind(OperationKind::ReadFile);
  if (!any) return nullptr;
  return [this, client, settings](std::string_view rel) {
    const Need need{OperationKind::ReadFile, std::string(rel), false, std::nullopt};
    return decide({need}, *settings, client->settings, client->session, &persisted_, &global_).kind ==
           Decision::Kind::Deny;
  };
}

WriteCheck Gate::write_check(const std::shared_ptr<ClientState>& client, OperationKind kind,
                             std::vector<Need> approved) const {
  return [this, client, kind, approved = std::move(approved),
          settings = workspace_settings()](std::string_view rel) -> Status {
    Need need{kind, std::string(rel), false, std::nullopt};
    auto refuse = [&](const std::string& why) {
      return make_error(error_code::kPermissionDenied,
                        "permission denied: this write lands on " +
                            (rel.empty() ? std::string("the workspace root") : std::string(rel)) + " (" + why + ")",
                        json{{"kind", std::string(to_string(kind))}, {"target", need.target}});
    };
    if (auto why = protected_path_reason(rel)) return refuse(*why);
    // Deny rules and mode readOnly decide first, as in decide(): an approval
    // of a directory does not reach a file a deny rule names.
    for (const OperationKind k : {kind, OperationKind::WriteFile, OperationKind::EditFile}) {
      const Need n{k, need.target, false, std::nullopt};
      for (const std::vector<Rule>* deny :
           {&settings->deny, static_cast<const std::vector<Rule>*>(&client->settings.deny)})
        for (const Rule& r : *deny)
          if (r.matches(n)) return refuse("rule " + r.text());
    }
    if (effective_mode(*settings, client->settings) == Mode::ReadOnly) return refuse("mode readOnly");
    if (approved_covers(approved, kind, rel)) return ok_status();
    Decision d = decide({need}, *settings, client->settings, client->session, &persisted_, &global_);
    if (d.kind == Decision::Kind::Allow) return ok_status();
    return refuse("not the path that was approved, and " + d.decided_by);
  };
}

Status Gate::check_now(ClientState& client, std::string_view operation, const std::vector<Need>& needs) {
  refresh();
  Decision d = decide(needs, *workspace_settings(), client.settings, client.session, &persisted_, &global_);
  if (d.kind == Decision::Kind::Allow) {
    decided(client, operation, d, "allow");
    return ok_status();
  }
  if (d.kind == Decision::Kind::Ask) d.decided_by += ": needs asking, which this request cannot do";
  decided(client, operation, d, "deny");
  return deny_status(client, operation, d);
}

void Gate::check(const std::shared_ptr<ClientState>& client, std::string_view operation, std::vector<Need> needs,
                 const CancellationToken& token, std::function<void(Status)> done) {
  refresh();
  Decision d = decide(needs, *workspace_settings(), client->settings, client->session, &persisted_, &global_);
  if (d.kind == Decision::Kind::Allow) {
    decided(*client, operation, d, "allow");
    return done(ok_status());
  }
  if (d.kind == Decision::Kind::Deny) {
    decided(*client, operation, d, "deny");
    return done(deny_status(*client, operation, d));
  }
  Asker ask = client->ask;
  std::string asked_through;
  if (!ask) {
    // Nobody to ask on this connection: an editor attached to the workspace.
    std::lock_guard lock(mutex_);
    for (auto it = editors_.rbegin(); it != editors_.rend() && !ask; ++it)
      if (auto editor = it->lock(); editor && editor->ask && editor.get() != client.get()) {
        ask = editor->ask;
        asked_through = editor->name;
      }
  }
  if (!ask) {
    d.decided_by += ", and " + client->name + " cannot be asked";
    decided(*client, operation, d, "deny");
    return done(deny_status(*client, operation, d));
  }
  // One question per (client, need): later calls wait on the first one's.
  const std::string key = std::to_string(reinterpret_cast<std::uintptr_t>(client.get())) + "\n" +
                          std::string(to_string(d.need.kind)) + "\n" + d.need.target;
  {
    std::lock_guard lock(mutex_);
    if (auto it = pending_.find(key); it != pending_.end()) {
      it->second->waiters.push_back({token, std::move(done), std::move(needs)});
      return;
    }
  }
  auto p = std::make_shared<Pending>();
  p->client = client;
  p->operation = std::string(operation);
  p->need = d.need;
  p->waiters.push_back({token, std::move(done), std::move(needs)});
  p->deadline = std::chrono::steady_clock::now() + ask_timeout_;
  Question q;
  q.operation = p->operation;
  q.need = d.need;
  const bool is_command = d.need.kind == OperationKind::Bash;
  const std::string target =
      is_command ? d.need.target : (d.need.target.empty() ? "the workspace root" : d.need.target);
  q.message = client->name + " wants to " + std::string(operation) + " (" + std::string(to_string(d.need.kind)) + ") " +
              (is_command ? "running: " : "on ") + target + ". Allow it?";
  q.options.emplace_back(Choice::AllowOnce, "Allow once");
  q.options.emplace_back(Choice::AllowSession, "Allow this session");
  q.options.emplace_back(Choice::AlwaysSpecific, is_command ? "Always allow this command" : "Always allow this file");
  if (!is_command) {
    const std::string dir = parent_dir(d.need.target);
    if (!dir.empty()) q.options.emplace_back(Choice::AlwaysDirectory, "Always allow in " + dir + "/");
  }
  q.options.emplace_back(Choice::AlwaysProject, "Always allow in this project");
  q.options.emplace_back(Choice::Deny, "Deny");
  {
    std::lock_guard lock(mutex_);
    pending_[key] = p;
  }
  wake_.notify_all();
  if (!asked_through.empty()) spdlog::info("permissions: asking {} on behalf of {}", asked_through, client->name);
  auto withdraw = ask(q, [this, key](std::optional<Choice> c) { answer(key, c); });
  std::lock_guard lock(mutex_);
  if (!p->finished) p->withdraw = std::move(withdraw);
}

void Gate::attach_editor(std::weak_ptr<ClientState> editor) {
  std::lock_guard lock(mutex_);
  editors_.erase(std::remove_if(editors_.begin(), editors_.end(), [](const auto& w) { return w.expired(); }),
                 editors_.end());
  editors_.push_back(std::move(editor));
}

Status Gate::remember(ClientState& client, const Need& need, Choice choice) {
  Grant g;
  g.kind = need.kind;
  g.answer = Answer::Allow;
  switch (choice) {
    case Choice::AllowOnce:
    case Choice::Deny:
      return ok_status();
    case Choice::AllowSession:
      g.scope = Scope::Specific;
      g.value = need.target;
      client.session.put(g);
      return ok_status();
    case Choice::AlwaysSpecific:
      g.scope = Scope::Specific;
      g.value = need.target;
      break;
    case Choice::AlwaysDirectory:
      g.scope = Scope::Directory;
      g.value = parent_dir(need.target);
      break;
    case Choice::AlwaysProject:
      g.scope = Scope::ProjectWide;
      break;
  }
  return grant(g, false, client.name);
}

void Gate::answer(const std::string& key, std::optional<Choice> choice) {
  std::shared_ptr<Pending> p;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(key);
    if (it == pending_.end()) return;  // timed out or withdrawn already
    p = it->second;
    pending_.erase(it);
    p->finished = true;
  }
  Decision d{Decision::Kind::Deny, p->need, ""};
  Status result = ok_status();
  if (!choice) {
    d.decided_by = "no answer from " + p->client->name;
  } else {
    d.decided_by = "asked " + p->client->name + ": " + std::string(choice_label(*choice));
    if (*choice != Choice::Deny) {
      d.kind = Decision::Kind::Allow;
      if (auto st = remember(*p->client, p->need, *choice); !st)
        spdlog::error("permissions: could not save the answer: {}", st.error().message);
    }
  }
  decided(*p->client, p->operation, d, d.kind == Decision::Kind::Allow ? "allow" : "deny");
  if (d.kind != Decision::Kind::Allow) {
    result = deny_status(*p->client, p->operation, d);
    for (auto& w : p->waiters) w.done(result);
    return;
  }
  // This need is answered for these calls (even "once"); their other needs
  // (a move's destination, a patch's other files) are decided next.
  for (auto& w : p->waiters) {
    std::vector<Need> rest = needs_other_than(std::move(w.needs), p->need);
    if (rest.empty())
      w.done(ok_status());
    else
      check(p->client, p->operation, std::move(rest), w.token, std::move(w.done));
  }
}

// The gate's one timer thread: waits, expires questions and flushes the audit buffer under mutex_, unlocking around
// each callback; split, the lock hand-offs would cross functions.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
void Gate::timer_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // Idle (nothing asked, nothing to log): sleep until woken.
    if (pending_.empty() && audit_buffer_.empty())
      wake_.wait(lock);
    else
      wake_.wait_for(lock, std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, bool>> expired;  // key, withdrawn (all cancelled)
    for (auto& [key, p] : pending_) {
      bool all_cancelled = !p->waiters.empty();
      for (const auto& w : p->waiters) all_cancelled = all_cancelled && w.token.cancelled();
      if (all_cancelled || now >= p->deadline) expired.emplace_back(key, all_cancelled);
    }
    for (const auto& [key, withdrawn] : expired) {
      auto p = pending_[key];
      pending_.erase(key);
      p->finished = true;
      lock.unlock();
      if (p->withdraw) p->withdraw();
      Decision d{Decision::Kind::Deny, p->need,
                 withdrawn ? "the request was cancelled while asking"
                           : "no answer within " + std::to_string(ask_timeout_.count() / 1000) + " s"};
      decided(*p->client, p->operation, d, "deny");
      const Status st = deny_status(*p->client, p->operation, d);
      for (auto& w : p->waiters) w.done(st);
      lock.lock();
    }
    if (!audit_buffer_.empty()) {
      lock.unlock();
      flush();
      lock.lock();
    }
  }
}

void Gate::flush() {
  std::lock_guard audit_lock(audit_mutex_);
  std::vector<AuditRecord> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(audit_buffer_);
  }
  if (!audit_store_ && !audit_failed_) {
    // Opened here, off the start-up path (quick_check reads the whole file).
    auto opened = Store::open(audit_db_path_);
    if (opened) {
      if (!opened->warning.empty()) spdlog::warn("permissions: {}", opened->warning);
      audit_store_ = std::move(opened->store);
      (void)audit_store_->trim_audit(kDefaultAuditKeep);  // bounded: the newest records are kept
      release_freed_heap();  // what opening (quick_check, trim) allocated and freed, given back
    } else {
      audit_failed_ = true;
      spdlog::warn("permissions: audit log unavailable: {}", opened.error().message);
    }
  }
  if (!audit_store_) return;
  if (auto st = audit_store_->append(batch); !st)
    spdlog::warn("permissions: audit log write failed: {}", st.error().message);
}

namespace {

// Local state, never committed: keep it out of git (git's own exclude
// file, so the user's .gitignore is not touched). Sandboxed commands may
// write .git/info/: the file is opened beneath the root, never through a
// symlink, and only a regular file is appended to.
void exclude_state_from_git(const ConfinedRoot& root) {
  auto fd = root.open_beneath(".git/info/exclude", O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY, 0644);
  if (!fd) return;
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size >= (1 << 20)) return;
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  for (ssize_t n = 1; got < text.size() && n > 0;) {
    n = ::pread(fd->get(), text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  if (got != text.size()) return;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line(text.data() + at, end - at);
    if (line == ".icotes/" || line == "/.icotes/") return;
    at = end + 1;
  }
  const std::string add = text.empty() || text.back() == '\n' ? "/.icotes/\n" : "\n/.icotes/\n";
  (void)write_fully(fd->get(), add);
}

}  // namespace

Result<Store*> Gate::project_store() {
  if (project_store_) return project_store_.get();
  std::error_code ec;
  const std::string dir = root_.path() + "/.icotes";
  std::filesystem::create_directories(dir, ec);
  exclude_state_from_git(root_);
  auto opened = Store::open(project_db_path_);
  if (!opened) return std::move(opened).error();
  if (!opened->warning.empty()) {
    spdlog::warn("permissions: {}", opened->warning);
    warnings_.push_back(opened->warning);
  }
  project_store_ = std::move(opened->store);
  return project_store_.get();
}

std::vector<Gate::Listed> Gate::list() const {
  std::vector<Listed> out;
  for (const auto& g : persisted_.all()) out.push_back({g, false});
  for (const auto& g : global_.all()) out.push_back({g, true});
  return out;
}

Status Gate::grant(const Grant& g, bool global, const std::string& by) {
  Grant clean = g;
  if (clean.scope == Scope::ProjectWide || clean.scope == Scope::Global) clean.value.clear();
  if (global && clean.scope != Scope::Global)
    return make_error(error_code::kInvalidParams, "only Global grants are stored for all workspaces");
  if (!global && clean.scope == Scope::Global)
    return make_error(error_code::kInvalidParams, "a Global grant applies to every workspace; store it as global");
  if (clean.kind == OperationKind::Bash && clean.scope == Scope::Directory)
    return make_error(error_code::kInvalidParams, "Bash grants are Specific (a command), ProjectWide or Global");
  std::lock_guard stores_lock(stores_mutex_);
  Store* store = nullptr;
  if (global) {
    if (!global_store_) {
      auto opened = Store::open(state_dir() + "/permissions.sqlite");
      if (!opened) return std::move(opened).error();
      if (!opened->warning.empty()) spdlog::warn("permissions: {}", opened->warning);
      global_store_ = std::move(opened->store);
    }
    store = global_store_.get();
  } else {
    auto s = project_store();
    if (!s) return std::move(s).error();
    store = *s;
  }
  // Durable first, then visible: a grant is never used that a crash would lose.
  if (auto st = store->put(to_stored(clean, by)); !st) return st;
  (global ? global_ : persisted_).put(clean);
  return ok_status();
}

Result<bool> Gate::revoke(OperationKind kind, Scope scope, const std::string& value, bool global) {
  std::lock_guard stores_lock(stores_mutex_);
  Store* store = global ? global_store_.get() : project_store_.get();
  bool removed = false;
  if (store) {
    auto r = store->remove(to_string(kind), to_string(scope), value);
    if (!r) return std::move(r).error();
    removed = *r;
  }
  removed = (global ? global_ : persisted_).remove(kind, scope, value) || removed;
  return removed;
}

namespace {
// The kind column of a saved rule: its first kind (`Edit(...)`: EditFile); the rule's text says the rest.
std::string rule_kind(const std::string& text) {
  const auto kinds = kinds_of_rule_name(std::string_view(text).substr(0, text.find('(')));
  return kinds && !kinds->empty() ? std::string(to_string(kinds->front())) : std::string();
}
}  // namespace

Status Gate::save_rule(const Rule& rule, const std::string& by) {
  {
    std::lock_guard stores_lock(stores_mutex_);
    auto store = project_store();
    if (!store) return std::move(store).error();
    StoredGrant sg;
    sg.kind = rule_kind(rule.text());
    sg.scope = "rule";
    sg.value = rule.text();
    sg.answer = std::string(to_string(rule.answer()));
    sg.created_ms = now_ms();
    sg.granted_by = by;
    if (auto st = (*store)->put(sg); !st) return st;
    auto& mine = rule.answer() == Answer::Allow ? saved_allow_ : saved_deny_;
    auto& other = rule.answer() == Answer::Allow ? saved_deny_ : saved_allow_;
    auto same = [&](const Rule& r) { return r.text() == rule.text(); };
    mine.erase(std::remove_if(mine.begin(), mine.end(), same), mine.end());
    other.erase(std::remove_if(other.begin(), other.end(), same), other.end());
    mine.push_back(rule);
  }
  std::lock_guard lock(refresh_mutex_);  // config_ is refresh()'s
  rebuild_settings();
  return ok_status();
}

Result<bool> Gate::remove_rule(const std::string& text, Answer) {
  bool removed = false;
  {
    std::lock_guard stores_lock(stores_mutex_);
    if (project_store_) {
      auto r = project_store_->remove(rule_kind(text), "rule", text);
      if (!r) return std::move(r).error();
      removed = *r;
    }
    for (auto* list : {&saved_allow_, &saved_deny_}) {
      const auto before = list->size();
      list->erase(std::remove_if(list->begin(), list->end(), [&](const Rule& r) { return r.text() == text; }),
                  list->end());
      removed = removed || list->size() != before;
    }
  }
  std::lock_guard lock(refresh_mutex_);  // config_ is refresh()'s
  rebuild_settings();
  return removed;
}

Result<std::vector<AuditRecord>> Gate::log(std::size_t limit, std::size_t offset) {
  flush();
  std::lock_guard audit_lock(audit_mutex_);
  if (!audit_store_) return make_error(error_code::kIoError, "the audit log is unavailable (" + audit_db_path_ + ")");
  return audit_store_->audit(limit, offset);
}

}  // namespace icotes::permissions
