// The MCP dialect: revisions 2024-11-05, 2025-03-26, 2025-06-18 and
// 2025-11-25 (schemas in specs/mcp/<version>/schema.json).
// Lifecycle, ping, tools (the registry's operations in the groups this client
// is offered; results as text a model reads, include/dialects/icotes/mcp.hpp),
// resources (workspace files as file:// URIs), completion of the file
// template's path, logging, progress and cancellation.
#include <nettle/base64.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <mutex>
#include <set>

#include "icotes/mcp.hpp"
#include "icotes/session.hpp"

namespace icotes {
namespace {

// The attached editors' contexts as a resource (README "Editor context").
constexpr const char* kEditorContextUri = "icotes://editor/context";

constexpr std::array<std::string_view, 4> kVersions = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
// MCP 2026-07-28 has no initialize: every request names the revision and the
// client's capabilities in its _meta ("stateless" requests).
constexpr std::string_view kStateless = "2026-07-28";
constexpr std::string_view kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr std::string_view kMetaCapabilities = "io.modelcontextprotocol/clientCapabilities";
constexpr std::string_view kMetaSubscription = "io.modelcontextprotocol/subscriptionId";
// MCP 2026-07-28 error codes.
constexpr int kUnsupportedProtocolVersion = -32022;
constexpr std::size_t kToolsPageSize = 100;
constexpr std::size_t kResourcesPageSize = 200;
constexpr std::size_t kCompletionMax = 100;  // MCP: at most 100 values

// RFC 5424 severities as MCP LoggingLevel, least severe first.
constexpr std::array<std::string_view, 8> kLevels = {"debug", "info",     "notice", "warning",
                                                     "error", "critical", "alert",  "emergency"};
int level_index(std::string_view level) {
  for (std::size_t i = 0; i < kLevels.size(); ++i) {
    if (kLevels[i] == level) return static_cast<int>(i);
  }
  return -1;
}

std::string base64(std::string_view bytes) {
  // RFC 4648 section 4 (padded), as MCP BlobResourceContents.blob wants.
  std::string out(BASE64_ENCODE_RAW_LENGTH(bytes.size()), '\0');
  base64_encode_raw(reinterpret_cast<char*>(out.data()), bytes.size(),
                    reinterpret_cast<const std::uint8_t*>(bytes.data()));
  return out;
}

// notifications/progress (MCP "Progress").
class McpProgress final : public Progress {
 public:
  McpProgress(std::shared_ptr<Connection> conn, json token, bool with_message)
      : conn_(std::move(conn)), token_(std::move(token)), with_message_(with_message) {}
  void report(std::string_view message, double done, double total) override {
    if (done <= last_) return;  // progress MUST increase
    last_ = done;
    json p = {{"progressToken", token_}, {"progress", done}};
    if (total > 0) p["total"] = total;
    if (with_message_ && !message.empty()) p["message"] = std::string(message);
    conn_->notify("notifications/progress", p);
  }

 private:
  std::shared_ptr<Connection> conn_;
  json token_;
  bool with_message_;
  double last_ = -1;
};

// MCP "Lifecycle", version negotiation: the client's revision when this
// server speaks it, else the newest this server speaks.
std::string negotiate_version(const std::string& asked) {
  for (auto v : kVersions)
    if (v == asked) return asked;
  return std::string(kVersions.front());
}

json capabilities_for(std::string_view version) {
  json caps = {{"tools", {{"listChanged", false}}},
               {"resources", {{"subscribe", true}, {"listChanged", true}}},
               {"logging", json::object()}};
  if (version >= "2025-03-26") caps["completions"] = json::object();  // ISO dates order as strings
  return caps;
}

std::string instructions_for(std::string_view root) {
  const std::string where =
      root.empty() ? std::string("the folder of the client's first root (roots/list)") : std::string(root);
  return "icotes serves the workspace at " + where +
         ". Paths are relative to it (or absolute inside it). read_file returns a sha256 to pass as expectedSha256 "
         "when writing; edit_file replaces exact text and returns a diff.";
}

class McpDialect final : public Dialect, public std::enable_shared_from_this<McpDialect> {
 public:
  McpDialect(Workspace& workspace, std::shared_ptr<Connection> connection, const SessionOptions& options)
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

  std::string_view name() const override { return "mcp"; }

  void on_request(Request request) override {
    const std::string& method = request.method();
    // A 2026-07-28 client names the revision in every request: one without
    // it (or with a _meta of another type) is refused, not served as if
    // initialized.
    if (const json* meta = stateless_meta(request.params());
        meta || method == "server/discover" || version_ == kStateless)
      return stateless(std::move(request), meta);
    if (method == "initialize") return initialize(request);
    if (method == "ping") return reply(request, json::object());
    if (version_.empty())
      return request.fail(
          make_error(error_code::kServerNotInitialized, "server not initialized: send initialize first"));
    if (!request.params().is_object())
      return request.fail(make_error(error_code::kInvalidParams, method + ": params must be an object"));
    if (method == "tools/list") return tools_list(request);
    if (method == "tools/call") return tools_call(std::move(request));
    if (method == "resources/list") return resources_list(std::move(request));
    if (method == "resources/templates/list") return templates_list(request);
    if (method == "resources/read") return resources_read(std::move(request));
    if (method == "resources/subscribe" || method == "resources/unsubscribe") return resources_subscribe(request);
    if (method == "completion/complete") return complete(std::move(request));
    if (method == "logging/setLevel") return set_level(request);
    request.fail(make_error(error_code::kMethodNotFound, "method not found: " + method));
  }

  void on_close() override {
    std::lock_guard lock(stateless_mutex_);
    for (auto& r : listens_) r.drop();  // the stream ended with the connection: no answer
    listens_.clear();
  }

  void on_notification(const std::string& method, const json& params) override {
    if (method == "notifications/cancelled" && params.is_object() && params.contains("requestId")) {
      conn_->cancel_request(params["requestId"]);
    } else if (method == "notifications/initialized") {
      initialized_ = true;
      check_client_roots();
    } else if (method == "notifications/roots/list_changed") {
      check_client_roots();
    }
  }

 private:
  bool at_least(std::string_view version) const { return version_ >= version; }  // ISO dates order as strings

  static const json* stateless_meta(const json& params) {
    if (!params.is_object()) return nullptr;
    auto meta = params.find("_meta");
    if (meta == params.end() || !meta->is_object() || !meta->contains(kMetaVersion)) return nullptr;
    return &*meta;
  }

  // A 2026-07-28 request: the revision and client capabilities come with it
  // (RequestMetaObject), results carry resultType and, for lists and reads,
  // cache hints (CacheableResult). Permission questions cannot be asked
  // back (no server-to-client requests yet): what needs asking is denied
  // with how to allow it.
  void stateless(Request request, const json* meta) {
    const std::string& method = request.method();
    if (!meta)
      return request.fail(make_error(error_code::kInvalidParams, method + ": params._meta with " +
                                                                     std::string(kMetaVersion) + " and " +
                                                                     std::string(kMetaCapabilities) + " is required"));
    const json& v = (*meta)[std::string(kMetaVersion)];
    if (!v.is_string() || v.get<std::string>() != kStateless) {
      json supported = json::array({std::string(kStateless)});
      return request.fail(
          make_error(kUnsupportedProtocolVersion,
                     "unsupported protocol version " + v.dump() + " in _meta: this server speaks " +
                         std::string(kStateless) + " per request (older revisions through initialize)",
                     {{"requested", v.is_string() ? v.get<std::string>() : v.dump()}, {"supported", supported}}));
    }
    if (auto caps = meta->find(kMetaCapabilities); caps == meta->end() || !caps->is_object())
      return request.fail(make_error(error_code::kInvalidParams, method + ": _meta." + std::string(kMetaCapabilities) +
                                                                     " (an object) is required"));
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
    if (method == "server/discover")
      return reply(request, json{{"supportedVersions", supported_versions()},
                                 {"capabilities", capabilities()},
                                 {"instructions", instructions()}});
    if (method == "subscriptions/listen") return listen(std::move(request));
    if (method == "tools/list") return tools_list(request);
    if (method == "tools/call") return tools_call(std::move(request));
    if (method == "resources/list") return resources_list(std::move(request));
    if (method == "resources/templates/list") return templates_list(request);
    if (method == "resources/read") return resources_read(std::move(request));
    if (method == "completion/complete") return complete(std::move(request));
    forget_stateless(request);
    request.fail(
        make_error(error_code::kMethodNotFound, "method not found in " + std::string(kStateless) + ": " + method));
  }

  bool forget_stateless(const Request& r) {
    std::lock_guard lock(stateless_mutex_);
    return stateless_ids_.erase(r.id().dump()) > 0;
  }

  // Every answer goes out here: a 2026-07-28 request's result gets its
  // resultType, the server's identity and, for what a client may cache,
  // the cache hints (private, stale at once: files change).
  void reply(const Request& r, json result) {
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

  static json supported_versions() {
    json v = json::array({std::string(kStateless)});
    for (auto k : kVersions) v.push_back(std::string(k));
    return v;
  }

  json capabilities() const { return capabilities_for(version_); }
  std::string instructions() const { return instructions_for(workspace_.root().path()); }

  // MCP "Roots": a client that declares roots is asked for them; one that
  // lies outside the served root is told so (an error-level log message
  // naming both and the --root to use) rather than served another tree.
  void check_client_roots() {
    if (!client_caps_.is_object() || !client_caps_.contains("roots")) return;
    std::weak_ptr<Connection> weak = conn_;
    Workspace* ws = &workspace_;
    conn_->call("roots/list", json::object(), [weak, ws](Result<json> r) {
      auto conn = weak.lock();
      if (!conn || !r || !r->is_object() || !r->contains("roots") || !(*r)["roots"].is_array()) return;
      for (const auto& root : (*r)["roots"]) {
        if (!root.is_object() || !root.contains("uri") || !root["uri"].is_string()) continue;
        const std::string uri = root["uri"].get<std::string>();
        if (uri.rfind("file://", 0) != 0) continue;
        auto rel = ws->rel_of_uri(uri);
        if (rel || rel.error().code != error_code::kOutsideWorkspace) continue;
        spdlog::warn("MCP client root {} lies outside {}", uri, ws->root().path());
        conn->notify(
            "notifications/message",
            {{"level", "error"},
             {"logger", "icotes"},
             {"data", "your root " + uri + " lies outside the workspace this icotes serves (" + ws->root().path() +
                          "): its files are not served here; start icotes with --root set to that folder"}});
      }
    });
  }

  // The permission state of one 2026-07-28 tools/call. A question cannot
  // be sent as a request of the server's: it becomes the call's result,
  // input_required with an elicitation/create form, and the client retries
  // the call with the user's answer in inputResponses.permission (MCP
  // 2026-07-28 InputRequiredResult). Clients without the elicitation
  // capability are not asked (denied with how to allow).
  std::shared_ptr<permissions::ClientState> stateless_client(const Request& request) {
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
  void listen(Request request) {
    const json filter = request.params().value("notifications", json::object());
    json agreed = json::object();
    auto wanted = std::make_shared<std::set<std::string>>();
    if (filter.is_object()) {
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
          wanted->insert(*rel);
          accepted.push_back(u);
        }
        agreed["resourceSubscriptions"] = std::move(accepted);
      }
    }
    const json id = request.id();
    forget_stateless(request);
    const bool list_changes = agreed.value("resourcesListChanged", false);
    if (list_changes || !wanted->empty()) {
      if (auto st = workspace_.watcher().start(); !st) spdlog::warn("file watcher: {}", st.error().message);
      std::weak_ptr<Connection> weak = conn_;
      Workspace* ws = &workspace_;
      (void)workspace_.events().subscribe(
          conn_.get(), {"files/changed"}, [weak, ws, wanted, list_changes, id](std::uint64_t, const events::Event& e) {
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
    // Acknowledged once the watches are in place and the subscription is
    // made: a change the client makes after the acknowledgement is seen.
    conn_->notify("notifications/subscriptions/acknowledged",
                  {{"notifications", agreed}, {"_meta", {{std::string(kMetaSubscription), id}}}});
    std::lock_guard lock(stateless_mutex_);
    listens_.push_back(std::move(request));
  }

  // The form a permission question is asked with (MCP 2025-06-18
  // "Elicitation", also 2026-07-28 InputRequiredResult): one required
  // string property whose enum is the choices' labels.
  static json decision_schema(const permissions::Question& q) {
    json labels = json::array();
    for (const auto& [choice, label] : q.options) labels.push_back(label);
    return {{"type", "object"},
            {"properties", {{"decision", {{"type", "string"}, {"title", "Permission"}, {"enum", labels}}}}},
            {"required", json::array({"decision"})}};
  }

  // The choice in a client's ElicitResult: accepted with one of the
  // labels; decline, cancel, another label or members of other types are
  // no answer.
  static std::optional<permissions::Choice> decision_of(
      const json& result, const std::vector<std::pair<permissions::Choice, std::string>>& options) {
    if (member_or(result, "action", std::string()) != "accept") return std::nullopt;
    const std::string picked = member_or(member_or(result, "content", json()), "decision", std::string());
    for (const auto& [c, label] : options)
      if (label == picked) return c;
    return std::nullopt;
  }

  // elicitation/create: decline/cancel/error is no answer.
  static std::function<void()> elicit(const std::weak_ptr<Connection>& weak, const permissions::Question& q,
                                      std::function<void(std::optional<permissions::Choice>)> answer) {
    auto conn = weak.lock();
    if (!conn) {
      answer(std::nullopt);
      return nullptr;
    }
    const json id = conn->call(
        "elicitation/create", {{"message", "icotes: " + q.message}, {"requestedSchema", decision_schema(q)}},
        [answer, options = q.options](Result<json> r) { answer(r ? decision_of(*r, options) : std::nullopt); });
    if (id.is_null()) return nullptr;
    return [weak, id] {
      if (auto c = weak.lock())
        c->notify("notifications/cancelled", {{"requestId", id}, {"reason", "no longer needed"}});
    };
  }

  void initialize(const Request& request) {
    const json& p = request.params();
    // The same answer `serve` gives an MCP client it asks for roots first.
    auto result = mcp_initialize_result(p, workspace_.root().path());
    if (!result)
      return request.fail(make_error(error_code::kInvalidParams, "initialize: protocolVersion (string) is required"));
    const std::string asked = p["protocolVersion"].get<std::string>();
    version_ = (*result)["protocolVersion"].get<std::string>();
    client_caps_ = p.value("capabilities", json::object());
    if (auto info = p.find("clientInfo"); info != p.end() && info->is_object())
      client_name_ = member_or(*info, "name", std::string());
    client_->name = "mcp:" + (client_name_.empty() ? std::string("MCP client") : client_name_);
    client_->settings = connection_settings(workspace_, profile_);  // MCP clients set modes by command-line flags only
    // Questions go out as elicitation (MCP 2025-06-18 and later) when the
    // client declared the capability; else what needs asking is denied.
    if (at_least("2025-06-18") && client_caps_.is_object() && client_caps_.contains("elicitation")) {
      std::weak_ptr<Connection> weak = conn_;
      client_->ask = [weak](const permissions::Question& q,
                            std::function<void(std::optional<permissions::Choice>)> answer) -> std::function<void()> {
        return elicit(weak, q, std::move(answer));
      };
    }
    spdlog::info("MCP client {} asked for {}, speaking {}", client_name_, asked, version_);
    reply(request, *result);
  }

  // Only name, description and inputSchema reach a model; the rest is for
  // the host. Annotations equal to MCP's defaults (ToolAnnotations: not
  // read-only, destructive, not idempotent, open world) are left out, and
  // outputSchema is listed only to clients that asked for structured output.
  json tool_json(const Operation& op) const {
    json t = {{"name", op.mcp_name},
              {"description", op.description},
              {"inputSchema", mcp::listed_input_schema(op, full_schemas_)}};
    if (at_least("2025-03-26")) {
      json a = json::object();
      if (!at_least("2025-06-18")) a["title"] = op.title;  // later revisions: Tool.title
      if (op.annotations.read_only) {
        a["readOnlyHint"] = true;
      } else {
        if (!op.annotations.destructive) a["destructiveHint"] = false;
        if (op.annotations.idempotent) a["idempotentHint"] = true;
      }
      if (!op.annotations.open_world) a["openWorldHint"] = false;
      t["annotations"] = std::move(a);
    }
    if (at_least("2025-06-18")) {
      t["title"] = op.title;
      if (profile_.structured_output) t["outputSchema"] = op.output_schema;
    }
    return t;
  }

  // The tools this client is offered, in id order.
  std::vector<const Operation*> offered_tools() const {
    std::vector<const Operation*> out;
    for (const Operation* op : registry_.all())
      if (tools_.offers(mcp::tool_group(*op))) out.push_back(op);
    return out;
  }

  // Opaque cursors: the decimal index of the next item.
  static std::optional<std::size_t> parse_cursor(const json& params) {
    auto it = params.find("cursor");
    if (it == params.end() || it->is_null()) return 0;
    if (!it->is_string()) return std::nullopt;
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) return std::nullopt;
    return std::stoul(s);
  }

  void tools_list(const Request& request) {
    auto start = parse_cursor(request.params());
    const auto ops = offered_tools();
    if (!start || *start > ops.size())
      return request.fail(make_error(error_code::kInvalidParams, "tools/list: invalid cursor"));
    json tools = json::array();
    const std::size_t end = std::min(ops.size(), *start + kToolsPageSize);
    for (std::size_t i = *start; i < end; ++i) tools.push_back(tool_json(*ops[i]));
    json result = {{"tools", std::move(tools)}};
    if (end < ops.size()) result["nextCursor"] = std::to_string(end);
    reply(request, result);
  }

  // A failed call: isError and the message as plain text, which starts with
  // "Error:" for the hosts that do not tell their model about isError (Codex).
  json tool_error(const std::string& message) const {
    std::string text = message.rfind("Error", 0) == 0 ? message : "Error: " + message;
    return {{"content", json::array({{{"type", "text"}, {"text", std::move(text)}}})}, {"isError", true}};
  }

  // A finished call's CallToolResult: the whole result as one text block
  // (the operation's renderer, else mcp::render_text), cut at the client's
  // cap as a safety net (operations page themselves within it), then an
  // image block for a top-level "image"; structuredContent (the complete
  // result) only for a client that asked for structured output.
  json tool_result(const Operation& op, json& value) const {
    // A longer text is cut at the cap (0: none): the generic text stops there.
    const std::size_t cap = profile_.max_result_bytes == 0 ? std::string::npos : profile_.max_result_bytes;
    const bool structured = profile_.structured_output && at_least("2025-06-18");
    std::string text;
    try {
      mcp::expand_raw_parts(value);
      text = op.mcp_text ? op.mcp_text(value) : mcp::render_text(value, op.mcp_text_field, cap);
    } catch (const std::exception& e) {
      spdlog::error("{}: rendering the result as text failed ({}); sent as key: value lines", op.mcp_name, e.what());
      text = mcp::render_text(value, op.mcp_text_field, cap);
    }
    if (text.size() > cap) {
      const std::string note = mcp::cut_note(op, cap);
      text = mcp::cut_text(std::move(text), cap, note);
    }
    json content = json::array({{{"type", "text"}, {"text", std::move(text)}}});
    if (auto image = value.is_object() ? value.find("image") : value.end();
        image != value.end() && image->is_object() && image->contains("data") && (*image)["data"].is_string() &&
        image->contains("mimeType") && (*image)["mimeType"].is_string()) {
      json data = structured ? (*image)["data"] : std::move((*image)["data"]);  // base64, maybe large: once
      content.push_back({{"type", "image"}, {"data", std::move(data)}, {"mimeType", (*image)["mimeType"]}});
    }
    json out = {{"content", std::move(content)}};
    if (structured) out["structuredContent"] = std::move(value);
    return out;
  }

  void tools_call(Request request) {
    const json& p = request.params();
    if (!p.contains("name") || !p["name"].is_string())
      return request.fail(make_error(error_code::kInvalidParams, "tools/call: name (string) is required"));
    const std::string tool = p["name"].get<std::string>();
    const Operation* op = registry_.find_by_mcp_name(tool);
    if (!op || mcp::tool_group(*op) == "events")
      return request.fail(
          make_error(error_code::kInvalidParams, "tools/call: unknown tool '" + tool + "'; tools/list lists them"));
    if (!tools_.offers(mcp::tool_group(*op)))
      return request.fail(make_error(error_code::kInvalidParams,
                                     "tools/call: tool '" + tool + "' (group " + std::string(mcp::tool_group(*op)) +
                                         ") is not offered to this client (icotes serve --tools, or [mcp] tools in "
                                         ".icotes/config.toml); tools/list lists the tools offered"));
    json args = p.value("arguments", json::object());
    if (!args.is_object()) return reply(request, tool_error(tool + ": arguments must be an object"));
    OperationCall call;
    call.op = op;
    call.params = std::move(args);
    if (p.contains("_meta") && p["_meta"].is_object() && p["_meta"].contains("progressToken")) {
      call.progress = std::make_shared<McpProgress>(conn_, p["_meta"]["progressToken"], at_least("2025-03-26"));
    }
    const auto started = std::chrono::steady_clock::now();
    // The dialect lives as long as the calls it started: a session can end
    // (its client gone) while one of them still runs on a worker.
    call.respond = [this, self = shared_from_this(), op, started](const Request& r, Result<json> result) {
      const auto ms =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count() /
          1000.0;
      if (!result) {
        log(r, "warning", {{"tool", op->mcp_name}, {"error", result.error().message}});
        // Tool failures are results the model can act on (MCP "Error Handling").
        return reply(r, tool_error(result.error().message));
      }
      log(r, "debug", {{"tool", op->mcp_name}, {"ms", ms}});
      reply(r, tool_result(*op, *result));
    };
    call.cancelled = [this, self = shared_from_this()](const Request& r) {
      forget_stateless(r);
      r.drop();  // MCP: no response to a cancelled request
    };
    call.client = version_ == kStateless ? stateless_client(request) : client_;
    call.max_result_bytes = profile_.max_result_bytes;
    call.structured_output = profile_.structured_output && at_least("2025-06-18");
    run_operation(workspace_, registry_, std::move(request), std::move(call));
  }

  json resource_json(const std::string& rel) const {
    const std::size_t slash = rel.rfind('/');
    json r = {{"uri", workspace_.uri_of(rel)},
              {"name", slash == std::string::npos ? rel : rel.substr(slash + 1)},
              {"mimeType", files::mime_type_for(rel, false)}};
    if (at_least("2025-06-18")) r["title"] = rel;
    r["description"] = rel;
    return r;
  }

  // resources/subscribe and resources/updated, resources/list_changed (MCP
  // "Resources": subscriptions, list changed) come from the file watcher's
  // files/changed events; this session listens once it has listed or
  // subscribed to resources.
  void listen_for_file_changes() {
    {
      // Not held while subscribing: the sink takes it under the broker's
      // delivery lock, the other way round.
      std::lock_guard lock(watch_->mutex);
      if (watch_->listening) return;
      watch_->listening = true;
    }
    if (auto st = workspace_.watcher().start(); !st) spdlog::warn("file watcher: {}", st.error().message);
    std::weak_ptr<Connection> weak = conn_;
    std::weak_ptr<WatchState> state = watch_;
    Workspace* ws = &workspace_;
    (void)workspace_.events().subscribe(
        conn_.get(), {"files/changed"}, [weak, state, ws](std::uint64_t, const events::Event& e) {
          auto conn = weak.lock();
          auto st = state.lock();
          if (!conn || !st || conn->closed()) return;
          bool list_changed = e.data.value("rescan", false);
          std::vector<std::string> updated;
          {
            std::lock_guard held(st->mutex);
            for (const auto& c : e.data["changes"]) {
              const std::string& path = c["path"].get_ref<const std::string&>();
              if (c["type"] != "changed") list_changed = true;
              if (st->uris.count(path)) updated.push_back(path);
            }
          }
          for (const auto& path : updated) conn->notify("notifications/resources/updated", {{"uri", ws->uri_of(path)}});
          if (list_changed) conn->notify("notifications/resources/list_changed", json::object());
        });
  }

  void resources_subscribe(const Request& request) {
    const json& p = request.params();
    if (!p.contains("uri") || !p["uri"].is_string())
      return request.fail(make_error(error_code::kInvalidParams, request.method() + ": uri (string) is required"));
    auto rel = workspace_.rel_of_uri(p["uri"].get<std::string>());
    if (!rel) return request.fail(rel.error());
    if (request.method() == "resources/unsubscribe") {
      std::lock_guard lock(watch_->mutex);
      watch_->uris.erase(*rel);
      return reply(request, json::object());
    }
    // Updates tell what changed in a file: as much a read as reading it.
    if (auto st = workspace_.gate().check_now(*client_, "resources/subscribe",
                                              {{OperationKind::ReadFile, *rel, false, std::nullopt}});
        !st)
      return request.fail(st.error());
    {
      std::lock_guard lock(watch_->mutex);
      watch_->uris.insert(*rel);
    }
    listen_for_file_changes();
    reply(request, json::object());
  }

  void resources_list(Request request) {
    // 2026-07-28 clients opt in to notifications with subscriptions/listen.
    if (version_ != kStateless) listen_for_file_changes();
    // Cursor: the last path of the previous page.
    std::string after;
    if (auto c = request.params().find("cursor"); c != request.params().end() && !c->is_null()) {
      if (!c->is_string())
        return request.fail(make_error(error_code::kInvalidParams, "resources/list: invalid cursor"));
      after = c->get<std::string>();
    }
    workspace_.workers().post([this, self = shared_from_this(), request = std::move(request), after] {
      bool more = false;
      // Files the client may not read are left out.
      const files::Access access{workspace_.gate().read_filter(client_), nullptr};
      auto paths = workspace_.files().list_files(after, kResourcesPageSize, more, &request.token(), access);
      if (!paths) return request.fail(paths.error());
      json resources = json::array();
      for (const auto& p : *paths) resources.push_back(resource_json(p));
      // After the files, on the last page: the editors' context.
      if (!more) {
        json r = {{"uri", kEditorContextUri},
                  {"name", "editor-context"},
                  {"mimeType", "text/plain"},
                  {"description", "What the user's editor shows now: active file, selection, open tabs, diagnostics"}};
        if (at_least("2025-06-18")) r["title"] = "Editor context";
        resources.push_back(std::move(r));
      }
      json result = {{"resources", std::move(resources)}};
      if (more && !paths->empty()) result["nextCursor"] = paths->back();
      reply(request, result);
    });
  }

  void templates_list(const Request& request) {
    json t = {{"uriTemplate", "file://" + percent_encode_path(workspace_.root().path()) +
                                  (workspace_.root().path() == "/" ? "" : "/") + "{+path}"},
              {"name", "workspace-file"},
              {"description", "A file in the workspace at " + workspace_.root().path() + ", by path relative to it"}};
    if (at_least("2025-06-18")) t["title"] = "Workspace file";
    reply(request, {{"resourceTemplates", json::array({std::move(t)})}});
  }

  void resources_read(Request request) {
    const json& p = request.params();
    if (!p.contains("uri") || !p["uri"].is_string())
      return request.fail(make_error(error_code::kInvalidParams, "resources/read: uri (string) is required"));
    workspace_.workers().post([this, self = shared_from_this(), request = std::move(request)] {
      const std::string uri = request.params()["uri"].get<std::string>();
      if (uri == kEditorContextUri) {
        const json editors = workspace_.editor_contexts().list(workspace_.gate().read_filter(client_));
        json item = {{"uri", uri}, {"mimeType", "text/plain"}, {"text", render_editor_context({{"editors", editors}})}};
        return reply(request, {{"contents", json::array({std::move(item)})}});
      }
      auto rel = workspace_.rel_of_uri(uri);
      if (!rel) return request.fail(rel.error());
      if (auto st = workspace_.gate().check_now(*client_, "resources/read",
                                                {{OperationKind::ReadFile, *rel, false, std::nullopt}});
          !st)
        return request.fail(st.error());
      // Judged again where the file opened really is (a symlink may lead elsewhere).
      auto c = workspace_.files().read_resource(*rel, {workspace_.gate().read_filter(client_), nullptr});
      if (!c) {
        Error e = c.error();
        if (e.code == error_code::kNotFound) e.code = -32002;  // MCP "Resource not found"
        e.data = {{"uri", uri}};
        return request.fail(e);
      }
      json item = {{"uri", uri}, {"mimeType", c->mime_type}};
      if (c->binary)
        item["blob"] = base64(c->data);
      else
        item["text"] = std::move(c->data);
      reply(request, {{"contents", json::array({std::move(item)})}});
    });
  }

  void complete(Request request) {
    const json& p = request.params();
    const json ref = p.value("ref", json::object());
    const json arg = p.value("argument", json::object());
    if (!ref.is_object() || !arg.is_object() || !arg.contains("value") || !arg["value"].is_string())
      return request.fail(
          make_error(error_code::kInvalidParams, "completion/complete: ref and argument {name, value} are required"));
    if (member_or(ref, "type", std::string()) != "ref/resource" || member_or(arg, "name", std::string()) != "path") {
      return reply(request, {{"completion", {{"values", json::array()}, {"total", 0}, {"hasMore", false}}}});
    }
    workspace_.workers().post([this, self = shared_from_this(), request = std::move(request),
                               value = arg["value"].get<std::string>()] {
      // Complete one path component: list the directory part, filter by the rest.
      const std::size_t slash = value.rfind('/');
      const std::string dir = slash == std::string::npos ? std::string() : value.substr(0, slash);
      const std::string stem = slash == std::string::npos ? value : value.substr(slash + 1);
      json values = json::array();
      std::size_t total = 0;
      auto listing = workspace_.files().list(dir.empty() ? "." : dir, 1, &request.token(), true,
                                             {workspace_.gate().read_filter(client_), nullptr});
      const bool allowed =
          workspace_.gate()
              .check_now(*client_, "completion/complete", {{OperationKind::ReadFile, dir, false, std::nullopt}})
              .ok();
      if (listing && allowed) {
        for (const auto& e : (*listing)->entries) {
          if (e.path.compare(0, stem.size(), stem) != 0) continue;
          ++total;
          if (values.size() < kCompletionMax)
            values.push_back((dir.empty() ? "" : dir + "/") + e.path + (e.type == "directory" ? "/" : ""));
        }
      }
      reply(request,
            {{"completion", {{"values", std::move(values)}, {"total", total}, {"hasMore", total > kCompletionMax}}}});
    });
  }

  void set_level(const Request& request) {
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
  void log(const Request& r, std::string_view level, json data) {
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

  Workspace& workspace_;
  std::shared_ptr<Connection> conn_;
  const Registry& registry_;
  const ClientProfile profile_;
  bool full_schemas_ = false;  // --full-tool-schemas, or [mcp] full_tool_schemas
  mcp::ToolFilter tools_;      // the tool groups this client is offered
  std::string version_;        // negotiated; empty before initialize
  json client_caps_;
  std::string client_name_;
  std::atomic<int> min_level_{level_index("warning")};
  bool initialized_ = false;
  std::shared_ptr<permissions::ClientState> client_ = std::make_shared<permissions::ClientState>();
  struct WatchState {
    std::mutex mutex;
    bool listening = false;
    std::set<std::string> uris;  // subscribed, as paths relative to the root
  };
  std::shared_ptr<WatchState> watch_ = std::make_shared<WatchState>();
  std::mutex stateless_mutex_;
  std::set<std::string> stateless_ids_;  // 2026-07-28 requests not answered yet (ids dumped)
  std::vector<Request> listens_;         // open subscriptions/listen requests
};

}  // namespace

std::optional<json> mcp_initialize_result(const json& params, std::string_view root) {
  if (!params.is_object() || !params.contains("protocolVersion") || !params["protocolVersion"].is_string())
    return std::nullopt;
  const std::string version = negotiate_version(params["protocolVersion"].get<std::string>());
  json info = {{"name", "icotes"}, {"version", ICOTES_VERSION}};
  if (version >= "2025-06-18") info["title"] = "icotes workspace sidecar";
  return json{{"protocolVersion", version},
              {"capabilities", capabilities_for(version)},
              {"serverInfo", std::move(info)},
              {"instructions", instructions_for(root)}};
}

std::shared_ptr<Dialect> make_mcp_dialect(Workspace& workspace, std::shared_ptr<Connection> connection,
                                          const SessionOptions& options) {
  return std::make_shared<McpDialect>(workspace, std::move(connection), options);
}

}  // namespace icotes
