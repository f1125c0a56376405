// files/write, files/edit and files/patch: the current content (editor
// or disk), judged where it lands, replaced through the editor or by an
// atomic rename.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "files_internal.hpp"
#include "icotes/fd_io.hpp"
#include "icotes/files.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/random_token.hpp"
#include "icotes/text.hpp"

namespace icotes::files {

using detail::changed_meanwhile;
using detail::judge_change;
using detail::judge_read;
using detail::parent_of;
using detail::read_call;
using detail::read_fd;

namespace {

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

// The temporary file beside `name` (a long name gets a short temporary one:
// NAME_MAX is 255 bytes).
std::string temporary_name(const std::string& name) {
  return (name.size() > 200 ? std::string(".icotes") : "." + name + ".icotes") + "-" + random_suffix() + ".tmp";
}

// The lengths of the common prefix and suffix of `old` and `now` (bytes,
// not overlapping, each ending on a UTF-8 character boundary of `old`).
std::pair<std::size_t, std::size_t> common_ends(const std::string& old, const std::string& now) {
  std::size_t pre = 0;
  const std::size_t max_pre = std::min(old.size(), now.size());
  while (pre < max_pre && old[pre] == now[pre]) ++pre;
  while (pre > 0 && (static_cast<unsigned char>(old[pre]) & 0xC0) == 0x80) --pre;
  std::size_t suf = 0;
  while (suf < old.size() - pre && suf < now.size() - pre && old[old.size() - 1 - suf] == now[now.size() - 1 - suf])
    ++suf;
  while (suf > 0 && (static_cast<unsigned char>(old[old.size() - suf]) & 0xC0) == 0x80) --suf;
  return {pre, suf};
}

// The regular file `name` in `dir` (shown as `rel`), opened in the directory
// judged, never following a link put there since; `st` is its stat.
Result<std::string> read_regular_beneath(int dir, const std::string& name, const std::string& rel, struct stat& st) {
  Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOENT) return changed_meanwhile(rel);
    return errno_error(errno, "open", rel);
  }
  if (::fstat(fd.get(), &st) != 0) return errno_error(errno, "stat", rel);
  if (S_ISDIR(st.st_mode)) return make_error(error_code::kInvalidParams, rel + " is a directory", json{{"path", rel}});
  if (!S_ISREG(st.st_mode))
    return make_error(error_code::kInvalidParams, rel + " is not a regular file", json{{"path", rel}});
  return read_fd(fd.get(), rel, static_cast<std::size_t>(st.st_size));
}

}  // namespace

// Long: the editor's buffer and the file on disk are two sources, each judged
// where it lands before it is read or changed. Kept whole: the two branches
// are the same checks in the same order, and a split would add private
// members to the public files.hpp.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
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
  struct stat st {};
  auto bytes = read_regular_beneath(c.target.dir.get(), c.target.name, rel, st);
  if (!bytes) return std::move(bytes).error();
  c.exists = true;
  c.bytes = std::move(*bytes);
  c.mode = st.st_mode & 07777;
  c.target.st = st;
  return c;
}

// One atomic replace (judge, temporary file, write, chmod, fsync, rename, fsync the directory) whose order is the
// guarantee; each step's failure removes the temporary file.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
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
      const auto [pre, suf] = common_ends(old, content);
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

// Applies edit number `i` (`which` names it in errors) to `text`, counting
// its replacements. Errors: kInvalidParams, kNotFound (not_found()).
Status apply_edit(const std::string& rel, const std::string& which, std::size_t i, const Edit& e, std::string& text,
                  std::size_t& replacements) {
  if (e.old_string.empty())
    return make_error(error_code::kInvalidParams,
                      "edit_file" + which + ": oldString is empty; " + rel + " already exists",
                      json{{"path", rel}, {"edit", i}});
  if (e.old_string == e.new_string)
    return make_error(error_code::kInvalidParams, "edit_file" + which + ": oldString and newString are identical",
                      json{{"path", rel}, {"edit", i}});
  const Occurrences found = find_occurrences(text, e.old_string);
  if (found.ranges.empty()) return not_found(rel, which, i, text, e.old_string);
  if (found.ranges.size() > 1 && !e.replace_all) {
    return make_error(error_code::kInvalidParams,
                      "edit_file" + which + ": oldString occurs " + std::to_string(found.ranges.size()) + " times in " +
                          rel + " (lines " + join_lines(found.lines) +
                          "); add surrounding context to make it unique or set replaceAll",
                      json{{"path", rel}, {"edit", i}, {"lines", found.lines}});
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
    ++replacements;
    if (!e.replace_all) break;
  }
  out.append(text, pos, std::string::npos);
  text = std::move(out);
  return ok_status();
}

// `bytes`, the content of `rel`, may be edited: it is what the client
// expects (`expected_sha256`) and UTF-8 text. Errors: kConflict,
// kInvalidParams.
Status check_editable(const std::string& rel, const std::string& bytes,
                      const std::optional<std::string>& expected_sha256) {
  if (expected_sha256) {
    const std::string actual = sha256_hex(bytes);
    if (actual != *expected_sha256) return conflict_sha(rel, *expected_sha256, actual);
  }
  if (std::string_view(bytes).substr(0, 8192).find('\0') != std::string_view::npos || !is_valid_utf8(bytes))
    return make_error(error_code::kInvalidParams,
                      "edit_file: " + rel + " is not UTF-8 text; edit_file only edits UTF-8 files",
                      json{{"path", rel}});
  return ok_status();
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
    if (auto st = check_editable(*rel, cur->bytes, p.expected_sha256); !st) return st.error();
    text = cur->bytes;
    for (std::size_t i = 0; i < p.edits.size(); ++i) {
      const std::string which = p.edits.size() > 1 ? " (edit " + std::to_string(i + 1) + ")" : std::string();
      if (auto st = apply_edit(*rel, which, i, p.edits[i], text, r.replacements); !st) return st.error();
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

// Long: planning, writing and rolling back share one plan (every file judged
// and matched before any is written).
// Plan, write and roll back share the local plan and its lambdas; splitting them would put the plan type and three
// private members in the public files.hpp.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
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

}  // namespace icotes::files
