// The MCP dialect's class, private to src/mcp/: revisions 2024-11-05,
// 2025-03-26, 2025-06-18 and 2025-11-25 through initialize, 2026-07-28 per
// request (schemas in specs/mcp/<version>/schema.json). Its members live in
// one file per part of the protocol:
//  - mcp_session.cpp: the method table and dispatch, notifications, replies,
//    logging (logging/setLevel, notifications/message);
//  - mcp_lifecycle.cpp: initialize, ping, version negotiation, capabilities,
//    roots, permission questions as elicitation, the client's model lent
//    through sampling/createMessage;
//  - mcp_tools.cpp: tools/list (the listed schemas) and tools/call;
//  - mcp_resources.cpp: resources/list, read, templates/list, subscribe and
//    unsubscribe, completion of the file template's path;
//  - mcp_stateless.cpp: 2026-07-28 (server/discover, _meta per request,
//    input_required, subscriptions/listen).
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/mcp.hpp"
#include "icotes/session.hpp"

namespace icotes::mcp {

// The attached editors' contexts as a resource (README "Editor context").
inline constexpr const char* kEditorContextUri = "icotes://editor/context";

// The revisions served through initialize, newest first.
inline constexpr std::array<std::string_view, 4> kVersions = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
// MCP 2026-07-28 has no initialize: every request names the revision and the
// client's capabilities in its _meta ("stateless" requests).
inline constexpr std::string_view kStateless = "2026-07-28";
inline constexpr std::string_view kMetaVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view kMetaCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view kMetaSubscription = "io.modelcontextprotocol/subscriptionId";
// MCP 2026-07-28 error codes.
inline constexpr int kUnsupportedProtocolVersion = -32022;
inline constexpr std::size_t kToolsPageSize = 100;
inline constexpr std::size_t kResourcesPageSize = 200;
inline constexpr std::size_t kCompletionMax = 100;  // MCP: at most 100 values

/// The index of an RFC 5424 severity as MCP LoggingLevel ("debug" 0 to
/// "emergency" 7), -1 for another name.
int level_index(std::string_view level);

/// MCP "Lifecycle", version negotiation: the client's revision when this
/// server speaks it, else the newest this server speaks.
std::string negotiate_version(const std::string& asked);
/// ServerCapabilities for a negotiated revision.
json capabilities_for(std::string_view version);
/// InitializeResult.instructions for the workspace at `root` (empty: not
/// known yet).
std::string instructions_for(std::string_view root);

class McpDialect final : public Dialect, public std::enable_shared_from_this<McpDialect> {
 public:
  McpDialect(Workspace& workspace, std::shared_ptr<Connection> connection, const SessionOptions& options);

  std::string_view name() const override { return "mcp"; }
  void on_request(Request request) override;
  void on_close() override;
  void on_notification(const std::string& method, const json& params) override;

 private:
  // The method table (mcp_session.cpp): which handler serves a method, and
  // in which mode.
  using Handler = void (McpDialect::*)(Request);
  enum Where : unsigned {
    kSession = 1,     // after initialize (2024-11-05 to 2025-11-25)
    kPerRequest = 2,  // 2026-07-28, _meta in each request
    kAnyTime = 4,     // also before initialize; params not checked
  };
  struct Method {
    std::string_view name;
    Handler handler;
    unsigned where;
  };
  static const Method* find_method(std::string_view name, Where where);

  bool at_least(std::string_view version) const { return version_ >= version; }  // ISO dates order as strings
  void reply(const Request& r, json result);
  void log(const Request& r, std::string_view level, json data);
  void set_level(Request request);

  // mcp_lifecycle.cpp
  void initialize(Request request);
  void ping(Request request);
  json capabilities() const { return capabilities_for(version_); }
  std::string instructions() const { return instructions_for(workspace_.root().path()); }
  void check_client_roots();
  static json decision_schema(const permissions::Question& q);
  static std::optional<permissions::Choice> decision_of(
      const json& result, const std::vector<std::pair<permissions::Choice, std::string>>& options);
  static std::function<void()> elicit(const std::weak_ptr<Connection>& weak, const permissions::Question& q,
                                      std::function<void(std::optional<permissions::Choice>)> answer);
  void offer_sampling();
  static Result<json> sample(const std::weak_ptr<Connection>& weak, const json& params,
                             const CancellationToken& cancel);

  // mcp_tools.cpp
  json tool_json(const Operation& op) const;
  std::vector<const Operation*> offered_tools() const;
  static std::optional<std::size_t> parse_cursor(const json& params);
  void tools_list(Request request);
  json tool_error(const std::string& message) const;
  json tool_result(const Operation& op, json& value) const;
  const Operation* offered_tool(const Request& request) const;
  void tools_call(Request request);

  // mcp_resources.cpp
  json resource_json(const std::string& rel) const;
  void listen_for_file_changes();
  void resources_subscribe(Request request);
  void resources_list(Request request);
  void templates_list(Request request);
  void resources_read(Request request);
  void complete(Request request);

  // mcp_stateless.cpp
  static const json* stateless_meta(const json& params);
  void stateless(Request request, const json* meta);
  bool forget_stateless(const Request& r);
  static json supported_versions();
  void discover(Request request);
  std::shared_ptr<permissions::ClientState> stateless_client(const Request& request);
  void listen(Request request);
  json listen_agreement(const json& filter, std::set<std::string>& wanted);
  void notify_listener(const json& id, std::shared_ptr<std::set<std::string>> wanted, bool list_changes);

  Workspace& workspace_;
  std::shared_ptr<Connection> conn_;
  const Registry& registry_;
  const ClientProfile profile_;
  bool full_schemas_ = false;  // --full-tool-schemas, or [mcp] full_tool_schemas
  ToolFilter tools_;           // the tool groups this client is offered
  std::string version_;        // negotiated; empty before initialize
  json client_caps_;
  std::string client_name_;
  std::atomic<int> min_level_{level_index("warning")};
  bool initialized_ = false;
  std::shared_ptr<permissions::ClientState> client_ = std::make_shared<permissions::ClientState>();
  // The client's model, when it declared `sampling` (null otherwise), and
  // `sampling.tools`; registered with the workspace while the session lasts.
  SamplerRegistry::SampleFn sample_;
  bool sampling_tools_ = false;
  SamplerRegistry::Handle sampler_;
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

}  // namespace icotes::mcp
