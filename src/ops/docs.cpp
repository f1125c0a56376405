// docs/operations.md, generated from the embedded schemas (`icotes docs`).
#include <algorithm>
#include <sstream>

#include "icotes/builtin_ops.hpp"

namespace icotes {
namespace {

std::string type_of(const json& s) {
  if (!s.is_object()) return "any";
  if (s.contains("enum")) {
    std::string out;
    for (const auto& v : s["enum"]) out += (out.empty() ? "" : " \\| ") + v.dump();
    return out;
  }
  const json type = s.value("type", json("any"));
  if (type.is_array()) {  // ["string", "null"]
    std::string out;
    for (const auto& v : type) out += (out.empty() ? "" : " \\| ") + v.get<std::string>();
    return out;
  }
  std::string t = type.get<std::string>();
  if (t == "array" && s.contains("items")) return type_of(s["items"]) + "[]";
  if (s.contains("oneOf")) {  // {"oneOf": [...]}: each alternative
    std::string out;
    for (const auto& v : s["oneOf"]) out += (out.empty() ? "" : " \\| ") + type_of(v);
    return out;
  }
  return t;
}

// `hidden`: the properties MCP's tools/list leaves out (schema mcpHidden).
void properties_table(std::ostringstream& out, const json& schema, const std::vector<std::string>& hidden = {}) {
  const json props = schema.value("properties", json::object());
  if (props.empty()) {
    out << "_none_\n\n";
    return;
  }
  std::vector<std::string> required;
  for (const auto& r : schema.value("required", json::array())) required.push_back(r.get<std::string>());
  out << "| name | type | required | description |\n| --- | --- | --- | --- |\n";
  for (const auto& [name, p] : props.items()) {
    const bool req = std::find(required.begin(), required.end(), name) != required.end();
    std::string desc = p.value("description", std::string());
    if (std::find(hidden.begin(), hidden.end(), name) != hidden.end())
      desc.insert(0, desc.empty() ? "_Not listed over MCP (accepted)._" : "_Not listed over MCP (accepted)._ ");
    out << "| `" << name << "` | " << type_of(p) << " | " << (req ? "yes" : "no") << " | " << desc << " |\n";
  }
  out << "\n";
}

// What the permission gate judges of a call (the schema's "x-permission"
// declarations, the needs hook): README "Permissions".
void permission_line(std::ostringstream& out, const Operation& op) {
  if (op.kind == OperationKind::None) return;
  std::string what;
  auto add = [&what](const std::string& part) { what += (what.empty() ? "" : "; ") + part; };
  for (const PathParam& p : op.path_params) {
    const std::string name = "`" + p.name + "`";
    switch (p.role) {
      case PathRole::Path:
        add(name);
        break;
      case PathRole::Name:
        add(name + " (the name itself, not where a symlink there leads)");
        break;
      case PathRole::Paths:
        add("each of " + name);
        break;
      case PathRole::Patch:
        add("each file " + name + " names");
        break;
      case PathRole::Cwd:
        break;
    }
  }
  if (op.needs) add("the command line it runs");
  for (const PathParam& p : op.path_params)
    if (p.role == PathRole::Cwd) add("`" + p.name + "` as a ReadFile (where it runs)");
  if (what.empty()) what = "the workspace";
  for (const auto& [name, value] : op.read_when)
    what += "; only ReadFile when `" + name + "` is `" + value.dump() + "`";
  out << "Permission `" << to_string(op.kind) << "` on: " << what << ".\n\n";
}

}  // namespace

std::string operations_markdown(const Registry& registry) {
  std::ostringstream out;
  out << "# Operations\n\n"
         "Generated from `schemas/` by `icotes docs`; do not edit (a test fails when this file is stale).\n\n"
         "Each operation is reachable as an LSP/JSON-RPC request `icotes/<id>`, as the LSP command "
         "`icotes.<id with dots>` through `workspace/executeCommand`, as the MCP tool named below (none: not "
         "offered to MCP clients; the heading name is only the anchor), and with `icotes call <id> '<params>'`.\n\n"
         "| id | MCP tool | permission | read-only | destructive | idempotent |\n| --- | --- | --- | --- | --- | --- "
         "|\n";
  for (const Operation* op : registry.all()) {
    out << "| [`" << op->id << "`](#" << op->mcp_name << ") | "
        << (op->mcp_tool ? "`" + op->mcp_name + "`" : std::string("(none)")) << " | " << to_string(op->kind) << " | "
        << (op->annotations.read_only ? "yes" : "no") << " | " << (op->annotations.destructive ? "yes" : "no") << " | "
        << (op->annotations.idempotent ? "yes" : "no") << " |\n";
  }
  out << "\n";
  out << "Over MCP, tools/list gives a short form of each input schema, to keep the tool definitions a model "
         "reads small: without validation-only keywords (bounds, lengths, patterns) and without the rarely used "
         "parameters marked _Not listed over MCP_ below. Those are still accepted in a call, and every call is "
         "validated against the whole schema (an out-of-range value is refused naming its bound); "
         "`icotes serve --full-tool-schemas` (or `full_tool_schemas = true` under `[mcp]` in "
         "`.icotes/config.toml`) lists everything.\n\n";
  for (const Operation* op : registry.all()) {
    out << "## " << op->mcp_name << "\n\n"
        << "`" << op->lsp_method() << "` · command `" << op->command() << "` · permission `" << to_string(op->kind)
        << "`\n\n"
        << op->description << "\n\n### Params\n\n";
    properties_table(out, op->input_schema, op->mcp_hidden);
    permission_line(out, *op);
    out << "### Result\n\n";
    properties_table(out, op->output_schema);
  }
  return out.str();
}

}  // namespace icotes
