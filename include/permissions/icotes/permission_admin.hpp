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

/// `icotes permissions allow|deny|revoke WHAT` (`--global`: the user's
/// grants for every workspace). WHAT in rule syntax: an exact target is a
/// grant (`Edit(src/a.c)` a file, `Edit(src/)` a directory, `Edit` the
/// workspace, `Bash(make test)` exactly this command line); a pattern is a
/// rule saved with the grants that decides like a rule of config.toml
/// (`Edit(src/**)`, `Read(/etc/*.conf)`, `Bash(echo:*)`, `Bash(npm run *)`).
/// Returns the lines to print, one per grant or rule with its kinds and
/// scope. Errors (kInvalidParams) say what is wrong with WHAT.
Result<std::string> change_from_cli(Gate& gate, const ConfinedRoot& root, std::string_view action,
                                    const std::string& what, bool global);

/// `icotes permissions mode [MODE]`: prints the workspace's mode, or sets
/// `mode` under [permissions] in .icotes/config.toml (the running daemon
/// takes it in at once; a client started with --permission-mode keeps its
/// own). `bypass` is refused (only the command-line flag sets it).
Result<std::string> mode_from_cli(Gate& gate, const ConfinedRoot& root, const std::string& mode);

}  // namespace icotes::permissions
