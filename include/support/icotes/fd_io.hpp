#pragma once
// Writing a whole buffer to a file descriptor: write(2) and send(2) may
// write less than asked (pipes, sockets, PTYs) or be interrupted by a
// signal (EINTR); these loop until every byte is written or one call fails.
// Both are async-signal-safe (only write/send and errno): a forked child may
// call them before exec.
#include <string_view>

namespace icotes {

/// Writes all of `data` (bytes) to `fd` with write(2), retrying after EINTR
/// and short writes. Returns 0 when every byte is written, else the errno of
/// the call that failed: EPIPE (the reader is gone; SIGPIPE is raised unless
/// ignored or blocked), EAGAIN (a non-blocking fd is full), EBADF, ...
/// A write(2) that returns 0 for a non-empty buffer counts as EIO.
[[nodiscard]] int write_fully(int fd, std::string_view data) noexcept;

/// The same for a socket with send(2) and MSG_NOSIGNAL: a peer that closed
/// the connection gives EPIPE, never SIGPIPE (send(2), socket(7)).
[[nodiscard]] int send_fully(int socket, std::string_view data) noexcept;

}  // namespace icotes
