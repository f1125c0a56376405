// The MCP dialect's tools (MCP "Tools"): which tool groups a client is
// offered (--tools, [mcp] tools), tools/list with each tool's listed input
// schema (listed_input_schema: the short form, without mcpHidden
// properties, unless full_tool_schemas), and tools/call, an operation run
// through run_operation with its result as text (render_text, mcp.cpp).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "icotes/config.hpp"
#include "mcp_dialect.hpp"

namespace icotes {
namespace mcp {
namespace {

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

}  // namespace

bool ToolFilter::offers(std::string_view group) const {
  if (group == "events") return false;
  return !only || only->count(std::string(group)) > 0;
}

ToolFilter tool_filter(const ClientProfile& profile, const std::optional<std::vector<std::string>>& workspace_groups) {
  ToolFilter f;
  if (profile.tool_groups.empty() && !workspace_groups) return f;
  f.only.emplace();
  for (const auto& g : tool_group_names()) {
    const bool client = profile.tool_groups.empty() || std::find(profile.tool_groups.begin(), profile.tool_groups.end(),
                                                                 g) != profile.tool_groups.end();
    const bool workspace = !workspace_groups ||
                           std::find(workspace_groups->begin(), workspace_groups->end(), g) != workspace_groups->end();
    if (client && workspace) f.only->insert(g);
  }
  return f;
}

std::optional<std::vector<std::string>> workspace_tool_groups(const std::string& config_path,
                                                              std::vector<std::string>& warnings) {
  auto config = read_config(config_path);
  if (!config) {
    warnings.push_back(config.error().message + " ([mcp] tools not applied)");
    return std::nullopt;
  }
  if (!*config) return std::nullopt;
  const toml::node* node = (**config)["mcp"]["tools"].node();
  if (!node) return std::nullopt;
  const toml::array* array = node->as_array();
  const auto where = config_path + ":" + std::to_string(node->source().begin.line);
  if (!array) {
    warnings.push_back(where + ": [mcp] tools must be an array of group names (not applied)");
    return std::nullopt;
  }
  std::vector<std::string> groups;
  const auto& names = tool_group_names();
  for (const auto& item : *array) {
    const auto* s = item.as_string();
    if (!s || std::find(names.begin(), names.end(), s->get()) == names.end()) {
      std::string known;
      for (const auto& n : names) {
        if (!known.empty()) known += ", ";
        known += n;
      }
      std::string warning = where;
      warning += ": [mcp] tools: unknown group ";
      if (s) {
        warning += '\'';
        warning += s->get();
        warning += '\'';
      } else {
        warning += "(not a string)";
      }
      warning += " left out (groups: ";
      warning += known;
      warning += ')';
      warnings.push_back(std::move(warning));
      continue;
    }
    groups.push_back(s->get());
  }
  return groups;
}

bool workspace_full_tool_schemas(const std::string& config_path, std::vector<std::string>& warnings) {
  auto config = read_config(config_path);
  if (!config) {
    warnings.push_back(config.error().message + " ([mcp] full_tool_schemas not applied)");
    return false;
  }
  if (!*config) return false;
  const toml::node* node = (**config)["mcp"]["full_tool_schemas"].node();
  if (!node) return false;
  if (const auto* b = node->as_boolean()) return b->get();
  warnings.push_back(config_path + ":" + std::to_string(node->source().begin.line) +
                     ": [mcp] full_tool_schemas must be true or false (not applied)");
  return false;
}

// Only name, description and inputSchema reach a model; the rest is for
// the host. Annotations equal to MCP's defaults (ToolAnnotations: not
// read-only, destructive, not idempotent, open world) are left out, and
// outputSchema is listed only to clients that asked for structured output.
json McpDialect::tool_json(const Operation& op) const {
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
std::vector<const Operation*> McpDialect::offered_tools() const {
  std::vector<const Operation*> out;
  for (const Operation* op : registry_.all())
    if (op->mcp_tool && tools_.offers(op->group())) out.push_back(op);
  return out;
}

// Opaque cursors: the decimal index of the next item.
std::optional<std::size_t> McpDialect::parse_cursor(const json& params) {
  auto it = params.find("cursor");
  if (it == params.end() || it->is_null()) return 0;
  if (!it->is_string()) return std::nullopt;
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9) return std::nullopt;
  return std::stoul(s);
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the method table's handler type takes the Request by value
void McpDialect::tools_list(Request request) {
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
json McpDialect::tool_error(const std::string& message) const {
  std::string text = message.rfind("Error", 0) == 0 ? message : "Error: " + message;
  return {{"content", json::array({{{"type", "text"}, {"text", std::move(text)}}})}, {"isError", true}};
}

// A finished call's CallToolResult: the whole result as one text block
// (the operation's renderer, else mcp::render_text), cut at the client's
// cap as a safety net (operations page themselves within it), then an
// image block for a top-level "image"; structuredContent (the complete
// result) only for a client that asked for structured output.
json McpDialect::tool_result(const Operation& op, json& value) const {
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

// The operation tools/call names, when this client is offered it; else
// null, with the request failed (-32602).
const Operation* McpDialect::offered_tool(const Request& request) const {
  const json& p = request.params();
  if (!p.contains("name") || !p["name"].is_string()) {
    request.fail(make_error(error_code::kInvalidParams, "tools/call: name (string) is required"));
    return nullptr;
  }
  const std::string tool = p["name"].get<std::string>();
  const Operation* op = registry_.find_by_mcp_name(tool);
  if (!op || !op->mcp_tool || op->group() == "events") {
    request.fail(
        make_error(error_code::kInvalidParams, "tools/call: unknown tool '" + tool + "'; tools/list lists them"));
    return nullptr;
  }
  if (!tools_.offers(op->group())) {
    request.fail(make_error(error_code::kInvalidParams,
                            "tools/call: tool '" + tool + "' (group " + std::string(op->group()) +
                                ") is not offered to this client (icotes serve --tools, or [mcp] tools in "
                                ".icotes/config.toml); tools/list lists the tools offered"));
    return nullptr;
  }
  return op;
}

void McpDialect::tools_call(Request request) {
  const Operation* op = offered_tool(request);
  if (!op) return;
  const json& p = request.params();
  const std::string& tool = op->mcp_name;
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
        static_cast<double>(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count()) /
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
  call.tool_groups = tools_.only;
  if (version_ != kStateless) {  // 2026-07-28 deprecates sampling and has no session to send it on
    call.sample = sample_;
    call.sampling_tools = sampling_tools_;
  }
  run_operation(workspace_, registry_, std::move(request), std::move(call));
}

}  // namespace mcp
}  // namespace icotes
