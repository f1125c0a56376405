// What the MCP dialect (src/mcp/) makes of operations: the tool groups a
// client is offered (src/mcp/mcp_tools.cpp; README "Connecting AI hosts").
// The text block a model reads for a result, its cut at the client's cap and
// the listed tool schema are the ops layer's (icotes/model_text.hpp), shared
// with the agent loop's tools.
//
// Hosts hand their model either the text content or the JSON of
// structuredContent, never both (Claude Code, Codex and VS Code prefer the
// structured JSON; Gemini CLI and Zed read only the text): so by default a
// tools/call result is one text block (plus image blocks), and structured
// output is the client's opt-in (ClientProfile::structured_output).
#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/client_profile.hpp"
#include "icotes/json.hpp"
#include "icotes/model_text.hpp"
#include "icotes/operation.hpp"

namespace icotes::mcp {

/// Which tool groups one MCP client is offered.
struct ToolFilter {
  /// Nullopt: every group; else only these.
  std::optional<std::set<std::string>> only;
  /// False for the "events" group always: its notifications (icotes/event)
  /// are not MCP's, and MCP clients drop them. A group no client can name
  /// (test operations) is offered only when nothing is narrowed.
  bool offers(std::string_view group) const;
};

/// The filter for a client: its --tools (every group when empty), narrowed
/// by `workspace_groups` (the workspace's `[mcp] tools`, nullopt when it
/// names none), which can only narrow: a repository's config never offers
/// what the client's command line left out.
ToolFilter tool_filter(const ClientProfile& profile, const std::optional<std::vector<std::string>>& workspace_groups);

/// The `[mcp] tools` list of the workspace's config file at `config_path`
/// (.icotes/config.toml): nullopt when the file or the key is absent.
/// Unknown group names are dropped with a message in `warnings`, as is a
/// value that is not an array of strings, or a file that is not valid TOML
/// (then nothing is narrowed).
std::optional<std::vector<std::string>> workspace_tool_groups(const std::string& config_path,
                                                              std::vector<std::string>& warnings);

/// `full_tool_schemas` under `[mcp]` in the workspace's config file at
/// `config_path`: true lists every tool's whole input schema to every MCP
/// client of the workspace, as `serve --full-tool-schemas` does for one.
/// False when the file or the key is absent; a value that is not a boolean,
/// or a file that is not valid TOML, is false with a message in `warnings`.
bool workspace_full_tool_schemas(const std::string& config_path, std::vector<std::string>& warnings);

}  // namespace icotes::mcp
