#include "icotes/git_text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace icotes::git_text {
namespace {

// Paths listed in a one-line result before "... and N more".
constexpr std::size_t kListedPathBytes = 2048;

std::string str(const json& v, const char* key, std::string fallback = {}) {
  auto it = v.find(key);
  return it != v.end() && it->is_string() ? it->get<std::string>() : std::move(fallback);
}

std::size_t num(const json& v, const char* key) {
  auto it = v.find(key);
  return it != v.end() && it->is_number_unsigned() ? it->get<std::size_t>()
         : it != v.end() && it->is_number_integer() && it->get<std::int64_t>() > 0
             ? static_cast<std::size_t>(it->get<std::int64_t>())
             : 0;
}

bool flag(const json& v, const char* key) {
  auto it = v.find(key);
  return it != v.end() && it->is_boolean() && it->get<bool>();
}

// The note on a line of its own after `text`.
std::string with_note(std::string text, const json& result) {
  const std::string note = str(result, "note");
  if (note.empty()) return text;
  if (!text.empty() && text.back() != '\n') text += '\n';
  if (!text.empty()) text += '\n';
  return text + note + "\n";
}

std::string short_id(const std::string& hash, std::size_t n = 7) { return hash.substr(0, n); }

// "a, b, c" for the first paths that fit kListedPathBytes, then
// "... and N more".
std::string path_list(const json& paths, std::size_t total) {
  std::string out;
  std::size_t shown = 0;
  if (paths.is_array()) {
    for (const auto& p : paths) {
      if (!p.is_string()) continue;
      const std::string q = quote_path(p.get<std::string>(), false);
      if (shown > 0 && out.size() + q.size() > kListedPathBytes) break;
      out += (shown ? ", " : "") + q;
      ++shown;
    }
  }
  if (total > shown) out += (shown ? ", ... and " : "") + std::to_string(total - shown) + " more";
  return out;
}

// "2024-01-31 12:00" from %aI ("2024-01-31T12:00:00+01:00"): the signer's
// wall clock, to the minute.
std::string short_date(const std::string& iso) {
  if (iso.size() < 16) return iso;
  std::string out = iso.substr(0, 16);
  out[10] = ' ';
  return out;
}

// YYYY-MM-DD of `seconds` in the zone "+hhmm" / "-hhmm".
std::string day_in_zone(std::int64_t seconds, const std::string& tz) {
  int offset = 0;
  if (tz.size() == 5 && (tz[0] == '+' || tz[0] == '-')) {
    offset = ((tz[1] - '0') * 10 + (tz[2] - '0')) * 60 + (tz[3] - '0') * 10 + (tz[4] - '0');
    if (tz[0] == '-') offset = -offset;
  }
  const std::time_t t = static_cast<std::time_t>(seconds + std::int64_t{offset} * 60);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string affected(const json& r, std::string_view verb) {
  const std::size_t total = num(r, "total");
  if (total == 0) return with_note("", r);
  std::string line = std::string(verb) + " " + count(total, "path") + ": " + path_list(r.value("paths", json()), total);
  json rest = r;
  // The note only repeats that the list is cut.
  if (flag(r, "truncated")) rest.erase("note");
  return with_note(line + "\n", rest);
}

}  // namespace

std::string count(std::size_t n, std::string_view noun) {
  std::string out = std::to_string(n) + " " + std::string(noun);
  if (n == 1) return out;
  if (noun.ends_with("y") && !noun.ends_with("ey")) {
    out.pop_back();
    return out + "ies";
  }
  if (noun.ends_with("ch") || noun.ends_with("sh") || noun.ends_with("s") || noun.ends_with("x")) return out + "es";
  return out + "s";
}

std::string quote_path(std::string_view name, bool quote_space) {
  bool quote = false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) quote = true;
  }
  if (!quote) {
    if (quote_space && name.find(' ') != std::string_view::npos) return "\"" + std::string(name) + "\"";
    return std::string(name);
  }
  static constexpr char kCodes[] = "\a\b\t\n\v\f\r\"\\";
  static constexpr char kLetters[] = "abtnvfr\"\\";
  std::string out = "\"";
  for (unsigned char c : name) {
    if (const void* hit = c ? std::memchr(kCodes, c, sizeof kCodes - 1) : nullptr) {
      out += '\\';
      out += kLetters[static_cast<const char*>(hit) - kCodes];
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// --- git_status: `git status --short --branch` ------------------------------------

std::string status_line(const json& e) {
  const std::string kind = str(e, "kind");
  std::string xy;
  if (kind == "untracked") {
    xy = "??";
  } else if (kind == "ignored") {
    xy = "!!";
  } else {
    for (const char* side : {"index", "worktree"}) {
      const std::string s = str(e, side, ".");
      xy += s == "." || s.empty() ? ' ' : s[0];
    }
  }
  std::string line = xy + " ";
  if (e.contains("origPath")) line += quote_path(str(e, "origPath"), true) + " -> ";
  return line + quote_path(str(e, "path"), true) + "\n";
}

std::string status(const json& r) {
  std::string out = "## ";
  const json b = r.value("branch", json::object());
  const bool detached = flag(b, "detached");
  const bool unborn = !b.contains("oid") || b["oid"].is_null();
  const std::string head = b.contains("head") && b["head"].is_string() ? b["head"].get<std::string>() : "";
  if (detached) {
    out += "HEAD (no branch)";
  } else if (unborn) {
    out += "No commits yet on " + head;
  } else {
    out += head;
  }
  if (!detached && b.contains("upstream")) {
    out += "..." + str(b, "upstream");
    if (flag(b, "upstreamGone")) {
      out += " [gone]";
    } else {
      const std::size_t ahead = num(b, "ahead"), behind = num(b, "behind");
      if (ahead && behind) {
        out += " [ahead " + std::to_string(ahead) + ", behind " + std::to_string(behind) + "]";
      } else if (ahead) {
        out += " [ahead " + std::to_string(ahead) + "]";
      } else if (behind) {
        out += " [behind " + std::to_string(behind) + "]";
      }
    }
  }
  out += "\n";
  for (const auto& e : r.value("entries", json::array())) out += status_line(e);
  return with_note(std::move(out), r);
}

// --- git_diff / git_show -------------------------------------------------------------

std::string diff(const json& r) {
  // Without its "text" member (a dialect that sends it as a block of its
  // own), the rest: the note.
  if (!r.contains("text")) return with_note("", r);
  std::string text = str(r, "text");
  if (text.empty() && !r.contains("note")) return "No differences.\n";
  return with_note(std::move(text), r);
}

std::string show(const json& r) { return with_note(str(r, "text"), r); }

// --- git_log ---------------------------------------------------------------------------

std::string log_block(const json& c, bool body) {
  const std::string hash = str(c, "hash");
  const std::string abbrev = str(c, "shortHash", short_id(hash));
  const json author = c.value("author", json::object());
  std::string out = "commit " + abbrev + "  " + short_date(str(author, "date")) + "  " + str(author, "name") + "\n";
  const json parents = c.value("parents", json::array());
  if (parents.size() > 1) {
    out += "Merge:";
    for (const auto& p : parents) out += " " + short_id(p.get<std::string>(), abbrev.size());
    out += "\n";
  }
  out += "    " + str(c, "subject") + "\n";
  if (body) {
    const std::string b = str(c, "body");
    if (!b.empty()) {
      out += "\n";
      std::size_t pos = 0;
      while (pos < b.size()) {
        std::size_t nl = b.find('\n', pos);
        if (nl == std::string::npos) nl = b.size();
        const std::string_view line(b.data() + pos, nl - pos);
        out += line.empty() ? "\n" : "    " + std::string(line) + "\n";
        pos = nl + 1;
      }
    }
  }
  return out;
}

std::string log(const json& r) {
  std::string out;
  const json commits = r.value("commits", json::array());
  // Blocks with a body are set apart by a blank line, as git log does.
  bool bodies = false;
  for (const auto& c : commits) bodies = bodies || !str(c, "body").empty();
  const bool with_body = flag(r, "body");
  for (const auto& c : commits) {
    if (!out.empty() && with_body && bodies) out += "\n";
    out += log_block(c, with_body);
  }
  if (commits.empty() && !r.contains("note")) return "No commits match.\n";
  return with_note(std::move(out), r);
}

// --- git_blame -------------------------------------------------------------------------

// git blame's text, line for line as git prints it (compared by
// git.differential): kept as git's one layout rather than split.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::string blame(const json& r) {
  const json hunks = r.value("hunks", json::array());
  const json commits = r.value("commits", json::object());
  std::size_t first = 0, last = 0, author_width = 0;
  for (const auto& h : hunks) {
    const std::size_t start = num(h, "startLine"), n = num(h, "lineCount");
    if (!first) first = start;
    last = start + (n ? n - 1 : 0);
    const json c = commits.value(str(h, "hash"), json::object());
    author_width = std::max(author_width, std::min<std::size_t>(str(c, "author").size(), 20));
  }
  const std::size_t total = num(r, "totalLines");
  std::string out = quote_path(str(r, "path"), false);
  if (hunks.empty()) {
    out += ": no lines";
  } else {
    out += " lines " + std::to_string(first) + "-" + std::to_string(last) + " of " + std::to_string(total);
  }
  out += r.contains("rev") ? " at " + short_id(str(r, "rev"), 12) : " (working tree)";
  out += "\n";
  const std::size_t width = std::to_string(std::max(total, last)).size();
  std::vector<std::string> order;  // commits in first-seen order, for the legend
  for (const auto& h : hunks) {
    const std::string hash = str(h, "hash");
    const json c = commits.value(hash, json::object());
    const bool boundary = flag(c, "boundary");
    std::string prefix = boundary ? "^" + short_id(hash, 7) : short_id(hash, 8);
    prefix += " " + pad(str(c, "author"), author_width) + " ";
    const auto when = c.find("authorTime");
    prefix += when != c.end() && when->is_number() ? day_in_zone(when->get<std::int64_t>(), str(c, "authorTz"))
                                                   : std::string(10, ' ');
    if (std::find(order.begin(), order.end(), hash) == order.end()) order.push_back(hash);
    std::size_t line = num(h, "startLine");
    for (const auto& text : h.value("lines", json::array())) {
      const std::string n = std::to_string(line++);
      out += prefix;
      out += ' ';
      out.append(width - std::min(width, n.size()), ' ');
      out += n;
      out += ") ";
      if (text.is_string()) out += text.get_ref<const std::string&>();
      out += '\n';
    }
  }
  if (!order.empty()) {
    out += "\n";
    for (const auto& hash : order) {
      const json c = commits.value(hash, json::object());
      out += (flag(c, "boundary") ? "^" + short_id(hash, 7) : short_id(hash, 8)) + " " + str(c, "summary") + "\n";
    }
  }
  return with_note(std::move(out), r);
}

// --- branches, stashes, tags ---------------------------------------------------------

// git branch's text for each action (list, create, delete, rename), as git
// prints it (compared by git.differential): one dispatch over the actions.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::string branch(const json& r) {
  const std::string action = str(r, "action");
  if (action == "create") {
    std::string line = "Created branch '" + str(r, "name") + "' at " + short_id(str(r, "oid"));
    if (r.contains("upstream")) line += ", tracking " + str(r, "upstream");
    return with_note(line + ".\n", r);
  }
  if (action == "delete")
    return with_note("Deleted branch " + str(r, "name") + " (was " + short_id(str(r, "oid")) + ").\n", r);
  if (action == "switch") {
    if (r.contains("note") && str(r, "note").rfind("Already on", 0) == 0) return str(r, "note") + "\n";
    std::string line = flag(r, "created")
                           ? "Switched to a new branch '" + str(r, "name") + "', tracking " + str(r, "upstream")
                           : "Switched to branch '" + str(r, "name") + "'";
    return with_note(line + " (" + short_id(str(r, "oid")) + ").\n", r);
  }
  // list: as `git branch -a -v`, names padded to the longest.
  const json branches = r.value("branches", json::array());
  std::size_t width = 0;
  for (const auto& b : branches) {
    width = std::max(width, (flag(b, "remote") ? 8 : 0) + str(b, "name").size());
  }
  std::string out;
  if (flag(r, "detached") && r.contains("headOid") && r["headOid"].is_string())
    out += "* (HEAD detached at " + short_id(r["headOid"].get<std::string>()) + ")\n";
  for (const auto& b : branches) {
    const std::string name = (flag(b, "remote") ? "remotes/" : "") + str(b, "name");
    std::string line = std::string(flag(b, "current") ? "* " : "  ");
    if (b.contains("target")) {
      out += line + name + " -> " + str(b, "target") + "\n";
      continue;
    }
    line += pad(name, width) + " " + short_id(str(b, "oid", "-------"));
    if (b.contains("upstream")) {
      line += " [" + str(b, "upstream");
      if (flag(b, "upstreamGone")) {
        line += ": gone";
      } else {
        const std::size_t ahead = num(b, "ahead"), behind = num(b, "behind");
        if (ahead) line += ": ahead " + std::to_string(ahead);
        if (behind) line += std::string(ahead ? ", " : ": ") + "behind " + std::to_string(behind);
      }
      line += "]";
    }
    out += line + "\n";
  }
  if (branches.empty() && !r.contains("note")) out += "No branches yet.\n";
  return with_note(std::move(out), r);
}

std::string stash(const json& r) {
  const std::string action = str(r, "action");
  const json s = r.value("stash", json::object());
  const std::string ref = "stash@{" + std::to_string(num(s, "index")) + "}";
  if (action == "push") {
    if (!flag(r, "stashed")) return with_note("", r);
    return with_note("Saved working directory and index state as " + ref + ": " + str(s, "message") + "\n", r);
  }
  if (action == "pop") return with_note("Applied and dropped " + ref + " (" + short_id(str(s, "oid")) + ").\n", r);
  if (action == "drop") return with_note("Dropped " + ref + " (" + short_id(str(s, "oid")) + ").\n", r);
  std::string out;
  const json stashes = r.value("stashes", json::array());
  for (const auto& e : stashes) out += "stash@{" + std::to_string(num(e, "index")) + "}: " + str(e, "message") + "\n";
  if (stashes.empty() && !r.contains("note")) out = "No stashes.\n";
  return with_note(std::move(out), r);
}

std::string tag(const json& r) {
  const std::string action = str(r, "action");
  if (action == "create") {
    return with_note(std::string("Created ") + (flag(r, "annotated") ? "annotated" : "lightweight") + " tag '" +
                         str(r, "name") + "' at " + short_id(str(r, "target")) + ".\n",
                     r);
  }
  if (action == "delete")
    return with_note("Deleted tag '" + str(r, "name") + "' (was " + short_id(str(r, "oid")) + ").\n", r);
  const json tags = r.value("tags", json::array());
  std::size_t width = 0;
  for (const auto& t : tags) width = std::max(width, str(t, "name").size());
  std::string out;
  for (const auto& t : tags) {
    out += pad(str(t, "name"), width) + " " + short_id(str(t, "target")) + " " + str(t, "subject") + "\n";
  }
  if (tags.empty() && !r.contains("note")) out = "No tags.\n";
  return with_note(std::move(out), r);
}

// --- writes: one line ----------------------------------------------------------------

std::string commit(const json& r) {
  // git commit's summary line: "[main 1a2b3c4] subject".
  std::string where =
      r.contains("branch") && r["branch"].is_string() ? r["branch"].get<std::string>() : std::string("detached HEAD");
  if (r.value("parents", json::array()).empty()) where += " (root-commit)";
  return with_note("[" + where + " " + short_id(str(r, "oid")) + "] " + str(r, "summary") + "\n", r);
}

std::string stage(const json& r) { return affected(r, "Staged"); }
std::string unstage(const json& r) { return affected(r, "Unstaged"); }
std::string restore(const json& r) { return affected(r, "Restored"); }

std::string reset(const json& r) {
  std::string out = "HEAD is now at " + short_id(str(r, "oid")) + " " + str(r, "subject") + " (" + str(r, "mode") +
                    " reset from " + short_id(str(r, "previous")) + ")\n";
  const std::size_t total = num(r, "total");
  if (total > 0) out += "Unstaged changes after reset: " + path_list(r.value("paths", json()), total) + "\n";
  return with_note(std::move(out), r);
}

std::string checkout(const json& r) {
  std::string out;
  if (flag(r, "detached")) {
    out = "HEAD is now at " + short_id(str(r, "oid")) + " " + str(r, "subject") + " (detached HEAD)\n";
  } else if (flag(r, "created")) {
    out = "Switched to a new branch '" + str(r, "head") + "', tracking " + str(r, "upstream") + "\n";
  } else {
    out = "Switched to branch '" + str(r, "head") + "' (" + short_id(str(r, "oid")) + ")\n";
  }
  return with_note(std::move(out), r);
}

std::string init(const json& r) {
  const std::string where = str(r, "gitDir");
  if (!flag(r, "created")) return with_note("", r);
  return with_note("Initialized empty Git repository in " + where + " (branch " + str(r, "branch") + ")\n", r);
}

}  // namespace icotes::git_text
