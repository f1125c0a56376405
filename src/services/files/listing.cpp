// files/list and the MCP resource list: directory listings (cached,
// see listing_cache.cpp), their pages and their text.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <functional>

#include "files_internal.hpp"
#include "icotes/cancellation.hpp"
#include "icotes/files.hpp"
#include "icotes/ignore.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/text.hpp"

namespace icotes::files {

using detail::DirNames;
using detail::join;
using detail::judge_read;
using detail::read_directory;
using detail::to_ms;
using detail::type_of;

namespace {

// Takes ".git" out of `names`; whether it was there.
bool take_git(DirNames& names) {
  return std::erase_if(names, [](const auto& e) { return e.first == ".git"; }) > 0;
}

void append_number(std::string& out, std::uint64_t v) {
  char num[24];
  const auto res = std::to_chars(num, num + sizeof num, v);
  out.append(num, static_cast<std::size_t>(res.ptr - num));
}

// One entry as a line of text: "name/" (a directory), "name (N bytes)" (a
// file), "name (symlink)", "name (other)"; a directory whose entries are
// not listed says how many and how to list them (`dir`: the listed one).
void append_entry_line(std::string& text, const DirEntry& e, const std::string& dir) {
  text += e.path;
  if (e.type == "directory") {
    text += '/';
    if (e.not_listed > 0) {
      text += " (";
      append_number(text, e.not_listed);
      text += " entries, not listed here: list_directory {\"path\":";
      append_json_string(text, join(dir, e.path));
      text += "})";
    }
  } else if (e.type == "file") {
    text += " (";
    append_number(text, e.size);
    text += " bytes)";
  } else {
    text += " (" + e.type + ")";
  }
  text += '\n';
}

void append_entry_json(std::string& js, const DirEntry& e) {
  js += "{\"path\":";
  append_json_string(js, e.path);
  js += ",\"type\":\"";
  js += e.type;
  js += "\",\"size\":";
  append_number(js, e.size);
  js += ",\"mtime\":";
  if (e.mtime_ms < 0) {
    js += '-';
    append_number(js, static_cast<std::uint64_t>(-e.mtime_ms));
  } else {
    append_number(js, static_cast<std::uint64_t>(e.mtime_ms));
  }
  if (e.not_listed > 0) {
    js += ",\"notListed\":";
    append_number(js, e.not_listed);
  }
  js.push_back('}');
}

// `listing` without the entries `denied` covers (paths relative to `dir`,
// the listed directory's landing path); the listing itself when none is.
std::shared_ptr<const ListResult> without_denied(std::shared_ptr<const ListResult> listing, const std::string& dir,
                                                 const ReadFilter& denied) {
  std::vector<bool> out(listing->entries.size());
  std::size_t left_out = 0;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (denied(join(dir, listing->entries[i].path))) {
      out[i] = true;
      ++left_out;
    }
  if (left_out == 0) return listing;
  auto r = std::make_shared<ListResult>(*listing);
  r->entries.clear();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!out[i]) r->entries.push_back(listing->entries[i]);
  r->denied = left_out;
  r->note = std::to_string(left_out) + (left_out == 1 ? " entry is" : " entries are") +
            " left out: a Read deny rule covers them";
  return r;
}

// The page's note: what was left out (ignored, denied) and, when the page is
// truncated, the call that continues it. A list of independent notes, each
// one condition and its sentence.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
std::string page_notes(const ListPage& pg, const ListParams& p, int depth) {
  std::string notes;
  if (pg.ignored > 0) {
    notes += std::to_string(pg.ignored) + (pg.ignored == 1 ? " ignored entry" : " ignored entries") + " not listed (";
    for (std::size_t i = 0; i < pg.ignored_names.size(); ++i) notes += (i ? ", " : "") + pg.ignored_names[i];
    if (pg.ignored > pg.ignored_names.size()) notes += ", ...";
    notes += "); \"includeIgnored\":true lists them";
  }
  if (pg.denied > 0) {
    if (!notes.empty()) notes += "; ";
    notes += std::to_string(pg.denied) + (pg.denied == 1 ? " entry" : " entries") +
             " left out: a Read deny rule covers them";
  }
  if (pg.truncated) {
    if (!notes.empty()) notes += "; ";
    std::string call = "list_directory {\"path\":";
    append_json_string(call, pg.path.empty() ? std::string(".") : pg.path);
    if (depth > 1) call += ",\"depth\":" + std::to_string(depth);
    if (p.include_ignored) call += ",\"includeIgnored\":true";
    if (p.limit != kDefaultListEntries) call += ",\"limit\":" + std::to_string(p.limit);
    call += ",\"cursor\":";
    append_json_string(call, pg.next_cursor);
    call += "}";
    notes += "more entries follow: continue with " + call;
  }
  return notes;
}

// Renders a page: its JSON entries and its text (a header line saying what
// was left out and how to continue, then one line per entry).
void render_page(ListPage& pg, const ListParams& p, int depth) {
  const std::string notes = page_notes(pg, p, depth);
  pg.note = notes;
  pg.entries_json.clear();
  pg.entries_json.reserve(pg.entries.size() * 80 + 2);
  pg.entries_json.push_back('[');
  for (std::size_t i = 0; i < pg.entries.size(); ++i) {
    if (i) pg.entries_json.push_back(',');
    append_entry_json(pg.entries_json, pg.entries[i]);
  }
  pg.entries_json.push_back(']');
  std::string& text = pg.text;
  text.clear();
  text.reserve(pg.entries.size() * 40 + notes.size() + 80);
  text += pg.path.empty() ? std::string(".") : pg.path;
  text += "/: ";
  if (pg.entries.empty()) {
    text += "no entries";
  } else {
    append_number(text, pg.entries.size());
    text += pg.entries.size() == 1 ? " entry" : " entries";
  }
  if (!p.cursor.empty()) text += " after the cursor";
  if (!notes.empty()) text += "; " + notes;
  text += '\n';
  for (const DirEntry& e : pg.entries) append_entry_line(text, e, pg.path);
}

// Renders `pg` within p.max_text_bytes exactly: entries go until the text fits.
void fit_text(ListPage& pg, const ListParams& p, int depth) {
  while (p.max_text_bytes > 0 && pg.text.size() > p.max_text_bytes && pg.entries.size() > 1) {
    const std::size_t over = pg.text.size() - p.max_text_bytes;
    std::size_t dropped = 0;
    while (pg.entries.size() > 1 && dropped < over) {
      dropped += pg.entries.back().path.size() + 16;
      pg.entries.pop_back();
    }
    pg.truncated = true;
    pg.next_cursor = pg.entries.back().path;
    render_page(pg, p, depth);
  }
}

// The ignore files of the directories above `rel` decide its listing too:
// those directories (and their .git/info) are watched.
void watch_above(const ConfinedRoot& root, ListingCache& cache, ListingCache::Build& build, const std::string& rel) {
  for (std::size_t pos = 0;;) {
    const std::size_t slash = rel.find('/', pos);
    const std::string above = pos == 0 ? std::string() : rel.substr(0, pos - 1);
    if (auto d = root.open_beneath(above, O_PATH | O_DIRECTORY)) cache.watch(build, d->get());
    if (auto d = root.open_beneath(join(above, ".git/info"), O_PATH | O_DIRECTORY)) cache.watch(build, d->get());
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
}

}  // namespace

// Long: one recursive walk whose levels share the result, the cursor, the
// depth and the cache's watches.
// One recursive directory walk (a lambda sharing the result, cursor, ignore chain and cache watches); its steps only
// make sense together, and it is the list_directory path bench/mcp_latency.cpp measures.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<std::shared_ptr<ListResult>> Service::walk_listing(int fd, const std::string& rel, int depth,
                                                          bool include_ignored, const std::string& after,
                                                          ListingCache::Build& build,
                                                          const CancellationToken* cancel) const {
  auto r = std::make_shared<ListResult>();
  r->path = rel;
  IgnoreFile global;
  std::shared_ptr<const IgnoreDir> top;
  if (!include_ignored) {
    global = global_git_excludes();
    top = ignore_ancestors(root_, rel);
    if (build.cacheable && !rel.empty()) watch_above(root_, listing_cache_, build, rel);
  }
  const IgnoreFile* global_rules = global.empty() ? nullptr : &global;
  auto ignored = [&](const std::shared_ptr<const IgnoreDir>& dir, const std::string& path, bool is_dir) {
    return dir && dir->match(join(rel, path), is_dir, global_rules) == IgnoreMatch::Ignore;
  };
  // `self`: this directory's entry (npos for the listed directory).
  constexpr std::size_t kTop = static_cast<std::size_t>(-1);
  std::function<Status(int, const std::string&, int, const std::shared_ptr<const IgnoreDir>&, std::size_t)> walk =
      // NOLINTNEXTLINE(readability-function-cognitive-complexity): one level of the walk (see above)
      [&](int dirfd, const std::string& prefix, int level, const std::shared_ptr<const IgnoreDir>& parent,
          std::size_t self) -> Status {
    if (cancel && cancel->cancelled()) return make_error(error_code::kRequestCancelled, "list_directory: cancelled");
    auto read = read_directory(dirfd, "read directory", prefix);
    if (!read) return std::move(read).error();
    DirNames& names = *read;
    const bool has_git = take_git(names);
    bool has_rg = false, has_ig = false, has_gi = false;
    for (const auto& name : names) {
      has_rg = has_rg || name.first == ".rgignore";
      has_ig = has_ig || name.first == ".ignore";
      has_gi = has_gi || name.first == ".gitignore";
    }
    if (self != kTop && names.size() > kMaxExpandedEntries) {
      r->entries[self].not_listed = names.size();
      return ok_status();
    }
    std::shared_ptr<const IgnoreDir> here;
    if (!include_ignored) {
      here = std::make_shared<const IgnoreDir>(
          parent, read_ignore_files(dirfd, join(rel, prefix), has_rg, has_ig, has_gi, has_git),
          has_git || (parent && parent->any_git()));
      if (has_git && build.cacheable) {
        Fd info(::openat(dirfd, ".git/info", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (info.valid()) listing_cache_.watch(build, info.get());
      }
    }
    std::sort(names.begin(), names.end());
    for (const auto& [n, d_type] : names) {
      const std::string path = join(prefix, n);
      if (!after.empty() && compare_paths(path, after) <= 0) {
        // On an earlier page; entered only when the cursor lies inside it.
        const bool holds =
            after.size() > path.size() && after.compare(0, path.size(), path) == 0 && after[path.size()] == '/';
        if (!holds || level >= depth || ignored(here, path, true)) continue;
        Fd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.valid()) continue;
        if (auto s = walk(sub.get(), path, level + 1, here, kTop); !s) return s;
        if (r->truncated) return ok_status();
        continue;
      }
      if (r->entries.size() >= kMaxListEntries) {
        r->truncated = true;
        return ok_status();
      }
      // A subdirectory shown as an entry is watched before its stat: a
      // change inside it moves its mtime.
      Fd sub;
      if (build.cacheable && (d_type == DT_DIR || d_type == DT_UNKNOWN)) {
        sub = Fd(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.valid()) listing_cache_.watch(build, sub.get());
      }
      struct stat st {};
      if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
      if (ignored(here, path, S_ISDIR(st.st_mode))) {
        if (r->ignored_names.size() < kIgnoredNames)
          r->ignored_names.push_back(path + (S_ISDIR(st.st_mode) ? "/" : ""));
        ++r->ignored;
        continue;
      }
      DirEntry de;
      de.path = path;
      de.type = type_of(st.st_mode);
      de.size = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
      de.mtime_ms = to_ms(st.st_mtim);
      r->entries.push_back(std::move(de));
      if (S_ISDIR(st.st_mode) && level < depth) {
        if (!sub.valid()) sub = Fd(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.valid()) continue;  // unreadable subdirectory: listed, not entered
        if (auto s = walk(sub.get(), path, level + 1, here, r->entries.size() - 1); !s) return s;
        if (r->truncated) return ok_status();
      }
    }
    return ok_status();
  };
  if (auto s = walk(fd, "", 1, top, kTop); !s) return s.error();
  return r;
}

// One sequence (open, judge the landing path, explain a non-directory, cache hit or walk and store) whose steps share
// the descriptor and the cache build.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<Service::Window> Service::open_listing(const ListParams& p, const std::string& after,
                                              const CancellationToken* cancel, const Access& access) const {
  auto rel = root_.relative(p.path.empty() ? "." : p.path);
  if (!rel) return std::move(rel).error();
  auto fd = root_.open_beneath(*rel, O_RDONLY | O_DIRECTORY);
  Window w;
  // Entries are judged where the directory listed really is (a symlink may
  // lead there): the landing path of the descriptor read.
  if (fd && access.read_denied) {
    auto landing = landing_path(root_, fd->get());
    if (!landing) return std::move(landing).error();
    w.dir_landing = std::move(*landing);
    if (!w.dir_landing.empty())
      if (auto st = judge_read("list_directory", *rel, w.dir_landing, access); !st) return st.error();
  }
  if (!fd) {
    if (fd.error().code == error_code::kNotFound || fd.error().code == error_code::kIoError) {
      auto st = stat(p.path.empty() ? "." : p.path);
      if (st && st->type != "directory")
        return make_error(error_code::kInvalidParams, "list_directory: " + *rel + " is not a directory; use read_file",
                          json{{"path", *rel}});
    }
    return std::move(fd).error();
  }
  const int depth = std::clamp(p.depth, 1, 64);
  struct stat dir_st {};
  if (::fstat(fd->get(), &dir_st) != 0) return errno_error(errno, "stat", *rel);
  // A page after a cursor past the cached part is walked, not cached.
  const bool use_cache = p.use_cache && after.empty() && listing_cache_.enabled();
  if (use_cache) {
    if (auto hit = listing_cache_.find(*rel, depth, p.include_ignored, dir_st.st_dev, dir_st.st_ino)) {
      w.listing = std::move(hit);
      return w;
    }
  }
  ListingCache::Build build;
  build.cacheable = use_cache;
  if (use_cache) {
    build = listing_cache_.begin(fd->get());
    listing_cache_.watch(build, fd->get());  // before reading it
  }
  auto r = walk_listing(fd->get(), *rel, depth, p.include_ignored, after, build, cancel);
  if (!r) {
    if (use_cache) listing_cache_.abandon(std::move(build));
    return std::move(r).error();
  }
  std::shared_ptr<const ListResult> listing = std::move(*r);
  if (use_cache)
    listing_cache_.store(*rel, depth, p.include_ignored, dir_st.st_dev, dir_st.st_ino, std::move(build), listing);
  w.listing = std::move(listing);
  return w;
}

Result<std::shared_ptr<const ListResult>> Service::list(const std::string& path, int depth,
                                                        const CancellationToken* cancel, bool use_cache,
                                                        const Access& access, bool include_ignored) const {
  ListParams p;
  p.path = path;
  p.depth = depth;
  p.use_cache = use_cache;
  p.include_ignored = include_ignored;
  auto w = open_listing(p, "", cancel, access);
  if (!w) return std::move(w).error();
  if (!access.read_denied) return std::move(w->listing);
  return without_denied(std::move(w->listing), w->dir_landing, access.read_denied);
}

Result<ListPage> Service::list_page(const ListParams& p, const CancellationToken* cancel, const Access& access) const {
  auto w = open_listing(p, "", cancel, access);
  if (!w) return std::move(w).error();
  std::size_t start = 0;
  if (!p.cursor.empty()) {
    const auto& all = w->listing->entries;
    start = static_cast<std::size_t>(
        std::upper_bound(all.begin(), all.end(), p.cursor,
                         [](const std::string& c, const DirEntry& e) { return compare_paths(c, e.path) < 0; }) -
        all.begin());
    if (start == all.size() && w->listing->truncated) {
      // Past what one walk gathers from the start: walked from the cursor.
      w = open_listing(p, p.cursor, cancel, access);
      if (!w) return std::move(w).error();
      start = 0;
    }
  }
  const ListResult& l = *w->listing;
  const int depth = std::clamp(p.depth, 1, 64);
  const std::size_t limit = std::clamp<std::size_t>(p.limit, 1, kMaxListEntries);
  ListPage pg;
  pg.path = l.path;
  pg.ignored = l.ignored;
  pg.ignored_names = l.ignored_names;
  // Lines are counted as they are added; the header (at most a few hundred
  // bytes plus the path twice) is checked exactly once rendered.
  std::size_t body = 0;
  const std::size_t reserve = 600 + 2 * l.path.size();
  std::string scratch;
  std::size_t i = start;
  for (; i < l.entries.size(); ++i) {
    const DirEntry& e = l.entries[i];
    if (access.read_denied && access.read_denied(join(w->dir_landing, e.path))) {
      ++pg.denied;
      continue;
    }
    scratch.clear();
    append_entry_line(scratch, e, l.path);
    const bool full =
        pg.entries.size() >= limit || (p.max_text_bytes > 0 && !pg.entries.empty() &&
                                       body + scratch.size() + reserve + e.path.size() > p.max_text_bytes);
    if (full) break;
    body += scratch.size();
    pg.entries.push_back(e);
  }
  pg.truncated = i < l.entries.size() || l.truncated;
  auto set_cursor = [&] {
    pg.next_cursor = pg.entries.empty() ? (i > start ? l.entries[i - 1].path : p.cursor) : pg.entries.back().path;
  };
  if (pg.truncated) set_cursor();
  render_page(pg, p, depth);
  fit_text(pg, p, depth);
  return pg;
}

int compare_paths(std::string_view a, std::string_view b) {
  for (;;) {
    const std::size_t sa = a.find('/');
    const std::size_t sb = b.find('/');
    const std::string_view ca = a.substr(0, sa);
    const std::string_view cb = b.substr(0, sb);
    if (const int c = ca.compare(cb); c != 0) return c < 0 ? -1 : 1;
    if (sa == std::string_view::npos || sb == std::string_view::npos) {
      if (sa == sb) return 0;
      return sa == std::string_view::npos ? -1 : 1;
    }
    a.remove_prefix(sa + 1);
    b.remove_prefix(sb + 1);
  }
}

namespace {

// The directories and regular files of a directory, sorted, without .git
// (`has_git` says whether it holds one).
std::vector<std::pair<std::string, bool>> sorted_entries(int dirfd, bool& has_git) {
  std::vector<std::pair<std::string, bool>> out;
  has_git = false;
  auto names = read_directory(dirfd, "read directory", std::string());
  if (!names) return out;  // an unreadable directory lists nothing
  has_git = take_git(*names);
  for (auto& [n, d_type] : *names) {
    bool is_dir = d_type == DT_DIR;
    bool is_reg = d_type == DT_REG;
    if (d_type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      is_dir = S_ISDIR(st.st_mode);
      is_reg = S_ISREG(st.st_mode);
    }
    if (is_dir || is_reg) out.emplace_back(std::move(n), is_dir);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// One recursive walk (a lambda sharing the cursor, limit and ignore chain) like walk_listing's, paging the workspace's
// files for MCP resources/list.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<std::vector<std::string>> Service::list_files(const std::string& after, std::size_t limit, bool& more,
                                                     const CancellationToken* cancel, const Access& access) const {
  more = false;
  std::vector<std::string> out;
  const IgnoreFile global = global_git_excludes();
  const IgnoreFile* global_rules = global.empty() ? nullptr : &global;
  std::function<bool(int, const std::string&, const std::shared_ptr<const IgnoreDir>&)> walk =
      // NOLINTNEXTLINE(readability-function-cognitive-complexity): one level of the walk (see above)
      [&](int dirfd, const std::string& prefix, const std::shared_ptr<const IgnoreDir>& parent) -> bool {
    bool has_git = false;
    const auto entries = sorted_entries(dirfd, has_git);
    bool has_rg = false, has_ig = false, has_gi = false;
    for (const auto& [name, is_dir] : entries) {
      has_rg = has_rg || (!is_dir && name == ".rgignore");
      has_ig = has_ig || (!is_dir && name == ".ignore");
      has_gi = has_gi || (!is_dir && name == ".gitignore");
    }
    const auto here =
        std::make_shared<const IgnoreDir>(parent, read_ignore_files(dirfd, prefix, has_rg, has_ig, has_gi, has_git),
                                          has_git || (parent && parent->any_git()));
    for (const auto& [name, is_dir] : entries) {
      if (cancel && cancel->cancelled()) return false;
      const std::string path = join(prefix, name);
      if (!after.empty() && compare_paths(path, after) <= 0) {
        // Skip, unless `after` lies inside this directory.
        if (!(is_dir && after.size() > path.size() && after.compare(0, path.size(), path) == 0 &&
              after[path.size()] == '/'))
          continue;
      }
      if (here->match(path, is_dir, global_rules) == IgnoreMatch::Ignore) continue;
      if (is_dir) {
        Fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.valid() && !walk(sub.get(), path, here)) return false;
        continue;
      }
      // The walk follows no symlink: `path` is where the file is.
      if (access.read_denied && access.read_denied(path)) continue;
      if (out.size() == limit) {
        more = true;
        return false;
      }
      out.push_back(path);
    }
    return true;
  };
  auto fd = root_.open_beneath("", O_RDONLY | O_DIRECTORY);
  if (!fd) return std::move(fd).error();
  walk(fd->get(), "", nullptr);
  if (cancel && cancel->cancelled()) return make_error(error_code::kRequestCancelled, "listing cancelled");
  return out;
}

}  // namespace icotes::files
