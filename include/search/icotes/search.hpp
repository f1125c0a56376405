// The search service: ripgrep-compatible grep and glob over the workspace.
//
// Walker → matcher → searcher → sink, as ripgrep is built: the
// walker lists files in parallel under the ignore rules of ignore.hpp; the
// matcher is RE2 (Rust-regex-like syntax, the default) or PCRE2 (`pcre2`),
// behind a memchr/memmem literal prefilter; the searcher reads each file
// whole and splits lines only around matches; results go to a Sink. Line
// numbers are 1-based; columns and submatch offsets are bytes (0-based
// offsets within the line; `column` is 1-based like `rg --column`).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/result.hpp"

namespace icotes {
class CancellationToken;
class Documents;
}  // namespace icotes

namespace icotes::search {

enum class CaseMode { Sensitive, Insensitive, Smart };
enum class OutputMode { Content, FilesWithMatches, Count };

struct WalkOptions {
  std::string path;  // where to search, relative to the root ("" = root)
  bool hidden = false;
  bool no_ignore = false;
  /// Follow symbolic links (rg -L), but only to targets beneath the root:
  /// each link is resolved from the root with openat2(RESOLVE_BENEATH) and
  /// what it leads to is judged by its descriptor, so a link that leads
  /// out (to /etc, to /) or whose target is swapped during the walk is
  /// never entered; such links are counted in WalkReport. Directory loops
  /// (a link to an ancestor) are skipped.
  bool follow_symlinks = false;
  /// Files the client may not read (a Read deny rule), judged on the path
  /// where each file really is (a followed link's target, not the link's
  /// name): left out and counted in WalkReport. Null: nothing is denied,
  /// and the walk costs nothing more.
  ReadFilter read_denied;
  std::vector<std::string> include;  // -g globs; "!x" excludes
  std::vector<std::string> exclude;  // globs to exclude (as -g '!x')
  std::vector<std::string> types;    // -t names
};

struct GrepParams {
  std::string pattern;
  WalkOptions walk;
  bool fixed_strings = false;
  CaseMode case_mode = CaseMode::Sensitive;
  bool word = false;
  bool multiline = false;
  bool pcre2 = false;
  int before = 0;
  int after = 0;
  std::optional<std::uint64_t> max_count;  // matching lines per file
  OutputMode output = OutputMode::Content;
};

struct Submatch {
  std::uint32_t start = 0;  // byte offset in `text`
  std::uint32_t end = 0;
};

struct Line {
  std::uint64_t number = 0;  // 1-based
  std::string text;          // without the line terminator
  bool context = false;      // a context line, not a match
  std::vector<Submatch> submatches;
};

struct FileResult {
  std::string path;  // relative to the root
  std::vector<Line> lines;
  std::uint64_t matched_lines = 0;
  std::uint64_t matches = 0;
};

/// Receives results as files finish; called from several threads, serialised by the caller.
using FileSink = std::function<void(FileResult&&)>;

/// What a walk left out for the client's safety; results say so in a note.
struct WalkReport {
  std::uint64_t read_denied = 0;    // files a Read deny rule covers (never named)
  std::uint64_t links_outside = 0;  // followed links that lead outside the workspace
  /// The first of those links (workspace-relative names, sorted), at most
  /// kLinkNames; a link whose own name is Read-denied is counted, not named.
  std::vector<std::string> link_names;
  static constexpr std::size_t kLinkNames = 10;
  /// Files and directories that could not be opened or read (permission
  /// denied, I/O errors, gone meanwhile), which ripgrep reports on stderr
  /// and skips: counted, and the first kUnreadableNames in path order named
  /// as "path: reason" (a directory's path ends with '/'; one a Read deny
  /// rule covers is counted, not named).
  std::uint64_t unreadable = 0;
  std::vector<std::string> unreadable_names;
  static constexpr std::size_t kUnreadableNames = 5;
};

struct GrepStats {
  std::uint64_t files_searched = 0;
  std::uint64_t files_matched = 0;
  std::uint64_t bytes_searched = 0;
  bool cancelled = false;
  WalkReport report;
};

/// Runs a search. Errors: kInvalidParams for a pattern that does not
/// compile (with the engine's message), unknown types, bad globs; path
/// errors as ConfinedRoot. `sink` may run on worker threads, one call at a time.
Result<GrepStats> grep(const ConfinedRoot& root, const GrepParams& params, const FileSink& sink,
                       const CancellationToken* cancel, const Documents* documents = nullptr);

/// Paths with up to two numbers each, packed: each directory's path is kept
/// once and each entry holds its directory's number and its own name, in
/// large blocks. 78,000 paths of the Linux tree cost 1.7 MB instead of
/// 8 MB as a std::string (and a vector slot grown by doubling) each. Add in
/// any order, then sort, then read by index.
class PathList {
 public:
  /// Compares two paths, or two components of paths (no '/'); negative,
  /// 0 or positive.
  using Compare = int (*)(std::string_view, std::string_view);

  /// `values`: how many numbers each entry keeps (0, 1 or 2).
  explicit PathList(unsigned values = 0);
  PathList(PathList&&) noexcept;
  PathList& operator=(PathList&&) noexcept;
  ~PathList();

  void add(std::string_view path, std::uint64_t v0 = 0, std::uint64_t v1 = 0);
  std::size_t size() const { return count_; }

  /// Orders the entries by path, component by component, with `compare`
  /// ordering components (and whole paths) as files::compare_paths does.
  void sort_by_path(Compare compare);
  /// Orders the entries by value `k`, largest first, then by path.
  void sort_by_value_desc(unsigned k, Compare compare);

  /// Entry i of the order sorted into (sort first); `scratch` may hold the text.
  std::string_view path(std::size_t i, std::string& scratch) const;
  std::uint64_t value(std::size_t i, unsigned k) const;

 private:
  struct Arena {
    struct Block {
      std::unique_ptr<char[]> data;
      std::size_t used = 0;
      std::size_t size = 0;
    };
    std::vector<Block> blocks;
    char* room(std::size_t bytes);
  };
  struct Entry;  // a view of one packed entry
  Entry entry(const char* e) const;
  std::uint32_t dir_id(std::string_view dir);
  void seal(Compare compare);
  int compare_entries(const char* a, const char* b, Compare compare) const;

  unsigned values_ = 0;
  Arena entries_;  // per entry: dir id (4 bytes), name length (4), values (8 each), name
  Arena dir_text_;
  std::vector<std::string_view> dirs_;   // by id; "" is the root
  std::vector<std::uint32_t> dir_rank_;  // by id: place in path order
  struct DirIndex;
  std::unique_ptr<DirIndex> dir_index_;  // path → id, while adding
  std::uint32_t last_dir_ = 0;
  std::size_t count_ = 0;
  std::vector<const char*> index_;  // entries, once sorted
};

struct GlobParams {
  std::string pattern;
  WalkOptions walk;
  bool sort_by_mtime = false;  // else by path
};

/// The matching files, unsorted; with sort_by_mtime each entry's value 0 is
/// its modification time in milliseconds since the epoch. `report`, when
/// given, receives what was left out.
Result<PathList> glob(const ConfinedRoot& root, const GlobParams& params, const CancellationToken* cancel,
                      WalkReport* report = nullptr);

/// Walks files beneath `root`/`options.path` in parallel, honouring the ignore
/// rules, calling `on_file(rel_path)` from worker threads. Returns an error
/// for a missing start path or a bad glob/type.
Status walk_files(const ConfinedRoot& root, const WalkOptions& options,
                  const std::function<void(const std::string&)>& on_file, const CancellationToken* cancel);

/// ripgrep 13's file type table (`rg --type-list`): globs of a type name, or nullptr.
const std::vector<std::string>* type_globs(std::string_view name);

}  // namespace icotes::search
