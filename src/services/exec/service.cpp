// The exec service: settings, the sandbox, runs and background jobs. See
// include/exec/icotes/exec.hpp.
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <toml++/toml.h>
#include <algorithm>
#include <cstdlib>
#include <future>

#include "exec_internal.hpp"
#include "icotes/config.hpp"
#include "icotes/ring_buffer.hpp"
#include "icotes/utf8.hpp"

namespace icotes::exec {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxRunningJobs = 16;
constexpr std::size_t kKeptFinishedJobs = 32;
constexpr std::chrono::minutes kKeepFinishedFor{30};
constexpr std::size_t kJobBufferBytes = 1 << 20;
constexpr milliseconds kJobKillWait{3500};  // the 2 s grace, reaping, slack

std::int64_t epoch_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* const kSandboxAdvice =
    "Install bubblewrap (apt install bubblewrap) and allow unprivileged user namespaces "
    "(sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; on Ubuntu 24.04 also "
    "kernel.apparmor_restrict_unprivileged_userns=0), or set `sandbox = false` under [exec] in .icotes/config.toml "
    "to run run_command unsandboxed (run_code always needs the sandbox).";

// The sandbox profile without the workspace: what the probe runs too.
std::vector<std::string> sandbox_base(const std::string& bwrap, bool network) {
  // clang-format off
  std::vector<std::string> a = {bwrap,
                                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                                "--tmpfs", "/tmp", "--tmpfs", "/run",
                                "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"};
  // clang-format on
  if (network) a.push_back("--share-net");
  return a;
}

std::string env_value(const std::vector<std::pair<std::string, std::string>>& env, const std::string& name) {
  for (auto it = env.rbegin(); it != env.rend(); ++it)
    if (it->first == name) return it->second;
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

}  // namespace

std::string_view to_string(Ending ending) {
  switch (ending) {
    case Ending::Exited:
      return "exited";
    case Ending::Signaled:
      return "signaled";
    case Ending::Timeout:
      return "timeout";
    case Ending::IdleTimeout:
      return "idleTimeout";
    case Ending::ProcessLimit:
      return "processLimit";
    case Ending::Cancelled:
      return "cancelled";
    case Ending::Killed:
      return "killed";
  }
  return "exited";
}

std::string shell_quote(std::string_view word) {
  const bool bare = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
  });
  if (bare) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out.push_back(' ');
    out += shell_quote(a);
  }
  return out;
}

std::optional<std::string> interpreter_of(std::string_view language) {
  if (language == "python") return "python3";
  if (language == "node") return "node";
  if (language == "bash") return "bash";
  return std::nullopt;
}

std::string code_command_line(std::string_view language, std::string_view code) {
  const std::string interpreter = interpreter_of(language).value_or(std::string(language));
  return interpreter + (language == "node" ? " -e " : " -c ") + shell_quote(code);
}

namespace {

// One key of the [exec] table into `s`; `where` (file:line: exec.key) starts
// the error message.
Status apply_exec_setting(Settings& s, const std::string& k, const toml::node& node, const std::string& where) {
  if (k == "sandbox" || k == "network") {
    auto b = node.value<bool>();
    if (!b) return make_error(error_code::kInvalidParams, where + " must be true or false");
    (k == "sandbox" ? s.sandbox : s.network) = *b;
    return ok_status();
  }
  auto v = node.value<std::int64_t>();
  if (k != "memory_mb" && k != "cpu_seconds" && k != "file_size_mb" && k != "max_processes")
    return make_error(
        error_code::kInvalidParams,
        where + " is not a setting (sandbox, network, memory_mb, cpu_seconds, file_size_mb, max_processes)");
  if (!v || *v < 0 || (k == "max_processes" && *v < 1)) {
    std::string message = where + " must be a non-negative integer (0: no limit)";
    if (k == "max_processes") message += ", at least 1";
    return make_error(error_code::kInvalidParams, message);
  }
  const auto n = static_cast<std::uint64_t>(*v);
  if (k == "memory_mb") s.limits.memory_bytes = n << 20;
  if (k == "cpu_seconds") s.limits.cpu_seconds = n;
  if (k == "file_size_mb") s.limits.file_size_bytes = n << 20;
  if (k == "max_processes") s.limits.max_processes = static_cast<std::uint32_t>(std::min<std::uint64_t>(n, 1 << 20));
  return ok_status();
}

}  // namespace

Result<Settings> load_settings(const std::string& path) {
  Settings s;
  auto config = read_config(path);
  if (!config) return std::move(config).error();
  if (!*config) return s;  // no file: defaults
  const toml::table* t = (**config)["exec"].as_table();
  if (!t) return s;
  for (const auto& [key, node] : *t) {
    const std::string k(key.str());
    std::string where = path;
    where += ':';
    where += std::to_string(node.source().begin.line);
    where += ": exec.";
    where += k;
    if (auto applied = apply_exec_setting(s, k, node, where); !applied) return std::move(applied).error();
  }
  return s;
}

struct Service::Job {
  std::string id;
  std::string command;
  Spec spec;
  std::int64_t started_ms = 0;
  Clock::time_point started;
  std::atomic<bool> kill_requested{false};
  std::thread thread;
  // Guarded by Service::jobs_mutex_.
  bool running = true;
  int pid = 0;
  Outcome outcome;
  Clock::time_point finished_at;
  ByteRing buffers[2]{ByteRing(kJobBufferBytes), ByteRing(kJobBufferBytes)};  // stdout, stderr

  JobInfo info() const {
    JobInfo i;
    i.id = id;
    i.command = command;
    i.running = running;
    i.started_ms = started_ms;
    if (!running) {
      i.outcome = outcome;
      i.outcome.out.text.clear();
      i.outcome.err.text.clear();
    } else {
      i.outcome.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
      i.outcome.sandboxed = spec.sandbox;
    }
    i.outcome.pid = pid;
    i.outcome.out.total_bytes = buffers[0].end();
    i.outcome.err.total_bytes = buffers[1].end();
    return i;
  }
};

Service::Service(const ConfinedRoot& root, Settings settings, bool read_only_workspace, std::string bwrap)
    : root_(root), settings_(settings), read_only_workspace_(read_only_workspace), bwrap_(std::move(bwrap)) {}

Result<std::unique_ptr<Service>> Service::open(const ConfinedRoot& root, bool read_only_workspace) {
  auto settings = load_settings(root.path() + "/.icotes/config.toml");
  if (!settings) return std::move(settings).error();
  const char* b = std::getenv("ICOTES_BWRAP");
  std::string bwrap = b && *b ? b : "/usr/bin/bwrap";
  return std::unique_ptr<Service>(new Service(root, *settings, read_only_workspace, std::move(bwrap)));
}

Service::~Service() {
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard lock(jobs_mutex_);
    for (auto& [id, job] : jobs_) {
      job->kill_requested = true;
      all.push_back(job);
    }
  }
  for (auto& job : all)
    if (job->thread.joinable()) job->thread.join();
}

Status Service::check_sandbox() {
  std::lock_guard lock(sandbox_mutex_);
  if (sandbox_ok_) return ok_status();
  detail::Launch l;
  l.program = bwrap_;
  l.argv = sandbox_base(bwrap_, false);
  l.command = {"true"};
  l.env = {"PATH=/usr/local/bin:/usr/bin:/bin"};
  l.sandboxed = true;
  l.limits = settings_.limits;
  auto child = detail::spawn(l);
  if (!child) {
    return make_error(error_code::kRequestFailed, "the sandbox cannot start: bubblewrap (" + bwrap_ +
                                                      ") could not be run (" + child.error().message + "). " +
                                                      kSandboxAdvice);
  }
  Spec probe;
  probe.timeout = milliseconds(10000);
  probe.max_output_bytes = 4096;
  const Outcome o = detail::supervise(*child, probe, settings_.limits, {});
  if (o.ending == Ending::Exited && o.exit_code == 0) {
    sandbox_ok_ = true;
    // The kernel's bound on a run's tasks: RLIMIT_NPROC does not bind root
    // (the sandbox's user maps to root outside), a pids cgroup binds anyone.
    cgroups_ = detail::PidsCgroups::find();
    nproc_rlimit_ = !cgroups_ && ::getuid() != 0;
    if (cgroups_)
      spdlog::debug("exec: sandboxed runs get a pids cgroup under {}", cgroups_->base());
    else if (!nproc_rlimit_)
      spdlog::warn(
          "exec: icotes runs as root without a writable pids cgroup (cgroup v2 with the pids controller, or v1's "
          "pids hierarchy): sandboxed commands have no kernel limit on their processes, only the 20 ms watchdog "
          "({} at most, max_processes)",
          settings_.limits.max_processes);
    return ok_status();
  }
  std::string said = o.err.text;
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  return make_error(error_code::kRequestFailed, "the sandbox does not work here: " + bwrap_ + " failed (" +
                                                    (said.empty() ? o.note : said) + "). " + kSandboxAdvice);
}

namespace {

// What spawn() needs for `spec`, or why it cannot run.
Result<detail::Launch> prepare(const Spec& spec, const ConfinedRoot& root, const Settings& settings, bool read_only,
                               const std::string& bwrap, detail::TaskLimit task_limit) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return make_error(error_code::kInvalidParams, "nothing to run: argv is empty");
  for (const auto& a : spec.argv)
    if (a.find('\0') != std::string::npos)
      return make_error(error_code::kInvalidParams, "argv: an argument holds a NUL byte");
  // Sandboxed or not: the dynamic loader of whatever runs would act on them.
  for (const auto& [name, value] : spec.env)
    if (auto st = check_client_variable(name, value); !st) return std::move(st).error();
  struct stat st {};
  if (::stat(spec.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(error_code::kNotFound, "cwd " + spec.cwd + " is not a directory in the workspace");
  detail::Launch l;
  l.env = detail::child_environment(spec.env);
  l.with_stdin = spec.stdin_data.has_value();
  const std::string path_var = env_value(spec.env, "PATH");
  auto program =
      detail::find_program(spec.argv[0], path_var.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_var, spec.cwd);
  if (!program) {
    return make_error(error_code::kNotFound,
                      "'" + spec.argv[0] + "' was not found" +
                          (spec.argv[0].find('/') != std::string::npos ? " (or is not an executable file)"
                                                                       : " in PATH (" + path_var + ")") +
                          "; give its full path, install it, or run through `command` for a shell builtin",
                      json{{"program", spec.argv[0]}});
  }
  if (!spec.sandbox) {
    l.program = *program;
    l.argv = spec.argv;
    l.cwd = spec.cwd;
    return l;
  }
  auto binds = detail::workspace_binds(root, read_only);
  if (!binds) return std::move(binds).error();
  l.program = bwrap;
  l.sandboxed = true;
  l.limits = settings.limits;
  l.task_limit = task_limit;
  l.argv = sandbox_base(bwrap, spec.network);
  l.argv.insert(l.argv.end(), binds->args.begin(), binds->args.end());
  l.hold = std::move(binds->hold);
  for (const auto& b : spec.ro_binds) l.argv.insert(l.argv.end(), {"--ro-bind", b, b});
  l.argv.insert(l.argv.end(), {"--chdir", spec.cwd});
  l.command = spec.argv;
  return l;
}

detail::TaskLimit task_limit_of(const detail::PidsCgroups* cgroups, bool nproc_rlimit) {
  return cgroups ? detail::TaskLimit::Cgroup : nproc_rlimit ? detail::TaskLimit::Rlimit : detail::TaskLimit::None;
}

// The run's own pids cgroup when runs get one (null otherwise), set in `launch`.
Result<std::unique_ptr<detail::PidsCgroups::Run>> run_cgroup(detail::PidsCgroups* cgroups, detail::Launch& launch) {
  if (launch.task_limit != detail::TaskLimit::Cgroup || !cgroups) return std::unique_ptr<detail::PidsCgroups::Run>();
  // The sandbox's pid 1 is one of its tasks.
  auto run = cgroups->create(std::uint64_t{launch.limits.max_processes} + 1);
  if (!run) return std::move(run).error();
  launch.cgroup_procs = (*run)->procs.get();
  launch.cgroup_current = (*run)->current.get();
  launch.cgroup_events = (*run)->events.get();
  return run;
}

}  // namespace

Result<Outcome> Service::run(const Spec& spec, const CancellationToken& cancel, const OutputSink& sink) {
  if (spec.sandbox)
    if (auto st = check_sandbox(); !st) return std::move(st).error();
  const auto started = Clock::now();
  auto launch =
      prepare(spec, root_, settings_, read_only_workspace_, bwrap_, task_limit_of(cgroups_.get(), nproc_rlimit_));
  if (!launch) return std::move(launch).error();
  auto cgroup = run_cgroup(cgroups_.get(), *launch);
  if (!cgroup) return std::move(cgroup).error();
  auto child = detail::spawn(*launch);
  if (!child) return std::move(child).error();
  detail::Control control;
  control.cancel = &cancel;
  control.sink = sink;
  Outcome o = detail::supervise(*child, spec, settings_.limits, control);
  o.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);  // the spawn included
  if (o.ending == Ending::Cancelled)
    return make_error(error_code::kRequestCancelled, "cancelled; its processes were killed (" + o.note + ")");
  return o;
}

// Finished: their threads are returning.
void Service::join_finished(std::vector<std::shared_ptr<Job>>& jobs) {
  for (auto& j : jobs)
    if (j->thread.joinable()) j->thread.join();
}

std::vector<std::shared_ptr<Service::Job>> Service::prune_locked() {
  std::vector<std::shared_ptr<Job>> finished;
  for (auto& [id, job] : jobs_)
    if (!job->running) finished.push_back(job);
  std::sort(finished.begin(), finished.end(),
            [](const auto& a, const auto& b) { return a->finished_at > b->finished_at; });
  std::vector<std::shared_ptr<Job>> removed;
  const auto now = Clock::now();
  for (std::size_t i = 0; i < finished.size(); ++i) {
    if (i < kKeptFinishedJobs && now - finished[i]->finished_at < kKeepFinishedFor) continue;
    jobs_.erase(finished[i]->id);
    removed.push_back(finished[i]);
  }
  return removed;
}

Result<JobInfo> Service::start(Spec spec, std::string command) {
  if (spec.sandbox)
    if (auto st = check_sandbox(); !st) return std::move(st).error();
  auto launch =
      prepare(spec, root_, settings_, read_only_workspace_, bwrap_, task_limit_of(cgroups_.get(), nproc_rlimit_));
  if (!launch) return std::move(launch).error();
  auto job = std::make_shared<Job>();
  std::vector<std::shared_ptr<Job>> removed;
  {
    std::lock_guard lock(jobs_mutex_);
    removed = prune_locked();
    const auto running = std::count_if(jobs_.begin(), jobs_.end(), [](const auto& j) { return j.second->running; });
    if (static_cast<std::size_t>(running) >= kMaxRunningJobs)
      return make_error(
          error_code::kRequestFailed,
          std::to_string(kMaxRunningJobs) + " background jobs are running already; end one with job_kill first");
    job->id = "job-" + std::to_string(next_job_++);
    jobs_.emplace(job->id, job);
  }
  join_finished(removed);
  job->command = std::move(command);
  job->spec = std::move(spec);
  job->started_ms = epoch_ms();
  job->started = Clock::now();
  std::promise<Result<int>> spawned;
  auto spawned_future = spawned.get_future();
  // The job's thread spawns: PR_SET_PDEATHSIG follows the spawning thread,
  // and this one lives as long as the child.
  job->thread = std::thread([this, job, launch = std::move(*launch), spawned = std::move(spawned)]() mutable {
    auto cgroup = run_cgroup(cgroups_.get(), launch);
    if (!cgroup) {
      spawned.set_value(cgroup.error());
      return;
    }
    auto child = detail::spawn(launch);
    if (!child) {
      spawned.set_value(child.error());
      return;
    }
    {
      std::lock_guard lock(jobs_mutex_);
      job->pid = child->pid;
    }
    spawned.set_value(child->pid);
    detail::Control control;
    control.kill_requested = &job->kill_requested;
    control.on_bytes = [this, job](int stream, std::string_view bytes) {
      std::lock_guard lock(jobs_mutex_);
      job->buffers[stream - 1].append(bytes);
      jobs_changed_.notify_all();
    };
    Spec captured = job->spec;
    captured.max_output_bytes = 2;  // the buffers above keep the output
    Outcome o = detail::supervise(*child, captured, settings_.limits, control);
    std::lock_guard lock(jobs_mutex_);
    job->outcome = std::move(o);
    job->running = false;
    job->finished_at = Clock::now();
    jobs_changed_.notify_all();
  });
  auto pid = spawned_future.get();
  if (!pid) {
    job->thread.join();
    std::lock_guard lock(jobs_mutex_);
    jobs_.erase(job->id);
    return std::move(pid).error();
  }
  std::lock_guard lock(jobs_mutex_);
  return job->info();
}

Result<JobOutput> Service::output(std::string_view id, std::uint64_t out_offset, std::uint64_t err_offset,
                                  std::size_t max_bytes, milliseconds wait) {
  std::unique_lock lock(jobs_mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end())
    return make_error(error_code::kNotFound,
                      "no job '" + std::string(id) + "' (job_list shows the jobs; finished ones are kept 30 minutes)");
  std::shared_ptr<Job> job = it->second;
  const auto end_of = [&](int s) { return job->buffers[s].end(); };
  if (wait.count() > 0)
    jobs_changed_.wait_for(lock, wait,
                           [&] { return !job->running || end_of(0) > out_offset || end_of(1) > err_offset; });
  JobOutput r;
  r.info = job->info();
  const auto chunk = [&](int s, std::uint64_t offset) {
    const auto& b = job->buffers[s];
    JobChunk c;
    offset = std::min(offset, end_of(s));
    const std::uint64_t from = std::max(offset, b.start());
    c.dropped_bytes = from - offset;
    const std::uint64_t to = from + std::min<std::uint64_t>(b.end() - from, max_bytes);
    std::string piece = b.copy(from, to);
    // Whole characters, unless one alone is longer than max_bytes.
    if (to < b.end()) {
      const std::size_t whole = utf8_complete_prefix(piece);
      if (whole > 0) piece.resize(whole);
    }
    c.offset = from;
    c.next_offset = from + piece.size();
    c.text = repair_utf8(piece);
    return c;
  };
  r.out = chunk(0, out_offset);
  r.err = chunk(1, err_offset);
  return r;
}

Result<JobInfo> Service::kill(std::string_view id) {
  std::unique_lock lock(jobs_mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end())
    return make_error(error_code::kNotFound, "no job '" + std::string(id) + "' (job_list shows the jobs)");
  std::shared_ptr<Job> job = it->second;
  job->kill_requested = true;
  jobs_changed_.wait_for(lock, kJobKillWait, [&] { return !job->running; });
  return job->info();
}

std::vector<JobInfo> Service::list() {
  std::vector<std::shared_ptr<Job>> removed;
  std::vector<JobInfo> out;
  {
    std::lock_guard lock(jobs_mutex_);
    removed = prune_locked();
    for (const auto& [id, job] : jobs_) out.push_back(job->info());
  }
  join_finished(removed);
  std::sort(out.begin(), out.end(), [](const JobInfo& a, const JobInfo& b) { return a.started_ms < b.started_ms; });
  return out;
}

}  // namespace icotes::exec
