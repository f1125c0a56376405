// How the rest of icotes reaches the git service without loading libgit2 up
// front. libgit2 1.5 as Debian builds it brings libssh2, libcrypto, mbedTLS
// and Kerberos with it: about 3 MB resident in every process that merely
// links it (measured: bench/results/search.md, README "Design"). The git
// service is therefore built as a module, icotes-git.so, that the first git
// operation loads (dlopen) — a workspace that never asks for git never pays.
//
// The module is found, in order, at $ICOTES_GIT_MODULE, next to the running
// executable, and in the installed module directory relative to it
// (<prefix>/<libdir>/icotes/icotes-git.so; icotes/module_loader.hpp). Programs that link the git service in (the unit
// tests) use it in process. Module and executable come from the same build: the interface is C++ (the typed params of
// git_params.hpp in, Result<json> out) and versioned by kAbiVersion only to catch a stale file; a change to ModuleApi,
// Call, Policy or a params struct bumps it.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

#include "icotes/cancellation.hpp"
#include "icotes/confine.hpp"
#include "icotes/git_params.hpp"
#include "icotes/json.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/result.hpp"

namespace icotes {
class Progress;
}

namespace icotes::git {

/// The asking client's restrictions for one call (path_policy.hpp), handed
/// to the module with its params: the operation's Context::read_denied and
/// Context::may_write. Both null (the default) for callers without a client:
/// nothing is redacted, and only protected_path_reason() refuses writes.
struct Policy {
  /// Files whose content multi-file results (git diff, git show) leave out.
  ReadFilter read_denied = nullptr;
  /// Judges each work-tree path a checkout, stash or reset would change.
  WriteCheck may_write = nullptr;
  /// The most text (bytes) the client takes in one result
  /// (Context::max_result_bytes; 0: no cap). Paged operations keep each
  /// page's text within it, whatever limits the params ask for.
  std::size_t max_result_bytes = 0;
};

/// What every call hands the module besides its params.
struct Call {
  const CancellationToken& cancel;
  Progress& progress;
  const Policy& policy;
};

struct ModuleApi {
  static constexpr int kAbiVersion = 4;
  int abi_version;
  /// A git::Service for the workspace root (include/git/icotes/git.hpp).
  void* (*create)(const ConfinedRoot& root);
  void (*destroy)(void* service);
  /// One entry per operation of ICOTES_GIT_OPERATIONS (git_params.hpp):
  /// `status(service, StatusParams, call)` runs git::status with the
  /// repository open, and so on. (`Params` names a type, which parentheses
  /// cannot wrap: hence the NOLINT.)
#define ICOTES_GIT_MODULE_ENTRY(verb, Params, Target) \
  Result<json> (*verb)(void* service, const Params& params, const Call& call);  // NOLINT(bugprone-macro-parentheses)
  ICOTES_GIT_OPERATIONS(ICOTES_GIT_MODULE_ENTRY)
#undef ICOTES_GIT_MODULE_ENTRY
};

/// A member of ModuleApi: the entry of the operation whose params are P.
template <class P>
using ModuleEntry = Result<json> (*ModuleApi::*)(void* service, const P& params, const Call& call);

/// Defined by the git service (src/services/git/repo.cpp) where it is linked
/// in; null in the icotes executable, which loads the module instead.
const ModuleApi* module_api() __attribute__((weak));

/// One workspace's door to the git service: loads the module and creates
/// the service on first use. Thread-safe.
class Door {
 public:
  explicit Door(const ConfinedRoot& root) : root_(root) {}
  ~Door();
  Door(const Door&) = delete;
  Door& operator=(const Door&) = delete;

  /// Runs the operation `entry` (&ModuleApi::status, ...) with `params`.
  /// Errors: kInternalError naming the module path and dlerror() when the
  /// module cannot be loaded; else the operation's own errors.
  template <class P>
  Result<json> run(ModuleEntry<P> entry, const P& params, const Call& call) {
    auto target = open();
    if (!target) return std::move(target).error();
    return (target->api->*entry)(target->service, params, call);
  }

 private:
  struct Target {
    const ModuleApi* api;
    void* service;
  };
  /// Loads the module and creates the service on first use.
  Result<Target> open();

  const ConfinedRoot& root_;
  std::mutex mutex_;
  const ModuleApi* api_ = nullptr;
  void* service_ = nullptr;
};

}  // namespace icotes::git
