// The text a model reads for an operation's result, and the tool schema it
// is handed: what the MCP dialect sends (src/mcp/mcp_tools.cpp) and what the
// agent loop's tools return to its model (src/ops/agent_ops.cpp). Kept in the
// MCP namespace, whose dialect made them first (src/ops/model_text.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

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

}  // namespace icotes::mcp
