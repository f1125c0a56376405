// The output formats of render_diff (diff_engine.cpp, which pages them):
// a file's patch as git prints it (diff_patch.cpp) and the --stat table
// (diff_stat.cpp). --name-only is a quoted path per line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diff_engine.hpp"

namespace icotes::git::detail {

// The path git names a file by in lists: the new path, or the old one for a
// deletion.
inline std::string_view display_path(const git_diff_delta* d) {
  const char* p = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
  return p ? p : "";
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

// Delta `index` of `diff`: its counts (sizes for binary files) and, for
// DiffFormat::kPatch, its patch text as git prints it and its hunks
// (schemas/git/diff.json "hunks").
Result<Rendered> render_delta(git_repository* repo, git_diff* diff, std::size_t index, git_odb* odb,
                              const RenderOptions& opts);

// A file as git lists it: a delta, with the addition half of a type change
// (file <-> symlink) merged in.
struct FileDiff {
  Rendered e;
  const git_diff_delta* added = nullptr;  // the second half of a type change
  git_oid added_new_id{};
  std::size_t added_new_size = 0;
};

struct StatEntry {
  std::string name;
  std::uint64_t added = 0;    // lines, or the new size for binary files
  std::uint64_t deleted = 0;  // lines, or the old size
  bool binary = false;
  bool unmerged = false;  // " name | Unmerged"
};

// A file's line of the --stat table.
StatEntry stat_entry(const FileDiff& file);

// show_stats() and print_stat_summary_inserts_deletes() in diff.c, for a
// terminal of 80 columns (what git uses when stdout is not a terminal and
// COLUMNS is unset) and no diff.statGraphWidth.
std::string format_stat(const std::vector<StatEntry>& files);

}  // namespace icotes::git::detail
