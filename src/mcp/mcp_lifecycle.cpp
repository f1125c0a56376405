// The MCP dialect's lifecycle (MCP "Lifecycle"): initialize and the
// revision it settles, capabilities, instructions, ping; the client's roots;
// permission questions asked as elicitation/create (MCP 2025-06-18
// "Elicitation"); the client's model lent through sampling/createMessage
// (MCP "Sampling").
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "mcp_dialect.hpp"

namespace icotes {
namespace mcp {

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

// NOLINTNEXTLINE(performance-unnecessary-value-param): the method table's handler type takes the Request by value
void McpDialect::initialize(Request request) {
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
  offer_sampling();
  spdlog::info("MCP client {} asked for {}, speaking {}", client_name_, asked, version_);
  reply(request, *result);
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the method table's handler type takes the Request by value
void McpDialect::ping(Request request) { reply(request, json::object()); }

// MCP "Roots": a client that declares roots is asked for them; one that
// lies outside the served root is told so (an error-level log message
// naming both and the --root to use) rather than served another tree.
void McpDialect::check_client_roots() {
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

// The form a permission question is asked with (MCP 2025-06-18
// "Elicitation", also 2026-07-28 InputRequiredResult): one required
// string property whose enum is the choices' labels.
json McpDialect::decision_schema(const permissions::Question& q) {
  json labels = json::array();
  for (const auto& [choice, label] : q.options) labels.push_back(label);
  return {{"type", "object"},
          {"properties", {{"decision", {{"type", "string"}, {"title", "Permission"}, {"enum", labels}}}}},
          {"required", json::array({"decision"})}};
}

// The choice in a client's ElicitResult: accepted with one of the
// labels; decline, cancel, another label or members of other types are
// no answer.
std::optional<permissions::Choice> McpDialect::decision_of(
    const json& result, const std::vector<std::pair<permissions::Choice, std::string>>& options) {
  if (member_or(result, "action", std::string()) != "accept") return std::nullopt;
  const std::string picked = member_or(member_or(result, "content", json()), "decision", std::string());
  for (const auto& [c, label] : options)
    if (label == picked) return c;
  return std::nullopt;
}

// elicitation/create: decline/cancel/error is no answer.
std::function<void()> McpDialect::elicit(const std::weak_ptr<Connection>& weak, const permissions::Question& q,
                                         std::function<void(std::optional<permissions::Choice>)> answer) {
  auto conn = weak.lock();
  if (!conn) {
    answer(std::nullopt);
    return nullptr;
  }
  const json id =
      conn->call("elicitation/create", {{"message", "icotes: " + q.message}, {"requestedSchema", decision_schema(q)}},
                 [answer = std::move(answer), options = q.options](Result<json> r) {
                   answer(r ? decision_of(*r, options) : std::nullopt);
                 });
  if (id.is_null()) return nullptr;
  return [weak, id] {
    if (auto c = weak.lock()) c->notify("notifications/cancelled", {{"requestId", id}, {"reason", "no longer needed"}});
  };
}

// A client that declared `sampling` (every revision; `sampling.tools` from
// 2025-11-25) lends its model: to its own calls (OperationCall::sample) and,
// through the workspace's registry, to clients without one.
void McpDialect::offer_sampling() {
  sampler_.reset();
  sample_ = nullptr;
  sampling_tools_ = false;
  const json caps = client_caps_.is_object() ? client_caps_.value("sampling", json()) : json();
  if (!caps.is_object()) return;
  sampling_tools_ = at_least("2025-11-25") && caps.contains("tools") && caps["tools"].is_object();
  std::weak_ptr<Connection> weak = conn_;
  sample_ = [weak](const json& params, const CancellationToken& cancel) { return sample(weak, params, cancel); };
  sampler_ = workspace_.samplers().add({client_->name, sample_, sampling_tools_});
  spdlog::info("MCP client {} lends its model (sampling{})", client_name_, sampling_tools_ ? ", with tools" : "");
}

// sampling/createMessage on the client's connection, waited for on the
// calling (worker) thread; the connection's reader delivers the answer. A
// cancelled wait withdraws the request (notifications/cancelled, MCP
// "Cancellation"); a connection that closes fails it (-32800).
Result<json> McpDialect::sample(const std::weak_ptr<Connection>& weak, const json& params,
                                const CancellationToken& cancel) {
  struct Wait {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<Result<json>> answer;
  };
  auto wait = std::make_shared<Wait>();
  json id;
  if (auto conn = weak.lock(); conn && !conn->closed()) {
    id = conn->call("sampling/createMessage", params, [wait](Result<json> r) {
      std::lock_guard lock(wait->mutex);
      wait->answer = std::move(r);
      wait->cv.notify_all();
    });
  }
  if (id.is_null()) return make_error(error_code::kRequestFailed, "the MCP client lending its model is gone");
  std::unique_lock lock(wait->mutex);
  while (!wait->answer) {
    if (cancel.cancelled()) {
      lock.unlock();
      if (auto conn = weak.lock())
        conn->notify("notifications/cancelled", {{"requestId", id}, {"reason", "cancelled"}});
      return make_error(error_code::kRequestCancelled, "sampling/createMessage cancelled");
    }
    if (weak.expired()) return make_error(error_code::kRequestFailed, "the MCP client lending its model is gone");
    wait->cv.wait_for(lock, std::chrono::milliseconds(20));
  }
  return std::move(*wait->answer);
}

}  // namespace mcp

std::optional<json> mcp_initialize_result(const json& params, std::string_view root) {
  if (!params.is_object() || !params.contains("protocolVersion") || !params["protocolVersion"].is_string())
    return std::nullopt;
  const std::string version = mcp::negotiate_version(params["protocolVersion"].get<std::string>());
  json info = {{"name", "icotes"}, {"version", ICOTES_VERSION}};
  if (version >= "2025-06-18") info["title"] = "icotes workspace sidecar";
  return json{{"protocolVersion", version},
              {"capabilities", mcp::capabilities_for(version)},
              {"serverInfo", std::move(info)},
              {"instructions", mcp::instructions_for(root)}};
}

}  // namespace icotes
