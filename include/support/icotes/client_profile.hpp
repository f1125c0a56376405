// What one client asked for on its own command line (or in an attach
// message), as opposed to what the workspace's config says: its permission
// mode and rules, how much text a tool result may carry, whether MCP results
// carry structuredContent, which tool groups it is offered. Every
// connection has one; a shared daemon serves clients with different
// profiles from one workspace (README "One daemon per workspace").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes {

/// Text an MCP tool returns by default, in bytes (about 8k tokens): every
/// tool's paging defaults keep its text within this.
inline constexpr std::size_t kDefaultToolResultBytes = 32 * 1024;
/// The most text one MCP tool result may carry whatever its parameters, in
/// bytes, unless the client raised it with --max-result-bytes. Hosts reject
/// or cut larger results (Claude Code: 25,000 tokens by default).
inline constexpr std::size_t kMaxToolResultBytes = 100 * 1024;

/// Tool groups a client may be offered (`--tools files,search,...`).
inline const std::vector<std::string>& tool_group_names() {
  static const std::vector<std::string> names = {"files",    "search",    "git",   "exec",
                                                 "terminal", "workspace", "agent", "events"};
  return names;
}

struct ClientProfile {
  /// `--permission-mode` ("default", "acceptEdits", "readOnly", "bypass");
  /// nullopt: the workspace's.
  std::optional<std::string> permission_mode;
  /// `--allow` / `--deny` rule texts, added to the workspace's rules.
  std::vector<std::string> allow, deny;
  /// `--max-result-bytes`: the cap on one MCP tool result's text (bytes).
  std::size_t max_result_bytes = kMaxToolResultBytes;
  /// `--structured-output`: MCP tools declare outputSchema and results carry
  /// structuredContent (with every text member) besides the text content.
  bool structured_output = false;
  /// `--tools`: the groups offered over MCP; empty: all of them.
  std::vector<std::string> tool_groups;
  /// `--full-tool-schemas`: MCP tools/list gives each tool's whole input
  /// schema (every parameter, every bound) rather than the short form
  /// (mcp::listed_input_schema).
  bool full_tool_schemas = false;
};

/// The profile as JSON (camelCase members; defaults left out), for the
/// launcher's attach message.
json to_json(const ClientProfile& profile);
/// Reads a profile written by to_json(). Errors (kInvalidParams): a member
/// of the wrong type, an unknown tool group, max_result_bytes below 1 KiB.
Result<ClientProfile> client_profile_from_json(const json& value);

}  // namespace icotes
