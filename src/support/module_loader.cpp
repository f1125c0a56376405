#include "icotes/module_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "icotes/log.hpp"

namespace icotes {

// The installed module directory relative to the installed executable's
// directory ("../lib/x86_64-linux-gnu/icotes" for prefix /usr on Debian),
// computed by CMake from GNUInstallDirs so that any prefix, moved or not,
// finds its modules.
#ifndef ICOTES_MODULE_DIR_FROM_BIN
#define ICOTES_MODULE_DIR_FROM_BIN "../lib/icotes"
#endif

std::vector<std::string> module_candidates(const std::string& file, const char* env_var) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv(env_var); env && *env) candidates.emplace_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto bin = exe.parent_path();
    candidates.push_back((bin / file).string());  // the build tree
    candidates.push_back((bin / ICOTES_MODULE_DIR_FROM_BIN / file).lexically_normal().string());
    const auto legacy = (bin.parent_path() / "lib" / "icotes" / file).string();
    if (legacy != candidates.back()) candidates.push_back(legacy);
  }
  return candidates;
}

namespace {

Error cannot_load(const std::string& what, const std::string& path, const char* why) {
  return make_error(error_code::kInternalError, what + ": cannot load " + path + ": " + why);
}

Error not_a_module(const std::string& what, const std::string& path, const char* symbol) {
  return make_error(error_code::kInternalError,
                    what + ": " + path + " has no " + symbol + " (not an icotes module of this build; rebuild icotes)");
}

}  // namespace

Result<void*> load_module_symbol(const std::string& what, const std::string& file, const char* env_var,
                                 const char* symbol) {
  const auto candidates = module_candidates(file, env_var);
  std::string tried;
  for (const auto& path : candidates) {
    if (::access(path.c_str(), R_OK) != 0) {
      if (!tried.empty()) tried += ", ";
      tried += path;
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return cannot_load(what, path, ::dlerror());
    void* entry = ::dlsym(handle, symbol);
    if (!entry) return not_a_module(what, path, symbol);
    spdlog::debug("{}: loaded {}", what, path);
    return entry;
  }
  return make_error(error_code::kInternalError, what + ": the module " + file + " was not found (looked at " + tried +
                                                    "); set " + env_var + " to its path or reinstall icotes");
}

}  // namespace icotes
