// The back ends' factories, named by the registration table (kinds.cpp).
#pragma once

#include <memory>

#include "icotes/provider.hpp"

namespace icotes::providers {

/// kind = "mock": responses scripted in a JSON file (mock.cpp).
Result<std::unique_ptr<Provider>> make_mock_provider(const ProviderConfig& config, const ProviderHost& host);

/// kind = "openai": OpenAI-compatible Chat Completions, streamed (openai.cpp).
Result<std::unique_ptr<Provider>> make_openai_provider(const ProviderConfig& config, const ProviderHost& host);

/// kind = "anthropic": the Anthropic Messages API, streamed (anthropic.cpp).
Result<std::unique_ptr<Provider>> make_anthropic_provider(const ProviderConfig& config, const ProviderHost& host);

/// kind = "gemini": the Gemini API's streamGenerateContent (gemini.cpp).
Result<std::unique_ptr<Provider>> make_gemini_provider(const ProviderConfig& config, const ProviderHost& host);

/// kind = "client": the connected MCP host's model through MCP sampling
/// (client.cpp). Errors: `host.sample` is null (no client offers sampling).
Result<std::unique_ptr<Provider>> make_client_provider(const ProviderConfig& config, const ProviderHost& host);

}  // namespace icotes::providers
