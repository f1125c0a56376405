// search/* operations: grep and glob, paged and sorted by path.
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

bool path_less(const std::string& a, const std::string& b) { return files::compare_paths(a, b) < 0; }

Result<std::size_t> parse_cursor(const json& p) {
  auto it = p.find("cursor");
  if (it == p.end()) return std::size_t{0};
  const std::string& c = it->get_ref<const std::string&>();
  if (c.empty() || c.size() > 12 || c.find_first_not_of("0123456789") != std::string::npos)
    return make_error(error_code::kInvalidParams, "invalid cursor '" + c + "': pass nextCursor from the previous page");
  return static_cast<std::size_t>(std::stoull(c));
}

// Cuts `items` to [offset, offset + limit) and adds total/truncated/nextCursor/note.
// Fills out[key] with items [offset, offset + limit) of `total` (built by
// `item(i)` only for the page, one at a time) and adds
// total/truncated/nextCursor/note.
void page(json& out, const char* key, std::size_t total, const std::function<json(std::size_t)>& item, std::size_t offset,
          std::size_t limit, const char* what) {
  // The page is written as JSON text at once (raw_json): a page of 40,000
  // items as nlohmann objects costs several times its text.
  std::string kept = "[";
  std::size_t end = offset;
  for (; end < total && end < offset + limit; ++end) {
    if (end != offset) kept += ',';
    write_json(kept, item(end));
  }
  kept += ']';
  end = std::max(end, offset);
  out[key] = raw_json(kept);
  out["total"] = total;
  out["truncated"] = end < total;
  if (end < total) {
    out["nextCursor"] = std::to_string(end);
    out["note"] = "Showing " + std::string(what) + " " + std::to_string(offset + 1) + "-" + std::to_string(end) + " of " +
                  std::to_string(total) + "; " + std::to_string(total - end) + " more. Call again with cursor \"" +
                  std::to_string(end) + "\", or narrow the search (path, include, type).";
  }
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
  } else {
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return path_less(a.path, b.path); });
    if (g.output == search::OutputMode::Content) {
      // Items are lines: index them as (file, line) without building JSON for other pages.
      std::vector<std::pair<std::size_t, std::size_t>> index;
      for (std::size_t f = 0; f < files.size(); ++f) {
        for (std::size_t l = 0; l < files[f].lines.size(); ++l) index.emplace_back(f, l);
      }
      page(out, key, index.size(), [&](std::size_t i) { return line_item(files[index[i].first], files[index[i].first].lines[index[i].second]); },
           *offset, limit, "lines");
    } else {
      page(out, key, files.size(), [&](std::size_t i) { return std::move(items_of(files[i], g.output)[0]); }, *offset,
           limit, "files");
    }
  }
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
  auto& v = *found;
  if (g.sort_by_mtime) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.mtime_ms != b.mtime_ms ? a.mtime_ms > b.mtime_ms : path_less(a.path, b.path);
    });
  } else {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return path_less(a.path, b.path); });
  }
  std::string files = "[";  // as text, like grep's pages (raw_json)
  for (std::size_t i = 0; i < v.size() && i < limit; ++i) {
    if (i) files += ',';
    append_json_string(files, v[i].path);
  }
  files += ']';
  const std::size_t total = v.size();
  v = {};  // the entries are in the text now
  json out = {{"files", raw_json(files)}, {"total", total}, {"truncated", total > limit}};
  if (total > limit) out["note"] = std::to_string(total - limit) + " more files matched; narrow the pattern or raise limit";
  return out;
}

}  // namespace

void register_search_ops(Registry& r) {
  r.add("search/grep", grep);
  r.add("search/glob", glob);
}

}  // namespace icotes
