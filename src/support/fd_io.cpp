#include "icotes/fd_io.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace icotes {
namespace {

template <class Call>
int loop_fully(std::string_view data, Call call) noexcept {
  while (!data.empty()) {
    const ssize_t n = call(data);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace

int write_fully(int fd, std::string_view data) noexcept {
  return loop_fully(data, [fd](std::string_view d) { return ::write(fd, d.data(), d.size()); });
}

int send_fully(int socket, std::string_view data) noexcept {
  return loop_fully(data, [socket](std::string_view d) { return ::send(socket, d.data(), d.size(), MSG_NOSIGNAL); });
}

}  // namespace icotes
