#include "icotes/random_token.hpp"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

#include "icotes/hex.hpp"

namespace icotes {

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "getrandom");
    got += static_cast<std::size_t>(n);
  }
  return hex_encode(raw);
}

}  // namespace icotes
