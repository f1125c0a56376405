// icotes_bench_search: times icotes/search/* requests through the real protocol.
//
//   icotes_bench_search --scenarios FILE [--iters N] [--warmup N] [--dump-dir D] -- icotes serve --root DIR
//
// Spawns the server once with pipes on stdin/stdout and speaks plain JSON-RPC
// (one request per line, icotes/<service>/<verb> methods). FILE is a JSON
// array of {"name", "method", "params"}. For each scenario it resets the
// server's peak RSS (writing 5 to /proc/PID/clear_refs), sends the request
// --warmup times untimed, then --iters times timed (write the request line →
// read the reply line), and reads VmHWM afterwards. Replies are not parsed
// while timing; the last reply of each scenario is written to D/NAME.json for
// the caller to check against ripgrep. Results: one JSON object on stdout.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server_process.hpp"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr int kReplyTimeoutMs = 120000;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "icotes_bench_search: %s\n", message.c_str());
  std::exit(1);
}

using Server = bench::ServerProcess;

long status_kb(pid_t pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
  }
  return -1;
}

// Resets VmHWM to the current RSS (proc(5): clear_refs, value 5).
bool reset_peak(pid_t pid) {
  std::ofstream f("/proc/" + std::to_string(pid) + "/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// The reply to request `id`: {"jsonrpc":"2.0","id":N,...} or with the id last.
bool is_reply(std::string_view line, const std::string& id_key) { return bench::reply_has_id(line, id_key, 64); }

}  // namespace

int main(int argc, char** argv) {
  std::string scenarios_path, dump_dir, cancel_scenario;
  int cancel_after_ms = 200;
  int iters = 5, warmup = 1;
  std::vector<std::string> cmd;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--scenarios")
      scenarios_path = next();
    else if (a == "--cancel-scenario")
      cancel_scenario = next();
    else if (a == "--cancel-after-ms")
      cancel_after_ms = std::stoi(next());
    else if (a == "--iters")
      iters = std::stoi(next());
    else if (a == "--warmup")
      warmup = std::stoi(next());
    else if (a == "--dump-dir")
      dump_dir = next();
    else if (a == "--") {
      for (++i; i < argc; ++i) cmd.emplace_back(argv[i]);
    } else
      die("unknown argument " + a);
  }
  if (scenarios_path.empty() || cmd.empty())
    die("usage: --scenarios FILE [--iters N] [--warmup N] [--dump-dir D] [--cancel-scenario NAME [--cancel-after-ms "
        "MS]] -- CMD...");
  std::ifstream sf(scenarios_path);
  if (!sf) die("cannot read " + scenarios_path);
  const json scenarios = json::parse(sf);

  Server server(cmd, "", kReplyTimeoutMs);
  long id = 0;
  json out = json::object();
  // A first ping: the server is up and has chosen the plain dialect.
  server.send("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}\n");
  while (!is_reply(server.read_line(), "\"id\":0")) {
  }
  out["rss_idle_kb"] = status_kb(server.pid(), "VmRSS");
  json results = json::object();
  for (const auto& sc : scenarios) {
    const std::string name = sc.at("name");
    const std::string body =
        ",\"method\":" + json(sc.at("method")).dump() + ",\"params\":" + sc.at("params").dump() + "}\n";
    const bool reset_ok = reset_peak(server.pid());
    std::vector<double> ms;
    std::string last;
    std::size_t bytes = 0;
    for (int i = 0; i < warmup + iters; ++i) {
      ++id;
      const std::string key = "\"id\":" + std::to_string(id);
      const std::string line = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + body;
      const auto t0 = Clock::now();
      server.send(line);
      std::string_view reply;
      do {
        reply = server.read_line();
      } while (!is_reply(reply, key));
      const double t = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (reply.substr(0, 80).find("\"error\":{") != std::string_view::npos)
        die(name + ": " + std::string(reply.substr(0, 400)));
      if (i >= warmup) ms.push_back(t);
      if (i + 1 == warmup + iters) {
        last.assign(reply);
        bytes = reply.size() + 1;
      }
    }
    const long hwm = status_kb(server.pid(), "VmHWM");
    if (!dump_dir.empty()) std::ofstream(dump_dir + "/" + name + ".json") << last << "\n";
    results[name] = {{"ms", ms}, {"hwm_kb", hwm}, {"hwm_reset", reset_ok}, {"reply_bytes", bytes}};
  }
  // Cancellation latency (issue 4: stop within 50 ms): start the named
  // scenario, send $/cancelRequest after `cancel_after_ms`, time cancel → reply.
  if (!cancel_scenario.empty()) {
    json cancel_ms = json::array();
    for (const auto& sc : scenarios) {
      if (sc.at("name") != cancel_scenario) continue;
      const std::string body =
          ",\"method\":" + json(sc.at("method")).dump() + ",\"params\":" + sc.at("params").dump() + "}\n";
      for (int i = 0; i < 5; ++i) {
        ++id;
        const std::string key = "\"id\":" + std::to_string(id);
        server.send("{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + body);
        std::this_thread::sleep_for(std::chrono::milliseconds(cancel_after_ms));
        const auto t0 = Clock::now();
        server.send("{\"jsonrpc\":\"2.0\",\"method\":\"$/cancelRequest\",\"params\":{\"id\":" + std::to_string(id) +
                    "}}\n");
        std::string_view reply;
        do {
          reply = server.read_line();
        } while (!is_reply(reply, key));
        const double t = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (reply.find("-32800") == std::string_view::npos)
          die(cancel_scenario + " finished before it was cancelled; raise its cost");
        cancel_ms.push_back(t);
      }
    }
    out["cancel"] = {{"scenario", cancel_scenario}, {"after_ms", cancel_after_ms}, {"ms", cancel_ms}};
  }
  out["hwm_total_kb"] = status_kb(server.pid(), "VmHWM");
  out["scenarios"] = std::move(results);
  server.stop();
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
