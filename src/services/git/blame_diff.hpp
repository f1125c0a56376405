// The line diff git blame passes blame through (blame.c diff_hunks()): the
// common tail trimmed as xdiff-interface.c trim_common_tail() does, then
// xdiff without context lines, run on libgit2's xdiff.
//
// libgit2 exports no xdiff entry point, and its buffer diffs
// (git_diff_buffers, git_diff_blob_to_buffer) hash each buffer into a blob
// id first, with collision-detecting SHA-1: over 40% of the time of
// blaming kernel/sched/core.c. Blob diffs take the ids they are given, so the
// buffers go to git_diff_blobs as blobs of a private in-memory repository
// whose only object store serves them, copied, under made-up ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "commit_format.hpp"

namespace icotes::git::detail {

/// A change as xdiff reports it: old lines [old_start, old_start +
/// old_count) became new lines [new_start, new_start + new_count), 0-based;
/// where a side has no lines, its start is the line the change comes before.
struct LineHunk {
  std::size_t old_start = 0;
  std::size_t old_count = 0;
  std::size_t new_start = 0;
  std::size_t new_count = 0;
};

class BlameDiff {
 public:
  /// `flags`: the git_diff_option_t algorithm flags git's configuration
  /// asks for (config_diff_flags). Errors when libgit2 cannot make the
  /// in-memory repository.
  static Result<BlameDiff> create(std::uint32_t flags);

  /// The hunks that turn `old_text` into `new_text`, in order, as blame
  /// sees them (the common tail trimmed first).
  Result<std::vector<LineHunk>> hunks(std::string_view old_text, std::string_view new_text);

 private:
  struct Backend;
  using RepositoryPtr = std::unique_ptr<git_repository, Freer<git_repository_free>>;

  // git_odb_backend.read for Backend.
  static int read(void** data, std::size_t* len, git_object_t* type, git_odb_backend* b, const git_oid* id);

  BlameDiff(RepositoryPtr repo, Backend* backend, std::uint32_t flags)
      : repo_(std::move(repo)), backend_(backend), flags_(flags) {}
  Result<BlobPtr> blob(std::string_view text);

  RepositoryPtr repo_;
  Backend* backend_;  // owned by the repository's object database
  std::uint32_t flags_;
  std::uint64_t next_id_ = 0;
};

/// xdiff-interface.c trim_common_tail(): drops the common end of `a` and
/// `b` in 1 KiB blocks, keeping the last line whole. It changes what xdiff
/// sees (how often each line occurs, where a change can slide to), so git's
/// hunks need it, not only its speed.
void trim_common_tail(std::string_view& a, std::string_view& b);

}  // namespace icotes::git::detail
