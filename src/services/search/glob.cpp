#include "icotes/glob.hpp"

#include <cctype>
#include <cstring>

namespace icotes {
namespace {

enum class Match { Yes, No, AbortAll, AbortToStarStar };

char fold(char c, bool ci) { return ci ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c; }

bool class_name_matches(std::string_view name, unsigned char c) {
  if (name == "alnum") return std::isalnum(c);
  if (name == "alpha") return std::isalpha(c);
  if (name == "blank") return c == ' ' || c == '\t';
  if (name == "cntrl") return std::iscntrl(c);
  if (name == "digit") return std::isdigit(c);
  if (name == "graph") return std::isgraph(c);
  if (name == "lower") return std::islower(c);
  if (name == "print") return std::isprint(c);
  if (name == "punct") return std::ispunct(c);
  if (name == "space") return std::isspace(c);
  if (name == "upper") return std::isupper(c);
  if (name == "xdigit") return std::isxdigit(c);
  return false;
}

// Matches a bracket expression starting at p[i] == '['. On success sets `next`
// to the index after ']' and `hit` to whether `c` is in the class. Returns
// false for an unterminated class (then '[' is a literal).
bool bracket(std::string_view p, std::size_t i, char c, bool ci, std::size_t& next, bool& hit) {
  std::size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    negate = true;
    ++j;
  }
  bool matched = false;
  bool first = true;
  const char fc = fold(c, ci);
  while (j < p.size() && (p[j] != ']' || first)) {
    first = false;
    if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
      const std::size_t end = p.find(":]", j + 2);
      if (end != std::string_view::npos) {
        if (class_name_matches(p.substr(j + 2, end - j - 2), static_cast<unsigned char>(c))) matched = true;
        j = end + 2;
        continue;
      }
    }
    char lo = p[j];
    if (lo == '\\' && j + 1 < p.size()) lo = p[++j];
    ++j;
    char hi = lo;
    if (j + 1 < p.size() && p[j] == '-' && p[j + 1] != ']') {
      hi = p[j + 1];
      j += 2;
      if (hi == '\\' && j < p.size()) hi = p[j++];
    }
    if (ci) {
      if ((fold(lo, true) <= fc && fc <= fold(hi, true)) ||
          (lo <= std::toupper(static_cast<unsigned char>(c)) && std::toupper(static_cast<unsigned char>(c)) <= hi))
        matched = true;
    } else if (lo <= c && c <= hi) {
      matched = true;
    }
  }
  if (j >= p.size()) return false;
  next = j + 1;
  hit = matched != negate && c != '/';
  return true;
}

// git's dowild(), WM_PATHNAME semantics.
Match dowild(std::string_view p, std::string_view t, bool ci) {
  std::size_t pi = 0, ti = 0;
  for (; pi < p.size(); ++pi, ++ti) {
    const char pc = p[pi];
    if (ti >= t.size() && pc != '*') return Match::AbortAll;
    switch (pc) {
      case '\\':
        if (pi + 1 < p.size()) ++pi;
        if (fold(t[ti], ci) != fold(p[pi], ci)) return Match::No;
        continue;
      case '?':
        if (t[ti] == '/') return Match::No;
        continue;
      case '*': {
        bool match_slash = false;
        const std::size_t star_start = pi;
        if (pi + 1 < p.size() && p[pi + 1] == '*') {
          while (pi + 1 < p.size() && p[pi + 1] == '*') ++pi;
          const bool at_start = star_start == 0 || p[star_start - 1] == '/';
          const bool at_end = pi + 1 == p.size() || p[pi + 1] == '/';
          if (at_start && at_end) {
            // "**/" may match nothing at all: try skipping "**/" entirely.
            if (pi + 1 < p.size() && p[pi + 1] == '/' &&
                dowild(p.substr(pi + 2), t.substr(ti), ci) == Match::Yes)
              return Match::Yes;
            match_slash = true;
          }
        }
        ++pi;
        if (pi >= p.size()) {  // trailing star(s)
          if (!match_slash && t.substr(ti).find('/') != std::string_view::npos) return Match::No;
          return Match::Yes;
        }
        if (!match_slash && p[pi] == '/') {
          // One '*' then '/': skip to the next '/' of the text; the loop
          // increment consumes both slashes.
          const std::size_t slash = t.find('/', ti);
          if (slash == std::string_view::npos) return Match::No;
          ti = slash;
          continue;
        }
        for (; ti < t.size(); ++ti) {
          const Match m = dowild(p.substr(pi), t.substr(ti), ci);
          if (m != Match::No) {
            if (!match_slash || m != Match::AbortToStarStar) return m;
          } else if (!match_slash && t[ti] == '/') {
            return Match::AbortToStarStar;
          }
        }
        return Match::AbortAll;
      }
      case '[': {
        std::size_t next = 0;
        bool hit = false;
        if (bracket(p, pi, t[ti], ci, next, hit)) {
          if (!hit) return Match::No;
          pi = next - 1;
          continue;
        }
        if (t[ti] != '[') return Match::No;
        continue;
      }
      default:
        if (fold(t[ti], ci) != fold(pc, ci)) return Match::No;
        continue;
    }
  }
  return ti >= t.size() ? Match::Yes : Match::No;
}

}  // namespace

bool wildmatch(std::string_view pattern, std::string_view text, bool case_insensitive) {
  return dowild(pattern, text, case_insensitive) == Match::Yes;
}

std::vector<std::string> expand_braces(std::string_view pattern) {
  // Find the first top-level '{' with a matching '}' and at least one ','.
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
      continue;
    }
    if (pattern[i] == '[') {  // braces inside a class are literal
      const std::size_t close = pattern.find(']', i + 2);
      if (close != std::string_view::npos) i = close;
      continue;
    }
    if (pattern[i] != '{') continue;
    int depth = 0;
    std::vector<std::size_t> commas;
    std::size_t close = std::string_view::npos;
    for (std::size_t j = i; j < pattern.size(); ++j) {
      if (pattern[j] == '\\') {
        ++j;
        continue;
      }
      if (pattern[j] == '{') ++depth;
      if (pattern[j] == '}' && --depth == 0) {
        close = j;
        break;
      }
      if (pattern[j] == ',' && depth == 1) commas.push_back(j);
    }
    if (close == std::string_view::npos) break;
    std::vector<std::string> out;
    const std::string_view prefix = pattern.substr(0, i);
    const std::string_view suffix = pattern.substr(close + 1);
    std::size_t start = i + 1;
    commas.push_back(close);
    for (std::size_t c : commas) {
      std::string alt(prefix);
      alt += pattern.substr(start, c - start);
      alt += suffix;
      for (auto& e : expand_braces(alt)) out.push_back(std::move(e));
      start = c + 1;
    }
    return out;
  }
  return {std::string(pattern)};
}

Glob::Glob(std::string_view pattern, bool case_insensitive)
    : pattern_(pattern), alternatives_(expand_braces(pattern)), case_insensitive_(case_insensitive) {}

bool Glob::matches(std::string_view path) const {
  for (const auto& alt : alternatives_) {
    if (wildmatch(alt, path, case_insensitive_)) return true;
  }
  return false;
}

}  // namespace icotes
