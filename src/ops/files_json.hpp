// The files/* operations' params and results as JSON (schemas/files/*.json):
// from_json for each params struct, to_json for each result the service
// returns. The service (include/icotes/files.hpp) knows no JSON; the params
// of operations whose service call takes plain arguments are declared here.
// Absent members keep the struct's defaults, which are the schemas' defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bind.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/files.hpp"
#include "icotes/json.hpp"

namespace icotes::files {

// --- params ----------------------------------------------------------------------------------

inline void from_json(const json& j, ReadParams& p) {
  bind::required(j, "path", p.path);
  bind::member(j, "offset", p.offset);
  bind::member(j, "limit", p.limit);
  bind::member(j, "maxBytes", p.max_bytes);
}

/// files/read: a ReadParams and how to show it.
struct ReadFileParams : ReadParams {
  bool line_numbers = false;  // "lineNumbers": number the lines as `cat -n` does
};

inline void from_json(const json& j, ReadFileParams& p) {
  from_json(j, static_cast<ReadParams&>(p));
  bind::member(j, "lineNumbers", p.line_numbers);
}

/// files/readMany.
struct ReadManyParams {
  std::vector<std::string> paths;
  std::optional<std::int64_t> limit;                // lines per file
  std::size_t max_bytes = kDefaultToolResultBytes;  // text of all the files together
};

inline void from_json(const json& j, ReadManyParams& p) {
  bind::required(j, "paths", p.paths);
  bind::member(j, "limit", p.limit);
  bind::member(j, "maxBytes", p.max_bytes);
}

inline void from_json(const json& j, WriteParams& p) {
  bind::required(j, "path", p.path);
  bind::required(j, "content", p.content);
  bind::member(j, "expectedSha256", p.expected_sha256);
  bind::member(j, "append", p.append);
}

inline void from_json(const json& j, Edit& e) {
  bind::required(j, "oldString", e.old_string);
  bind::required(j, "newString", e.new_string);
  bind::member(j, "replaceAll", e.replace_all);
}

inline void from_json(const json& j, EditParams& p) {
  bind::required(j, "path", p.path);
  bind::required(j, "edits", p.edits);
  bind::member(j, "expectedSha256", p.expected_sha256);
  bind::member(j, "dryRun", p.dry_run);
}

/// files/applyPatch.
struct PatchParams {
  std::string patch;  // a unified diff
};

inline void from_json(const json& j, PatchParams& p) { bind::required(j, "patch", p.patch); }

/// files/list: a ListParams and whether the caller chose the page size.
struct ListDirectoryParams : ListParams {
  bool limit_given = false;
};

inline void from_json(const json& j, ListDirectoryParams& p) {
  bind::required(j, "path", p.path);
  bind::member(j, "depth", p.depth);
  bind::member(j, "cursor", p.cursor);
  bind::member(j, "includeIgnored", p.include_ignored);
  std::optional<std::size_t> limit;
  bind::member(j, "limit", limit);
  if (limit) p.limit = *limit;
  p.limit_given = limit.has_value();
}

/// files/stat, files/mkdir.
struct PathParams {
  std::string path;
};

inline void from_json(const json& j, PathParams& p) { bind::required(j, "path", p.path); }

/// files/move.
struct MoveParams {
  std::string source;
  std::string destination;
  bool overwrite = false;
};

inline void from_json(const json& j, MoveParams& p) {
  bind::required(j, "source", p.source);
  bind::required(j, "destination", p.destination);
  bind::member(j, "overwrite", p.overwrite);
}

/// files/delete.
struct DeleteParams {
  std::string path;
  bool recursive = false;
};

inline void from_json(const json& j, DeleteParams& p) {
  bind::required(j, "path", p.path);
  bind::member(j, "recursive", p.recursive);
}

// --- results ---------------------------------------------------------------------------------

/// files/read's result; the content is moved, not copied (it can be
/// megabytes). `image_data`: the image's bytes in base64, or empty.
inline json to_json(ReadResult&& r, std::string image_data) {
  json j = {{"path", r.path},        {"content", std::move(r.content)}, {"startLine", r.start_line},
            {"endLine", r.end_line}, {"totalLines", r.total_lines},     {"truncated", r.truncated},
            {"sha256", r.sha256},    {"encoding", r.encoding},          {"binary", r.binary},
            {"size", r.size},        {"mimeType", r.mime_type},         {"source", r.source}};
  if (!r.note.empty()) j["note"] = r.note;
  if (!r.image.empty()) j["image"] = {{"mimeType", r.mime_type}, {"data", std::move(image_data)}};
  return j;
}

inline void to_json(json& j, const WriteResult& r) {
  j = {{"path", r.path}, {"bytes", r.bytes}, {"sha256", r.sha256}, {"created", r.created}, {"via", r.via}};
  if (r.appended) {
    j["appended"] = true;
    j["size"] = r.size;
  }
}

inline void to_json(json& j, const EditResult& r) {
  j = {{"path", r.path},
       {"diff", r.diff},
       {"sha256", r.sha256},
       {"replacements", r.replacements},
       {"applied", r.applied}};
  if (!r.via.empty()) j["via"] = r.via;
}

inline void to_json(json& j, const PatchFileResult& f) {
  j = {{"path", f.path}, {"action", f.action}, {"sha256", f.sha256}};
}

inline void to_json(json& j, const ListPage& r) {
  j = {{"path", r.path},
       {"entries", raw_json(r.entries_json)},
       {"truncated", r.truncated},
       {"listing", hidden_text(r.text)}};
  if (!r.next_cursor.empty()) j["nextCursor"] = r.next_cursor;
  if (r.ignored > 0) j["ignored"] = r.ignored;
  if (!r.note.empty()) j["note"] = r.note;
}

inline void to_json(json& j, const StatResult& r) {
  j = {{"path", r.path},      {"type", r.type},      {"size", r.size},      {"mode", r.mode},
       {"mtime", r.mtime_ms}, {"ctime", r.ctime_ms}, {"atime", r.atime_ms}, {"openInEditor", r.open_in_editor}};
  if (!r.symlink_target.empty()) j["symlinkTarget"] = r.symlink_target;
}

}  // namespace icotes::files
