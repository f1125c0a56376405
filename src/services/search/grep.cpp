// grep: matcher (RE2, PCRE2, memmem) → searcher (whole-file buffer, lines
// split only around matches) → FileResult sink, as ripgrep does.
#include <fcntl.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "icotes/cancellation.hpp"
#include "icotes/documents.hpp"
#include "icotes/search.hpp"
#include "icotes/text.hpp"
#include "icotes/walk.hpp"

namespace icotes::search {
namespace {

// Finds the leftmost match at or after `from`; start/end are byte offsets in `text`.
class Matcher {
 public:
  virtual ~Matcher() = default;
  virtual bool find(std::string_view text, std::size_t from, std::size_t& start, std::size_t& end) const = 0;
};

// memmem with a SIMD filter on two bytes of the needle (its first and last,
// as in Muła's "SIMD-friendly substring search"), 32 positions at a time.
__attribute__((target("avx2"))) const char* find_avx2(const char* s, std::size_t n, const char* needle, std::size_t k) {
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i last = _mm256_set1_epi8(needle[k - 1]);
  std::size_t i = 0;
  for (; i + k - 1 + 32 <= n; i += 32) {
    const __m256i bf = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    const __m256i bl = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + k - 1));
    auto mask = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(bf, first), _mm256_cmpeq_epi8(bl, last))));
    while (mask != 0) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      if (std::memcmp(s + i + bit + 1, needle + 1, k - 2) == 0) return s + i + bit;
      mask &= mask - 1;
    }
  }
  if (i >= n) return nullptr;
  return static_cast<const char*>(::memmem(s + i, n - i, needle, k));
}

const bool kHaveAvx2 = __builtin_cpu_supports("avx2");

class LiteralMatcher final : public Matcher {
 public:
  explicit LiteralMatcher(std::string needle) : needle_(std::move(needle)) {}
  bool find(std::string_view text, std::size_t from, std::size_t& start, std::size_t& end) const override {
    if (from > text.size()) return false;
    const char* base = text.data() + from;
    const std::size_t n = text.size() - from;
    const std::size_t k = needle_.size();
    const void* hit;
    if (k == 1)
      hit = std::memchr(base, needle_[0], n);
    else if (kHaveAvx2 && k >= 2)
      hit = find_avx2(base, n, needle_.data(), k);
    else
      hit = ::memmem(base, n, needle_.data(), k);
    if (!hit) return false;
    start = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
    end = start + k;
    return true;
  }

 private:
  std::string needle_;
};

// The empty pattern: an empty match at every position (as any engine finds
// it), without running one; `grep ""` made 180 million RE2 calls on 180 MB.
class EmptyMatcher final : public Matcher {
 public:
  bool find(std::string_view text, std::size_t from, std::size_t& start, std::size_t& end) const override {
    if (from > text.size()) return false;
    start = end = from;
    return true;
  }
};

// ASCII case-insensitive find of `needle` (lowercase, letters or not) in s[0, n).
bool eq_ci(const char* a, const char* lower, std::size_t k) {
  for (std::size_t i = 0; i < k; ++i) {
    const auto c = static_cast<unsigned char>(a[i]);
    if ((c >= 'A' && c <= 'Z' ? c | 0x20 : c) != static_cast<unsigned char>(lower[i])) return false;
  }
  return true;
}
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

__attribute__((target("avx2"))) const char* find_ci_avx2(const char* s, std::size_t n, const char* lower,
                                                         std::size_t k) {
  const char f = lower[0], l = lower[k - 1];
  const __m256i first = _mm256_set1_epi8(f), last = _mm256_set1_epi8(l);
  const __m256i fold_f = _mm256_set1_epi8(is_alpha(f) ? 0x20 : 0), fold_l = _mm256_set1_epi8(is_alpha(l) ? 0x20 : 0);
  std::size_t i = 0;
  for (; k <= n && i + k - 1 + 32 <= n; i += 32) {
    const __m256i bf = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)), fold_f);
    const __m256i bl = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + k - 1)), fold_l);
    auto mask = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(bf, first), _mm256_cmpeq_epi8(bl, last))));
    while (mask != 0) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      if (eq_ci(s + i + bit, lower, k)) return s + i + bit;
      mask &= mask - 1;
    }
  }
  for (; i + k <= n; ++i) {
    if (eq_ci(s + i, lower, k)) return s + i;
  }
  return nullptr;
}

// Index of the ']' closing the bracket expression that opens at p[i] (a
// leading ']' or '^]' is literal; [:name:] and escapes are skipped), or
// p.size() when it is not closed.
std::size_t class_end(std::string_view p, std::size_t i) {
  std::size_t j = i + 1;
  if (j < p.size() && p[j] == '^') ++j;
  if (j < p.size() && p[j] == ']') ++j;
  for (; j < p.size() && p[j] != ']'; ++j) {
    if (p[j] == '\\') {
      ++j;
    } else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
      const std::size_t c = p.find(":]", j + 2);
      if (c != std::string_view::npos) j = c + 1;
    }
  }
  return std::min(j, p.size());
}

// The longest literal every match of `p` contains within its line (a
// conservative reading of the top-level concatenation; empty if none). With
// `caseless`, only ASCII bytes whose case folding stays ASCII (not k, s:
// KELVIN SIGN, LONG S), lowercased.
// A flat one-pass reader of the regex's top-level concatenation (atoms, escapes, classes, quantifiers); its cases
// share the current run.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::string required_literal(std::string_view p, bool caseless) {
  if (p.find("(?") != std::string_view::npos) return {};
  std::string best, run;
  auto flush = [&] {
    if (run.size() > best.size()) best = run;
    run.clear();
  };
  int depth = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '(')
      ++depth;
    else if (p[i] == ')')
      --depth;
    else if (p[i] == '\\')
      ++i;
    else if (p[i] == '[') {
      i = class_end(p, i);
    } else if (p[i] == '|' && depth == 0)
      return {};  // top-level alternation
  }
  for (std::size_t i = 0; i < p.size();) {
    const char c = p[i];
    int lit = -1;  // the literal byte of this atom, or -1
    std::size_t next = i + 1;
    if (c == '\\') {
      if (i + 1 >= p.size()) return {};
      const char e = p[i + 1];
      next = i + 2;
      if (std::strchr("\\.+*?()|[]{}^$-#&~ /", e) && e != 0)
        lit = static_cast<unsigned char>(e);
      else if (e == 'p' || e == 'P' || e == 'x' || e == 'u') {
        if (next < p.size() && p[next] == '{') {
          const std::size_t close = p.find('}', next);
          if (close == std::string_view::npos) return {};
          next = close + 1;
        } else if (e == 'x') {
          next = std::min(p.size(), next + 2);
        } else {
          next = std::min(p.size(), next + 1);
        }
      }
    } else if (c == '[') {
      const std::size_t j = class_end(p, i);
      if (j >= p.size()) return {};
      next = j + 1;
    } else if (c == '(') {
      int d = 0;
      std::size_t j = i;
      for (; j < p.size(); ++j) {
        if (p[j] == '\\')
          ++j;
        else if (p[j] == '(')
          ++d;
        else if (p[j] == ')' && --d == 0)
          break;
        else if (p[j] == '[') {
          std::size_t k = j + 1;
          if (k < p.size() && p[k] == '^') ++k;
          if (k < p.size() && p[k] == ']') ++k;
          for (; k < p.size() && p[k] != ']'; ++k) {
            if (p[k] == '\\') ++k;
          }
          j = k;
        }
      }
      if (j >= p.size()) return {};
      next = j + 1;
    } else if (c == '.' || c == '^' || c == '$' || c == ')' || c == '*' || c == '+' || c == '?' || c == '{' ||
               c == '|') {
      // an atom that is not a literal (a stray quantifier: give up on the run)
    } else {
      lit = static_cast<unsigned char>(c);
    }
    // A quantifier makes the atom optional (*, ?, {..}) or repeatable (+).
    bool optional = false, repeat = false;
    if (next < p.size()) {
      const char q = p[next];
      if (q == '*' || q == '?' || q == '{')
        optional = true;
      else if (q == '+')
        repeat = true;
      if (optional || repeat) {
        if (q == '{') {
          const std::size_t close = p.find('}', next);
          next = close == std::string_view::npos ? p.size() : close + 1;
        } else {
          ++next;
        }
        if (next < p.size() && (p[next] == '?' || p[next] == '+')) ++next;
      }
    }
    bool usable = lit >= 0 && lit < 0x80 && !optional;
    if (usable && caseless) {
      const char lc = static_cast<char>(lit >= 'A' && lit <= 'Z' ? lit | 0x20 : lit);
      if (lc == 'k' || lc == 's') usable = false;
      lit = static_cast<unsigned char>(lc);
    }
    if (usable) {
      run.push_back(static_cast<char>(lit));
      if (repeat) flush();
    } else {
      flush();
    }
    i = next;
  }
  flush();
  return best;
}

std::string unicode_perl_classes(std::string_view p);

class Re2Matcher final : public Matcher {
 public:
  Re2Matcher(const std::string& pattern, bool caseless, bool multiline, bool word, std::string& error) {
    RE2::Options o;
    o.set_case_sensitive(!caseless);
    o.set_never_nl(!multiline);
    o.set_log_errors(false);
    o.set_max_mem(256 << 20);
    o.set_dot_nl(false);
    // ripgrep -w: (?:^|\W)(PAT)(?:$|\W), the match being the group.
    std::string p = "(?m)" + unicode_perl_classes(word ? "(?:^|\\W)(" + pattern + ")(?:$|\\W)" : pattern);
    re_ = std::make_unique<RE2>(p, o);
    word_ = word;
    if (!re_->ok()) {
      // RE2 quotes the whole compiled pattern; show the client's own instead.
      error = re_->error();
      if (const std::size_t at = error.find(p); at != std::string::npos) error.replace(at, p.size(), pattern);
    }
    // Without multiline no match crosses a line break, so when every match
    // holds a literal, RE2 need only run on the lines that hold it.
    if (!multiline && kHaveAvx2) {
      lit_ = required_literal(pattern, caseless);
      caseless_ = caseless;
      if (lit_.size() < (caseless ? 3u : 4u)) lit_.clear();
    }
  }
  bool find(std::string_view text, std::size_t from, std::size_t& start, std::size_t& end) const override {
    if (lit_.empty()) return match(text, from, text.size(), start, end);
    std::size_t pos = from;
    while (pos < text.size()) {
      const char* hit = caseless_ ? find_ci_avx2(text.data() + pos, text.size() - pos, lit_.data(), lit_.size())
                                  : find_avx2(text.data() + pos, text.size() - pos, lit_.data(), lit_.size());
      if (!hit) return false;
      const std::size_t c = static_cast<std::size_t>(hit - text.data());
      const void* nl = ::memrchr(text.data() + pos, '\n', c - pos);
      const std::size_t ls = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()) + 1 : pos;
      const void* nr = std::memchr(text.data() + c, '\n', text.size() - c);
      const std::size_t le = nr ? static_cast<std::size_t>(static_cast<const char*>(nr) - text.data()) : text.size();
      if (match(text, ls, le, start, end)) return true;
      pos = le + 1;
    }
    return false;
  }

 private:
  bool match(std::string_view text, std::size_t from, std::size_t to, std::size_t& start, std::size_t& end) const {
    re2::StringPiece m[2];
    const int groups = word_ ? 2 : 1;
    if (!re_->Match(re2::StringPiece(text.data(), text.size()), from, to, RE2::UNANCHORED, m, groups)) return false;
    const re2::StringPiece& g = m[groups - 1];
    start = static_cast<std::size_t>(g.data() - text.data());
    end = start + g.size();
    return true;
  }
  std::unique_ptr<RE2> re_;
  bool word_ = false;
  std::string lit_;  // a literal every match holds (lowercase when caseless_), or empty
  bool caseless_ = false;
};

class Pcre2Matcher final : public Matcher {
 public:
  Pcre2Matcher(const std::string& pattern, bool caseless, bool multiline, bool word, std::string& error) {
    const std::string p = word ? "(?:^|\\W)(" + pattern + ")(?:$|\\W)" : pattern;
    word_ = word;
    multiline_ = multiline;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_MATCH_INVALID_UTF;
    if (caseless) opts |= PCRE2_CASELESS;
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), opts, &err, &off, nullptr);
    if (!code_) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(err, buf, sizeof buf);
      error = std::string(reinterpret_cast<char*>(buf)) + " at offset " + std::to_string(off);
      return;
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
  }
  // Matches within text[begin, limit), starting at `from`.
  bool match(std::string_view text, std::size_t begin, std::size_t limit, std::size_t from, std::size_t& start,
             std::size_t& end) const {
    thread_local struct Data {
      pcre2_match_data* md = pcre2_match_data_create(8, nullptr);
      ~Data() { pcre2_match_data_free(md); }
    } data;
    const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data() + begin), limit - begin, from - begin, 0,
                               data.md, nullptr);
    if (rc < 0) return false;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    const int g = word_ ? 1 : 0;
    start = begin + ov[2 * g];
    end = begin + ov[2 * g + 1];
    return true;
  }
  ~Pcre2Matcher() override {
    if (code_) pcre2_code_free(code_);
  }
  bool find(std::string_view text, std::size_t from, std::size_t& start, std::size_t& end) const override {
    for (;;) {
      if (!match(text, 0, text.size(), from, start, end)) return false;
      if (multiline_) return true;
      // Without multiline, ripgrep matches one line at a time: a match that
      // crossed a line break is re-tried with its first line as the subject.
      const std::size_t ls = start == 0 ? 0 : text.rfind('\n', start - 1) + 1;  // npos + 1 == 0
      std::size_t le = text.find('\n', start);
      if (le == std::string_view::npos) le = text.size();
      if (end <= le) return true;
      if (match(text, ls, le, std::max(from, ls), start, end)) return true;
      if (le >= text.size()) return false;
      from = le + 1;
    }
  }

 private:
  pcre2_code* code_ = nullptr;
  bool word_ = false;
  bool multiline_ = false;
};

// Rust's regex (ripgrep's default) makes \w, \d and \s Unicode-aware;
// RE2's are ASCII. Rewrite them into Unicode classes (outside and inside
// bracket expressions; a negated form inside brackets stays ASCII).
constexpr const char* kWord = "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}";
constexpr const char* kSpace =
    "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
// A flat one-pass rewriter of the regex (escapes inside and outside brackets share the bracket state); a state
// machine that reads as one.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::string unicode_perl_classes(std::string_view p) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      const char* set = n == 'w' || n == 'W' ? kWord : n == 's' || n == 'S' ? kSpace : nullptr;
      const bool negated = n == 'W' || n == 'S' || n == 'D';
      if (n == 'd' || n == 'D') {
        out += negated ? "\\P{Nd}" : "\\p{Nd}";
      } else if (set && !in_class) {
        out += negated ? "[^" : "[";
        out += set;
        out += "]";
      } else if (set && !negated) {
        out += set;
      } else {
        out.push_back(c);
        out.push_back(n);
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out.push_back(c);
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);  // leading ']' is literal
      continue;
    }
    if (c == '[' && in_class && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:]
      const std::size_t close = p.find(":]", i + 2);
      if (close != std::string_view::npos) {
        out.append(p.substr(i, close + 2 - i));
        i = close + 1;
        continue;
      }
    }
    if (c == ']' && in_class) in_class = false;
    out.push_back(c);
  }
  return out;
}

bool has_meta(std::string_view p) { return p.find_first_of("\\.+*?()|[]{}^$") != std::string_view::npos; }

// ripgrep's smart case: case-sensitive when the pattern has an uppercase
// literal (escapes such as \W or \p{Lu} do not count).
bool has_uppercase_literal(std::string_view p, bool fixed) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (!fixed && c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if ((n == 'p' || n == 'P') && i + 2 < p.size() && p[i + 2] == '{') {
        const std::size_t close = p.find('}', i + 3);
        i = close == std::string_view::npos ? p.size() : close;
      } else {
        ++i;
      }
      continue;
    }
    if (std::isupper(c)) return true;
  }
  return false;
}

std::string escape_regex(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::strchr("\\.+*?()|[]{}^$-#&~ ", c) && c != '\0') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

Result<std::unique_ptr<Matcher>> make_matcher(const GrepParams& p) {
  if (p.pattern.find('\n') != std::string::npos && !p.multiline && !p.fixed_strings)
    return make_error(error_code::kInvalidParams,
                      "grep: the pattern contains a line break; set multiline to match across lines");
  bool caseless = p.case_mode == CaseMode::Insensitive ||
                  (p.case_mode == CaseMode::Smart && !has_uppercase_literal(p.pattern, p.fixed_strings));
  if (p.pattern.empty() && !p.word) return std::unique_ptr<Matcher>(std::make_unique<EmptyMatcher>());
  const bool literal = p.fixed_strings || !has_meta(p.pattern);
  if (literal && !caseless && !p.word && !p.pattern.empty() && p.pattern.find('\n') == std::string::npos)
    return std::unique_ptr<Matcher>(std::make_unique<LiteralMatcher>(p.pattern));
  const std::string pattern = p.fixed_strings ? escape_regex(p.pattern) : p.pattern;
  std::string error;
  std::unique_ptr<Matcher> m;
  if (p.pcre2)
    m = std::make_unique<Pcre2Matcher>(pattern, caseless, p.multiline, p.word, error);
  else
    m = std::make_unique<Re2Matcher>(pattern, caseless, p.multiline, p.word, error);
  if (!error.empty())
    return make_error(error_code::kInvalidParams,
                      std::string("grep: invalid ") + (p.pcre2 ? "PCRE2" : "regex") + " pattern '" + p.pattern +
                          "': " + error + (p.pcre2 ? "" : " (look-around and back-references need pcre2: true)"));
  return m;
}

// Searches one buffer and fills `out`.
class Searcher {
 public:
  Searcher(const Matcher& m, const GrepParams& p) : m_(m), p_(p) {}

  // Searches `text`, whose first line is line `first_line` of the file (a
  // later chunk of a file read in pieces: see search_file).
  // The per-file match loop (matches, context lines, counts), the hot path measured against ripgrep in bench/.
  // NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
  void search(std::string_view text, FileResult& out, std::uint64_t first_line = 1) {
    text_ = text;
    out_ = &out;
    line_no_ = first_line;
    line_off_ = 0;
    printed_upto_ = 0;
    after_left_ = 0;
    std::size_t pos = 0;
    const bool want_lines = p_.output == OutputMode::Content;
    const bool first_only = p_.output == OutputMode::FilesWithMatches;
    while (pos <= text.size()) {
      if (p_.max_count && out.matched_lines >= *p_.max_count) break;
      if (first_only && out.matched_lines > 0) break;
      std::size_t s = 0, e = 0;
      if (!m_.find(text, pos, s, e)) break;
      // A file's final line terminator does not start another (empty) line,
      // and an empty file has no line at all (rg -c '^' lists none).
      if (s == text.size() && (s == 0 || text[s - 1] == '\n')) break;
      // The group of lines the match touches.
      std::size_t ls = line_start(s);
      std::size_t le = line_end(e > s ? e - 1 : s);
      if (first_only) {
        ++out.matched_lines;
        ++out.matches;
        break;
      }
      if (!want_lines) subs_.clear();
      std::vector<Submatch> local;
      std::vector<Submatch>& subs = want_lines ? local : subs_;
      std::uint64_t n_matches = 0;
      add_sub(subs, ls, s, e, n_matches);
      std::size_t last_end = e;
      std::size_t next = e > s ? e : step(s);
      // More matches on the same line(s). As Rust's regex find_iter, an
      // empty match right where the previous match ended is skipped.
      while (next <= le) {
        std::size_t s2 = 0, e2 = 0;
        if (!m_.find(text, next, s2, e2) || s2 > le) break;
        if (e2 == s2 && s2 == last_end) {
          next = step(s2);
          continue;
        }
        if (e2 > le) le = line_end(e2 > s2 ? e2 - 1 : s2);
        add_sub(subs, ls, s2, e2, n_matches);
        last_end = e2;
        next = e2 > s2 ? e2 : step(s2);
      }
      ++out.matched_lines;
      out.matches += n_matches;
      pos = le + 1;
      if (!want_lines) continue;  // counts need no line numbers
      const std::uint64_t number = number_of(ls);
      emit_match(number, ls, le, std::move(local));
      advance_to(pos, number + count_newlines(ls, std::min(le, text.size())) + 1);
    }
    if (want_lines) flush_after(text.size() + 1, UINT64_MAX);
  }

 private:
  std::size_t line_start(std::size_t off) const {
    if (off == 0) return 0;
    const void* p = ::memrchr(text_.data(), '\n', std::min(off, text_.size()));
    return p ? static_cast<std::size_t>(static_cast<const char*>(p) - text_.data()) + 1 : 0;
  }
  std::size_t line_end(std::size_t off) const {
    if (off >= text_.size()) return text_.size();
    const void* p = std::memchr(text_.data() + off, '\n', text_.size() - off);
    return p ? static_cast<std::size_t>(static_cast<const char*>(p) - text_.data()) : text_.size();
  }
  // The offset after the character at `off` (UTF-8 aware).
  std::size_t step(std::size_t off) const {
    if (off >= text_.size()) return off + 1;
    const auto c = static_cast<unsigned char>(text_[off]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    return std::min(off + n, text_.size() + 1);
  }
  std::uint64_t count_newlines(std::size_t from, std::size_t to) const {
    return static_cast<std::uint64_t>(std::count(text_.data() + from, text_.data() + to, '\n'));
  }
  // Line number of offset `ls` (a line start at or after line_off_).
  std::uint64_t number_of(std::size_t ls) {
    line_no_ += count_newlines(line_off_, ls);
    line_off_ = ls;
    return line_no_;
  }
  void advance_to(std::size_t off, std::uint64_t number) {
    if (off > text_.size()) off = text_.size();
    line_off_ = off;
    line_no_ = number;
  }
  void add_sub(std::vector<Submatch>& subs, std::size_t ls, std::size_t s, std::size_t e, std::uint64_t& n) {
    ++n;
    subs.push_back({static_cast<std::uint32_t>(s - ls), static_cast<std::uint32_t>(e - ls)});
  }
  std::string_view line_text(std::size_t ls, std::size_t le) const {
    std::string_view t = text_.substr(ls, le - ls);
    return t;
  }

  // Context: lines already emitted are tracked by number in printed_upto_.
  void emit_context(std::uint64_t number, std::size_t ls, std::size_t le) {
    Line l;
    l.number = number;
    l.text = line_text(ls, le);
    l.context = true;
    out_->lines.push_back(std::move(l));
    printed_upto_ = number;
  }
  // Emits pending after-context up to (not including) line `stop_number`.
  // The matches within line [ls, le), as the main loop finds them.
  std::vector<Submatch> line_matches(std::size_t ls, std::size_t le) const {
    std::vector<Submatch> subs;
    std::size_t pos = ls, last_end = std::string_view::npos, s = 0, e = 0;
    while (pos <= le && m_.find(text_, pos, s, e) && s <= le && e <= le) {
      if (e != s || s != last_end)
        subs.push_back({static_cast<std::uint32_t>(s - ls), static_cast<std::uint32_t>(e - ls)});
      last_end = e;
      pos = e > s ? e : step(s);
    }
    return subs;
  }
  void flush_after(std::size_t, std::uint64_t stop_number) {
    // Once -m is reached, ripgrep still reports a matching line of the last
    // after-context as a match (not counted, not extending the context).
    const bool at_max = stop_number == UINT64_MAX && p_.max_count && out_->matched_lines >= *p_.max_count;
    while (after_left_ > 0 && after_off_ < text_.size() && after_no_ < stop_number) {
      const std::size_t le = line_end(after_off_);
      std::vector<Submatch> subs;
      if (at_max) subs = line_matches(after_off_, le);
      if (subs.empty()) {
        emit_context(after_no_, after_off_, le);
      } else {
        Line l;
        l.number = after_no_;
        l.text = line_text(after_off_, le);
        l.submatches = std::move(subs);
        out_->lines.push_back(std::move(l));
      }
      after_off_ = le + 1;
      ++after_no_;
      --after_left_;
    }
    after_left_ = after_no_ < stop_number ? 0 : after_left_;
  }
  void emit_match(std::uint64_t number, std::size_t ls, std::size_t le, std::vector<Submatch> subs) {
    flush_after(ls, number);
    if (p_.before > 0) {
      // Walk back up to `before` lines, not past what was already printed.
      std::vector<std::pair<std::size_t, std::size_t>> prev;
      std::size_t cur = ls;
      std::uint64_t n = number;
      while (static_cast<int>(prev.size()) < p_.before && cur > 0 && n - 1 > printed_upto_) {
        const std::size_t pe = cur - 1;
        const std::size_t ps = line_start(pe);
        prev.emplace_back(ps, pe);
        cur = ps;
        --n;
      }
      for (auto it = prev.rbegin(); it != prev.rend(); ++it)
        emit_context(number - static_cast<std::uint64_t>(prev.rend() - it), it->first, it->second);
    }
    Line l;
    l.number = number;
    l.text = line_text(ls, le);
    l.submatches = std::move(subs);
    out_->lines.push_back(std::move(l));
    const std::uint64_t spanned = count_newlines(ls, le);
    printed_upto_ = number + spanned;
    if (p_.after > 0) {
      after_left_ = p_.after;
      after_no_ = number + spanned + 1;
      after_off_ = le + 1;
    }
  }

  const Matcher& m_;
  const GrepParams& p_;
  std::vector<Submatch> subs_;  // reused by the count mode
  std::string_view text_;
  FileResult* out_ = nullptr;
  std::uint64_t line_no_ = 1;
  std::size_t line_off_ = 0;
  std::uint64_t printed_upto_ = 0;
  int after_left_ = 0;
  std::uint64_t after_no_ = 0;
  std::size_t after_off_ = 0;
};

constexpr std::size_t kChunk = 256 << 10;  // files from this size on are read in chunks when possible
constexpr std::size_t kKeep = 4 << 20;     // a thread keeps a read buffer up to this size

// Reads a regular file of `size` bytes whole into `buf` (whose size only
// grows, so it is not zero-filled again for every file): one read() of
// size + 1 bytes for the usual file, a short read meaning end of file.
// `len` is the byte count.
bool read_whole(int fd, std::size_t size, std::string& buf, std::size_t& len) {
  const std::size_t want = size + 1;
  if (buf.size() < want) buf.resize(std::max(want, kChunk));
  std::size_t have = 0;
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);
    const std::size_t room = buf.size() - have;
    const ssize_t n = ::read(fd, buf.data() + have, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    have += static_cast<std::size_t>(n);
    if (n == 0 || static_cast<std::size_t>(n) < room) break;
  }
  len = have;
  return true;
}

// A UTF-8 byte order mark starting the text is dropped before searching,
// as ripgrep does (its lines and offsets never include it).
void strip_utf8_bom(std::string_view& t) {
  if (t.size() >= 3 && t[0] == '\xEF' && t[1] == '\xBB' && t[2] == '\xBF') t.remove_prefix(3);
}

bool is_utf16(std::string_view t) {
  return t.size() >= 2 && ((t[0] == '\xFF' && t[1] == '\xFE') || (t[0] == '\xFE' && t[1] == '\xFF'));
}

// UTF-16 with a BOM is transcoded to UTF-8, as ripgrep does.
bool transcode_utf16(std::string& buf) {
  if (buf.size() < 2) return false;
  const bool le = buf[0] == '\xFF' && buf[1] == '\xFE';
  const bool be = buf[0] == '\xFE' && buf[1] == '\xFF';
  if (!le && !be) return false;
  buf = utf16_to_utf8(std::string_view(buf).substr(2), le);
  return true;
}

// Per-thread read buffers, reused from file to file. The walk's own threads
// end with it; grep() frees the calling thread's when it returns.
thread_local std::string t_buf;
thread_local std::string t_other;

// Why glob()'s pattern can match nothing by its form: absolute, climbing
// with "..", or not a glob at all; nullopt when it is fine.
std::optional<std::string> glob_pattern_error(const ConfinedRoot& root, std::string_view p) {
  const std::string quoted = "'" + std::string(p) + "'";
  if (!p.empty() && p[0] == '/') {
    std::string hint = "e.g. 'src/**/*.c'";
    const std::string& top = root.path();
    if (p.size() > top.size() + 1 && p.substr(0, top.size()) == top && p[top.size()] == '/')
      hint = "here '" + std::string(p.substr(top.size() + 1)) + "'";
    return "glob: the pattern " + quoted +
           " is absolute; patterns are relative to path (the workspace root by default): " + hint;
  }
  for (std::size_t at = 0; at <= p.size();) {
    std::size_t slash = p.find('/', at);
    if (slash == std::string_view::npos) slash = p.size();
    if (p.substr(at, slash - at) == "..")
      return "glob: the pattern " + quoted +
             " climbs with '..'; patterns match paths beneath path: pass path to look elsewhere in the workspace";
    at = slash + 1;
  }
  if (auto why = glob_syntax_error(p)) return "glob: invalid pattern " + quoted + ": " + *why;
  return std::nullopt;
}

}  // namespace

// The search's driver; most of its count is on_file below, the per-file hot path measured against ripgrep in bench/.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<GrepStats> grep(const ConfinedRoot& root, const GrepParams& params, const FileSink& sink,
                       const CancellationToken* cancel, const Documents* documents) {
  auto matcher = make_matcher(params);
  if (!matcher) return std::move(matcher).error();
  auto filter = Filter::make(params.walk);
  if (!filter) return std::move(filter).error();
  std::atomic<std::uint64_t> searched{0}, matched{0}, bytes{0};
  std::mutex sink_mutex;
  const bool overlay = documents && !documents->open_paths().empty();
  const Matcher& m = **matcher;
  // Big files are read in chunks that end at a line break, so memory stays
  // bounded (as ripgrep's line buffer); modes that look across lines
  // (context, multiline) or at the text's ends (\A, \z, PCRE2 look-behind)
  // read files whole.
  const bool chunkable = !params.multiline && params.before == 0 && params.after == 0 && !params.pcre2 &&
                         params.pattern.find("\\A") == std::string::npos &&
                         params.pattern.find("\\z") == std::string::npos;
  const bool want_numbers = params.output == OutputMode::Content;
  Unreadable unreadable;
  // The per-file hot path (open, binary sniff, mmap or chunked read, search), measured against ripgrep in bench/.
  // NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
  auto on_file = [&](const std::string& rel, int dirfd, const char* name) {
    std::string& buf = t_buf;      // grows only; bytes past `len` are stale
    std::string& other = t_other;  // a document's text or transcoded UTF-16
    // What ripgrep reports as an error and skips; errno is read first.
    const auto fail = [&](int err) { unreadable.add(rel, err); };
    FileResult r;
    Searcher s(m, params);
    std::uint64_t size = 0;
    std::optional<OpenDocument> doc;
    if (overlay) doc = documents->get(rel);
    if (doc) {
      other = std::move(doc->text);
      std::string_view text = other;
      strip_utf8_bom(text);
      size = text.size();
      s.search(text, r);
    } else {
      // The walk resolved any link itself, beneath the root: never by name here.
      Fd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK));
      struct stat st {};
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return fail(errno);
      if (!S_ISREG(st.st_mode)) return;
      if (!chunkable || static_cast<std::size_t>(st.st_size) < kChunk) {
        std::size_t len = 0;
        if (!read_whole(fd.get(), static_cast<std::size_t>(st.st_size), buf, len)) return fail(errno);
        std::string_view text(buf.data(), len);
        if (is_utf16(text)) {
          other.assign(text);
          transcode_utf16(other);
          text = other;
        } else if (std::memchr(text.data(), 0, text.size()) != nullptr) {
          return;  // binary: skipped
        }
        strip_utf8_bom(text);
        size = text.size();
        s.search(text, r);
        if (buf.size() > kKeep) std::string().swap(buf);  // do not keep a huge file's buffer
      } else {
        if (buf.size() < kChunk) buf.resize(kChunk);
        std::size_t len = 0;  // bytes carried over: the start of a line
        std::uint64_t line = 1;
        bool first = true;
        for (;;) {
          if (len == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the buffer
          ssize_t n = ::read(fd.get(), buf.data() + len, buf.size() - len);
          if (n < 0) {
            if (errno == EINTR) continue;
            return fail(errno);
          }
          const bool eof = n == 0;
          if (first && is_utf16(std::string_view(buf.data(), len + static_cast<std::size_t>(n)))) {
            // Rare: transcode the whole file.
            other.assign(buf.data(), len + static_cast<std::size_t>(n));
            char tmp[65536];
            for (ssize_t k; (k = ::read(fd.get(), tmp, sizeof tmp)) != 0;) {
              if (k < 0 && errno == EINTR) continue;
              if (k < 0) return fail(errno);
              other.append(tmp, static_cast<std::size_t>(k));
            }
            transcode_utf16(other);
            size = other.size();
            s.search(other, r);
            break;
          }
          if (first) {
            std::string_view head(buf.data(), static_cast<std::size_t>(n));
            strip_utf8_bom(head);
            if (head.size() < static_cast<std::size_t>(n)) {
              std::memmove(buf.data(), head.data(), head.size());
              n = static_cast<ssize_t>(head.size());
            }
          }
          first = false;
          if (std::memchr(buf.data() + len, 0, static_cast<std::size_t>(n)) != nullptr) return;  // binary: skipped
          len += static_cast<std::size_t>(n);
          size += static_cast<std::size_t>(n);
          std::size_t end = len;
          if (!eof) {
            const void* nl = ::memrchr(buf.data(), '\n', len);
            if (!nl) continue;  // no whole line yet: read more
            end = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data()) + 1;
          }
          // The empty rest after a final line break is no line (as in search()).
          if (end > 0 || size == 0) {
            const std::string_view part(buf.data(), end);
            s.search(part, r, line);
            if (want_numbers) line += static_cast<std::uint64_t>(std::count(part.begin(), part.end(), '\n'));
          }
          if (eof) break;
          std::memmove(buf.data(), buf.data() + end, len - end);
          len -= end;
          // Done early: files mode wants one match, maxCount a number of lines.
          if (params.output == OutputMode::FilesWithMatches && r.matched_lines > 0) {
            // The rest must still be checked for NUL bytes, as a whole read would.
            bool binary = false;
            for (;;) {
              const ssize_t k = ::read(fd.get(), buf.data(), buf.size());
              if (k < 0 && errno == EINTR) continue;
              if (k <= 0) break;
              if (std::memchr(buf.data(), 0, static_cast<std::size_t>(k)) != nullptr) {
                binary = true;
                break;
              }
            }
            if (binary) return;
            break;
          }
        }
        if (buf.size() > kKeep) std::string().swap(buf);
      }
    }
    searched.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(size, std::memory_order_relaxed);
    if (r.matched_lines == 0) return;
    r.path = rel;
    matched.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(sink_mutex);
    sink(std::move(r));
  };
  WalkReport report;
  Status st = walk(root, params.walk, *filter, on_file, cancel, nullptr, &report);
  std::string().swap(t_buf);  // a worker thread keeps no buffer between requests
  std::string().swap(t_other);
  GrepStats stats;
  stats.files_searched = searched.load();
  stats.files_matched = matched.load();
  stats.bytes_searched = bytes.load();
  unreadable.into(report);
  stats.report = std::move(report);
  if (!st) {
    if (st.error().code == error_code::kRequestCancelled) {
      stats.cancelled = true;
      return stats;
    }
    return st.error();
  }
  return stats;
}

Result<PathList> glob(const ConfinedRoot& root, const GlobParams& params, const CancellationToken* cancel,
                      WalkReport* report) {
  // The pattern is anchored at the search path: "*.c" matches its top level only, "**/*.c" any depth.
  std::string_view pattern = params.pattern;
  while (pattern.size() > 2 && pattern.substr(0, 2) == "./") pattern.remove_prefix(2);
  if (auto why = glob_pattern_error(root, pattern)) return make_error(error_code::kInvalidParams, *why);
  auto filter = Filter::make(params.walk);
  if (!filter) return std::move(filter).error();
  auto base = root.relative(params.walk.path.empty() ? "." : params.walk.path);
  if (!base) return std::move(base).error();
  const Glob g(pattern);
  filter->wanted = [&](const std::string& rel) {
    std::string_view sub = rel;
    if (!base->empty()) sub.remove_prefix(std::min(sub.size(), base->size() + 1));
    return g.matches(sub);
  };
  PathList out(params.sort_by_mtime ? 1 : 0);
  std::mutex mutex;
  Status s = walk(
      root, params.walk, *filter,
      [&](const std::string& rel, int dirfd, const char* name) {
        std::int64_t mtime_ms = 0;
        if (params.sort_by_mtime) {
          struct stat st {};
          if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            mtime_ms = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
        }
        std::lock_guard lock(mutex);
        out.add(rel, static_cast<std::uint64_t>(mtime_ms));
      },
      cancel, nullptr, report);
  if (!s) return s.error();
  return out;
}

}  // namespace icotes::search
