// The benchmark clients' child process: a server spawned with its stdin and
// stdout on pipes, spoken to one JSON line at a time (bench/mcp_latency.cpp,
// bench/search_client.cpp). Errors end the benchmark with a message.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bench {

/// True when the first or last `edge` bytes of `line` hold `id_key`
/// ("\"id\":7") followed by ',' or '}': the line is the reply to that id.
/// Servers put "id" first or last, and an unescaped key cannot occur inside
/// a string value, so a 1 MB reply is classified without parsing it.
inline bool reply_has_id(std::string_view line, std::string_view id_key, std::size_t edge) {
  auto has = [&](std::string_view part) {
    for (std::size_t p = part.find(id_key); p != std::string_view::npos; p = part.find(id_key, p + 1)) {
      const std::size_t after = p + id_key.size();
      if (after < part.size() && (part[after] == ',' || part[after] == '}')) return true;
    }
    return false;
  };
  return has(line.substr(0, edge)) || has(line.size() > edge ? line.substr(line.size() - edge) : line);
}

[[noreturn]] inline void fail(const std::string& message) {
  std::fprintf(stderr, "bench: %s\n", message.c_str());
  std::exit(1);
}

class ServerProcess {
 public:
  /// Starts argv[0] (PATH lookup) with argv; its stderr is appended to
  /// `stderr_path` when not empty. Each reply must come within `reply_timeout_ms`.
  ServerProcess(const std::vector<std::string>& argv, const std::string& stderr_path, int reply_timeout_ms)
      : reply_timeout_ms_(reply_timeout_ms) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) fail("pipe2 failed");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) fail("fork failed");
    if (pid_ == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      if (!stderr_path.empty()) {
        const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (err >= 0) ::dup2(err, STDERR_FILENO);
      }
      ::execvp(args[0], args.data());
      std::_Exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
    buf_.resize(1 << 22);  // grows for bigger replies
  }

  ~ServerProcess() { stop(); }

  pid_t pid() const { return pid_; }

  void send(std::string_view line) {
    while (!line.empty()) {
      const ssize_t n = ::write(to_, line.data(), line.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("write to the server failed: " + std::string(std::strerror(errno)));
      }
      line.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // The next whole line from the server (without '\n'); valid until the next call.
  std::string_view read_line() {
    if (consumed_ > 0) {  // drop the previous line
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
      const int r = ::poll(&pfd, 1, reply_timeout_ms_);
      if (r == 0) fail("timed out waiting for a reply");
      if (r < 0) {
        if (errno == EINTR) continue;
        fail("poll failed");
      }
      const ssize_t n = ::read(from_, buf_.data() + have_, buf_.size() - have_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("the server closed its stdout");
      have_ += static_cast<std::size_t>(n);
    }
  }

  // Closes stdin, waits up to 2 s for the exit, then kills.
  void stop() {
    if (pid_ <= 0) return;
    if (to_ >= 0) ::close(to_);
    to_ = -1;
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
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
  int reply_timeout_ms_;
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string buf_;
  std::size_t have_ = 0;
  std::size_t consumed_ = 0;
  std::size_t scanned_ = 0;
};

}  // namespace bench
