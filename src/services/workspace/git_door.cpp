#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "icotes/git_module.hpp"
#include "icotes/log.hpp"

namespace icotes::git {
namespace {

// Where the module may be (see git_module.hpp), first existing one wins.
std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("ICOTES_GIT_MODULE"); env && *env) out.emplace_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / "icotes-git.so").string());
    out.push_back((exe.parent_path().parent_path() / "lib" / "icotes" / "icotes-git.so").string());
  }
  return out;
}

Result<const ModuleApi*> load_module() {
  static std::mutex mutex;
  static const ModuleApi* api = nullptr;
  static std::string failure;
  std::lock_guard lock(mutex);
  if (api) return api;
  if (module_api != nullptr) return api = module_api();
  std::string tried;
  for (const auto& path : candidates()) {
    if (::access(path.c_str(), R_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return make_error(error_code::kInternalError, "git: cannot load " + path + ": " + ::dlerror());
    using Entry = const ModuleApi* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, "icotes_git_module"));
    const ModuleApi* found = entry ? entry() : nullptr;
    if (!found || found->abi_version != ModuleApi::kAbiVersion)
      return make_error(error_code::kInternalError,
                        "git: " + path + " is not an icotes-git module of this build (rebuild icotes)");
    spdlog::debug("git: loaded {}", path);
    return api = found;  // never unloaded: its libraries keep thread-local state
  }
  return make_error(error_code::kInternalError,
                    "git: the git service module icotes-git.so was not found (looked at " + tried +
                        "); set ICOTES_GIT_MODULE to its path or reinstall icotes");
}

}  // namespace

Door::~Door() {
  if (service_) api_->destroy(service_);
}

Result<json> Door::run(std::string_view verb, const json& params, const CancellationToken& cancel, Progress& progress) {
  void* service = nullptr;
  const ModuleApi* api = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!service_) {
      auto loaded = load_module();
      if (!loaded) return std::move(loaded).error();
      api_ = *loaded;
      service_ = api_->create(root_);
    }
    service = service_;
    api = api_;
  }
  return api->run(service, verb, params, cancel, progress);
}

}  // namespace icotes::git
