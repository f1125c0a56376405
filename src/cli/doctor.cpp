// `icotes doctor`: what this installation finds and what it misses, each
// missing thing with its fix: the git, http and providers modules, bubblewrap and
// unprivileged user namespaces (sandboxed commands), inotify's watch limit,
// the runtime directory (daemon sockets, tokens), the configuration files
// read for --root, and the daemon serving --root.
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "icotes/daemon.hpp"
#include "icotes/module_loader.hpp"
#include "icotes/state_dir.hpp"
#include "icotes/tcp.hpp"

namespace icotes::cli {
namespace {

enum class Verdict { kOk, kInfo, kWarn, kMissing };

struct Finding {
  Verdict verdict;
  std::string what, detail, fix;
};

void print(const Finding& f) {
  static const char* const kTag[] = {"ok", "info", "warn", "MISSING"};
  std::printf("%-8s %-18s %s\n", kTag[static_cast<int>(f.verdict)], f.what.c_str(), f.detail.c_str());
  if (!f.fix.empty())
    std::printf("%-8s %-18s %s %s\n", "", "", f.verdict == Verdict::kInfo ? "note:" : "fix:", f.fix.c_str());
}

Finding module_finding(const std::string& what, const std::string& file, const char* env_var, const char* symbol) {
  std::string path;
  for (const auto& p : module_candidates(file, env_var))
    if (::access(p.c_str(), R_OK) == 0) {
      path = p;
      break;
    }
  auto loaded = load_module_symbol(what, file, env_var, symbol);
  if (loaded) return {Verdict::kOk, what + " module", path + " (loads)", ""};
  return {Verdict::kMissing, what + " module", loaded.error().message,
          "reinstall icotes (its modules belong in " + std::string("<prefix>/lib/.../icotes/ beside bin/icotes") +
              "), or set " + env_var + " to the module's path"};
}

// Runs argv with stdin from /dev/null and stdout+stderr captured (at most
// 4 KiB kept); returns the exit status (-1: could not run) and the output.
std::pair<int, std::string> run(const std::vector<std::string>& argv) {
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {-1, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return {-1, "fork failed"};
  }
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buf[1024];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
    if (out.size() < 4096) out.append(buf, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Where else bwrap is on PATH (for the fix when ICOTES_BWRAP points elsewhere).
std::string bwrap_on_path() {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::string p = path;
  for (std::size_t start = 0; start <= p.size();) {
    const std::size_t end = std::min(p.find(':', start), p.size());
    std::string candidate = p.substr(start, end - start) + "/bwrap";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

void sandbox_findings(std::vector<Finding>& out) {
  const char* env = std::getenv("ICOTES_BWRAP");
  const std::string bwrap = env && *env ? env : "/usr/bin/bwrap";
  const std::string from = env && *env ? " ($ICOTES_BWRAP)" : "";
  if (::access(bwrap.c_str(), X_OK) != 0) {
    const std::string elsewhere = bwrap_on_path();
    out.push_back({Verdict::kMissing, "bubblewrap", bwrap + from + " is not there: run_command and run_code cannot run",
                   elsewhere.empty() ? "apt install bubblewrap (or set ICOTES_BWRAP to bwrap's path)"
                                     : "set ICOTES_BWRAP=" + elsewhere + " (the bwrap found on PATH)"});
    return;
  }
  out.push_back({Verdict::kOk, "bubblewrap", bwrap + from, ""});
  auto [status, text] = run({bwrap, "--ro-bind", "/", "/", "true"});
  if (status == 0) {
    out.push_back({Verdict::kOk, "user namespaces", "`bwrap --ro-bind / / true` runs", ""});
    return;
  }
  out.push_back({Verdict::kMissing, "user namespaces",
                 "`bwrap --ro-bind / / true` failed (status " + std::to_string(status) + "): " + text,
                 "allow unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1 and "
                 "user.max_user_namespaces > 0 (Ubuntu 24.04: kernel.apparmor_restrict_unprivileged_userns=0); "
                 "or set `sandbox = false` under [exec] in .icotes/config.toml (run_code still needs the sandbox)"});
}

Finding inotify_finding() {
  std::ifstream in("/proc/sys/fs/inotify/max_user_watches");
  long watches = -1;
  if (!(in >> watches))
    return {Verdict::kWarn, "inotify", "/proc/sys/fs/inotify/max_user_watches unreadable",
            "file watching may be unavailable; icotes then notices external changes later"};
  const std::string detail = "max_user_watches = " + std::to_string(watches) + " (one per watched directory)";
  if (watches < 65536)
    return {Verdict::kWarn, "inotify", detail,
            "for large trees: echo fs.inotify.max_user_watches=524288 | sudo tee /etc/sysctl.d/60-inotify.conf && "
            "sudo sysctl --system"};
  return {Verdict::kOk, "inotify", detail, ""};
}

Finding runtime_finding() {
  auto dir = runtime_dir();
  if (!dir)
    return {Verdict::kMissing, "runtime dir", dir.error().message,
            "set XDG_RUNTIME_DIR to a directory of yours with mode 0700 (daemon sockets and tokens go there)"};
  if (::access(dir->c_str(), W_OK | X_OK) != 0)
    return {Verdict::kMissing, "runtime dir", *dir + " is not writable",
            "fix its owner and mode (0700), or set "
            "XDG_RUNTIME_DIR"};
  return {Verdict::kOk, "runtime dir", *dir + " (daemon sockets, tokens)", ""};
}

void config_findings(const std::string& root, std::vector<Finding>& out) {
  std::error_code ec;
  const std::string config = root + "/.icotes/config.toml";
  if (std::filesystem::exists(config, ec))
    out.push_back({Verdict::kOk, "workspace config", config + " (read)", ""});
  else
    out.push_back({Verdict::kInfo, "workspace config", config + " absent: defaults apply",
                   "[permissions], [exec] and [mcp] settings go there (README)"});
  const std::string global = state_dir() + "/permissions.sqlite";
  out.push_back({Verdict::kInfo, "user grants",
                 global + (std::filesystem::exists(global, ec) ? " (read: grants for every workspace)" : " absent"),
                 ""});
}

Finding daemon_finding(const std::string& root) {
  auto address = daemon_address(root);
  if (!address) return {Verdict::kInfo, "daemon", address.error().message, ""};
  auto answer = call_daemon(address->socket_path, "icotes/daemon/status", json::object());
  if (!answer) return {Verdict::kInfo, "daemon", "none runs for " + root + " (the first `icotes serve` starts it)", ""};
  if (!*answer)
    return {Verdict::kWarn, "daemon", address->socket_path + " does not answer: " + answer->error().message,
            "icotes daemon restart --root " + root};
  const json& st = **answer;
  std::size_t clients = 0;
  for (const auto& c : st.value("clients", json::array()))
    if (!(c.value("transport", "") == "unix socket" && c.value("pid", 0) == ::getpid())) ++clients;
  return {Verdict::kOk, "daemon",
          "pid " + std::to_string(st.value("pid", 0)) + ", icotes " + st.value("version", "?") + ", " +
              std::to_string(clients) + " client(s), log " + st.value("log", "?"),
          ""};
}

}  // namespace

int doctor_cli(const std::string& root_option) {
  std::error_code ec;
  const std::string root = std::filesystem::weakly_canonical(root_option.empty() ? "." : root_option, ec).string();
  std::vector<Finding> findings;
  findings.push_back(module_finding("git", "icotes-git.so", "ICOTES_GIT_MODULE", "icotes_git_module"));
  findings.push_back(module_finding("http", "icotes-http.so", "ICOTES_HTTP_MODULE", "icotes_http_module"));
  findings.push_back(
      module_finding("providers", "icotes-providers.so", "ICOTES_PROVIDERS_MODULE", "icotes_providers_module"));
  sandbox_findings(findings);
  findings.push_back(inotify_finding());
  findings.push_back(runtime_finding());
  config_findings(root, findings);
  findings.push_back(daemon_finding(root));
  std::printf("icotes %s, workspace %s\n", ICOTES_VERSION, root.c_str());
  int missing = 0;
  for (const auto& f : findings) {
    print(f);
    if (f.verdict == Verdict::kMissing) ++missing;
  }
  std::printf(missing ? "%d thing(s) missing\n" : "nothing missing\n", missing);
  return missing ? 1 : 0;
}

}  // namespace icotes::cli

namespace icotes::cli {

CLI::App* add_doctor_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("doctor",
                                 "Check this installation: modules, bubblewrap and user namespaces, inotify "
                                 "limits, runtime directory, configuration read, the workspace's daemon; "
                                 "each missing thing with its fix. Exit status 1 when something needed is "
                                 "missing");
  auto root = std::make_shared<std::string>();
  cmd->add_option("--root", *root, "Workspace root directory (default: the current directory)");
  // Runs as the command line is parsed: nothing is open yet, so it exits here.
  cmd->final_callback([root] {
    const int status = doctor_cli(*root);
    std::fflush(stdout);
    std::exit(status);
  });
  return cmd;
}

}  // namespace icotes::cli
