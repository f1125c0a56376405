// The plain JSON-RPC dialect (scripts: icotes/<service>/<verb> requests, no
// lifecycle), and the call and operation list it shares with LSP. See
// include/dialects/icotes/session.hpp.
#include "icotes/session.hpp"

namespace icotes {

OperationCall jsonrpc_call(const Operation& op, json params, const std::shared_ptr<Connection>& conn,
                           std::shared_ptr<permissions::ClientState> client) {
  OperationCall call;
  call.op = &op;
  call.progress = take_lsp_progress(conn, params, op.title);
  call.params = std::move(params);
  call.respond = [](const Request& r, Result<json> result) {
    if (result)
      r.reply(*result);
    else
      r.fail(result.error());
  };
  call.cancelled = [](const Request& r) { r.fail(make_error(error_code::kRequestCancelled, "request cancelled")); };
  call.client = std::move(client);
  return call;
}

json describe_operations(const Registry& registry) {
  json ops = json::array();
  for (const Operation* op : registry.all()) {
    ops.push_back({{"id", op->id},
                   {"method", op->lsp_method()},
                   {"command", op->command()},
                   {"mcpName", op->mcp_name},
                   {"title", op->title},
                   {"description", op->description},
                   {"permission", to_string(op->kind)},
                   {"inputSchema", op->input_schema},
                   {"outputSchema", op->output_schema}});
  }
  return json{{"operations", std::move(ops)}};
}

namespace {

// Plain JSON-RPC for scripts: no lifecycle, icotes/<service>/<verb> methods.
class PlainDialect final : public Dialect {
 public:
  PlainDialect(Workspace& workspace, std::shared_ptr<Connection> connection, const SessionOptions& options)
      : workspace_(workspace),
        connection_(std::move(connection)),
        registry_(*options.registry),
        client_(std::make_shared<permissions::ClientState>()) {
    // Scripts cannot be asked: what needs asking is denied, with the rule
    // that would allow it.
    client_->name = "plain JSON-RPC client";
    client_->settings = connection_settings(workspace_, options.profile);
  }

  std::string_view name() const override { return "plain"; }

  void on_request(Request request) override {
    const std::string& method = request.method();
    if (method == "ping") return request.reply(json::object());
    if (method == "icotes/operations") return request.reply(describe_operations(registry_));
    const Operation* op =
        method.rfind("icotes/", 0) == 0 ? registry_.find(std::string_view(method).substr(7)) : nullptr;
    if (!op) {
      return request.fail(make_error(error_code::kMethodNotFound, "method not found: " + method +
                                                                      " (operations are icotes/<service>/<verb>; "
                                                                      "icotes/operations lists them)"));
    }
    if (!request.params().is_object())
      return request.fail(make_error(error_code::kInvalidParams, method + ": params must be an object"));
    OperationCall call = jsonrpc_call(*op, request.params(), connection_, client_);  // before `request` moves
    run_operation(workspace_, registry_, std::move(request), std::move(call));
  }

  void on_notification(const std::string& method, const json& params) override {
    if (method == "$/cancelRequest" && params.is_object() && params.contains("id"))
      connection_->cancel_request(params["id"]);
  }

 private:
  Workspace& workspace_;
  std::shared_ptr<Connection> connection_;
  const Registry& registry_;
  std::shared_ptr<permissions::ClientState> client_;
};

}  // namespace

std::shared_ptr<Dialect> make_plain_dialect(Workspace& workspace, std::shared_ptr<Connection> connection,
                                            const SessionOptions& options) {
  return std::make_shared<PlainDialect>(workspace, std::move(connection), options);
}

}  // namespace icotes
