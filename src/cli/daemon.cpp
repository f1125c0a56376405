// `icotes daemon list | stop | restart`: what each daemon serves, since
// when, its clients; a graceful stop (its attached clients are told, and
// their launchers answer what is left: README "If the shared daemon
// dies"); a stop and a fresh start.
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "icotes/daemon.hpp"
#include "icotes/log.hpp"

namespace icotes::cli {
namespace {

// "2026-12-06 19:40:02 (3 min ago)" for ms since the epoch.
std::string local_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  const auto ago =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() - t;
  const std::string rel = ago < 60     ? std::to_string(std::max<std::int64_t>(ago, 0)) + " s ago"
                          : ago < 3600 ? std::to_string(ago / 60) + " min ago"
                          : ago < 86400
                              ? std::to_string(ago / 3600) + " h " + std::to_string(ago % 3600 / 60) + " min ago"
                              : std::to_string(ago / 86400) + " days ago";
  return std::string(buf) + " (" + rel + ")";
}

// The process at the other end of a Unix socket (SO_PEERCRED).
ucred peer_of(int fd) {
  ucred c{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
  socklen_t len = sizeof c;
  (void)::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len);
  return c;
}

// A daemon's client that is this process itself (the connection asking).
bool is_this_listing(const json& client) {
  return client.value("transport", "") == "unix socket" && client.value("pid", 0) == ::getpid();
}

// The sockets `icotes daemon` acts on: --root's daemon; every daemon
// (--all, or listing); else the daemon of the nearest directory at or
// above the current one that has one.
std::vector<std::string> daemon_targets(const std::string& root_option, bool all) {
  std::error_code ec;
  if (!root_option.empty()) {
    auto a = daemon_address(std::filesystem::weakly_canonical(root_option, ec).string());
    return a ? std::vector<std::string>{a->socket_path} : std::vector<std::string>{};
  }
  if (all) return all_daemon_sockets();
  for (auto dir = std::filesystem::current_path(ec);; dir = dir.parent_path()) {
    if (auto a = daemon_address(dir.string()); a && std::filesystem::exists(a->socket_path, ec))
      return {a->socket_path};
    if (dir == dir.parent_path() || dir.empty()) break;
  }
  return {};
}

// Each live daemon's status (its clients without this listing), or an
// error entry for one that does not answer the status request.
json list_statuses(const std::vector<std::string>& targets) {
  json out = json::array();
  for (const auto& socket : targets) {
    auto answer = call_daemon(socket, "icotes/daemon/status", json::object());
    if (!answer) continue;  // stale: the next launch replaces it
    Result<json>& st = *answer;
    if (!st) {
      out.push_back({{"socket", socket}, {"error", st.error().message}});
      continue;
    }
    json clients = json::array();
    for (auto& c : (*st)["clients"])
      if (!is_this_listing(c)) clients.push_back(c);
    (*st)["clients"] = std::move(clients);
    out.push_back(std::move(*st));
  }
  return out;
}

void print_status(const json& d) {
  if (d.contains("error")) {
    std::printf("%s\n  does not answer `icotes daemon list` (%s; an older icotes?)\n",
                d["socket"].get<std::string>().c_str(), d["error"].get<std::string>().c_str());
    return;
  }
  std::printf("%s\n", d.value("root", "?").c_str());
  const json idle = d.value("idleTimeoutMs", json());
  std::printf("  pid %d, icotes %s, since %s; %s\n", d.value("pid", 0), d.value("version", "?").c_str(),
              local_time(d.value("since", std::int64_t{0})).c_str(),
              idle.is_number() ? ("exits " + std::to_string(idle.get<long>()) + " ms after its last client").c_str()
                               : "runs until stopped");
  std::printf("  log     %s\n  socket  %s\n", d.value("log", "?").c_str(), d.value("socket", "?").c_str());
  for (const auto& door : d.value("doors", json::array()))
    std::printf("  door    %s\n", door.get<std::string>().c_str());
  const json& clients = d["clients"];
  if (clients.empty()) std::printf("  no client\n");
  for (const auto& c : clients) {
    std::string name = c.value("name", "");
    if (name.empty()) name = "(unnamed)";
    std::printf("  client  %s, %s over %s, since %s%s%s\n", name.c_str(),
                c.value("dialect", "").empty() ? "silent so far" : c.value("dialect", "").c_str(),
                c.value("transport", "?").c_str(), local_time(c.value("since", std::int64_t{0})).c_str(),
                c.contains("pid") ? (", pid " + std::to_string(c.value("pid", 0))).c_str() : "",
                c.contains("permissionMode") ? (", permission mode " + c.value("permissionMode", "")).c_str() : "");
  }
}

int list(const std::vector<std::string>& targets, const std::string& where, bool as_json) {
  const json out = list_statuses(targets);
  if (as_json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (out.empty()) std::printf("no icotes daemon runs%s\n", where.c_str());
  for (const auto& d : out) print_status(d);
  return 0;
}

// A daemon that was asked to stop (or signalled) as the process `peer`.
struct Stopped {
  std::string root;
  ucred peer;
  std::vector<std::string> argv;  // its command line, for a restart
};

// Stops the daemon at `socket` and waits for it to exit. Nullopt when none
// runs there (stale); false (message printed) when it cannot be stopped.
std::optional<bool> stop(const std::string& socket, const std::string& action, Stopped& stopped) {
  auto answer = call_daemon(socket, "icotes/daemon/status", json::object());
  if (!answer) return std::nullopt;  // stale
  Result<json>& status = *answer;
  auto fd = connect_unix(socket);
  if (!fd) return std::nullopt;
  const ucred peer = peer_of(*fd);
  stopped = {status ? status->value("root", std::string("?")) : socket, peer, {}};
  {
    std::ifstream f("/proc/" + std::to_string(peer.pid) + "/cmdline", std::ios::binary);
    for (std::string arg; std::getline(f, arg, '\0');) stopped.argv.push_back(arg);
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, peer.pid, 0));
  const auto r = call_on(*fd, "icotes/daemon/stop", json::object());
  ::close(*fd);
  // An icotes without `icotes daemon stop`: a signal does the same.
  if (r && !*r && (peer.uid != ::geteuid() || peer.pid <= 0 || ::kill(peer.pid, SIGTERM) != 0)) {
    std::fprintf(stderr, "icotes daemon %s: cannot stop the daemon at %s\n", action.c_str(), socket.c_str());
    if (pidfd >= 0) ::close(pidfd);
    return false;
  }
  pollfd p{pidfd, POLLIN, 0};
  const bool gone = pidfd < 0 || ::poll(&p, 1, 15000) > 0;
  if (pidfd >= 0) ::close(pidfd);
  if (!gone) {
    std::fprintf(stderr, "icotes daemon %s: the daemon serving %s (pid %d) did not exit within 15 s\n", action.c_str(),
                 stopped.root.c_str(), peer.pid);
    return false;
  }
  std::size_t clients = 0;
  if (status)
    for (const auto& c : (*status)["clients"]) clients += !is_this_listing(c);
  std::printf("icotes daemon: stopped the daemon serving %s (pid %d)%s\n", stopped.root.c_str(), peer.pid,
              clients ? ("; its " + std::to_string(clients) + " client(s) were told").c_str() : "");
  return true;
}

// A fresh daemon for what `stopped` served: the same settings, this executable.
bool restart(Stopped stopped) {
  std::error_code ec;
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (stopped.argv.size() < 2 || stopped.argv[1] != "serve")
    stopped.argv = {exe, "serve", "--daemon", "--root", stopped.root};
  stopped.argv[0] = exe;
  auto address = daemon_address(stopped.root);
  auto started = address ? attach_daemon(*address, stopped.argv) : Result<int>(std::move(address).error());
  if (!started) {
    std::fprintf(stderr, "icotes daemon restart: %s\n", started.error().message.c_str());
    return false;
  }
  std::printf("icotes daemon: started a new daemon for %s (pid %d)\n", stopped.root.c_str(), peer_of(*started).pid);
  ::close(*started);
  return true;
}

}  // namespace

int daemon_cli(const std::string& action, const std::string& root_option, bool all, bool as_json) {
  setup_logging("warn", "");
  const auto targets = daemon_targets(root_option, all || action == "list");
  const std::string where =
      root_option.empty()
          ? (all || action == "list" ? std::string("")
                                     : " for " + std::filesystem::current_path().string() + " or a folder above")
          : " for " + root_option;
  if (action == "list") return list(targets, where, as_json);
  const Error none =
      make_error(error_code::kNotFound, "no icotes daemon runs" + where + " (icotes daemon list shows them)");
  if (targets.empty()) die(none, 1, "icotes daemon " + action);
  int rc = 0;
  std::size_t found = 0;
  for (const auto& socket : targets) {
    Stopped stopped;
    const auto done = stop(socket, action, stopped);
    if (!done) continue;
    ++found;
    if (!*done || (action == "restart" && !restart(std::move(stopped)))) rc = 1;
  }
  if (found == 0) die(none, 1, "icotes daemon " + action);
  return rc;
}

}  // namespace icotes::cli
