// The MCP dialect's core: the method table and dispatch, notifications,
// replies and logging. The parts of the protocol are in the files
// mcp_dialect.hpp lists.
#include <spdlog/spdlog.h>

#include "mcp_dialect.hpp"

namespace icotes {
namespace mcp {

namespace {
// RFC 5424 severities as MCP LoggingLevel, least severe first.
constexpr std::array<std::string_view, 8> kLevels = {"debug", "info",     "notice", "warning",
                                                     "error", "critical", "alert",  "emergency"};
}  // namespace

int level_index(std::string_view level) {
  for (std::size_t i = 0; i < kLevels.size(); ++i) {
    if (kLevels[i] == level) return static_cast<int>(i);
  }
  return -1;
}

McpDialect::McpDialect(Workspace& workspace, std::shared_ptr<Connection> connection, const SessionOptions& options)
    : workspace_(workspace), conn_(std::move(connection)), registry_(*options.registry), profile_(options.profile) {
  // The workspace's `[mcp] tools` narrows what this client is offered.
  std::vector<std::string> warnings;
  tools_ = mcp::tool_filter(profile_,
                            mcp::workspace_tool_groups(workspace_.root().path() + "/.icotes/config.toml", warnings));
  full_schemas_ = profile_.full_tool_schemas ||
                  mcp::workspace_full_tool_schemas(workspace_.root().path() + "/.icotes/config.toml", warnings);
  for (const auto& w : warnings) spdlog::warn("{}", w);
  if (tools_.only && tools_.only->empty())
    spdlog::warn(
        "MCP: no tool is offered: the client's --tools and [mcp] tools in .icotes/config.toml have no group "
        "in common");
}

// Every method this dialect serves (MCP "Lifecycle", "Tools", "Resources",
// "Completion", "Logging"; 2026-07-28 "server/discover" and
// "subscriptions/listen"). Anything else is -32601.
const McpDialect::Method* McpDialect::find_method(std::string_view name, Where where) {
  static constexpr Method kMethods[] = {
      {"initialize", &McpDialect::initialize, kSession | kAnyTime},
      {"ping", &McpDialect::ping, kSession | kAnyTime},
      {"server/discover", &McpDialect::discover, kPerRequest},
      {"subscriptions/listen", &McpDialect::listen, kPerRequest},
      {"tools/list", &McpDialect::tools_list, kSession | kPerRequest},
      {"tools/call", &McpDialect::tools_call, kSession | kPerRequest},
      {"resources/list", &McpDialect::resources_list, kSession | kPerRequest},
      {"resources/templates/list", &McpDialect::templates_list, kSession | kPerRequest},
      {"resources/read", &McpDialect::resources_read, kSession | kPerRequest},
      {"resources/subscribe", &McpDialect::resources_subscribe, kSession},
      {"resources/unsubscribe", &McpDialect::resources_subscribe, kSession},
      {"completion/complete", &McpDialect::complete, kSession | kPerRequest},
      {"logging/setLevel", &McpDialect::set_level, kSession},
  };
  for (const Method& m : kMethods)
    if (m.name == name && (m.where & where)) return &m;
  return nullptr;
}

void McpDialect::on_request(Request request) {
  const std::string& method = request.method();
  // A 2026-07-28 client names the revision in every request: one without
  // it (or with a _meta of another type) is refused, not served as if
  // initialized.
  if (const json* meta = stateless_meta(request.params());
      meta || method == "server/discover" || version_ == kStateless)
    return stateless(std::move(request), meta);
  const Method* m = find_method(method, kSession);
  if (m && (m->where & kAnyTime)) return (this->*m->handler)(std::move(request));
  if (version_.empty())
    return request.fail(make_error(error_code::kServerNotInitialized, "server not initialized: send initialize first"));
  if (!request.params().is_object())
    return request.fail(make_error(error_code::kInvalidParams, method + ": params must be an object"));
  if (!m) return request.fail(make_error(error_code::kMethodNotFound, "method not found: " + method));
  (this->*m->handler)(std::move(request));
}

void McpDialect::on_close() {
  sampler_.reset();  // its model is no longer there to lend
  std::lock_guard lock(stateless_mutex_);
  for (auto& r : listens_) r.drop();  // the stream ended with the connection: no answer
  listens_.clear();
}

void McpDialect::on_notification(const std::string& method, const json& params) {
  if (method == "notifications/cancelled" && params.is_object() && params.contains("requestId")) {
    conn_->cancel_request(params["requestId"]);
  } else if (method == "notifications/initialized") {
    initialized_ = true;
    check_client_roots();
  } else if (method == "notifications/roots/list_changed") {
    check_client_roots();
  }
}

// Every answer goes out here: a 2026-07-28 request's result gets its
// resultType, the server's identity and, for what a client may cache,
// the cache hints (private, stale at once: files change).
void McpDialect::reply(const Request& r, json result) {
  if (forget_stateless(r) && result.is_object()) {
    if (!result.contains("resultType")) result["resultType"] = "complete";
    result["_meta"]["io.modelcontextprotocol/serverInfo"] = {{"name", "icotes"}, {"version", ICOTES_VERSION}};
    const std::string& m = r.method();
    if (m == "tools/list" || m == "resources/list" || m == "resources/templates/list" || m == "resources/read" ||
        m == "server/discover") {
      result["cacheScope"] = "private";
      result["ttlMs"] = 0;
    }
  }
  r.reply(result);
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the method table's handler type takes the Request by value
void McpDialect::set_level(Request request) {
  const auto l = request.params().find("level");
  if (l == request.params().end() || !l->is_string())
    return request.fail(make_error(error_code::kInvalidParams, "logging/setLevel: level (string) is required"));
  const std::string level = l->get<std::string>();
  const int i = level_index(level);
  if (i < 0)
    return request.fail(make_error(error_code::kInvalidParams, "logging/setLevel: unknown level '" + level + "'"));
  min_level_.store(i);
  reply(request, json::object());
}

// notifications/message, when at or above the level the client set.
// About request `r`. 2026-07-28: only when the request asks, at its
// _meta logLevel (logging/setLevel is gone); earlier: at the level set.
void McpDialect::log(const Request& r, std::string_view level, json data) {
  int threshold = min_level_.load();
  if (version_ == kStateless) {
    const json* meta = stateless_meta(r.params());
    const auto wanted = meta ? meta->find("io.modelcontextprotocol/logLevel") : json::const_iterator();
    if (!meta || wanted == meta->end() || !wanted->is_string()) return;
    threshold = level_index(wanted->get<std::string>());
    if (threshold < 0) return;
  }
  if (level_index(level) < threshold) return;
  conn_->notify("notifications/message",
                {{"level", std::string(level)}, {"logger", "icotes"}, {"data", std::move(data)}});
}

}  // namespace mcp

std::shared_ptr<Dialect> make_mcp_dialect(Workspace& workspace, std::shared_ptr<Connection> connection,
                                          const SessionOptions& options) {
  return std::make_shared<mcp::McpDialect>(workspace, std::move(connection), options);
}

}  // namespace icotes
