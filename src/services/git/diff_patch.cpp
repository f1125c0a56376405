// A file's patch as git prints it (git-diff(1) "GENERATING PATCH TEXT WITH
// -P"): libgit2's patch text brought to git's, and the counts and sizes
// --stat needs.
#include <sys/stat.h>

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "diff_formats.hpp"

namespace icotes::git::detail {
namespace {

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

// libgit2 does not read files that .gitattributes make binary: their sizes
// (for --stat) and a working-tree file's id are unknown. Fills them in as
// git does; true when the new side is a working-tree file hashed here,
// which the notice then names (libgit2 names /dev/null).
bool fill_binary_sizes(git_repository* repo, git_odb* odb, const RenderOptions& opts, Rendered& out) {
  bool unnamed_new = false;
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
  return unnamed_new;
}

// The patch's text as git prints it, and its hunks.
Status patch_text(git_patch* patch, git_odb* odb, const RenderOptions& opts, bool unnamed_new, Rendered& out) {
  const std::size_t nhunks = out.binary ? 0 : git_patch_num_hunks(patch);
  Buf buf;
  if (int rc = git_patch_to_buf(&buf.buf, patch); rc != 0)
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
    if (git_patch_get_hunk(&hunk, nullptr, patch, h) != 0 || !hunk) continue;
    const std::string_view header = trim_hunk_header(std::string_view(hunk->header, hunk->header_len));
    out.hunks.push_back({{"oldStart", hunk->old_start},
                         {"oldLines", hunk->old_lines},
                         {"newStart", hunk->new_start},
                         {"newLines", hunk->new_lines},
                         {"header", std::string(header)}});
  }
  return ok_status();
}

}  // namespace

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
  const bool unnamed_new = out.binary && fill_binary_sizes(repo, odb, opts, out);
  if (!out.binary) git_patch_line_stats(nullptr, &out.additions, &out.deletions, patch.get());
  if (opts.format != DiffFormat::kPatch) return out;
  if (auto st = patch_text(patch.get(), odb, opts, unnamed_new, out); !st) return std::move(st).error();
  return out;
}

}  // namespace icotes::git::detail
