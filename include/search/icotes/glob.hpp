// Glob patterns as gitignore(5) and ripgrep's globs use them (git's
// wildmatch with WM_PATHNAME, plus ripgrep's `{a,b}` alternation):
//   `*` and `?` never match '/'; `[...]` classes with ranges, `!`/`^`
//   negation and [:alpha:]-style names; `\` escapes; `**` as a whole path
//   component matches zero or more directories (`**/x`, `a/**/b`, `a/**`).
// Matching is against a '/'-separated relative path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace icotes {

class Glob {
 public:
  /// Compiles `pattern`. An unbalanced `{` is literal; a malformed `[` class matches nothing (git).
  explicit Glob(std::string_view pattern, bool case_insensitive = false);

  bool matches(std::string_view path) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::vector<std::string> alternatives_;  // after {a,b} expansion
  bool case_insensitive_;
  // Per alternative: a shape that skips wildmatch (literal, `*.ext`, `pre*`,
  // `**`, `**/name`, `**/*.ext`), else a cheap last-byte reject.
  struct Fast {
    unsigned char kind = 0;
    char last = 0;  // kind 0: the byte a match must end with, 0 if unknown
    std::string lit;
  };
  std::vector<Fast> fast_;
};

/// Expands ripgrep/globset `{a,b}` alternation (nested allowed) into plain patterns.
std::vector<std::string> expand_braces(std::string_view pattern);

/// Why `pattern` is not a glob ripgrep accepts for `-g` (its globset
/// crate's errors): a `[` class that is not closed or names an unknown
/// [:class:], a range whose end comes before its start (`[z-a]`), a `{`
/// without its `}`, a `\` at the end (a lone `}` is literal, as there). Nullopt for a
/// valid glob. Ignore files keep git's reading instead (a malformed class
/// matches nothing), so this is for globs a client passes.
std::optional<std::string> glob_syntax_error(std::string_view pattern);

/// git's wildmatch(3) with WM_PATHNAME on one expanded pattern.
bool wildmatch(std::string_view pattern, std::string_view text, bool case_insensitive);

}  // namespace icotes
