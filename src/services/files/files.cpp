#include "icotes/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "icotes/fd_io.hpp"
#include "icotes/rpc.hpp"
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

std::string random_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(12, '0');
  for (auto& c : s) c = hex[rng() & 0xF];
  return s;
}

// 1-based line numbers of each occurrence of `needle` in `text`.
std::vector<std::int64_t> occurrence_lines(std::string_view text, std::string_view needle) {
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  std::int64_t line = 1;
  std::size_t counted = 0;
  while ((pos = text.find(needle, pos)) != std::string_view::npos) {
    line += std::count(text.begin() + static_cast<std::ptrdiff_t>(counted), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n');
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

}  // namespace

Result<ReadResult> Service::read(const ReadParams& p) const {
  auto rel = root_.relative(p.path);
  if (!rel) return std::move(rel).error();
  ReadResult r;
  r.path = *rel;
  Decoded d;
  if (auto doc = documents_.get(*rel)) {
    r.source = "editor";
    r.size = doc->text.size();
    r.sha256 = sha256_hex(doc->text);
    d.text = std::move(doc->text);
    d.encoding = "utf-8";
  } else {
    auto fd = root_.open_beneath(*rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);  // a FIFO must not block the open
    if (!fd) return std::move(fd).error();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return errno_error(errno, "stat", *rel);
    if (S_ISDIR(st.st_mode))
      return make_error(error_code::kInvalidParams, "read_file: " + *rel + " is a directory; use list_directory",
                        json{{"path", *rel}});
    if (!S_ISREG(st.st_mode))
      return make_error(error_code::kInvalidParams, "read_file: " + *rel + " is not a regular file", json{{"path", *rel}});
    auto bytes = read_fd(fd->get(), *rel, static_cast<std::size_t>(st.st_size));
    if (!bytes) return std::move(bytes).error();
    r.source = "disk";
    r.size = bytes->size();
    r.sha256 = sha256_cache_.get(st, *bytes);
    d = decode(std::move(*bytes));
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
  std::size_t end = begin;
  std::int64_t last = start - 1;
  bool cut_line = false;
  if (text.size() - begin <= max_bytes && r.total_lines - start + 1 <= limit) {
    // The rest of the file fits both budgets: what the loop below finds, without a search per line.
    end = text.size();
    last = r.total_lines;
  }
  while (last - start + 1 < limit && end < text.size()) {
    std::size_t nl = text.find('\n', end);
    const std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    if (next - begin > max_bytes) {
      if (last < start) {  // a single line longer than the byte budget: cut it
        end = begin + max_bytes;
        while (end > begin && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // UTF-8 boundary
        last = start;
        cut_line = true;
      }
      break;
    }
    end = next;
    ++last;
  }
  r.start_line = start;
  r.end_line = last;
  r.truncated = last < r.total_lines || cut_line;
  if (begin == 0 && end == text.size()) {
    r.content = std::move(d.text);
  } else {
    r.content.assign(text.substr(begin, end - begin));
  }
  if (r.truncated) {
    if (cut_line) {
      r.note = "Line " + std::to_string(start) + " of " + *rel + " is longer than " + std::to_string(max_bytes) +
               " bytes and was cut; pass a larger maxBytes to read it whole.";
    } else {
      r.note = "Showing lines " + std::to_string(start) + "-" + std::to_string(last) + " of " +
               std::to_string(r.total_lines) + " in " + *rel + ". To read more, call read_file with offset=" +
               std::to_string(last + 1) + (p.limit ? " and limit=" + std::to_string(limit) : std::string()) +
               " (a negative offset reads from the end).";
    }
  }
  return r;
}

std::string Sha256Cache::get(const struct stat& st, std::string_view bytes) {
  // Like git's racy-clean rule: a file modified within the last 2 s may
  // change again within the same timestamp, so it is hashed every time.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto mtime = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  if (now - mtime < std::chrono::seconds(2) || static_cast<std::size_t>(st.st_size) != bytes.size()) return sha256_hex(bytes);
  const Key key{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
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
  for (std::int64_t v : {static_cast<std::int64_t>(k.dev), static_cast<std::int64_t>(k.size), k.mtime_s, k.mtime_ns, k.ctime_s, k.ctime_ns})
    h = h * 1000003u ^ std::hash<std::int64_t>()(v);
  return h;
}

Result<Service::Current> Service::current(const std::string& rel) const {
  Current c;
  if (auto doc = documents_.get(rel)) {
    c.exists = true;
    c.open = true;
    c.bytes = doc->text;
    c.doc = std::move(*doc);
    return c;
  }
  auto fd = root_.open_beneath(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) {
    if (fd.error().code == error_code::kNotFound) return c;
    return std::move(fd).error();
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return errno_error(errno, "stat", rel);
  if (S_ISDIR(st.st_mode)) return make_error(error_code::kInvalidParams, rel + " is a directory", json{{"path", rel}});
  if (!S_ISREG(st.st_mode)) return make_error(error_code::kInvalidParams, rel + " is not a regular file", json{{"path", rel}});
  auto bytes = read_fd(fd->get(), rel, static_cast<std::size_t>(st.st_size));
  if (!bytes) return std::move(bytes).error();
  c.exists = true;
  c.bytes = std::move(*bytes);
  c.mode = st.st_mode & 07777;
  return c;
}

Result<bool> Service::mkdir(const std::string& path) {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return false;
  bool created = false;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t slash = rel->find('/', pos);
    const std::string prefix = rel->substr(0, slash);
    auto parent = root_.open_parent(prefix);
    if (!parent) return std::move(parent).error();
    if (::mkdirat(parent->first.get(), parent->second.c_str(), 0777) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      return errno_error(errno, "mkdir", prefix);
    }
    // Whatever is there must be a directory beneath the root (a symlink to one inside is fine).
    auto check = root_.open_beneath(prefix, O_PATH | O_DIRECTORY);
    if (!check) {
      if (check.error().code == error_code::kNotFound || check.error().code == error_code::kIoError)
        return make_error(error_code::kConflict, "mkdir " + prefix + ": exists and is not a directory", json{{"path", prefix}});
      return std::move(check).error();
    }
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return created;
}

Result<bool> Service::write_atomic(const std::string& rel_in, std::string_view content, std::optional<mode_t> mode) {
  if (rel_in.empty()) return make_error(error_code::kInvalidParams, "cannot write the workspace root itself");
  std::string rel = rel_in;
  // Writing through a symlink writes its target, which must lie beneath the root.
  for (int hops = 0;; ++hops) {
    auto parent = root_.open_parent(rel);
    if (!parent) {
      if (parent.error().code != error_code::kNotFound) return std::move(parent).error();
      const std::size_t slash = rel.rfind('/');
      auto made = mkdir(rel.substr(0, slash));
      if (!made) return std::move(made).error();
      continue;
    }
    struct stat st {};
    if (::fstatat(parent->first.get(), parent->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      if (hops > 40) return errno_error(ELOOP, "write", rel_in);
      auto target = root_.open_beneath(rel, O_PATH);
      if (!target) return std::move(target).error();
      char buf[PATH_MAX];
      const std::string proc = "/proc/self/fd/" + std::to_string(target->get());
      const ssize_t n = ::readlink(proc.c_str(), buf, sizeof buf - 1);
      if (n < 0) return errno_error(errno, "readlink", rel);
      auto resolved = root_.relative(std::string_view(buf, static_cast<std::size_t>(n)));
      if (!resolved) return std::move(resolved).error();
      rel = *resolved;
      continue;
    }
    break;
  }
  auto parent = root_.open_parent(rel);
  if (!parent) return std::move(parent).error();
  // fsync needs a readable directory fd, not O_PATH.
  Fd dir(::openat(parent->first.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return errno_error(errno, "open directory of", rel);
  const std::string& name = parent->second;
  struct stat st {};
  bool exists = false;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return make_error(error_code::kConflict, rel + " is a directory", json{{"path", rel}});
    exists = true;
    if (!mode) mode = st.st_mode & 07777;
  }
  const std::string tmp = "." + name + ".icotes-" + random_suffix() + ".tmp";
  Fd fd(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
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
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), name.c_str()) != 0) return fail(errno_error(errno, "rename onto", rel));
  ::fsync(dir.get());
  return !exists;
}

Result<std::string> Service::replace_content(const std::string& rel, const Current& cur, const std::string& content) {
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
        return make_error(error_code::kConflict, "the editor (" + owner->editor_name() + ") did not apply the edit to " + rel,
                          json{{"path", rel}});
      // The editor confirms with didChange; wait for it so reads see the new text.
      documents_.wait_for_change(rel, cur.doc.version, std::chrono::seconds(2));
      return std::string("editor");
    }
  }
  auto w = write_atomic(rel, content, cur.exists ? std::optional<mode_t>(cur.mode) : std::nullopt);
  if (!w) return std::move(w).error();
  return std::string("disk");
}

Result<WriteResult> Service::write(const WriteParams& p) {
  auto rel = root_.relative(p.path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return make_error(error_code::kInvalidParams, "write_file: the path names the workspace root");
  auto cur = current(*rel);
  if (!cur) return std::move(cur).error();
  if (p.expected_sha256) {
    if (!cur->exists)
      return make_error(error_code::kConflict, "write_file: " + *rel + " does not exist but expectedSha256 was given",
                        json{{"path", *rel}});
    const std::string actual = sha256_hex(cur->bytes);
    if (actual != *p.expected_sha256) return conflict_sha(*rel, *p.expected_sha256, actual);
  }
  auto via = replace_content(*rel, *cur, p.content);
  if (!via) return std::move(via).error();
  WriteResult r;
  r.path = *rel;
  r.bytes = p.content.size();
  r.sha256 = sha256_hex(p.content);
  r.created = !cur->exists;
  r.via = *via;
  return r;
}

Result<EditResult> Service::edit(const EditParams& p) {
  auto rel = root_.relative(p.path);
  if (!rel) return std::move(rel).error();
  if (p.edits.empty()) return make_error(error_code::kInvalidParams, "edit_file: edits is empty");
  auto cur = current(*rel);
  if (!cur) return std::move(cur).error();
  EditResult r;
  r.path = *rel;
  std::string text;
  if (!cur->exists) {
    if (p.edits.size() != 1 || !p.edits[0].old_string.empty())
      return make_error(error_code::kNotFound,
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
                        "edit_file: " + *rel + " is not UTF-8 text; edit_file only edits UTF-8 files", json{{"path", *rel}});
    text = cur->bytes;
    for (std::size_t i = 0; i < p.edits.size(); ++i) {
      const Edit& e = p.edits[i];
      const std::string which = p.edits.size() > 1 ? " (edit " + std::to_string(i + 1) + ")" : std::string();
      if (e.old_string.empty())
        return make_error(error_code::kInvalidParams, "edit_file" + which + ": oldString is empty; " + *rel + " already exists",
                          json{{"path", *rel}, {"edit", i}});
      if (e.old_string == e.new_string)
        return make_error(error_code::kInvalidParams, "edit_file" + which + ": oldString and newString are identical",
                          json{{"path", *rel}, {"edit", i}});
      const auto lines = occurrence_lines(text, e.old_string);
      if (lines.empty()) {
        return make_error(error_code::kNotFound,
                          "edit_file" + which + ": oldString was not found in " + *rel +
                              (i > 0 ? " (after the earlier edits were applied)" : std::string()) +
                              "; re-read the file and copy the text exactly, including whitespace",
                          json{{"path", *rel}, {"edit", i}});
      }
      if (lines.size() > 1 && !e.replace_all) {
        return make_error(error_code::kInvalidParams,
                          "edit_file" + which + ": oldString occurs " + std::to_string(lines.size()) + " times in " + *rel +
                              " (lines " + join_lines(lines) + "); add surrounding context to make it unique or set replaceAll",
                          json{{"path", *rel}, {"edit", i}, {"lines", lines}});
      }
      std::string out;
      out.reserve(text.size());
      std::size_t pos = 0;
      for (;;) {
        const std::size_t hit = text.find(e.old_string, pos);
        if (hit == std::string::npos) break;
        out.append(text, pos, hit - pos);
        out += e.new_string;
        pos = hit + e.old_string.size();
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
  auto via = replace_content(*rel, *cur, text);
  if (!via) return std::move(via).error();
  r.applied = true;
  r.via = *via;
  return r;
}

Result<PatchResult> Service::apply_patch(std::string_view patch) {
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
    if (rel->empty()) return make_error(error_code::kInvalidParams, "apply_patch: a file patch names the workspace root");
    for (const auto& pl : plan) {
      if (pl.rel == *rel) return make_error(error_code::kInvalidParams, "apply_patch: " + *rel + " appears twice in the patch");
    }
    auto cur = current(*rel);
    if (!cur) return std::move(cur).error();
    Planned pl;
    pl.rel = *rel;
    if (fp.old_path.empty()) {
      if (cur->exists) return make_error(error_code::kConflict, "apply_patch: " + *rel + " already exists but the patch creates it", json{{"path", *rel}});
      pl.action = "created";
    } else if (!cur->exists) {
      return make_error(error_code::kNotFound, "apply_patch: " + *rel + " does not exist", json{{"path", *rel}});
    } else {
      pl.action = fp.new_path.empty() ? "deleted" : "modified";
    }
    auto after = apply_hunks(cur->bytes, fp, *rel);
    if (!after) return std::move(after).error();
    if (pl.action == "deleted" && !after->empty())
      return make_error(error_code::kConflict, "apply_patch: deleting " + *rel + " but the patch does not remove all of its lines", json{{"path", *rel}});
    pl.before = std::move(*cur);
    pl.after = std::move(*after);
    plan.push_back(std::move(pl));
  }
  // Everything matched: now write. On a failure, put back what was written.
  PatchResult result;
  std::vector<const Planned*> done;
  auto rollback = [&](Error e) -> Result<PatchResult> {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      const Planned& pl = **it;
      if (pl.action == "created") {
        (void)remove(pl.rel, false);
      } else {
        (void)replace_content(pl.rel, Current{}, pl.before.bytes);
      }
    }
    e.message += " (no file was changed)";
    return e;
  };
  for (const auto& pl : plan) {
    if (pl.action == "deleted") {
      if (auto s = remove(pl.rel, false); !s) return rollback(s.error());
    } else {
      auto via = replace_content(pl.rel, pl.before, pl.after);
      if (!via) return rollback(std::move(via).error());
    }
    done.push_back(&pl);
    result.files.push_back({pl.rel, pl.action, pl.action == "deleted" ? std::string() : sha256_hex(pl.after)});
  }
  return result;
}

void render_listing(ListResult& r) {
  std::string& js = r.entries_json;
  std::string& text = r.text;
  js.clear();
  text.clear();
  js.reserve(r.entries.size() * 80 + 2);
  text.reserve(r.entries.size() * 40 + 80);
  js.push_back('[');
  char num[24];
  auto append_number = [&](std::string& out, auto v) {
    const auto res = std::to_chars(num, num + sizeof num, v);
    out.append(num, static_cast<std::size_t>(res.ptr - num));
  };
  for (std::size_t i = 0; i < r.entries.size(); ++i) {
    const DirEntry& e = r.entries[i];
    if (i) js.push_back(',');
    js += "{\"path\":";
    append_json_string(js, e.path);
    js += ",\"type\":\"";
    js += e.type;
    js += "\",\"size\":";
    append_number(js, e.size);
    js += ",\"mtime\":";
    append_number(js, e.mtime_ms);
    js.push_back('}');

    text += e.type == "directory" ? "[DIR]  " : e.type == "symlink" ? "[LINK] " : e.type == "file" ? "[FILE] " : "[OTHER] ";
    text += e.path;
    if (e.type == "directory") text += '/';
    if (e.type == "file") {
      text += " (";
      append_number(text, e.size);
      text += " bytes)";
    }
    text += '\n';
  }
  js.push_back(']');
  if (r.truncated) text += "(truncated at 10000 entries; list a subdirectory or lower depth)\n";
}

Result<std::shared_ptr<const ListResult>> Service::list(const std::string& path, int depth,
                                                        const CancellationToken* cancel, bool use_cache) const {
  auto rel = root_.relative(path.empty() ? "." : path);
  if (!rel) return std::move(rel).error();
  auto fd = root_.open_beneath(*rel, O_RDONLY | O_DIRECTORY);
  if (!fd) {
    if (fd.error().code == error_code::kNotFound || fd.error().code == error_code::kIoError) {
      auto st = stat(path);
      if (st && st->type != "directory")
        return make_error(error_code::kInvalidParams, "list_directory: " + *rel + " is not a directory; use read_file",
                          json{{"path", *rel}});
    }
    return std::move(fd).error();
  }
  depth = std::clamp(depth, 1, 64);
  struct stat dir_st {};
  if (::fstat(fd->get(), &dir_st) != 0) return errno_error(errno, "stat", *rel);
  use_cache = use_cache && listing_cache_.enabled();
  if (use_cache) {
    if (auto hit = listing_cache_.find(*rel, depth, dir_st.st_dev, dir_st.st_ino)) return hit;
  }
  ListingCache::Build build;
  if (use_cache) {
    build = listing_cache_.begin(fd->get());
    listing_cache_.watch(build, fd->get());  // before reading it
  }
  auto r = std::make_shared<ListResult>();
  r->path = *rel;
  std::function<Status(int, const std::string&, int)> walk = [&](int dirfd, const std::string& prefix, int level) -> Status {
    if (cancel && cancel->cancelled()) return make_error(error_code::kRequestCancelled, "list_directory: cancelled");
    const int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return errno_error(errno, "open", prefix);
    DIR* dir = ::fdopendir(dup);
    if (!dir) {
      ::close(dup);
      return errno_error(errno, "read directory", prefix);
    }
    std::vector<std::pair<std::string, unsigned char>> names;
    while (struct dirent* e = ::readdir(dir)) {
      const std::string_view n = e->d_name;
      if (n == "." || n == ".." || n == ".git") continue;
      names.emplace_back(n, e->d_type);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto& [n, d_type] : names) {
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
      DirEntry de;
      de.path = prefix.empty() ? n : prefix + "/" + n;
      de.type = type_of(st.st_mode);
      de.size = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
      de.mtime_ms = to_ms(st.st_mtim);
      r->entries.push_back(de);
      if (S_ISDIR(st.st_mode) && level < depth) {
        if (!sub.valid()) sub = Fd(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub.valid()) continue;  // unreadable subdirectory: listed, not entered
        if (auto s = walk(sub.get(), de.path, level + 1); !s) return s;
      }
    }
    return ok_status();
  };
  if (auto s = walk(fd->get(), "", 1); !s) {
    if (use_cache) listing_cache_.abandon(std::move(build));
    return s.error();
  }
  render_listing(*r);
  if (use_cache) listing_cache_.store(*rel, depth, dir_st.st_dev, dir_st.st_ino, std::move(build), r);
  return std::shared_ptr<const ListResult>(std::move(r));
}

Result<StatResult> Service::stat(const std::string& path) const {
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

Result<ResourceContent> Service::read_resource(const std::string& path) const {
  auto r = read({path, 1, std::numeric_limits<std::int64_t>::max(), kMaxResourceBytes + 1});
  if (!r) return std::move(r).error();
  if (r->size > kMaxResourceBytes)
    return make_error(error_code::kInvalidParams, r->path + " is " + std::to_string(r->size) + " bytes, more than the " +
                                                      std::to_string(kMaxResourceBytes) + "-byte resource limit; use read_file to page it");
  ResourceContent c;
  c.path = r->path;
  c.mime_type = r->mime_type;
  c.binary = r->binary;
  if (!r->binary) {
    c.data = std::move(r->content);
    return c;
  }
  auto fd = root_.open_beneath(r->path, O_RDONLY);
  if (!fd) return std::move(fd).error();
  auto bytes = read_fd(fd->get(), r->path, r->size);
  if (!bytes) return std::move(bytes).error();
  c.data = std::move(*bytes);
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

std::vector<std::pair<std::string, bool>> sorted_entries(int dirfd) {
  std::vector<std::pair<std::string, bool>> out;
  const int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return out;
  DIR* dir = ::fdopendir(dup);
  if (!dir) {
    ::close(dup);
    return out;
  }
  while (struct dirent* e = ::readdir(dir)) {
    const std::string_view n = e->d_name;
    if (n == "." || n == ".." || n == ".git") continue;
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
                                                     const CancellationToken* cancel) const {
  more = false;
  std::vector<std::string> out;
  std::function<bool(int, const std::string&)> walk = [&](int dirfd, const std::string& prefix) -> bool {
    for (const auto& [name, is_dir] : sorted_entries(dirfd)) {
      if (cancel && cancel->cancelled()) return false;
      const std::string path = prefix.empty() ? name : prefix + "/" + name;
      if (!after.empty() && compare_paths(path, after) <= 0) {
        // Skip, unless `after` lies inside this directory.
        if (!(is_dir && after.size() > path.size() && after.compare(0, path.size(), path) == 0 && after[path.size()] == '/'))
          continue;
      }
      if (is_dir) {
        Fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.valid() && !walk(sub.get(), path)) return false;
        continue;
      }
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
  walk(fd->get(), "");
  if (cancel && cancel->cancelled()) return make_error(error_code::kRequestCancelled, "listing cancelled");
  return out;
}

Status Service::move(const std::string& source, const std::string& destination, bool overwrite) {
  auto from = root_.relative(source);
  if (!from) return std::move(from).error();
  auto to = root_.relative(destination);
  if (!to) return std::move(to).error();
  if (from->empty() || to->empty()) return make_error(error_code::kInvalidParams, "move_file: cannot move the workspace root");
  if (*from == *to) return make_error(error_code::kInvalidParams, "move_file: source and destination are the same");
  if (to->size() > from->size() && to->compare(0, from->size(), *from) == 0 && (*to)[from->size()] == '/')
    return make_error(error_code::kInvalidParams, "move_file: cannot move " + *from + " into itself");
  auto src = root_.open_parent(*from);
  if (!src) return std::move(src).error();
  struct stat st {};
  if (::fstatat(src->first.get(), src->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error(errno, "move_file: stat", *from);
  if (const std::size_t slash = to->rfind('/'); slash != std::string::npos) {
    auto made = mkdir(to->substr(0, slash));
    if (!made) return std::move(made).error();
  }
  auto dst = root_.open_parent(*to);
  if (!dst) return std::move(dst).error();
  const unsigned flags = overwrite ? 0 : RENAME_NOREPLACE;
  if (::renameat2(src->first.get(), src->second.c_str(), dst->first.get(), dst->second.c_str(), flags) != 0) {
    if (errno == EEXIST)
      return make_error(error_code::kConflict, "move_file: " + *to + " already exists; set overwrite to replace it",
                        json{{"path", *to}});
    return errno_error(errno, "move_file: rename " + *from + " to", *to);
  }
  return ok_status();
}

Status Service::remove(const std::string& path, bool recursive) {
  auto rel = root_.relative(path);
  if (!rel) return std::move(rel).error();
  if (rel->empty()) return make_error(error_code::kInvalidParams, "delete_file: refusing to delete the workspace root");
  auto parent = root_.open_parent(*rel);
  if (!parent) return std::move(parent).error();
  const int dirfd = parent->first.get();
  const std::string& name = parent->second;
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_error(errno, "delete_file", *rel);
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return errno_error(errno, "delete_file", *rel);
    return ok_status();
  }
  if (!recursive) {
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) {
      if (errno == ENOTEMPTY || errno == EEXIST)
        return make_error(error_code::kConflict, "delete_file: directory " + *rel + " is not empty; set recursive to delete it and its contents",
                          json{{"path", *rel}});
      return errno_error(errno, "delete_file", *rel);
    }
    return ok_status();
  }
  // Depth-first through directory fds, never following symlinks.
  std::function<Status(int, const std::string&, const std::string&)> rm = [&](int at, const std::string& n, const std::string& shown) -> Status {
    Fd fd(::openat(at, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return errno_error(errno, "delete_file", shown);
    const int dup = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
    DIR* dir = dup >= 0 ? ::fdopendir(dup) : nullptr;
    if (!dir) {
      if (dup >= 0) ::close(dup);
      return errno_error(errno, "delete_file", shown);
    }
    std::vector<std::pair<std::string, bool>> entries;
    while (struct dirent* e = ::readdir(dir)) {
      const std::string_view en = e->d_name;
      if (en == "." || en == "..") continue;
      struct stat est {};
      if (::fstatat(fd.get(), e->d_name, &est, AT_SYMLINK_NOFOLLOW) != 0) continue;
      entries.emplace_back(std::string(en), S_ISDIR(est.st_mode));
    }
    ::closedir(dir);
    for (const auto& [en, is_dir] : entries) {
      if (is_dir) {
        if (auto s = rm(fd.get(), en, shown + "/" + en); !s) return s;
      } else if (::unlinkat(fd.get(), en.c_str(), 0) != 0 && errno != ENOENT) {
        return errno_error(errno, "delete_file", shown + "/" + en);
      }
    }
    if (::unlinkat(at, n.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return errno_error(errno, "delete_file", shown);
    return ok_status();
  };
  return rm(dirfd, name, *rel);
}

}  // namespace icotes::files
