// run_operation: the gate, then the handler, then the dialect's reply. See
// include/ops/icotes/dispatch.hpp.
#include "icotes/dispatch.hpp"

#include <string>
#include <vector>

#include "icotes/permission_gate.hpp"
#include "icotes/workspace.hpp"

namespace icotes {

// A Request is a handle on shared state, copied into the lambdas below; the signature is
// include/ops/icotes/dispatch.hpp's, which the dialects include.
// NOLINTNEXTLINE(performance-unnecessary-value-param): by value, as said above
void run_operation(Workspace& workspace, const Registry& registry, Request request, OperationCall call) {
  auto shared = std::make_shared<OperationCall>(std::move(call));
  // Malformed calls are refused before the gate: nobody is asked to
  // approve what would fail anyway.
  if (auto st = registry.validate(*shared->op, shared->params); !st) {
    shared->progress.reset();
    return shared->respond(request, std::move(st).error());
  }
  auto needs = workspace.gate().needs(*shared->op, shared->params);
  // A write's landing paths are judged against what the gate approves.
  const bool writes = permissions::is_write_kind(shared->op->kind);
  auto run = [&workspace, &registry, request, shared, writes,
              approved = writes ? needs : std::vector<permissions::Need>()] {
    OperationCall& c = *shared;
    NullProgress null_progress;
    Progress& progress = c.progress ? *c.progress : null_progress;
    Context ctx{workspace, request.token(), progress, request.connection().shared_from_this()};
    ctx.client = c.client;
    ctx.read_denied = workspace.gate().read_filter(c.client);
    ctx.max_result_bytes = c.max_result_bytes;
    ctx.structured_output = c.structured_output;
    ctx.sample = c.sample;
    ctx.sampling_tools = c.sampling_tools;
    ctx.tool_groups = c.tool_groups;
    if (writes) ctx.may_write = workspace.gate().write_check(c.client, c.op->kind, approved);
    Result<json> result = registry.run(*c.op, ctx, c.params);
    c.progress.reset();  // LSP: the progress "end" goes out before the response
    if (request.token().cancelled() && c.cancelled) return c.cancelled(request);
    c.respond(request, std::move(result));
  };
  auto deny = [request, shared](Error error) {
    shared->progress.reset();
    if (request.token().cancelled() && shared->cancelled) return shared->cancelled(request);
    shared->respond(request, std::move(error));
  };
  if (shared->op->run_inline) {
    // Inline operations are reads: decided at once, never asked about.
    if (auto st = workspace.gate().check_now(*shared->client, shared->op->id, needs); !st) return deny(st.error());
    return run();
  }
  // Calls of a serialBy operation with the same value run in the order the
  // gate lets them through: the order they arrived, as the gate lets an
  // operation that needs nothing through at once (permission None).
  std::string serial_key;
  if (const std::string& by = shared->op->serial_by; !by.empty())
    if (auto v = shared->params.find(by); v != shared->params.end() && v->is_string())
      serial_key = shared->op->id + '\n' + v->get<std::string>();
  workspace.gate().check(shared->client, shared->op->id, std::move(needs), request.token(),
                         [&workspace, run = std::move(run), deny = std::move(deny), serial_key = std::move(serial_key),
                          owner = static_cast<const void*>(&request.connection())](const Status& st) mutable {
                           if (!st) return deny(st.error());
                           // The answer may come on a connection's reading thread: run on a
                           // worker, in the lane of the asking connection (clients take turns).
                           if (serial_key.empty()) return workspace.workers().post(run, owner);
                           workspace.workers().post(std::move(serial_key), run, owner);
                         });
}

}  // namespace icotes
