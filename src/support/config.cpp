#include "icotes/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace icotes {

Result<std::optional<toml::table>> read_config(const std::string& path) {
  // Read here rather than by toml::parse_file, which takes a file it cannot
  // open for a missing one (an unreadable config would then read as no
  // config: no deny rules), blocks on a FIFO and reads any size.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<toml::table>();
    return make_error(error_code::kInvalidParams, path + ": cannot be read: " + std::strerror(errno));
  }
  struct stat st {};
  std::string text;
  std::string failure;
  if (::fstat(fd, &st) != 0) {
    failure = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    failure = "not a regular file";
  } else if (st.st_size > static_cast<off_t>(kMaxConfigBytes)) {
    failure = "larger than " + std::to_string(kMaxConfigBytes) + " bytes";
  } else {
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure = std::strerror(errno);
        break;
      }
      if (n == 0) break;  // shrank meanwhile: what is there
      got += static_cast<std::size_t>(n);
    }
    text.resize(got);
  }
  ::close(fd);
  if (!failure.empty()) return make_error(error_code::kInvalidParams, path + ": cannot be read: " + failure);
  try {
    return std::optional<toml::table>(toml::parse(std::string_view(text), path));
  } catch (const toml::parse_error& e) {
    return make_error(error_code::kInvalidParams,
                      path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
}

}  // namespace icotes
