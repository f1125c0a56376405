// Permissions (docs/ARCHITECTURE.md#permissions): what may run without asking, what is
// denied, and what the user is asked about.
//
// Before everything: a change to `.icotes/` (the workspace's permission
// settings and grants) is denied to every client, in every mode.
// An operation call needs one permission per target (a path for file
// operations, the command line for Bash): a `Need`. A need is decided, in
// this order:
//   1. deny rules from settings (`Read(secrets/**)`, `Bash(rm:*)`);
//   2. mode readOnly: every write kind (WriteFile, EditFile, Bash, GitWrite,
//      Network) is denied;
//   3. a path outside the workspace is denied unless an allow rule names it;
//   4. allow rules from settings;
//   5. mode bypass: allowed;
//   6. remembered answers (this session's and the persisted ones): the most
//      specific scope that matches decides (Specific 4 > Directory 3 >
//      ProjectWide 2 > Global 1); at the same precedence a deny wins;
//   7. the mode's defaults: reads inside the workspace (default), reads,
//      writes and edits inside the workspace (acceptEdits);
//   8. otherwise: ask.
// A command line (Bash) is split into its simple commands (shell_rule.hpp):
// a deny rule applies when it may name any of them, allow rules when each
// of them is covered by one of the rules (`ls; echo hi` by `Bash(ls:*)` and
// `Bash(echo:*)`). When Bash deny rules exist and cannot judge the line (it
// cannot be analysed, or a command's name is an expansion such as `$CMD`),
// steps 4, 5 and 6 let it through only on a Specific grant (an answer about
// exactly this line): otherwise it is asked about.
// Rules use the syntax users know from AI assistants' settings:
// `Read(glob)`, `Edit(glob)` (file writes and edits), `Write(glob)`,
// `Bash(pattern)` (shell_rule.hpp), `GitWrite(glob)`, `Network(glob)`; a
// bare `Read` matches every target of its kind. Path globs are gitignore
// globs (glob.hpp) over workspace-relative paths; an absolute glob
// (`Read(/etc/**)`) names paths outside the workspace.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "icotes/glob.hpp"
#include "icotes/operation.hpp"
#include "icotes/result.hpp"

namespace icotes::permissions {

enum class Mode { Default, AcceptEdits, ReadOnly, Bypass };
std::string_view to_string(Mode mode);
/// "default" | "acceptEdits" | "readOnly" | "bypass".
std::optional<Mode> mode_from_string(std::string_view name);

/// Cache scopes, by precedence (docs/ARCHITECTURE.md#remembered-answers-and-scopes).
enum class Scope { Global = 1, ProjectWide = 2, Directory = 3, Specific = 4 };
std::string_view to_string(Scope scope);  // "global" | "project" | "directory" | "specific"
std::optional<Scope> scope_from_string(std::string_view name);

enum class Answer { Allow, Deny };
inline std::string_view to_string(Answer a) { return a == Answer::Allow ? "allow" : "deny"; }

/// True for kinds that change something (all but None and ReadFile).
bool is_write_kind(OperationKind kind);

/// One permission an operation call needs.
struct Need {
  OperationKind kind = OperationKind::None;
  /// Workspace-relative normalised path ("" = the root), the absolute path
  /// when `outside`, or the command line for Bash.
  std::string target;
  bool outside = false;
  /// For an outside path: the confinement error (ConfinedRoot::relative),
  /// which is the answer when no rule names the path.
  std::optional<Error> outside_error;
};

/// The kinds a rule name covers: Read → ReadFile, Edit → EditFile and
/// WriteFile (as AI assistants' settings: every file change), Write →
/// WriteFile, Bash, GitWrite, Network; nullopt for an unknown name.
std::optional<std::vector<OperationKind>> kinds_of_rule_name(std::string_view name);

/// A rule from settings, e.g. `Edit(docs/*.md)`.
class Rule {
 public:
  /// Parses `text`. Errors (kInvalidParams): unknown kind name, unbalanced
  /// parentheses, an empty pattern.
  static Result<Rule> parse(std::string_view text, Answer answer);
  /// For a Bash need (a command line, shell_rule.hpp): an allow rule must
  /// cover every simple command of the line; a deny rule matches when it
  /// may name any of them (an opaque line: none; decide() asks about it).
  bool matches(const Need& need) const;
  /// Whether the rule is about `kind` at all (`Read(...)` covers ReadFile).
  bool covers_kind(OperationKind kind) const;
  Answer answer() const { return answer_; }
  const std::string& text() const { return text_; }
  /// The text inside the parentheses; "" for a bare kind (any target).
  const std::string& pattern() const { return pattern_; }

 private:
  Answer answer_ = Answer::Deny;
  std::string text_;
  std::vector<OperationKind> kinds_;
  std::string pattern_;  // "" = any target
  std::optional<Glob> glob_;
};

/// A remembered answer.
struct Grant {
  OperationKind kind = OperationKind::None;
  Scope scope = Scope::Specific;
  std::string value;  // path, directory or command; "" for ProjectWide and Global
  Answer answer = Answer::Allow;
};

/// Remembered answers keyed by (kind, scope, value). A lookup costs one hash
/// probe per scope and per ancestor directory of the target. Thread-safe.
class Cache {
 public:
  void put(const Grant& grant);
  /// Replaces every grant at once (a reload): no lookup sees a partial set.
  void replace(const std::vector<Grant>& grants);
  bool remove(OperationKind kind, Scope scope, std::string_view value);
  /// The most specific grant matching `need` (deny wins at equal scope).
  /// `Directory(d)` matches only paths strictly beneath d ("src" matches
  /// "src/a.c", not "src" nor "src2/a.c"); Specific matches the target
  /// exactly; Directory never matches a Bash need or a path outside.
  std::optional<Grant> lookup(const Need& need) const;
  std::vector<Grant> all() const;
  /// Whether any grant of `kind` answers `answer` (no copy).
  bool any(OperationKind kind, Answer answer) const;
  void clear();

 private:
  static std::string key(OperationKind kind, Scope scope, std::string_view value);
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Grant> map_;
};

/// Settings: the mode and the rules (from .icotes/config.toml, the command
/// line and LSP initializationOptions).
struct Settings {
  Mode mode = Mode::Default;
  /// A connection's own settings (ClientState::settings): its mode was asked
  /// for explicitly, so it applies even when it is `default` (a mode other
  /// than default applies either way).
  bool mode_given = false;
  std::vector<Rule> deny;
  std::vector<Rule> allow;
};

/// The mode in force for a connection: its own when it gave one, else the
/// workspace's.
Mode effective_mode(const Settings& workspace, const Settings& own);

/// Reads `[permissions]` of a TOML config file: `mode = "acceptEdits"`,
/// `allow = ["Bash(make test)"]`, `deny = ["Read(.env)"]`. A missing file is
/// not an error (empty settings); `bypass` is refused here (only the
/// command-line flag sets it). Errors (kInvalidParams) name the file, line
/// and the bad value.
Result<Settings> load_settings(const std::string& path);

/// The outcome for one call.
struct Decision {
  enum class Kind { Allow, Deny, Ask } kind = Kind::Allow;
  Need need;               // the need that was denied or must be asked about
  std::string decided_by;  // "rule Bash(git diff:*)", "mode readOnly", "grant directory src", "mode default"
};

/// Decides needs (steps 1–8 above) for one connection: its settings and this
/// session's answers, the workspace's persisted answers (`persisted`, may be
/// null) and the user's global ones (`global`, may be null).
Decision decide(const std::vector<Need>& needs, const Settings& settings, const Cache& session, const Cache* persisted,
                const Cache* global);
/// The same for a connection whose own settings (`own`: its mode, its rules)
/// add to the workspace's (`workspace`): the rules of both, the mode of
/// effective_mode().
Decision decide(const std::vector<Need>& needs, const Settings& workspace, const Settings& own, const Cache& session,
                const Cache* persisted, const Cache* global);

/// How to allow what was denied, for the error message: the text for
/// `icotes permissions allow`, which remembers exactly this target
/// (`Edit(src/main.c)`, `Bash(make test)`; for a command line the whole
/// line, `Bash(ls; echo hi)`). For a path it is also a rule that allows it;
/// for a command line the rules are shell_rule.hpp's exact_patterns_for().
std::string rule_for(const Need& need);

}  // namespace icotes::permissions
