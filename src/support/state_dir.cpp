// include/support/icotes/state_dir.hpp
#include "icotes/state_dir.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace icotes {

std::string state_dir() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/') return std::string(x) + "/icotes";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.local/state/icotes";
  return "/tmp/icotes-" + std::to_string(::getuid());
}

std::string root_file_stem(std::string_view root) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : root) h = (h ^ c) * 1099511628211ULL;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace icotes
