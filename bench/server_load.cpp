// icotes_bench_server: a closed-loop load client for one MCP/JSON-RPC server
// (issue 8, "Speed"; bench/server.sh).
//
//   icotes_bench_server --transport tcp|http|stdio [--mode mcp|native] --clients N
//       --requests R [--warmup W] --path small.txt --expect FILE
//       [--port P --token-file F] [-- COMMAND ARGS...]   (stdio: one process per client)
//   icotes_bench_server --startup N -- COMMAND ARGS...   (spawn → ping reply, N times)
//
// N threads, each with its own connection (TCP socket, keep-alive HTTP/1.1
// connection, or a server process on pipes), handshake first, then R reads
// back to back; each round trip (request written → whole reply read) is
// timed. The client's own cost stays small, as in bench/mcp_latency.cpp:
// requests are pre-built strings, replies are not parsed, only searched for
// the file's text (every reply: a reply without it counts as an error).
// Prints one JSON object: rps (all timed requests / wall time from the first
// timed request to the last reply), p50/p99/mean in µs, errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server_process.hpp"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kProtocolVersion = "2025-06-18";
constexpr int kTimeoutMs = 30000;  // one reply; the run is bounded by requests x this

[[noreturn]] void die(const std::string& message) { bench::fail("icotes_bench_server: " + message); }

// A byte stream to the server: a socket, or a process's pipes.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void send(std::string_view bytes) = 0;
  // Appends what is available (waiting for at least one byte) to `buf`.
  virtual void receive(std::string& buf) = 0;
};

class SocketStream : public Stream {
 public:
  explicit SocketStream(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) die("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      die("connect to port " + std::to_string(port) + ": " + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{kTimeoutMs / 1000, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~SocketStream() override { ::close(fd_); }
  void send(std::string_view b) override {
    while (!b.empty()) {
      const ssize_t n = ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL);
      if (n <= 0) die(std::string("send: ") + std::strerror(errno));
      b.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void receive(std::string& buf) override {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) die(n == 0 ? "server closed the connection" : std::string("recv: ") + std::strerror(errno));
    buf.append(tmp, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
};

class ProcessStream : public Stream {
 public:
  explicit ProcessStream(const std::vector<std::string>& argv) : p_(argv, "/dev/null", kTimeoutMs) {}
  void send(std::string_view b) override { p_.send(b); }
  void receive(std::string& buf) override {
    const std::string_view line = p_.read_line();
    buf.append(line).push_back('\n');
  }

 private:
  bench::ServerProcess p_;
};

// One JSON-RPC peer over a stream: newline-delimited lines, or HTTP POSTs.
class Conn {
 public:
  Conn(std::unique_ptr<Stream> s, bool http, int port, std::string token)
      : s_(std::move(s)), http_(http), port_(port), token_(std::move(token)) {}

  // Sends one message; returns the reply body (a JSON line; empty for 202).
  std::string_view call(std::string_view body) {
    if (!http_) {
      s_->send(body);
      return read_line();
    }
    req_.assign("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:").append(std::to_string(port_));
    req_.append("\r\nContent-Type: application/json\r\nAccept: application/json\r\nAuthorization: Bearer ")
        .append(token_);
    if (!session_.empty()) req_.append("\r\nMcp-Session-Id: ").append(session_);
    req_.append("\r\nContent-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    s_->send(req_);
    return read_http();
  }

 private:
  // Skips lines that answer nothing we sent (notifications, logs).
  std::string_view read_line() {
    for (;;) {
      const std::size_t nl = buf_.find('\n', pos_);
      if (nl == std::string::npos) {
        buf_.erase(0, pos_);
        pos_ = 0;
        s_->receive(buf_);
        continue;
      }
      const std::string_view line(buf_.data() + pos_, nl - pos_);
      pos_ = nl + 1;
      if (line.find("\"id\":") != std::string_view::npos) return line;
    }
  }

  std::string_view read_http() {
    buf_.erase(0, pos_);
    pos_ = 0;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) s_->receive(buf_);
    head_.assign(buf_, 0, end + 2);
    for (auto& c : head_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (head_.find("transfer-encoding: chunked") != std::string::npos) die("chunked reply (expected Content-Length)");
    std::size_t len = 0;
    if (const auto p = head_.find("\r\ncontent-length:"); p != std::string::npos)
      len = std::strtoul(head_.c_str() + p + 17, nullptr, 10);
    if (const auto p = head_.find("\r\nmcp-session-id:"); p != std::string::npos) {
      std::size_t v = p + 17;
      while (buf_[v] == ' ') ++v;
      session_.assign(buf_, v, buf_.find("\r\n", v) - v);  // the original case
    }
    const std::size_t body = end + 4;
    while (buf_.size() < body + len) s_->receive(buf_);
    pos_ = body + len;
    if (head_.compare(9, 1, "2") != 0) die("HTTP " + buf_.substr(0, buf_.find("\r\n")) + ": " + buf_.substr(body, len));
    return {buf_.data() + body, len};
  }

  std::unique_ptr<Stream> s_;
  bool http_;
  int port_;
  std::string token_, session_, req_, buf_, head_;
  std::size_t pos_ = 0;
};

struct Options {
  std::string transport = "tcp", mode = "mcp", path, expect_file, token_file, token, expect;
  int port = 0, clients = 1, requests = 2000, warmup = 100, startup = 0;
  std::vector<std::string> argv;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) die("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string rpc(long id, const std::string& method, const json& params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump() + "\n";
}

bool has_error(std::string_view r) {
  return r.find("\"error\":{") != std::string_view::npos || r.find("\"isError\":true") != std::string_view::npos;
}

// Opens the connection and does the handshake; returns the read tool's name.
std::unique_ptr<Conn> open_conn(const Options& o, std::string* read_tool) {
  const bool http = o.transport == "http";
  std::unique_ptr<Stream> s;
  if (o.transport == "stdio")
    s = std::make_unique<ProcessStream>(o.argv);
  else
    s = std::make_unique<SocketStream>(o.port);
  auto c = std::make_unique<Conn>(std::move(s), http, o.port, o.token);
  if (o.transport == "tcp") {
    const std::string_view r = c->call(rpc(1, "icotes/authenticate", {{"token", o.token}}));
    if (r.find("\"authenticated\":true") == std::string_view::npos) die("authenticate: " + std::string(r));
  }
  if (o.mode == "native") return c;
  const json init = {{"protocolVersion", kProtocolVersion},
                     {"capabilities", json::object()},
                     {"clientInfo", {{"name", "icotes_bench_server"}, {"version", "1"}}}};
  if (const std::string_view r = c->call(rpc(2, "initialize", init)); has_error(r))
    die("initialize: " + std::string(r));
  const std::string note = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
  const std::string list_req = rpc(3, "tools/list", json::object());
  // HTTP answers the notification alone (202); a line transport has no reply
  // for it, so it goes out with tools/list.
  if (http) c->call(note);
  const json list = json::parse(c->call(http ? list_req : note + list_req));
  for (const auto& t : list["result"]["tools"]) {
    const std::string n = t.value("name", "");
    if (n == "read_text_file" || (n == "read_file" && read_tool->empty())) *read_tool = n;
  }
  if (read_tool->empty()) die("tools/list has neither read_text_file nor read_file");
  return c;
}

double pct(const std::vector<double>& v, double q) {
  return v.empty() ? 0
                   : v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

int run_load(const Options& o) {
  const std::size_t n = static_cast<std::size_t>(o.clients);
  std::vector<std::vector<double>> lat(n);
  std::vector<long> errors(n, 0);
  std::vector<Clock::time_point> start(n), stop(n);
  std::barrier sync(static_cast<std::ptrdiff_t>(n));
  std::string tool_seen;
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < n; ++k) {
    threads.emplace_back([&, k] {
      std::string tool;
      auto c = open_conn(o, &tool);
      if (k == 0) tool_seen = tool;
      const json args = {{"path", o.path}};
      const std::string req = o.mode == "native" ? rpc(10, "icotes/files/read", args)
                                                 : rpc(10, "tools/call", {{"name", tool}, {"arguments", args}});
      // The file's text as it appears escaped in a JSON string.
      const std::string text = json(o.expect).dump();
      const std::string_view needle = std::string_view(text).substr(1, std::min<std::size_t>(text.size() - 2, 64));
      for (int i = 0; i < o.warmup; ++i) {
        if (c->call(req).find(needle) == std::string_view::npos) ++errors[k];
      }
      lat[k].reserve(static_cast<std::size_t>(o.requests));
      sync.arrive_and_wait();  // every client connected and warm: start together
      start[k] = Clock::now();
      for (int i = 0; i < o.requests; ++i) {
        const auto t0 = Clock::now();
        const std::string_view r = c->call(req);
        lat[k].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (r.find(needle) == std::string_view::npos || has_error(r)) ++errors[k];
      }
      stop[k] = Clock::now();
      sync.arrive_and_wait();  // connections stay open until all are done
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  const auto t0 = *std::min_element(start.begin(), start.end());
  const auto t1 = *std::max_element(stop.begin(), stop.end());
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  auto r1 = [](double x) { return std::round(x * 10.0) / 10.0; };
  const json out = {{"transport", o.transport},
                    {"mode", o.mode},
                    {"tool", o.mode == "native" ? "icotes/files/read" : tool_seen},
                    {"clients", o.clients},
                    {"requests", all.size()},
                    {"seconds", secs},
                    {"rps", std::round(static_cast<double>(all.size()) / secs)},
                    {"p50_us", r1(pct(all, 0.5))},
                    {"p99_us", r1(pct(all, 0.99))},
                    {"mean_us", r1(std::accumulate(all.begin(), all.end(), 0.0) /
                                   static_cast<double>(std::max<std::size_t>(1, all.size())))},
                    {"max_us", r1(all.empty() ? 0 : all.back())},
                    {"errors", std::accumulate(errors.begin(), errors.end(), 0L)}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// Spawn → first reply to a ping, in ms, `o.startup` times (median, min, max).
int run_startup(const Options& o) {
  std::vector<double> ms;
  for (int i = 0; i < o.startup; ++i) {
    const auto t0 = Clock::now();
    bench::ServerProcess p(o.argv, "/dev/null", kTimeoutMs);
    p.send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
    const std::string_view r = p.read_line();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (has_error(r)) die("ping: " + std::string(r));
    p.stop();
  }
  std::vector<double> s = ms;
  std::sort(s.begin(), s.end());
  auto r2 = [](double x) { return std::round(x * 100.0) / 100.0; };
  std::printf("%s\n", json{{"n", s.size()},
                           {"median_ms", r2(s[s.size() / 2])},
                           {"min_ms", r2(s.front())},
                           {"max_ms", r2(s.back())},
                           {"all_ms", ms}}
                          .dump()
                          .c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) die(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      o.argv.assign(argv + i + 1, argv + argc);
      break;
    }
    if (a == "--transport")
      o.transport = value(i);
    else if (a == "--mode")
      o.mode = value(i);
    else if (a == "--clients")
      o.clients = std::clamp(std::stoi(value(i)), 1, 1024);
    else if (a == "--requests")
      o.requests = std::clamp(std::stoi(value(i)), 1, 10000000);
    else if (a == "--warmup")
      o.warmup = std::clamp(std::stoi(value(i)), 0, 1000000);
    else if (a == "--path")
      o.path = value(i);
    else if (a == "--expect")
      o.expect_file = value(i);
    else if (a == "--port")
      o.port = std::stoi(value(i));
    else if (a == "--token-file")
      o.token_file = value(i);
    else if (a == "--startup")
      o.startup = std::clamp(std::stoi(value(i)), 1, 1000);
    else
      die("unknown argument " + a + " (see the comment at the top of bench/server_load.cpp)");
  }
  if (o.startup > 0) return o.argv.empty() ? 2 : run_startup(o);
  if (o.path.empty() || o.expect_file.empty()) die("--path and --expect are required");
  if (o.transport == "stdio" ? o.argv.empty() : (o.port == 0 || o.token_file.empty()))
    die("stdio needs -- COMMAND; tcp/http need --port and --token-file");
  o.expect = read_all(o.expect_file);
  if (!o.token_file.empty()) {
    o.token = read_all(o.token_file);
    while (!o.token.empty() && std::isspace(static_cast<unsigned char>(o.token.back()))) o.token.pop_back();
  }
  return run_load(o);
}
