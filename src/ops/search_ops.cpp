// search/* operations: grep and glob, paged and sorted by path.
#include <algorithm>
#include <chrono>
#include <functional>

#include "icotes/files.hpp"
#include "icotes/heap.hpp"
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

// Adds what the walk left out for the client's safety to the result's note:
// Read-denied files by count (their names would tell what they hide), links
// that lead outside by name.
void note_left_out(json& out, const search::WalkReport& r) {
  std::string text;
  if (r.read_denied > 0)
    text = std::to_string(r.read_denied) + (r.read_denied == 1 ? " file was" : " files were") +
           " left out: a Read deny rule covers " + (r.read_denied == 1 ? "it." : "them.");
  if (r.links_outside > 0) {
    if (!text.empty()) text += ' ';
    text += std::to_string(r.links_outside) + (r.links_outside == 1 ? " symbolic link was" : " symbolic links were") +
            " not followed: " + (r.links_outside == 1 ? "it leads" : "they lead") + " outside the workspace";
    if (!r.link_names.empty()) {
      text += " (";
      for (std::size_t i = 0; i < r.link_names.size(); ++i) text += (i ? ", " : "") + r.link_names[i];
      if (r.link_names.size() < r.links_outside) text += ", ...";
      text += ")";
    }
    text += '.';
  }
  if (text.empty()) return;
  auto it = out.find("note");
  out["note"] = it != out.end() && it->is_string() ? it->get<std::string>() + " " + text : text;
}

Result<std::size_t> parse_cursor(const json& p) {
  auto it = p.find("cursor");
  if (it == p.end()) return std::size_t{0};
  const std::string& c = it->get_ref<const std::string&>();
  if (c.empty() || c.size() > 12 || c.find_first_not_of("0123456789") != std::string::npos)
    return make_error(error_code::kInvalidParams, "invalid cursor '" + c + "': pass nextCursor from the previous page");
  return static_cast<std::size_t>(std::stoull(c));
}

// A page of result items, written as JSON text while the reply goes out
// (RawJsonSource): the reply holds the items' compact data (a PathList, the
// matched lines) and never their whole text, which for 78,000 paths would
// be a second copy of several megabytes.
class PageSource final : public RawJsonSource {
 public:
  /// Writes item i; `scratch` is the caller's, for any use.
  using Item = std::function<void(std::size_t i, RawJsonWriter& w, std::string& scratch)>;

  PageSource(std::size_t begin, std::size_t end, Item item) : begin_(begin), end_(end), item_(std::move(item)) {
    // Content-Length needs the exact size first: one pass that only counts.
    write([&](std::string_view piece) { size_ += piece.size(); });
  }
  std::size_t size() const override { return size_; }
  void write(const std::function<void(std::string_view)>& sink) const override {
    constexpr std::size_t kChunk = 32 * 1024;
    RawJsonWriter w;
    w.reserve(kChunk + 4096);
    std::string scratch;
    w.raw('[');
    for (std::size_t i = begin_; i < end_; ++i) {
      if (i != begin_) w.raw(',');
      item_(i, w, scratch);
      if (w.size() >= kChunk) {
        sink(w.view());
        w.clear();
      }
    }
    w.raw(']');
    sink(w.view());
  }

 private:
  std::size_t begin_;
  std::size_t end_;
  Item item_;
  std::size_t size_ = 0;
};

// Fills out[key] with items [offset, offset + limit) of `total` (each
// written by `item`, only for the page, while the reply is written; `item`
// owns what it reads) and adds total/truncated/nextCursor/note.
void page(Context& ctx, json& out, const char* key, std::size_t total, PageSource::Item item, std::size_t offset,
          std::size_t limit, const char* what) {
  const std::size_t end = std::max(offset, std::min(total, offset + limit));
  auto source = std::make_shared<PageSource>(offset, end, std::move(item));
  out[key] = raw_json_source(source.get());
  ctx.sources.push_back(std::move(source));
  out["total"] = total;
  out["truncated"] = end < total;
  if (end < total) {
    out["nextCursor"] = std::to_string(end);
    out["note"] = "Showing " + std::string(what) + " " + std::to_string(offset + 1) + "-" + std::to_string(end) + " of " +
                  std::to_string(total) + "; " + std::to_string(total - end) + " more. Call again with cursor \"" +
                  std::to_string(end) + "\", or narrow the search (path, include, type).";
  }
}

// One content-mode item (a match or context line).
json line_item(const search::FileResult& f, const search::Line& l) {
  json item = {{"path", f.path}, {"line", l.number}, {"text", l.text}};
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
  g.walk.read_denied = ctx.read_denied;
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
    auto list = std::make_shared<search::PathList>(std::move(found));
    if (g.output == search::OutputMode::Count) {
      // {"matchedLines":N,"matches":N,"path":"..."}: nlohmann's key order, as before.
      page(ctx, out, key, list->size(), [list](std::size_t i, RawJsonWriter& w, std::string& scratch) {
        w.raw(R"({"matchedLines":)");
        w.number(list->value(i, 0));
        w.raw(R"(,"matches":)");
        w.number(list->value(i, 1));
        w.raw(R"(,"path":)");
        w.string(list->path(i, scratch));
        w.raw('}');
      }, *offset, limit, "files");
    } else {
      page(ctx, out, key, list->size(),
           [list](std::size_t i, RawJsonWriter& w, std::string& scratch) { w.string(list->path(i, scratch)); }, *offset,
           limit, "files");
    }
  } else {
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return path_less(a.path, b.path); });
    // Items are lines: file f's lines are items [first[f], first[f + 1]); no JSON for other pages.
    struct Lines {
      std::vector<search::FileResult> files;
      std::vector<std::size_t> first;
    };
    auto lines = std::make_shared<Lines>();
    lines->first.assign(files.size() + 1, 0);
    for (std::size_t f = 0; f < files.size(); ++f) lines->first[f + 1] = lines->first[f] + files[f].lines.size();
    lines->files = std::move(files);
    page(ctx, out, key, lines->first.back(), [lines](std::size_t i, RawJsonWriter& w, std::string&) {
      const auto& first = lines->first;
      const std::size_t f = static_cast<std::size_t>(std::upper_bound(first.begin(), first.end(), i) - first.begin()) - 1;
      w.value(line_item(lines->files[f], lines->files[f].lines[i - first[f]]));
    }, *offset, limit, "lines");
  }
  release_freed_heap();  // what the walk used goes back before the (large) reply is written
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  note_left_out(out, stats->report);
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
  g.walk.read_denied = ctx.read_denied;
  g.sort_by_mtime = p.value("sort", std::string("path")) == "mtime";
  const std::size_t limit = p.value("limit", 1000);
  search::WalkReport report;
  auto found = search::glob(ctx.workspace.root(), g, &ctx.cancel, &report);
  if (!found) return std::move(found).error();
  search::PathList& v = *found;
  if (g.sort_by_mtime) v.sort_by_value_desc(0, files::compare_paths);  // newest first, then by path
  else v.sort_by_path(files::compare_paths);
  const std::size_t total = v.size();
  auto list = std::make_shared<search::PathList>(std::move(v));
  auto source = std::make_shared<PageSource>(
      0, std::min(total, limit),
      [list](std::size_t i, RawJsonWriter& w, std::string& scratch) { w.string(list->path(i, scratch)); });
  release_freed_heap();  // what the walk used goes back before the (large) reply is written
  json out = {{"files", raw_json_source(source.get())}, {"total", total}, {"truncated", total > limit}};
  ctx.sources.push_back(std::move(source));
  if (total > limit) out["note"] = std::to_string(total - limit) + " more files matched; narrow the pattern or raise limit";
  note_left_out(out, report);
  return out;
}

}  // namespace

void register_search_ops(Registry& r) {
  r.add("search/grep", grep);
  r.add("search/glob", glob);
}

}  // namespace icotes
