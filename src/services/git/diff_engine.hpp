// Rendering a git_diff the way git prints it (git-diff(1) "GENERATING PATCH
// TEXT WITH -P", "--stat", "--name-only"), page by page, plus the files'
// structured summary. Shared by git/diff and git/show.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>

#include "commit_format.hpp"

namespace icotes::git::detail {

/// Rename detection as git's diffcore-rename does it for `git diff -M`
/// (50% similarity): libgit2's matcher, scored with git's metric
/// (diffcore-delta.c: 64-byte-or-line spans hashed and counted; score =
/// bytes of the destination found in the source / the larger size), so
/// the "similarity index" lines equal git's. `copies`: also -C. The rename
/// limit is diff.renameLimit (default 1000, as git 2.39).
Status find_renames(git_repository* repo, git_diff* diff, bool copies);

/// Whether `git diff` would detect renames by default: config diff.renames
/// (default true since git 2.9; "copies" also finds copies).
struct RenameDefault {
  bool renames = true;
  bool copies = false;
};
RenameDefault rename_default(git_repository* repo);

/// git_diff_options flags for git's diff configuration: the indent
/// heuristic (diff.indentHeuristic, on by default since git 2.14) and
/// diff.algorithm patience/minimal (histogram has no libgit2 equivalent:
/// the default Myers is used).
std::uint32_t config_diff_flags(git_repository* repo);

enum class DiffFormat { kPatch, kStat, kNameOnly };

/// A path with merge-conflict entries in the index (stages 1-3), which git
/// lists as "unmerged" (diff-lib.c run_diff_files, diff_cache).
struct Unmerged {
  std::string path;
  bool has_ours = false;    // stage 2
  bool has_theirs = false;  // stage 3
  git_oid ours{};
  std::uint32_t ours_mode = 0;
};

/// The index's unmerged paths matching `specs` (repo-relative; "" is all),
/// by path.
Result<std::vector<Unmerged>> unmerged_paths(git_repository* repo, const std::vector<std::string>& specs);

struct RenderOptions {
  DiffFormat format = DiffFormat::kPatch;
  std::size_t offset = 0;       // first file (cursor)
  std::size_t offset_byte = 0;  // where in that file's text to resume (a cut file)
  std::size_t limit = 500;      // files per page
  std::size_t max_bytes = 256 * 1024;
  int abbrev = 7;                    // minimum abbreviated id length (default_abbrev)
  std::string_view op = "git_diff";  // for messages
  // Paths added with `git add -N` (intent to add). libgit2 sees them as
  // empty blobs; git shows them as new files against the working tree and
  // leaves them out of HEAD -> index diffs (`hide_intent_to_add`).
  const std::unordered_set<std::string>* intent_to_add = nullptr;
  bool hide_intent_to_add = false;
  bool new_side_workdir = false;  // the diff's new side is the working tree
  // Unmerged paths to list as git does ("* Unmerged path X", " X | Unmerged",
  // status "unmerged"), among the deltas by path. libgit2's conflicted
  // deltas are always left out (callers diff what git compares instead).
  const std::vector<Unmerged>* unmerged = nullptr;
  // A second diff (of unmerged paths) whose deltas are listed among the
  // main diff's by path.
  git_diff* extra = nullptr;
  // The exact call that fetches the page at a cursor (continue_call), for
  // notes; null: "call again with cursor".
  std::function<std::string(const std::string& cursor)> next_call;
  // How to ask for less, for notes: ", or narrow with paths".
  std::string narrow = ", or narrow with paths";
};

/// The index's intent-to-add paths (empty when there are none).
Result<std::unordered_set<std::string>> intent_to_add_paths(git_repository* repo);

/// One page: `text` for files [offset, offset + files.size()), and their
/// summaries (schemas/git/diff.json "files").
struct DiffPage {
  std::string text;
  json files = json::array();
  std::size_t total = 0;
  bool truncated = false;
  std::size_t next = 0;       // the next page's first file, when truncated
  std::size_t next_byte = 0;  // and where in its text to resume (a file cut at maxBytes)
  std::string note;
};

/// A diff page cursor: "<file>" or "<file>:<byte>" (resume inside a file
/// whose text was cut at maxBytes). Errors: kInvalidParams.
struct DiffCursor {
  std::size_t file = 0;
  std::size_t byte = 0;
};
Result<DiffCursor> parse_diff_cursor(const std::optional<std::string>& cursor);

Result<DiffPage> render_diff(const Repo& r, git_diff* diff, const RenderOptions& opts);

/// Puts the page's fields into `out` (text, files, total, truncated,
/// nextCursor, note).
void page_to_json(DiffPage&& page, json& out);

}  // namespace icotes::git::detail
