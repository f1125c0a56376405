#include "icotes/git_module.hpp"
#include "icotes/module_loader.hpp"

namespace icotes::git {
namespace {

Result<const ModuleApi*> load_module() {
  static std::mutex mutex;
  static const ModuleApi* api = nullptr;
  std::lock_guard lock(mutex);
  if (api) return api;
  if (module_api != nullptr) return api = module_api();
  auto entry = load_module_symbol("git", "icotes-git.so", "ICOTES_GIT_MODULE", "icotes_git_module");
  if (!entry) return std::move(entry).error();
  using Entry = const ModuleApi* (*)();
  const ModuleApi* found = reinterpret_cast<Entry>(*entry)();
  if (!found || found->abi_version != ModuleApi::kAbiVersion)
    return make_error(error_code::kInternalError, "git: icotes-git.so is not a module of this build (rebuild icotes)");
  return api = found;
}

}  // namespace

Door::~Door() {
  if (service_) api_->destroy(service_);
}

Result<Door::Target> Door::open() {
  std::lock_guard lock(mutex_);
  if (!service_) {
    auto loaded = load_module();
    if (!loaded) return std::move(loaded).error();
    api_ = *loaded;
    service_ = api_->create(root_);
  }
  return Target{api_, service_};
}

}  // namespace icotes::git
