// The workspace's settings file, <root>/.icotes/config.toml (TOML v1.0,
// read with toml++). Each service reads its own [section]: [permissions]
// (src/permissions/permissions.cpp), [exec], [terminal].
#pragma once

#include <optional>
#include <string>
#include <toml++/toml.h>

#include "icotes/result.hpp"

namespace icotes {

/// The TOML file at `path`, parsed (its nodes keep their source lines for
/// messages); nullopt when it does not exist. Errors (kInvalidParams): a
/// file that is not valid TOML or cannot be read, as "path:line: what".
/// Callers take their section: `(*config)["exec"].as_table()`.
Result<std::optional<toml::table>> read_config(const std::string& path);

}  // namespace icotes
