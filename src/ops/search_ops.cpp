// search/* operations: grep and glob, paged and sorted by path.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include "icotes/files.hpp"
#include "icotes/operation.hpp"
#include "icotes/search.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

std::vector<std::string> strings(const json& p, const char* key) {
  std::vector<std::string> out;
  if (auto it = p.find(key); it != p.end()) {
    for (const auto& s : *it) out.push_back(s.get<std::string>());
  }
  return out;
}

search::WalkOptions walk_options(const json& p) {
  search::WalkOptions w;
  w.path = p.value("path", std::string());
  w.hidden = p.value("hidden", false);
  w.no_ignore = p.value("noIgnore", false);
  w.follow_symlinks = p.value("followSymlinks", false);
  w.include = strings(p, "include");
  w.exclude = strings(p, "exclude");
  w.types = strings(p, "type");
  return w;
}

bool path_less(std::string_view a, std::string_view b) { return files::compare_paths(a, b) < 0; }

Result<std::size_t> parse_cursor(const json& p) {
  auto it = p.find("cursor");
  if (it == p.end()) return std::size_t{0};
  const std::string& c = it->get_ref<const std::string&>();
  if (c.empty() || c.size() > 12 || c.find_first_not_of("0123456789") != std::string::npos)
    return make_error(error_code::kInvalidParams, "invalid cursor '" + c + "': pass nextCursor from the previous page");
  return static_cast<std::size_t>(std::stoull(c));
}

// Fills out[key] with items [offset, offset + limit) of `total` (each
// written by `item(i, writer)`, only for the page) and adds
// total/truncated/nextCursor/note. The page is JSON text written in place
// (RawJsonWriter): a page of 78,000 items as nlohmann objects, or as a string
// copied into the reply, costs several times its text. `bytes_hint` is the
// page's expected size, reserved up front so the buffer is not regrown.
void page(json& out, const char* key, std::size_t total, const std::function<void(std::size_t, RawJsonWriter&)>& item,
          std::size_t offset, std::size_t limit, const char* what, std::size_t bytes_hint = 0) {
  RawJsonWriter kept;
  kept.reserve(bytes_hint + 2);
  kept.raw('[');
  std::size_t end = offset;
  for (; end < total && end < offset + limit; ++end) {
    if (end != offset) kept.raw(',');
    item(end, kept);
  }
  kept.raw(']');
  end = std::max(end, offset);
  out[key] = kept.take();
  out["total"] = total;
  out["truncated"] = end < total;
  if (end < total) {
    out["nextCursor"] = std::to_string(end);
    out["note"] = "Showing " + std::string(what) + " " + std::to_string(offset + 1) + "-" + std::to_string(end) + " of " +
                  std::to_string(total) + "; " + std::to_string(total - end) + " more. Call again with cursor \"" +
                  std::to_string(end) + "\", or narrow the search (path, include, type).";
  }
}

std::size_t digits(std::uint64_t n) {
  std::size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

// Bytes of items [offset, offset + limit) of `list` when each is its path
// quoted plus `fixed` bytes plus the digits of its values (escapes aside).
std::size_t page_bytes(const search::PathList& list, std::size_t offset, std::size_t limit, std::size_t fixed, unsigned values) {
  std::size_t n = 0;
  std::string scratch;
  for (std::size_t i = offset; i < list.size() && i < offset + limit; ++i) {
    n += list.path(i, scratch).size() + 3 + fixed;
    for (unsigned k = 0; k < values; ++k) n += digits(list.value(i, k));
  }
  return n;
}

// One content-mode item (a match or context line); moves the line's text.
json line_item(const search::FileResult& f, search::Line& l) {
  json item = {{"path", f.path}, {"line", l.number}, {"text", std::move(l.text)}};
  if (l.context) {
    item["context"] = true;
  } else {
    json subs = json::array();
    for (const auto& s : l.submatches) subs.push_back({{"start", s.start}, {"end", s.end}});
    if (!l.submatches.empty()) item["column"] = l.submatches.front().start + 1;
    item["submatches"] = std::move(subs);
  }
  return item;
}

// The result items of one file in `mode`'s shape.
json items_of(search::FileResult& f, search::OutputMode mode) {
  json items = json::array();
  if (mode == search::OutputMode::FilesWithMatches) {
    items.push_back(f.path);
  } else if (mode == search::OutputMode::Count) {
    items.push_back({{"path", f.path}, {"matchedLines", f.matched_lines}, {"matches", f.matches}});
  } else {
    for (auto& l : f.lines) items.push_back(line_item(f, l));
  }
  return items;
}

Result<json> grep(Context& ctx, const json& p) {
  search::GrepParams g;
  g.pattern = p.at("pattern").get<std::string>();
  g.walk = walk_options(p);
  g.fixed_strings = p.value("fixedStrings", false);
  if (p.value("smartCase", false)) g.case_mode = search::CaseMode::Smart;
  if (p.value("ignoreCase", false)) g.case_mode = search::CaseMode::Insensitive;
  if (p.value("caseSensitive", false)) g.case_mode = search::CaseMode::Sensitive;
  g.word = p.value("wordRegexp", false);
  g.multiline = p.value("multiline", false);
  g.pcre2 = p.value("pcre2", false);
  g.before = p.value("beforeContext", 0);
  g.after = p.value("afterContext", 0);
  if (p.contains("maxCount")) g.max_count = p["maxCount"].get<std::uint64_t>();
  const std::string mode = p.value("outputMode", std::string("content"));
  g.output = mode == "count" ? search::OutputMode::Count
             : mode == "filesWithMatches" ? search::OutputMode::FilesWithMatches
                                          : search::OutputMode::Content;
  auto offset = parse_cursor(p);
  if (!offset) return std::move(offset).error();
  const std::size_t limit = p.value("limit", g.output == search::OutputMode::Content ? 250 : 1000);

  const char* key = g.output == search::OutputMode::Content ? "matches"
                    : g.output == search::OutputMode::FilesWithMatches ? "files"
                                                                        : "counts";
  const bool streaming = ctx.progress.wants_partial();
  // Counts and file lists keep a path and two numbers per file, packed
  // (search::PathList); content keeps each file's lines.
  const bool by_path = g.output != search::OutputMode::Content;
  search::PathList found(g.output == search::OutputMode::Count ? 2 : 0);
  std::vector<search::FileResult> files;
  std::size_t streamed = 0;
  std::size_t files_seen = 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  auto stats = search::grep(
      ctx.workspace.root(), g,
      [&](search::FileResult&& r) {
        ++files_seen;
        if (streaming) {
          // Partial results stream as they are found (LSP partialResultToken).
          json items = items_of(r, g.output);
          streamed += items.size();
          ctx.progress.partial(json{{key, std::move(items)}});
        } else if (by_path) {
          found.add(r.path, r.matched_lines, r.matches);
        } else {
          files.push_back(std::move(r));
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_report > std::chrono::milliseconds(100)) {
          last_report = now;
          ctx.progress.report(std::to_string(files_seen) + " files with matches so far", static_cast<double>(files_seen), 0);
        }
      },
      &ctx.cancel, &ctx.workspace.documents());
  if (!stats) return std::move(stats).error();
  if (stats->cancelled) return make_error(error_code::kRequestCancelled, "grep: cancelled");
  json out = {{"outputMode", mode}};
  if (streaming) {
    out[key] = json::array();
    out["total"] = streamed;
    out["truncated"] = false;
  } else if (by_path) {
    found.sort_by_path(files::compare_paths);
    std::string scratch;
    if (g.output == search::OutputMode::Count) {
      // {"matchedLines":N,"matches":N,"path":"..."}: nlohmann's key order, as before.
      static constexpr std::string_view kFixed = R"({"matchedLines":,"matches":,"path":})";
      page(out, key, found.size(), [&](std::size_t i, RawJsonWriter& w) {
        w.raw(R"({"matchedLines":)");
        w.number(found.value(i, 0));
        w.raw(R"(,"matches":)");
        w.number(found.value(i, 1));
        w.raw(R"(,"path":)");
        w.string(found.path(i, scratch));
        w.raw('}');
      }, *offset, limit, "files", page_bytes(found, *offset, limit, kFixed.size(), 2));
    } else {
      page(out, key, found.size(), [&](std::size_t i, RawJsonWriter& w) { w.string(found.path(i, scratch)); }, *offset, limit, "files",
           page_bytes(found, *offset, limit, 0, 0));
    }
    found = search::PathList();  // the page is text now
  } else {
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return path_less(a.path, b.path); });
    // Items are lines: file f's lines are items [first[f], first[f + 1]); no JSON for other pages.
    std::vector<std::size_t> first(files.size() + 1, 0);
    for (std::size_t f = 0; f < files.size(); ++f) first[f + 1] = first[f] + files[f].lines.size();
    page(out, key, first.back(), [&](std::size_t i, RawJsonWriter& w) {
      const std::size_t f = static_cast<std::size_t>(std::upper_bound(first.begin(), first.end(), i) - first.begin()) - 1;
      w.value(line_item(files[f], files[f].lines[i - first[f]]));
    }, *offset, limit, "lines");
    files = {};
  }
  ::malloc_trim(0);  // what the walk and the sort used goes back before the (large) reply is written
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  out["stats"] = {{"filesSearched", stats->files_searched},
                  {"filesMatched", stats->files_matched},
                  {"bytesSearched", stats->bytes_searched},
                  {"elapsedMs", ms}};
  return out;
}

Result<json> glob(Context& ctx, const json& p) {
  search::GlobParams g;
  g.pattern = p.at("pattern").get<std::string>();
  g.walk = walk_options(p);
  g.sort_by_mtime = p.value("sort", std::string("path")) == "mtime";
  const std::size_t limit = p.value("limit", 1000);
  auto found = search::glob(ctx.workspace.root(), g, &ctx.cancel);
  if (!found) return std::move(found).error();
  search::PathList& v = *found;
  if (g.sort_by_mtime) v.sort_by_value_desc(0, files::compare_paths);  // newest first, then by path
  else v.sort_by_path(files::compare_paths);
  const std::size_t total = v.size();
  std::string scratch;
  RawJsonWriter files;  // as text, like grep's pages
  files.reserve(page_bytes(v, 0, limit, 1, 0) + 2);
  files.raw('[');
  for (std::size_t i = 0; i < total && i < limit; ++i) {
    if (i) files.raw(',');
    files.string(v.path(i, scratch));
  }
  files.raw(']');
  v = search::PathList();  // the entries are in the text now
  ::malloc_trim(0);        // and go back before the (large) reply is written
  json out = {{"files", files.take()}, {"total", total}, {"truncated", total > limit}};
  if (total > limit) out["note"] = std::to_string(total - limit) + " more files matched; narrow the pattern or raise limit";
  return out;
}

}  // namespace

void register_search_ops(Registry& r) {
  r.add("search/grep", grep);
  r.add("search/glob", glob);
}

}  // namespace icotes
