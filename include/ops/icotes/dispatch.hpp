// How every dialect runs an operation: the permission gate, then the
// handler on the worker pool (or inline), then the dialect's reply
// (docs/ARCHITECTURE.md, "How one operation runs", steps 7 to 13).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "icotes/json.hpp"
#include "icotes/operation.hpp"
#include "icotes/progress.hpp"
#include "icotes/result.hpp"
#include "icotes/rpc.hpp"

namespace icotes {

class Workspace;
namespace permissions {
struct ClientState;
}

/// Shared by the dialects: how a finished operation is answered.
struct OperationCall {
  const Operation* op = nullptr;
  json params;                         // without protocol-only members
  std::shared_ptr<Progress> progress;  // null: NullProgress
  /// Shapes the handler's outcome into the reply; runs on the worker thread.
  std::function<void(const Request&, Result<json>)> respond;
  /// Answer for a request cancelled before it finished.
  std::function<void(const Request&)> cancelled;
  /// The connection as the permission gate knows it (required).
  std::shared_ptr<permissions::ClientState> client;
  /// Context::max_result_bytes for the handler (0: no cap; MCP sets it).
  std::size_t max_result_bytes = 0;
  /// Context::structured_output for the handler (MCP with --structured-output).
  bool structured_output = false;
  /// Context::sample and Context::sampling_tools (MCP clients with `sampling`).
  std::function<Result<json>(const json& params, const CancellationToken& cancel)> sample;
  bool sampling_tools = false;
  /// Context::tool_groups (an MCP client's offered tool groups; nullopt: all).
  std::optional<std::set<std::string>> tool_groups;
};

/// Passes `call` through the workspace's permission gate (asking the client
/// when needed), then runs it on the worker pool (or inline, for inline
/// operations, which never ask) and answers `request`.
void run_operation(Workspace& workspace, const Registry& registry, Request request, OperationCall call);

}  // namespace icotes
