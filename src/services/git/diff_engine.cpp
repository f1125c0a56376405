#include "diff_engine.hpp"

#include "similarity.hpp"

#include <sys/stat.h>

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

// The path git names a file by in lists: the new path, or the old one for a
// deletion.
std::string_view display_path(const git_diff_delta* d) {
  const char* p = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
  return p ? p : "";
}

// pprint_rename() in diff.c: "a => b", or the common directory prefix and
// suffix factored out: "dir/{a => b}/file".
std::string rename_name(std::string_view a, std::string_view b) {
  if (needs_quote(a) || needs_quote(b)) return quote_path(a) + " => " + quote_path(b);
  std::size_t pfx = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size() && a[i] == b[i]; ++i) {
    if (a[i] == '/') pfx = i + 1;
  }
  // The common suffix may reach into the prefix by one byte (its slash) only
  // when there is a prefix.
  std::size_t sfx = 0;
  const std::ptrdiff_t adjust = pfx ? 1 : 0;
  std::ptrdiff_t ia = static_cast<std::ptrdiff_t>(a.size());
  std::ptrdiff_t ib = static_cast<std::ptrdiff_t>(b.size());
  const std::ptrdiff_t lo = static_cast<std::ptrdiff_t>(pfx) - adjust;
  // Indexes may point one past the end (the terminating NUL in git's loop),
  // where both strings "hold" '\0' and compare equal.
  auto at = [](std::string_view s, std::ptrdiff_t i) {
    return i < static_cast<std::ptrdiff_t>(s.size()) ? s[static_cast<std::size_t>(i)] : '\0';
  };
  while (lo <= ia && lo <= ib && at(a, ia) == at(b, ib)) {
    if (at(a, ia) == '/') sfx = a.size() - static_cast<std::size_t>(ia);
    --ia;
    --ib;
  }
  // The prefix and suffix may overlap (a/x => a/x/y): the middles are then
  // empty.
  auto middle = [&](std::string_view s) { return s.size() > pfx + sfx ? s.size() - pfx - sfx : std::size_t{0}; };
  const std::size_t a_mid = middle(a), b_mid = middle(b);
  std::string out;
  if (pfx + sfx) {
    out.append(a.substr(0, pfx));
    out += '{';
  }
  out.append(a.substr(pfx, a_mid));
  out += " => ";
  out.append(b.substr(pfx, b_mid));
  if (pfx + sfx) {
    out += '}';
    out.append(a.substr(a.size() - sfx));
  }
  return out;
}

std::size_t decimal_width(std::uint64_t n) {
  std::size_t w = 1;
  while (n >= 10) {
    n /= 10;
    ++w;
  }
  return w;
}

struct StatEntry {
  std::string name;
  std::uint64_t added = 0;    // lines, or the new size for binary files
  std::uint64_t deleted = 0;  // lines, or the old size
  bool binary = false;
  bool unmerged = false;  // " name | Unmerged"
};

// scale_linear() in diff.c: at least one column for any change.
std::uint64_t scale_linear(std::uint64_t it, std::uint64_t width, std::uint64_t max_change) {
  if (!it) return 0;
  return 1 + (it * (width - 1) / max_change);
}

// show_stats() and print_stat_summary_inserts_deletes() in diff.c, for a
// terminal of 80 columns (what git uses when stdout is not a terminal and
// COLUMNS is unset) and no diff.statGraphWidth.
std::string format_stat(const std::vector<StatEntry>& files) {
  if (files.empty()) return "";
  std::uint64_t max_change = 0;
  std::size_t max_len = 0;
  std::size_t bin_width = 0;
  std::size_t number_width = 0;
  for (const auto& f : files) {
    max_len = std::max(max_len, f.name.size());
    if (f.unmerged) {
      bin_width = std::max<std::size_t>(bin_width, 8);  // "Unmerged"
      continue;
    }
    if (f.binary) {
      bin_width = std::max(bin_width, 14 + decimal_width(f.added) + decimal_width(f.deleted));
      number_width = 3;
      continue;
    }
    max_change = std::max(max_change, f.added + f.deleted);
  }
  long width = 80;
  number_width = std::max(number_width, decimal_width(max_change));
  const long nw = static_cast<long>(number_width);
  if (width < 16 + 6 + nw) width = 16 + 6 + nw;
  long graph_width = static_cast<long>(max_change) + 4 > static_cast<long>(bin_width)
                         ? static_cast<long>(max_change)
                         : static_cast<long>(bin_width) - 4;
  long name_width = static_cast<long>(max_len);
  if (name_width + nw + 6 + graph_width > width) {
    if (graph_width > width * 3 / 8 - nw - 6) {
      graph_width = width * 3 / 8 - nw - 6;
      if (graph_width < 6) graph_width = 6;
    }
    if (name_width > width - nw - 6 - graph_width)
      name_width = width - nw - 6 - graph_width;
    else
      graph_width = width - nw - 6 - name_width;
  }

  std::string out;
  std::uint64_t adds = 0, dels = 0;
  for (const auto& f : files) {
    std::string_view name = f.name;
    std::string prefix;
    long len = name_width;
    if (name_width < static_cast<long>(name.size())) {
      prefix = "...";
      len -= 3;
      if (len < 0) len = 0;
      name.remove_prefix(name.size() - static_cast<std::size_t>(len));
      if (auto slash = name.find('/'); slash != std::string_view::npos) name.remove_prefix(slash);
    }
    const long padding = std::max<long>(0, len - static_cast<long>(name.size()));
    out += ' ';
    out += prefix;
    out.append(name);
    out.append(static_cast<std::size_t>(padding), ' ');
    out += " | ";
    if (f.unmerged) {
      out += "Unmerged\n";
      continue;
    }
    if (f.binary) {
      out.append(number_width - 3, ' ');
      out += "Bin";
      if (f.added || f.deleted) out += " " + std::to_string(f.deleted) + " -> " + std::to_string(f.added) + " bytes";
      out += '\n';
      continue;
    }
    adds += f.added;
    dels += f.deleted;
    std::uint64_t add = f.added, del = f.deleted;
    const auto gw = static_cast<std::uint64_t>(graph_width);
    if (gw <= max_change) {
      std::uint64_t total = scale_linear(add + del, gw, max_change);
      if (total < 2 && add && del) total = 2;
      if (add < del) {
        add = scale_linear(add, gw, max_change);
        del = total - add;
      } else {
        del = scale_linear(del, gw, max_change);
        add = total - del;
      }
    }
    const std::string count = std::to_string(f.added + f.deleted);
    out.append(number_width > count.size() ? number_width - count.size() : 0, ' ');
    out += count;
    if (f.added + f.deleted) out += ' ';
    out.append(add, '+');
    out.append(del, '-');
    out += '\n';
  }
  // Unmerged files are not counted.
  const std::size_t n = static_cast<std::size_t>(
      std::count_if(files.begin(), files.end(), [](const StatEntry& f) { return !f.unmerged; }));
  if (n == 0) return out + " 0 files changed\n";
  out += " " + std::to_string(n) + (n == 1 ? " file changed" : " files changed");
  if (adds || dels == 0) out += ", " + std::to_string(adds) + (adds == 1 ? " insertion(+)" : " insertions(+)");
  if (dels || adds == 0) out += ", " + std::to_string(dels) + (dels == 1 ? " deletion(-)" : " deletions(-)");
  out += '\n';
  return out;
}

// Brings libgit2's file header to git's (diff.c builtin_diff,
// fill_metainfo): ids abbreviated as git does (libgit2 prints them in full,
// id_abbrev 40, see diff()), a tab after "--- name" / "+++ name" when the
// name holds a space, and no "---"/"+++" lines for a file without hunks
// (an empty file added or deleted).
void fix_header(std::string& text, const git_oid& old_id, const git_oid& new_id, git_odb* odb, int abbrev,
                bool has_body) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    // The header ends where the hunks (or the binary notice) begin.
    if (text.compare(pos, 2, "@@") == 0 || text.compare(pos, 7, "Binary ") == 0) return;
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (text.compare(pos, 6, "index ") == 0 && text.compare(pos + 6 + GIT_OID_HEXSZ, 2, "..") == 0) {
      std::string ids = abbrev_oid(odb, old_id, abbrev) + ".." + abbrev_oid(odb, new_id, abbrev);
      text.replace(pos + 6, 2 * GIT_OID_HEXSZ + 2, ids);
      nl = text.find('\n', pos);
    } else if (text.compare(pos, 4, "--- ") == 0 || text.compare(pos, 4, "+++ ") == 0) {
      if (!has_body) {
        text.erase(pos, nl + 1 - pos);
        continue;
      }
      if (text.find(' ', pos + 4) < nl) {
        text.insert(nl, 1, '\t');
        ++nl;
      }
    }
    pos = nl + 1;
  }
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

// git's default funcname (xemit.c def_ff) cuts the hunk header's function
// context at 80 bytes and then strips trailing whitespace; libgit2 cuts but
// keeps the whitespace before the cut. Header lines are the only patch lines
// that start with "@@ -".
std::string_view trim_hunk_header(std::string_view line) {
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
  return line;
}

void trim_hunk_headers(std::string& text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string::npos ? text.size() : nl + 1;
    std::string_view line(text.data() + pos, end - pos);
    if (line.substr(0, 4) == "@@ -") {
      out.append(trim_hunk_header(line));
      out += '\n';
    } else {
      out.append(line);
    }
    pos = end;
  }
  text = std::move(out);
}

// One delta's patch and counts.
struct Rendered {
  const git_diff_delta* delta = nullptr;
  std::string text;
  bool binary = false;
  std::size_t additions = 0;
  std::size_t deletions = 0;
  json hunks = json::array();
  bool added_from_intent = false;  // an intent-to-add entry: shown as added
  git_oid new_id{};                // the new side's id, filled in when libgit2 left it zero
  std::size_t old_size = 0;        // sizes of binary files (for --stat)
  std::size_t new_size = 0;
};

// An intent-to-add file's header as git prints it: "new file mode", the
// old id all zeros, "--- /dev/null" (libgit2 diffs it against the empty
// blob the index holds).
void as_new_file(std::string& text) {
  const std::size_t index = text.find("\nindex ");
  if (index == std::string::npos) return;
  const std::size_t eol = text.find('\n', index + 1);
  std::string_view line(text.data() + index + 7, eol - index - 7);  // "<old>..<new> <mode>"
  const std::size_t dots = line.find("..");
  const std::size_t space = line.find(' ', dots);
  if (dots == std::string_view::npos || space == std::string_view::npos) return;
  std::string repl = "\nnew file mode " + std::string(line.substr(space + 1)) + "\nindex " + std::string(dots, '0') +
                     ".." + std::string(line.substr(dots + 2, space - dots - 2));
  text.replace(index, eol - index, repl);
  const std::string old_label = "\n--- a/";
  if (auto at = text.find(old_label); at != std::string::npos) {
    const std::size_t end = text.find('\n', at + 1);
    text.replace(at, end - at, "\n--- /dev/null");
  }
}

Result<Rendered> render_delta(git_repository* repo, git_diff* diff, std::size_t index, git_odb* odb,
                              const RenderOptions& opts) {
  Rendered out;
  out.delta = git_diff_get_delta(diff, index);
  git_patch* patch_raw = nullptr;
  if (int rc = git_patch_from_diff(&patch_raw, diff, index); rc != 0)
    return libgit2_error(rc, "diff " + std::string(display_path(out.delta)));
  PatchPtr patch(patch_raw);
  if (!patch) return out;
  // The patch's delta has the ids and sizes filled in once the content is
  // loaded (working-tree files are hashed then).
  out.delta = git_patch_get_delta(patch.get());
  out.binary = (out.delta->flags & GIT_DIFF_FLAG_BINARY) != 0;
  out.added_from_intent = !opts.hide_intent_to_add && opts.intent_to_add && out.delta->status == GIT_DELTA_MODIFIED &&
                          opts.intent_to_add->count(std::string(display_path(out.delta)));
  out.new_id = out.delta->new_file.id;
  out.old_size = out.delta->old_file.size;
  out.new_size = out.delta->new_file.size;
  bool unnamed_new = false;
  if (out.binary) {
    // libgit2 does not read files that .gitattributes make binary: their
    // sizes (for --stat) and a working-tree file's id are unknown. Fill
    // them in as git does.
    git_object_t type;
    if (!out.old_size && !git_oid_is_zero(&out.delta->old_file.id))
      git_odb_read_header(&out.old_size, &type, odb, &out.delta->old_file.id);
    if (opts.new_side_workdir && git_oid_is_zero(&out.new_id) && out.delta->status != GIT_DELTA_DELETED) {
      unnamed_new = git_repository_hashfile(&out.new_id, repo, out.delta->new_file.path, GIT_OBJECT_BLOB, nullptr) == 0;
      if (unnamed_new) git_odb_read_header(&out.new_size, &type, odb, &out.new_id);
      if (unnamed_new && !out.new_size) {
        struct stat st;
        const std::string abs = std::string(git_repository_workdir(repo)) + out.delta->new_file.path;
        if (::stat(abs.c_str(), &st) == 0) out.new_size = static_cast<std::size_t>(st.st_size);
      }
    } else if (!out.new_size && !git_oid_is_zero(&out.new_id)) {
      git_odb_read_header(&out.new_size, &type, odb, &out.new_id);
    }
  }
  if (!out.binary) git_patch_line_stats(nullptr, &out.additions, &out.deletions, patch.get());
  if (opts.format != DiffFormat::kPatch) return out;
  const std::size_t nhunks = out.binary ? 0 : git_patch_num_hunks(patch.get());
  Buf buf;
  if (int rc = git_patch_to_buf(&buf.buf, patch.get()); rc != 0)
    return libgit2_error(rc, "print the diff of " + std::string(display_path(out.delta)));
  out.text.assign(buf.view());
  if (unnamed_new) {
    // ... and the notice names /dev/null for it.
    const std::string dev_null = " and /dev/null differ\n";
    if (auto at = out.text.rfind(dev_null); at != std::string::npos)
      out.text.replace(at, dev_null.size(),
                       " and " + quote_path(std::string("b/") + out.delta->new_file.path) + " differ\n");
  }
  if (nhunks) trim_hunk_headers(out.text);
  fix_header(out.text, out.delta->old_file.id, out.new_id, odb, opts.abbrev, out.binary || nhunks > 0);
  if (out.added_from_intent) as_new_file(out.text);
  for (std::size_t h = 0; h < nhunks; ++h) {
    const git_diff_hunk* hunk = nullptr;
    if (git_patch_get_hunk(&hunk, nullptr, patch.get(), h) != 0 || !hunk) continue;
    const std::string_view header = trim_hunk_header(std::string_view(hunk->header, hunk->header_len));
    out.hunks.push_back({{"oldStart", hunk->old_start},
                         {"oldLines", hunk->old_lines},
                         {"newStart", hunk->new_start},
                         {"newLines", hunk->new_lines},
                         {"header", std::string(header)}});
  }
  return out;
}

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

std::vector<Entry> list_deltas(git_repository* repo, git_diff* diff, const RenderOptions& opts) {
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  constexpr std::size_t kPaired = kNone - 1;
  std::vector<Entry> out;
  const std::size_t n = git_diff_num_deltas(diff);
  out.reserve(n);
  // The halves of a type change need not be adjacent (libgit2's tree ->
  // working tree diff, merged from two, may put another path between).
  std::vector<std::size_t> paired(n, kNone);
  {
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
  }
  for (std::size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->status == GIT_DELTA_CONFLICTED) continue;
    if (opts.hide_intent_to_add && opts.intent_to_add && opts.intent_to_add->count(std::string(display_path(d))))
      continue;
    if (opts.new_side_workdir && d->status == GIT_DELTA_MODIFIED && d->old_file.mode == d->new_file.mode &&
        (d->new_file.mode & 0170000) == 0100000 && git_oid_is_zero(&d->new_file.id)) {
      git_oid id;
      if (git_repository_hashfile(&id, repo, d->new_file.path, GIT_OBJECT_BLOB, nullptr) == 0 &&
          git_oid_equal(&id, &d->old_file.id))
        continue;
    }
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

}  // namespace

Result<DiffPage> render_diff(const Repo& r, git_diff* diff, const RenderOptions& opts) {
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  DiffPage page;
  auto entries = list_entries(r.repo, diff, opts);
  // Without a Read deny (the common case) nothing is looked at.
  const std::string withheld = r.policy.read_denied ? withhold_denied(r.policy.read_denied, entries) : std::string();
  page.note = withheld;
  page.total = entries.size();
  git_odb* odb_raw = nullptr;
  if (int rc = git_repository_odb(&odb_raw, r.repo); rc != 0) return libgit2_error(rc, "open the object database");
  OdbPtr odb(odb_raw);

  std::vector<StatEntry> stats;
  std::size_t bytes = 0;
  std::size_t i = opts.offset;
  for (; i < page.total && i < opts.offset + opts.limit; ++i) {
    if (auto st = r.check_cancel(opts.op); !st) return std::move(st).error();
    r.report(git_text::count(i - opts.offset, "file"), static_cast<double>(i - opts.offset),
             static_cast<double>(std::min(page.total, opts.offset + opts.limit) - opts.offset));
    if (const Unmerged* um = entries[i].unmerged) {
      // git prints "* Unmerged path <path>" unquoted (diff.c run_diff_cmd).
      const std::string text = opts.format == DiffFormat::kPatch      ? "* Unmerged path " + um->path + "\n"
                               : opts.format == DiffFormat::kNameOnly ? quote_path(um->path) + "\n"
                                                                      : std::string(80, ' ');
      if (i > opts.offset && bytes + text.size() > opts.max_bytes) break;
      bytes += text.size();
      if (opts.format != DiffFormat::kStat) page.text += text;
      page.files.push_back(
          {{"path", um->path}, {"status", "unmerged"}, {"binary", false}, {"additions", 0}, {"deletions", 0}});
      if (opts.format == DiffFormat::kStat) stats.push_back({quote_path(um->path), 0, 0, false, true});
      continue;
    }
    auto first = render_delta(r.repo, entries[i].diff, entries[i].first, odb.get(), opts);
    if (!first) return std::move(first).error();
    Rendered e = std::move(*first);
    const git_diff_delta* d = e.delta;
    const git_diff_delta* added = nullptr;  // the second half of a type change
    git_oid added_new_id{};
    std::size_t added_new_size = 0;
    if (entries[i].second != kNone) {
      auto second = render_delta(r.repo, entries[i].diff, entries[i].second, odb.get(), opts);
      if (!second) return std::move(second).error();
      added = second->delta;
      added_new_id = second->new_id;
      added_new_size = second->new_size;
      e.text += second->text;
      e.binary = e.binary || second->binary;
      e.additions += second->additions;
      e.deletions += second->deletions;
      for (auto& h : second->hunks) e.hunks.push_back(std::move(h));
    }

    std::string text;
    if (opts.format == DiffFormat::kPatch) {
      text = std::move(e.text);
    } else if (opts.format == DiffFormat::kNameOnly) {
      text = quote_path(display_path(d)) + "\n";
    } else {
      text.assign(80, ' ');  // about one --stat line, for the byte budget
    }
    // The rest of a file cut on the previous page: its entry in `files`
    // was on that page.
    const bool resumed = i == opts.offset && opts.offset_byte > 0 && opts.format != DiffFormat::kStat;
    if (resumed) text.erase(0, std::min(opts.offset_byte, text.size()));
    // A page always holds at least one file; the rest must fit the budget.
    if (i > opts.offset && bytes + text.size() > opts.max_bytes) break;
    bytes += text.size();

    const std::uint32_t old_mode = d->old_file.mode;
    const std::uint32_t new_mode = added ? added->new_file.mode : d->new_file.mode;
    json f = {{"path", std::string(display_path(d))},
              {"status", added                 ? "typechange"
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
    if (opts.format == DiffFormat::kPatch && !e.binary) f["hunks"] = std::move(e.hunks);
    // The unmerged entry just before counts the lines of the working tree
    // against ours, this delta's.
    if (!page.files.empty() && i > opts.offset && entries[i - 1].unmerged &&
        entries[i - 1].unmerged->path == display_path(d)) {
      page.files.back()["additions"] = e.additions;
      page.files.back()["deletions"] = e.deletions;
    }
    if (!resumed) page.files.push_back(std::move(f));

    if (opts.format == DiffFormat::kStat) {
      StatEntry s;
      s.name = (d->status == GIT_DELTA_RENAMED || d->status == GIT_DELTA_COPIED)
                   ? rename_name(d->old_file.path, d->new_file.path)
                   : quote_path(display_path(d));
      s.binary = e.binary;
      if (e.binary) {
        // "Bin <old size> -> <new size> bytes"; nothing when the contents
        // are the same (a mode change).
        const git_oid& new_id = added ? added_new_id : e.new_id;
        if (!git_oid_equal(&d->old_file.id, &new_id)) {
          s.deleted = e.old_size;
          s.added = added ? added_new_size : e.new_size;
        }
      } else {
        s.added = e.additions;
        s.deleted = e.deletions;
      }
      stats.push_back(std::move(s));
    } else if (i == opts.offset && text.size() > opts.max_bytes) {
      // One file larger than a page: cut at a line end (or, for a line
      // longer than the page, at a UTF-8 character boundary), the rest
      // follows on the next page.
      std::size_t cut = text.rfind('\n', opts.max_bytes - 1);
      if (cut != std::string::npos) {
        ++cut;
      } else {
        cut = opts.max_bytes;
        while (cut > 1 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      }
      const std::size_t start = resumed ? opts.offset_byte : 0;
      const std::string next = std::to_string(i) + ":" + std::to_string(start + cut);
      page.note = (withheld.empty() ? "" : withheld + " ") + "The diff of " + std::string(display_path(d)) +
                  " is longer than a page; this page holds bytes " + std::to_string(start) + "-" +
                  std::to_string(start + cut) + " of it (file " + std::to_string(i + 1) + " of " +
                  std::to_string(page.total) + "). Next: " + next_page(opts, next) + " (or fewer contextLines" +
                  opts.narrow + ").";
      text.resize(cut);
      page.text += text;
      page.truncated = true;
      page.next = i;
      page.next_byte = start + cut;
      return page;
    } else {
      page.text += text;
    }
  }
  if (opts.format == DiffFormat::kStat) page.text = format_stat(stats);
  if (i < page.total) {
    page.truncated = true;
    page.next = i;
    std::string more = "Showing files " + std::to_string(opts.offset + 1) + "-" + std::to_string(i) + " of " +
                       std::to_string(page.total) + "; " + std::to_string(page.total - i) +
                       " more. Next: " + next_page(opts, std::to_string(i)) + opts.narrow + ".";
    page.note = page.note.empty() ? more : page.note + " " + more;
  }
  return page;
}

Result<DiffCursor> parse_diff_cursor(const json& params) {
  DiffCursor out;
  auto it = params.find("cursor");
  if (it == params.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return out;
  const std::string& c = it->get_ref<const std::string&>();
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
