// Helpers the files service's sources share (read.cpp, write.cpp,
// listing.cpp, tree.cpp); not part of the service's interface.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "icotes/files.hpp"

namespace icotes::files::detail {

inline std::int64_t to_ms(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline std::string type_of(mode_t mode) {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symlink";
  return "other";
}

// Everything `fd` has left to read (`size_hint`: the expected size, bytes).
// Errors: errno_error("read", rel).
Result<std::string> read_fd(int fd, const std::string& rel, std::size_t size_hint);

// The parent of workspace-relative `rel` ("" for a top-level name).
std::string parent_of(std::string_view rel);

// `dir`/`name`, or `name` when `dir` is "" (the root).
std::string join(std::string_view dir, std::string_view name);

// A change landing on `landing`: the protected paths are refused whatever
// the client may do, then the client's own check decides.
Status judge_change(const std::string& landing, const Access& access);

// Reading `rel`, which leads to `landing`: refused when a Read deny covers
// either (`what`: the tool named in the error).
Status judge_read(std::string_view what, const std::string& rel, const std::string& landing, const Access& access);

// kConflict: `rel` was renamed, replaced or relinked while being written.
Error changed_meanwhile(const std::string& rel);

// `read_file {"path":...,"offset":N}` with the extra members given, for notes.
std::string read_call(const std::string& rel, std::int64_t offset, const std::string& extra = {});

// The names in the directory open as `fd` (a duplicate is read: `fd` stays
// open and keeps its position), with their readdir(3) d_type (DT_UNKNOWN
// on file systems that do not say), in readdir order, without "." and "..".
// Errors: errno_error(op, shown).
using DirNames = std::vector<std::pair<std::string, unsigned char>>;
Result<DirNames> read_directory(int fd, const char* op, const std::string& shown);

}  // namespace icotes::files::detail
