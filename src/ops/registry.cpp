#include <algorithm>
#include <map>
#include <stdexcept>

#include "icotes/operation.hpp"
#include "icotes/schema.hpp"

namespace icotes {

std::string_view to_string(OperationKind kind) {
  switch (kind) {
    case OperationKind::None:
      return "None";
    case OperationKind::ReadFile:
      return "ReadFile";
    case OperationKind::WriteFile:
      return "WriteFile";
    case OperationKind::EditFile:
      return "EditFile";
    case OperationKind::Bash:
      return "Bash";
    case OperationKind::GitWrite:
      return "GitWrite";
    case OperationKind::Network:
      return "Network";
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

std::string_view to_string(PathRole role) {
  switch (role) {
    case PathRole::Path:
      return "path";
    case PathRole::Name:
      return "name";
    case PathRole::Paths:
      return "paths";
    case PathRole::Patch:
      return "patch";
    case PathRole::Cwd:
      return "cwd";
  }
  return "path";
}

namespace {

std::optional<PathRole> path_role(std::string_view name) {
  for (auto r : {PathRole::Path, PathRole::Name, PathRole::Paths, PathRole::Patch, PathRole::Cwd})
    if (to_string(r) == name) return r;
  return std::nullopt;
}

bool has_type(const nlohmann::ordered_json& property, std::string_view type) {
  const auto it = property.find("type");
  if (it == property.end()) return false;
  if (it->is_string()) return it->get_ref<const std::string&>() == type;
  return it->is_array() && std::find(it->begin(), it->end(), type) != it->end();
}

// One top-level input property's x-permission (a path parameter the gate judges, typed as its role needs)
// and x-permission-read-when.
void read_property_keys(const std::string& name, const nlohmann::ordered_json& property, Operation& op) {
  if (const auto it = property.find("x-permission"); it != property.end()) {
    const auto role = it->is_string() ? path_role(it->get_ref<const std::string&>()) : std::nullopt;
    if (!role) throw std::logic_error("property \"" + name + "\": unknown x-permission " + it->dump());
    const bool array = *role == PathRole::Paths;
    const bool typed =
        array ? has_type(property, "array") && property.contains("items") && has_type(property["items"], "string")
              : has_type(property, "string");
    if (!typed)
      throw std::logic_error("property \"" + name + "\": x-permission " + it->dump() + " needs a " +
                             (array ? "string array" : "string"));
    op.path_params.push_back({name, *role});
  }
  if (const auto it = property.find("x-permission-read-when"); it != property.end())
    op.read_when.emplace_back(name, json::parse(it->dump()));
}

// An x-permission key anywhere but on a top-level input property (`depth` 2: input, properties, the property):
// the gate would never see it, a build defect.
void reject_nested_permission_keys(const nlohmann::ordered_json& s, int depth) {
  if (s.is_array()) {
    for (const auto& v : s) reject_nested_permission_keys(v, depth);
    return;
  }
  if (!s.is_object()) return;
  for (const auto& [key, v] : s.items()) {
    if (depth != 2 && key.rfind("x-permission", 0) == 0)
      throw std::logic_error("\"" + key + "\" only on a top-level input property");
    reject_nested_permission_keys(v, depth + 1);
  }
}

// The "x-permission" and "x-permission-read-when" keys of an input schema:
// on its top-level properties only (Gate::needs reads the call's top-level
// members), a known role on a property of the role's type.
void read_permission_keys(const nlohmann::ordered_json& input, Operation& op) {
  if (const auto props = input.find("properties"); props != input.end() && props->is_object()) {
    for (const auto& [name, property] : props->items())
      if (property.is_object()) read_property_keys(name, property, op);
  }
  reject_nested_permission_keys(input, 0);
}

// A member the schema let through that its typed field cannot hold, said
// as a schema miss is (SchemaValidator: message, data.pointer, data.expected).
Error invalid_params(const Operation& op, const ParamError& e) {
  return make_error(
      error_code::kInvalidParams,
      "invalid " + op.mcp_name + " params: " + (e.pointer.empty() ? "(root)" : e.pointer) + ": " + e.expected,
      json{{"pointer", e.pointer}, {"expected", e.expected}});
}

}  // namespace

std::string Operation::command() const {
  std::string c = "icotes." + id;
  std::replace(c.begin(), c.end(), '/', '.');
  return c;
}

void Registry::add(std::string_view id, Handler handler, std::function<std::string(const json& result)> mcp_text) {
  const auto& schemas = ops::embedded_schemas();
  auto it = std::find_if(schemas.begin(), schemas.end(), [&](const auto& e) { return e.first == id; });
  if (it == schemas.end())
    throw std::logic_error("operation " + std::string(id) + " has no schemas/" + std::string(id) + ".json");
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
    op.mcp_hidden = doc.value("mcpHidden", std::vector<std::string>());
    for (const auto& name : op.mcp_hidden) {
      if (!doc.at("input").at("properties").contains(name)) throw std::logic_error("mcpHidden: no property " + name);
      for (const auto& r : doc.at("input").value("required", json::array()))
        if (r == name) throw std::logic_error("mcpHidden: " + name + " is required");
    }
    op.run_inline = doc.value("inline", false);
    op.mcp_tool = doc.value("mcpTool", true);
    op.serial_by = doc.value("serialBy", std::string());
    if (!op.serial_by.empty() && !doc.at("input").at("properties").contains(op.serial_by))
      throw std::logic_error("serialBy: no property " + op.serial_by);
    op.input_schema = doc.at("input");
    op.output_schema = doc.at("output");
    // In the file's order: a call's needs come in the order its schema lists its paths.
    read_permission_keys(nlohmann::ordered_json::parse(it->second).at("input"), op);
    // Read into the Operation, they leave the schema clients see (MCP tools/list).
    if (auto props = op.input_schema.find("properties"); props != op.input_schema.end() && props->is_object())
      for (auto& [name, property] : props->items())
        if (property.is_object()) {
          property.erase("x-permission");
          property.erase("x-permission-read-when");
        }
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

void Registry::needs(std::string_view id, NeedsHook hook) {
  auto it = ops_.find(id);
  if (it == ops_.end()) throw std::logic_error("needs for unregistered operation " + std::string(id));
  if (it->second.kind != OperationKind::Bash)
    throw std::logic_error("needs for " + std::string(id) + ": command lines are Bash needs");
  it->second.needs = std::move(hook);
}

Status Registry::validate(const Operation& op, const json& params) const {
  if (auto err = op.input_validator->validate(params, op.mcp_name + " params")) return std::move(*err);
  if (op.precheck) {
    try {
      return op.precheck(params);
    } catch (const ParamError& e) {
      return invalid_params(op, e);
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
  } catch (const ParamError& e) {
    // Schema-valid, yet not a value its typed field holds (Registry::add<Params>).
    return invalid_params(op, e);
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
