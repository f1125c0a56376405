// What the asking client lends a model provider (providers::ProviderHost):
// its MCP sampling, for the `client` kind. Shared by the providers and
// agent operations.
#pragma once

#include "icotes/operation.hpp"
#include "icotes/provider.hpp"
#include "icotes/workspace.hpp"

namespace icotes {

/// The ProviderHost of the call in `ctx`: the asking MCP client's sampling
/// when it declared the capability; else that of the MCP client with
/// sampling attached most recently to the workspace (Workspace::samplers():
/// an editor over LSP, `icotes chat` or `icotes call` through the daemon
/// borrow the host's model); else none (the `client` kind then says so).
inline providers::ProviderHost provider_host(const Context& ctx) {
  if (ctx.sample) return providers::ProviderHost{ctx.sample, ctx.sampling_tools};
  if (auto s = ctx.workspace.samplers().latest()) return providers::ProviderHost{s->sample, s->tools};
  return {};
}

}  // namespace icotes
