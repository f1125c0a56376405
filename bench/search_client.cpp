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

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr int kReplyTimeoutMs = 120000;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "icotes_bench_search: %s\n", message.c_str());
  std::exit(1);
}

class Server {
 public:
  explicit Server(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) die("pipe2 failed");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) die("fork failed");
    if (pid_ == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::execvp(args[0], args.data());
      std::_Exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    buf_.resize(1 << 24);
  }
  ~Server() { stop(); }
  pid_t pid() const { return pid_; }

  void send(std::string_view line) {
    while (!line.empty()) {
      const ssize_t n = ::write(to_, line.data(), line.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        die("write to the server failed");
      }
      line.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  std::string_view read_line() {
    if (consumed_ > 0) {
      std::memmove(buf_.data(), buf_.data() + consumed_, have_ - consumed_);
      have_ -= consumed_;
      consumed_ = 0;
      scanned_ = 0;
    }
    for (;;) {
      if (const void* nl = std::memchr(buf_.data() + scanned_, '\n', have_ - scanned_)) {
        const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data());
        consumed_ = end + 1;
        return std::string_view(buf_.data(), end);
      }
      scanned_ = have_;
      if (have_ == buf_.size()) buf_.resize(buf_.size() * 2);
      pollfd pfd{from_, POLLIN, 0};
      const int r = ::poll(&pfd, 1, kReplyTimeoutMs);
      if (r == 0) die("timed out waiting for a reply");
      if (r < 0) {
        if (errno == EINTR) continue;
        die("poll failed");
      }
      const ssize_t n = ::read(from_, buf_.data() + have_, buf_.size() - have_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) die("the server closed its stdout");
      have_ += static_cast<std::size_t>(n);
    }
  }

  void stop() {
    if (pid_ <= 0) return;
    if (to_ >= 0) ::close(to_);
    to_ = -1;
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (from_ >= 0) ::close(from_);
    from_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
  std::size_t have_ = 0, consumed_ = 0, scanned_ = 0;
};

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
bool is_reply(std::string_view line, const std::string& id_key) {
  const std::string_view head = line.substr(0, 64);
  const std::string_view tail = line.size() > 64 ? line.substr(line.size() - 64) : line;
  auto has = [&](std::string_view part) {
    for (std::size_t p = part.find(id_key); p != std::string_view::npos; p = part.find(id_key, p + 1)) {
      const std::size_t after = p + id_key.size();
      if (after < part.size() && (part[after] == ',' || part[after] == '}')) return true;
    }
    return false;
  };
  return has(head) || has(tail);
}

}  // namespace

int main(int argc, char** argv) {
  std::string scenarios_path, dump_dir;
  int iters = 5, warmup = 1;
  std::vector<std::string> cmd;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--scenarios") scenarios_path = next();
    else if (a == "--iters") iters = std::stoi(next());
    else if (a == "--warmup") warmup = std::stoi(next());
    else if (a == "--dump-dir") dump_dir = next();
    else if (a == "--") {
      for (++i; i < argc; ++i) cmd.emplace_back(argv[i]);
    } else die("unknown argument " + a);
  }
  if (scenarios_path.empty() || cmd.empty()) die("usage: --scenarios FILE [--iters N] [--warmup N] [--dump-dir D] -- CMD...");
  std::ifstream sf(scenarios_path);
  if (!sf) die("cannot read " + scenarios_path);
  const json scenarios = json::parse(sf);

  Server server(cmd);
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
    const std::string body = ",\"method\":" + json(sc.at("method")).dump() + ",\"params\":" + sc.at("params").dump() + "}\n";
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
  out["hwm_total_kb"] = status_kb(server.pid(), "VmHWM");
  out["scenarios"] = std::move(results);
  server.stop();
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
