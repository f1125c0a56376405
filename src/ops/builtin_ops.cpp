// The registry of every built-in operation (include/ops/icotes/builtin_ops.hpp).
#include "icotes/builtin_ops.hpp"

#include <cstdlib>
#include <string_view>

namespace icotes {

const Registry& builtin_registry() {
  static const Registry registry = [] {
    Registry r;
    register_files_ops(r);
    register_search_ops(r);
    register_git_ops(r);
    register_terminal_ops(r);
    register_exec_ops(r);
    register_events_ops(r);
    register_workspace_ops(r);
    register_providers_ops(r);
    register_agent_ops(r);
    if (const char* t = std::getenv("ICOTES_TEST_OPERATIONS"); t && std::string_view(t) == "1") register_test_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace icotes
