// How the executable reaches the HTTP back ends (openai, anthropic, gemini)
// without mapping cpp-httplib, OpenSSL, zlib and brotli into every process:
// they are built as a module, icotes-providers.so, that the first
// make_provider of such a kind loads (dlopen; icotes/module_loader.hpp). A
// session that never calls a model never pays.
//
// The module is found, in order, at $ICOTES_PROVIDERS_MODULE, next to the
// running executable, and in the installed module directory relative to it
// (<prefix>/<libdir>/icotes/icotes-providers.so). Programs that link the HTTP
// back ends in (icotes_providers_http, whole: the provider tests) use them in
// process. Module and executable come from the same build: the interface is
// C++ (ProviderConfig in, a Provider out, whose virtual calls run the
// module's code) and versioned by kAbiVersion only to catch a stale file; a
// change to ModuleApi or to provider.hpp's types bumps it.
#pragma once

#include <memory>
#include <string_view>

#include "icotes/provider.hpp"

namespace icotes::providers {

struct ModuleApi {
  static constexpr int kAbiVersion = 1;
  int abi_version;
  /// Makes a provider of `kind` ("openai", "anthropic", "gemini"); the
  /// module's factory for it. Errors: an unknown kind (kInvalidParams),
  /// the back end's own.
  Result<std::unique_ptr<Provider>> (*make)(std::string_view kind, const ProviderConfig& config,
                                            const ProviderHost& host);
};

/// Defined by the HTTP back ends (src/services/providers/http_kinds.cpp)
/// where they are linked in; null in the icotes executable, which loads the
/// module instead.
const ModuleApi* module_api() __attribute__((weak));

/// The HTTP back ends' API: in process when linked, else the module, loaded
/// once (thread-safe). Errors (kInternalError): the module was not found or
/// cannot be loaded (naming the paths tried and ICOTES_PROVIDERS_MODULE), or
/// it is not a module of this build.
Result<const ModuleApi*> http_backends();

}  // namespace icotes::providers
