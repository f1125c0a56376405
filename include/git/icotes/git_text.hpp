// The text an MCP client's model reads for each git tool's result
// (Operation::mcp_text), in the forms git prints: `git status --short
// --branch`, the unified diff, one short block per commit for git log,
// one line per blamed line, branch and stash lists as lines, writes as one
// line. Each renderer takes the complete result JSON (schemas/git/<verb>.json
// "output") and returns the whole text block; a result's note comes last, on
// a line of its own. The git module uses the block helpers to keep each page
// within its byte budget.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "icotes/json.hpp"

namespace icotes::git_text {

/// "1 commit", "2 commits" (nouns taking -s; "1 entry"/"2 entries" and
/// "1 branch"/"2 branches" too).
std::string count(std::size_t n, std::string_view noun);

/// A path as git status --short prints it (quote.c quote_path with
/// core.quotePath on): C-style quoted when it holds control characters,
/// '"', '\\' or bytes >= 0x80; with `quote_space`, also when it holds a
/// space (QUOTE_PATH_QUOTE_SP).
std::string quote_path(std::string_view path, bool quote_space);

/// One git_status entry's line ("XY path\n", renamed: "R  old -> new\n").
std::string status_line(const json& entry);

/// One git_log commit's block: `commit <short>  <date>  <author>`, the
/// subject indented, and with `body` the body indented below a blank line.
std::string log_block(const json& commit, bool body);

std::string status(const json& result);
/// git_diff and git_show: the text as git prints it, then the note.
std::string diff(const json& result);
std::string show(const json& result);
std::string log(const json& result);
std::string blame(const json& result);
std::string branch(const json& result);
std::string stash(const json& result);
std::string commit(const json& result);
std::string stage(const json& result);
std::string unstage(const json& result);
std::string restore(const json& result);
std::string reset(const json& result);
std::string checkout(const json& result);
std::string init(const json& result);
std::string tag(const json& result);

}  // namespace icotes::git_text
