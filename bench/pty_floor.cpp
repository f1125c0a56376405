// bench/pty_floor.cpp: what a PTY delivers on this machine to a reader that
// does nothing with the bytes: the floor under any terminal's throughput,
// icotes' included (bench/terminal_bench.mjs runs it beside icotes).
//
//   icotes_bench_pty_floor [--raw] -- PROGRAM [ARGS...]
//
// Runs PROGRAM in a new session on a fresh PTY (80x24, the kernel's default
// termios: OPOST|ONLCR, so each "\n" leaves as "\r\n" as in icotes'
// terminals), reads the master in 64 KiB reads until EIO (no process holds
// the slave), reaps the child and prints one JSON object:
//   {"bytes": N, "seconds": S, "reads": R, "exit_code": C}
// bytes: what the master delivered (after ONLCR); seconds: from before the
// fork to the reap (wall clock, CLOCK_MONOTONIC). `--raw` clears OPOST on
// the slave first (no output translation), to show what the line
// discipline's output processing costs. Sources: pty(7), termios(3).
#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  bool raw = false;
  int first = 1;
  for (; first < argc; ++first) {
    if (std::strcmp(argv[first], "--raw") == 0) {
      raw = true;
    } else if (std::strcmp(argv[first], "--") == 0) {
      ++first;
      break;
    } else {
      break;
    }
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: icotes_bench_pty_floor [--raw] -- PROGRAM [ARGS...]\n");
    return 2;
  }
  int master = -1;
  int slave = -1;
  winsize size{};
  size.ws_row = 24;
  size.ws_col = 80;
  if (::openpty(&master, &slave, nullptr, nullptr, &size) != 0) {
    std::perror("openpty");
    return 1;
  }
  if (raw) {
    termios t{};
    ::tcgetattr(slave, &t);
    t.c_oflag &= ~static_cast<tcflag_t>(OPOST);
    ::tcsetattr(slave, TCSANOW, &t);
  }
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    ::setsid();
    ::ioctl(slave, TIOCSCTTY, 0);
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    ::close(master);
    if (slave > 2) ::close(slave);
    ::execvp(argv[first], argv + first);
    _exit(127);
  }
  ::close(slave);
  std::vector<char> buf(std::size_t{64} << 10);
  long long bytes = 0;
  long long reads = 0;
  for (;;) {
    const ssize_t n = ::read(master, buf.data(), buf.size());
    if (n > 0) {
      bytes += n;
      ++reads;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EIO: the slave's last holder is gone
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"bytes\": %lld, \"seconds\": %.4f, \"reads\": %lld, \"exit_code\": %d}\n", bytes, seconds, reads,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
