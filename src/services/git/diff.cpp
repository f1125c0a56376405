// git/diff: `git diff` (index -> working tree), `git diff --cached`
// (HEAD -> index), `git diff <from> [<to>]`, as patch, --stat or
// --name-only text equal to git's (git-diff(1)), paged by files.
#include <sys/stat.h>

#include <algorithm>
#include <string_view>
#include <unordered_set>

#include "diff_engine.hpp"
#include "worktree_scan.hpp"

namespace icotes::git {
namespace {

using detail::DiffFormat;

Result<TreePtr> commit_tree(const Repo& r, const std::string& rev) {
  auto commit = detail::lookup_commit(r, rev);
  if (!commit) return std::move(commit).error();
  git_tree* tree = nullptr;
  if (int rc = git_commit_tree(&tree, commit->get()); rc != 0) return libgit2_error(rc, "read the tree of " + rev);
  return TreePtr(tree);
}

// git compares an unmerged path with ours (stage 2) in `git diff`
// (diff-lib.c run_diff_files, diff_unmerged_stage) and with the working
// file in `git diff <rev>` (with `tree`; the index plays no part there).
// The diff of those paths, to list among the main diff's deltas
// (RenderOptions::extra); null when there is nothing to compare.
Result<DiffPtr> unmerged_side_diff(const Repo& r, const std::vector<detail::Unmerged>& unmerged, git_tree* tree,
                                   git_diff_options o) {
  std::vector<const char*> specs;
  git_index* idx_raw = nullptr;
  if (int rc = git_index_new(&idx_raw); rc != 0) return libgit2_error(rc, "make an index");
  IndexPtr idx(idx_raw);
  for (const auto& u : unmerged) {
    if (!tree && !u.has_ours) continue;
    specs.push_back(u.path.c_str());
    if (tree) continue;
    git_index_entry e{};
    e.path = u.path.c_str();
    e.mode = u.ours_mode;
    e.id = u.ours;
    if (int rc = git_index_add(idx_raw, &e); rc != 0) return libgit2_error(rc, "diff unmerged " + u.path);
  }
  if (specs.empty()) return DiffPtr();
  o.pathspec.strings = const_cast<char**>(specs.data());
  o.pathspec.count = specs.size();
  o.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  git_diff* raw = nullptr;
  int rc = 0;
  if (tree) {
    o.flags |= GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS | GIT_DIFF_SHOW_UNTRACKED_CONTENT;
    rc = git_diff_tree_to_workdir(&raw, r.repo, tree, &o);
  } else {
    rc = git_diff_index_to_workdir(&raw, r.repo, idx_raw, &o);
  }
  if (rc != 0) return libgit2_error(rc, "diff unmerged paths");
  return DiffPtr(raw);
}

// libgit2's tree -> working tree diff can lose the added half of a type
// change (file <-> symlink) when an empty directory is among the paths
// (index -> working tree part); git shows it. The tracked paths listed as
// deleted whose working file exists: they are diffed on their own.
Result<std::vector<std::string>> lone_deletions(const Repo& r, git_diff* diff) {
  std::vector<std::string> out;
  std::unordered_set<std::string_view> added;
  const std::size_t n = git_diff_num_deltas(diff);
  for (std::size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->status == GIT_DELTA_ADDED) added.insert(d->new_file.path);
  }
  git_index* idx = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const git_diff_delta* d = git_diff_get_delta(diff, i);
    if (d->status != GIT_DELTA_DELETED || added.count(d->old_file.path)) continue;
    struct stat st;
    const std::string abs = std::string(git_repository_workdir(r.repo)) + d->old_file.path;
    if (::lstat(abs.c_str(), &st) != 0) continue;
    if (!idx) {
      if (int rc = git_repository_index(&idx, r.repo); rc != 0) return libgit2_error(rc, "read the index");
    }
    if (git_index_get_bypath(idx, d->old_file.path, 0)) out.emplace_back(d->old_file.path);
  }
  git_index_free(idx);
  return out;
}

// Leaves unmerged paths out of `candidates` (they are diffed separately).
void drop_unmerged(std::vector<std::string>& candidates, const std::vector<detail::Unmerged>& unmerged) {
  if (unmerged.empty()) return;
  std::unordered_set<std::string_view> skip;
  for (const auto& u : unmerged) skip.insert(u.path);
  std::erase_if(candidates, [&](const std::string& c) { return skip.count(c) > 0; });
}

}  // namespace

// `git diff` in its forms (worktree, --cached, a rev, two revs; --stat,
// --name-only, paths): which trees are compared and how the result is paged
// follow git's choices case by case, and its text is compared byte for byte
// with git's (git.differential); kept in that order rather than restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> diff(Repo& r, const DiffParams& params) {
  auto paths = r.paths(params.paths);
  if (!paths) return std::move(paths).error();
  std::vector<const char*> specs;
  for (const auto& p : *paths) specs.push_back(p.empty() ? "." : p.c_str());

  git_diff_options o = GIT_DIFF_OPTIONS_INIT;
  o.context_lines = params.context_lines;
  o.interhunk_lines = 0;
  o.id_abbrev = GIT_OID_HEXSZ;  // abbreviated afterwards, as git does (diff_patch.cpp)
  o.flags |= detail::config_diff_flags(r.repo);
  o.pathspec.strings = const_cast<char**>(specs.data());
  o.pathspec.count = specs.size();

  // libgit2 is handed the files that may differ, named exactly
  // (worktree_scan.hpp): those whose stat data changed in the working tree,
  // those whose entries differ between trees.
  std::vector<std::string> candidates;
  std::vector<const char*> candidate_ptrs;
  auto restrict_to = [&](const std::vector<std::string>& list) {
    candidate_ptrs.clear();
    for (const auto& c : list) candidate_ptrs.push_back(c.c_str());
    o.pathspec.strings = const_cast<char**>(candidate_ptrs.data());
    o.pathspec.count = candidate_ptrs.size();
    o.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
  };
  auto unmerged = detail::unmerged_paths(r.repo, *paths);
  if (!unmerged) return std::move(unmerged).error();
  auto empty_page = [] { return json{{"text", ""}, {"files", json::array()}, {"total", 0}, {"truncated", false}}; };
  git_diff* raw = nullptr;
  DiffPtr extra;  // unmerged paths, diffed as git does (unmerged_side_diff)
  detail::RenderOptions ro;
  int rc = 0;
  std::string what;
  const bool staged = params.staged;
  const auto& revisions = params.revisions;
  if (staged) {
    auto head = detail::head_tree(r);
    if (!head) return std::move(head).error();
    what = "HEAD -> index";
    rc = git_diff_tree_to_index(&raw, r.repo, head->get(), nullptr, &o);
    ro.unmerged = &*unmerged;
  } else if (revisions) {
    auto from = commit_tree(r, revisions->from);
    if (!from) return std::move(from).error();
    if (revisions->to) {
      auto to = commit_tree(r, *revisions->to);
      if (!to) return std::move(to).error();
      what = "trees";
      auto changed = detail::changed_paths(r.repo, from->get(), to->get(), *paths);
      if (!changed) return std::move(changed).error();
      candidates = std::move(*changed);
      if (candidates.empty()) return empty_page();
      restrict_to(candidates);
      rc = git_diff_tree_to_tree(&raw, r.repo, from->get(), to->get(), &o);
    } else {
      what = "tree -> working tree";
      // Candidates: what the index changed against the tree, and what the
      // working tree may have changed against the index.
      git_diff* staged_raw = nullptr;
      if (int src = git_diff_tree_to_index(&staged_raw, r.repo, from->get(), nullptr, &o); src != 0)
        return libgit2_error(src, "diff tree -> index");
      DiffPtr staged_diff(staged_raw);
      auto dirty = detail::stat_dirty_paths(r, *paths);
      if (!dirty) return std::move(dirty).error();
      candidates = std::move(*dirty);
      for (std::size_t i = 0, n = git_diff_num_deltas(staged_raw); i < n; ++i) {
        const git_diff_delta* delta = git_diff_get_delta(staged_raw, i);
        candidates.emplace_back(delta->old_file.path);
        candidates.emplace_back(delta->new_file.path);
      }
      std::sort(candidates.begin(), candidates.end());
      candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
      drop_unmerged(candidates, *unmerged);
      // Paths compared with the working file alone: unmerged ones, and
      // type changes libgit2 lost the new half of (lone_deletions).
      std::vector<detail::Unmerged> by_file = *unmerged;
      for (int pass = 0; pass < 2; ++pass) {
        restrict_to(candidates);
        rc = candidates.empty() ? git_diff_tree_to_tree(&raw, r.repo, nullptr, nullptr, &o)
                                : git_diff_tree_to_workdir_with_index(&raw, r.repo, from->get(), &o);
        if (rc != 0 || pass == 1) break;
        auto lone = lone_deletions(r, raw);
        if (!lone) {
          git_diff_free(raw);
          return std::move(lone).error();
        }
        if (lone->empty()) break;
        git_diff_free(raw);
        raw = nullptr;
        std::unordered_set<std::string> drop(lone->begin(), lone->end());
        std::erase_if(candidates, [&](const std::string& c) { return drop.count(c) > 0; });
        for (auto& l : *lone) by_file.push_back({std::move(l)});
      }
      auto side = unmerged_side_diff(r, by_file, from->get(), o);
      if (!side) {
        git_diff_free(raw);
        return std::move(side).error();
      }
      extra = std::move(*side);
    }
  } else {
    what = "index -> working tree";
    auto dirty = detail::stat_dirty_paths(r, *paths);
    if (!dirty) return std::move(dirty).error();
    candidates = std::move(*dirty);
    drop_unmerged(candidates, *unmerged);
    auto side = unmerged_side_diff(r, *unmerged, nullptr, o);
    if (!side) return std::move(side).error();
    extra = std::move(*side);
    if (candidates.empty() && unmerged->empty()) return empty_page();
    restrict_to(candidates);
    rc = candidates.empty() ? git_diff_tree_to_tree(&raw, r.repo, nullptr, nullptr, &o)
                            : git_diff_index_to_workdir(&raw, r.repo, nullptr, &o);
    ro.unmerged = &*unmerged;
  }
  if (rc != 0) return libgit2_error(rc, "diff " + what);
  DiffPtr d(raw);
  ro.extra = extra.get();

  const detail::RenameDefault def = detail::rename_default(r.repo);
  const bool renames = params.find_renames.value_or(def.renames || def.copies);
  if (renames) {
    if (auto st = detail::find_renames(r.repo, d.get(), def.copies); !st) return std::move(st).error();
  }

  auto cursor = detail::parse_diff_cursor(params.cursor);
  if (!cursor) return std::move(cursor).error();
  // git add -N entries: new files against the working tree, absent from
  // HEAD -> index.
  auto ita = detail::intent_to_add_paths(r.repo);
  if (!ita) return std::move(ita).error();
  if (!ita->empty()) {
    ro.intent_to_add = &*ita;
    ro.hide_intent_to_add = staged;
  }
  ro.new_side_workdir = !staged && !(revisions && revisions->to);
  ro.format = params.name_only ? DiffFormat::kNameOnly : params.stat ? DiffFormat::kStat : DiffFormat::kPatch;
  ro.offset = cursor->file;
  ro.offset_byte = cursor->byte;
  ro.limit = params.limit.value_or(500);
  ro.max_bytes = detail::text_budget(r, params.max_bytes, detail::kDefaultPageBytes);
  ro.next_call = [&params](const std::string& next) { return detail::continue_call("git_diff", params.given, next); };
  ro.abbrev = detail::default_abbrev(r.repo);
  auto page = detail::render_diff(r, d.get(), ro);
  if (!page) return std::move(page).error();
  json out = json::object();
  detail::page_to_json(std::move(*page), out);
  return out;
}

}  // namespace icotes::git
