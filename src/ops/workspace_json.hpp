// The workspace/* operations' params as JSON (schemas/workspace/*.json).
// Absent members keep the struct's defaults, which are the schemas' defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bind.hpp"
#include "icotes/json.hpp"

namespace icotes::workspace_ops {

/// workspace/open: a file to show in the attached editor.
struct OpenParams {
  std::string path;
  std::optional<std::uint32_t> line;  // 1-based; the cursor goes there
  std::uint32_t column = 1;           // 1-based, characters; with line only
};

inline void from_json(const json& j, OpenParams& p) {
  bind::required(j, "path", p.path);
  bind::member(j, "line", p.line);
  bind::member(j, "column", p.column);
}

}  // namespace icotes::workspace_ops
