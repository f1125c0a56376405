// Spawning and supervising one child. See exec_internal.hpp.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "exec_internal.hpp"
#include "icotes/fd_io.hpp"
#include "icotes/utf8.hpp"

extern char** environ;

namespace icotes::exec::detail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kKillGrace{2000};    // SIGTERM → SIGKILL
constexpr milliseconds kDrainGrace{500};    // exit → stop waiting for EOF
constexpr milliseconds kTick{50};           // cancellation poll, stream throttle
constexpr milliseconds kWatchdogEvery{20};  // sandbox process count
constexpr std::size_t kStreamChunk = 8192;

// The child's report to the parent: the step that failed and its errno
// (fd_io.hpp is async-signal-safe).
enum Step : int { kStepExec, kStepChdir, kStepSetup };
void report_errno(int report, Step step, int e) {
  const int msg[2] = {step, e};
  (void)write_fully(report, std::string_view(reinterpret_cast<const char*>(msg), sizeof msg));
}

// write(2) to a pipe whose reader is gone, without SIGPIPE killing the
// process: icotes ignores SIGPIPE, an embedder (a test) may not. The signal
// is blocked for this thread and a pending one consumed.
ssize_t write_no_sigpipe(int fd, const char* data, std::size_t n) {
  sigset_t pipe_set, old;
  ::sigemptyset(&pipe_set);
  ::sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  const ssize_t w = ::write(fd, data, n);
  const int saved = errno;
  if (w < 0 && errno == EPIPE) {
    const timespec zero{0, 0};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return w;
}

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

struct ChildArgs {
  const Launch* launch;
  char* const* argv;
  char* const* envp;
  int in, out, err, report;
  pid_t parent;
  const int* keep;  // fds that stay open across the exec, ascending, `report` among them
  int keep_count;
  const int* pass;  // of those, the ones bwrap receives (close-on-exec cleared)
  int pass_count;
};

// Child side of spawn(): async-signal-safe calls only. The child shares the
// parent's memory until it execs (CLONE_VM | CLONE_VFORK, as posix_spawn
// does): no malloc, no locks, no writes but to its own stack (and errno,
// the suspended parent thread's). Not instrumented by ASan: its frames must
// not come from the parent thread's ASan state (fake stacks).
[[noreturn]] __attribute__((no_sanitize_address)) void exec_child(const ChildArgs& a) {
  const Launch& l = *a.launch;
  ::setsid();
  // Dies with icotes (the thread that cloned it, in fact: callers spawn from
  // threads that live as long as the run).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (::getppid() != a.parent) ::_exit(127);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);  // icotes ignores SIGPIPE; a child must not
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (l.sandboxed) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    const auto limit = [](int resource, std::uint64_t value) {
      if (value == 0) return;
      struct rlimit r {
        static_cast<rlim_t>(value), static_cast<rlim_t>(value)
      };
      ::setrlimit(resource, &r);
    };
    limit(RLIMIT_AS, l.limits.memory_bytes);
    limit(RLIMIT_CPU, l.limits.cpu_seconds);
    limit(RLIMIT_FSIZE, l.limits.file_size_bytes);
  }
  if (::dup2(a.in, 0) < 0 || ::dup2(a.out, 1) < 0 || ::dup2(a.err, 2) < 0) {
    report_errno(a.report, kStepSetup, errno);
    ::_exit(127);
  }
  if (!l.cwd.empty() && ::chdir(l.cwd.c_str()) != 0) {
    report_errno(a.report, kStepChdir, errno);
    ::_exit(127);
  }
  for (int i = 0; i < a.pass_count; ++i) {
    if (::fcntl(a.pass[i], F_SETFD, 0) != 0) {
      report_errno(a.report, kStepSetup, errno);
      ::_exit(127);
    }
  }
  // Everything else icotes has open stays out; `report` is O_CLOEXEC.
  unsigned from = 3;
  for (int i = 0; i < a.keep_count; ++i) {
    const auto k = static_cast<unsigned>(a.keep[i]);
    if (k > from) ::syscall(SYS_close_range, from, k - 1, 0U);
    if (k + 1 > from) from = k + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0U);
  ::execve(l.program.c_str(), a.argv, a.envp);
  report_errno(a.report, kStepExec, errno);
  ::_exit(127);
}

__attribute__((no_sanitize_address)) int child_main(void* arg) { exec_child(*static_cast<const ChildArgs*>(arg)); }

// Starts exec_child in a new process that borrows this one's memory until
// its execve (clone(2) with CLONE_VM | CLONE_VFORK; this thread waits until
// then). A fork(2) copies the page tables of the multi-threaded server and
// makes both sides take copy-on-write faults: run_command of `true` took
// 10.7 ms (median) on this machine that way, 3.4-3.8 ms this way, `true`
// spawned by hyperfine 1.9-2.1 ms. Signals stay blocked around the clone
// so that no handler of icotes runs on the child's stack; the child sets
// every disposition to the default before unblocking them. Returns the pid,
// or -1 with errno.
pid_t clone_exec_child(ChildArgs& args) {
  constexpr std::size_t kStack = 256 * 1024;  // the child's few frames (more under ASan)
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  const pid_t pid = ::clone(child_main, static_cast<char*>(stack) + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  const int saved = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
#if defined(__SANITIZE_ADDRESS__)
  // The child's instrumented frames marked this stack's shadow; it never
  // returned to clear it.
  ASAN_UNPOISON_MEMORY_REGION(stack, kStack);
#endif
  ::munmap(stack, kStack);
  errno = saved;
  return pid;
}

// A small /proc file; empty when it cannot be read (the process is gone).
std::string read_proc(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// Direct children of `pid` (every thread's), from /proc/<pid>/task/*/children;
// returns its number of threads (0 when it is gone).
std::size_t children_of(int pid, std::vector<int>& out) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(task_dir.c_str());
  if (!d) return 0;
  std::size_t threads = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ++threads;
    const std::string list = read_proc(task_dir + "/" + e->d_name + "/children");
    const char* p = list.c_str();
    char* end = nullptr;
    for (long child = std::strtol(p, &end, 10); end != p; child = std::strtol(p, &end, 10)) {
      out.push_back(static_cast<int>(child));
      p = end;
    }
  }
  ::closedir(d);
  return threads;
}

// Descendants of `pid` with their depth below it (1: children), stopping
// once more than `cap` are found.
std::vector<std::pair<int, int>> descendants(int pid, std::size_t cap) {
  std::vector<std::pair<int, int>> out;
  std::vector<int> kids;
  children_of(pid, kids);
  out.reserve(kids.size());
  for (int k : kids) out.emplace_back(k, 1);
  for (std::size_t i = 0; i < out.size() && out.size() <= cap; ++i) {
    kids.clear();
    children_of(out[i].first, kids);
    for (int k : kids) out.emplace_back(k, out[i].second + 1);
  }
  return out;
}

// Tasks (processes and threads) of a sandboxed command: everything below
// bwrap's pid 1. From the run's pids cgroup when it has one (pid 1 is one
// of its tasks), else from /proc, counting stops past `cap`.
std::size_t sandbox_tasks(const Child& c, std::size_t cap) {
  if (c.pids_current >= 0) {
    char buf[32];
    const ssize_t n = ::pread(c.pids_current, buf, sizeof buf - 1, 0);
    if (n > 0) {
      buf[n] = '\0';
      const long v = std::strtol(buf, nullptr, 10);
      return v > 1 ? static_cast<std::size_t>(v - 1) : 0;
    }
  }
  std::vector<int> pid1, queue;
  children_of(c.pid, pid1);
  for (int p : pid1) children_of(p, queue);
  std::size_t tasks = 0;
  for (std::size_t i = 0; i < queue.size() && tasks <= cap; ++i) tasks += children_of(queue[i], queue);
  return tasks;
}

// Forks the kernel refused in the run's pids cgroup (pids.events "max N"),
// 0 without one.
std::uint64_t refused_forks(const Child& c) {
  if (c.pids_events < 0) return 0;
  char buf[128];
  const ssize_t n = ::pread(c.pids_events, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* max = std::strstr(buf, "max ");
  return max ? std::strtoull(max + 4, nullptr, 10) : 0;
}

// Streams text to a sink at most every kTick, bounded per call.
class Streamer {
 public:
  explicit Streamer(const OutputSink& sink) : sink_(sink) {}
  bool active() const { return static_cast<bool>(sink_); }
  void add(int stream, std::string_view bytes, std::uint64_t total) {
    if (!sink_) return;
    total_ = total;
    std::string& carry = carry_[stream - 1];
    if (pending_.size() >= kStreamChunk) {  // full until the next flush: count, do not convert
      skipped_ += bytes.size();
      carry.clear();
      return;
    }
    std::string text = repair_utf8(bytes, carry);
    const std::size_t room = kStreamChunk > pending_.size() ? kStreamChunk - pending_.size() : 0;
    if (text.size() <= room) {
      pending_ += text;
    } else {
      const std::size_t keep = utf8_complete_prefix(std::string_view(text).substr(0, room));
      pending_.append(text, 0, keep);
      skipped_ += text.size() - keep;
    }
  }
  // Time until the next flush is due; max() when nothing waits.
  milliseconds due(Clock::time_point now) const {
    if (!sink_ || (pending_.empty() && skipped_ == 0)) return milliseconds::max();
    const auto left = std::chrono::duration_cast<milliseconds>(last_ + kTick - now);
    return std::max(left, milliseconds(0));
  }
  void flush(Clock::time_point now, bool force) {
    if (!sink_ || (pending_.empty() && skipped_ == 0) || (!force && now < last_ + kTick)) return;
    if (skipped_ > 0) pending_ += "\n[... " + std::to_string(skipped_) + " bytes not streamed ...]\n";
    sink_(pending_, total_);
    pending_.clear();
    skipped_ = 0;
    last_ = now;
  }

 private:
  const OutputSink& sink_;
  std::string carry_[2];
  std::string pending_;
  std::uint64_t skipped_ = 0;
  std::uint64_t total_ = 0;
  Clock::time_point last_{};
};

}  // namespace

void Capture::add(std::string_view bytes) {
  total_ += bytes.size();
  if (head_.size() < head_limit_) {
    const std::size_t take = std::min(head_limit_ - head_.size(), bytes.size());
    head_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
  if (bytes.empty()) return;
  tail_.append(bytes);
  // Trimmed in batches: amortised O(1) per byte.
  if (tail_.size() > 2 * tail_limit_ + 65536) tail_.erase(0, tail_.size() - tail_limit_);
}

Captured Capture::finish() {
  Captured c;
  c.total_bytes = total_;
  if (tail_.size() > tail_limit_) tail_.erase(0, tail_.size() - tail_limit_);
  if (total_ == head_.size() + tail_.size()) {
    c.text = repair_utf8(head_ + tail_);
    return c;
  }
  // Cut on character boundaries: drop a sequence split at the head's end
  // and continuation bytes at the tail's start.
  const std::size_t head_len = utf8_complete_prefix(head_);
  std::size_t tail_from = 0;
  while (tail_from < tail_.size() && tail_from < 3 && (static_cast<unsigned char>(tail_[tail_from]) & 0xC0) == 0x80)
    ++tail_from;
  c.omitted_bytes = total_ - head_len - (tail_.size() - tail_from);
  c.text = repair_utf8(std::string_view(head_).substr(0, head_len)) + "\n[... " + std::to_string(c.omitted_bytes) +
           " bytes omitted ...]\n" + repair_utf8(std::string_view(tail_).substr(tail_from));
  return c;
}

std::optional<std::string> find_program(const std::string& name, const std::string& path_var, const std::string& cwd) {
  const auto runnable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    const std::string p = name[0] == '/' ? name : cwd + "/" + name;
    return runnable(p) ? std::optional(p) : std::nullopt;
  }
  std::size_t start = 0;
  while (start <= path_var.size()) {
    const std::size_t end = std::min(path_var.find(':', start), path_var.size());
    std::string dir = path_var.substr(start, end - start);
    if (dir.empty()) dir = cwd;  // an empty entry is the current directory
    std::string p = std::move(dir);
    p += '/';
    p += name;
    if (runnable(p)) {
      if (p[0] == '/') return p;
      std::string absolute = cwd;
      absolute += '/';
      absolute += p;
      return absolute;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::pair<std::string, std::string>> vars;
  const auto set = [&](const std::string& name, const std::string& value) {
    auto it = std::find_if(vars.begin(), vars.end(), [&](const auto& v) { return v.first == name; });
    if (it != vars.end())
      it->second = value;
    else
      vars.emplace_back(name, value);
  };
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    vars.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  // Nothing may wait for a person (docs/ARCHITECTURE.md#lessons-from-other-tools).
  set("GIT_TERMINAL_PROMPT", "0");
  set("DEBIAN_FRONTEND", "noninteractive");
  set("PAGER", "cat");
  set("GIT_PAGER", "cat");
  for (const auto& [name, value] : overrides) set(name, value);
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [name, value] : vars) {
    std::string entry = std::move(name);
    entry += '=';
    entry += value;
    out.push_back(std::move(entry));
  }
  return out;
}

namespace {

// `fd` moved to a number above 2 (0-2 become the child's stdio), close-on-exec.
Fd above_stdio(Fd fd) {
  if (!fd.valid() || fd.get() > 2) return fd;
  return Fd(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
}

// bwrap's --args data: `--setenv NAME VALUE` for each variable, NUL-separated.
Result<Fd> sandbox_env_memfd(const std::vector<std::string>& env) {
  // bwrap takes at most 9000 arguments in all (bubblewrap.c MAX_ARGS).
  if (env.size() > 2500)
    return make_error(error_code::kInvalidParams, "too many environment variables for the sandbox: " +
                                                      std::to_string(env.size()) + " (at most 2500)");
  std::string data;
  for (const auto& e : env) {
    const std::size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0 || e.find('\0') != std::string::npos)
      return make_error(error_code::kInvalidParams, "the environment entry '" + e.substr(0, e.find('\0')) +
                                                        "' is not NAME=value without NUL bytes");
    data.append("--setenv").push_back('\0');
    data.append(e, 0, eq).push_back('\0');
    data.append(e, eq + 1).push_back('\0');
  }
  Fd fd(::memfd_create("icotes-bwrap-args", MFD_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "memfd_create", "bwrap arguments");
  if (const int e = write_fully(fd.get(), data); e != 0) return errno_error(e, "write", "bwrap arguments");
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return errno_error(errno, "lseek", "bwrap arguments");
  fd = above_stdio(std::move(fd));
  if (!fd.valid()) return errno_error(errno, "fcntl", "bwrap arguments");
  return fd;
}

// Reads bwrap's --info-fd report to its end (bwrap closes it once written,
// or exits) and returns the sandbox's pid 1 as the host sees it; 0 when
// bwrap ended without one. Waits at most `wait`.
int read_sandbox_pid(int fd, milliseconds wait) {
  std::string info;
  const auto until = Clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    if (left <= 0) return -1;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;
    char buf[1024];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    info.append(buf, static_cast<std::size_t>(n));
    if (info.size() > 65536) break;
  }
  const std::size_t key = info.find("\"child-pid\":");
  if (key == std::string::npos) return 0;
  return std::atoi(info.c_str() + key + 12);
}

}  // namespace

// One launch sequence (argv and env, pipes, clone, exec report, sandbox task limit) whose descriptors must be closed
// at exact points in order.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<Child> spawn(const Launch& l) {
  // Everything the child needs is built before the clone.
  std::vector<std::string> argv_s = l.argv;
  std::vector<std::string> env_s = l.sandboxed ? std::vector<std::string>() : l.env;
  Fd args_fd, info_r, info_w, block_r, block_w;
  std::vector<int> pass;
  if (l.sandboxed) {
    auto memfd = sandbox_env_memfd(l.env);
    if (!memfd) return std::move(memfd).error();
    args_fd = std::move(*memfd);
    argv_s.insert(argv_s.end(), {"--args", std::to_string(args_fd.get())});
    pass.push_back(args_fd.get());
    if (l.task_limit != TaskLimit::None) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return errno_error(errno, "pipe", l.program);
      info_r = Fd(p[0]);
      info_w = above_stdio(Fd(p[1]));
      if (::pipe2(p, O_CLOEXEC) != 0) return errno_error(errno, "pipe", l.program);
      block_r = above_stdio(Fd(p[0]));
      block_w = Fd(p[1]);
      if (!info_w.valid() || !block_r.valid()) return errno_error(errno, "fcntl", l.program);
      argv_s.insert(argv_s.end(),
                    {"--info-fd", std::to_string(info_w.get()), "--block-fd", std::to_string(block_r.get())});
      pass.push_back(info_w.get());
      pass.push_back(block_r.get());
    }
    argv_s.push_back("--");
    argv_s.insert(argv_s.end(), l.command.begin(), l.command.end());
  }
  for (const auto& a : argv_s)
    if (a.find('\0') != std::string::npos)
      return make_error(error_code::kInvalidParams, "an argument holds a NUL byte: " + a.substr(0, a.find('\0')));
  std::vector<char*> argv;
  argv.reserve(argv_s.size() + 1);
  for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env_s) {
    if (e.find('\0') != std::string::npos)
      return make_error(error_code::kInvalidParams,
                        "an environment entry holds a NUL byte: " + e.substr(0, e.find('\0')));
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);

  int out[2], err[2], in[2] = {-1, -1}, report[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errno_error(errno, "pipe", l.program);
  Fd out_r(out[0]), out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return errno_error(errno, "pipe", l.program);
  Fd err_r(err[0]), err_w(err[1]);
  if (::pipe2(report, O_CLOEXEC) != 0) return errno_error(errno, "pipe", l.program);
  Fd report_r(report[0]), report_w(above_stdio(Fd(report[1])));
  if (!report_w.valid()) return errno_error(errno, "fcntl", l.program);
  Fd in_r, in_w;
  if (l.with_stdin) {
    if (::pipe2(in, O_CLOEXEC) != 0) return errno_error(errno, "pipe", l.program);
    in_r = Fd(in[0]);
    in_w = Fd(in[1]);
  } else {
    in_r = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!in_r.valid()) return errno_error(errno, "open", "/dev/null");
  }
  std::vector<int> keep = pass;
  keep.push_back(report_w.get());
  std::sort(keep.begin(), keep.end());
  ChildArgs args{&l,
                 argv.data(),
                 envp.data(),
                 in_r.get(),
                 out_w.get(),
                 err_w.get(),
                 report_w.get(),
                 ::getpid(),
                 keep.data(),
                 static_cast<int>(keep.size()),
                 pass.data(),
                 static_cast<int>(pass.size())};
  const pid_t pid = clone_exec_child(args);
  if (pid < 0) return errno_error(errno, "clone", l.program);

  out_w.reset();
  err_w.reset();
  in_r.reset();
  report_w.reset();
  args_fd.reset();
  info_w.reset();
  block_r.reset();
  Child c;
  c.pid = pid;
  c.sandboxed = l.sandboxed;
  c.task_limit = l.task_limit;
  c.pids_current = l.cgroup_current;
  c.pids_events = l.cgroup_events;
  c.pidfd = Fd(pidfd_open(pid));
  int child_report[2] = {0, 0};
  ssize_t got;
  do got = ::read(report_r.get(), child_report, sizeof child_report);
  while (got < 0 && errno == EINTR);
  const auto end_it = [&] {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  if (got == sizeof child_report) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    switch (child_report[0]) {
      case kStepChdir:
        return errno_error(child_report[1], "chdir", l.cwd);
      case kStepSetup:
        return errno_error(child_report[1], "set up the child of", l.program);
      default:
        return errno_error(child_report[1], "exec", l.program);
    }
  }
  if (!c.pidfd.valid()) {
    // No pidfd (kernel < 5.3): nothing to wait on safely; end it.
    const int e = errno;
    end_it();
    return make_error(error_code::kIoError, "pidfd_open failed: " + std::string(std::strerror(e)) +
                                                "; icotes needs Linux 5.3 or later to run commands");
  }
  if (l.task_limit != TaskLimit::None) {
    // bwrap made the sandbox's namespaces and pid 1, which waits on
    // --block-fd before it starts the command: the limit is in place before
    // anything of the command runs. The cgroup is joined from here, while
    // bwrap sets the sandbox up: moving a process waits for an RCU grace
    // period (milliseconds), which the child joining it before its exec
    // added to every run. RLIMIT_NPROC is counted per user namespace and
    // user; the sandbox's user namespace is new, so the count is this run's
    // tasks, pid 1 included.
    const int sandbox_pid = read_sandbox_pid(info_r.get(), milliseconds(10000));
    if (sandbox_pid < 0) {
      end_it();
      return make_error(error_code::kRequestFailed,
                        "the sandbox did not start within 10 s (bwrap reported no process on --info-fd)");
    }
    if (sandbox_pid > 0) {
      const rlim_t n = static_cast<rlim_t>(l.limits.max_processes) + 1;
      const struct rlimit r { n, n };
      const std::string pid_text = std::to_string(sandbox_pid);
      int e = 0;
      if (l.task_limit == TaskLimit::Cgroup)
        e = write_fully(l.cgroup_procs, pid_text);
      else if (::prlimit(sandbox_pid, RLIMIT_NPROC, &r, nullptr) != 0)
        e = errno;
      if (e != 0 && e != ESRCH) {  // ESRCH: it is gone already, bwrap says why
        end_it();
        return make_error(error_code::kRequestFailed,
                          l.task_limit == TaskLimit::Cgroup
                              ? "cannot limit the sandbox's processes: moving its pid 1 into its pids cgroup failed: " +
                                    std::string(std::strerror(e))
                              : "cannot limit the sandbox's processes: prlimit(RLIMIT_NPROC) on its pid 1 failed: " +
                                    std::string(std::strerror(e)) + " (a setuid bwrap is not supported)");
      }
    }
    // bwrap that ended without a pid 1 has said why on stderr: supervise() tells.
    (void)write_no_sigpipe(block_w.get(), "1", 1);
    block_w.reset();
  }
  for (int fd : {out_r.get(), err_r.get(), in_w.get()})
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  c.out = std::move(out_r);
  c.err = std::move(err_r);
  c.in = std::move(in_w);
  return c;
}

// The run's poll loop (output, stdin, pidfd, timeouts, cancel, watchdog, kill grace) around one shared state; steps
// would pass it all.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Outcome supervise(Child& child, const Spec& spec, const Limits& limits, const Control& control) {
  const auto start = Clock::now();
  Capture captures[2] = {Capture(spec.max_output_bytes), Capture(spec.max_output_bytes)};
  Streamer streamer(control.sink);
  std::uint64_t total = 0;
  std::size_t stdin_written = 0;
  const std::string_view stdin_data = spec.stdin_data ? std::string_view(*spec.stdin_data) : std::string_view();

  std::optional<Ending> reason;  // why we are killing it
  bool exited = false;
  Clock::time_point exited_at{}, kill_at{}, last_output = start, last_watchdog = start;
  bool hard_killed = false;
  int checks_at_limit = 0;  // watchdog checks in a row that found the limit reached
  const auto deadline = spec.timeout.count() > 0 ? start + spec.timeout : Clock::time_point::max();

  const auto signal_all = [&](int sig) {
    if (child.sandboxed && sig == SIGTERM) {
      // The command and what it started, not bwrap: bwrap's death would
      // SIGKILL the whole PID namespace at once, without the grace.
      for (const auto& [pid, depth] : descendants(child.pid, 4096))
        if (depth >= 2) ::kill(pid, sig);
      return;
    }
    // The process group; in the sandbox, bwrap's: its death takes the PID
    // namespace and everything in it. The child is not reaped before this,
    // so its pid (the group id) cannot have been reused.
    ::kill(-child.pid, sig);
  };
  const auto begin_kill = [&](Ending why, Clock::time_point now) {
    if (reason) return;
    reason = why;
    if (why == Ending::ProcessLimit) {
      signal_all(SIGKILL);
      hard_killed = true;
      return;
    }
    signal_all(SIGTERM);
    kill_at = now + kKillGrace;
  };

  char buf[65536];
  // At most 1 MiB per stream and wake-up: a writer faster than this reader
  // (`yes`) must not keep the loop from its timeouts and cancellation.
  const auto drain = [&](Fd& fd, int stream) {
    for (int reads = 0; fd.valid() && reads < 16; ++reads) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        fd.reset();
        return;
      }
      const std::string_view bytes(buf, static_cast<std::size_t>(n));
      captures[stream - 1].add(bytes);
      total += bytes.size();
      last_output = Clock::now();
      if (control.on_bytes) control.on_bytes(stream, bytes);
      streamer.add(stream, bytes, total);
    }
  };

  for (;;) {
    auto now = Clock::now();
    if (!reason) {
      if (control.cancel && control.cancel->cancelled())
        begin_kill(Ending::Cancelled, now);
      else if (control.kill_requested && control.kill_requested->load())
        begin_kill(Ending::Killed, now);
      else if (now >= deadline)
        begin_kill(Ending::Timeout, now);
      else if (spec.idle_timeout.count() > 0 && now >= last_output + spec.idle_timeout)
        begin_kill(Ending::IdleTimeout, now);
      else if (child.sandboxed && !exited && now >= last_watchdog + kWatchdogEvery) {
        last_watchdog = now;
        // The kernel refuses a task past the limit (a cgroup or RLIMIT_NPROC):
        // a refusal the cgroup counted ends the run, and so does the limit
        // held at two checks in a row, where the command has met the
        // refusal (a fork bomb that only retries). Without a kernel limit
        // the count is the bound, and reaching it ends the run at once.
        const bool at_limit = sandbox_tasks(child, limits.max_processes) >= limits.max_processes;
        if (refused_forks(child) > 0 || (at_limit && (checks_at_limit > 0 || child.task_limit == TaskLimit::None)))
          begin_kill(Ending::ProcessLimit, now);
        checks_at_limit = at_limit ? checks_at_limit + 1 : 0;
      }
    }
    if (reason && !hard_killed && now >= kill_at) {
      signal_all(SIGKILL);
      hard_killed = true;
    }
    const bool pipes_open = child.out.valid() || child.err.valid();
    if (exited && (!pipes_open || now >= exited_at + kDrainGrace)) break;

    pollfd fds[4];
    int n = 0;
    const int out_i = child.out.valid() ? n++ : -1;
    if (out_i >= 0) fds[out_i] = {child.out.get(), POLLIN, 0};
    const int err_i = child.err.valid() ? n++ : -1;
    if (err_i >= 0) fds[err_i] = {child.err.get(), POLLIN, 0};
    const int pid_i = !exited ? n++ : -1;
    if (pid_i >= 0) fds[pid_i] = {child.pidfd.get(), POLLIN, 0};
    const int in_i = child.in.valid() ? n++ : -1;
    if (in_i >= 0) fds[in_i] = {child.in.get(), POLLOUT, 0};

    milliseconds wait = kTick;
    const auto until = [&](Clock::time_point t) {
      if (t == Clock::time_point::max()) return;
      wait = std::min(wait, std::max(milliseconds(0), std::chrono::ceil<milliseconds>(t - now)));
    };
    if (!reason) {
      until(deadline);
      if (spec.idle_timeout.count() > 0) until(last_output + spec.idle_timeout);
      if (child.sandboxed) until(last_watchdog + kWatchdogEvery);
    } else if (!hard_killed) {
      until(kill_at);
    }
    if (exited) until(exited_at + kDrainGrace);
    wait = std::min(wait, streamer.due(now));
    const int ready = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) break;
    now = Clock::now();
    if (out_i >= 0 && fds[out_i].revents) drain(child.out, 1);
    if (err_i >= 0 && fds[err_i].revents) drain(child.err, 2);
    if (in_i >= 0 && fds[in_i].revents) {
      if (fds[in_i].revents & (POLLERR | POLLHUP)) {
        child.in.reset();  // the child closed stdin: the rest is not wanted
      } else {
        const ssize_t w =
            write_no_sigpipe(child.in.get(), stdin_data.data() + stdin_written, stdin_data.size() - stdin_written);
        if (w > 0) stdin_written += static_cast<std::size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_written == stdin_data.size()) child.in.reset();
      }
    }
    if (pid_i >= 0 && fds[pid_i].revents) {
      // Noticed, not reaped: the zombie keeps the group id from reuse.
      siginfo_t info{};
      if (::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED | WNOWAIT | WNOHANG) == 0 &&
          info.si_pid != 0) {
        exited = true;
        exited_at = now;
      }
    }
    streamer.flush(now, false);
  }
  // What it left behind goes with it.
  ::kill(-child.pid, SIGKILL);
  child.in.reset();
  child.out.reset();
  child.err.reset();
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED) < 0 && errno == EINTR) {
  }
  streamer.flush(Clock::now(), true);

  Outcome o;
  o.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  o.sandboxed = child.sandboxed;
  o.pid = child.pid;
  o.out = captures[0].finish();
  o.err = captures[1].finish();
  if (info.si_code == CLD_EXITED)
    o.exit_code = info.si_status;
  else
    o.signal = info.si_status;
  // In the sandbox the kernel tells bwrap's end: a command killed by signal
  // N shows as exit code 128 + N (bwrap's own convention, as a shell's).
  const std::string how = o.exit_code ? "exit code " + std::to_string(*o.exit_code) : exec::signal_name(*o.signal);
  if (!reason) {
    o.ending = o.exit_code ? Ending::Exited : Ending::Signaled;
    o.note = o.exit_code
                 ? (*o.exit_code == 0 ? "exited with code 0" : "exited with code " + std::to_string(*o.exit_code))
                 : "killed by " + how;
    // It ended on its own before the watchdog looked: say why its forks failed.
    if (const std::uint64_t refused = refused_forks(child); refused > 0)
      o.note += "; the kernel refused " + std::to_string(refused) + " fork" + (refused == 1 ? "" : "s") +
                " past the limit of " + std::to_string(limits.max_processes) +
                " processes and threads (max_processes under [exec] in .icotes/config.toml)";
    return o;
  }
  o.ending = *reason;
  const std::string killed =
      hard_killed && *reason != Ending::ProcessLimit
          ? "SIGTERM to its processes, then SIGKILL after 2 s"
          : (*reason == Ending::ProcessLimit ? "SIGKILL to all its processes" : "SIGTERM to its processes");
  switch (*reason) {
    case Ending::Timeout:
      o.note = "killed after the " + std::to_string(spec.timeout.count()) + " ms timeout (" + killed +
               "; it ended with " + how + "); raise timeoutMs or run it with background: true";
      break;
    case Ending::IdleTimeout:
      o.note = "killed after " + std::to_string(spec.idle_timeout.count()) + " ms without output (idleTimeoutMs; " +
               killed + "; it ended with " + how + ")";
      break;
    case Ending::ProcessLimit:
      o.note = "killed: it reached " + std::to_string(limits.max_processes) +
               " processes and threads at once, the limit (max_processes under [exec] in .icotes/config.toml; " +
               (child.task_limit == TaskLimit::None ? std::string("counted every 20 ms")
                                                    : std::string("the kernel refused more")) +
               "; " + killed + ")";
      break;
    case Ending::Cancelled:
      o.note = "cancelled by the client (" + killed + ")";
      break;
    case Ending::Killed:
      o.note = "killed on request (" + killed + "; it ended with " + how + ")";
      break;
    default:
      break;
  }
  return o;
}

}  // namespace icotes::exec::detail

namespace icotes::exec {

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace icotes::exec
