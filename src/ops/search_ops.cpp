// search/* operations: grep and glob, paged and sorted by path. MCP
// clients read them as text in ripgrep's forms (path:line:text, path:count,
// one path a line), each page within the client's text budget.
#include <algorithm>
#include <chrono>
#include <functional>

#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/files.hpp"
#include "icotes/heap.hpp"
#include "icotes/search.hpp"
#include "icotes/workspace.hpp"
#include "search_json.hpp"

namespace icotes {
namespace {

bool path_less(std::string_view a, std::string_view b) { return files::compare_paths(a, b) < 0; }

// " (a, b, ...)": the names the walk kept of `count` paths.
std::string names(const std::vector<std::string>& v, std::uint64_t count) {
  std::string list = " (";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) list += ", ";
    list += v[i];
  }
  if (v.size() < count) list += v.empty() ? "not named" : ", ...";
  return list + ")";
}

// What the walk left out or could not read, for the result's note: Read-
// denied files by count (their names would tell what they hide), links
// that lead outside by name, unreadable files and directories (as ripgrep
// reports them on stderr) by count and the first few names.
std::string left_out_note(const search::WalkReport& r) {
  std::string text;
  auto sentence = [&text](const std::string& s) { text += (text.empty() ? "" : " ") + s; };
  if (r.read_denied > 0)
    sentence(std::to_string(r.read_denied) + (r.read_denied == 1 ? " file was" : " files were") +
             " left out: a Read deny rule covers " + (r.read_denied == 1 ? "it." : "them."));
  if (r.links_outside > 0)
    sentence(std::to_string(r.links_outside) + (r.links_outside == 1 ? " symbolic link was" : " symbolic links were") +
             " not followed: " + (r.links_outside == 1 ? "it leads" : "they lead") + " outside the workspace" +
             (r.link_names.empty() ? std::string() : names(r.link_names, r.links_outside)) + ".");
  if (r.unreadable > 0)
    sentence(std::to_string(r.unreadable) + (r.unreadable == 1 ? " path" : " paths") + " could not be read" +
             names(r.unreadable_names, r.unreadable) + ".");
  return text;
}

void add_note(json& out, const std::string& text) {
  if (text.empty()) return;
  auto it = out.find("note");
  out["note"] = it != out.end() && it->is_string() ? it->get<std::string>() + " " + text : text;
}

Result<std::size_t> parse_cursor(const search::Paging& p) {
  if (!p.cursor) return std::size_t{0};
  const std::string& c = *p.cursor;
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

// Text form (MCP): a line longer than this many bytes is shown cut around
// its first match, as `rg --max-columns 300 --max-columns-preview` shows it.
constexpr std::size_t kTextLineBytes = 300;
// Bytes of a cut line shown before its first match.
constexpr std::size_t kTextLineLead = 80;

// The most text (bytes) one page may hold: for MCP clients the default
// tool budget, or with an explicit `limit` the client's cap; no bound for
// programs (LSP, JSON-RPC), whose pages `limit` alone bounds.
std::size_t text_budget(const Context& ctx, const search::Paging& p) { return ctx.text_budget(p.limit.has_value()); }

// Appends one line (no terminator) to the text form, cut to about
// kTextLineBytes around byte `first` (its first match; npos: none), with
// ripgrep's markers where it was cut. `after` counts the matches that
// start past the part shown.
void append_preview(std::string& out, std::string_view line, std::size_t first,
                    const std::function<std::size_t(std::size_t end)>& after) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files read as LF
  if (line.size() <= kTextLineBytes) {
    out += line;
    return;
  }
  std::size_t start = first == std::string_view::npos || first < kTextLineLead ? 0 : first - kTextLineLead;
  std::size_t end = std::min(line.size(), start + kTextLineBytes);
  if (end == line.size()) start = end - kTextLineBytes;
  auto continuation = [&](std::size_t i) { return (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80; };
  while (start > 0 && start < line.size() && continuation(start)) ++start;  // whole UTF-8 characters only
  while (end < line.size() && end > start && continuation(end)) --end;
  if (start > 0) out += "[...] ";
  out += line.substr(start, end - start);
  if (end == line.size()) return;
  const std::size_t more = after(end);
  out += more > 0 ? " [... " + std::to_string(more) + (more == 1 ? " more match]" : " more matches]")
                  : " [... omitted end of long line]";
}

// A page of `total` items from `begin`: at most `limit` items and, when
// `render` is given (MCP), only as many as fit `budget` bytes of text and
// `json_cap` bytes of JSON (structuredContent; never none), rendered into
// `text`. `render` appends item i's text and returns its JSON size (about).
struct Page {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t total = 0;
  bool cut = false;  // ended by a byte budget, not by limit
  std::string text;
};
using Render = std::function<std::size_t(std::size_t i, std::string& out)>;

Page make_page(std::size_t total, std::size_t begin, std::size_t limit, std::size_t budget, std::size_t json_cap,
               const Render& render) {
  Page pg;
  pg.total = total;
  pg.begin = std::min(begin, total);
  const std::size_t last = std::min(total, pg.begin + std::min(limit, total));
  if (!render) {
    pg.end = last;
    return pg;
  }
  std::size_t json_bytes = 0;
  for (std::size_t i = pg.begin; i < last; ++i) {
    const std::size_t before = pg.text.size();
    json_bytes += render(i, pg.text);
    if ((pg.text.size() > budget || json_bytes > json_cap) && i > pg.begin) {
      pg.text.resize(before);
      pg.end = i;
      pg.cut = true;
      return pg;
    }
  }
  pg.end = last;
  return pg;
}

// How to get past a page that stopped early: the exact call for the next
// page (the caller's params with its cursor) and how to narrow instead.
std::string continue_note(const Page& pg, const char* what, const char* tool, json params, const char* narrow) {
  params["cursor"] = std::to_string(pg.end);
  return "Showing " + std::string(what) + " " + std::to_string(pg.begin + 1) + "-" + std::to_string(pg.end) + " of " +
         std::to_string(pg.total) + "; " + std::to_string(pg.total - pg.end) + " more" +
         (pg.cut ? " (the page stopped at the size limit)" : "") + ". Next page: " + tool + " " +
         to_json_string(params) + ". Or narrow with " + narrow + ".";
}

// Budget left for items once the notes around them are written.
std::size_t item_budget(std::size_t budget, const json& params) {
  if (budget == SIZE_MAX) return budget;
  const std::size_t notes = 600 + 2 * to_json_string(params).size();
  return budget > 2 * notes ? budget - notes : budget / 2;
}

// Puts the page into out[key] (items written as JSON while the reply goes
// out, by `item`, which owns what it reads), with total, truncated,
// nextCursor and the note; the text form (when rendered) gets the same note
// first and `left_out` last, and goes to the MCP dialect as a hidden member.
void finish_page(Context& ctx, json& out, const char* key, Page& pg, PageSource::Item item, const char* what,
                 const char* tool, const json& params, const char* narrow, const std::string& left_out,
                 const std::string& empty_text) {
  auto source = std::make_shared<PageSource>(pg.begin, pg.end, std::move(item));
  out[key] = raw_json_source(source.get());
  ctx.sources.push_back(std::move(source));
  out["total"] = pg.total;
  out["truncated"] = pg.end < pg.total;
  std::string note;
  if (pg.end < pg.total) {
    out["nextCursor"] = std::to_string(pg.end);
    note = continue_note(pg, what, tool, params, narrow);
    add_note(out, note);
  }
  add_note(out, left_out);
  if (ctx.max_result_bytes == 0) return;
  std::string text;
  if (!note.empty()) text = note + "\n";
  text += pg.text;
  if (pg.begin == pg.end)
    text += (pg.total == 0 ? empty_text : "No more results past cursor " + std::to_string(pg.begin) + ".") + "\n";
  if (!left_out.empty()) text += left_out + "\n";
  out["text"] = hidden_text(text);
}

// The MCP text block of grep and glob: the text form rendered with the page.
// A result rendered without a budget (a caller that ran the handler with
// no cap) gets the same forms from its JSON, without line cutting.
std::string page_text(const json& result) {
  if (auto it = result.find("text"); it != result.end())
    if (auto text = hidden_text_of(*it)) return std::string(*text);
  const json r = json::parse(to_json_string(result), nullptr, false);
  if (!r.is_object()) return to_json_string(result);
  std::string text;
  if (auto note = r.find("note"); note != r.end() && note->is_string()) text = note->get<std::string>() + "\n";
  for (const auto& f : r.value("files", json::array())) text += f.get<std::string>() + "\n";
  for (const auto& c : r.value("counts", json::array()))
    text += c.value("path", std::string()) + ":" + std::to_string(c.value("matchedLines", 0)) + "\n";
  const json matches = r.value("matches", json::array());
  // Context lines were asked for: "--" between groups that do not touch.
  const bool context = std::any_of(matches.begin(), matches.end(),
                                   [](const json& m) { return m.is_object() && m.value("context", false); });
  std::string prev_path;
  std::uint64_t prev_line = 0;
  for (const auto& m : matches) {
    const std::string path = m.value("path", std::string());
    const std::uint64_t line = m.value("line", std::uint64_t{0});
    if (context && prev_line != 0 && (path != prev_path || line != prev_line + 1)) text += "--\n";
    const char sep = m.value("context", false) ? '-' : ':';
    text += path + sep + std::to_string(line) + sep + m.value("text", std::string()) + "\n";
    prev_path = path;
    prev_line = line;
  }
  return text;
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

// search/grep's hot path, measured against ripgrep in bench/: the walk's callback (stream, pack paths, or keep the
// first lines by path) and the page rendering share its state; kept as one piece until a split is measured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
Result<json> grep(Context& ctx, search::GrepPageParams&& g) {
  g.walk.read_denied = ctx.read_denied;
  const json& p = g.paging.asked;
  auto offset = parse_cursor(g.paging);
  if (!offset) return std::move(offset).error();
  const std::size_t limit = g.paging.limit.value_or(g.output == search::OutputMode::Content ? 250 : 1000);
  const std::size_t budget = item_budget(text_budget(ctx, g.paging), p);
  const bool render = ctx.max_result_bytes > 0;
  // structuredContent (for clients that asked for it) stays within the cap too.
  const std::size_t json_cap = ctx.structured_output ? ctx.max_result_bytes : SIZE_MAX;

  const char* key = g.output == search::OutputMode::Content            ? "matches"
                    : g.output == search::OutputMode::FilesWithMatches ? "files"
                                                                       : "counts";
  const bool streaming = ctx.progress.wants_partial();
  // Counts and file lists keep a path and two numbers per file, packed
  // (search::PathList); content keeps each file's lines.
  const bool by_path = g.output != search::OutputMode::Content;
  search::PathList found(g.output == search::OutputMode::Count ? 2 : 0);
  std::vector<search::FileResult> files;
  std::size_t all_items = 0, kept_items = 0;
  // A page rendered for an MCP client ends by json_cap before this many
  // items (each counts at least 60 bytes there), whatever `limit` says: no
  // more lines are kept than one page can show (limit 1e9 with `grep ""` on
  // a large tree would keep every line).
  const std::size_t shown = render ? std::min(limit, json_cap / 60 + 2) : limit;
  const std::size_t needed = *offset + std::min<std::size_t>(shown, SIZE_MAX - *offset);
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
          // Only the first files in path order that hold items up to the
          // page's end keep their lines (a max-heap by path); the others
          // are counted. `grep ""` on 180 MB of headers kept every line
          // (2.3 GB) for a page of 250.
          const auto later = [](const search::FileResult& a, const search::FileResult& b) {
            return path_less(a.path, b.path);
          };
          all_items += r.lines.size();
          if (kept_items >= needed && !files.empty() && path_less(files.front().path, r.path)) return;
          kept_items += r.lines.size();
          files.push_back(std::move(r));
          std::push_heap(files.begin(), files.end(), later);
          while (kept_items - files.front().lines.size() >= needed) {
            kept_items -= files.front().lines.size();
            std::pop_heap(files.begin(), files.end(), later);
            files.pop_back();
          }
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_report > std::chrono::milliseconds(100)) {
          last_report = now;
          ctx.progress.report(std::to_string(files_seen) + " files with matches so far",
                              static_cast<double>(files_seen), 0);
        }
      },
      &ctx.cancel, &ctx.workspace.documents());
  if (!stats) return std::move(stats).error();
  if (stats->cancelled) return make_error(error_code::kRequestCancelled, "grep: cancelled");
  const char* mode = g.output == search::OutputMode::Count              ? "count"
                     : g.output == search::OutputMode::FilesWithMatches ? "filesWithMatches"
                                                                        : "content";
  json out = {{"outputMode", mode}};
  const std::string left_out = left_out_note(stats->report);
  const std::string empty = "No matches (" + std::to_string(stats->files_searched) +
                            (stats->files_searched == 1 ? " file" : " files") + " searched).";
  const char* narrow = R"("path", "include" or "type")";
  if (streaming) {
    out[key] = json::array();
    out["total"] = streamed;
    out["truncated"] = false;
    add_note(out, left_out);
  } else if (by_path) {
    found.sort_by_path(files::compare_paths);
    auto list = std::make_shared<search::PathList>(std::move(found));
    const bool counts = g.output == search::OutputMode::Count;
    std::string path_text;
    // rg -l: one path a line; rg -c: path:matching lines.
    Page pg = make_page(list->size(), *offset, limit, budget, json_cap,
                        render ? Render([&](std::size_t i, std::string& text) {
                          const std::string_view path = list->path(i, path_text);
                          text += path;
                          if (counts) text += ':' + std::to_string(list->value(i, 0));
                          text += '\n';
                          return path.size() + (counts ? 60 : 3);
                        })
                               : nullptr);
    PageSource::Item item;
    if (counts) {
      // {"matchedLines":N,"matches":N,"path":"..."}: nlohmann's key order, as before.
      item = [list](std::size_t i, RawJsonWriter& w, std::string& scratch) {
        w.raw(R"({"matchedLines":)");
        w.number(list->value(i, 0));
        w.raw(R"(,"matches":)");
        w.number(list->value(i, 1));
        w.raw(R"(,"path":)");
        w.string(list->path(i, scratch));
        w.raw('}');
      };
    } else {
      item = [list](std::size_t i, RawJsonWriter& w, std::string& scratch) { w.string(list->path(i, scratch)); };
    }
    finish_page(ctx, out, key, pg, std::move(item), "files", "grep", p, narrow, left_out, empty);
  } else {
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return path_less(a.path, b.path); });
    // Items are lines: file f's lines are items [first[f], first[f + 1]); no JSON for other pages.
    struct Lines {
      std::vector<search::FileResult> files;
      std::vector<std::size_t> first;
      std::size_t file_of(std::size_t i) const {
        return static_cast<std::size_t>(std::upper_bound(first.begin(), first.end(), i) - first.begin()) - 1;
      }
    };
    auto lines = std::make_shared<Lines>();
    lines->first.assign(files.size() + 1, 0);
    for (std::size_t f = 0; f < files.size(); ++f) lines->first[f + 1] = lines->first[f] + files[f].lines.size();
    lines->files = std::move(files);
    // rg's text: path:line:text for matches, path-line-text for context
    // lines, "--" between groups of lines that do not touch.
    const bool context = g.before > 0 || g.after > 0;
    std::size_t prev_file = SIZE_MAX;
    std::uint64_t prev_last = 0;
    auto render_line = [&](std::size_t i, std::string& text) -> std::size_t {
      const std::size_t f = lines->file_of(i);
      const search::FileResult& file = lines->files[f];
      const search::Line& l = file.lines[i - lines->first[f]];
      if (context && prev_file != SIZE_MAX && (f != prev_file || l.number != prev_last + 1)) text += "--\n";
      const char sep = l.context ? '-' : ':';
      std::uint64_t number = l.number;
      std::size_t ls = 0;
      for (;;) {  // each line of the item (several in multiline mode)
        std::size_t le = l.text.find('\n', ls);
        if (le == std::string::npos) le = l.text.size();
        std::size_t first = std::string_view::npos;
        for (const auto& sm : l.submatches) {
          if (sm.start >= ls && sm.start < le) {
            first = sm.start - ls;
            break;
          }
        }
        text += file.path;
        text += sep;
        text += std::to_string(number);
        text += sep;
        append_preview(text, std::string_view(l.text).substr(ls, le - ls), first, [&](std::size_t end) {
          std::size_t n = 0;
          for (const auto& sm : l.submatches) n += sm.start >= ls + end && sm.start < le;
          return n;
        });
        text += '\n';
        if (le >= l.text.size()) break;
        ls = le + 1;
        ++number;
      }
      prev_file = f;
      prev_last = number;
      return file.path.size() + l.text.size() + 60 + 24 * l.submatches.size();
    };
    Page pg = make_page(all_items, *offset, shown, budget, json_cap, render ? Render(render_line) : nullptr);
    finish_page(
        ctx, out, key, pg,
        [lines](std::size_t i, RawJsonWriter& w, std::string&) {
          const std::size_t f = lines->file_of(i);
          w.value(line_item(lines->files[f], lines->files[f].lines[i - lines->first[f]]));
        },
        "lines", "grep", p, narrow, left_out, empty);
  }
  release_freed_heap();  // what the walk used goes back before the (large) reply is written
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  out["stats"] = {{"filesSearched", stats->files_searched},
                  {"filesMatched", stats->files_matched},
                  {"bytesSearched", stats->bytes_searched},
                  {"elapsedMs", ms}};
  return out;
}

Result<json> glob(Context& ctx, search::GlobPageParams&& g) {
  g.walk.read_denied = ctx.read_denied;
  const json& p = g.paging.asked;
  auto offset = parse_cursor(g.paging);
  if (!offset) return std::move(offset).error();
  const std::size_t limit = g.paging.limit.value_or(1000);
  search::WalkReport report;
  auto found = search::glob(ctx.workspace.root(), g, &ctx.cancel, &report);
  if (!found) return std::move(found).error();
  search::PathList& v = *found;
  if (g.sort_by_mtime)
    v.sort_by_value_desc(0, files::compare_paths);  // newest first, then by path
  else
    v.sort_by_path(files::compare_paths);
  auto list = std::make_shared<search::PathList>(std::move(v));
  release_freed_heap();  // what the walk used goes back before the (large) reply is written
  std::string path_text;
  Page pg = make_page(list->size(), *offset, limit, item_budget(text_budget(ctx, g.paging), p),
                      ctx.structured_output ? ctx.max_result_bytes : SIZE_MAX,
                      ctx.max_result_bytes > 0 ? Render([&](std::size_t i, std::string& text) {
                        const std::string_view path = list->path(i, path_text);
                        text += path;
                        text += '\n';
                        return path.size() + 3;
                      })
                                               : nullptr);
  json out = json::object();
  finish_page(
      ctx, out, "files", pg,
      [list](std::size_t i, RawJsonWriter& w, std::string& scratch) { w.string(list->path(i, scratch)); }, "files",
      "glob", p, "a longer pattern or \"path\"", left_out_note(report), "No files match.");
  return out;
}

}  // namespace

void register_search_ops(Registry& r) {
  r.add<search::GrepPageParams>("search/grep", grep, page_text);
  r.add<search::GlobPageParams>("search/glob", glob, page_text);
}

}  // namespace icotes
