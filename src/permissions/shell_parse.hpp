// The shell-rule parser's private pieces (the API is
// include/permissions/icotes/shell_rule.hpp), shared by shell_parse.cpp (the bash
// grammar: every simple command of a line), shell_wrappers.cpp (commands that
// run other commands: env, sudo, sh -c, xargs, find -exec, ... and builtins
// that evaluate text) and shell_rule.cpp (rule patterns matched against the
// parsed commands).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "icotes/shell_rule.hpp"

namespace icotes::permissions::detail {

// Thrown wherever the parser is unsure; parse_shell_command turns it into
// ShellParse::opaque with the reason.
struct Opaque {
  std::string reason;
};

[[noreturn]] inline void opaque(std::string reason) { throw Opaque{std::move(reason)}; }

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
inline bool one_of(char c, std::string_view set) { return c != '\0' && set.find(c) != std::string_view::npos; }
inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

inline std::string_view basename(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// One word after quote removal.
struct Word {
  std::string text;
  bool dynamic = false;     // holds an expansion whose value is unknown
  bool splits = false;      // has an unquoted expansion or glob: may become zero or several words
  bool quoted = false;      // some quoting was used (reserved words, here-document delimiters)
  bool assignment = false;  // unquoted NAME=value or NAME+=value shape
};

// A simple command while it is analysed.
struct Cmd {
  std::vector<Word> assignments;
  std::vector<Word> words;
  bool redirects_files = false;
  bool redirected = false;    // had any redirection, even a harmless one
  bool amp_redirect = false;  // had `&>`: dash reads `a &>f b` as `a &` then `>f b`, which runs b
  bool empty() const { return assignments.empty() && words.empty() && !redirected; }
};

// A reserved word of bash (bash(1) "Reserved Words"): unquoted and literal.
bool is_reserved_word(const Word& w);

// Parses a script that a command runs (sh -c, eval, trap, watch) as the
// outer line is parsed, adding its commands to the result.
using ParseNested = std::function<void(const std::string& script)>;

// Opaque for a builtin that evaluates text as code: a variable's text or a
// subscript as arithmetic, where bash runs `$(..)` (let, read, test -v,
// printf -v, ...), or that changes what a later command name runs (alias,
// hash -p, enable).
void check_builtins(const Cmd& c);

// The commands a wrapper runs (env, sudo, nice, timeout, xargs, find -exec,
// ...) go to `inner`; the scripts it runs (sh -c, eval, trap, watch) go to
// `parse_nested`. May mark `c` as redirecting to files (time -o, find
// -fprint). Opaque where the wrapped command cannot be known.
void unwrap(Cmd& c, std::vector<Cmd>& inner, const ParseNested& parse_nested);

}  // namespace icotes::permissions::detail
