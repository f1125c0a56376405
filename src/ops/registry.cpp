#include <algorithm>
#include <map>
#include <stdexcept>

#include "icotes/operation.hpp"
#include "icotes/schema.hpp"

namespace icotes {

std::string_view to_string(OperationKind kind) {
  switch (kind) {
    case OperationKind::None: return "None";
    case OperationKind::ReadFile: return "ReadFile";
    case OperationKind::WriteFile: return "WriteFile";
    case OperationKind::EditFile: return "EditFile";
    case OperationKind::Bash: return "Bash";
    case OperationKind::GitWrite: return "GitWrite";
    case OperationKind::Network: return "Network";
  }
  return "None";
}

std::optional<OperationKind> operation_kind_from_string(std::string_view name) {
  for (auto k : {OperationKind::None, OperationKind::ReadFile, OperationKind::WriteFile, OperationKind::EditFile,
                 OperationKind::Bash, OperationKind::GitWrite, OperationKind::Network}) {
    if (to_string(k) == name) return k;
  }
  return std::nullopt;
}

std::string Operation::command() const {
  std::string c = "icotes." + id;
  std::replace(c.begin(), c.end(), '/', '.');
  return c;
}

void Registry::add(std::string_view id, Handler handler, std::function<std::string(const json& result)> mcp_text) {
  const auto& schemas = ops::embedded_schemas();
  auto it = std::find_if(schemas.begin(), schemas.end(), [&](const auto& e) { return e.first == id; });
  if (it == schemas.end()) throw std::logic_error("operation " + std::string(id) + " has no schemas/" + std::string(id) + ".json");
  json doc;
  try {
    doc = json::parse(it->second);
  } catch (const json::exception& e) {
    throw std::logic_error("schemas/" + std::string(id) + ".json: " + e.what());
  }
  Operation op;
  op.id = std::string(id);
  try {
    if (doc.at("id") != op.id) throw std::logic_error("\"id\" does not match the file name");
    op.mcp_name = doc.at("mcpName").get<std::string>();
    op.title = doc.value("title", op.mcp_name);
    op.description = doc.at("description").get<std::string>();
    auto kind = operation_kind_from_string(doc.at("permission").get<std::string>());
    if (!kind) throw std::logic_error("unknown permission kind");
    op.kind = *kind;
    const json& a = doc.at("annotations");
    op.annotations.read_only = a.at("readOnlyHint").get<bool>();
    op.annotations.destructive = a.at("destructiveHint").get<bool>();
    op.annotations.idempotent = a.at("idempotentHint").get<bool>();
    op.annotations.open_world = a.at("openWorldHint").get<bool>();
    op.mcp_text_field = doc.value("mcpText", std::string());
    op.run_inline = doc.value("inline", false);
    op.input_schema = doc.at("input");
    op.output_schema = doc.at("output");
    op.input_validator = std::make_shared<SchemaValidator>(op.input_schema);
  } catch (const std::exception& e) {
    throw std::logic_error("schemas/" + op.id + ".json: " + e.what());
  }
  op.handler = std::move(handler);
  op.mcp_text = std::move(mcp_text);
  ops_.emplace(op.id, std::move(op));
}

const Operation* Registry::find(std::string_view id) const {
  auto it = ops_.find(id);
  return it == ops_.end() ? nullptr : &it->second;
}

const Operation* Registry::find_by_mcp_name(std::string_view name) const {
  for (const auto& [id, op] : ops_) {
    if (op.mcp_name == name) return &op;
  }
  return nullptr;
}

const Operation* Registry::find_by_command(std::string_view command) const {
  for (const auto& [id, op] : ops_) {
    if (op.command() == command) return &op;
  }
  return nullptr;
}

std::vector<const Operation*> Registry::all() const {
  std::vector<const Operation*> out;
  out.reserve(ops_.size());
  for (const auto& [id, op] : ops_) out.push_back(&op);
  return out;
}

void Registry::precheck(std::string_view id, Precheck check) {
  auto it = ops_.find(id);
  if (it == ops_.end()) throw std::logic_error("precheck for unregistered operation " + std::string(id));
  it->second.precheck = std::move(check);
}

Status Registry::validate(const Operation& op, const json& params) const {
  if (auto err = op.input_validator->validate(params, op.mcp_name + " params")) return std::move(*err);
  if (op.precheck) {
    try {
      return op.precheck(params);
    } catch (const json::exception& e) {
      return make_error(error_code::kInvalidParams, op.mcp_name + ": " + e.what());
    }
  }
  return ok_status();
}

Result<json> Registry::invoke(const Operation& op, Context& ctx, const json& params) const {
  if (auto st = validate(op, params); !st) return std::move(st).error();
  return run(op, ctx, params);
}

Result<json> Registry::run(const Operation& op, Context& ctx, const json& params) const {
  if (ctx.cancel.cancelled()) return make_error(error_code::kRequestCancelled, op.id + ": cancelled");
  try {
    return op.handler(ctx, params);
  } catch (const json::exception& e) {
    // A schema-valid value the handler still could not take (a schema gap).
    return make_error(error_code::kInvalidParams, op.mcp_name + ": " + e.what());
  }
}

std::string mcp_name_of(std::string_view id) {
  static const std::map<std::string, std::string, std::less<>> names = [] {
    std::map<std::string, std::string, std::less<>> m;
    for (const auto& [path, text] : ops::embedded_schemas()) {
      const json doc = json::parse(text, nullptr, false);
      if (doc.is_object() && doc.contains("mcpName") && doc["mcpName"].is_string())
        m.emplace(std::string(path), doc["mcpName"].get<std::string>());
    }
    return m;
  }();
  auto it = names.find(id);
  return it == names.end() ? std::string() : it->second;
}

}  // namespace icotes
