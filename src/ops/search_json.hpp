// The search/* operations' params as JSON (schemas/search/*.json). Absent
// members keep the struct's defaults, which are the schemas' defaults.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "bind.hpp"
#include "icotes/json.hpp"
#include "icotes/search.hpp"

namespace icotes::search {

inline void from_json(const json& j, WalkOptions& w) {
  bind::member(j, "path", w.path);
  bind::member(j, "hidden", w.hidden);
  bind::member(j, "noIgnore", w.no_ignore);
  bind::member(j, "followSymlinks", w.follow_symlinks);
  bind::member(j, "include", w.include);
  bind::member(j, "exclude", w.exclude);
  bind::member(j, "type", w.types);
}

inline void from_json(const json& j, GrepParams& g) {
  bind::required(j, "pattern", g.pattern);
  from_json(j, g.walk);
  bind::member(j, "fixedStrings", g.fixed_strings);
  // As rg: case-sensitive unless -i (which wins) or -S.
  bool ignore_case = false, smart_case = false;
  bind::member(j, "ignoreCase", ignore_case);
  bind::member(j, "smartCase", smart_case);
  g.case_mode = ignore_case ? CaseMode::Insensitive : smart_case ? CaseMode::Smart : CaseMode::Sensitive;
  bind::member(j, "wordRegexp", g.word);
  bind::member(j, "multiline", g.multiline);
  bind::member(j, "pcre2", g.pcre2);
  // context (rg -C) is both sides' default; beforeContext/afterContext win.
  bind::member(j, "context", g.before);
  g.after = g.before;
  bind::member(j, "beforeContext", g.before);
  bind::member(j, "afterContext", g.after);
  bind::member(j, "maxCount", g.max_count);
  std::string mode = "content";
  bind::member(j, "outputMode", mode);
  g.output = mode == "count"              ? OutputMode::Count
             : mode == "filesWithMatches" ? OutputMode::FilesWithMatches
                                          : OutputMode::Content;
}

inline void from_json(const json& j, GlobParams& g) {
  bind::required(j, "pattern", g.pattern);
  from_json(j, g.walk);
  std::string sort = "path";
  bind::member(j, "sort", sort);
  g.sort_by_mtime = sort == "mtime";
}

/// Which page of a search's results a call asks for.
struct Paging {
  std::optional<std::string> cursor;  // nextCursor of the previous page; absent: the first
  std::optional<std::size_t> limit;   // items per page; absent: the operation's default
  json asked;                         // the params as sent: the next page's call repeats them
};

inline void from_json(const json& j, Paging& p) {
  bind::member(j, "cursor", p.cursor);
  bind::member(j, "limit", p.limit);
  p.asked = j;
}

/// search/grep.
struct GrepPageParams : GrepParams {
  Paging paging;
};

inline void from_json(const json& j, GrepPageParams& p) {
  from_json(j, static_cast<GrepParams&>(p));
  from_json(j, p.paging);
}

/// search/glob.
struct GlobPageParams : GlobParams {
  Paging paging;
};

inline void from_json(const json& j, GlobPageParams& p) {
  from_json(j, static_cast<GlobParams&>(p));
  from_json(j, p.paging);
}

}  // namespace icotes::search
