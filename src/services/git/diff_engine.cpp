#include "diff_engine.hpp"

#include "diff_formats.hpp"
#include "similarity.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <unordered_map>
#include <utility>
#include <vector>

namespace icotes::git::detail {
namespace {

// --- text helpers ---------------------------------------------------------------

const char* status_name(git_delta_t s) {
  switch (s) {
    case GIT_DELTA_ADDED:
    case GIT_DELTA_UNTRACKED:  // a working file absent from the tree (unmerged paths in `git diff <rev>`)
      return "added";
    case GIT_DELTA_DELETED:
      return "deleted";
    case GIT_DELTA_RENAMED:
      return "renamed";
    case GIT_DELTA_COPIED:
      return "copied";
    case GIT_DELTA_TYPECHANGE:
      return "typechange";
    default:
      return "modified";
  }
}

std::string octal_mode(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06o", mode);
  return buf;
}

}  // namespace

RenameDefault rename_default(git_repository* repo) {
  RenameDefault out;
  git_config* cfg = nullptr;
  if (git_repository_config_snapshot(&cfg, repo) != 0) return out;
  ConfigPtr owned(cfg);
  git_buf value = GIT_BUF_INIT;
  if (git_config_get_string_buf(&value, cfg, "diff.renames") == 0) {
    std::string v(value.ptr, value.size);
    git_buf_dispose(&value);
    for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "copies" || v == "copy") {
      out.copies = true;
    } else {
      int b = 1;
      if (git_config_parse_bool(&b, v.c_str()) == 0) out.renames = b != 0;
    }
  }
  return out;
}

Result<std::unordered_set<std::string>> intent_to_add_paths(git_repository* repo) {
  std::unordered_set<std::string> out;
  git_index* raw = nullptr;
  if (int rc = git_repository_index(&raw, repo); rc != 0) return libgit2_error(rc, "read the index");
  IndexPtr index(raw);
  if (int rc = git_index_read(raw, 0); rc != 0) return libgit2_error(rc, "read the index");
  for (std::size_t i = 0, n = git_index_entrycount(raw); i < n; ++i) {
    const git_index_entry* e = git_index_get_byindex(raw, i);
    if (e && (e->flags_extended & GIT_INDEX_ENTRY_INTENT_TO_ADD)) out.insert(e->path);
  }
  return out;
}

Result<std::vector<Unmerged>> unmerged_paths(git_repository* repo, const std::vector<std::string>& specs) {
  std::vector<Unmerged> out;
  git_index* raw = nullptr;
  if (int rc = git_repository_index(&raw, repo); rc != 0) return libgit2_error(rc, "read the index");
  IndexPtr index(raw);
  if (int rc = git_index_read(raw, 0); rc != 0) return libgit2_error(rc, "read the index");
  if (!git_index_has_conflicts(raw)) return out;
  auto matches = [&](std::string_view path) {
    if (specs.empty()) return true;
    for (const auto& s : specs) {
      if (s.empty() || path == s || (path.size() > s.size() && path.substr(0, s.size()) == s && path[s.size()] == '/'))
        return true;
    }
    return false;
  };
  git_index_conflict_iterator* it = nullptr;
  if (int rc = git_index_conflict_iterator_new(&it, raw); rc != 0) return libgit2_error(rc, "read the index");
  const git_index_entry *ancestor = nullptr, *ours = nullptr, *theirs = nullptr;
  while (git_index_conflict_next(&ancestor, &ours, &theirs, it) == 0) {
    const git_index_entry* any = ours ? ours : theirs ? theirs : ancestor;
    if (!any || !matches(any->path)) continue;
    Unmerged u;
    u.path = any->path;
    u.has_ours = ours != nullptr;
    u.has_theirs = theirs != nullptr;
    if (ours) {
      u.ours = ours->id;
      u.ours_mode = ours->mode;
    }
    out.push_back(std::move(u));
  }
  git_index_conflict_iterator_free(it);
  std::sort(out.begin(), out.end(), [](const Unmerged& a, const Unmerged& b) { return a.path < b.path; });
  return out;
}

std::uint32_t config_diff_flags(git_repository* repo) {
  std::uint32_t flags = GIT_DIFF_INDENT_HEURISTIC;
  git_config* cfg = nullptr;
  if (git_repository_config_snapshot(&cfg, repo) != 0) return flags;
  ConfigPtr owned(cfg);
  int b = 1;
  if (git_config_get_bool(&b, cfg, "diff.indentHeuristic") == 0 && !b) flags &= ~GIT_DIFF_INDENT_HEURISTIC;
  git_buf value = GIT_BUF_INIT;
  if (git_config_get_string_buf(&value, cfg, "diff.algorithm") == 0) {
    const std::string v(value.ptr, value.size);
    if (v == "patience") flags |= GIT_DIFF_PATIENCE;
    if (v == "minimal") flags |= GIT_DIFF_MINIMAL;
  }
  git_buf_dispose(&value);
  return flags;
}

Status find_renames(git_repository* repo, git_diff* diff, bool copies) {
  git_diff_similarity_metric metric = git_similarity_metric(repo);
  git_diff_find_options fo = git_rename_options(&metric, copies);
  git_config* cfg = nullptr;
  if (git_repository_config_snapshot(&cfg, repo) == 0) {
    ConfigPtr owned(cfg);
    std::int32_t limit = 0;
    if (git_config_get_int32(&limit, cfg, "diff.renameLimit") == 0 && limit > 0)
      fo.rename_limit = static_cast<std::size_t>(limit);
  }
  if (int rc = git_diff_find_similar(diff, &fo); rc != 0) return libgit2_error(rc, "detect renames");
  return ok_status();
}

namespace {

// No second delta: Entry::second of a file that is not a type change.
constexpr std::size_t kNone = static_cast<std::size_t>(-1);
// The second half of a type change, listed with the first.
constexpr std::size_t kPaired = kNone - 1;

// The files git lists, as delta indexes. libgit2 reports a change of type
// (file <-> symlink) as a deletion and an addition of one path; git lists
// it once (status T) and prints the deletion's patch first.
//
// libgit2's tree -> working tree diff (merged from tree -> index and
// index -> working tree) also lists files whose working copy is back to
// the tree's content and mode; git does not, so neither do we.
//
// Unmerged paths (opts.unmerged) and the deltas of opts.extra come in by
// path, each unmerged path before a delta of the same path (git's "U"
// entry, then ours against the working tree).
struct Entry {
  git_diff* diff = nullptr;
  std::size_t first = 0;
  std::size_t second = static_cast<std::size_t>(-1);
  const Unmerged* unmerged = nullptr;  // a "U" entry instead of deltas
  std::string_view path;               // for ordering
};

// The halves of a type change: paired[i] is the index of the delta of the
// same path that the other half (an addition and a deletion), or kNone.
// They need not be adjacent (libgit2's tree -> working tree diff, merged
// from two, may put another path between).
std::vector<std::size_t> pair_type_changes(git_diff* diff) {
  const std::size_t n = git_diff_num_deltas(diff);
  std::vector<std::size_t> paired(n, kNone);
  std::unordered_map<std::string_view, std::size_t> added, deleted;
  for (std::size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->status == GIT_DELTA_ADDED) added.emplace(display_path(d), i);
    if (d->status == GIT_DELTA_DELETED) deleted.emplace(display_path(d), i);
  }
  for (const auto& [path, a] : added) {
    if (auto it = deleted.find(path); it != deleted.end()) {
      paired[std::min(a, it->second)] = std::max(a, it->second);
    }
  }
  return paired;
}

// A working-tree file libgit2 lists as modified (a regular file, mode
// unchanged, not hashed yet) whose content is the old side's again.
bool back_to_old_content(git_repository* repo, const git_diff_delta* d) {
  if (d->status != GIT_DELTA_MODIFIED || d->old_file.mode != d->new_file.mode ||
      (d->new_file.mode & 0170000) != 0100000 || !git_oid_is_zero(&d->new_file.id))
    return false;
  git_oid id;
  return git_repository_hashfile(&id, repo, d->new_file.path, GIT_OBJECT_BLOB, nullptr) == 0 &&
         git_oid_equal(&id, &d->old_file.id);
}

std::vector<Entry> list_deltas(git_repository* repo, git_diff* diff, const RenderOptions& opts) {
  std::vector<Entry> out;
  const std::size_t n = git_diff_num_deltas(diff);
  out.reserve(n);
  std::vector<std::size_t> paired = pair_type_changes(diff);
  for (std::size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->status == GIT_DELTA_CONFLICTED) continue;
    if (opts.hide_intent_to_add && opts.intent_to_add && opts.intent_to_add->count(std::string(display_path(d))))
      continue;
    if (opts.new_side_workdir && back_to_old_content(repo, d)) continue;
    if (paired[i] == kPaired) continue;  // listed with its other half
    if (paired[i] != kNone) {
      const std::size_t j = paired[i];
      paired[j] = kPaired;
      out.push_back({diff, d->status == GIT_DELTA_DELETED ? i : j, d->status == GIT_DELTA_DELETED ? j : i, nullptr,
                     display_path(d)});
      continue;
    }
    out.push_back({diff, i, kNone, nullptr, display_path(d)});
  }
  return out;
}

std::vector<Entry> list_entries(git_repository* repo, git_diff* diff, const RenderOptions& opts) {
  std::vector<Entry> out = list_deltas(repo, diff, opts);
  if (!opts.unmerged && !opts.extra) return out;
  std::vector<Entry> side;
  if (opts.unmerged) {
    for (const auto& u : *opts.unmerged) side.push_back({nullptr, 0, 0, &u, u.path});
  }
  auto by_path = [](const Entry& a, const Entry& b) { return a.path < b.path; };
  if (opts.extra) {
    const auto extra = list_deltas(repo, opts.extra, opts);
    std::vector<Entry> both;
    std::merge(side.begin(), side.end(), extra.begin(), extra.end(), std::back_inserter(both), by_path);
    side = std::move(both);
  }
  std::vector<Entry> all;
  all.reserve(out.size() + side.size());
  std::merge(out.begin(), out.end(), side.begin(), side.end(), std::back_inserter(all), by_path);
  return all;
}

// Leaves out of `entries` the files the client may not read (a Read deny
// rule covers the old or the new path: a rename or copy goes whole), and
// says which in a note. Names are not content and may be listed.
std::string withhold_denied(const ReadFilter& denied, std::vector<Entry>& entries) {
  std::vector<std::string> left_out;
  std::erase_if(entries, [&](const Entry& e) {
    if (e.unmerged) {
      if (!denied(e.unmerged->path)) return false;
      left_out.push_back(e.unmerged->path);
      return true;
    }
    for (const std::size_t i : {e.first, e.second}) {
      if (i == static_cast<std::size_t>(-1)) continue;
      const git_diff_delta* d = git_diff_get_delta(e.diff, i);
      if (!denied(d->old_file.path) && !denied(d->new_file.path)) continue;
      left_out.push_back(std::strcmp(d->old_file.path, d->new_file.path) == 0
                             ? std::string(d->new_file.path)
                             : std::string(d->old_file.path) + " -> " + d->new_file.path);
      return true;
    }
    return false;
  });
  if (left_out.empty()) return {};
  std::string list;
  for (std::size_t i = 0; i < left_out.size() && i < 20; ++i) list += (i ? ", " : "") + left_out[i];
  if (left_out.size() > 20) list += ", ... (" + std::to_string(left_out.size()) + " in all)";
  return "Left out " + std::to_string(left_out.size()) + (left_out.size() == 1 ? " file" : " files") +
         " that a Read deny rule covers (content withheld): " + list + ".";
}

std::string next_page(const RenderOptions& opts, const std::string& cursor) {
  return opts.next_call ? opts.next_call(cursor) : "call again with cursor \"" + cursor + "\"";
}

// The file of `entry`, both halves of a type change rendered.
Result<FileDiff> render_file(git_repository* repo, const Entry& entry, git_odb* odb, const RenderOptions& opts) {
  auto first = render_delta(repo, entry.diff, entry.first, odb, opts);
  if (!first) return std::move(first).error();
  FileDiff file;
  file.e = std::move(*first);
  if (entry.second == kNone) return file;
  auto second = render_delta(repo, entry.diff, entry.second, odb, opts);
  if (!second) return std::move(second).error();
  Rendered& e = file.e;
  file.added = second->delta;
  file.added_new_id = second->new_id;
  file.added_new_size = second->new_size;
  e.text += second->text;
  e.binary = e.binary || second->binary;
  e.additions += second->additions;
  e.deletions += second->deletions;
  for (auto& h : second->hunks) e.hunks.push_back(std::move(h));
  return file;
}

// About one --stat line: what a file costs of a --stat page's byte budget.
std::string stat_placeholder() { return std::string(80, ' '); }

// What an unmerged path adds to the page's text; git prints "* Unmerged
// path <path>" unquoted (diff.c run_diff_cmd).
std::string unmerged_text(const Unmerged& um, DiffFormat format) {
  switch (format) {
    case DiffFormat::kPatch:
      return "* Unmerged path " + um.path + "\n";
    case DiffFormat::kNameOnly:
      return quote_path(um.path) + "\n";
    case DiffFormat::kStat:
      break;
  }
  return stat_placeholder();
}

// What a file adds to the page's text: its patch, or its name.
std::string file_text(FileDiff& file, DiffFormat format) {
  switch (format) {
    case DiffFormat::kPatch:
      return std::move(file.e.text);
    case DiffFormat::kNameOnly:
      return quote_path(display_path(file.e.delta)) + "\n";
    case DiffFormat::kStat:
      break;
  }
  return stat_placeholder();
}

// The file's entry in `files` (schemas/git/diff.json).
json file_summary(FileDiff& file, DiffFormat format) {
  Rendered& e = file.e;
  const git_diff_delta* d = e.delta;
  const std::uint32_t old_mode = d->old_file.mode;
  const std::uint32_t new_mode = file.added ? file.added->new_file.mode : d->new_file.mode;
  json f = {{"path", std::string(display_path(d))},
            {"status", file.added            ? "typechange"
                       : e.added_from_intent ? "added"
                                             : status_name(d->status)},
            {"binary", e.binary},
            {"additions", e.additions},
            {"deletions", e.deletions}};
  if (d->status == GIT_DELTA_RENAMED || d->status == GIT_DELTA_COPIED) {
    f["oldPath"] = d->old_file.path;
    f["similarity"] = d->similarity;
  }
  if (old_mode && new_mode && old_mode != new_mode) {
    f["oldMode"] = octal_mode(old_mode);
    f["newMode"] = octal_mode(new_mode);
  }
  if (format == DiffFormat::kPatch && !e.binary) f["hunks"] = std::move(e.hunks);
  return f;
}

// Where to cut the text of a file larger than a page: after the last line
// end that fits, or, for a line longer than the page, at a UTF-8 character
// boundary.
std::size_t cut_point(const std::string& text, std::size_t max_bytes) {
  std::size_t cut = text.rfind('\n', max_bytes - 1);
  if (cut != std::string::npos) return cut + 1;
  cut = max_bytes;
  while (cut > 1 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

// One page of render_diff: the files from opts.offset on while they fit
// opts.limit and opts.max_bytes (a page always holds at least one file).
class PageBuilder {
 public:
  enum class Added {
    kYes,   // the file is on the page
    kFull,  // it does not fit: the page ends before it
    kCut,   // it is larger than a page: the page ends inside it
  };

  PageBuilder(const Repo& r, const RenderOptions& opts, std::vector<Entry> entries, git_odb* odb, std::string withheld)
      : r_(r), opts_(opts), entries_(std::move(entries)), odb_(odb), withheld_(std::move(withheld)) {
    page_.note = withheld_;
    page_.total = entries_.size();
  }

  std::size_t total() const { return page_.total; }

  Result<Added> add(std::size_t i) {
    if (const Unmerged* um = entries_[i].unmerged) return add_unmerged(i, *um);
    return add_file(i);
  }

  // The page, whose files end before file `end`.
  DiffPage finish(std::size_t end) && {
    if (opts_.format == DiffFormat::kStat) page_.text = format_stat(stats_);
    if (end < page_.total) {
      page_.truncated = true;
      page_.next = end;
      std::string more = "Showing files " + std::to_string(opts_.offset + 1) + "-" + std::to_string(end) + " of " +
                         std::to_string(page_.total) + "; " + std::to_string(page_.total - end) +
                         " more. Next: " + next_page(opts_, std::to_string(end)) + opts_.narrow + ".";
      page_.note = page_.note.empty() ? more : page_.note + " " + more;
    }
    return std::move(page_);
  }

  // The page, which ends inside its only file (Added::kCut).
  DiffPage take() && { return std::move(page_); }

 private:
  // Counts `size` bytes of file `i` against the budget, unless they do not fit.
  bool fits(std::size_t i, std::size_t size) {
    if (i > opts_.offset && bytes_ + size > opts_.max_bytes) return false;
    bytes_ += size;
    return true;
  }

  Added add_unmerged(std::size_t i, const Unmerged& um) {
    const std::string text = unmerged_text(um, opts_.format);
    if (!fits(i, text.size())) return Added::kFull;
    if (opts_.format != DiffFormat::kStat) page_.text += text;
    page_.files.push_back(
        {{"path", um.path}, {"status", "unmerged"}, {"binary", false}, {"additions", 0}, {"deletions", 0}});
    if (opts_.format == DiffFormat::kStat) stats_.push_back({quote_path(um.path), 0, 0, false, true});
    return Added::kYes;
  }

  Result<Added> add_file(std::size_t i) {
    auto rendered = render_file(r_.repo, entries_[i], odb_, opts_);
    if (!rendered) return std::move(rendered).error();
    FileDiff& file = *rendered;
    const git_diff_delta* d = file.e.delta;
    std::string text = file_text(file, opts_.format);
    // The rest of a file cut on the previous page: its entry in `files`
    // was on that page.
    const bool resumed = i == opts_.offset && opts_.offset_byte > 0 && opts_.format != DiffFormat::kStat;
    if (resumed) text.erase(0, std::min(opts_.offset_byte, text.size()));
    if (!fits(i, text.size())) return Added::kFull;

    json f = file_summary(file, opts_.format);
    // The unmerged entry just before counts the lines of the working tree
    // against ours, this delta's.
    if (!page_.files.empty() && i > opts_.offset && entries_[i - 1].unmerged &&
        entries_[i - 1].unmerged->path == display_path(d)) {
      page_.files.back()["additions"] = file.e.additions;
      page_.files.back()["deletions"] = file.e.deletions;
    }
    if (!resumed) page_.files.push_back(std::move(f));

    if (opts_.format == DiffFormat::kStat) {
      stats_.push_back(stat_entry(file));
    } else if (i == opts_.offset && text.size() > opts_.max_bytes) {
      cut(i, text, resumed ? opts_.offset_byte : 0, display_path(d));
      return Added::kCut;
    } else {
      page_.text += text;
    }
    return Added::kYes;
  }

  // One file larger than a page, from byte `start` of its text: the page
  // holds what fits, the rest follows on the next page.
  void cut(std::size_t i, std::string& text, std::size_t start, std::string_view path) {
    const std::size_t cut = cut_point(text, opts_.max_bytes);
    const std::string next = std::to_string(i) + ":" + std::to_string(start + cut);
    page_.note = (withheld_.empty() ? "" : withheld_ + " ") + "The diff of " + std::string(path) +
                 " is longer than a page; this page holds bytes " + std::to_string(start) + "-" +
                 std::to_string(start + cut) + " of it (file " + std::to_string(i + 1) + " of " +
                 std::to_string(page_.total) + "). Next: " + next_page(opts_, next) + " (or fewer contextLines" +
                 opts_.narrow + ").";
    text.resize(cut);
    page_.text += text;
    page_.truncated = true;
    page_.next = i;
    page_.next_byte = start + cut;
  }

  const Repo& r_;
  const RenderOptions& opts_;
  std::vector<Entry> entries_;
  git_odb* odb_;
  std::string withheld_;
  DiffPage page_;
  std::vector<StatEntry> stats_;
  std::size_t bytes_ = 0;
};

}  // namespace

Result<DiffPage> render_diff(const Repo& r, git_diff* diff, const RenderOptions& opts) {
  auto entries = list_entries(r.repo, diff, opts);
  // Without a Read deny (the common case) nothing is looked at.
  std::string withheld = r.policy.read_denied ? withhold_denied(r.policy.read_denied, entries) : std::string();
  git_odb* odb_raw = nullptr;
  if (int rc = git_repository_odb(&odb_raw, r.repo); rc != 0) return libgit2_error(rc, "open the object database");
  OdbPtr odb(odb_raw);

  PageBuilder page(r, opts, std::move(entries), odb.get(), std::move(withheld));
  const std::size_t end = std::min(page.total(), opts.offset + opts.limit);
  std::size_t i = opts.offset;
  for (; i < end; ++i) {
    if (auto st = r.check_cancel(opts.op); !st) return std::move(st).error();
    r.report(git_text::count(i - opts.offset, "file"), static_cast<double>(i - opts.offset),
             static_cast<double>(end - opts.offset));
    auto added = page.add(i);
    if (!added) return std::move(added).error();
    if (*added == PageBuilder::Added::kFull) break;
    if (*added == PageBuilder::Added::kCut) return std::move(page).take();
  }
  return std::move(page).finish(i);
}

Result<DiffCursor> parse_diff_cursor(const std::optional<std::string>& cursor) {
  DiffCursor out;
  if (!cursor || cursor->empty()) return out;
  const std::string& c = *cursor;
  const std::size_t colon = c.find(':');
  auto number = [](std::string_view s, std::size_t& v) {
    if (s.empty() || s.size() > 15 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    v = static_cast<std::size_t>(std::stoull(std::string(s)));
    return true;
  };
  const std::string_view cv(c);
  if (!number(cv.substr(0, colon), out.file) || (colon != std::string::npos && !number(cv.substr(colon + 1), out.byte)))
    return make_error(error_code::kInvalidParams,
                      "invalid cursor '" + c.substr(0, 40) + "': pass nextCursor from the previous page unchanged");
  return out;
}

void page_to_json(DiffPage&& page, json& out) {
  out["text"] = std::move(page.text);
  out["files"] = std::move(page.files);
  out["total"] = page.total;
  out["truncated"] = page.truncated;
  if (page.truncated)
    out["nextCursor"] =
        page.next_byte ? std::to_string(page.next) + ":" + std::to_string(page.next_byte) : std::to_string(page.next);
  if (!page.note.empty()) out["note"] = std::move(page.note);
}

}  // namespace icotes::git::detail
