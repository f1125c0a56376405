// file:// URIs (RFC 8089) as LSP and MCP clients send them, and the
// workspace root an LSP client names in its `initialize`. Plain string and
// JSON helpers: the doors read a client's root with them before any
// workspace is open (client_hello.hpp), the workspace maps URIs to paths.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes {

/// Percent-encodes a path for a file:// URI (keeps unreserved and '/').
std::string percent_encode_path(std::string_view path);
/// Decodes %XX escapes; nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view s);

/// The absolute path a file:// URI names (RFC 8089; "localhost" or no host,
/// %-escapes decoded, query and fragment dropped). Errors: kInvalidParams
/// (another scheme, a remote host, a malformed escape).
Result<std::string> path_of_file_uri(std::string_view uri);

/// The workspace root an LSP client asks for in its `initialize` request
/// (LSP 3.17 "Initialize Request"): the first of workspaceFolders, else
/// rootUri, else the deprecated rootPath, whichever first names an existing
/// local directory. Nullopt for any other message or when none does. Used
/// when `serve` is given no --root; a client's further folders outside the
/// chosen one are refused at initialize, as always.
std::optional<std::string> client_root_of_initialize(const json& message);

}  // namespace icotes
