// What the MCP dialect (src/mcp/) makes of operations: the text block a
// model reads for a result and the safety net that keeps it within the
// client's cap (src/mcp/mcp.cpp), the tool schema a host hands its model and
// the tool groups a client is offered (src/mcp/mcp_tools.cpp; README
// "Connecting AI hosts").
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
#include "icotes/operation.hpp"

namespace icotes::mcp {

/// The text of `result` for an operation without a renderer of its own
/// (Operation::mcp_text), never escaped JSON: scalar members as `key: value`
/// lines (path first, note last), lists and objects as indented lines
/// (`name (N):` then one item per line), strings of several lines as blocks,
/// and the member `text_member` (a file's text, Operation::mcp_text_field),
/// verbatim after a blank line. A top-level "image" {mimeType, data} is named
/// (the dialect sends it as an image block). raw_json() parts must have been
/// expanded (expand_raw_parts); hidden_text() members are left out. Once the
/// text holds more than `limit` bytes no more lines are added (the caller
/// cuts it at its limit anyway).
std::string render_text(const json& result, std::string_view text_member = {}, std::size_t limit = std::string::npos);

/// Replaces every raw_json() and raw_json_source() part of `value` (a search
/// page written while the reply goes out) by the JSON it stands for, so a
/// renderer reads plain values. Values without such parts are left as they
/// are. Throws json::parse_error only for a part that is not valid JSON (a
/// defect of its operation).
void expand_raw_parts(json& value);

/// `text` cut to at most `max_bytes` bytes: at the last line boundary that
/// leaves room for `note` (at a UTF-8 character boundary when one line is
/// longer than that), followed by `note` on a line of its own. Text within
/// `max_bytes` is returned as it is.
std::string cut_text(std::string text, std::size_t max_bytes, std::string_view note);

/// The note cut_text() appends for operation `op` at the client's limit of
/// `max_bytes`: the limit, and the parameters of `op` that ask for less
/// (offset, limit, cursor, max*), e.g. "[icotes: result cut at this client's
/// limit of 102,400 bytes (icotes serve --max-result-bytes). Call read_file
/// again asking for less (offset, limit or maxBytes).]"
std::string cut_note(const Operation& op, std::size_t max_bytes);

/// The input schema as listed in tools/list. Never the "x-..." keys (server
/// annotations for the permission gate). Unless `full` (`icotes serve
/// --full-tool-schemas`): without the keywords that only validate (bounds,
/// lengths, counts, patterns, additionalProperties true/false) and without
/// the properties `op.mcp_hidden` names (rarely used). Every call is still
/// validated against the complete `op.input_schema`: a hidden property is
/// accepted, and a value out of bounds is refused with -32602 naming the
/// bound. Types, enums, defaults in descriptions and required are what a
/// model reads.
json listed_input_schema(const Operation& op, bool full = false);

/// The group of an operation: its schema's folder ("files" for files/read).
std::string_view tool_group(const Operation& op);

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
