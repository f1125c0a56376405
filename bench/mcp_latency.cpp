// icotes_bench_mcp: a small MCP client that measures a stdio MCP server.
//
//   icotes_bench_mcp --name icotes --root DIR --small F --large F --info F --list D [options] -- CMD ARGS...
//
// It spawns CMD with pipes on stdin/stdout, does the MCP initialize handshake
// (newline-delimited JSON, MCP "stdio" transport), looks up the server's tool
// names and their arguments in tools/list, then sends requests one at a time
// and times each round trip: write the request line, read until the newline
// that ends the reply. The client's own cost is kept small: requests are
// pre-built strings, replies are not parsed (the id and error markers are
// looked up near the line's ends; see reply_ok), and the only system calls per
// round trip are one write, one poll and the reads the reply needs.
//
// Results go to stdout as one JSON object: p50/p99/mean per scenario,
// start-up time (spawn to initialize reply, median of --spawns fresh
// processes), idle RSS, and whether each read returned the file byte for byte.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server_process.hpp"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kProtocolVersion = "2025-06-18";
constexpr int kReplyTimeoutMs = 30000;  // one reply; the whole run is bounded by iterations x this

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "icotes_bench_mcp: %s\n", message.c_str());
  std::exit(1);
}

double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

// One server process with its stdin/stdout on pipes.
using Server = bench::ServerProcess;

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// True when `line` is the reply to request `id` and is neither a JSON-RPC
// error nor a tool error. A key such as "id": can only appear unescaped
// outside string values (inside a string every quote is \"), and servers put
// "id" either first (after "jsonrpc") or last, and "isError" last, so looking
// at the first and last 160 bytes is enough and keeps a 1 MB reply cheap.
enum class Reply { Ok, Error, Other };
Reply classify(std::string_view line, std::string_view id_key /* "\"id\":7" */) {
  if (!bench::reply_has_id(line, id_key, 160)) return Reply::Other;
  const std::string_view head = line.substr(0, 160);
  const std::string_view tail = line.size() > 160 ? line.substr(line.size() - 160) : line;
  if (contains(head, "\"error\":{") || contains(tail, "\"isError\":true")) return Reply::Error;
  return Reply::Ok;
}

// A request whose id is filled in per call: prefix + id + suffix.
struct Template {
  std::string prefix;  // {"jsonrpc":"2.0","id":
  std::string suffix;  // ,"method":...}\n
  std::string line;
  std::string id_key;

  Template(const std::string& method, const json& params) {
    prefix = "{\"jsonrpc\":\"2.0\",\"id\":";
    suffix = ",\"method\":" + json(method).dump();
    if (!params.is_null()) suffix += ",\"params\":" + params.dump();
    suffix += "}\n";
  }
  std::string_view with_id(long id) {
    char num[24];
    const int n = std::snprintf(num, sizeof num, "%ld", id);
    line.assign(prefix).append(num, static_cast<std::size_t>(n)).append(suffix);
    id_key.assign("\"id\":").append(num, static_cast<std::size_t>(n));
    return line;
  }
};

class Client {
 public:
  explicit Client(Server& server) : server_(server) {}

  // One round trip; returns the reply line (valid until the next call).
  std::string_view call(Template& t, Reply* kind = nullptr) {
    const long id = ++next_id_;
    server_.send(t.with_id(id));
    for (;;) {
      const std::string_view line = server_.read_line();
      const Reply r = classify(line, t.id_key);
      if (r == Reply::Other) continue;  // a notification or a log line: skip it
      if (kind) *kind = r;
      return line;
    }
  }

  json call_parsed(const std::string& method, const json& params) {
    Template t(method, params);
    const std::string_view line = call(t);
    json reply = json::parse(line);
    if (reply.contains("error")) die(method + " failed: " + reply["error"].dump());
    return reply["result"];
  }

  void notify(const std::string& method) {
    server_.send("{\"jsonrpc\":\"2.0\",\"method\":" + json(method).dump() + "}\n");
  }

 private:
  Server& server_;
  long next_id_ = 0;
};

json initialize_params() {
  return {{"protocolVersion", kProtocolVersion},
          {"capabilities", json::object()},
          {"clientInfo", {{"name", "icotes_bench_mcp"}, {"version", "1"}}}};
}

struct Stats {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, mean = 0, min = 0, max = 0;
};

Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double q) {
    const std::size_t i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  s.n = v.size();
  s.p50 = pct(0.50);
  s.p99 = pct(0.99);
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.min = v.front();
  s.max = v.back();
  return s;
}

json stats_json(const Stats& s) {
  auto r = [](double x) { return std::round(x * 10.0) / 10.0; };
  return {{"n", s.n},           {"p50_us", r(s.p50)}, {"p99_us", r(s.p99)}, {"mean_us", r(s.mean)},
          {"min_us", r(s.min)}, {"max_us", r(s.max)}};
}

long rss_kb(pid_t pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
  }
  return -1;
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) die("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Options {
  std::string name = "server";
  std::string root;
  std::string small, large, info, list;
  int iters = 2000;
  int iters_large = 300;
  int warmup = 200;
  int warmup_large = 30;
  int spawns = 20;
  int idle_ms = 1000;
  std::string dump_dir;
  std::string stderr_path = "/dev/null";
  std::string only;   // comma-separated scenario names (profiling); empty: all
  bool echo = false;  // the command echoes lines (cat): measure the pipe floor only
  std::vector<std::string> argv;
};

// Tools this server offers for each scenario, with the arguments it needs.
struct Tools {
  std::string read, info, list;
  json read_extra = json::object();
};

Tools discover_tools(Client& client) {
  json tools = json::array();
  json params = json::object();
  for (int page = 0; page < 50; ++page) {
    json r = client.call_parsed("tools/list", params);
    for (auto& t : r["tools"]) tools.push_back(t);
    if (!r.contains("nextCursor") || r["nextCursor"].is_null()) break;
    params["cursor"] = r["nextCursor"];
  }
  auto find = [&](std::initializer_list<const char*> names) -> const json* {
    for (const char* n : names) {
      for (const auto& t : tools) {
        if (t.value("name", "") == n) return &t;
      }
    }
    return nullptr;
  };
  Tools out;
  // The whole file as text: server-filesystem's read_text_file (read_file is
  // its deprecated alias); icotes' read_file, with paging limits lifted.
  const json* read = find({"read_text_file", "read_file"});
  const json* info = find({"get_file_info"});
  const json* list = find({"list_directory"});
  if (!read || !info || !list) die("tools/list lacks read_text_file/read_file, get_file_info or list_directory");
  out.read = (*read)["name"];
  out.info = (*info)["name"];
  out.list = (*list)["name"];
  const json props = read->value("inputSchema", json::object()).value("properties", json::object());
  if (props.contains("limit")) out.read_extra["limit"] = 1000000;
  if (props.contains("maxBytes")) out.read_extra["maxBytes"] = 100000000;
  return out;
}

// The text of the first content item of a tools/call result.
std::string first_text(std::string_view line) {
  json reply = json::parse(line);
  const json& c = reply.at("result").at("content");
  return c.at(0).at("text").get<std::string>();
}

json run_scenario(Client& client, Template& t, int warmup, int iters, std::size_t* bytes) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iters));
  Reply kind = Reply::Ok;
  for (int i = 0; i < warmup; ++i) {
    client.call(t, &kind);
    if (kind != Reply::Ok) die("a warm-up request failed");
  }
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    const std::string_view line = client.call(t, &kind);
    us.push_back(us_since(t0));
    if (kind != Reply::Ok) die("request failed: " + std::string(line.substr(0, 300)));
    if (bytes) *bytes = line.size() + 1;
  }
  return stats_json(stats_of(std::move(us)));
}

json measure_startup(const Options& o) {
  std::vector<double> ms;
  const std::string init =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":" + initialize_params().dump() + "}\n";
  for (int i = 0; i < o.spawns; ++i) {
    const auto t0 = Clock::now();
    Server s(o.argv, o.stderr_path, kReplyTimeoutMs);
    s.send(init);
    for (;;) {
      const std::string_view line = s.read_line();
      const Reply r = classify(line, "\"id\":1");
      if (r == Reply::Other) continue;
      if (r == Reply::Error) die("initialize failed: " + std::string(line));
      break;
    }
    ms.push_back(us_since(t0) / 1000.0);
    s.stop();
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto r = [](double x) { return std::round(x * 100.0) / 100.0; };
  return {{"n", ms.size()},
          {"median_ms", r(sorted[sorted.size() / 2])},
          {"min_ms", r(sorted.front())},
          {"max_ms", r(sorted.back())}};
}

int run_echo(const Options& o) {
  // The command echoes each line back (cat): the floor of a pipe round trip
  // with this client's own costs included.
  Server s(o.argv, o.stderr_path, kReplyTimeoutMs);
  Client c(s);
  Template ping("ping", nullptr);
  json out = {{"server", o.name}, {"command", o.argv}};
  out["scenarios"]["ping"] = run_scenario(c, ping, o.warmup, o.iters, nullptr);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

int run(const Options& o) {
  json out = {{"server", o.name}, {"command", o.argv}, {"protocolVersion", kProtocolVersion}};
  std::fprintf(stderr, "[%s] start-up x%d\n", o.name.c_str(), o.spawns);
  out["startup"] = measure_startup(o);

  // Idle RSS: a fresh process after initialize and a few requests, then idle.
  {
    std::fprintf(stderr, "[%s] idle RSS\n", o.name.c_str());
    Server s(o.argv, o.stderr_path, kReplyTimeoutMs);
    Client c(s);
    c.call_parsed("initialize", initialize_params());
    c.notify("notifications/initialized");
    const Tools tools = discover_tools(c);
    json args = tools.read_extra;
    args["path"] = o.small;
    c.call_parsed("tools/call", {{"name", tools.read}, {"arguments", args}});
    c.call_parsed("tools/call", {{"name", tools.info}, {"arguments", {{"path", o.small}}}});
    c.call_parsed("tools/call", {{"name", tools.list}, {"arguments", {{"path", o.list}}}});
    c.call_parsed("ping", json::object());
    std::this_thread::sleep_for(std::chrono::milliseconds(o.idle_ms));
    out["rss_idle_kb"] = rss_kb(s.pid(), "VmRSS");
    s.stop();
  }

  Server s(o.argv, o.stderr_path, kReplyTimeoutMs);
  Client c(s);
  const json init = c.call_parsed("initialize", initialize_params());
  c.notify("notifications/initialized");
  out["serverInfo"] = init.value("serverInfo", json::object());
  out["negotiatedVersion"] = init.value("protocolVersion", "");
  const Tools tools = discover_tools(c);
  out["tools"] = {
      {"read", tools.read}, {"readExtraArgs", tools.read_extra}, {"info", tools.info}, {"list", tools.list}};

  auto call_tool = [&](const std::string& tool, json args) {
    return Template("tools/call", {{"name", tool}, {"arguments", std::move(args)}});
  };
  json small_args = tools.read_extra, large_args = tools.read_extra;
  small_args["path"] = o.small;
  large_args["path"] = o.large;

  // Sanity: each read returns the whole file, byte for byte.
  json identical = json::object();
  for (const auto& [label, path] : {std::pair{"read_small", o.small}, std::pair{"read_large", o.large}}) {
    Template t = call_tool(tools.read, label == std::string("read_small") ? small_args : large_args);
    std::string text = first_text(c.call(t));
    const std::string disk = read_file_bytes(o.root + "/" + path);
    // icotes' read_file text starts with a header line (path, lines, sha256).
    if (const std::size_t nl = text.find('\n');
        text != disk && nl != std::string::npos && text.compare(nl + 1, std::string::npos, disk) == 0)
      text.erase(0, nl + 1);
    identical[label] = text == disk;
    if (!o.dump_dir.empty()) {
      std::ofstream(o.dump_dir + "/" + o.name + "." + label + ".txt", std::ios::binary) << text;
    }
    if (text != disk)
      std::fprintf(stderr, "[%s] %s: %zu bytes returned, %zu on disk: NOT identical\n", o.name.c_str(), label,
                   text.size(), disk.size());
  }
  out["identical"] = identical;

  struct Scenario {
    const char* name;
    Template t;
    int warmup, iters;
  };
  std::vector<Scenario> scenarios;
  scenarios.push_back({"ping", Template("ping", json::object()), o.warmup, o.iters});
  scenarios.push_back({"get_file_info", call_tool(tools.info, {{"path", o.info}}), o.warmup, o.iters});
  scenarios.push_back({"list_directory", call_tool(tools.list, {{"path", o.list}}), o.warmup, o.iters});
  scenarios.push_back({"read_small", call_tool(tools.read, small_args), o.warmup, o.iters});
  scenarios.push_back({"read_large", call_tool(tools.read, large_args), o.warmup_large, o.iters_large});
  for (auto& sc : scenarios) {
    if (!o.only.empty() && ("," + o.only + ",").find("," + std::string(sc.name) + ",") == std::string::npos) continue;
    std::fprintf(stderr, "[%s] %s x%d\n", o.name.c_str(), sc.name, sc.iters);
    std::size_t bytes = 0;
    json r = run_scenario(c, sc.t, sc.warmup, sc.iters, &bytes);
    r["reply_bytes"] = bytes;
    out["scenarios"][sc.name] = r;
  }
  out["rss_after_kb"] = rss_kb(s.pid(), "VmRSS");
  out["rss_peak_kb"] = rss_kb(s.pid(), "VmHWM");
  s.stop();
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: icotes_bench_mcp [--name N] --root DIR --small FILE --large FILE --info FILE --list DIR\n"
               "         [--iters N] [--iters-large N] [--warmup N] [--warmup-large N] [--spawns N] [--idle-ms MS]\n"
               "         [--dump-dir DIR] [--stderr FILE] [--only ping,get_file_info,...] -- COMMAND ARGS...\n"
               "       icotes_bench_mcp --echo [--iters N] -- cat\n"
               "Paths are relative to --root (the directory the server serves).\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  int i = 1;
  auto value = [&](const char* flag) -> std::string {
    if (i + 1 >= argc) die(std::string(flag) + " needs a value");
    return argv[++i];
  };
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) o.argv.emplace_back(argv[i]);
      break;
    }
    if (a == "--name")
      o.name = value("--name");
    else if (a == "--root")
      o.root = value("--root");
    else if (a == "--small")
      o.small = value("--small");
    else if (a == "--large")
      o.large = value("--large");
    else if (a == "--info")
      o.info = value("--info");
    else if (a == "--list")
      o.list = value("--list");
    else if (a == "--iters")
      o.iters = std::stoi(value("--iters"));
    else if (a == "--iters-large")
      o.iters_large = std::stoi(value("--iters-large"));
    else if (a == "--warmup")
      o.warmup = std::stoi(value("--warmup"));
    else if (a == "--warmup-large")
      o.warmup_large = std::stoi(value("--warmup-large"));
    else if (a == "--spawns")
      o.spawns = std::stoi(value("--spawns"));
    else if (a == "--idle-ms")
      o.idle_ms = std::stoi(value("--idle-ms"));
    else if (a == "--dump-dir")
      o.dump_dir = value("--dump-dir");
    else if (a == "--stderr")
      o.stderr_path = value("--stderr");
    else if (a == "--only")
      o.only = value("--only");
    else if (a == "--echo")
      o.echo = true;
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (o.argv.empty()) {
    usage();
    return 2;
  }
  o.iters = std::clamp(o.iters, 1, 1000000);
  o.iters_large = std::clamp(o.iters_large, 1, 1000000);
  o.spawns = std::clamp(o.spawns, 1, 1000);
  if (o.echo) return run_echo(o);
  if (o.root.empty() || o.small.empty() || o.large.empty() || o.info.empty() || o.list.empty()) {
    usage();
    return 2;
  }
  return run(o);
}
