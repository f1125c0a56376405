// Starting a terminal's program on a new pseudo-terminal (pty(7)) in a
// session of its own, and signalling that session: the process side of
// terminal.cpp's Service.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/result.hpp"

namespace icotes::terminal::detail {

// The environment ("NAME=value" strings) of a terminal's program: the
// server's, with TERM=xterm-256color, PWD=`pwd`, no COLUMNS or LINES (the
// PTY's size is the truth), and `extra` over it.
std::vector<std::string> pty_environment(const std::string& pwd, const std::map<std::string, std::string>& extra);

struct PtyProcess {
  Fd master;  // the PTY's master side, non-blocking, close-on-exec
  pid_t pid = 0;
};

// Runs `program` (PATH is searched, as posix_spawnp does) with `argv` and
// `env` in the directory `dir_fd`, as the leader of a new session whose
// controlling terminal is a new PTY of `cols` x `rows`, with signal
// dispositions and mask at their defaults. Errors: kIoError when no PTY
// can be opened, kNotFound when the program does not exist,
// kRequestFailed otherwise; messages start with "terminal_create: ".
Result<PtyProcess> spawn_on_pty(const std::string& program, std::vector<std::string> argv, std::vector<std::string> env,
                                int dir_fd, int cols, int rows);

// Sends `sig` to the process group `sid` and to every other process group of
// the session `sid` (an interactive shell puts each job in its own group).
void signal_session(pid_t sid, int sig);

}  // namespace icotes::terminal::detail
