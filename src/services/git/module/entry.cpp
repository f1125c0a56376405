// The icotes-git.so module's one exported symbol (include/git/icotes/git_module.hpp).
#include "icotes/git_module.hpp"

extern "C" __attribute__((visibility("default"))) const icotes::git::ModuleApi* icotes_git_module() {
  return icotes::git::module_api();
}
