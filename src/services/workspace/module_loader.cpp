#include "icotes/module_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "icotes/log.hpp"

namespace icotes {

Result<void*> load_module_symbol(const std::string& what, const std::string& file, const char* env_var,
                                 const char* symbol) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv(env_var); env && *env) candidates.emplace_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((exe.parent_path() / file).string());
    candidates.push_back((exe.parent_path().parent_path() / "lib" / "icotes" / file).string());
  }
  std::string tried;
  for (const auto& path : candidates) {
    if (::access(path.c_str(), R_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return make_error(error_code::kInternalError, what + ": cannot load " + path + ": " + ::dlerror());
    void* entry = ::dlsym(handle, symbol);
    if (!entry)
      return make_error(error_code::kInternalError,
                        what + ": " + path + " has no " + symbol + " (not an icotes module of this build; rebuild icotes)");
    spdlog::debug("{}: loaded {}", what, path);
    return entry;
  }
  return make_error(error_code::kInternalError, what + ": the module " + file + " was not found (looked at " + tried +
                                                    "); set " + env_var + " to its path or reinstall icotes");
}

}  // namespace icotes
