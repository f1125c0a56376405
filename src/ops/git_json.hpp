// The git/* operations' params as JSON (schemas/git/*.json): from_json for
// each params struct of include/git/icotes/git_params.hpp. Results stay the
// JSON the git service builds (shaped as each schema's "output"). Absent
// members keep the struct's defaults, which are the schemas' defaults.
#pragma once

#include "bind.hpp"
#include "icotes/git_params.hpp"
#include "icotes/json.hpp"

namespace icotes::git {

namespace detail {
inline void read_paged(const json& j, PagedParams& p) {
  bind::member(j, "limit", p.limit);
  bind::member(j, "cursor", p.cursor);
  p.given = j.is_object() ? j : json::object();
}
}  // namespace detail

inline void from_json(const json& j, StatusParams& p) {
  detail::read_paged(j, p);
  bind::member(j, "path", p.path);
  bind::member(j, "untracked", p.untracked);
  bind::member(j, "ignored", p.ignored);
  bind::member(j, "findRenames", p.find_renames);
}

inline void from_json(const json& j, DiffParams::Revisions& r) {
  bind::required(j, "from", r.from);
  bind::member(j, "to", r.to);
}

inline void from_json(const json& j, DiffParams& p) {
  detail::read_paged(j, p);
  // "target": "worktree", "staged" or {from, to}.
  if (auto it = j.find("target"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      std::string target;
      bind::read(*it, "/target", target);
      p.staged = target == "staged";
    } else {
      bind::read(*it, "/target", p.revisions);
    }
  }
  bind::member(j, "paths", p.paths);
  bind::member(j, "contextLines", p.context_lines);
  bind::member(j, "stat", p.stat);
  bind::member(j, "nameOnly", p.name_only);
  bind::member(j, "findRenames", p.find_renames);
  bind::member(j, "maxBytes", p.max_bytes);
}

inline void from_json(const json& j, LogParams& p) {
  detail::read_paged(j, p);
  bind::member(j, "rev", p.rev);
  bind::member(j, "paths", p.paths);
  bind::member(j, "skip", p.skip);
  bind::member(j, "author", p.author);
  bind::member(j, "grep", p.grep);
  bind::member(j, "since", p.since);
  bind::member(j, "until", p.until);
  bind::member(j, "body", p.body);
}

inline void from_json(const json& j, ShowParams& p) {
  detail::read_paged(j, p);
  bind::member(j, "rev", p.rev);
  bind::member(j, "path", p.path);
  bind::member(j, "contextLines", p.context_lines);
  bind::member(j, "findRenames", p.find_renames);
  bind::member(j, "maxBytes", p.max_bytes);
}

inline void from_json(const json& j, BlameParams& p) {
  detail::read_paged(j, p);
  bind::required(j, "path", p.path);
  bind::member(j, "rev", p.rev);
  bind::member(j, "startLine", p.start_line);
  bind::member(j, "endLine", p.end_line);
}

inline void from_json(const json& j, BranchParams& p) {
  detail::read_paged(j, p);
  bind::required(j, "action", p.action);
  bind::member(j, "name", p.name);
  bind::member(j, "startPoint", p.start_point);
  bind::member(j, "force", p.force);
}

inline void from_json(const json& j, StageParams& p) { bind::required(j, "paths", p.paths); }

inline void from_json(const json& j, UnstageParams& p) { bind::required(j, "paths", p.paths); }

inline void from_json(const json& j, CommitParams::Author& a) {
  bind::required(j, "name", a.name);
  bind::required(j, "email", a.email);
}

inline void from_json(const json& j, CommitParams& p) {
  bind::member(j, "message", p.message);
  bind::member(j, "amend", p.amend);
  bind::member(j, "allowEmpty", p.allow_empty);
  bind::member(j, "author", p.author);
}

inline void from_json(const json& j, StashParams& p) {
  detail::read_paged(j, p);
  bind::required(j, "action", p.action);
  bind::member(j, "message", p.message);
  bind::member(j, "index", p.index);
  bind::member(j, "includeUntracked", p.include_untracked);
  bind::member(j, "keepIndex", p.keep_index);
  bind::member(j, "reinstateIndex", p.reinstate_index);
}

inline void from_json(const json& j, RestoreParams& p) {
  bind::required(j, "paths", p.paths);
  bind::member(j, "staged", p.staged);
  bind::member(j, "worktree", p.worktree);
  bind::member(j, "rev", p.rev);
}

inline void from_json(const json& j, ResetParams& p) {
  bind::member(j, "rev", p.rev);
  bind::member(j, "mode", p.mode);
}

inline void from_json(const json& j, CheckoutParams& p) {
  bind::required(j, "rev", p.rev);
  bind::member(j, "force", p.force);
}

inline void from_json(const json& j, TagParams& p) {
  detail::read_paged(j, p);
  bind::member(j, "action", p.action);
  bind::member(j, "name", p.name);
  bind::member(j, "rev", p.rev);
  bind::member(j, "message", p.message);
  bind::member(j, "force", p.force);
  bind::member(j, "pattern", p.pattern);
}

inline void from_json(const json& j, InitParams& p) { bind::member(j, "initialBranch", p.initial_branch); }

}  // namespace icotes::git
