// Permission administration: LSP requests icotes/permissions/{list, grant,
// revoke, log} and the `icotes permissions` CLI. Not MCP tools (an AI
// client can never change permissions).
//
//   list   {} → {mode, rules: {allow: [text], deny: [text]},
//                grants: [{kind, scope, value, answer}]}
//   grant  {kind, scope: "specific"|"directory"|"project"|"global", value?,
//           answer?: "allow"|"deny"} → {granted: true, value}
//   revoke {kind, scope, value?} → {revoked: bool}
//   log    {limit? (100), offset? (0)} → {records: [{time (ms since epoch),
//           client, operation, kind, target, answer, decidedBy}]}, newest first
#pragma once

#include <string>
#include <string_view>

#include "icotes/permission_gate.hpp"

namespace icotes::permissions {

bool is_admin_method(std::string_view method);

/// Runs one administration request; `by` names who asked (for the grant).
/// Errors: kInvalidParams (bad kind/scope/answer), kOutsideWorkspace (a
/// path grant outside the root), kIoError (the database).
Result<json> admin(Gate& gate, const ConfinedRoot& root, std::string_view method, const json& params,
                   const std::string& by);

}  // namespace icotes::permissions
