// Rename detection scored the way git scores it. libgit2's default metric
// (hashsig) rates small edited files very differently from git: `c\n` →
// `c\nmore\n` is a 66% rename for libgit2 and a 28% one (no rename) for
// git. git status and git diff -M must agree with git, so find_similar gets
// git's own measure (diffcore-delta.c, estimate_similarity in
// diffcore-rename.c): both blobs are cut into spans ending at '\n' or after
// 64 bytes (CR of CRLF ignored in text), and the score is the bytes of
// spans they share divided by the larger size.
#pragma once

#include <git2.h>

namespace icotes::git {

/// find_similar options for renames as git status / git diff -M finds them:
/// renames only, 50% threshold, rename limit 1000 (git's diff.renameLimit
/// default), git's similarity metric.
git_diff_find_options git_rename_options();

}  // namespace icotes::git
