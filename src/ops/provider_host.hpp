// What the asking client lends a model provider (providers::ProviderHost):
// its MCP sampling, for the `client` kind. Shared by the providers and
// agent operations.
#pragma once

#include "icotes/operation.hpp"
#include "icotes/provider.hpp"

namespace icotes {

/// The ProviderHost of the call in `ctx`: the asking MCP client's sampling
/// when it declared the capability.
inline providers::ProviderHost provider_host(const Context& ctx) {
  return providers::ProviderHost{ctx.sample, ctx.sampling_tools};
}

}  // namespace icotes
