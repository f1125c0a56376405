#include "icotes/stdio.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>
#include "icotes/fd_io.hpp"

namespace icotes {

bool FdTransport::write(std::string_view bytes) {
  std::lock_guard lock(write_mutex_);
  return write_all_locked(bytes);
}

bool FdTransport::write_all_locked(std::string_view bytes) {
  if (broken_) return false;
  if (write_fully(out_, bytes) != 0) {
    broken_ = true;  // EPIPE: the client is gone
    return false;
  }
  return true;
}

bool FdTransport::write_pieces(std::span<const std::string_view> pieces) {
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (std::string_view p : pieces) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  std::lock_guard lock(write_mutex_);
  if (broken_) return false;
  std::size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::writev(out_, iov.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      broken_ = true;  // EPIPE: the client is gone
      return false;
    }
    // Skip what was written; a partly written piece continues where it stopped.
    while (n > 0 && first < iov.size()) {
      if (static_cast<std::size_t>(n) >= iov[first].iov_len) {
        n -= static_cast<ssize_t>(iov[first].iov_len);
        ++first;
      } else {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + n;
        iov[first].iov_len -= static_cast<std::size_t>(n);
        n = 0;
      }
    }
  }
  return true;
}

bool FdTransport::write_produced(const std::function<void(const Emit&)>& produce) {
  // Small pieces (a path, a comma) are gathered into 64 KiB writes; a large
  // one goes out directly once what was gathered before it has.
  constexpr std::size_t kChunk = 64 * 1024;
  std::string staged;
  staged.reserve(kChunk);
  std::lock_guard lock(write_mutex_);
  auto flush = [&] {
    const bool ok = write_all_locked(staged);
    staged.clear();
    return ok;
  };
  produce([&](std::string_view piece) {
    if (broken_) return false;
    if (staged.size() + piece.size() <= kChunk) {
      staged.append(piece);
      return true;
    }
    if (!flush()) return false;
    if (piece.size() >= kChunk) return write_all_locked(piece);
    staged.append(piece);
    return true;
  });
  return flush();
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
