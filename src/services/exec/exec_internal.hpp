// Pieces of the exec service shared by its files: output capture, UTF-8
// repair, spawning and supervising one child. See include/exec/icotes/exec.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/exec.hpp"

namespace icotes::exec::detail {

/// Keeps the first and last halves of a stream of at most `limit` bytes;
/// memory stays under about 3 x limit + 64 KiB whatever comes.
class Capture {
 public:
  explicit Capture(std::size_t limit) : head_limit_(limit / 2), tail_limit_(limit - limit / 2) {}
  void add(std::string_view bytes);
  Captured finish();

 private:
  std::size_t head_limit_;
  std::size_t tail_limit_;
  std::string head_;
  std::string tail_;
  std::uint64_t total_ = 0;
};

/// How the kernel bounds the number of tasks (processes and threads) of a
/// sandboxed run; see Service::check_sandbox().
enum class TaskLimit {
  None,    // no kernel limit: the watchdog alone (root without a pids cgroup)
  Cgroup,  // the run's own pids cgroup (pids.max)
  Rlimit,  // RLIMIT_NPROC on the sandbox's pid 1, counted in its own user namespace
};

/// A running child: its pid (also its process group), a pidfd, and the
/// parent's ends of its pipes (-1 when absent).
struct Child {
  int pid = -1;
  Fd pidfd;
  Fd out;
  Fd err;
  Fd in;
  bool sandboxed = false;
  TaskLimit task_limit = TaskLimit::None;
  int pids_current = -1;  // the run cgroup's pids.current (not owned), for the watchdog
  int pids_events = -1;   // its pids.events ("max N": forks refused), likewise
};

/// What spawn() execs: the program (already resolved), its argv and envp.
/// Sandboxed, `program` is bwrap, `argv` its options and `command` what it
/// runs: bwrap itself gets an empty environment and `env` reaches the
/// command through `--setenv` options read from a memfd (`--args`), so no
/// variable acts on bwrap and none shows in its /proc/PID/cmdline.
struct Launch {
  std::string program;
  std::vector<std::string> argv;
  std::vector<std::string> env;      // "NAME=value", no NUL
  std::vector<std::string> command;  // sandboxed: after "--"
  std::string cwd;                   // chdir before exec; empty: stay
  bool sandboxed = false;
  Limits limits;            // applied when sandboxed
  bool with_stdin = false;  // a pipe, else /dev/null
  /// Sandboxed: the kernel's bound on its tasks. bwrap reports its pid 1
  /// (--info-fd) and waits (--block-fd) until spawn() has moved it into the
  /// run's cgroup (`cgroup_procs`, a cgroup.procs opened for writing) or set
  /// RLIMIT_NPROC = max_processes + 1 on it.
  TaskLimit task_limit = TaskLimit::None;
  int cgroup_procs = -1;
  int cgroup_current = -1;
  int cgroup_events = -1;
  /// Kept as long as the run (the lock that keeps a placeholder in place).
  std::shared_ptr<const void> hold;
};

/// clone (CLONE_VM | CLONE_VFORK, no copy of this process) + exec with
/// only async-signal-safe calls in between: setsid, death
/// signal, signal dispositions reset, rlimits and no_new_privs when
/// sandboxed, pipes on 0/1/2, other fds closed. Errors: kNotFound /
/// kPermissionDenied / kIoError with the errno of exec (or chdir),
/// kInvalidParams for a NUL byte in the environment.
Result<Child> spawn(const Launch& launch);

/// Looks `name` up in `path_var` as execvp(3) would (a name with '/' is
/// taken relative to `cwd`); the absolute path of an executable regular
/// file, or nullopt.
std::optional<std::string> find_program(const std::string& name, const std::string& path_var, const std::string& cwd);

/// The environment for a child: icotes' own, the non-interactive settings,
/// then `overrides`.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides);

/// The bwrap options that bind the workspace `root` (read-only when
/// `read_only`) and keep what protected_path_reason() names unchangeable
/// inside: `.icotes/` read-only; the root's `.git` and its info/ pinned
/// (mount points: they cannot be renamed or removed) with its config,
/// config.worktree, hooks/, info/attributes and modules/ read-only, or
/// read-only whole when one of them is a symlink; a read-only empty placeholder `.git` when there
/// is none (removed after the last run that needed it); `.git` and `.icotes`
/// of the root's direct subdirectories read-only. Placeholders are made on
/// the host through descriptors beneath the root, never following a
/// symlink. Errors (kRequestFailed): `.icotes` or `.git` is a symlink or
/// not what it should be, saying what to do.
struct WorkspaceBinds {
  std::vector<std::string> args;
  std::shared_ptr<const void> hold;  // keep while the sandbox runs
};
Result<WorkspaceBinds> workspace_binds(const ConfinedRoot& root, bool read_only);

/// Per-run pids cgroups (cgroup v2 under `<mount>/icotes/`, or v1's pids
/// hierarchy under this process's own cgroup) where this process may make
/// them, which in practice means root.
class PidsCgroups {
 public:
  /// The place to make them, checked by making one; nullptr when there is
  /// none. Removes empty ones left by icotes processes that are gone.
  static std::unique_ptr<PidsCgroups> find();
  /// A cgroup for one run: removed when it goes (it is empty by then).
  struct Run {
    std::string dir;
    Fd procs;    // cgroup.procs, for writing
    Fd current;  // pids.current
    Fd events;   // pids.events
    ~Run();
  };
  /// Errors: kIoError saying which step failed.
  Result<std::unique_ptr<Run>> create(std::uint64_t pids_max);
  const std::string& base() const { return base_; }

 private:
  explicit PidsCgroups(std::string base) : base_(std::move(base)) {}
  std::string base_;
  std::atomic<std::uint64_t> next_{1};
};

/// What supervise() watches besides the child.
struct Control {
  const CancellationToken* cancel = nullptr;
  const std::atomic<bool>* kill_requested = nullptr;  // a job's jobKill or the service stopping
  OutputSink sink;                                    // streamed text (throttled)
  /// Every byte as read, per stream (1 stdout, 2 stderr), for job buffers.
  std::function<void(int stream, std::string_view bytes)> on_bytes;
};

/// Feeds stdin, reads output, enforces the timeouts and the sandbox's
/// process limit, kills and reaps. Returns when the child is reaped.
Outcome supervise(Child& child, const Spec& spec, const Limits& limits, const Control& control);

}  // namespace icotes::exec::detail
