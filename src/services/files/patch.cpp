// Unified diffs: produce them (Myers' O(ND) line diff, "An O(ND) Difference
// Algorithm and Its Variations", 1986) and apply them (GNU patch semantics
// without fuzz: context must match exactly; a hunk may move by an offset).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <unordered_map>

#include "icotes/files.hpp"

namespace icotes::files {
namespace {

struct Lines {
  std::vector<std::string_view> lines;  // without '\n'
  bool final_newline = true;            // false when the text ends without '\n'
};

Lines split_lines(std::string_view text) {
  Lines out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      out.lines.push_back(text.substr(start));
      out.final_newline = false;
      return out;
    }
    out.lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

enum class Op : char { Keep = ' ', Del = '-', Add = '+' };
struct Step {
  Op op;
  std::size_t a;  // index in old (Keep, Del)
  std::size_t b;  // index in new (Keep, Add)
};

// Myers' greedy forward algorithm with the trace kept for backtracking.
// Returns false when the edit distance exceeds `max_d` (the caller falls back).
// The textbook algorithm (forward pass over diagonals, then the backtrack over its trace), kept in the shape of Myers'
// paper so it can be checked against it.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
bool myers(const std::vector<int>& a, const std::vector<int>& b, std::size_t max_d, std::vector<Step>& out) {
  const auto n = static_cast<std::ptrdiff_t>(a.size());
  const auto m = static_cast<std::ptrdiff_t>(b.size());
  const std::ptrdiff_t max = n + m;
  const std::ptrdiff_t off = max + 1;
  std::vector<std::ptrdiff_t> v(static_cast<std::size_t>(2 * max + 3), 0);
  // trace[d]: v[off-d-1 .. off+d+1] before round d, all that backtracking reads
  // (a full copy of v per round costs O((n+m)·D) memory: gigabytes for big files).
  std::vector<std::vector<std::ptrdiff_t>> trace;
  std::ptrdiff_t found = -1;
  for (std::ptrdiff_t d = 0; d <= max; ++d) {
    if (static_cast<std::size_t>(d) > max_d) return false;
    trace.emplace_back(v.begin() + (off - d - 1), v.begin() + (off + d + 2));
    for (std::ptrdiff_t k = -d; k <= d; k += 2) {
      std::ptrdiff_t x;
      if (k == -d || (k != d && v[static_cast<std::size_t>(off + k - 1)] < v[static_cast<std::size_t>(off + k + 1)]))
        x = v[static_cast<std::size_t>(off + k + 1)];
      else
        x = v[static_cast<std::size_t>(off + k - 1)] + 1;
      std::ptrdiff_t y = x - k;
      while (x < n && y < m && a[static_cast<std::size_t>(x)] == b[static_cast<std::size_t>(y)]) {
        ++x;
        ++y;
      }
      v[static_cast<std::size_t>(off + k)] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  // Backtrack.
  std::vector<Step> rev;
  std::ptrdiff_t x = n, y = m;
  for (std::ptrdiff_t d = found; d >= 0; --d) {
    const auto& slice = trace[static_cast<std::size_t>(d)];
    auto vd = [&](std::ptrdiff_t i) { return slice[static_cast<std::size_t>(i - (off - d - 1))]; };
    const std::ptrdiff_t k = x - y;
    std::ptrdiff_t prev_k;
    if (d == 0) {
      prev_k = 0;
    } else if (k == -d || (k != d && vd(off + k - 1) < vd(off + k + 1))) {
      prev_k = k + 1;
    } else {
      prev_k = k - 1;
    }
    const std::ptrdiff_t prev_x = d == 0 ? 0 : vd(off + prev_k);
    const std::ptrdiff_t prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      --x;
      --y;
      rev.push_back({Op::Keep, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
    }
    if (d > 0) {
      if (x == prev_x) {
        --y;
        rev.push_back({Op::Add, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
      } else {
        --x;
        rev.push_back({Op::Del, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
      }
    }
  }
  out.assign(rev.rbegin(), rev.rend());
  return true;
}

std::vector<Step> diff_steps(const Lines& a, const Lines& b) {
  // Intern lines; the final line's missing newline makes it differ.
  std::unordered_map<std::string_view, int> ids;
  auto intern = [&](const Lines& l, std::vector<int>& out) {
    out.reserve(l.lines.size());
    for (std::size_t i = 0; i < l.lines.size(); ++i) {
      int id = ids.emplace(l.lines[i], static_cast<int>(ids.size())).first->second;
      if (i + 1 == l.lines.size() && !l.final_newline) id = -1 - id;
      out.push_back(id);
    }
  };
  std::vector<int> ia, ib;
  intern(a, ia);
  intern(b, ib);
  // Trim the common prefix and suffix first: edits are usually local.
  std::size_t pre = 0;
  while (pre < ia.size() && pre < ib.size() && ia[pre] == ib[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < ia.size() - pre && suf < ib.size() - pre && ia[ia.size() - 1 - suf] == ib[ib.size() - 1 - suf]) ++suf;
  std::vector<int> ma(ia.begin() + static_cast<std::ptrdiff_t>(pre), ia.end() - static_cast<std::ptrdiff_t>(suf));
  std::vector<int> mb(ib.begin() + static_cast<std::ptrdiff_t>(pre), ib.end() - static_cast<std::ptrdiff_t>(suf));
  std::vector<Step> mid;
  if (!myers(ma, mb, 4000, mid)) {  // too different: replace the whole middle
    mid.clear();
    for (std::size_t i = 0; i < ma.size(); ++i) mid.push_back({Op::Del, i, 0});
    for (std::size_t j = 0; j < mb.size(); ++j) mid.push_back({Op::Add, ma.size(), j});
  }
  std::vector<Step> steps;
  steps.reserve(pre + mid.size() + suf);
  for (std::size_t i = 0; i < pre; ++i) steps.push_back({Op::Keep, i, i});
  for (const auto& s : mid) steps.push_back({s.op, s.a + pre, s.b + pre});
  for (std::size_t i = 0; i < suf; ++i) steps.push_back({Op::Keep, ia.size() - suf + i, ib.size() - suf + i});
  return steps;
}

std::string range_text(std::size_t start, std::size_t count) {
  // GNU diff: "l" for one line, "l,c" otherwise; an empty range names the line before it.
  if (count == 1) return std::to_string(start + 1);
  if (count == 0) return std::to_string(start) + ",0";
  return std::to_string(start + 1) + "," + std::to_string(count);
}

// One hunk of `a` → `b`: its "@@ -l,n +l,n @@" header (line numbers from
// old_base / new_base on) and the lines of `steps`.
void append_hunk(std::string& out, const Lines& a, const Lines& b, std::span<const Step> steps, std::size_t old_base,
                 std::size_t new_base) {
  std::size_t old_count = 0, new_count = 0;
  for (const Step& s : steps) {
    if (s.op != Op::Add) ++old_count;
    if (s.op != Op::Del) ++new_count;
  }
  const std::size_t old_start = steps.empty() ? 0 : steps.front().a;
  const std::size_t new_start = steps.empty() ? 0 : steps.front().b;
  out += "@@ -" + range_text(old_start + old_base, old_count) + " +" + range_text(new_start + new_base, new_count) +
         " @@\n";
  for (const Step& s : steps) {
    const bool from_old = s.op != Op::Add;
    const std::string_view line = from_old ? a.lines[s.a] : b.lines[s.b];
    out.push_back(static_cast<char>(s.op));
    out.append(line);
    out.push_back('\n');
    const bool old_eof = from_old && s.a + 1 == a.lines.size() && !a.final_newline;
    const bool new_eof = s.op != Op::Del && s.b + 1 == b.lines.size() && !b.final_newline;
    if ((s.op == Op::Keep && (old_eof || new_eof)) || (s.op == Op::Del && old_eof) || (s.op == Op::Add && new_eof))
      out += "\\ No newline at end of file\n";
  }
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, const std::string& path, int context) {
  return unified_diff(before, after, DiffLabels{"a/" + path, "b/" + path, 1, 1}, context);
}

std::string unified_diff(std::string_view before, std::string_view after, const DiffLabels& labels, int context) {
  if (before == after) return {};
  const Lines a = split_lines(before);
  const Lines b = split_lines(after);
  const std::vector<Step> steps = diff_steps(a, b);
  const auto ctx = static_cast<std::size_t>(std::max(context, 0));
  std::string out = "--- " + labels.old_label + "\n+++ " + labels.new_label + "\n";
  // Hunk line numbers of an excerpt count from its first line.
  const auto old_base = static_cast<std::size_t>(std::max<std::int64_t>(labels.old_first_line, 1) - 1);
  const auto new_base = static_cast<std::size_t>(std::max<std::int64_t>(labels.new_first_line, 1) - 1);
  std::size_t i = 0;
  while (i < steps.size()) {
    while (i < steps.size() && steps[i].op == Op::Keep) ++i;
    if (i == steps.size()) break;
    // A hunk: from ctx lines before this change to ctx lines after the last
    // change that is within 2*ctx unchanged lines of the previous one.
    std::size_t begin = i >= ctx ? i - ctx : 0;
    std::size_t end = i;
    std::size_t last_change = i;
    for (std::size_t j = i; j < steps.size(); ++j) {
      if (steps[j].op != Op::Keep) {
        last_change = j;
      } else if (j - last_change > 2 * ctx) {
        break;
      }
      end = j + 1;
    }
    end = std::min(steps.size(), last_change + 1 + ctx);
    append_hunk(out, a, b, {steps.data() + begin, end - begin}, old_base, new_base);
    i = end;
  }
  return out;
}

namespace {

// "1970-01-01 00:00:00.000000000 +0000" (in any zone): how `diff -N` marks
// an absent file; GNU patch reads it as /dev/null.
bool is_epoch_timestamp(std::string_view ts) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, off = 0;
  char sign = '+';
  const std::string t(ts);
  if (std::sscanf(t.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return false;
  const std::size_t zone = t.find_last_of("+-");
  if (zone != std::string::npos && zone > 10) {
    sign = t[zone];
    off = std::atoi(t.c_str() + zone + 1);
  }
  const std::int64_t days = std::chrono::sys_days{std::chrono::year{y} / mo / d}.time_since_epoch().count();
  const std::int64_t offset = (off / 100 * 3600 + off % 100 * 60) * (sign == '-' ? -1 : 1);
  return days * 86400 + h * 3600 + mi * 60 + s - offset == 0;
}

std::string strip_patch_path(std::string_view p) {
  // "a/src/x.c\t2024-01-01 ..." → "src/x.c"; "/dev/null" → "".
  if (const std::size_t tab = p.find('\t'); tab != std::string_view::npos) {
    if (is_epoch_timestamp(p.substr(tab + 1))) return {};
    p = p.substr(0, tab);
  }
  while (!p.empty() && (p.back() == ' ' || p.back() == '\r')) p.remove_suffix(1);
  if (p == "/dev/null") return {};
  if (p.size() > 2 && (p.substr(0, 2) == "a/" || p.substr(0, 2) == "b/")) p.remove_prefix(2);
  return std::string(p);
}

bool parse_range(std::string_view s, std::int64_t& start, std::int64_t& count) {
  const std::size_t comma = s.find(',');
  const std::string_view a = s.substr(0, comma);
  if (std::from_chars(a.data(), a.data() + a.size(), start).ec != std::errc()) return false;
  count = 1;
  if (comma != std::string_view::npos) {
    const std::string_view b = s.substr(comma + 1);
    if (std::from_chars(b.data(), b.data() + b.size(), count).ec != std::errc()) return false;
  }
  return start >= 0 && count >= 0;
}

// Reads the lines of `hunk` from lines[i] on, as many as its header counts
// (i is left after them). Returns what is wrong (then lines[i - 1] is the
// line at fault), or "" when the hunk is whole.
std::string read_hunk_lines(const std::vector<std::string_view>& lines, std::size_t& i, PatchHunk& hunk) {
  std::int64_t old_seen = 0, new_seen = 0;
  while (i < lines.size() && (old_seen < hunk.old_count || new_seen < hunk.new_count)) {
    std::string_view l = lines[i];
    if (l.empty()) l = " ";  // some tools drop the space of empty context lines
    const char c = l[0];
    if (c == ' ') {
      ++old_seen;
      ++new_seen;
    } else if (c == '-') {
      ++old_seen;
    } else if (c == '+') {
      ++new_seen;
    } else if (c != '\\') {
      ++i;
      return "unexpected line in hunk (expected ' ', '-', '+' or '\\')";
    }
    hunk.lines.emplace_back(l);
    ++i;
  }
  if (old_seen != hunk.old_count || new_seen != hunk.new_count) return "hunk is shorter than its header says";
  return {};
}

// A hunk's two sides: the lines it expects (context and '-') and the lines
// it leaves ('+' and context), and whether the new side ends without '\n'.
struct HunkSides {
  std::vector<std::string> old_side, new_side;
  bool new_no_eol = false;
};

HunkSides hunk_sides(const PatchHunk& hunk) {
  HunkSides s;
  char prev = 0;
  for (const auto& l : hunk.lines) {
    const char c = l[0];
    if (c == '\\') {
      if (prev == '+' || prev == ' ') s.new_no_eol = true;
      continue;
    }
    if (c == ' ' || c == '-') s.old_side.push_back(l.substr(1));
    if (c == ' ' || c == '+') s.new_side.push_back(l.substr(1));
    prev = c;
  }
  return s;
}

// Where `old_side` is in `cur`, at `min_pos` or after: the match nearest to
// `want`, as patch(1) searches (after it first at equal distance).
std::optional<std::size_t> find_hunk(const std::vector<std::string>& cur, const std::vector<std::string>& old_side,
                                     std::size_t want, std::size_t min_pos) {
  auto matches = [&](std::size_t pos) {
    if (pos + old_side.size() > cur.size()) return false;
    for (std::size_t k = 0; k < old_side.size(); ++k) {
      if (cur[pos + k] != old_side[k]) return false;
    }
    return true;
  };
  for (std::size_t d = 0; d <= cur.size(); ++d) {
    if (want + d <= cur.size() && want + d >= min_pos && matches(want + d)) return want + d;
    if (d <= want && want - d >= min_pos && matches(want - d)) return want - d;
  }
  return std::nullopt;
}

}  // namespace

// One pass over the patch's lines as GNU patch reads a unified diff: file
// headers, then hunks (read_hunk_lines), each line's meaning depending on
// the state the previous ones left.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<std::vector<FilePatch>> parse_patch(std::string_view patch) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < patch.size();) {
    std::size_t nl = patch.find('\n', start);
    if (nl == std::string_view::npos) nl = patch.size();
    lines.push_back(patch.substr(start, nl - start));
    start = nl + 1;
  }
  // A '\r' before '\n' is content (a CRLF file's diff keeps it on each hunk
  // line); only a patch whose every line ends in "\r\n" was CRLF-converted whole.
  if (std::all_of(lines.begin(), lines.end(), [](std::string_view l) { return !l.empty() && l.back() == '\r'; })) {
    for (auto& l : lines) l.remove_suffix(1);
  }
  auto bad = [&](std::size_t i, const std::string& why) {
    return make_error(error_code::kInvalidParams, "apply_patch: line " + std::to_string(i + 1) + ": " + why,
                      json{{"line", i + 1}});
  };
  std::vector<FilePatch> out;
  std::size_t i = 0;
  while (i < lines.size()) {
    if (lines[i].substr(0, 4) != "--- " || i + 1 >= lines.size() || lines[i + 1].substr(0, 4) != "+++ ") {
      ++i;  // "diff --git", "index", commentary: skipped
      continue;
    }
    FilePatch fp;
    fp.old_path = strip_patch_path(lines[i].substr(4));
    fp.new_path = strip_patch_path(lines[i + 1].substr(4));
    if (fp.old_path.empty() && fp.new_path.empty()) return bad(i, "both sides are /dev/null");
    i += 2;
    while (i < lines.size() && lines[i].substr(0, 3) == "@@ ") {
      const std::string_view h = lines[i];
      const std::size_t minus = h.find('-');
      const std::size_t plus = h.find(" +", minus);
      const std::size_t close = h.find(" @@", plus == std::string_view::npos ? 0 : plus + 1);
      PatchHunk hunk;
      if (minus == std::string_view::npos || plus == std::string_view::npos || close == std::string_view::npos ||
          !parse_range(h.substr(minus + 1, plus - minus - 1), hunk.old_start, hunk.old_count) ||
          !parse_range(h.substr(plus + 2, close - plus - 2), hunk.new_start, hunk.new_count))
        return bad(i, "malformed hunk header '" + std::string(h) + "'");
      ++i;
      if (auto why = read_hunk_lines(lines, i, hunk); !why.empty()) return bad(i == 0 ? 0 : i - 1, why);
      if (i < lines.size() && !lines[i].empty() && lines[i][0] == '\\') hunk.lines.emplace_back(lines[i++]);
      fp.hunks.push_back(std::move(hunk));
    }
    if (fp.hunks.empty() && !fp.new_path.empty() && !fp.old_path.empty()) return bad(i - 1, "file patch has no hunks");
    out.push_back(std::move(fp));
  }
  if (out.empty())
    return make_error(error_code::kInvalidParams,
                      "apply_patch: no '--- '/'+++ ' file headers found; expected a unified diff");
  return out;
}

Result<std::string> apply_hunks(std::string_view text, const FilePatch& fp, const std::string& path) {
  Lines file = split_lines(text);
  std::vector<std::string> cur(file.lines.begin(), file.lines.end());
  bool final_newline = file.final_newline || cur.empty();
  std::int64_t shift = 0;  // lines added minus removed by earlier hunks
  std::size_t min_pos = 0;
  for (std::size_t h = 0; h < fp.hunks.size(); ++h) {
    const PatchHunk& hunk = fp.hunks[h];
    const HunkSides sides = hunk_sides(hunk);
    const std::vector<std::string>& old_side = sides.old_side;
    const std::vector<std::string>& new_side = sides.new_side;
    const std::int64_t want_signed = (hunk.old_count == 0 ? hunk.old_start : hunk.old_start - 1) + shift;
    const std::size_t want =
        static_cast<std::size_t>(std::clamp<std::int64_t>(want_signed, 0, static_cast<std::int64_t>(cur.size())));
    const std::optional<std::size_t> at = find_hunk(cur, old_side, want, min_pos);
    if (!at) {
      return make_error(error_code::kConflict,
                        "apply_patch: hunk " + std::to_string(h + 1) + " (@@ -" + std::to_string(hunk.old_start) + "," +
                            std::to_string(hunk.old_count) + " @@) does not match " + path +
                            "; the file differs from the patch's context. Re-read the file and regenerate the patch.",
                        json{{"path", path}, {"hunk", h + 1}});
    }
    const bool at_end = *at + old_side.size() == cur.size();
    cur.erase(cur.begin() + static_cast<std::ptrdiff_t>(*at),
              cur.begin() + static_cast<std::ptrdiff_t>(*at + old_side.size()));
    cur.insert(cur.begin() + static_cast<std::ptrdiff_t>(*at), new_side.begin(), new_side.end());
    if (at_end) final_newline = !sides.new_no_eol;
    shift += static_cast<std::int64_t>(new_side.size()) - static_cast<std::int64_t>(old_side.size());
    min_pos = *at + new_side.size();
  }
  std::string out;
  for (std::size_t k = 0; k < cur.size(); ++k) {
    out += cur[k];
    if (k + 1 < cur.size() || final_newline) out.push_back('\n');
  }
  return out;
}

namespace {

struct LineSpan {
  std::size_t begin, end;  // [begin, end) in the text, without the line's '\n' (or "\r\n")
};

std::vector<LineSpan> line_spans(std::string_view text) {
  std::vector<LineSpan> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    const std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (end > start && text[end - 1] == '\r') --end;
    out.push_back({start, end});
    start = next;
  }
  return out;
}

std::string_view trimmed(std::string_view s) {
  const std::size_t b = s.find_first_not_of(" \t\r\f\v");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\f\v") - b + 1);
}

// The character bigrams of a line without its surrounding blanks, sorted.
std::vector<std::uint16_t> bigrams(std::string_view line) {
  const std::string_view t = trimmed(line);
  std::vector<std::uint16_t> out;
  if (t.size() < 2) return out;
  out.reserve(t.size() - 1);
  for (std::size_t i = 0; i + 1 < t.size(); ++i)
    out.push_back(
        static_cast<std::uint16_t>(static_cast<unsigned char>(t[i]) << 8 | static_cast<unsigned char>(t[i + 1])));
  std::sort(out.begin(), out.end());
  return out;
}

// Sørensen–Dice coefficient of two lines' bigram multisets (0..1).
double dice(const std::vector<std::uint16_t>& a, const std::vector<std::uint16_t>& b, std::string_view la,
            std::string_view lb) {
  if (a.empty() || b.empty()) return trimmed(la) == trimmed(lb) ? 1.0 : 0.0;
  std::size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return 2.0 * static_cast<double>(common) / static_cast<double>(a.size() + b.size());
}

// 1 - Levenshtein distance / the longer length (1 for two empty strings).
double levenshtein_ratio(std::string_view a, std::string_view b) {
  if (a.empty() && b.empty()) return 1.0;
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return 1.0 - static_cast<double>(row[b.size()]) / static_cast<double>(std::max(a.size(), b.size()));
}

}  // namespace

std::optional<ClosestMatch> closest_lines(std::string_view text, std::string_view needle) {
  // Bounds on the work: line pairs scored cheaply, characters compared exactly.
  constexpr std::size_t kMaxPairs = 4'000'000;
  constexpr std::size_t kMaxExact = 5000;
  constexpr std::size_t kCandidates = 3;
  const std::vector<LineSpan> lines = line_spans(text);
  std::vector<LineSpan> wanted = line_spans(needle);
  if (lines.empty() || wanted.empty()) return std::nullopt;
  const std::size_t w = std::min(wanted.size(), lines.size());
  wanted.resize(w);
  const std::size_t windows = lines.size() - w + 1;
  if (windows * w > kMaxPairs) return std::nullopt;
  auto line = [](std::string_view t, const LineSpan& l) { return t.substr(l.begin, l.end - l.begin); };
  std::vector<std::vector<std::uint16_t>> lb(lines.size()), wb(w);
  for (std::size_t i = 0; i < lines.size(); ++i) lb[i] = bigrams(line(text, lines[i]));
  for (std::size_t j = 0; j < w; ++j) wb[j] = bigrams(line(needle, wanted[j]));
  // Cheap score of each window: the mean similarity of its lines to needle's.
  std::vector<std::pair<double, std::size_t>> scores(windows);
  for (std::size_t i = 0; i < windows; ++i) {
    double sum = 0;
    for (std::size_t j = 0; j < w; ++j)
      sum += dice(wb[j], lb[i + j], line(needle, wanted[j]), line(text, lines[i + j]));
    scores[i] = {sum / static_cast<double>(w), i};
  }
  const std::size_t keep = std::min(kCandidates, windows);
  std::partial_sort(
      scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(keep), scores.end(),
      [](const auto& x, const auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
  // The best few, compared exactly (lines joined by '\n', without '\r').
  auto joined = [&](std::string_view t, const std::vector<LineSpan>& spans, std::size_t from, std::size_t count) {
    std::string out;
    for (std::size_t k = 0; k < count; ++k) {
      if (k) out += '\n';
      out.append(line(t, spans[from + k]));
    }
    return out;
  };
  const std::string want = joined(needle, wanted, 0, w);
  std::optional<ClosestMatch> best;
  for (std::size_t c = 0; c < keep; ++c) {
    const std::size_t i = scores[c].second;
    const std::string have = joined(text, lines, i, w);
    const double sim =
        want.size() <= kMaxExact && have.size() <= kMaxExact ? levenshtein_ratio(want, have) : scores[c].first;
    if (best && sim <= best->similarity) continue;
    best = ClosestMatch{static_cast<std::int64_t>(i + 1), static_cast<std::int64_t>(i + w), sim,
                        std::string(text.substr(lines[i].begin, lines[i + w - 1].end - lines[i].begin))};
  }
  return best;
}

}  // namespace icotes::files
