#include "icotes/glob.hpp"

#include <cctype>
#include <cstring>
#include <utility>

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

// Matches a bracket expression starting at p[i] == '[' exactly as git's
// dowild() does. On success sets `next` to the index after ']' and `hit` to
// whether `c` is in the class. Returns false for a malformed class
// (unterminated, or an unknown [:name:]): then the whole pattern fails, as in git.
// Git's dowild() bracket-expression matcher ported case for case, so it reads against wildmatch.c; per-byte work of
// search's glob filter (bench/).
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
bool bracket(std::string_view p, std::size_t i, char c, bool ci, std::size_t& next, bool& hit) {
  const auto at = [&](std::size_t k) -> unsigned char { return k < p.size() ? static_cast<unsigned char>(p[k]) : 0; };
  unsigned char t = static_cast<unsigned char>(c);
  if (ci && std::isupper(t)) t = static_cast<unsigned char>(std::tolower(t));
  std::size_t j = i + 1;
  unsigned char pc = at(j);
  bool negated = false;
  if (pc == '!' || pc == '^') {
    negated = true;
    pc = at(++j);
  }
  unsigned char prev = 0;
  bool matched = false;
  do {
    if (!pc) return false;
    if (pc == '\\') {
      pc = at(++j);
      if (!pc) return false;
      if (t == pc) matched = true;
    } else if (pc == '-' && prev && at(j + 1) && at(j + 1) != ']') {
      pc = at(++j);
      if (pc == '\\') {
        pc = at(++j);
        if (!pc) return false;
      }
      if (t <= pc && t >= prev) {
        matched = true;
      } else if (ci && std::islower(t)) {
        const auto u = static_cast<unsigned char>(std::toupper(t));
        if (u <= pc && u >= prev) matched = true;
      }
      pc = 0;  // no range may start at a range's end
    } else if (pc == '[' && at(j + 1) == ':') {
      const std::size_t s = j + 2;
      std::size_t k = s;
      while (at(k) && at(k) != ']') ++k;
      if (!at(k)) return false;
      if (k < s + 1 || at(k - 1) != ':') {  // no ":]": the '[' is an ordinary member
        if (t == '[') matched = true;
      } else {
        const std::string_view name = p.substr(s, k - 1 - s);
        if (name != "alnum" && name != "alpha" && name != "blank" && name != "cntrl" && name != "digit" &&
            name != "graph" && name != "lower" && name != "print" && name != "punct" && name != "space" &&
            name != "upper" && name != "xdigit")
          return false;
        if (class_name_matches(name, t) || (name == "upper" && ci && std::islower(t))) matched = true;
        j = k;
        pc = 0;
      }
    } else if (t == pc) {
      matched = true;
    }
    prev = pc;
    pc = at(++j);
  } while (pc != ']');
  next = j + 1;
  hit = matched != negated && c != '/';
  return true;
}

// git's dowild(), WM_PATHNAME semantics.
// A port of git's dowild() (wildmatch.c) kept in its shape to be checked against it; runs per path in search's walk
// (bench/).
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Match dowild(std::string_view p, std::string_view t, bool ci) {
  std::size_t pi = 0, ti = 0;
  for (; pi < p.size(); ++pi, ++ti) {
    const char pc = p[pi];
    if (ti >= t.size() && pc != '*') return Match::AbortAll;
    switch (pc) {
      case '\\':
        if (++pi >= p.size()) return Match::No;  // a trailing '\\' matches nothing (git)
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
            if (pi + 1 < p.size() && p[pi + 1] == '/' && dowild(p.substr(pi + 2), t.substr(ti), ci) == Match::Yes)
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
        if (!bracket(p, pi, t[ti], ci, next, hit)) return Match::AbortAll;  // malformed: never matches
        if (!hit) return Match::No;
        pi = next - 1;
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

// One scan of the pattern that follows dowild()'s syntax (escapes, classes with ranges, braces); its cases read best
// side by side.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::optional<std::string> glob_syntax_error(std::string_view p) {
  int depth = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 == p.size()) return "a '\\' at the end escapes nothing";
      ++i;
    } else if (c == '[') {
      std::size_t next = 0;
      bool hit = false;
      if (!bracket(p, i, 'a', false, next, hit))
        return "the character class at byte " + std::to_string(i + 1) +
               " is not closed with ']' or names an unknown [:class:]";
      // Ranges whose end comes before their start (globset: invalid range).
      const std::size_t close = next - 1;
      std::size_t j = i + 1;
      if (j < close && (p[j] == '!' || p[j] == '^')) ++j;
      for (; j < close; ++j) {
        if (p[j] == '\\') {
          ++j;
          continue;
        }
        if (p[j] == '[' && j + 1 < close && p[j + 1] == ':') {
          if (const std::size_t e = p.find(":]", j + 2); e < close) {
            j = e + 1;
            continue;
          }
        }
        if (j + 2 < close && p[j + 1] == '-' && p[j + 2] != '\\' &&
            static_cast<unsigned char>(p[j + 2]) < static_cast<unsigned char>(p[j]))
          return "the range '" + std::string(p.substr(j, 3)) + "' ends before it starts";
      }
      i = next - 1;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && depth > 0) {
      --depth;  // a '}' that closes nothing is literal
    }
  }
  if (depth > 0) return "a '{' is not closed with '}'";
  return std::nullopt;
}

bool wildmatch(std::string_view pattern, std::string_view text, bool case_insensitive) {
  return dowild(pattern, text, case_insensitive) == Match::Yes;
}

// One recursive rewrite: find the first top-level {..,..} (escapes and nesting counted), splice each alternative,
// recurse.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
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

namespace {

enum FastKind : unsigned char {
  kWild = 0,     // wildmatch (with a last-byte reject when `last` is set)
  kLiteral,      // text == lit
  kSuffix,       // `*lit`: text ends with lit, no '/' before it
  kPrefix,       // `lit*`: text starts with lit, no '/' after it
  kAny,          // `**`
  kBaseLiteral,  // `**/lit`: the base name == lit
  kBaseSuffix,   // `**/*lit`: the base name ends with lit
};

bool plain(std::string_view s) { return s.find_first_of("*?[\\") == std::string_view::npos; }

}  // namespace

namespace {

// Index of the ']' that closes the bracket expression opening at a[i], as
// git's dowild() reads it ('!'/'^' negation, a leading ']' is literal,
// [:name:] classes and '\' escapes are skipped), or npos when unclosed.
std::size_t bracket_close(std::string_view a, std::size_t i) {
  std::size_t j = i + 1;
  if (j < a.size() && (a[j] == '!' || a[j] == '^')) ++j;
  if (j < a.size() && a[j] == ']') ++j;
  for (; j < a.size(); ++j) {
    if (a[j] == ']') return j;
    if (a[j] == '\\') {
      ++j;
    } else if (a[j] == '[' && j + 1 < a.size() && a[j + 1] == ':') {
      const std::size_t c = a.find(":]", j + 2);
      if (c != std::string_view::npos) j = c + 1;
    }
  }
  return std::string_view::npos;
}

// The shape of `a` whose wildmatch (WM_PATHNAME) result is a string
// comparison, with the literal it compares; kWild (and no literal) if none.
std::pair<FastKind, std::string_view> fast_shape(std::string_view a) {
  const bool base = a.size() > 3 && a.substr(0, 3) == "**/";
  std::string_view rest = base ? a.substr(3) : a;
  const bool rest_slash = rest.find('/') != std::string_view::npos;
  if (a == "**") return {kAny, {}};
  if (!rest.empty() && plain(rest) && !(base && rest_slash)) return {base ? kBaseLiteral : kLiteral, rest};
  if (rest.size() >= 1 && rest[0] == '*' && (rest.size() < 2 || rest[1] != '*') && plain(rest.substr(1)) && !rest_slash)
    return {base ? kBaseSuffix : kSuffix, rest.substr(1)};
  if (!base && rest.size() >= 2 && rest.back() == '*' && rest[rest.size() - 2] != '*' &&
      plain(rest.substr(0, rest.size() - 1)))
    return {kPrefix, rest.substr(0, rest.size() - 1)};
  return {kWild, {}};
}

// The longest run of plain bytes of `a` (no '/', which `**/` may drop): any
// match contains it.
std::string longest_plain_run(std::string_view a) {
  std::string longest, run;
  for (std::size_t i = 0; i <= a.size(); ++i) {
    const char c = i < a.size() ? a[i] : '*';
    if (c == '*' || c == '?' || c == '/' || c == '\\' || c == '[') {
      if (run.size() > longest.size()) longest = run;
      run.clear();
      if (c == '\\') ++i;
      if (c == '[') {
        const std::size_t close = bracket_close(a, i);
        if (close == std::string_view::npos) break;  // an unclosed '['; keep what we have
        i = close;
      }
    } else {
      run.push_back(c);
    }
  }
  return longest;
}

// The byte every match of `a` ends with when its last is a literal, else 0.
char literal_last_byte(std::string_view a) {
  if (a.empty()) return 0;
  const char c = a.back();
  const bool escaped = a.size() >= 2 && a[a.size() - 2] == '\\';
  if (!escaped && c != '*' && c != '?' && c != ']' && c != '\\' && c != '/') return c;
  return 0;
}

}  // namespace

Glob::Glob(std::string_view pattern, bool case_insensitive)
    : pattern_(pattern), alternatives_(expand_braces(pattern)), case_insensitive_(case_insensitive) {
  // Shapes whose wildmatch (WM_PATHNAME) result is a string comparison.
  for (const auto& alt : alternatives_) {
    Fast f;
    std::string_view a = alt;
    if (!case_insensitive_) {
      const auto [kind, lit] = fast_shape(a);
      f.kind = kind;
      f.lit = lit;
      if (f.kind == kWild) {
        f.lit = longest_plain_run(a);
        f.last = literal_last_byte(a);
      }
    }
    fast_.push_back(std::move(f));
  }
}

// A table-like dispatch over the precomputed shapes of each alternative; called per path in search's walk, measured
// against ripgrep (bench/).
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
bool Glob::matches(std::string_view path) const {
  for (std::size_t i = 0; i < alternatives_.size(); ++i) {
    const Fast& f = fast_[i];
    switch (f.kind) {
      case kAny:
        return true;
      case kLiteral:
        if (path == f.lit) return true;
        continue;
      case kSuffix:
        if (path.size() >= f.lit.size() && path.substr(path.size() - f.lit.size()) == f.lit &&
            path.substr(0, path.size() - f.lit.size()).find('/') == std::string_view::npos)
          return true;
        continue;
      case kPrefix:
        if (path.size() >= f.lit.size() && path.substr(0, f.lit.size()) == f.lit &&
            path.find('/', f.lit.size()) == std::string_view::npos)
          return true;
        continue;
      case kBaseLiteral:
      case kBaseSuffix: {
        const std::size_t slash = path.rfind('/');
        const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
        if (f.kind == kBaseLiteral ? name == f.lit
                                   : name.size() >= f.lit.size() && name.substr(name.size() - f.lit.size()) == f.lit)
          return true;
        continue;
      }
      default:
        if (f.last && (path.empty() || path.back() != f.last)) continue;
        if (!f.lit.empty() && path.find(f.lit) == std::string_view::npos) continue;
        if (wildmatch(alternatives_[i], path, case_insensitive_)) return true;
    }
  }
  return false;
}

}  // namespace icotes
