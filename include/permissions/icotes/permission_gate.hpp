// The permission gate: every operation call passes it before its handler
// runs (run_operation, src/ops/dispatch.cpp). It decides with permissions::decide(),
// asks the requesting client on a miss, remembers answers and logs every
// decision. One per workspace; shared by all its connections.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/permissions.hpp"

namespace icotes::permissions {

class Store;
struct AuditRecord;

/// The answers a question offers.
enum class Choice { AllowOnce, AllowSession, AlwaysSpecific, AlwaysDirectory, AlwaysProject, Deny };

struct Question {
  std::string operation;  // "files/write"
  Need need;
  std::string message;  // one paragraph for people: who wants to do what
  /// Offered choices with their labels ("Always allow in src/"), in order.
  std::vector<std::pair<Choice, std::string>> options;
};

/// Puts `question` to the user through a client and calls `answer` exactly
/// once with the choice, or nullopt when the client declined, failed or
/// cannot answer. Returns a function that withdraws the question (tells the
/// client it is no longer needed); it may be null.
using Asker =
    std::function<std::function<void()>(const Question& question, std::function<void(std::optional<Choice>)> answer)>;

/// What the gate knows of one connection.
struct ClientState {
  std::string name;  // "mcp:claude-code 1.0.3", "lsp:Neovim", "plain", "cli"
  /// This connection's own mode and rules (its command line, its
  /// initializationOptions), set before its first call: they add to the
  /// workspace's, which the gate re-reads when they change on disk.
  Settings settings;
  Cache session;  // "Allow this session" answers
  Asker ask;      // null: this client cannot be asked
};

/// How a NeedsHook (operation.hpp) writes a call's command line, so rules see
/// what the call does. program_line: a program and its arguments, each
/// exec::shell_quote()d, the program quoted also when the shell would read it
/// as a reserved word or an assignment. env_words: the call's `env` object as
/// `env NAME=value ... ` (ending in a space) without the variables
/// harmless_environment_variable() accepts; "" when none remains.
/// stdin_heredoc: the call's `stdin` text as a quoted here-document to append
/// to the line; "" when none.
std::string program_line(const std::vector<std::string>& argv);
std::string env_words(const json& params);
std::string stdin_heredoc(const json& params);

class Gate {
 public:
  /// `root`: the workspace. Settings come from `<root>/.icotes/config.toml`
  /// (plus `extra`, from the command line); grants from
  /// `<root>/.icotes/permissions.sqlite` (created on the first "always"
  /// answer, and `.icotes/` added to `.git/info/exclude`) and from
  /// `$XDG_STATE_HOME/icotes/permissions.sqlite` (Global); the audit log in
  /// `$XDG_STATE_HOME/icotes/audit/<hash of the root>.sqlite`. Errors: a bad
  /// config file (the message names it), an unusable database. A corrupt
  /// database is set aside and reported by warnings().
  static Result<std::unique_ptr<Gate>> open(const ConfinedRoot& root, const Settings& extra);
  ~Gate();

  /// The workspace's settings now: .icotes/config.toml, the rules saved by
  /// `icotes permissions allow|deny`, and the `extra` given to open().
  Settings settings() const;
  /// Problems met at open (corrupt databases set aside, an unreadable
  /// grant database), for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }

  /// Takes in what changed on disk since the last call (inotify(7) on
  /// .icotes/ and the state directory): .icotes/config.toml edits and the
  /// grants and rules other processes (`icotes permissions`) saved. Cheap
  /// when nothing changed (one read(2) that finds no event); check() and
  /// check_now() call it, so a change made before a call was sent decides
  /// that call. A config file that no longer parses keeps the settings in
  /// force (a warning in the log).
  void refresh();

  /// The needs of one call, from what its operation declares
  /// (operation.hpp: Operation::path_params, read_when, needs): its kind
  /// (ReadFile when a read_when member matches) on each path it names,
  /// normalised beneath the root, then the command lines of its NeedsHook,
  /// then its working directory as a read; the root itself when it names
  /// none. Parameters nothing declares are not looked at.
  std::vector<Need> needs(const Operation& op, const json& params) const;

  /// What `client` may not read: a Read deny rule of its settings or a saved
  /// ReadFile deny covers the path. Null when neither exists (most
  /// workspaces), so services skip the check. The filter holds `client`.
  ReadFilter read_filter(const std::shared_ptr<ClientState>& client) const;

  /// Judges the paths a call's writes really land on, after check() approved
  /// `approved` (the call's needs): see WriteCheck in path_policy.hpp.
  /// Never asks: a landing path nobody approved and the settings do not
  /// allow is refused. The check holds `client`.
  WriteCheck write_check(const std::shared_ptr<ClientState>& client, OperationKind kind,
                         std::vector<Need> approved) const;

  /// Decides without asking (reads, resources): Ask counts as Deny.
  Status check_now(ClientState& client, std::string_view operation, const std::vector<Need>& needs);

  /// Decides `needs` for `client`; asks on a miss (one question for all
  /// calls waiting on the same need of the same client; withdrawn when every
  /// one of them is cancelled; denied after the timeout). `done` runs once,
  /// on the calling thread when no question is needed, else on the thread
  /// that got the answer: ok to run, or kPermissionDenied with a message
  /// that says how to allow it.
  void check(const std::shared_ptr<ClientState>& client, std::string_view operation, std::vector<Need> needs,
             const CancellationToken& token, std::function<void(Status)> done);

  /// An editor attached to this workspace (an LSP connection): questions
  /// from clients that cannot be asked themselves go to the most recently
  /// attached editor still connected.
  void attach_editor(std::weak_ptr<ClientState> editor);

  /// How long a question waits for an answer (default 120 s;
  /// ICOTES_PERMISSION_TIMEOUT_MS overrides it).
  std::chrono::milliseconds ask_timeout() const { return ask_timeout_; }

  // Administration (LSP icotes/permissions/*, `icotes permissions`; never MCP).
  struct Listed {
    Grant grant;
    bool global = false;
  };
  std::vector<Listed> list() const;
  Status grant(const Grant& grant, bool global, const std::string& by);
  Result<bool> revoke(OperationKind kind, Scope scope, const std::string& value, bool global);
  /// Saves a rule (`Bash(echo:*)`, `Edit(src/**)`) with the workspace's
  /// grants: it then decides like a rule of .icotes/config.toml.
  Status save_rule(const Rule& rule, const std::string& by);
  /// Removes a saved rule by its text; true when there was one.
  Result<bool> remove_rule(const std::string& text, Answer answer);
  /// Why grants cannot be saved here (an unreadable or read-only database),
  /// or "" when they can be.
  std::string grants_unavailable() const;
  Result<std::vector<AuditRecord>> log(std::size_t limit, std::size_t offset);
  /// Writes audit records still buffered (they are written in batches, at
  /// most 100 ms after the decision, by the gate's thread).
  void flush();

 private:
  Gate(const ConfinedRoot& root, Settings extra);
  struct Pending;
  std::shared_ptr<const Settings> workspace_settings() const;
  void rebuild_settings();
  void load_config(bool at_open);
  void load_grants(bool global);
  void watch_config_dir();
  void decided(const ClientState& client, std::string_view operation, const Decision& d, std::string_view answer);
  Status deny_status(const ClientState& client, std::string_view operation, const Decision& d) const;
  void answer(const std::string& key, std::optional<Choice> choice);
  Status remember(ClientState& client, const Need& need, Choice choice);
  Result<Store*> project_store();
  void timer_loop();

  const ConfinedRoot& root_;
  Settings extra_;                              // the command line's, added to the config's
  Settings config_;                             // the last .icotes/config.toml that parsed
  std::string config_error_;                    // the last parse error logged
  std::vector<Rule> saved_allow_, saved_deny_;  // rules in permissions.sqlite
  mutable std::mutex settings_mutex_;           // guards settings_
  std::shared_ptr<const Settings> settings_;    // config_ + saved rules + extra_
  std::mutex refresh_mutex_;                    // one refresh at a time
  int inotify_fd_ = -1;
  int root_wd_ = -1, icotes_wd_ = -1, state_wd_ = -1;
  std::string project_unavailable_;
  bool opened_ = false;  // open() done: warnings go to the log  // why the workspace's grant database cannot be used
  std::vector<std::string> warnings_;
  std::chrono::milliseconds ask_timeout_{120000};
  Cache persisted_;
  Cache global_;
  std::string project_db_path_;
  mutable std::mutex stores_mutex_;  // guards opening and writing project_store_ / global_store_
  std::unique_ptr<Store> project_store_;
  std::unique_ptr<Store> global_store_;
  std::string audit_db_path_;
  std::mutex audit_mutex_;  // guards audit_store_ and audit_failed_; taken before mutex_
  std::unique_ptr<Store> audit_store_;
  bool audit_failed_ = false;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  std::vector<std::weak_ptr<ClientState>> editors_;
  std::vector<AuditRecord> audit_buffer_;
  std::thread timer_;
};

}  // namespace icotes::permissions
