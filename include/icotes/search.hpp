// The search service: ripgrep-compatible grep and glob over the workspace.
//
// Walker → matcher → searcher → sink, as ripgrep is built (STYLE.md): the
// walker lists files in parallel under the ignore rules of ignore.hpp; the
// matcher is RE2 (Rust-regex-like syntax, the default) or PCRE2 (`pcre2`),
// behind a memchr/memmem literal prefilter; the searcher reads each file
// whole and splits lines only around matches; results go to a Sink. Line
// numbers are 1-based; columns and submatch offsets are bytes (0-based
// offsets within the line; `column` is 1-based like `rg --column`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/result.hpp"

namespace icotes {
class CancellationToken;
class Documents;
}  // namespace icotes

namespace icotes::search {

enum class CaseMode { Sensitive, Insensitive, Smart };
enum class OutputMode { Content, FilesWithMatches, Count };

struct WalkOptions {
  std::string path;  // where to search, relative to the root ("" = root)
  bool hidden = false;
  bool no_ignore = false;
  bool follow_symlinks = false;
  std::vector<std::string> include;  // -g globs; "!x" excludes
  std::vector<std::string> exclude;  // globs to exclude (as -g '!x')
  std::vector<std::string> types;    // -t names
};

struct GrepParams {
  std::string pattern;
  WalkOptions walk;
  bool fixed_strings = false;
  CaseMode case_mode = CaseMode::Sensitive;
  bool word = false;
  bool multiline = false;
  bool pcre2 = false;
  int before = 0;
  int after = 0;
  std::optional<std::uint64_t> max_count;  // matching lines per file
  OutputMode output = OutputMode::Content;
};

struct Submatch {
  std::uint32_t start = 0;  // byte offset in `text`
  std::uint32_t end = 0;
};

struct Line {
  std::uint64_t number = 0;  // 1-based
  std::string text;          // without the line terminator
  bool context = false;      // a context line, not a match
  std::vector<Submatch> submatches;
};

struct FileResult {
  std::string path;  // relative to the root
  std::vector<Line> lines;
  std::uint64_t matched_lines = 0;
  std::uint64_t matches = 0;
};

/// Receives results as files finish; called from several threads, serialised by the caller.
using FileSink = std::function<void(FileResult&&)>;

struct GrepStats {
  std::uint64_t files_searched = 0;
  std::uint64_t files_matched = 0;
  std::uint64_t bytes_searched = 0;
  bool cancelled = false;
};

/// Runs a search. Errors: kInvalidParams for a pattern that does not
/// compile (with the engine's message), unknown types, bad globs; path
/// errors as ConfinedRoot. `sink` may run on worker threads, one call at a time.
Result<GrepStats> grep(const ConfinedRoot& root, const GrepParams& params, const FileSink& sink,
                       const CancellationToken* cancel, const Documents* documents = nullptr);

struct GlobParams {
  std::string pattern;
  WalkOptions walk;
  bool sort_by_mtime = false;  // else by path
};

struct GlobEntry {
  std::string path;
  std::int64_t mtime_ms = 0;
};

Result<std::vector<GlobEntry>> glob(const ConfinedRoot& root, const GlobParams& params, const CancellationToken* cancel);

/// Walks files beneath `root`/`options.path` in parallel, honouring the ignore
/// rules, calling `on_file(rel_path)` from worker threads. Returns an error
/// for a missing start path or a bad glob/type.
Status walk_files(const ConfinedRoot& root, const WalkOptions& options, const std::function<void(const std::string&)>& on_file,
                  const CancellationToken* cancel);

/// ripgrep 13's file type table (`rg --type-list`): globs of a type name, or nullptr.
const std::vector<std::string>* type_globs(std::string_view name);

}  // namespace icotes::search
