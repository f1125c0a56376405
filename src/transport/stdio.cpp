#include "icotes/stdio.hpp"

#include <unistd.h>

#include <cerrno>

namespace icotes {

bool FdTransport::write(std::string_view bytes) {
  std::lock_guard lock(write_mutex_);
  if (broken_) return false;
  while (!bytes.empty()) {
    const ssize_t n = ::write(out_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      broken_ = true;  // EPIPE: the client is gone
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void FdTransport::close() {
  std::lock_guard lock(write_mutex_);
  broken_ = true;
}

void run_read_loop(int in_fd, Connection& connection) {
  std::string buf(256 * 1024, '\0');
  for (;;) {
    const ssize_t n = ::read(in_fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    connection.on_bytes(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
  connection.on_eof();
}

}  // namespace icotes
