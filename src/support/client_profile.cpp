// A client's own settings. See include/support/icotes/client_profile.hpp.
#include "icotes/client_profile.hpp"

#include <algorithm>

namespace icotes {

json to_json(const ClientProfile& p) {
  json out = json::object();
  if (p.permission_mode) out["permissionMode"] = *p.permission_mode;
  if (!p.allow.empty()) out["allow"] = p.allow;
  if (!p.deny.empty()) out["deny"] = p.deny;
  if (p.max_result_bytes != kMaxToolResultBytes) out["maxResultBytes"] = p.max_result_bytes;
  if (p.structured_output) out["structuredOutput"] = true;
  if (!p.tool_groups.empty()) out["tools"] = p.tool_groups;
  if (p.full_tool_schemas) out["fullToolSchemas"] = true;
  return out;
}

namespace {

Error bad_profile(const std::string& what) { return make_error(error_code::kInvalidParams, "client profile: " + what); }

// Member `key` of profile `v`, when present, as an array of strings appended to `out`.
Status string_array(const json& v, const char* key, std::vector<std::string>& out) {
  auto it = v.find(key);
  if (it == v.end()) return ok_status();
  if (!it->is_array()) return bad_profile(std::string(key) + " must be an array of strings");
  for (const auto& s : *it) {
    if (!s.is_string()) return bad_profile(std::string(key) + " must be an array of strings");
    out.push_back(s.get<std::string>());
  }
  return ok_status();
}

}  // namespace

Result<ClientProfile> client_profile_from_json(const json& v) {
  auto bad = bad_profile;
  if (!v.is_object()) return bad("must be an object");
  ClientProfile p;
  auto strings = [&v](const char* key, std::vector<std::string>& out) { return string_array(v, key, out); };
  if (auto it = v.find("permissionMode"); it != v.end()) {
    if (!it->is_string()) return bad("permissionMode must be a string");
    p.permission_mode = it->get<std::string>();
  }
  if (auto st = strings("allow", p.allow); !st) return st.error();
  if (auto st = strings("deny", p.deny); !st) return st.error();
  if (auto st = strings("tools", p.tool_groups); !st) return st.error();
  for (const auto& g : p.tool_groups) {
    const auto& names = tool_group_names();
    if (std::find(names.begin(), names.end(), g) == names.end()) return bad("unknown tool group '" + g + "'");
  }
  if (auto it = v.find("maxResultBytes"); it != v.end()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() < 1024)
      return bad("maxResultBytes must be an integer of at least 1024");
    p.max_result_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(it->get<std::uint64_t>(), 1ULL << 30));
  }
  if (auto it = v.find("structuredOutput"); it != v.end()) {
    if (!it->is_boolean()) return bad("structuredOutput must be true or false");
    p.structured_output = it->get<bool>();
  }
  if (auto it = v.find("fullToolSchemas"); it != v.end()) {
    if (!it->is_boolean()) return bad("fullToolSchemas must be true or false");
    p.full_tool_schemas = it->get<bool>();
  }
  return p;
}

}  // namespace icotes
