// The files service: read, write, edit, patch, list, stat, move, mkdir and
// delete inside one workspace root.
//
// Every path goes through ConfinedRoot (openat2 RESOLVE_BENEATH). Writes are
// atomic: a temporary file in the same directory, fsync, rename(2) over the
// target, the target's mode kept; a failed request writes nothing. Every
// change is judged where it really lands (path_policy.hpp): the parent
// directory is opened beneath the root first, the landing path is derived
// from that descriptor (landing_path_in), judged (protected paths always,
// then Access::may_write), and the change goes through the same descriptor.
// Reads are judged likewise against Access::read_denied. Open
// editor buffers (Documents) are the truth for reads, and writes to them go
// to their editor as workspace/applyEdit. Line numbers are 1-based; sizes are
// bytes; times are milliseconds since the Unix epoch.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/documents.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/result.hpp"

namespace icotes {

class CancellationToken;

namespace files {

/// Defaults for read(): lines per call, and bytes of text per call: 31 KiB,
/// so that a page with its one-line header stays within the 32 KiB (about
/// 8k tokens) an MCP tool returns by default (client_profile.hpp).
inline constexpr std::int64_t kDefaultReadLines = 2000;
inline constexpr std::size_t kDefaultReadBytes = 31 * 1024;

/// The largest image read() returns as image data, in bytes: 3.75 MiB, whose
/// base64 form (what MCP carries) is 5 MiB, the most the Anthropic API takes
/// per image.
inline constexpr std::uint64_t kMaxImageBytes = 3840u * 1024u;

/// The image type of `bytes` by its magic bytes ("image/png", "image/jpeg",
/// "image/gif", "image/webp"), else "".
std::string_view image_type(std::string_view bytes);

/// What the asking client may read and change, judged by the service on the
/// paths it really opens (path_policy.hpp). The default (no client: unit
/// tests, internal callers) denies no read and refuses only the protected
/// paths (protected_path_reason()), which are refused whatever is given.
struct Access {
  /// Null: no Read deny (the check is skipped). Else a file it covers, by the
  /// name asked for or where that name leads, is not read; multi-file
  /// results leave it out.
  ReadFilter read_denied = nullptr;
  /// Null: only the protected paths are refused.
  WriteCheck may_write = nullptr;
};

struct ReadParams {
  std::string path;
  /// 1-based first line; negative counts from the end (-10: the last 10 lines).
  std::optional<std::int64_t> offset;
  std::optional<std::int64_t> limit;     // lines; default kDefaultReadLines
  std::optional<std::size_t> max_bytes;  // bytes of text; default kDefaultReadBytes
  /// Bytes the caller adds to each line it shows (line numbers), counted
  /// against max_bytes.
  std::size_t per_line_bytes = 0;
  /// An image file (image_type()) of at most kMaxImageBytes comes back as
  /// ReadResult::image.
  bool images = false;
};

struct ReadResult {
  std::string path;  // relative to the root
  std::string content;
  std::int64_t start_line = 0;  // first line returned (1-based), 0 when empty
  std::int64_t end_line = 0;    // last line returned
  std::int64_t total_lines = 0;
  bool truncated = false;  // more lines exist after end_line
  std::string sha256;      // of the bytes on disk, or of the open buffer
  std::string encoding;    // "utf-8", "utf-8-bom", "utf-16le", "utf-16be", "latin-1", "binary"
  bool binary = false;
  std::uint64_t size = 0;  // bytes on disk (or of the buffer)
  std::string mime_type;
  std::string source;  // "disk" or "editor"
  std::string note;    // how to get the rest, when truncated; else empty
  std::string image;   // the file's bytes when it is an image and images were asked for
};

/// Cuts `r` (a text page) to whole lines within `max_bytes` of content plus
/// `per_line_bytes` per line (a single longer line is cut at a UTF-8
/// boundary), updating end_line, truncated and note as read() sets them.
void cut_page(ReadResult& r, std::size_t max_bytes, std::size_t per_line_bytes = 0);

struct WriteParams {
  std::string path;
  std::string content;
  std::optional<std::string> expected_sha256;
  /// Adds `content` at the end of the file (created when missing) instead of
  /// replacing it; a UTF-16 or Latin-1 file gets it in its own encoding.
  bool append = false;
};

struct WriteResult {
  std::string path;
  std::uint64_t bytes = 0;  // of `content`
  std::string sha256;       // of the whole new content
  bool created = false;
  std::string via;  // "disk" or "editor"
  bool appended = false;
  std::uint64_t size = 0;  // bytes of the file after the write
};

struct Edit {
  std::string old_string;
  std::string new_string;
  bool replace_all = false;
};

struct EditParams {
  std::string path;
  std::vector<Edit> edits;
  std::optional<std::string> expected_sha256;
  bool dry_run = false;
};

struct EditResult {
  std::string path;
  std::string diff;    // unified diff, 3 lines of context
  std::string sha256;  // of the new content
  std::size_t replacements = 0;
  bool applied = false;  // false for dryRun
  std::string via;
};

struct PatchFileResult {
  std::string path;
  std::string action;  // "modified", "created", "deleted"
  std::string sha256;  // new content ("" when deleted)
  std::string diff;    // unified diff of the change ("" when deleted)
};

struct PatchResult {
  std::vector<PatchFileResult> files;
};

struct DirEntry {
  std::string path;  // relative to the listed directory
  std::string type;  // "file", "directory", "symlink", "other"
  std::uint64_t size = 0;
  std::int64_t mtime_ms = 0;
  /// A subdirectory below the listed one holding more than
  /// kMaxExpandedEntries: how many, none of them listed (as tree(1)
  /// --filelimit does); 0 otherwise.
  std::uint64_t not_listed = 0;
  bool operator==(const DirEntry&) const = default;
};

/// Entries list() walks in one go (and ListingCache keeps), from the start
/// or after a cursor, in path order (compare_paths).
struct ListResult {
  std::string path;
  std::vector<DirEntry> entries;
  /// The walk stopped at kMaxListEntries: more entries follow.
  bool truncated = false;
  /// Entries ignore files left out (a directory counts once, not what it
  /// holds), and the first kIgnoredNames of them ("name/" for a directory).
  std::size_t ignored = 0;
  std::vector<std::string> ignored_names;
  /// Entries a Read deny covers, left out (a count, never their names).
  std::size_t denied = 0;
  /// Says how many entries were left out and why; else empty.
  std::string note;
};

/// A subdirectory with more entries than this is listed without them when
/// depth > 1 (DirEntry::not_listed): a folder of 12,000 files would fill
/// the pages of a listing meant to show a tree's shape.
inline constexpr std::size_t kMaxExpandedEntries = 200;

/// Names of ignored entries a listing keeps, to name them in its note.
inline constexpr std::size_t kIgnoredNames = 5;

/// Defaults of a list_directory page: entries, and bytes of text.
inline constexpr std::size_t kDefaultListEntries = 1000;
inline constexpr std::size_t kDefaultListTextBytes = 32 * 1024;

struct ListParams {
  std::string path;
  int depth = 1;                            // 1: only the directory's own entries; at most 64
  std::size_t limit = kDefaultListEntries;  // entries per page, at most kMaxListEntries
  /// next_cursor of the previous page ("" for the first): the entry's path.
  std::string cursor;
  /// Lists what ignore files leave out (ignore.hpp: .gitignore inside a git
  /// repository, .ignore, .rgignore, .git/info/exclude, core.excludesFile).
  bool include_ignored = false;
  /// Bytes of `text` a page may fill; 0: no limit. At least one entry is
  /// always shown.
  std::size_t max_text_bytes = 0;
  bool use_cache = true;
};

/// One page of a listing, rendered: as the JSON array of the output schema
/// (objects {path, type, size, mtime}) and as text for people and models (a
/// header line, then one entry per line: "name/" for a directory, "name
/// (N bytes)" for a file, "name (symlink)"; the MCP text block).
struct ListPage {
  std::string path;
  std::vector<DirEntry> entries;
  /// More entries follow: pass next_cursor as the cursor.
  bool truncated = false;
  std::string next_cursor;
  std::size_t ignored = 0;
  std::vector<std::string> ignored_names;
  std::size_t denied = 0;
  std::string note;  // what was left out, and how to see it or continue
  std::string entries_json;
  std::string text;
};

/// A whole file as an MCP resource: text when it decodes, else raw bytes.
struct ResourceContent {
  std::string path;
  std::string mime_type;
  bool binary = false;
  std::string data;  // UTF-8 text, or the raw bytes when binary
};

/// Upper bound on the size of a file read as a resource, in bytes.
inline constexpr std::uint64_t kMaxResourceBytes = 32u * 1024u * 1024u;

struct StatResult {
  std::string path;
  std::string type;
  std::uint64_t size = 0;
  std::string mode;  // octal permission bits, "0644"
  std::int64_t mtime_ms = 0;
  std::int64_t ctime_ms = 0;
  std::int64_t atime_ms = 0;
  std::string symlink_target;  // when type == "symlink"
  bool open_in_editor = false;
};

/// Upper bound on entries one walk of list() gathers (and one page shows).
inline constexpr std::size_t kMaxListEntries = 10000;

/// SHA-256 of files by stat identity (device, inode, size, mtime, ctime),
/// so re-reading an unchanged file does not hash it again. Files changed in
/// the last 2 s are always hashed (git's "racy clean" rule). Thread-safe.
class Sha256Cache {
 public:
  std::string get(const struct stat& st, std::string_view bytes);

 private:
  struct Key {
    std::uint64_t dev, ino;
    std::int64_t size, mtime_s, mtime_ns, ctime_s, ctime_ns;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  static constexpr std::size_t kMaxEntries = 8192;
  std::mutex mutex_;
  std::unordered_map<Key, std::string, KeyHash> map_;
};

/// Directory listings kept valid by inotify(7), so listing an unchanged
/// directory costs one open and one fstat instead of a readdir and a stat
/// per entry (list_directory of 133 entries: ~200 us uncached here).
///
/// A listing watches every directory whose entries or metadata it shows:
/// the listed directory, each directory it descends into, each
/// subdirectory it lists as an entry (its mtime). The watches are added
/// before the directory is read, so a change made while it is read is seen.
/// Any event on a watched directory (IN_CREATE, IN_DELETE, IN_MOVED_FROM/TO,
/// IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_DELETE_SELF, IN_MOVE_SELF,
/// IN_UNMOUNT, IN_IGNORED) drops the listings that use it; IN_Q_OVERFLOW
/// drops all. Pending events are read before every lookup, and the kernel
/// queues an event before the syscall that caused it returns, so a listing
/// requested after a change (by icotes, the editor or any process) never
/// shows the state before it.
///
/// Not cached, because inotify does not see changes made elsewhere: file
/// systems whose changes may come from other machines (NFS, SMB/CIFS, FUSE,
/// 9p, Ceph, AFS). inotify also misses writes through a shared mmap and
/// changes through a hard link in another directory; such an entry's size
/// and mtime stay as they were until the directory changes otherwise.
/// Disabled when inotify is unavailable or ICOTES_LIST_CACHE=0. Thread-safe.
class ListingCache {
 public:
  ListingCache();
  ~ListingCache();
  ListingCache(const ListingCache&) = delete;
  ListingCache& operator=(const ListingCache&) = delete;

  bool enabled() const { return inotify_fd_ >= 0; }
  /// The listing cached for `rel` at `depth` (with or without ignored
  /// entries) when it is still valid and was made of the directory (dev, ino).
  std::shared_ptr<const ListResult> find(const std::string& rel, int depth, bool include_ignored, dev_t dev, ino_t ino);

  /// A listing being built: watches taken before reading, and the event
  /// sequence number at the start (events after it on those watches mean
  /// the listing may be stale and is not stored).
  struct Build {
    std::vector<int> wds;
    std::uint64_t started = 0;
    bool cacheable = true;
  };
  /// Starts a build of a listing of the directory open as `dir_fd`
  /// (cacheable only on a file system with local change events).
  Build begin(int dir_fd);
  /// Watches the directory open as `fd` (any open mode, O_PATH included)
  /// for `build`; when watching fails the listing is not cached.
  void watch(Build& build, int fd);
  /// Keeps `listing` unless an event came on its watches since begin().
  void store(const std::string& rel, int depth, bool include_ignored, dev_t dev, ino_t ino, Build build,
             std::shared_ptr<const ListResult> listing);

  /// Gives up a build (an error or a cancellation while reading).
  void abandon(Build build);

  /// Listings currently cached (for tests).
  std::size_t size();

 private:
  struct Key {
    std::string rel;
    int depth;
    bool include_ignored;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Cached {
    dev_t dev;
    ino_t ino;
    std::vector<int> wds;
    std::shared_ptr<const ListResult> listing;
    std::uint64_t last_used;
  };
  struct Watch {
    std::uint64_t last_event = 0;  // sequence number of the last event
    std::vector<Key> users;        // listings that use this watch
  };
  static constexpr std::size_t kMaxListings = 256;
  void drain_locked();
  /// Removes the listing; returns its watches (not yet released).
  // By value: callers pass the key of the listing being erased.
  std::vector<int> unlink_locked(Key key);
  void drop_locked(Key key);
  void release_unused_locked(const std::vector<int>& wds);

  int inotify_fd_ = -1;
  std::mutex mutex_;
  std::uint64_t sequence_ = 0;  // events seen (and listings used)
  std::unordered_map<Key, Cached, KeyHash> listings_;
  std::unordered_map<int, Watch> watches_;
};

class Service {
 public:
  Service(const ConfinedRoot& root, Documents& documents) : root_(root), documents_(documents) {}

  // Errors common to every call: kOutsideWorkspace (confinement),
  // kPermissionDenied when the path, or where it leads, is protected, covered
  // by a Read deny (reads) or refused by `access.may_write` (changes).

  /// Reads the open buffer, else the file (an inside symlink is followed).
  Result<ReadResult> read(const ReadParams& p, const Access& access = {}) const;
  /// Replaces (or creates, or appends to) a file by rename(2): a symlink
  /// inside the workspace is followed and its target replaced, judged where
  /// that lands; a file with several hard links gets a new inode under this
  /// name only.
  Result<WriteResult> write(const WriteParams& p, const Access& access = {});
  /// Edits an open document through its editor (judged where the editor
  /// would save it; refused when that file has several hard links, since
  /// editors save in place), else the file as write() does. The diff shows
  /// content, so a Read deny applies too. In a file with CRLF line endings,
  /// oldString matches whatever its line endings, and the new text gets the
  /// file's endings. Errors: oldString not found (kNotFound; the message
  /// shows the most similar lines of the file and a diff against them),
  /// found more than once without replaceAll (kInvalidParams, naming the
  /// lines), not UTF-8.
  Result<EditResult> edit(const EditParams& p, const Access& access = {});
  /// Applies a unified diff (git or GNU diff -u style) to one or more files:
  /// every hunk must match (context checked, offsets tolerated) and every
  /// file may be changed, else nothing is written.
  Result<PatchResult> apply_patch(std::string_view patch, const Access& access = {});
  /// Entries of directory `path`, `depth` levels down, in path order, at
  /// most kMaxListEntries (then `truncated`). Served from the ListingCache
  /// when it is valid and `use_cache`; entries `access.read_denied` covers
  /// are left out (counted in `denied`, said in `note`), and unless
  /// `include_ignored` so are those ignore files cover. Errors: not a
  /// directory, confinement, cancelled.
  Result<std::shared_ptr<const ListResult>> list(const std::string& path, int depth,
                                                 const CancellationToken* cancel = nullptr, bool use_cache = true,
                                                 const Access& access = {}, bool include_ignored = true) const;
  /// One page of the listing `p` describes, rendered (entries_json, text),
  /// within p.limit entries and p.max_text_bytes of text. Errors as list().
  Result<ListPage> list_page(const ListParams& p, const CancellationToken* cancel = nullptr,
                             const Access& access = {}) const;
  Result<StatResult> stat(const std::string& path, const Access& access = {}) const;
  /// The whole file, for MCP resources/read. Errors: too large
  /// (kMaxResourceBytes), not a regular file, confinement.
  Result<ResourceContent> read_resource(const std::string& path, const Access& access = {}) const;
  /// Regular files beneath the root in depth-first name order (the order of
  /// comparing paths component by component), starting after `after` ("" for
  /// the first page), at most `limit`; `more` is set when files remain.
  /// .git directories are skipped; symlinks are not followed; files
  /// `access.read_denied` covers are left out, and so are files and
  /// directories ignore files cover (ignore.hpp, as list() does).
  Result<std::vector<std::string>> list_files(const std::string& after, std::size_t limit, bool& more,
                                              const CancellationToken* cancel = nullptr,
                                              const Access& access = {}) const;
  /// Renames `source` (the name itself: a symlink is moved, not followed)
  /// to `destination`, creating its parents. Both places are judged, and
  /// for a directory every path beneath it at both; a directory is never
  /// moved into or out of a .git directory.
  Status move(const std::string& source, const std::string& destination, bool overwrite, const Access& access = {});
  /// mkdir -p. Result: true when it created the directory.
  Result<bool> mkdir(const std::string& path, const Access& access = {});
  /// Deletes the name (a symlink, not its target). `recursive`: nothing
  /// beneath may be protected or refused, else nothing is deleted.
  Status remove(const std::string& path, bool recursive, const Access& access = {});

  const ConfinedRoot& root() const { return root_; }

 private:
  /// The bytes of `rel` as read_file shows them: the open buffer, else the
  /// file (read through one descriptor, judged where it leads).
  struct Loaded {
    std::string bytes;
    std::string sha256;
    bool editor = false;
  };
  Result<Loaded> load(const std::string& rel, const Access& access) const;
  /// The listing `p` describes from after `after` ("" from the start,
  /// served from the cache when it is valid), judged against a Read deny on
  /// the directory itself; `dir_landing` is where the directory really is
  /// (set when access.read_denied is).
  struct Window {
    std::shared_ptr<const ListResult> listing;
    std::string dir_landing;
  };
  Result<Window> open_listing(const ListParams& p, const std::string& after, const CancellationToken* cancel,
                              const Access& access) const;
  /// Walks the directory open as `fd` (at `rel`) into a listing, after
  /// `after`; watched for `build` when it is cacheable.
  Result<std::shared_ptr<ListResult>> walk_listing(int fd, const std::string& rel, int depth, bool include_ignored,
                                                   const std::string& after, ListingCache::Build& build,
                                                   const CancellationToken* cancel) const;
  /// Where a change to a path lands: its parent directory opened beneath
  /// the root, and the landing path that descriptor gives.
  struct Target {
    std::string path;     // what is opened: the path asked for, or an inside symlink's target
    std::string landing;  // workspace-relative path the change lands on
    Fd dir;               // the parent (O_PATH); invalid while parents are missing
    std::string name;     // the last component, in `dir`
    bool exists = false;  // `name` exists in `dir`
    struct stat st {};    // lstat of it, when it exists
  };
  /// Opens `rel`'s parent; `follow`: an inside symlink as the last component
  /// leads to its target (at most 40 hops). Judges nothing.
  Result<Target> locate(const std::string& rel, bool follow) const;
  /// Landing path of `rel` once its missing parents are made: the deepest
  /// existing ancestor's landing path plus the rest.
  Result<std::string> prospective_landing(const std::string& rel) const;
  /// Creates the missing directories of `rel` (all its components); each
  /// one made must land on the matching prefix of `landing` and not be
  /// protected. Result: whether one was made.
  Result<bool> make_dirs(const std::string& rel, const std::string& landing);
  /// Current text of `rel`: the open buffer, or the file's bytes, and where
  /// a change to it lands. `for_change`: judged as a change (access.may_write);
  /// `reveals`: the caller shows the content (judged by access.read_denied).
  struct Current {
    std::string bytes;
    bool exists = false;
    bool open = false;
    OpenDocument doc;
    mode_t mode = 0644;
    Target target;
  };
  Result<Current> current(const std::string& rel, const Access& access, bool for_change, bool reveals) const;
  /// Replaces `cur` with `content`: through the editor when open, else atomically on disk.
  Result<std::string> replace_content(const std::string& rel, Current& cur, const std::string& content,
                                      const Access& access);
  /// Writes `content` to `t` by a temporary file and rename(2) through
  /// `t.dir`, judged there. `create_only`: kConflict when the name exists
  /// (RENAME_NOREPLACE). Result: true when it created the file.
  Result<bool> write_atomic(Target& t, std::string_view content, std::optional<mode_t> mode, const Access& access,
                            bool create_only = false);

  const ConfinedRoot& root_;
  Documents& documents_;
  mutable Sha256Cache sha256_cache_;
  mutable ListingCache listing_cache_;
};

/// Lowercase hex SHA-256 (FIPS 180-4) of `data`.
std::string sha256_hex(std::string_view data);

/// Unified diff of `before` → `after` with `context` lines, headed
/// "--- a/<path>" / "+++ b/<path>"; "" when equal.
std::string unified_diff(std::string_view before, std::string_view after, const std::string& path, int context = 3);

/// The same with the header lines "--- <old_label>" / "+++ <new_label>"
/// (/dev/null as given), and the hunk line numbers counted from
/// `old_first_line` / `new_first_line` (an excerpt of a file).
struct DiffLabels {
  std::string old_label;
  std::string new_label;
  std::int64_t old_first_line = 1;
  std::int64_t new_first_line = 1;
};
std::string unified_diff(std::string_view before, std::string_view after, const DiffLabels& labels, int context = 3);

/// The `window` consecutive lines of `text` most like `needle` (both split
/// at '\n'): the window whose lines best match needle's by a line-wise
/// similarity (difflib's ratio, 2*matches/total, over characters), found
/// among the best candidates of a cheaper character-bigram score. Lines are
/// 1-based; similarity is 0..1; nullopt when text has no line.
struct ClosestMatch {
  std::int64_t first_line = 0;
  std::int64_t last_line = 0;
  double similarity = 0;
  std::string text;  // those lines of `text`, as they are
};
std::optional<ClosestMatch> closest_lines(std::string_view text, std::string_view needle);

/// A parsed unified diff.
struct PatchHunk {
  std::int64_t old_start = 0, old_count = 0, new_start = 0, new_count = 0;
  std::vector<std::string> lines;  // each starts with ' ', '-', '+' (or '\\')
};
struct FilePatch {
  std::string old_path;  // "" for /dev/null
  std::string new_path;  // "" for /dev/null
  std::vector<PatchHunk> hunks;
};
/// Parses `patch`. Errors (kInvalidParams) name the line that is wrong.
Result<std::vector<FilePatch>> parse_patch(std::string_view patch);
/// Applies `fp`'s hunks to `text`. Errors name the hunk that does not match.
Result<std::string> apply_hunks(std::string_view text, const FilePatch& fp, const std::string& path);

/// Orders '/'-separated paths component by component (negative, 0,
/// positive): the order in which a walk that sorts each directory's names
/// visits them ("a/b" before "a-c"). Used for listings and search results.
int compare_paths(std::string_view a, std::string_view b);

/// MIME type guessed from the file name.
std::string mime_type_for(std::string_view path, bool binary);

}  // namespace files
}  // namespace icotes
