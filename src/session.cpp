#include "icotes/session.hpp"

#include <spdlog/spdlog.h>

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

}  // namespace icotes
