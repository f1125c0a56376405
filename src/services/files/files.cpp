#include "icotes/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <functional>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "icotes/cancellation.hpp"
#include "icotes/fd_io.hpp"
#include "icotes/ignore.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/random_token.hpp"
#include "icotes/text.hpp"

namespace icotes::files {
namespace {

std::int64_t to_ms(const struct timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string type_of(mode_t mode) {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symlink";
  return "other";
}

Result<std::string> read_fd(int fd, const std::string& rel, std::size_t size_hint) {
  std::string out;
  out.resize(size_hint + 1);
  std::size_t have = 0;
  for (;;) {
    if (have == out.size()) out.resize(out.size() * 2 + 4096);
    const ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "read", rel);
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  out.resize(have);
  return out;
}

struct Decoded {
  std::string text;
  std::string encoding;
  bool binary = false;
};

// Encoding detection as editors and ripgrep do: BOMs first, then a NUL byte
// in the first 8 KiB means binary, then UTF-8 validity, else Latin-1.
Decoded decode(std::string bytes) {
  Decoded d;
  auto starts = [&](std::string_view bom) { return std::string_view(bytes).substr(0, bom.size()) == bom; };
  if (starts("\xEF\xBB\xBF")) {
    d.encoding = "utf-8-bom";
    d.text = bytes.substr(3);
    return d;
  }
  if (starts("\xFF\xFE") || starts("\xFE\xFF")) {
    const bool little = starts("\xFF\xFE");
    d.encoding = little ? "utf-16le" : "utf-16be";
    d.text = utf16_to_utf8(std::string_view(bytes).substr(2), little);
    return d;
  }
  if (std::memchr(bytes.data(), 0, std::min<std::size_t>(bytes.size(), 8192)) != nullptr) {
    d.binary = true;
    d.encoding = "binary";
    d.text = std::move(bytes);  // the raw bytes, for read_resource; read() shows none
    return d;
  }
  if (is_valid_utf8(bytes)) {
    d.encoding = "utf-8";
    d.text = std::move(bytes);
    return d;
  }
  d.encoding = "latin-1";
  d.text.reserve(bytes.size() + bytes.size() / 8);
  for (unsigned char c : bytes) append_utf8(d.text, c);
  return d;
}

std::int64_t count_lines(std::string_view text) {
  if (text.empty()) return 0;
  // Newlines counted 16 bytes at a time (std::count goes byte by byte at -O2).
  std::int64_t n = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    // Per-byte counters (a match is -1: subtract it), summed before they can overflow.
    __m128i counts = _mm_setzero_si128();
    for (int i = 0; i < 255 && end - p >= 16; ++i, p += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      counts = _mm_sub_epi8(counts, _mm_cmpeq_epi8(v, nl));
    }
    const __m128i sums = _mm_sad_epu8(counts, _mm_setzero_si128());
    n += _mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
  }
#endif
  n += static_cast<std::int64_t>(std::count(p, end, '\n'));
  return text.back() == '\n' ? n : n + 1;
}

// Byte offset where 1-based `line` starts (text.size() past the end).
std::size_t line_start(std::string_view text, std::int64_t line) {
  std::size_t off = 0;
  for (std::int64_t l = 1; l < line; ++l) {
    const std::size_t nl = text.find('\n', off);
    if (nl == std::string_view::npos) return text.size();
    off = nl + 1;
  }
  return off;
}

std::string random_suffix() { return random_hex(6); }

// 1-based line numbers of each occurrence of `needle` in `text`.
std::vector<std::int64_t> occurrence_lines(std::string_view text, std::string_view needle) {
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  std::int64_t line = 1;
  std::size_t counted = 0;
  while ((pos = text.find(needle, pos)) != std::string_view::npos) {
    line += std::count(text.begin() + static_cast<std::ptrdiff_t>(counted),
                       text.begin() + static_cast<std::ptrdiff_t>(pos), '\n');
    counted = pos;
    out.push_back(line);
    pos += needle.size();
  }
  return out;
}

std::string join_lines(const std::vector<std::int64_t>& lines) {
  std::string s;
  for (std::size_t i = 0; i < lines.size() && i < 20; ++i) {
    if (i) s += ", ";
    s += std::to_string(lines[i]);
  }
  if (lines.size() > 20) s += ", ...";
  return s;
}

Error conflict_sha(const std::string& rel, const std::string& expected, const std::string& actual) {
  return make_error(error_code::kConflict,
                    rel + " has changed: expectedSha256 " + expected + " but the current content has sha256 " + actual +
                        "; re-read the file and retry",
                    json{{"path", rel}, {"expectedSha256", expected}, {"actualSha256", actual}});
}

std::string parent_of(std::string_view rel) {
  const std::size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(rel.substr(0, slash));
}

std::string join(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  out += '/';
  out += name;
  return out;
}

// `prefix` is `path` or one of its ancestors ("" is every path's).
bool is_within(std::string_view path, std::string_view prefix) {
  return prefix.empty() || path == prefix ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 && path[prefix.size()] == '/');
}

bool inside_git_dir(std::string_view rel) {
  for (std::size_t pos = 0; pos <= rel.size();) {
    std::size_t slash = rel.find('/', pos);
    if (slash == std::string_view::npos) slash = rel.size();
    if (rel.substr(pos, slash - pos) == ".git") return true;
    pos = slash + 1;
  }
  return false;
}

std::string shown(std::string_view rel) { return rel.empty() ? std::string("the workspace root") : std::string(rel); }

// A change landing on `landing`: the protected paths are refused whatever
// the client may do, then the client's own check decides.
Status judge_change(const std::string& landing, const Access& access) {
  if (auto why = protected_path_reason(landing))
    return make_error(error_code::kPermissionDenied,
                      "permission denied: this change lands on " + shown(landing) + " (" + *why + ")",
                      json{{"path", landing}});
  if (access.may_write) return access.may_write(landing);
  return ok_status();
}

// Reading `rel`, which leads to `landing`: refused when a Read deny covers either.
Status judge_read(std::string_view what, const std::string& rel, const std::string& landing, const Access& access) {
  if (!access.read_denied) return ok_status();
  if (!access.read_denied(rel) && (landing == rel || !access.read_denied(landing))) return ok_status();
  return make_error(error_code::kPermissionDenied,
                    std::string(what) +
                        ": permission denied: " + (landing == rel ? shown(rel) : rel + " leads to " + shown(landing)) +
                        ", which a Read deny rule covers",
                    json{{"path", rel}});
}

// An error opening a parent of `rel`, told about `rel` (what the client named).
Error renamed(Error e, const std::string& rel) {
  if (auto err = e.data.find("errno"); err != e.data.end() && err->is_number_integer())
    return errno_error(err->get<int>(), "open", rel);
  return e;
}

Error changed_meanwhile(const std::string& rel) {
  return make_error(error_code::kConflict,
                    rel +
                        " changed (renamed, replaced or relinked) while it was being written; nothing was written "
                        "there, retry",
                    json{{"path", rel}});
}

// The temporary file beside `name` (a long name gets a short temporary one:
// NAME_MAX is 255 bytes).
std::string temporary_name(const std::string& name) {
  return (name.size() > 200 ? std::string(".icotes") : "." + name + ".icotes") + "-" + random_suffix() + ".tmp";
}

}  // namespace

Result<Service::Loaded> Service::load(const std::string& rel, const Access& access) const {
  Loaded l;
  if (auto doc = documents_.get(rel)) {
    // The buffer holds the text of the file its name leads to.
    if (access.read_denied) {
      std::string landing = rel;
      if (auto t = locate(rel, true)) landing = t->landing;
      if (auto st = judge_read("read_file", rel, landing, access); !st) return st.error();
    }
    l.editor = true;
    l.sha256 = sha256_hex(doc->text);
    l.bytes = std::move(doc->text);
    return l;
  }
  if (access.read_denied) {
    if (auto st = judge_read("read_file", rel, rel, access); !st) return st.error();
  }
  auto fd = root_.open_beneath(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);  // a FIFO must not block the open
  if (!fd) return std::move(fd).error();
  if (access.read_denied) {
    // Judged on what was opened: a symlink (or a rename racing the open)
    // cannot lead to a file the client may not read.
    auto landing = landing_path(root_, fd->get());
    if (!landing) return std::move(landing).error();
    if (auto st = judge_read("read_file", rel, *landing, access); !st) return st.error();
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return errno_error(errno, "stat", rel);
  if (S_ISDIR(st.st_mode))
    return make_error(error_code::kInvalidParams, "read_file: " + rel + " is a directory; use list_directory",
                      json{{"path", rel}});
  if (!S_ISREG(st.st_mode))
    return make_error(error_code::kInvalidParams, "read_file: " + rel + " is not a regular file", json{{"path", rel}});
  auto bytes = read_fd(fd->get(), rel, static_cast<std::size_t>(st.st_size));
  if (!bytes) return std::move(bytes).error();
  l.sha256 = sha256_cache_.get(st, *bytes);
  l.bytes = std::move(*bytes);
  return l;
}

namespace {

// `read_file {"path":...,"offset":N}` with the extra members given, for notes.
std::string read_call(const std::string& rel, std::int64_t offset, const std::string& extra = {}) {
  std::string call = "read_file {\"path\":";
  append_json_string(call, rel);
  call += ",\"offset\":" + std::to_string(offset) + extra + "}";
  return call;
}

// Where a page of `text` that starts at byte `begin` (line `start`) ends:
// whole lines within `max_bytes` (each line costing `per_line` more) and
// `limit` lines; a first line longer than that is cut at a UTF-8 boundary.
struct PageEnd {
  std::size_t end = 0;
  std::int64_t last = 0;  // last line shown
  bool cut_line = false;
};
PageEnd page_end(std::string_view text, std::size_t begin, std::int64_t start, std::int64_t lines_left,
                 std::int64_t limit, std::size_t max_bytes, std::size_t per_line) {
  PageEnd pe{begin, start - 1, false};
  auto fits = [&](std::size_t bytes, std::int64_t lines) {
    return bytes + per_line * static_cast<std::size_t>(lines) <= max_bytes;
  };
  if (lines_left <= limit && fits(text.size() - begin, lines_left)) {
    // The rest fits both budgets: what the loop below finds, without a search per line.
    pe.end = text.size();
    pe.last = start + lines_left - 1;
    return pe;
  }
  while (pe.last - start + 1 < limit && pe.end < text.size()) {
    const std::size_t nl = text.find('\n', pe.end);
    const std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!fits(next - begin, pe.last - start + 2)) {
      if (pe.last < start) {  // a single line longer than the byte budget: cut it
        const std::size_t room = max_bytes > per_line ? max_bytes - per_line : 1;
        pe.end = begin + std::min(room, text.size() - begin);
        while (pe.end > begin && (static_cast<unsigned char>(text[pe.end]) & 0xC0) == 0x80) --pe.end;
        pe.last = start;
        pe.cut_line = true;
      }
      break;
    }
    pe.end = next;
    ++pe.last;
  }
  return pe;
}

// The note of a page that does not reach the end: the exact call that
// continues (`extra`: the members the caller passed, e.g. its limit).
std::string page_note(const ReadResult& r, bool cut_line, std::size_t max_bytes, const std::string& extra) {
  if (cut_line)
    return "Line " + std::to_string(r.start_line) + " is longer than " + std::to_string(max_bytes) +
           " bytes and was cut; pass a larger maxBytes to read it whole" +
           (r.start_line < r.total_lines ? ", or continue after it: " + read_call(r.path, r.start_line + 1, extra)
                                         : std::string());
  return "Showing lines " + std::to_string(r.start_line) + "-" + std::to_string(r.end_line) + " of " +
         std::to_string(r.total_lines) + "; continue with " + read_call(r.path, r.end_line + 1, extra);
}

std::string_view image_name(std::string_view mime) {
  if (mime == "image/png") return "PNG";
  if (mime == "image/jpeg") return "JPEG";
  if (mime == "image/gif") return "GIF";
  return "WebP";
}

}  // namespace

std::string_view image_type(std::string_view b) {
  if (b.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
  if (b.starts_with("\xFF\xD8\xFF")) return "image/jpeg";
  if (b.starts_with("GIF87a") || b.starts_with("GIF89a")) return "image/gif";
  if (b.size() >= 12 && b.starts_with("RIFF") && b.substr(8, 4) == "WEBP") return "image/webp";
  return {};
}

void cut_page(ReadResult& r, std::size_t max_bytes, std::size_t per_line_bytes) {
  if (r.content.empty() || r.start_line == 0) return;
  max_bytes = std::max<std::size_t>(1, max_bytes);
  const std::int64_t lines = r.end_line - r.start_line + 1;
  const PageEnd pe = page_end(r.content, 0, r.start_line, lines, lines, max_bytes, per_line_bytes);
  if (pe.end >= r.content.size()) return;
  r.content.resize(pe.end);
  r.end_line = pe.last;
  r.truncated = true;
  r.note = page_note(r, pe.cut_line, max_bytes, std::string());
}

Result<ReadResult> Service::read(const ReadParams& p, const Access& access) const {
  auto rel = root_.relative(p.path);
  if (!rel) return std::move(rel).error();
  ReadResult r;
  r.path = *rel;
  auto loaded = load(*rel, access);
  if (!loaded) return std::move(loaded).error();
  r.source = loaded->editor ? "editor" : "disk";
  r.size = loaded->bytes.size();
  r.sha256 = std::move(loaded->sha256);
  if (const std::string_view mime = loaded->editor ? std::string_view() : image_type(loaded->bytes); !mime.empty()) {
    // Images by their magic bytes, whatever the name says.
    r.binary = true;
    r.encoding = "binary";
    r.mime_type = std::string(mime);
    const std::string what =
        *rel + " is a " + std::string(image_name(mime)) + " image (" + std::to_string(r.size) + " bytes)";
    if (!p.images) {
      r.note = what + "; its content is not shown here: read_file shows it as an image";
    } else if (r.size > kMaxImageBytes) {
      r.note = what + ", larger than the " + std::to_string(kMaxImageBytes) + "-byte limit for images; it is not shown";
    } else {
      r.note = what + ", shown as an image";
      r.image = std::move(loaded->bytes);
    }
    return r;
  }
  Decoded d;
  if (loaded->editor) {
    d.text = std::move(loaded->bytes);
    d.encoding = "utf-8";
  } else {
    d = decode(std::move(loaded->bytes));
  }
  r.encoding = d.encoding;
  r.binary = d.binary;
  r.mime_type = mime_type_for(*rel, d.binary);
  if (d.binary) {
    r.note = *rel + " is a binary file (" + std::to_string(r.size) + " bytes); its content is not shown";
    return r;
  }
  const std::string_view text = d.text;
  r.total_lines = count_lines(text);
  std::int64_t start = p.offset.value_or(1);
  if (start < 0) start = std::max<std::int64_t>(1, r.total_lines + start + 1);
  if (start == 0) start = 1;
  if (start > r.total_lines && r.total_lines > 0) {
    return make_error(error_code::kInvalidParams,
                      "read_file: offset " + std::to_string(start) + " is past the end of " + *rel + " (" +
                          std::to_string(r.total_lines) + " lines)",
                      json{{"path", *rel}, {"totalLines", r.total_lines}});
  }
  const std::int64_t limit = std::max<std::int64_t>(1, p.limit.value_or(kDefaultReadLines));
  const std::size_t max_bytes = std::max<std::size_t>(1, p.max_bytes.value_or(kDefaultReadBytes));
  if (r.total_lines == 0) return r;
  const std::size_t begin = start == 1 ? 0 : line_start(text, start);
  const PageEnd pe = page_end(text, begin, start, r.total_lines - start + 1, limit, max_bytes, p.per_line_bytes);
  r.start_line = start;
  r.end_line = pe.last;
  r.truncated = pe.last < r.total_lines || pe.cut_line;
  if (begin == 0 && pe.end == text.size()) {
    r.content = std::move(d.text);
  } else {
    r.content.assign(text.substr(begin, pe.end - begin));
  }
  if (r.truncated) {
    std::string extra;
    if (p.limit) extra += ",\"limit\":" + std::to_string(limit);
    if (p.max_bytes) extra += ",\"maxBytes\":" + std::to_string(max_bytes);
    r.note = page_note(r, pe.cut_line, max_bytes, extra);
  }
  return r;
}

std::string Sha256Cache::get(const struct stat& st, std::string_view bytes) {
  // Like git's racy-clean rule: a file modified within the last 2 s may
  // change again within the same timestamp, so it is hashed every time.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto mtime = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  if (now - mtime < std::chrono::seconds(2) || static_cast<std::size_t>(st.st_size) != bytes.size())
    return sha256_hex(bytes);
  const Key key{st.st_dev,          st.st_ino,         st.st_size,        st.st_mtim.tv_sec,
                st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
  {
    std::lock_guard lock(mutex_);
    if (auto it = map_.find(key); it != map_.end()) return it->second;
  }
  std::string sha = sha256_hex(bytes);
  std::lock_guard lock(mutex_);
  if (map_.size() >= kMaxEntries) map_.clear();
  map_.emplace(key, sha);
  return sha;
}

std::size_t Sha256Cache::KeyHash::operator()(const Key& k) const noexcept {
  std::size_t h = std::hash<std::uint64_t>()(k.ino);
  for (std::int64_t v : {static_cast<std::int64_t>(k.dev), static_cast<std::int64_t>(k.size), k.mtime_s, k.mtime_ns,
                         k.ctime_s, k.ctime_ns})
    h = h * 1000003u ^ std::hash<std::int64_t>()(v);
  return h;
}

Result<Service::Target> Service::locate(const std::string& rel, bool follow) const {
  std::string at = rel;
  for (int hops = 0;; ++hops) {
    Target t;
    t.path = at;
    auto parent = root_.open_parent(at);
    if (!parent) {
      if (parent.error().code != error_code::kNotFound) return renamed(std::move(parent).error(), at);
      // Parents to be made: they will be where the deepest existing one is.
      auto landing = prospective_landing(at);
      if (!landing) return std::move(landing).error();
      t.landing = std::move(*landing);
      t.name = at.substr(at.rfind('/') + 1);
      return t;
    }
    t.dir = std::move(parent->first);
    t.name = std::move(parent->second);
    auto landing = landing_path_in(root_, t.dir.get(), t.name);
    if (!landing) return std::move(landing).error();
    t.landing = std::move(*landing);
    if (::fstatat(t.dir.get(), t.name.c_str(), &t.st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return errno_error(errno, "stat", at);
      return t;
    }
    t.exists = true;
    if (!follow || !S_ISLNK(t.st.st_mode)) return t;
    // An inside symlink: the change goes to its target, judged where that is.
    if (hops >= 40) return errno_error(ELOOP, "open", rel);
    auto target = root_.open_beneath(t.landing, O_PATH);
    if (!target) return std::move(target).error();
    auto real = landing_path(root_, target->get());
    if (!real) return std::move(real).error();
    if (real->empty())
      return make_error(error_code::kConflict, rel + " leads to the workspace root", json{{"path", rel}});
    at = std::move(*real);
  }
}

Result<std::string> Service::prospective_landing(const std::string& rel) const {
  std::string existing = rel;
  std::string rest;
  while (!existing.empty()) {
    const std::size_t slash = existing.rfind('/');
    const std::string name = slash == std::string::npos ? existing : existing.substr(slash + 1);
    rest = rest.empty() ? name : name + "/" + rest;
    existing = slash == std::string::npos ? std::string() : existing.substr(0, slash);
    auto fd = root_.open_beneath(existing, O_PATH | O_DIRECTORY);
    if (!fd) {
      if (fd.error().code == error_code::kNotFound) continue;
      return std::move(fd).error();
    }
    auto landing = landing_path(root_, fd->get());
    if (!landing) return std::move(landing).error();
    return join(*landing, rest);
  }
  return rest;
}

Result<Service::Current> Service::current(const std::string& rel, const Access& access, bool for_change,
                                          bool reveals) const {
  Current c;
  if (auto doc = documents_.get(rel)) {
    c.exists = true;
    c.open = true;
    c.bytes = doc->text;
    c.doc = std::move(*doc);
    if (!for_change && !(reveals && access.read_denied)) return c;
    // The editor saves the buffer where its name leads: judged there. A
    // name that leads nowhere (a new file) is judged as named.
    auto t = locate(rel, true);
    if (t) {
      c.target = std::move(*t);
    } else if (for_change) {
      return std::move(t).error();
    } else {
      c.target.landing = rel;
    }
    if (reveals)
      if (auto st = judge_read("edit_file", rel, c.target.landing, access); !st) return st.error();
    if (!for_change) return c;
    if (auto st = judge_change(c.target.landing, access); !st) return st.error();
    // Editors save in place (VS Code does): a file with other names would
    // change under all of them, .icotes/config.toml's say.
    if (c.target.exists && S_ISREG(c.target.st.st_mode) && c.target.st.st_nlink > 1)
      return make_error(error_code::kPermissionDenied,
                        rel + " is open in an editor and has " + std::to_string(c.target.st.st_nlink) +
                            " hard links: saving it would change the file under every name; close it in the editor "
                            "to have it replaced on disk instead",
                        json{{"path", rel}});
    return c;
  }
  auto t = locate(rel, true);
  if (!t) {
    if (t.error().code == error_code::kNotFound && !for_change) return c;
    return std::move(t).error();
  }
  c.target = std::move(*t);
  if (reveals)
    if (auto st = judge_read("edit_file", rel, c.target.landing, access); !st) return st.error();
  if (for_change)
    if (auto st = judge_change(c.target.landing, access); !st) return st.error();
  if (!c.target.exists) return c;
  if (S_ISDIR(c.target.st.st_mode))
    return make_error(error_code::kInvalidParams, rel + " is a directory", json{{"path", rel}});
  // Opened in the directory judged, never following a link put there since.
  Fd fd(::openat(c.target.dir.get(), c.target.name.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOENT) return changed_meanwhile(rel);
    return errno_error(errno, "open", rel);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error(errno, "stat", rel);
  if (S_ISDIR(st.st_mode)) return make_error(error_code::kInvalidParams, rel + " is a directory", json{{"path", rel}});
  if (!S_ISREG(st.st_mode))
    return make_error(error_code::kInvalidParams, rel + " is not a regular file", json{{"path", rel}});
  auto bytes = read_fd(fd.get(), rel, static_cast<std::size_t>(st.st_size));
  if (!bytes) return std::move(bytes).error();
  c.exists = true;
  c.bytes = std::move(*bytes);
  c.mode = st.st_mode & 07777;
  c.target.st = st;
  return c;
}

Result<bool> Service::make_dirs(const std::string& rel, const std::string& landing) {
  if (rel.empty()) return false;
  bool created = false;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', pos);
    const std::string prefix = rel.substr(0, slash);
    auto parent = root_.open_parent(prefix);
    if (!parent) return std::move(parent).error();
    struct stat st {};
    if (::fstatat(parent->first.get(), parent->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return errno_error(errno, "mkdir", prefix);
      // Made in the directory judged: where it lands must be where the
      // whole was judged to land, and not protected.
      auto here = landing_path_in(root_, parent->first.get(), parent->second);
      if (!here) return std::move(here).error();
      if (!is_within(landing, *here)) return changed_meanwhile(prefix);
      if (auto st2 = judge_change(*here, Access{}); !st2) return st2.error();
      if (::mkdirat(parent->first.get(), parent->second.c_str(), 0777) == 0) {
        created = true;
      } else if (errno != EEXIST) {
        return errno_error(errno, "mkdir", prefix);
      }
    }
    // Whatever is there must be a directory beneath the root (a symlink to one inside is fine).
    auto check = root_.open_beneath(prefix, O_PATH | O_DIRECTORY);
    if (!check) {
      if (check.error().code == error_code::kNotFound || check.error().code == error_code::kIoError)
        return make_error(error_code::kConflict, "mkdir " + prefix + ": exists and is not a directory",
                          json{{"path", prefix}});
      return std::move(check).error();
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return created;
}

Result<bool> Service::mkdir(const std::string& path, const Access& access) {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return false;
  // An existing directory is no change; anything made is judged first, where it will be.
  if (auto fd = root_.open_beneath(*rel, O_PATH | O_DIRECTORY); fd) return false;
  auto landing = prospective_landing(*rel);
  if (!landing) return std::move(landing).error();
  if (auto st = judge_change(*landing, access); !st) return st.error();
  return make_dirs(*rel, *landing);
}

Result<bool> Service::write_atomic(Target& t, std::string_view content, std::optional<mode_t> mode,
                                   const Access& access, bool create_only) {
  if (t.path.empty()) return make_error(error_code::kInvalidParams, "cannot write the workspace root itself");
  if (!t.dir.valid()) {
    // Missing parents are made where the write was judged to land.
    const std::string parent = parent_of(t.path);
    auto made = make_dirs(parent, parent_of(t.landing));
    if (!made) return std::move(made).error();
    auto opened = root_.open_parent(t.path);
    if (!opened) return std::move(opened).error();
    t.dir = std::move(opened->first);
  }
  const std::string& rel = t.path;
  // fsync needs a readable directory fd, not O_PATH.
  Fd dir(::openat(t.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return errno_error(errno, "open directory of", rel);
  const std::string& name = t.name;
  // Judged on the directory written through, before anything is made in it.
  auto landing = landing_path_in(root_, dir.get(), name);
  if (!landing) return std::move(landing).error();
  if (auto st = judge_change(*landing, access); !st) return st.error();
  struct stat st {};
  const bool exists = ::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists) {
    if (S_ISDIR(st.st_mode)) return make_error(error_code::kConflict, rel + " is a directory", json{{"path", rel}});
    if (!mode && S_ISREG(st.st_mode)) mode = st.st_mode & 07777;
  }
  const std::string tmp = temporary_name(name);
  Fd fd(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (!fd.valid()) return errno_error(errno, "create temporary file for", rel);
  auto fail = [&](Error e) -> Result<bool> {
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return e;
  };
  if (const int e = write_fully(fd.get(), content); e != 0) return fail(errno_error(e, "write", rel));
  if (mode && ::fchmod(fd.get(), *mode) != 0) return fail(errno_error(errno, "chmod", rel));
  if (exists && ::geteuid() == 0) (void)::fchown(fd.get(), st.st_uid, st.st_gid);
  if (::fsync(fd.get()) != 0) return fail(errno_error(errno, "fsync", rel));
  if (::close(fd.release()) != 0) return fail(errno_error(errno, "close", rel));
  // The name is replaced (a new inode: other hard links keep the old bytes,
  // and a symlink put there meanwhile is replaced, not followed); a file
  // that must be new never replaces one that appeared meanwhile.
  if (::renameat2(dir.get(), tmp.c_str(), dir.get(), name.c_str(), create_only ? RENAME_NOREPLACE : 0) != 0) {
    const int err = errno;
    auto e = err == EEXIST ? changed_meanwhile(rel) : errno_error(err, "rename onto", rel);
    return fail(std::move(e));
  }
  ::fsync(dir.get());
  t.exists = true;
  return !exists;
}

Result<std::string> Service::replace_content(const std::string& rel, Current& cur, const std::string& content,
                                             const Access& access) {
  if (cur.open) {
    if (auto owner = cur.doc.owner.lock()) {
      // Send the smallest edit: the changed middle between common prefix and suffix.
      const std::string& old = cur.doc.text;
      std::size_t pre = 0;
      const std::size_t max_pre = std::min(old.size(), content.size());
      while (pre < max_pre && old[pre] == content[pre]) ++pre;
      while (pre > 0 && (static_cast<unsigned char>(old[pre]) & 0xC0) == 0x80) --pre;
      std::size_t suf = 0;
      while (suf < old.size() - pre && suf < content.size() - pre &&
             old[old.size() - 1 - suf] == content[content.size() - 1 - suf])
        ++suf;
      while (suf > 0 && (static_cast<unsigned char>(old[old.size() - suf]) & 0xC0) == 0x80) --suf;
      auto applied = owner->apply_edit(cur.doc.uri, cur.doc.version, old, pre, old.size() - suf,
                                       std::string_view(content).substr(pre, content.size() - suf - pre),
                                       std::chrono::seconds(30));
      if (!applied) {
        Error e = std::move(applied).error();
        e.message += " (" + rel + " is open in " + owner->editor_name() + "; nothing was written)";
        e.data = json{{"path", rel}};
        return e;
      }
      if (!*applied)
        return make_error(error_code::kConflict,
                          "the editor (" + owner->editor_name() + ") did not apply the edit to " + rel,
                          json{{"path", rel}});
      // The editor confirms with didChange; wait for it so reads see the new text.
      documents_.wait_for_change(rel, cur.doc.version, std::chrono::seconds(2));
      return std::string("editor");
    }
  }
  auto w = write_atomic(cur.target, content, cur.exists ? std::optional<mode_t>(cur.mode) : std::nullopt, access);
  if (!w) return std::move(w).error();
  return std::string("disk");
}

namespace {

// The code points of UTF-8 `text` (an invalid byte stands for itself).
template <typename F>
void each_code_point(std::string_view text, F&& f) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (n == 1 || i + n > text.size() || !is_valid_utf8(text.substr(i, n))) {
      f(static_cast<std::uint32_t>(c));
      ++i;
      continue;
    }
    std::uint32_t cp = c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    f(cp);
    i += n;
  }
}

// UTF-8 `text` in the encoding of the file `existing` (as decode() names
// it: UTF-16 by its BOM, Latin-1 when not UTF-8), to be appended to it;
// nullopt when that encoding cannot hold the text (Latin-1 and a character
// above U+00FF).
std::optional<std::string> in_encoding_of(std::string_view existing, std::string_view text) {
  const bool le = existing.starts_with("\xFF\xFE"), be = existing.starts_with("\xFE\xFF");
  if (le || be) {
    std::string out;
    auto unit = [&](std::uint32_t u) {
      const char hi = static_cast<char>(u >> 8), lo = static_cast<char>(u & 0xFF);
      out += le ? lo : hi;
      out += le ? hi : lo;
    };
    each_code_point(text, [&](std::uint32_t cp) {
      if (cp >= 0x10000) {
        unit(0xD800 + ((cp - 0x10000) >> 10));
        unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
      } else {
        unit(cp);
      }
    });
    return out;
  }
  if (existing.starts_with("\xEF\xBB\xBF") ||
      std::memchr(existing.data(), 0, std::min<std::size_t>(existing.size(), 8192)) != nullptr ||
      is_valid_utf8(existing))
    return std::string(text);
  // Latin-1: each character one byte.
  std::string out;
  bool fits = true;
  each_code_point(text, [&](std::uint32_t cp) {
    if (cp > 0xFF) fits = false;
    out += static_cast<char>(cp);
  });
  if (!fits) return std::nullopt;
  return out;
}

}  // namespace

Result<WriteResult> Service::write(const WriteParams& p, const Access& access) {
  auto rel = root_.relative(p.path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return make_error(error_code::kInvalidParams, "write_file: the path names the workspace root");
  // expectedSha256 tells whether a guess of the content is right: a read.
  auto cur = current(*rel, access, true, p.expected_sha256.has_value());
  if (!cur) return std::move(cur).error();
  if (p.expected_sha256) {
    if (!cur->exists)
      return make_error(error_code::kConflict, "write_file: " + *rel + " does not exist but expectedSha256 was given",
                        json{{"path", *rel}});
    const std::string actual = sha256_hex(cur->bytes);
    if (actual != *p.expected_sha256) return conflict_sha(*rel, *p.expected_sha256, actual);
  }
  std::string appended;
  if (p.append && cur->exists) {
    auto encoded = cur->open ? std::optional<std::string>(p.content) : in_encoding_of(cur->bytes, p.content);
    if (!encoded)
      return make_error(error_code::kInvalidParams,
                        "write_file: " + *rel +
                            " is Latin-1 text and the content has characters Latin-1 lacks; "
                            "nothing was appended",
                        json{{"path", *rel}});
    appended = cur->bytes + *encoded;
  }
  const std::string& content = p.append && cur->exists ? appended : p.content;
  auto via = replace_content(*rel, *cur, content, access);
  if (!via) return std::move(via).error();
  WriteResult r;
  r.path = *rel;
  r.bytes = p.content.size();
  r.sha256 = sha256_hex(content);
  r.created = !cur->exists;
  r.via = *via;
  r.appended = p.append;
  r.size = content.size();
  return r;
}

namespace {

// Where `needle` occurs in `text`. When either holds "\r\n" the search is
// line-ending-insensitive: both are searched with "\r\n" read as "\n", and
// each range covers the file's own "\r\n".
struct Occurrences {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;  // byte ranges in `text`
  std::vector<std::int64_t> lines;                          // 1-based line of each
  bool crlf = false;                                        // searched line-ending-insensitively
  bool dominant_crlf = false;                               // more of text's lines end in "\r\n" than in "\n"
};

std::string without_cr_before_lf(std::string_view s, std::vector<std::size_t>* removed = nullptr) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      if (removed) removed->push_back(out.size());  // where the '\n' lands
      continue;
    }
    out += s[i];
  }
  return out;
}

Occurrences find_occurrences(std::string_view text, std::string_view needle) {
  Occurrences o;
  o.crlf = text.find("\r\n") != std::string_view::npos || needle.find("\r\n") != std::string_view::npos;
  if (!o.crlf) {
    o.lines = occurrence_lines(text, needle);
    for (std::size_t pos = 0; (pos = text.find(needle, pos)) != std::string_view::npos; pos += needle.size())
      o.ranges.emplace_back(pos, pos + needle.size());
    return o;
  }
  std::vector<std::size_t> removed;  // normalized offsets of the '\n's whose '\r' was dropped
  const std::string flat = without_cr_before_lf(text, &removed);
  const std::string flat_needle = without_cr_before_lf(needle);
  const auto lf = static_cast<std::size_t>(std::count(flat.begin(), flat.end(), '\n'));
  o.dominant_crlf = removed.size() * 2 > lf;
  // Offset in `text` of offset n in `flat`: n plus the '\r's dropped before it.
  auto original = [&](std::size_t n) {
    return n + static_cast<std::size_t>(std::lower_bound(removed.begin(), removed.end(), n) - removed.begin());
  };
  o.lines = occurrence_lines(flat, flat_needle);
  for (std::size_t pos = 0; (pos = flat.find(flat_needle, pos)) != std::string::npos; pos += flat_needle.size())
    o.ranges.emplace_back(original(pos), original(pos + flat_needle.size()));
  return o;
}

// `s` with every line ending "\r\n" (crlf) or "\n".
std::string with_endings(std::string_view s, bool crlf) {
  std::string flat = without_cr_before_lf(s);
  if (!crlf) return flat;
  std::string out;
  out.reserve(flat.size() + flat.size() / 16);
  for (char c : flat) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

bool same_but_whitespace(std::string_view a, std::string_view b) {
  std::string x, y;
  for (char c : a)
    if (!std::isspace(static_cast<unsigned char>(c))) x += c;
  for (char c : b)
    if (!std::isspace(static_cast<unsigned char>(c))) y += c;
  return x == y;
}

// oldString not found: the lines most like it, with a diff of what was
// expected against what is there (desktop-commander's edit_block does so).
Error not_found(const std::string& rel, const std::string& which, std::size_t i, std::string_view text,
                std::string_view old_string) {
  std::string message = "edit_file" + which + ": oldString was not found in " + rel +
                        (i > 0 ? " (after the earlier edits were applied)" : std::string());
  json data = {{"path", rel}, {"edit", i}};
  const auto close = closest_lines(text, old_string);
  if (!close || close->similarity < 0.5) {
    message += ", and no similar lines were found; re-read the file and copy the text exactly, including whitespace";
    return make_error(error_code::kNotFound, message, std::move(data));
  }
  const int percent = static_cast<int>(close->similarity * 100);
  std::string expected = without_cr_before_lf(old_string);
  std::string actual = without_cr_before_lf(close->text);
  if (!expected.ends_with('\n')) expected += '\n';
  if (!actual.ends_with('\n')) actual += '\n';
  const std::string lines = close->first_line == close->last_line
                                ? "line " + std::to_string(close->first_line)
                                : "lines " + std::to_string(close->first_line) + "-" + std::to_string(close->last_line);
  std::string diff =
      unified_diff(expected, actual, DiffLabels{"oldString", rel + " (" + lines + ")", 1, close->first_line});
  constexpr std::size_t kMaxDiff = 8 * 1024;
  if (diff.size() > kMaxDiff) {
    std::size_t cut = diff.rfind('\n', kMaxDiff);
    diff.resize(cut == std::string::npos ? kMaxDiff : cut + 1);
    diff += "(diff cut)\n";
  }
  message +=
      ". The most similar text is " + lines + " (" + std::to_string(percent) + "% similar" +
      (same_but_whitespace(expected, actual) ? ", differing only in whitespace" : "") +
      "); what oldString has (-) against what the file has (+):\n" + diff +
      "Copy the text exactly as the file has it, including whitespace (" +
      read_call(rel, close->first_line, ",\"limit\":" + std::to_string(close->last_line - close->first_line + 1)) +
      " shows those lines).";
  data["closest"] = {
      {"startLine", close->first_line}, {"endLine", close->last_line}, {"similarity", close->similarity}};
  return make_error(error_code::kNotFound, message, std::move(data));
}

}  // namespace

Result<EditResult> Service::edit(const EditParams& p, const Access& access) {
  auto rel = root_.relative(p.path);
  if (!rel) return std::move(rel).error();
  if (p.edits.empty()) return make_error(error_code::kInvalidParams, "edit_file: edits is empty");
  // The diff and the errors show the content: a read as well.
  auto cur = current(*rel, access, !p.dry_run, true);
  if (!cur) return std::move(cur).error();
  EditResult r;
  r.path = *rel;
  std::string text;
  if (!cur->exists) {
    if (p.edits.size() != 1 || !p.edits[0].old_string.empty())
      return make_error(
          error_code::kNotFound,
          "edit_file: " + *rel + " does not exist; use write_file to create it (or one edit with an empty oldString)",
          json{{"path", *rel}});
    text = p.edits[0].new_string;
    r.replacements = 1;
  } else {
    if (p.expected_sha256) {
      const std::string actual = sha256_hex(cur->bytes);
      if (actual != *p.expected_sha256) return conflict_sha(*rel, *p.expected_sha256, actual);
    }
    if (std::memchr(cur->bytes.data(), 0, std::min<std::size_t>(cur->bytes.size(), 8192)) != nullptr ||
        !is_valid_utf8(cur->bytes))
      return make_error(error_code::kInvalidParams,
                        "edit_file: " + *rel + " is not UTF-8 text; edit_file only edits UTF-8 files",
                        json{{"path", *rel}});
    text = cur->bytes;
    for (std::size_t i = 0; i < p.edits.size(); ++i) {
      const Edit& e = p.edits[i];
      const std::string which = p.edits.size() > 1 ? " (edit " + std::to_string(i + 1) + ")" : std::string();
      if (e.old_string.empty())
        return make_error(error_code::kInvalidParams,
                          "edit_file" + which + ": oldString is empty; " + *rel + " already exists",
                          json{{"path", *rel}, {"edit", i}});
      if (e.old_string == e.new_string)
        return make_error(error_code::kInvalidParams, "edit_file" + which + ": oldString and newString are identical",
                          json{{"path", *rel}, {"edit", i}});
      const Occurrences found = find_occurrences(text, e.old_string);
      if (found.ranges.empty()) return not_found(*rel, which, i, text, e.old_string);
      if (found.ranges.size() > 1 && !e.replace_all) {
        return make_error(error_code::kInvalidParams,
                          "edit_file" + which + ": oldString occurs " + std::to_string(found.ranges.size()) +
                              " times in " + *rel + " (lines " + join_lines(found.lines) +
                              "); add surrounding context to make it unique or set replaceAll",
                          json{{"path", *rel}, {"edit", i}, {"lines", found.lines}});
      }
      // The new text takes the file's line endings when it has CRLF ones.
      const std::string replacement = found.crlf ? with_endings(e.new_string, found.dominant_crlf) : e.new_string;
      std::string out;
      out.reserve(text.size());
      std::size_t pos = 0;
      for (const auto& [from, to] : found.ranges) {
        out.append(text, pos, from - pos);
        out += replacement;
        pos = to;
        ++r.replacements;
        if (!e.replace_all) break;
      }
      out.append(text, pos, std::string::npos);
      text = std::move(out);
    }
  }
  r.diff = unified_diff(cur->bytes, text, *rel);
  r.sha256 = sha256_hex(text);
  if (p.dry_run) return r;
  auto via = replace_content(*rel, *cur, text, access);
  if (!via) return std::move(via).error();
  r.applied = true;
  r.via = *via;
  return r;
}

Result<PatchResult> Service::apply_patch(std::string_view patch, const Access& access) {
  auto parsed = parse_patch(patch);
  if (!parsed) return std::move(parsed).error();
  struct Planned {
    std::string rel;
    std::string action;
    Current before;
    std::string after;
  };
  std::vector<Planned> plan;
  for (const auto& fp : *parsed) {
    const std::string& name = fp.new_path.empty() ? fp.old_path : fp.new_path;
    auto rel = root_.relative(name);
    if (!rel) return std::move(rel).error();
    if (rel->empty())
      return make_error(error_code::kInvalidParams, "apply_patch: a file patch names the workspace root");
    for (const auto& pl : plan) {
      if (pl.rel == *rel)
        return make_error(error_code::kInvalidParams, "apply_patch: " + *rel + " appears twice in the patch");
    }
    // Every file is judged where it lands before any is written.
    auto cur = current(*rel, access, true, true);
    if (!cur) return std::move(cur).error();
    Planned pl;
    pl.rel = *rel;
    if (fp.old_path.empty()) {
      if (cur->exists)
        return make_error(error_code::kConflict, "apply_patch: " + *rel + " already exists but the patch creates it",
                          json{{"path", *rel}});
      pl.action = "created";
    } else if (!cur->exists) {
      return make_error(error_code::kNotFound, "apply_patch: " + *rel + " does not exist", json{{"path", *rel}});
    } else {
      pl.action = fp.new_path.empty() ? "deleted" : "modified";
    }
    auto after = apply_hunks(cur->bytes, fp, *rel);
    if (!after) return std::move(after).error();
    if (pl.action == "deleted" && !after->empty())
      return make_error(error_code::kConflict,
                        "apply_patch: deleting " + *rel + " but the patch does not remove all of its lines",
                        json{{"path", *rel}});
    pl.before = std::move(*cur);
    pl.after = std::move(*after);
    plan.push_back(std::move(pl));
  }
  // Everything matched: now write, each file through the directory it was
  // judged in. On a failure, put back what was written.
  auto unlink_target = [&](Target& t) -> Status {
    if (!t.dir.valid()) return errno_error(ENOENT, "delete", t.path);
    auto landing = landing_path_in(root_, t.dir.get(), t.name);
    if (!landing) return std::move(landing).error();
    if (auto st = judge_change(*landing, access); !st) return st;
    if (::unlinkat(t.dir.get(), t.name.c_str(), 0) != 0) return errno_error(errno, "delete", t.path);
    t.exists = false;
    return ok_status();
  };
  PatchResult result;
  std::vector<Planned*> done;
  auto rollback = [&](Error e) -> Result<PatchResult> {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      Planned& pl = **it;
      if (pl.action == "created") {
        (void)unlink_target(pl.before.target);
      } else if (pl.before.open && pl.action == "modified") {
        if (auto now = current(pl.rel, access, true, false))
          (void)replace_content(pl.rel, *now, pl.before.bytes, access);
      } else {
        (void)write_atomic(pl.before.target, pl.before.bytes, pl.before.mode, access, pl.action == "deleted");
      }
    }
    e.message += " (no file was changed)";
    return e;
  };
  for (auto& pl : plan) {
    if (pl.action == "deleted") {
      if (auto s = unlink_target(pl.before.target); !s) return rollback(s.error());
    } else if (pl.action == "created") {
      auto w = write_atomic(pl.before.target, pl.after, std::nullopt, access, true);
      if (!w) return rollback(std::move(w).error());
    } else {
      auto via = replace_content(pl.rel, pl.before, pl.after, access);
      if (!via) return rollback(std::move(via).error());
    }
    done.push_back(&pl);
    std::string diff;
    if (pl.action == "created")
      diff = unified_diff("", pl.after, DiffLabels{"/dev/null", "b/" + pl.rel, 1, 1});
    else if (pl.action == "modified")
      diff = unified_diff(pl.before.bytes, pl.after, pl.rel);
    result.files.push_back(
        {pl.rel, pl.action, pl.action == "deleted" ? std::string() : sha256_hex(pl.after), std::move(diff)});
  }
  return result;
}

namespace {

void append_number(std::string& out, std::uint64_t v) {
  char num[24];
  const auto res = std::to_chars(num, num + sizeof num, v);
  out.append(num, static_cast<std::size_t>(res.ptr - num));
}

// One entry as a line of text: "name/" (a directory), "name (N bytes)" (a
// file), "name (symlink)", "name (other)"; a directory whose entries are
// not listed says how many and how to list them (`dir`: the listed one).
void append_entry_line(std::string& text, const DirEntry& e, const std::string& dir) {
  text += e.path;
  if (e.type == "directory") {
    text += '/';
    if (e.not_listed > 0) {
      text += " (";
      append_number(text, e.not_listed);
      text += " entries, not listed here: list_directory {\"path\":";
      append_json_string(text, join(dir, e.path));
      text += "})";
    }
  } else if (e.type == "file") {
    text += " (";
    append_number(text, e.size);
    text += " bytes)";
  } else {
    text += " (" + e.type + ")";
  }
  text += '\n';
}

void append_entry_json(std::string& js, const DirEntry& e) {
  js += "{\"path\":";
  append_json_string(js, e.path);
  js += ",\"type\":\"";
  js += e.type;
  js += "\",\"size\":";
  append_number(js, e.size);
  js += ",\"mtime\":";
  if (e.mtime_ms < 0) {
    js += '-';
    append_number(js, static_cast<std::uint64_t>(-e.mtime_ms));
  } else {
    append_number(js, static_cast<std::uint64_t>(e.mtime_ms));
  }
  if (e.not_listed > 0) {
    js += ",\"notListed\":";
    append_number(js, e.not_listed);
  }
  js.push_back('}');
}

// `listing` without the entries `denied` covers (paths relative to `dir`,
// the listed directory's landing path); the listing itself when none is.
std::shared_ptr<const ListResult> without_denied(std::shared_ptr<const ListResult> listing, const std::string& dir,
                                                 const ReadFilter& denied) {
  std::vector<bool> out(listing->entries.size());
  std::size_t left_out = 0;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (denied(join(dir, listing->entries[i].path))) {
      out[i] = true;
      ++left_out;
    }
  if (left_out == 0) return listing;
  auto r = std::make_shared<ListResult>(*listing);
  r->entries.clear();
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!out[i]) r->entries.push_back(listing->entries[i]);
  r->denied = left_out;
  r->note = std::to_string(left_out) + (left_out == 1 ? " entry is" : " entries are") +
            " left out: a Read deny rule covers them";
  return r;
}

// Renders a page: its JSON entries and its text (a header line saying what
// was left out and how to continue, then one line per entry).
void render_page(ListPage& pg, const ListParams& p, int depth) {
  std::string notes;
  if (pg.ignored > 0) {
    notes += std::to_string(pg.ignored) + (pg.ignored == 1 ? " ignored entry" : " ignored entries") + " not listed (";
    for (std::size_t i = 0; i < pg.ignored_names.size(); ++i) notes += (i ? ", " : "") + pg.ignored_names[i];
    if (pg.ignored > pg.ignored_names.size()) notes += ", ...";
    notes += "); \"includeIgnored\":true lists them";
  }
  if (pg.denied > 0) {
    if (!notes.empty()) notes += "; ";
    notes += std::to_string(pg.denied) + (pg.denied == 1 ? " entry" : " entries") +
             " left out: a Read deny rule covers them";
  }
  if (pg.truncated) {
    if (!notes.empty()) notes += "; ";
    std::string call = "list_directory {\"path\":";
    append_json_string(call, pg.path.empty() ? std::string(".") : pg.path);
    if (depth > 1) call += ",\"depth\":" + std::to_string(depth);
    if (p.include_ignored) call += ",\"includeIgnored\":true";
    if (p.limit != kDefaultListEntries) call += ",\"limit\":" + std::to_string(p.limit);
    call += ",\"cursor\":";
    append_json_string(call, pg.next_cursor);
    call += "}";
    notes += "more entries follow: continue with " + call;
  }
  pg.note = notes;
  pg.entries_json.clear();
  pg.entries_json.reserve(pg.entries.size() * 80 + 2);
  pg.entries_json.push_back('[');
  for (std::size_t i = 0; i < pg.entries.size(); ++i) {
    if (i) pg.entries_json.push_back(',');
    append_entry_json(pg.entries_json, pg.entries[i]);
  }
  pg.entries_json.push_back(']');
  std::string& text = pg.text;
  text.clear();
  text.reserve(pg.entries.size() * 40 + notes.size() + 80);
  text += pg.path.empty() ? std::string(".") : pg.path;
  text += "/: ";
  if (pg.entries.empty()) {
    text += "no entries";
  } else {
    append_number(text, pg.entries.size());
    text += pg.entries.size() == 1 ? " entry" : " entries";
  }
  if (!p.cursor.empty()) text += " after the cursor";
  if (!notes.empty()) text += "; " + notes;
  text += '\n';
  for (const DirEntry& e : pg.entries) append_entry_line(text, e, pg.path);
}

}  // namespace

Result<std::shared_ptr<ListResult>> Service::walk_listing(int fd, const std::string& rel, int depth,
                                                          bool include_ignored, const std::string& after,
                                                          ListingCache::Build& build,
                                                          const CancellationToken* cancel) const {
  auto r = std::make_shared<ListResult>();
  r->path = rel;
  IgnoreFile global;
  std::shared_ptr<const IgnoreDir> top;
  if (!include_ignored) {
    global = global_git_excludes();
    top = ignore_ancestors(root_, rel);
    if (build.cacheable && !rel.empty()) {
      // The ignore files of the directories above decide too: watched.
      for (std::size_t pos = 0;;) {
        const std::size_t slash = rel.find('/', pos);
        const std::string above = pos == 0 ? std::string() : rel.substr(0, pos - 1);
        if (auto d = root_.open_beneath(above, O_PATH | O_DIRECTORY)) listing_cache_.watch(build, d->get());
        if (auto d = root_.open_beneath(join(above, ".git/info"), O_PATH | O_DIRECTORY))
          listing_cache_.watch(build, d->get());
        if (slash == std::string::npos) break;
        pos = slash + 1;
      }
    }
  }
  const IgnoreFile* global_rules = global.empty() ? nullptr : &global;
  auto ignored = [&](const std::shared_ptr<const IgnoreDir>& dir, const std::string& path, bool is_dir) {
    return dir && dir->match(join(rel, path), is_dir, global_rules) == IgnoreMatch::Ignore;
  };
  // `self`: this directory's entry (npos for the listed directory).
  constexpr std::size_t kTop = static_cast<std::size_t>(-1);
  std::function<Status(int, const std::string&, int, const std::shared_ptr<const IgnoreDir>&, std::size_t)> walk =
      [&](int dirfd, const std::string& prefix, int level, const std::shared_ptr<const IgnoreDir>& parent,
          std::size_t self) -> Status {
    if (cancel && cancel->cancelled()) return make_error(error_code::kRequestCancelled, "list_directory: cancelled");
    const int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return errno_error(errno, "open", prefix);
    DIR* dir = ::fdopendir(dup);
    if (!dir) {
      ::close(dup);
      return errno_error(errno, "read directory", prefix);
    }
    std::vector<std::pair<std::string, unsigned char>> names;
    bool has_rg = false, has_ig = false, has_gi = false, has_git = false;
    while (struct dirent* e = ::readdir(dir)) {
      const std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      if (n == ".git") {
        has_git = true;
        continue;
      }
      has_rg = has_rg || n == ".rgignore";
      has_ig = has_ig || n == ".ignore";
      has_gi = has_gi || n == ".gitignore";
      names.emplace_back(n, e->d_type);
    }
    ::closedir(dir);
    if (self != kTop && names.size() > kMaxExpandedEntries) {
      r->entries[self].not_listed = names.size();
      return ok_status();
    }
    std::shared_ptr<const IgnoreDir> here;
    if (!include_ignored) {
      here = std::make_shared<const IgnoreDir>(
          parent, read_ignore_files(dirfd, join(rel, prefix), has_rg, has_ig, has_gi, has_git),
          has_git || (parent && parent->any_git()));
      if (has_git && build.cacheable) {
        Fd info(::openat(dirfd, ".git/info", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (info.valid()) listing_cache_.watch(build, info.get());
      }
    }
    std::sort(names.begin(), names.end());
    for (const auto& [n, d_type] : names) {
      const std::string path = prefix.empty() ? n : prefix + "/" + n;
      if (!after.empty() && compare_paths(path, after) <= 0) {
        // On an earlier page; entered only when the cursor lies inside it.
        const bool holds =
            after.size() > path.size() && after.compare(0, path.size(), path) == 0 && after[path.size()] == '/';
        if (!holds || level >= depth || ignored(here, path, true)) continue;
        Fd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.valid()) continue;
        if (auto s = walk(sub.get(), path, level + 1, here, kTop); !s) return s;
        if (r->truncated) return ok_status();
        continue;
      }
      if (r->entries.size() >= kMaxListEntries) {
        r->truncated = true;
        return ok_status();
      }
      // A subdirectory shown as an entry is watched before its stat: a
      // change inside it moves its mtime.
      Fd sub;
      if (build.cacheable && (d_type == DT_DIR || d_type == DT_UNKNOWN)) {
        sub = Fd(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.valid()) listing_cache_.watch(build, sub.get());
      }
      struct stat st {};
      if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
      if (ignored(here, path, S_ISDIR(st.st_mode))) {
        if (r->ignored_names.size() < kIgnoredNames)
          r->ignored_names.push_back(path + (S_ISDIR(st.st_mode) ? "/" : ""));
        ++r->ignored;
        continue;
      }
      DirEntry de;
      de.path = path;
      de.type = type_of(st.st_mode);
      de.size = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
      de.mtime_ms = to_ms(st.st_mtim);
      r->entries.push_back(std::move(de));
      if (S_ISDIR(st.st_mode) && level < depth) {
        if (!sub.valid()) sub = Fd(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.valid()) continue;  // unreadable subdirectory: listed, not entered
        if (auto s = walk(sub.get(), path, level + 1, here, r->entries.size() - 1); !s) return s;
        if (r->truncated) return ok_status();
      }
    }
    return ok_status();
  };
  if (auto s = walk(fd, "", 1, top, kTop); !s) return s.error();
  return r;
}

Result<Service::Window> Service::open_listing(const ListParams& p, const std::string& after,
                                              const CancellationToken* cancel, const Access& access) const {
  auto rel = root_.relative(p.path.empty() ? "." : p.path);
  if (!rel) return std::move(rel).error();
  auto fd = root_.open_beneath(*rel, O_RDONLY | O_DIRECTORY);
  Window w;
  // Entries are judged where the directory listed really is (a symlink may
  // lead there): the landing path of the descriptor read.
  if (fd && access.read_denied) {
    auto landing = landing_path(root_, fd->get());
    if (!landing) return std::move(landing).error();
    w.dir_landing = std::move(*landing);
    if (!w.dir_landing.empty())
      if (auto st = judge_read("list_directory", *rel, w.dir_landing, access); !st) return st.error();
  }
  if (!fd) {
    if (fd.error().code == error_code::kNotFound || fd.error().code == error_code::kIoError) {
      auto st = stat(p.path.empty() ? "." : p.path);
      if (st && st->type != "directory")
        return make_error(error_code::kInvalidParams, "list_directory: " + *rel + " is not a directory; use read_file",
                          json{{"path", *rel}});
    }
    return std::move(fd).error();
  }
  const int depth = std::clamp(p.depth, 1, 64);
  struct stat dir_st {};
  if (::fstat(fd->get(), &dir_st) != 0) return errno_error(errno, "stat", *rel);
  // A page after a cursor past the cached part is walked, not cached.
  const bool use_cache = p.use_cache && after.empty() && listing_cache_.enabled();
  if (use_cache) {
    if (auto hit = listing_cache_.find(*rel, depth, p.include_ignored, dir_st.st_dev, dir_st.st_ino)) {
      w.listing = std::move(hit);
      return w;
    }
  }
  ListingCache::Build build;
  build.cacheable = use_cache;
  if (use_cache) {
    build = listing_cache_.begin(fd->get());
    listing_cache_.watch(build, fd->get());  // before reading it
  }
  auto r = walk_listing(fd->get(), *rel, depth, p.include_ignored, after, build, cancel);
  if (!r) {
    if (use_cache) listing_cache_.abandon(std::move(build));
    return std::move(r).error();
  }
  std::shared_ptr<const ListResult> listing = std::move(*r);
  if (use_cache)
    listing_cache_.store(*rel, depth, p.include_ignored, dir_st.st_dev, dir_st.st_ino, std::move(build), listing);
  w.listing = std::move(listing);
  return w;
}

Result<std::shared_ptr<const ListResult>> Service::list(const std::string& path, int depth,
                                                        const CancellationToken* cancel, bool use_cache,
                                                        const Access& access, bool include_ignored) const {
  ListParams p;
  p.path = path;
  p.depth = depth;
  p.use_cache = use_cache;
  p.include_ignored = include_ignored;
  auto w = open_listing(p, "", cancel, access);
  if (!w) return std::move(w).error();
  if (!access.read_denied) return std::move(w->listing);
  return without_denied(std::move(w->listing), w->dir_landing, access.read_denied);
}

Result<ListPage> Service::list_page(const ListParams& p, const CancellationToken* cancel, const Access& access) const {
  auto w = open_listing(p, "", cancel, access);
  if (!w) return std::move(w).error();
  std::size_t start = 0;
  if (!p.cursor.empty()) {
    const auto& all = w->listing->entries;
    start = static_cast<std::size_t>(
        std::upper_bound(all.begin(), all.end(), p.cursor,
                         [](const std::string& c, const DirEntry& e) { return compare_paths(c, e.path) < 0; }) -
        all.begin());
    if (start == all.size() && w->listing->truncated) {
      // Past what one walk gathers from the start: walked from the cursor.
      w = open_listing(p, p.cursor, cancel, access);
      if (!w) return std::move(w).error();
      start = 0;
    }
  }
  const ListResult& l = *w->listing;
  const int depth = std::clamp(p.depth, 1, 64);
  const std::size_t limit = std::clamp<std::size_t>(p.limit, 1, kMaxListEntries);
  ListPage pg;
  pg.path = l.path;
  pg.ignored = l.ignored;
  pg.ignored_names = l.ignored_names;
  // Lines are counted as they are added; the header (at most a few hundred
  // bytes plus the path twice) is checked exactly once rendered.
  std::size_t body = 0;
  const std::size_t reserve = 600 + 2 * l.path.size();
  std::string scratch;
  std::size_t i = start;
  for (; i < l.entries.size(); ++i) {
    const DirEntry& e = l.entries[i];
    if (access.read_denied && access.read_denied(join(w->dir_landing, e.path))) {
      ++pg.denied;
      continue;
    }
    scratch.clear();
    append_entry_line(scratch, e, l.path);
    const bool full =
        pg.entries.size() >= limit || (p.max_text_bytes > 0 && !pg.entries.empty() &&
                                       body + scratch.size() + reserve + e.path.size() > p.max_text_bytes);
    if (full) break;
    body += scratch.size();
    pg.entries.push_back(e);
  }
  pg.truncated = i < l.entries.size() || l.truncated;
  auto set_cursor = [&] {
    pg.next_cursor = pg.entries.empty() ? (i > start ? l.entries[i - 1].path : p.cursor) : pg.entries.back().path;
  };
  if (pg.truncated) set_cursor();
  render_page(pg, p, depth);
  // The budget is kept exactly: entries go until the text fits.
  while (p.max_text_bytes > 0 && pg.text.size() > p.max_text_bytes && pg.entries.size() > 1) {
    const std::size_t over = pg.text.size() - p.max_text_bytes;
    std::size_t dropped = 0;
    while (pg.entries.size() > 1 && dropped < over) {
      dropped += pg.entries.back().path.size() + 16;
      pg.entries.pop_back();
    }
    pg.truncated = true;
    pg.next_cursor = pg.entries.back().path;
    render_page(pg, p, depth);
  }
  return pg;
}

Result<StatResult> Service::stat(const std::string& path, const Access& access) const {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  struct stat st {};
  StatResult r;
  r.path = *rel;
  if (rel->empty()) {
    if (::fstat(root_.fd(), &st) != 0) return errno_error(errno, "stat", ".");
  } else {
    auto parent = root_.open_parent(*rel);
    if (!parent) return std::move(parent).error();
    if (access.read_denied) {
      auto landing = landing_path_in(root_, parent->first.get(), parent->second);
      if (!landing) return std::move(landing).error();
      if (auto denied = judge_read("get_file_info", *rel, *landing, access); !denied) return denied.error();
    }
    if (::fstatat(parent->first.get(), parent->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return errno_error(errno, "stat", *rel);
    if (S_ISLNK(st.st_mode)) {
      char buf[PATH_MAX];
      const ssize_t n = ::readlinkat(parent->first.get(), parent->second.c_str(), buf, sizeof buf - 1);
      if (n >= 0) r.symlink_target.assign(buf, static_cast<std::size_t>(n));
    }
  }
  r.type = type_of(st.st_mode);
  r.size = static_cast<std::uint64_t>(st.st_size);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  r.mode = mode;
  r.mtime_ms = to_ms(st.st_mtim);
  r.ctime_ms = to_ms(st.st_ctim);
  r.atime_ms = to_ms(st.st_atim);
  r.open_in_editor = documents_.get(*rel).has_value();
  return r;
}

Result<ResourceContent> Service::read_resource(const std::string& path, const Access& access) const {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  // One descriptor for the check and the bytes (load()).
  auto loaded = load(*rel, access);
  if (!loaded) return std::move(loaded).error();
  if (loaded->bytes.size() > kMaxResourceBytes)
    return make_error(error_code::kInvalidParams, *rel + " is " + std::to_string(loaded->bytes.size()) +
                                                      " bytes, more than the " + std::to_string(kMaxResourceBytes) +
                                                      "-byte resource limit; use read_file to page it");
  ResourceContent c;
  c.path = *rel;
  if (loaded->editor) {
    c.data = std::move(loaded->bytes);
  } else {
    Decoded d = decode(std::move(loaded->bytes));
    c.binary = d.binary;
    c.data = std::move(d.text);  // the raw bytes when binary
  }
  c.mime_type = mime_type_for(*rel, c.binary);
  return c;
}

int compare_paths(std::string_view a, std::string_view b) {
  for (;;) {
    const std::size_t sa = a.find('/');
    const std::size_t sb = b.find('/');
    const std::string_view ca = a.substr(0, sa);
    const std::string_view cb = b.substr(0, sb);
    if (const int c = ca.compare(cb); c != 0) return c < 0 ? -1 : 1;
    if (sa == std::string_view::npos || sb == std::string_view::npos) {
      if (sa == sb) return 0;
      return sa == std::string_view::npos ? -1 : 1;
    }
    a.remove_prefix(sa + 1);
    b.remove_prefix(sb + 1);
  }
}

namespace {

// The directories and regular files of a directory, sorted, without .git
// (`has_git` says whether it holds one).
std::vector<std::pair<std::string, bool>> sorted_entries(int dirfd, bool& has_git) {
  std::vector<std::pair<std::string, bool>> out;
  has_git = false;
  const int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return out;
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    ::close(dup);
    return out;
  }
  while (struct dirent* e = ::readdir(dir)) {
    const std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    if (n == ".git") {
      has_git = true;
      continue;
    }
    bool is_dir = e->d_type == DT_DIR;
    bool is_reg = e->d_type == DT_REG;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      is_dir = S_ISDIR(st.st_mode);
      is_reg = S_ISREG(st.st_mode);
    }
    if (is_dir || is_reg) out.emplace_back(std::string(n), is_dir);
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<std::vector<std::string>> Service::list_files(const std::string& after, std::size_t limit, bool& more,
                                                     const CancellationToken* cancel, const Access& access) const {
  more = false;
  std::vector<std::string> out;
  const IgnoreFile global = global_git_excludes();
  const IgnoreFile* global_rules = global.empty() ? nullptr : &global;
  std::function<bool(int, const std::string&, const std::shared_ptr<const IgnoreDir>&)> walk =
      [&](int dirfd, const std::string& prefix, const std::shared_ptr<const IgnoreDir>& parent) -> bool {
    bool has_git = false;
    const auto entries = sorted_entries(dirfd, has_git);
    bool has_rg = false, has_ig = false, has_gi = false;
    for (const auto& [name, is_dir] : entries) {
      has_rg = has_rg || (!is_dir && name == ".rgignore");
      has_ig = has_ig || (!is_dir && name == ".ignore");
      has_gi = has_gi || (!is_dir && name == ".gitignore");
    }
    const auto here =
        std::make_shared<const IgnoreDir>(parent, read_ignore_files(dirfd, prefix, has_rg, has_ig, has_gi, has_git),
                                          has_git || (parent && parent->any_git()));
    for (const auto& [name, is_dir] : entries) {
      if (cancel && cancel->cancelled()) return false;
      const std::string path = prefix.empty() ? name : prefix + "/" + name;
      if (!after.empty() && compare_paths(path, after) <= 0) {
        // Skip, unless `after` lies inside this directory.
        if (!(is_dir && after.size() > path.size() && after.compare(0, path.size(), path) == 0 &&
              after[path.size()] == '/'))
          continue;
      }
      if (here->match(path, is_dir, global_rules) == IgnoreMatch::Ignore) continue;
      if (is_dir) {
        Fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.valid() && !walk(sub.get(), path, here)) return false;
        continue;
      }
      // The walk follows no symlink: `path` is where the file is.
      if (access.read_denied && access.read_denied(path)) continue;
      if (out.size() == limit) {
        more = true;
        return false;
      }
      out.push_back(path);
    }
    return true;
  };
  auto fd = root_.open_beneath("", O_RDONLY | O_DIRECTORY);
  if (!fd) return std::move(fd).error();
  walk(fd->get(), "", nullptr);
  if (cancel && cancel->cancelled()) return make_error(error_code::kRequestCancelled, "listing cancelled");
  return out;
}

namespace {

// The entries of the directory open as `fd` (a duplicate is read, `fd`
// stays open): name and whether it is a directory (lstat: a symlink to one
// is not). Entries gone before they were stat'ed are left out. Errors:
// errno_error(op, shown).
Result<std::vector<std::pair<std::string, bool>>> dir_entries(int fd, const char* op, const std::string& shown) {
  const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR* dir = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!dir) {
    if (dup >= 0) ::close(dup);
    return errno_error(errno, op, shown);
  }
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* e = ::readdir(dir)) {
    const std::string_view en = e->d_name;
    if (en == "." || en == "..") continue;
    struct stat est {};
    if (::fstatat(fd, e->d_name, &est, AT_SYMLINK_NOFOLLOW) != 0) continue;
    entries.emplace_back(std::string(en), S_ISDIR(est.st_mode));
  }
  ::closedir(dir);
  return entries;
}

// Calls `visit(landing)` for every entry beneath the directory open as `fd`
// (landing path `landing`), depth first, following no symlink; stops at the
// first error `visit` returns.
Status walk_beneath(int fd, const std::string& landing, const std::function<Status(const std::string&)>& visit) {
  auto entries = dir_entries(fd, "read directory", landing);
  if (!entries) return std::move(entries).error();
  for (const auto& [en, is_dir] : *entries) {
    const std::string here = join(landing, en);
    if (auto s = visit(here); !s) return s;
    if (!is_dir) continue;
    Fd sub(::openat(fd, en.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) return errno_error(errno, "read directory", here);
    if (auto s = walk_beneath(sub.get(), here, visit); !s) return s;
  }
  return ok_status();
}

}  // namespace

Status Service::move(const std::string& source, const std::string& destination, bool overwrite, const Access& access) {
  auto from = root_.relative(source);
  if (!from) return std::move(from).error();
  auto to = root_.relative(destination);
  if (!to) return std::move(to).error();
  if (from->empty() || to->empty())
    return make_error(error_code::kInvalidParams, "move_file: cannot move the workspace root");
  if (*from == *to) return make_error(error_code::kInvalidParams, "move_file: source and destination are the same");
  if (to->size() > from->size() && to->compare(0, from->size(), *from) == 0 && (*to)[from->size()] == '/')
    return make_error(error_code::kInvalidParams, "move_file: cannot move " + *from + " into itself");
  // The name itself moves (a symlink, not its target), from the directory
  // it was judged in.
  auto src = locate(*from, false);
  if (!src) return std::move(src).error();
  if (!src->dir.valid() || !src->exists) return errno_error(ENOENT, "move_file: stat", *from);
  if (auto st = judge_change(src->landing, access); !st) return st;
  const bool is_dir = S_ISDIR(src->st.st_mode);
  // Where it goes: judged before its parents are made, and again on the
  // directory it is renamed into.
  auto planned = prospective_landing(*to);
  if (!planned) return std::move(planned).error();
  if (auto st = judge_change(*planned, access); !st) return st;
  if (const std::size_t slash = to->rfind('/'); slash != std::string::npos) {
    auto made = make_dirs(to->substr(0, slash), parent_of(*planned));
    if (!made) return std::move(made).error();
  }
  auto dst = root_.open_parent(*to);
  if (!dst) return std::move(dst).error();
  auto dst_landing = landing_path_in(root_, dst->first.get(), dst->second);
  if (!dst_landing) return std::move(dst_landing).error();
  if (auto st = judge_change(*dst_landing, access); !st) return st;
  if (is_dir) {
    // A directory takes everything beneath it along: each of those paths is
    // changed where it was and where it goes. git's own directories are not
    // the file tools' to rearrange (their files run commands).
    if (inside_git_dir(src->landing) || inside_git_dir(*dst_landing))
      return make_error(error_code::kPermissionDenied,
                        "move_file: permission denied: directories are not moved into or out of a .git directory "
                        "(git runs commands named in its files); use git",
                        json{{"source", *from}, {"destination", *to}});
    Fd tree(::openat(src->dir.get(), src->name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!tree.valid()) return errno_error(errno, "move_file: open", *from);
    auto src_landing = landing_path(root_, tree.get());
    if (!src_landing) return std::move(src_landing).error();
    const std::string& dl = *dst_landing;
    auto s = walk_beneath(tree.get(), *src_landing, [&](const std::string& here) -> Status {
      if (auto st = judge_change(here, access); !st) return st;
      return judge_change(dl + here.substr(src_landing->size()), access);
    });
    if (!s) return s;
  }
  const unsigned flags = overwrite ? 0 : RENAME_NOREPLACE;
  if (::renameat2(src->dir.get(), src->name.c_str(), dst->first.get(), dst->second.c_str(), flags) != 0) {
    if (errno == EEXIST)
      return make_error(error_code::kConflict, "move_file: " + *to + " already exists; set overwrite to replace it",
                        json{{"path", *to}});
    return errno_error(errno, "move_file: rename " + *from + " to", *to);
  }
  return ok_status();
}

Status Service::remove(const std::string& path, bool recursive, const Access& access) {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return make_error(error_code::kInvalidParams, "delete_file: refusing to delete the workspace root");
  // The name itself goes (a symlink, not its target), from the directory it
  // was judged in.
  auto target = locate(*rel, false);
  if (!target) return std::move(target).error();
  if (!target->dir.valid() || !target->exists) return errno_error(ENOENT, "delete_file", *rel);
  if (auto st = judge_change(target->landing, access); !st) return st;
  const int dirfd = target->dir.get();
  const std::string& name = target->name;
  if (!S_ISDIR(target->st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return errno_error(errno, "delete_file", *rel);
    return ok_status();
  }
  if (!recursive) {
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
      if (errno == ENOTEMPTY || errno == EEXIST)
        return make_error(
            error_code::kConflict,
            "delete_file: directory " + *rel + " is not empty; set recursive to delete it and its contents",
            json{{"path", *rel}});
      return errno_error(errno, "delete_file", *rel);
    }
    return ok_status();
  }
  // Nothing beneath may be protected or refused: all judged before anything
  // is deleted (a .git inside, say), and each again as it goes.
  {
    Fd tree(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!tree.valid()) return errno_error(errno, "delete_file", *rel);
    auto landing = landing_path(root_, tree.get());
    if (!landing) return std::move(landing).error();
    auto s = walk_beneath(tree.get(), *landing, [&](const std::string& here) { return judge_change(here, access); });
    if (!s) return make_error(s.error().code, "delete_file: nothing was deleted: " + s.error().message, s.error().data);
  }
  // Depth-first through directory fds, never following symlinks.
  std::function<Status(int, const std::string&, const std::string&)> rm = [&](int at, const std::string& n,
                                                                              const std::string& shown) -> Status {
    Fd fd(::openat(at, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return errno_error(errno, "delete_file", shown);
    auto here = landing_path(root_, fd.get());
    if (!here) return std::move(here).error();
    auto entries = dir_entries(fd.get(), "delete_file", shown);
    if (!entries) return std::move(entries).error();
    for (const auto& [en, is_dir] : *entries) {
      if (auto st = judge_change(join(*here, en), access); !st) return st;
      if (is_dir) {
        if (auto s = rm(fd.get(), en, shown + "/" + en); !s) return s;
      } else if (::unlinkat(fd.get(), en.c_str(), 0) != 0 && errno != ENOENT) {
        return errno_error(errno, "delete_file", shown + "/" + en);
      }
    }
    if (::unlinkat(at, n.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return errno_error(errno, "delete_file", shown);
    return ok_status();
  };
  return rm(dirfd, name, *rel);
}

}  // namespace icotes::files
