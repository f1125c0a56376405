// The MCP dialect's 2026-07-28 revision: no initialize, the revision and
// the client's capabilities in each request's _meta; server/discover;
// results with resultType and cache hints (McpDialect::reply); permission
// questions as input_required results; subscriptions/listen.
#include <spdlog/spdlog.h>

#include "mcp_dialect.hpp"

namespace icotes {
namespace mcp {

const json* McpDialect::stateless_meta(const json& params) {
  if (!params.is_object()) return nullptr;
  auto meta = params.find("_meta");
  if (meta == params.end() || !meta->is_object() || !meta->contains(kMetaVersion)) return nullptr;
  return &*meta;
}

namespace {

// Why a 2026-07-28 request's _meta (null when it has none) cannot be
// served: no revision, another revision, no client capabilities.
std::optional<Error> meta_error(const std::string& method, const json* meta) {
  if (!meta)
    return make_error(error_code::kInvalidParams, method + ": params._meta with " + std::string(kMetaVersion) +
                                                      " and " + std::string(kMetaCapabilities) + " is required");
  const json& v = (*meta)[std::string(kMetaVersion)];
  if (!v.is_string() || v.get<std::string>() != kStateless) {
    json supported = json::array({std::string(kStateless)});
    return make_error(kUnsupportedProtocolVersion,
                      "unsupported protocol version " + v.dump() + " in _meta: this server speaks " +
                          std::string(kStateless) + " per request (older revisions through initialize)",
                      {{"requested", v.is_string() ? v.get<std::string>() : v.dump()}, {"supported", supported}});
  }
  if (auto caps = meta->find(kMetaCapabilities); caps == meta->end() || !caps->is_object())
    return make_error(error_code::kInvalidParams,
                      method + ": _meta." + std::string(kMetaCapabilities) + " (an object) is required");
  return std::nullopt;
}

}  // namespace

// A 2026-07-28 request: the revision and client capabilities come with it
// (RequestMetaObject), results carry resultType and, for lists and reads,
// cache hints (CacheableResult). Permission questions cannot be asked
// back (no server-to-client requests yet): what needs asking is denied
// with how to allow it.
void McpDialect::stateless(Request request, const json* meta) {
  const std::string& method = request.method();
  if (auto error = meta_error(method, meta)) return request.fail(*error);
  {
    std::lock_guard lock(stateless_mutex_);
    if (version_.empty()) {
      version_ = std::string(kStateless);
      client_->settings = connection_settings(workspace_, profile_);
      std::string name = "MCP client";
      if (auto info = meta->find("io.modelcontextprotocol/clientInfo"); info != meta->end() && info->is_object())
        name = member_or(*info, "name", name);
      client_->name = "mcp:" + name;
    }
    stateless_ids_.insert(request.id().dump());
  }
  if (const Method* m = find_method(method, kPerRequest)) return (this->*m->handler)(std::move(request));
  forget_stateless(request);
  request.fail(
      make_error(error_code::kMethodNotFound, "method not found in " + std::string(kStateless) + ": " + method));
}

bool McpDialect::forget_stateless(const Request& r) {
  std::lock_guard lock(stateless_mutex_);
  return stateless_ids_.erase(r.id().dump()) > 0;
}

json McpDialect::supported_versions() {
  json v = json::array({std::string(kStateless)});
  for (auto k : kVersions) v.push_back(std::string(k));
  return v;
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the method table's handler type takes the Request by value
void McpDialect::discover(Request request) {
  reply(request, json{{"supportedVersions", supported_versions()},
                      {"capabilities", capabilities()},
                      {"instructions", instructions()}});
}

// The permission state of one 2026-07-28 tools/call. A question cannot
// be sent as a request of the server's: it becomes the call's result,
// input_required with an elicitation/create form, and the client retries
// the call with the user's answer in inputResponses.permission (MCP
// 2026-07-28 InputRequiredResult). Clients without the elicitation
// capability are not asked (denied with how to allow).
std::shared_ptr<permissions::ClientState> McpDialect::stateless_client(const Request& request) {
  // A fresh state: a stateless client has no session to remember answers in.
  auto state = std::make_shared<permissions::ClientState>();
  state->name = client_->name;
  state->settings = client_->settings;
  const json& p = request.params();
  const json caps = member_or(member_or(p, "_meta", json()), kMetaCapabilities, json::object());
  if (!caps.is_object() || !caps.contains("elicitation")) return state;
  const json responses = member_or(p, "inputResponses", json::object());
  state->ask = [this, self = shared_from_this(), request, responses](
                   const permissions::Question& q,
                   // NOLINTNEXTLINE(performance-unnecessary-value-param): the gate's ask callback type
                   std::function<void(std::optional<permissions::Choice>)> answer) -> std::function<void()> {
    if (responses.is_object() && responses.contains("permission")) {
      answer(decision_of(responses["permission"], q.options));
      return nullptr;
    }
    json form = {{"mode", "form"}, {"message", "icotes: " + q.message}, {"requestedSchema", decision_schema(q)}};
    // Answered here; the gate's denial that follows finds it answered.
    reply(request,
          {{"resultType", "input_required"},
           {"inputRequests", {{"permission", {{"method", "elicitation/create"}, {"params", std::move(form)}}}}}});
    answer(std::nullopt);
    return nullptr;
  };
  return state;
}

// subscriptions/listen (2026-07-28): a long-lived request whose stream
// carries the notifications the client opted in to, each with the
// subscription's id in _meta; acknowledged first. It is answered only
// when the server ends it (a closed connection carries no answer).
void McpDialect::listen(Request request) {
  auto wanted = std::make_shared<std::set<std::string>>();
  const json agreed = listen_agreement(request.params().value("notifications", json::object()), *wanted);
  const json id = request.id();
  forget_stateless(request);
  const bool list_changes = agreed.value("resourcesListChanged", false);
  if (list_changes || !wanted->empty()) notify_listener(id, std::move(wanted), list_changes);
  // Acknowledged once the watches are in place and the subscription is
  // made: a change the client makes after the acknowledgement is seen.
  conn_->notify("notifications/subscriptions/acknowledged",
                {{"notifications", agreed}, {"_meta", {{std::string(kMetaSubscription), id}}}});
  std::lock_guard lock(stateless_mutex_);
  listens_.push_back(std::move(request));
}

// What subscriptions/listen agrees to of the client's `filter`
// (its "notifications"): the list changes when asked, and the resources it
// may read, whose paths go to `wanted`.
json McpDialect::listen_agreement(const json& filter, std::set<std::string>& wanted) {
  json agreed = json::object();
  if (!filter.is_object()) return agreed;
  if (member_or(filter, "resourcesListChanged", false)) agreed["resourcesListChanged"] = true;
  if (auto uris = filter.find("resourceSubscriptions"); uris != filter.end() && uris->is_array()) {
    json accepted = json::array();
    for (const auto& u : *uris) {
      if (!u.is_string()) continue;
      auto rel = workspace_.rel_of_uri(u.get<std::string>());
      if (!rel) continue;
      if (!workspace_.gate().check_now(*client_, "subscriptions/listen",
                                       {{OperationKind::ReadFile, *rel, false, std::nullopt}}))
        continue;
      wanted.insert(*rel);
      accepted.push_back(u);
    }
    agreed["resourceSubscriptions"] = std::move(accepted);
  }
  return agreed;
}

// The file watcher's files/changed events as the notifications of the
// subscription `id`: updated for the `wanted` paths, list_changed when
// `list_changes`.
void McpDialect::notify_listener(const json& id, std::shared_ptr<std::set<std::string>> wanted, bool list_changes) {
  if (auto st = workspace_.watcher().start(); !st) spdlog::warn("file watcher: {}", st.error().message);
  std::weak_ptr<Connection> weak = conn_;
  Workspace* ws = &workspace_;
  (void)workspace_.events().subscribe(
      conn_.get(), {"files/changed"},
      [weak, ws, wanted = std::move(wanted), list_changes, id](std::uint64_t, const events::Event& e) {
        auto conn = weak.lock();
        if (!conn || conn->closed()) return;
        const json meta = {{std::string(kMetaSubscription), id}};
        bool changed_list = e.data.value("rescan", false);
        for (const auto& c : e.data["changes"]) {
          const std::string& path = c["path"].get_ref<const std::string&>();
          if (c["type"] != "changed") changed_list = true;
          if (wanted->count(path))
            conn->notify("notifications/resources/updated", {{"uri", ws->uri_of(path)}, {"_meta", meta}});
        }
        if (changed_list && list_changes) conn->notify("notifications/resources/list_changed", {{"_meta", meta}});
      });
}

}  // namespace mcp
}  // namespace icotes
