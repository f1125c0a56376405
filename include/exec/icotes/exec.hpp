// The exec service (docs/ARCHITECTURE.md#exec): runs a command or a code snippet
// for a client, with a wall-clock and an idle-output timeout, bounded output
// (head and tail kept), output streamed while it runs, cancellation, and a
// sandbox; or starts it in the background as a job to follow.
//
// Every child runs in its own session (setsid: its own process group, no
// controlling terminal) with stdin from /dev/null unless given, and with
// GIT_TERMINAL_PROMPT=0, DEBIAN_FRONTEND=noninteractive, PAGER=cat and
// GIT_PAGER=cat, so nothing waits for a person. A timeout, a cancellation or
// a kill sends SIGTERM to every process of the run, then SIGKILL after a
// grace of 2 s. A run ends when its process has exited and both output pipes
// reached EOF, or 500 ms after the exit when something it left behind holds
// a pipe open; what is left of its process group is then killed: use a
// background job for a server. Every child gets PR_SET_PDEATHSIG(SIGKILL):
// it dies with icotes. Unsandboxed, a process that starts a session of its
// own (a daemon) leaves the group and is out of reach; in the sandbox the
// PID namespace holds everything.
//
// The sandbox is bubblewrap (bwrap(1)): the system read-only (`--ro-bind /
// /`), the workspace writable (read-only in permission mode readOnly) except
// what protected_path_reason() (path_policy.hpp) names: `.icotes/`
// read-only; the root's `.git` and its info/ pinned (mount points: they
// cannot be renamed or removed) and writable, with its config,
// config.worktree, hooks/, info/attributes and modules/ read-only; a
// read-only empty `.git` when there is none (so no `git init` there);
// `.git` and `.icotes` of the root's direct subdirectories read-only. A private /tmp and /run, a new /dev and /proc,
// every namespace unshared (no network unless allowed), no capabilities, no
// new privileges, dies with icotes; rlimits for address space, CPU time and
// file size.
//
// bwrap runs with an empty environment: the command's variables (icotes'
// own, the non-interactive settings, the client's) reach it through
// `--setenv` options that bwrap reads from a memfd (`--args`), so none acts
// on bwrap (which runs on the host before any namespace exists) and none
// shows in its command line. A client may not set a loader variable
// (refused_variable()), sandboxed or not.
//
// The number of tasks (processes and threads) is bounded by the kernel:
// a pids cgroup per run where icotes may make one (root: cgroup v2 with the
// pids controller, or v1's pids hierarchy), else RLIMIT_NPROC on the
// sandbox's pid 1, which the kernel counts per user namespace and user
// (bwrap makes a new user namespace per run, so only the run's tasks count;
// the limit does not bind root, hence the cgroup). A fork past the limit
// fails with EAGAIN inside. A watchdog (every 20 ms) ends the run with
// Ending::ProcessLimit once the limit is reached; for root without a
// writable pids cgroup it is the only bound. Without a working bwrap a
// sandboxed run is an error that says what to do; nothing silently runs
// unsandboxed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "icotes/cancellation.hpp"
#include "icotes/confine.hpp"
#include "icotes/result.hpp"

namespace icotes::exec {

namespace detail {
class PidsCgroups;
}

/// Sandbox limits, `[exec]` of .icotes/config.toml.
struct Limits {
  std::uint64_t memory_bytes = 4ULL << 30;     // RLIMIT_AS; config memory_mb (0: none)
  std::uint64_t cpu_seconds = 600;             // RLIMIT_CPU; config cpu_seconds (0: none)
  std::uint64_t file_size_bytes = 1ULL << 30;  // RLIMIT_FSIZE; config file_size_mb (0: none)
  /// Tasks (processes and threads) of a sandboxed command at once; config
  /// max_processes. The kernel refuses more (see above); reaching it ends
  /// the run.
  std::uint32_t max_processes = 1024;
};

/// `[exec]` of .icotes/config.toml: `sandbox = false` runs run_command
/// unsandboxed (run_code stays sandboxed), `network = true` shares the
/// network, and the limits above.
struct Settings {
  bool sandbox = true;
  bool network = false;
  Limits limits;
};

/// Reads `[exec]` of a TOML file; a missing file or section gives the
/// defaults. Errors (kInvalidParams): a value of the wrong type or a
/// negative limit, naming the file and key.
Result<Settings> load_settings(const std::string& path);

/// One thing to run.
struct Spec {
  /// argv[0] is looked up in PATH (the child's, after `env`) when it has no
  /// '/', as execvp(3) does. No string may hold a NUL byte.
  std::vector<std::string> argv;
  std::string cwd;  // absolute, inside the workspace
  /// Set over icotes' environment. Names non-empty without '=' or NUL,
  /// values without NUL, no refused_variable().
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<std::string> stdin_data;      // else /dev/null
  std::chrono::milliseconds timeout{120000};  // wall clock; 0: none
  std::chrono::milliseconds idle_timeout{0};  // without output; 0: none
  std::size_t max_output_bytes = 30000;       // kept per stream (head + tail)
  bool sandbox = true;
  bool network = false;
  /// Host files made visible read-only at the same path in the sandbox (a
  /// run_code snippet in the host's /tmp).
  std::vector<std::string> ro_binds;
};

/// How a run ended.
enum class Ending { Exited, Signaled, Timeout, IdleTimeout, ProcessLimit, Cancelled, Killed };
std::string_view to_string(Ending ending);  // "exited", "signaled", "timeout", "idleTimeout", ...

/// What a run printed on one stream.
struct Captured {
  /// Valid UTF-8 (invalid bytes become U+FFFD). When more than the limit
  /// came, the first and last halves with "\n[... N bytes omitted ...]\n"
  /// between them.
  std::string text;
  std::uint64_t total_bytes = 0;    // everything the stream carried
  std::uint64_t omitted_bytes = 0;  // not in text
};

struct Outcome {
  Ending ending = Ending::Exited;
  std::optional<int> exit_code;  // when the process exited
  std::optional<int> signal;     // when a signal ended it
  Captured out;
  Captured err;
  std::chrono::milliseconds duration{0};
  bool sandboxed = false;
  int pid = 0;
  /// One sentence on how it ended, for people and AIs ("killed after the
  /// 1000 ms timeout: SIGTERM to its processes, SIGKILL 2 s later").
  std::string note;
};

/// Receives output while a run goes on: text of both streams in arrival
/// order (valid UTF-8, at most 8 KiB a call; more is skipped and marked),
/// at most every 50 ms; `total_bytes` counts both streams.
using OutputSink = std::function<void(std::string_view text, std::uint64_t total_bytes)>;

/// A background job's state.
struct JobInfo {
  std::string id;  // "job-1"
  std::string command;
  bool running = true;
  Outcome outcome;              // text fields empty; ending and codes when finished
  std::int64_t started_ms = 0;  // Unix epoch
};

/// Output of a job since byte offsets.
struct JobChunk {
  std::string text;                 // valid UTF-8
  std::uint64_t offset = 0;         // stream offset of the first byte of text
  std::uint64_t next_offset = 0;    // pass it back to continue
  std::uint64_t dropped_bytes = 0;  // bytes before `offset` that were asked for but are gone
};
struct JobOutput {
  JobInfo info;
  JobChunk out;
  JobChunk err;
};

/// Why a client may not set the environment variable `name`, or nullopt.
/// Refused: every LD_* and MALLOC_* variable, GLIBC_TUNABLES, and the rest
/// of glibc's list of variables it ignores in setuid programs
/// (sysdeps/generic/unsecvars.h: GCONV_PATH, GETCONF_DIR, HOSTALIASES,
/// LOCALDOMAIN, LOCPATH, NIS_PATH, NLSPATH, RESOLV_HOST_CONF, RES_OPTIONS,
/// TZDIR; TMPDIR excepted). The dynamic loader (ld.so(8)) and the C library
/// act on them in every program before it does anything: loading a shared
/// object, writing a trace file, reading modules or data from a path; a
/// command line that names `echo` would run whatever such a variable names.
std::optional<std::string> refused_variable(std::string_view name);

/// Checks one variable a client asks for (run_command's and
/// terminal_create's `env`): the name non-empty without '=' or NUL (execve(2)
/// would read the rest as the value), the value without NUL, and not a
/// refused_variable(). Errors: kInvalidParams naming the variable (also in
/// data.variable).
Status check_client_variable(std::string_view name, std::string_view value);

/// A signal's name ("SIGTERM"), or "signal N".
std::string signal_name(int sig);

/// Shell-quotes one word for /bin/sh ('it'\''s'), bare when it needs none.
std::string shell_quote(std::string_view word);
/// The shell run_command runs a `command` line with (`/bin/sh -c LINE`):
/// dash on Debian and Ubuntu, bash elsewhere. The permission rules parse the
/// line as both read it (shell_rule.hpp).
inline constexpr std::string_view kCommandShell = "/bin/sh";
/// Words joined with spaces, each shell_quote()d: the command line a user
/// would type for an argv.
std::string shell_join(const std::vector<std::string>& argv);
/// The interpreter of a run_code language ("python" → "python3", "node",
/// "bash"); nullopt for another.
std::optional<std::string> interpreter_of(std::string_view language);
/// The command line a user would type to run `code` (`python3 -c '<code>'`,
/// `node -e '<code>'`, `bash -c '<code>'`): the permission target of
/// run_code, so `Bash(python3:*)` rules match and the question shows it.
std::string code_command_line(std::string_view language, std::string_view code);

class Service {
 public:
  /// `root`: the workspace; settings from <root>/.icotes/config.toml;
  /// `read_only_workspace`: bind it read-only in the sandbox (mode
  /// readOnly). The bwrap binary is $ICOTES_BWRAP or /usr/bin/bwrap.
  static Result<std::unique_ptr<Service>> open(const ConfinedRoot& root, bool read_only_workspace);
  /// Ends every job (SIGTERM, SIGKILL after the grace) and joins its thread.
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const Settings& settings() const { return settings_; }
  const ConfinedRoot& root() const { return root_; }

  /// Runs `spec` to its end on the calling thread. Errors: kInvalidParams (a
  /// refused or malformed variable, a NUL byte in argv, naming it),
  /// kNotFound (the program is not in PATH, the cwd is missing),
  /// kRequestFailed (the sandbox cannot work: bwrap missing or refused, or
  /// `.git` / `.icotes` a symlink, with what to do), kRequestCancelled
  /// (`cancel` fired; its processes were killed), kIoError.
  Result<Outcome> run(const Spec& spec, const CancellationToken& cancel, const OutputSink& sink = nullptr);

  /// Starts `spec` as a background job (`spec.timeout` 0: none). Errors as
  /// run(), and kRequestFailed when 16 jobs already run.
  Result<JobInfo> start(Spec spec, std::string command);
  /// Output since the offsets (at most `max_bytes` per stream), waiting up
  /// to `wait` for new output or the end. Each stream keeps its last 1 MiB;
  /// the 32 newest finished jobs are kept for 30 minutes. Errors: kNotFound.
  Result<JobOutput> output(std::string_view id, std::uint64_t out_offset, std::uint64_t err_offset,
                           std::size_t max_bytes, std::chrono::milliseconds wait);
  /// Ends a job as a timeout does and waits for it (up to the grace + 1 s).
  /// Errors: kNotFound.
  Result<JobInfo> kill(std::string_view id);
  std::vector<JobInfo> list();

  /// Checks that bwrap works here (runs it once; the success is
  /// remembered) and chooses how the kernel bounds a run's tasks (a pids
  /// cgroup, else RLIMIT_NPROC unless icotes runs as root, else only the
  /// watchdog, with a warning in the log). Errors (kRequestFailed) say why
  /// and what to do.
  Status check_sandbox();

 private:
  struct Job;
  Service(const ConfinedRoot& root, Settings settings, bool read_only_workspace, std::string bwrap);
  /// Drops finished jobs past the count or age bound; returns them.
  std::vector<std::shared_ptr<Job>> prune_locked();
  static void join_finished(std::vector<std::shared_ptr<Job>>& jobs);

  const ConfinedRoot& root_;
  Settings settings_;
  bool read_only_workspace_;
  std::string bwrap_;
  std::mutex sandbox_mutex_;
  bool sandbox_ok_ = false;
  std::unique_ptr<detail::PidsCgroups> cgroups_;  // set once by check_sandbox()
  bool nproc_rlimit_ = false;                     // likewise

  std::mutex jobs_mutex_;
  std::condition_variable jobs_changed_;
  std::map<std::string, std::shared_ptr<Job>, std::less<>> jobs_;
  std::uint64_t next_job_ = 1;
};

}  // namespace icotes::exec
