// The HTTP back ends as one API (include/providers/icotes/providers_module.hpp):
// what icotes-providers.so exports, and what programs that link the back
// ends in use in process.
#include "http_backends.hpp"
#include "icotes/providers_module.hpp"

namespace icotes::providers {

namespace {

Result<std::unique_ptr<Provider>> make_http(std::string_view kind, const ProviderConfig& config,
                                            const ProviderHost& host) {
  struct Row {
    std::string_view kind;
    Result<std::unique_ptr<Provider>> (*make)(const ProviderConfig&, const ProviderHost&);
  };
  static constexpr Row kRows[] = {
      {"anthropic", make_anthropic_backend},
      {"gemini", make_gemini_backend},
      {"openai", make_openai_backend},
  };
  for (const Row& row : kRows) {
    if (row.kind == kind) return row.make(config, host);
  }
  return make_error(error_code::kInvalidParams,
                    "provider \"" + config.name + "\": kind \"" + std::string(kind) + "\" is not an HTTP back end");
}

constexpr ModuleApi kApi{ModuleApi::kAbiVersion, make_http};

}  // namespace

const ModuleApi* module_api() { return &kApi; }

}  // namespace icotes::providers
