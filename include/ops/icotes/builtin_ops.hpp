// The built-in operations: the handlers of src/ops/<service>_ops.cpp bound to
// their schemas. The operation contract (Operation, Registry) is
// operation.hpp, below the services; this header is above them.
#pragma once

#include <string>

#include "icotes/operation.hpp"

namespace icotes {

/// The registry with every built-in operation registered.
const Registry& builtin_registry();

/// Registration functions, one per service (src/ops/<service>_ops.cpp).
void register_files_ops(Registry& registry);
void register_search_ops(Registry& registry);
void register_git_ops(Registry& registry);
void register_terminal_ops(Registry& registry);
void register_exec_ops(Registry& registry);
void register_events_ops(Registry& registry);
void register_workspace_ops(Registry& registry);
void register_providers_ops(Registry& registry);
/// agent/run, agent/resume, agent/list, agent/delegate (src/ops/agent_ops.cpp).
void register_agent_ops(Registry& registry);
/// test/sleep, registered only when ICOTES_TEST_OPERATIONS=1.
void register_test_ops(Registry& registry);

/// docs/operations.md: every operation's schemas and metadata as Markdown
/// (`icotes docs`).
std::string operations_markdown(const Registry& registry);

}  // namespace icotes
