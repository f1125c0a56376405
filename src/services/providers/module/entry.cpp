// The icotes-providers.so module's one exported symbol
// (include/providers/icotes/providers_module.hpp).
#include "icotes/providers_module.hpp"

extern "C" __attribute__((visibility("default"))) const icotes::providers::ModuleApi* icotes_providers_module() {
  return icotes::providers::module_api();
}
