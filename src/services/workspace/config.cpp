#include "icotes/config.hpp"

namespace icotes {

Result<std::optional<toml::table>> read_config(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    // toml++ reports a missing file as a parse error at line 0.
    if (e.source().begin.line == 0 &&
        std::string_view(e.description()).find("File could not be opened") != std::string_view::npos)
      return std::optional<toml::table>();
    return make_error(error_code::kInvalidParams,
                      path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  return std::optional<toml::table>(std::move(table));
}

}  // namespace icotes
