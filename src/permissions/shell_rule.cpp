// Shell permission rules (include/permissions/icotes/shell_rule.hpp): Claude Code style
// patterns matched against the simple commands that parse_shell_command
// (shell_parse.cpp) lists.
#include "icotes/shell_rule.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "shell_parse.hpp"

namespace icotes::permissions {

using detail::all_digits;
using detail::basename;
using detail::is_blank;

namespace {

std::vector<std::string_view> split_blanks(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (is_blank(s[i]) || s[i] == '\n')) ++i;
    std::size_t start = i;
    while (i < s.size() && !is_blank(s[i]) && s[i] != '\n') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// `*` matches any run of bytes, including the NUL that stands for a dynamic word; other bytes match themselves
// and never NUL.
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && text[t] != '\0' && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Whether some text that `text` may stand for matches the glob `pattern`: in `text` a NUL stands for any run of
// bytes (a dynamic word), in `pattern` a `*` does. Dynamic programming over two rows: O(pattern * text).
bool glob_may_match(std::string_view pattern, std::string_view text) {
  const std::size_t n = text.size();
  std::vector<std::uint8_t> next(n + 1);  // row p + 1: does pattern[p + 1..] match text[t..]
  std::vector<std::uint8_t> cur(n + 1);
  next[n] = 1;
  for (std::size_t t = n; t-- > 0;) next[t] = text[t] == '\0' && next[t + 1];
  for (std::size_t p = pattern.size(); p-- > 0;) {
    const char pc = pattern[p];
    cur[n] = pc == '*' && next[n];
    for (std::size_t t = n; t-- > 0;) {
      if (text[t] == '\0') {
        cur[t] = cur[t + 1] || next[t];  // the unknown text is empty, or it covers pattern[p]
      } else if (pc == '*') {
        cur[t] = next[t] || cur[t + 1];
      } else {
        cur[t] = pc == text[t] && next[t + 1];
      }
    }
    std::swap(cur, next);
  }
  return next[0] != 0;
}

enum class Shape { kPrefix, kGlob, kExact };

struct Pattern {
  Shape shape = Shape::kExact;
  std::vector<std::string_view> words;  // kPrefix, kExact
  std::string glob;                     // kGlob: the words joined by single spaces
};

Pattern parse_pattern(std::string_view pattern) {
  while (!pattern.empty() && is_blank(pattern.back())) pattern.remove_suffix(1);
  Pattern p;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ":*") {
    p.shape = Shape::kPrefix;
    p.words = split_blanks(pattern.substr(0, pattern.size() - 2));
  } else if (!pattern.empty() && pattern.back() == '*') {
    p.shape = Shape::kGlob;
    for (std::string_view w : split_blanks(pattern)) {
      if (!p.glob.empty()) p.glob += ' ';
      p.glob += w;
    }
  } else {
    p.words = split_blanks(pattern);
  }
  return p;
}

// A command's words as a pattern sees them: the leading assignments (all, only those that matter, or none),
// then the command name (or its last path component) and the arguments.
struct View {
  std::vector<std::string_view> words;
  std::vector<bool> dynamic;
};

enum class Assignments { kAll, kMeaningful, kNone };

View view_of(const SimpleCommand& c, Assignments which, bool name_basename) {
  View v;
  if (which != Assignments::kNone) {
    for (std::size_t k = 0; k < c.assignments.size(); ++k) {
      const bool dynamic = k < c.assignment_dynamic.size() && c.assignment_dynamic[k];
      const std::string_view a = c.assignments[k];
      if (which == Assignments::kMeaningful && !dynamic) {
        const std::size_t eq = a.find('=');
        if (eq != std::string_view::npos && harmless_environment_variable(a.substr(0, eq), a.substr(eq + 1))) continue;
      }
      v.words.push_back(a);
      v.dynamic.push_back(dynamic);
    }
  }
  for (std::size_t k = 0; k < c.words.size(); ++k) {
    std::string_view w = c.words[k];
    if (k == 0 && name_basename && !c.dynamic[0]) w = basename(w);
    v.words.push_back(w);
    v.dynamic.push_back(c.dynamic[k]);
  }
  return v;
}

// Allow rules: a dynamic word equals no literal pattern word; only `:*` and a glob `*` cover it.
bool view_matches(const Pattern& p, const View& v) {
  if (v.words.empty()) return false;
  switch (p.shape) {
    case Shape::kPrefix:
    case Shape::kExact:
      if (p.shape == Shape::kExact ? p.words.size() != v.words.size() : p.words.size() > v.words.size()) return false;
      for (std::size_t k = 0; k < p.words.size(); ++k) {
        if (v.dynamic[k] || v.words[k] != p.words[k]) return false;
      }
      return true;
    case Shape::kGlob: {
      std::string text;
      for (std::size_t k = 0; k < v.words.size(); ++k) {
        if (k > 0) text += ' ';
        if (v.dynamic[k]) {
          text += '\0';
        } else {
          text += v.words[k];
        }
      }
      return glob_match(p.glob, text);
    }
  }
  return false;
}

// view_may_match for a word pattern (`kPrefix`, `kExact`): each word equal, or an expansion that may be it.
bool words_may_match(const Pattern& p, const View& v) {
  std::size_t k = 0;
  for (; k < p.words.size(); ++k) {
    if (k >= v.words.size()) return false;
    if (v.dynamic[k]) return true;
    if (v.words[k] != p.words[k]) return false;
  }
  if (p.shape == Shape::kPrefix) return true;
  for (; k < v.words.size(); ++k) {  // what follows must be able to vanish
    if (!v.dynamic[k]) return false;
  }
  return true;
}

// The words of a view as the text a glob pattern is matched against, an expansion as '\0'.
std::string glob_text(const View& v) {
  std::string text;
  for (std::size_t k = 0; k < v.words.size(); ++k) {
    if (v.dynamic[k]) {
      text += '\0';  // also stands for the blank before it
    } else {
      if (k > 0) text += ' ';
      text += v.words[k];
    }
  }
  return text;
}

// Deny rules: a dynamic word may be any text, or no word at all, or several.
bool view_may_match(const Pattern& p, const View& v) {
  if (v.words.empty()) return false;
  switch (p.shape) {
    case Shape::kPrefix:
    case Shape::kExact:
      return words_may_match(p, v);
    case Shape::kGlob:
      return glob_may_match(p.glob, glob_text(v));
  }
  return false;
}

// A pattern word list that `rule_matches_command` reads back as exactly these words, or nothing.
std::optional<std::string> exact_pattern(const SimpleCommand& c) {
  if (c.redirects_files || c.words.empty()) return std::nullopt;
  std::string out;
  auto add = [&out](std::string_view w, bool dynamic) {
    if (dynamic || w.empty()) return false;
    for (char ch : w) {
      if (is_blank(ch) || ch == '\n') return false;
    }
    if (!out.empty()) out += ' ';
    out += w;
    return true;
  };
  for (std::size_t k = 0; k < c.assignments.size(); ++k) {
    if (!add(c.assignments[k], k < c.assignment_dynamic.size() && c.assignment_dynamic[k])) return std::nullopt;
  }
  for (std::size_t k = 0; k < c.words.size(); ++k) {
    if (!add(c.words[k], c.dynamic[k])) return std::nullopt;
  }
  if (out.back() == '*') return std::nullopt;  // it would be a glob
  return out;
}

}  // namespace

bool harmless_environment_variable(std::string_view name, std::string_view value) {
  const bool no_slash = value.find('/') == std::string_view::npos;
  if (name == "TERM" || name == "LANG" || name == "LANGUAGE" || name == "LC_ALL") return no_slash;
  if (name.size() > 3 && name.substr(0, 3) == "LC_") {
    for (char ch : name.substr(3)) {
      if (ch < 'A' || ch > 'Z') return false;
    }
    return no_slash;
  }
  if (name == "COLUMNS" || name == "LINES") return all_digits(value);
  return name == "COLORTERM" || name == "TZ" || name == "NO_COLOR" || name == "FORCE_COLOR" || name == "CLICOLOR" ||
         name == "CLICOLOR_FORCE" || name == "CI";
}

bool rule_matches_command(std::string_view pattern, const SimpleCommand& command) {
  if (command.redirects_files) return false;
  if (!command.words.empty() && command.dynamic[0]) return false;
  const Pattern p = parse_pattern(pattern);
  const View all = view_of(command, Assignments::kAll, false);
  if (view_matches(p, all)) return true;
  const View meaningful = view_of(command, Assignments::kMeaningful, false);
  return meaningful.words.size() != all.words.size() && view_matches(p, meaningful);
}

bool rule_may_match_command(std::string_view pattern, const SimpleCommand& command) {
  if (!command.words.empty() && command.dynamic[0]) return false;
  const Pattern p = parse_pattern(pattern);
  const bool has_path = !command.words.empty() && command.words[0].find('/') != std::string::npos;
  for (Assignments which : {Assignments::kAll, Assignments::kNone}) {
    if (view_may_match(p, view_of(command, which, false))) return true;
    if (has_path && view_may_match(p, view_of(command, which, true))) return true;
  }
  return false;
}

bool names_known(const ShellParse& parse) {
  if (parse.opaque) return false;
  for (const SimpleCommand& c : parse.commands) {
    if (!c.words.empty() && c.dynamic[0]) return false;
  }
  return true;
}

bool bash_rule_matches(std::string_view pattern, std::string_view command) {
  return bash_rules_allow({std::string(pattern)}, command);
}

bool bash_rules_allow(const std::vector<std::string>& patterns, std::string_view command) {
  ShellParse parse = parse_shell_command(command);
  if (parse.opaque || parse.commands.empty()) return false;
  for (const SimpleCommand& c : parse.commands) {
    bool allowed = false;
    for (const std::string& p : patterns) {
      if (rule_matches_command(p, c)) {
        allowed = true;
        break;
      }
    }
    if (!allowed) return false;
  }
  return true;
}

bool bash_rule_may_match(std::string_view pattern, const ShellParse& parse) {
  if (parse.opaque) return false;
  for (const SimpleCommand& c : parse.commands) {
    if (rule_may_match_command(pattern, c)) return true;
  }
  return false;
}

std::vector<std::string> exact_patterns_for(std::string_view command) {
  ShellParse parse = parse_shell_command(command);
  std::vector<std::string> out;
  if (parse.opaque) return out;
  std::unordered_set<std::string> seen;
  for (const SimpleCommand& c : parse.commands) {
    std::optional<std::string> p = exact_pattern(c);
    if (!p) return {};
    if (seen.insert(*p).second) out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace icotes::permissions
