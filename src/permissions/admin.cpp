// icotes/permissions/{list,grant,revoke,log}: LSP requests and the
// `icotes permissions` CLI. Never MCP tools: an AI client cannot change
// what it is allowed to do.
#include "icotes/permission_admin.hpp"

#include "icotes/permission_store.hpp"

namespace icotes::permissions {
namespace {

json grant_json(const Gate::Listed& l) {
  return {{"kind", std::string(to_string(l.grant.kind))},
          {"scope", std::string(to_string(l.grant.scope))},
          {"value", l.grant.value},
          {"answer", std::string(to_string(l.grant.answer))}};
}

Result<Grant> grant_from(const json& p) {
  if (!p.is_object()) return make_error(error_code::kInvalidParams, "params must be an object {kind, scope, value?, answer?}");
  Grant g;
  auto kind = operation_kind_from_string(member_or(p, "kind", std::string()));
  if (!kind || *kind == OperationKind::None)
    return make_error(error_code::kInvalidParams, "kind must be one of ReadFile, WriteFile, EditFile, Bash, GitWrite, Network");
  g.kind = *kind;
  auto scope = scope_from_string(member_or(p, "scope", std::string()));
  if (!scope) return make_error(error_code::kInvalidParams, "scope must be one of specific, directory, project, global");
  g.scope = *scope;
  g.value = member_or(p, "value", std::string());
  const std::string answer = member_or(p, "answer", std::string("allow"));
  if (answer != "allow" && answer != "deny") return make_error(error_code::kInvalidParams, "answer must be allow or deny");
  g.answer = answer == "allow" ? Answer::Allow : Answer::Deny;
  return g;
}

}  // namespace

bool is_admin_method(std::string_view method) {
  return method == "icotes/permissions/list" || method == "icotes/permissions/grant" ||
         method == "icotes/permissions/revoke" || method == "icotes/permissions/log";
}

Result<json> admin(Gate& gate, const ConfinedRoot& root, std::string_view method, const json& params,
                   const std::string& by) {
  if (method == "icotes/permissions/list") {
    json grants = json::array();
    for (const auto& l : gate.list()) grants.push_back(grant_json(l));
    const Settings& s = gate.settings();
    json allow = json::array(), deny = json::array();
    for (const auto& r : s.allow) allow.push_back(r.text());
    for (const auto& r : s.deny) deny.push_back(r.text());
    return json{{"mode", std::string(to_string(s.mode))}, {"rules", {{"allow", allow}, {"deny", deny}}}, {"grants", grants}};
  }
  if (method == "icotes/permissions/grant" || method == "icotes/permissions/revoke") {
    auto g = grant_from(params);
    if (!g) return std::move(g).error();
    if (g->kind != OperationKind::Bash && (g->scope == Scope::Specific || g->scope == Scope::Directory)) {
      auto rel = root.relative(g->value.empty() ? "." : g->value);  // normalised beneath the root
      if (!rel) return std::move(rel).error();
      g->value = *rel;
    }
    const bool global = g->scope == Scope::Global;
    if (method == "icotes/permissions/grant") {
      if (auto st = gate.grant(*g, global, by); !st) return st.error();
      return json{{"granted", true}, {"value", g->value}};
    }
    auto removed = gate.revoke(g->kind, g->scope, g->value, global);
    if (!removed) return std::move(removed).error();
    return json{{"revoked", *removed}};
  }
  if (method == "icotes/permissions/log") {
    const std::size_t limit = member_or<std::size_t>(params, "limit", 100);
    const std::size_t offset = member_or<std::size_t>(params, "offset", 0);
    auto records = gate.log(std::min<std::size_t>(limit, 10000), offset);
    if (!records) return std::move(records).error();
    json out = json::array();
    for (const auto& r : *records)
      out.push_back({{"time", r.time_ms}, {"client", r.client}, {"operation", r.operation}, {"kind", r.kind},
                     {"target", r.target}, {"answer", r.answer}, {"decidedBy", r.decided_by}});
    return json{{"records", std::move(out)}};
  }
  return make_error(error_code::kMethodNotFound, "method not found: " + std::string(method));
}

}  // namespace icotes::permissions
