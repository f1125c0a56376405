// files/read, files/stat and MCP resources: a file's bytes (from the
// editor's buffer when open), decoded and paged by line.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <functional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "files_internal.hpp"
#include "icotes/files.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/text.hpp"

namespace icotes::files {

using detail::judge_read;
using detail::read_call;
using detail::read_fd;
using detail::to_ms;
using detail::type_of;

namespace {

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
  if (std::string_view(bytes).substr(0, 8192).find('\0') != std::string_view::npos) {
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

// `r` for an image of type `mime`: its bytes when `shown` and small
// enough, else a note saying why not.
void set_image(ReadResult& r, std::string_view mime, bool shown, std::string bytes) {
  r.binary = true;
  r.encoding = "binary";
  r.mime_type = std::string(mime);
  const std::string what =
      r.path + " is a " + std::string(image_name(mime)) + " image (" + std::to_string(r.size) + " bytes)";
  if (!shown) {
    r.note = what + "; its content is not shown here: read_file shows it as an image";
  } else if (r.size > kMaxImageBytes) {
    r.note = what + ", larger than the " + std::to_string(kMaxImageBytes) + "-byte limit for images; it is not shown";
  } else {
    r.note = what + ", shown as an image";
    r.image = std::move(bytes);
  }
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

// Long: one pass from the bytes to a page (image, binary, text), each
// shape answered where it is recognised.
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
    set_image(r, mime, p.images, std::move(loaded->bytes));
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

}  // namespace icotes::files
