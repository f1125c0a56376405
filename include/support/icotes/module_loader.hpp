// Loading icotes' optional modules: services whose libraries are heavy to
// map into every process (libgit2 with its TLS and SSH stack; cpp-httplib
// with OpenSSL, zlib and brotli: about 4 MB resident, measured) are built as
// shared objects that the first use loads with dlopen(3).
//
// A module `icotes-NAME.so` is looked for, in order, at $ENV_VAR, next to the
// running executable (a build tree), in the installed module directory
// relative to the executable (bin/../<libdir>/icotes, libdir as
// GNUInstallDirs chose it at configure time, so a moved prefix still works),
// and at bin/../lib/icotes.
// Module and executable come from the same build; each module's entry point
// returns an API struct whose abi_version catches a stale file.
#pragma once

#include <string>
#include <vector>

#include "icotes/result.hpp"

namespace icotes {

/// The paths `load_module_symbol` tries for `file`, in order (what `icotes
/// doctor` reports).
std::vector<std::string> module_candidates(const std::string& file, const char* env_var);

/// Loads the module file `file` ("icotes-git.so") and returns the address of
/// its `symbol`; the module is never unloaded (its libraries keep
/// thread-local state). `what` names the service in errors. Errors
/// (kInternalError): not found (naming every path tried and `env_var`), or
/// dlopen/dlsym failed (with dlerror()).
Result<void*> load_module_symbol(const std::string& what, const std::string& file, const char* env_var,
                                 const char* symbol);

}  // namespace icotes
