// The registration table of provider back ends: one row per kind. A new
// back end adds its factory here and nothing else changes. The HTTP kinds'
// factories load icotes-providers.so (module_door.cpp).
#include "backends.hpp"

namespace icotes::providers {

const std::map<std::string, ProviderFactory, std::less<>>& provider_kinds() {
  // One row per kind (the formatter would pack them).
  // clang-format off
  static const std::map<std::string, ProviderFactory, std::less<>> kinds = {
      {"anthropic", make_anthropic_provider},
      {"client", make_client_provider},
      {"gemini", make_gemini_provider},
      {"mock", make_mock_provider},
      {"openai", make_openai_provider},
  };
  // clang-format on
  return kinds;
}

}  // namespace icotes::providers
