// Line attribution as git blame computes it (blame.c assign_blame,
// pass_blame, blame_chunk; without -M/-C): lines start with the final
// version and move to a parent wherever the diff against it leaves them
// unchanged, commits taken newest first by committer date; a parent with
// the same blob takes every line at once; whole-file renames are followed.
//
// libgit2's own git_blame_file is not used: it re-reads the blob once per
// few dozen lines (4 s for the kernel's 22,838-line MAINTAINERS, where git
// takes 10 ms), and its git_blame_buffer misplaces lines after a change.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "commit_format.hpp"

namespace icotes::git::detail {

/// Where lines came from: a commit (all-zero id for the working tree) and
/// the file's path there.
struct BlameOrigin {
  git_oid commit{};  // zero: not committed yet
  std::string path;
  bool boundary = false;                  // a root commit (git prints "boundary")
  const BlameOrigin* previous = nullptr;  // git's "previous": the parent's version, if any
};

/// A run of lines: final lines [lno, lno + count) (0-based) were lines
/// [orig, orig + count) of `origin`'s version.
struct BlameEntry {
  std::size_t lno = 0;
  std::size_t orig = 0;
  std::size_t count = 0;
  const BlameOrigin* origin = nullptr;
};

struct BlameResult {
  std::deque<BlameOrigin> origins;  // stable addresses
  std::vector<BlameEntry> entries;  // by lno, coalesced as git does
};

/// Blames lines [first, last] (1-based, inclusive) of `content`, the file
/// `path` as of `commit`; with `worktree`, `content` is the working-tree
/// file and `commit` (HEAD, null when unborn) its parent, as git blames a
/// working-tree file through a fake commit on top of HEAD. Polls
/// cancellation between commits.
Result<BlameResult> blame_lines(const Repo& r, git_commit* commit, bool worktree, const std::string& path,
                                const std::string& content, std::size_t first, std::size_t last);

}  // namespace icotes::git::detail
