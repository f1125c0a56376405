// The HTTP back ends' own factories (icotes_providers_http, built into
// icotes-providers.so): the module's table (http_kinds.cpp) names them. The
// registration table's rows for these kinds (kinds.cpp, backends.hpp's
// make_openai_provider, ...) reach them through the module
// (module_door.cpp).
#pragma once

#include <memory>

#include "icotes/provider.hpp"

namespace icotes::providers {

/// kind = "openai": OpenAI-compatible Chat Completions, streamed (openai.cpp).
Result<std::unique_ptr<Provider>> make_openai_backend(const ProviderConfig& config, const ProviderHost& host);

/// kind = "anthropic": the Anthropic Messages API, streamed (anthropic.cpp).
Result<std::unique_ptr<Provider>> make_anthropic_backend(const ProviderConfig& config, const ProviderHost& host);

/// kind = "gemini": the Gemini API's streamGenerateContent (gemini.cpp).
Result<std::unique_ptr<Provider>> make_gemini_backend(const ProviderConfig& config, const ProviderHost& host);

}  // namespace icotes::providers
