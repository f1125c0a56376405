// Pieces of the exec service shared by its files: output capture, UTF-8
// repair, spawning and supervising one child. See include/icotes/exec.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/exec.hpp"

namespace icotes::exec::detail {

/// `bytes` as valid UTF-8 (RFC 3629): each byte that does not start a
/// well-formed sequence becomes U+FFFD.
std::string lossy_utf8(std::string_view bytes);

/// Length of the longest prefix of `bytes` that does not end inside a
/// multi-byte sequence that more bytes could complete.
std::size_t complete_prefix(std::string_view bytes);

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

/// A running child: its pid (also its process group), a pidfd, and the
/// parent's ends of its pipes (-1 when absent).
struct Child {
  int pid = -1;
  Fd pidfd;
  Fd out;
  Fd err;
  Fd in;
  bool sandboxed = false;
};

/// What spawn() execs: the program (already resolved), its argv and envp.
struct Launch {
  std::string program;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::string cwd;               // chdir before exec; empty: stay
  bool sandboxed = false;
  Limits limits;            // applied when sandboxed
  bool with_stdin = false;  // a pipe, else /dev/null
};

/// clone (CLONE_VM | CLONE_VFORK, no copy of this process) + exec with
/// only async-signal-safe calls in between: setsid, death
/// signal, signal dispositions reset, rlimits and no_new_privs when
/// sandboxed, pipes on 0/1/2, other fds closed. Errors: kNotFound /
/// kPermissionDenied / kIoError with the errno of exec (or chdir).
Result<Child> spawn(const Launch& launch);

/// Looks `name` up in `path_var` as execvp(3) would (a name with '/' is
/// taken relative to `cwd`); the absolute path of an executable regular
/// file, or nullopt.
std::optional<std::string> find_program(const std::string& name, const std::string& path_var, const std::string& cwd);

/// The environment for a child: icotes' own, the non-interactive settings,
/// then `overrides`.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides);

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
