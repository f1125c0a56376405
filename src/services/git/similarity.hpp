// git's similarity measure for rename and copy detection, the one place it
// is defined (git status, git diff -M/-C, git show and blame all use it).
// libgit2's default metric (hashsig) rates small edited files very
// differently from git: `c\n` -> `c\nmore\n` is a 66% rename for libgit2 and
// a 28% one (no rename) for git. This is git's own measure
// (diffcore-delta.c; estimate_similarity in diffcore-rename.c): both blobs
// are cut into spans ending at '\n' or after 64 bytes (the CR of a CRLF
// skipped in text), and the score is the bytes of spans they share divided
// by the larger size, in whole percent. As in git 2.39, a last line without
// a newline is not counted (git 2.42 counts it).
#pragma once

#include <git2.h>

namespace icotes::git::detail {

/// The metric for git_diff_find_options. `repo` is its payload: working-tree
/// files are read through the repository's clean filters (CRLF -> LF, ...)
/// so they compare with blobs in the form git stores. The metric must outlive
/// the find call that points to it.
git_diff_similarity_metric git_similarity_metric(git_repository* repo);

/// find_similar options as git finds renames (git status, git diff -M):
/// renames (and copies with `copies`, -C), 50% thresholds, rename limit 1000
/// (git's diff.renameLimit default), scored with `*metric`.
git_diff_find_options git_rename_options(const git_diff_similarity_metric* metric, bool copies = false);

}  // namespace icotes::git::detail
