#include "icotes/session.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "icotes/builtin_ops.hpp"

namespace icotes {

Session::Session(Workspace& workspace, std::shared_ptr<Connection> connection, SessionOptions options)
    : workspace_(workspace), connection_(std::move(connection)), options_(std::move(options)) {
  if (!options_.registry) options_.registry = &builtin_registry();
}

// A connection that ends without on_close (a transport error) ends its
// subscriptions here.
Session::~Session() {
  workspace_.events().unsubscribe_owner(connection_.get());
  if (client_id_) workspace_.clients().remove(client_id_);
}

void Session::choose(const std::string& method, const json& params) {
  const bool mcp_meta = params.is_object() && params.contains("_meta") && params["_meta"].is_object() &&
                        params["_meta"].contains("io.modelcontextprotocol/protocolVersion");
  if ((method == "initialize" && params.is_object() && params.contains("protocolVersion")) ||
      method == "server/discover" || mcp_meta) {
    // MCP: initialize (up to 2025-11-25), or a 2026-07-28 request naming
    // its revision in _meta.
    dialect_ = make_mcp_dialect(workspace_, connection_, options_);
  } else if (method == "initialize" || connection_->framing() == Framing::ContentLength) {
    // Content-Length framing is LSP: a request before initialize gets -32002.
    dialect_ = make_lsp_dialect(workspace_, connection_, options_);
  } else {
    dialect_ = make_plain_dialect(workspace_, connection_, options_);
  }
  dialect_name_ = dialect_->name().data();
  spdlog::info("connection speaks {}", dialect_->name());
  client_id_ = workspace_.clients().add(connection_.get(), std::string(dialect_->name()));
}

namespace {

// The clientInfo a client names itself by: LSP and MCP `initialize`
// params.clientInfo, or an MCP 2026-07-28 request's _meta.
const json* client_info_of(const std::string& method, const json& params) {
  if (!params.is_object()) return nullptr;
  if (method == "initialize") {
    auto it = params.find("clientInfo");
    return it != params.end() && it->is_object() ? &*it : nullptr;
  }
  auto meta = params.find("_meta");
  if (meta == params.end() || !meta->is_object()) return nullptr;
  auto it = meta->find("io.modelcontextprotocol/clientInfo");
  return it != meta->end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

std::string Session::client_name() const {
  std::lock_guard lock(name_mutex_);
  return client_name_;
}

permissions::Settings connection_settings(Workspace&, const ClientProfile& p) {
  // The connection's own part: the gate adds the workspace's, as it is at each call.
  permissions::Settings s;
  if (p.permission_mode)
    if (auto mode = permissions::mode_from_string(*p.permission_mode)) s.mode = *mode, s.mode_given = true;
  if (s.mode == permissions::Mode::Bypass && p.permission_mode)
    spdlog::warn(
        "PERMISSION MODE BYPASS for one connection: its operations are allowed without asking (deny rules "
        "still apply); other connections keep their own mode");
  for (const auto& [texts, answer] :
       {std::pair{&p.allow, permissions::Answer::Allow}, std::pair{&p.deny, permissions::Answer::Deny}})
    for (const auto& text : *texts)
      if (auto rule = permissions::Rule::parse(text, answer))  // checked by the launcher
        (answer == permissions::Answer::Allow ? s.allow : s.deny).push_back(std::move(*rule));
  return s;
}

void Session::on_request(Request request) {
  if (request.method() == "initialize" && request.params().is_object()) {
    const json& info = member_or(request.params(), "clientInfo", json());
    if (info.is_object()) {
      std::lock_guard lock(name_mutex_);
      client_name_ = member_or(info, "name", std::string());
    }
  }
  if (!dialect_) choose(request.method(), request.params());
  if (!named_) {
    if (const json* info = client_info_of(request.method(), request.params())) {
      named_ = true;
      workspace_.clients().set_info(client_id_, member_or(*info, "name", std::string()),
                                    member_or(*info, "version", std::string()));
    }
  }
  dialect_->on_request(std::move(request));
}

void Session::on_notification(const std::string& method, const json& params) {
  if (!dialect_) {
    if (method == "exit" && options_.on_exit) return options_.on_exit(1);
    choose(method, params);
  }
  dialect_->on_notification(method, params);
}

void Session::on_close() {
  workspace_.events().unsubscribe_owner(connection_.get());
  if (client_id_) workspace_.clients().remove(client_id_);
  if (dialect_) dialect_->on_close();
}

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
  workspace.gate().check(shared->client, shared->op->id, std::move(needs), request.token(),
                         [&workspace, run = std::move(run), deny = std::move(deny)](Status st) {
                           if (!st) return deny(st.error());
                           // The answer may come on a connection's reading thread: run on a worker.
                           workspace.workers().post(run);
                         });
}

// WorkDoneProgress and partial results over $/progress (LSP 3.17 "Work
// Done Progress", "Partial Result Progress"); either token may be absent.
class LspProgress final : public Progress {
 public:
  LspProgress(std::shared_ptr<Connection> conn, json work_token, json partial_token, std::string title)
      : conn_(std::move(conn)), token_(std::move(work_token)), partial_token_(std::move(partial_token)) {
    if (token_.is_null()) return;
    conn_->notify("$/progress", {{"token", token_},
                                 {"value", {{"kind", "begin"}, {"title", std::move(title)}, {"cancellable", true}}}});
  }
  ~LspProgress() override {
    if (!token_.is_null()) conn_->notify("$/progress", {{"token", token_}, {"value", {{"kind", "end"}}}});
  }
  void report(std::string_view message, double done, double total) override {
    if (token_.is_null()) return;
    json value = {{"kind", "report"}, {"message", std::string(message)}};
    if (total > 0) value["percentage"] = static_cast<unsigned>(std::min(100.0, 100.0 * done / total));
    conn_->notify("$/progress", {{"token", token_}, {"value", std::move(value)}});
  }
  bool wants_partial() const override { return !partial_token_.is_null(); }
  void partial(const json& items) override {
    if (!partial_token_.is_null()) conn_->notify("$/progress", {{"token", partial_token_}, {"value", items}});
  }

 private:
  std::shared_ptr<Connection> conn_;
  json token_;
  json partial_token_;
};

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

std::shared_ptr<Progress> take_lsp_progress(const std::shared_ptr<Connection>& conn, json& params,
                                            const std::string& title) {
  json work_token;
  json partial_token;
  if (auto it = params.find("workDoneToken"); it != params.end()) {
    work_token = *it;
    params.erase(it);
  }
  if (auto it = params.find("partialResultToken"); it != params.end()) {
    partial_token = *it;
    params.erase(it);
  }
  if (work_token.is_null() && partial_token.is_null()) return nullptr;
  return std::make_shared<LspProgress>(conn, std::move(work_token), std::move(partial_token), title);
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
