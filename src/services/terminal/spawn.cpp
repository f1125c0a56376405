// Starting a terminal's program on a PTY and signalling its session; see
// spawn.hpp.
#include "spawn.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string_view>
#include <utility>

extern char** environ;

namespace icotes::terminal::detail {
namespace {

// Process ids whose session is `sid`, by their process group, from /proc.
std::set<pid_t> session_groups(pid_t sid) {
  std::set<pid_t> groups;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return groups;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string stat;
    std::getline(f, stat);
    // pid (comm) state ppid pgrp session ...: comm may hold spaces and ')'.
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0, pgrp = 0, session = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) != 4) continue;
    if (session == sid && state != 'Z') groups.insert(static_cast<pid_t>(pgrp));
  }
  ::closedir(dir);
  return groups;
}

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

std::vector<std::string> pty_environment(const std::string& pwd, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    const std::size_t eq = kv.find('=');
    if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  env["TERM"] = "xterm-256color";
  env["PWD"] = pwd;
  env.erase("COLUMNS");  // the PTY's size is the truth, not the server's terminal
  env.erase("LINES");
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> env_s;
  env_s.reserve(env.size());
  for (const auto& [k, v] : env) {
    std::string& kv = env_s.emplace_back(k);
    kv += '=';
    kv += v;
  }
  return env_s;
}

Result<PtyProcess> spawn_on_pty(const std::string& program, std::vector<std::string> argv_s,
                                std::vector<std::string> env_s, int dir_fd, int cols, int rows) {
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  Fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid() || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0)
    return make_error(error_code::kIoError, std::string("terminal_create: cannot open a PTY: ") + std::strerror(errno));
  char slave_name[128];
  if (::ptsname_r(master.get(), slave_name, sizeof slave_name) != 0)
    return make_error(error_code::kIoError, std::string("terminal_create: ptsname: ") + std::strerror(errno));
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  ::ioctl(master.get(), TIOCSWINSZ, &ws);
  termios tio{};
  if (::tcgetattr(master.get(), &tio) == 0) {
    tio.c_iflag |= IUTF8;  // backspace erases a whole UTF-8 character
    ::tcsetattr(master.get(), TCSANOW, &tio);
  }

  // posix_spawn (clone + exec, no copy of this multi-threaded process):
  // setsid, then opening the slave without O_NOCTTY makes it the controlling
  // terminal; signal dispositions and mask back to defaults (the server
  // ignores SIGPIPE).
  SpawnSetup setup;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawn_file_actions_addopen(&setup.actions, 0, slave_name, O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, 0, 1);
  posix_spawn_file_actions_adddup2(&setup.actions, 0, 2);
  posix_spawn_file_actions_addfchdir_np(&setup.actions, dir_fd);
  pid_t pid = 0;
  if (const int err = ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
      err != 0) {
    const int code = err == ENOENT ? error_code::kNotFound : error_code::kRequestFailed;
    return make_error(code, "terminal_create: cannot run '" + program + "': " + std::strerror(err) +
                                (err == ENOENT ? " (give an absolute path or a program on PATH)" : ""));
  }
  ::fcntl(master.get(), F_SETFL, ::fcntl(master.get(), F_GETFL) | O_NONBLOCK);
  return PtyProcess{std::move(master), pid};
}

void signal_session(pid_t sid, int sig) {
  if (sid <= 0) return;  // kill(-0) would signal our own process group
  ::kill(-sid, sig);
  for (pid_t group : session_groups(sid)) {
    if (group != sid) ::kill(-group, sig);
  }
}

}  // namespace icotes::terminal::detail
