// The workspace's settings file, <root>/.icotes/config.toml (TOML v1.0,
// read with toml++). Each service reads its own [section]: [permissions]
// (src/permissions/permissions.cpp), [exec], [terminal].
#pragma once

#include <toml++/toml.h>
#include <cstddef>
#include <optional>
#include <string>

#include "icotes/result.hpp"

namespace icotes {

/// Largest settings file read (bytes).
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;

/// The TOML file at `path`, parsed (its nodes keep their source lines for
/// messages); nullopt when it does not exist. Errors (kInvalidParams): a
/// file that is not valid TOML ("path:line: what"), or that exists but
/// cannot be read, is not a regular file (a FIFO would block) or is larger
/// than kMaxConfigBytes ("path: cannot be read: why"). Callers keep the
/// settings they had on an error: an unreadable file never reads as none.
/// Callers take their section: `(*config)["exec"].as_table()`.
Result<std::optional<toml::table>> read_config(const std::string& path);

}  // namespace icotes
