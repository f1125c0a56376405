// The executable's side of the HTTP back ends' module
// (include/providers/icotes/providers_module.hpp): the registration table's
// factories for the HTTP kinds (backends.hpp) load icotes-providers.so on
// first use and make the provider there.
#include <mutex>
#include <string>

#include "backends.hpp"
#include "icotes/module_loader.hpp"
#include "icotes/providers_module.hpp"

namespace icotes::providers {

Result<const ModuleApi*> http_backends() {
  static std::mutex mutex;
  static const ModuleApi* api = nullptr;
  std::lock_guard lock(mutex);
  if (api) return api;
  if (module_api != nullptr) return api = module_api();
  auto entry =
      load_module_symbol("providers", "icotes-providers.so", "ICOTES_PROVIDERS_MODULE", "icotes_providers_module");
  if (!entry) return std::move(entry).error();
  using Entry = const ModuleApi* (*)();
  const ModuleApi* found = reinterpret_cast<Entry>(*entry)();
  if (!found || found->abi_version != ModuleApi::kAbiVersion) {
    return make_error(error_code::kInternalError,
                      "providers: icotes-providers.so is not a module of this build (rebuild icotes)");
  }
  return api = found;
}

namespace {

Result<std::unique_ptr<Provider>> through_module(std::string_view kind, const ProviderConfig& config,
                                                 const ProviderHost& host) {
  auto api = http_backends();
  if (!api) return std::move(api).error();
  return (*api)->make(kind, config, host);
}

}  // namespace

Result<std::unique_ptr<Provider>> make_openai_provider(const ProviderConfig& config, const ProviderHost& host) {
  return through_module("openai", config, host);
}

Result<std::unique_ptr<Provider>> make_anthropic_provider(const ProviderConfig& config, const ProviderHost& host) {
  return through_module("anthropic", config, host);
}

Result<std::unique_ptr<Provider>> make_gemini_provider(const ProviderConfig& config, const ProviderHost& host) {
  return through_module("gemini", config, host);
}

}  // namespace icotes::providers
