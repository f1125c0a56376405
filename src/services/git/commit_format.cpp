#include "commit_format.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace icotes::git::detail {

Result<CommitPtr> lookup_commit(const Repo& r, std::string_view rev) {
  auto hex = r.resolve(rev);
  if (!hex) return std::move(hex).error();
  git_oid oid;
  git_oid_fromstr(&oid, hex->c_str());
  git_object* obj = nullptr;
  if (int rc = git_object_lookup(&obj, r.repo, &oid, GIT_OBJECT_ANY); rc != 0) return libgit2_error(rc, "read " + *hex);
  ObjectPtr owned(obj);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0)
    return make_error(error_code::kInvalidParams, "revision '" + std::string(rev) + "' is a " +
                                                      git_object_type2string(git_object_type(obj)) +
                                                      ", not a commit; give a commit, branch or tag");
  return CommitPtr(reinterpret_cast<git_commit*>(peeled));
}

Result<TreePtr> head_tree(const Repo& r) {
  git_object* obj = nullptr;
  int rc = git_revparse_single(&obj, r.repo, "HEAD^{tree}");
  if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) return TreePtr();
  if (rc != 0) {
    // An unborn HEAD surfaces as "reference not found" on some paths.
    if (git_repository_head_unborn(r.repo) == 1) return TreePtr();
    return libgit2_error(rc, "read HEAD");
  }
  return TreePtr(reinterpret_cast<git_tree*>(obj));
}

// --- dates -----------------------------------------------------------------------

namespace {

constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// The signer's wall-clock time: UTC shifted by the offset (git's
// time_to_tm with the tz).
std::tm local_tm(const git_time& t) {
  std::time_t shifted = static_cast<std::time_t>(t.time + std::int64_t{t.offset} * 60);
  std::tm tm{};
  gmtime_r(&shifted, &tm);
  return tm;
}

}  // namespace

std::string tz_offset(int offset_minutes) {
  char buf[16];
  const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  std::snprintf(buf, sizeof buf, "%c%02d%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

std::string iso_strict_date(const git_time& t) {
  const std::tm tm = local_tm(t);
  const int a = t.offset < 0 ? -t.offset : t.offset;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.offset < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

std::string normal_date(const git_time& t) {
  const std::tm tm = local_tm(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %s %d %02d:%02d:%02d %d %s", kWeekdays[tm.tm_wday], kMonths[tm.tm_mon], tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900, tz_offset(t.offset).c_str());
  return buf;
}

// --- commits ---------------------------------------------------------------------

namespace {

// One line of `s` from `pos`, with its '\n' (pretty.c get_one_line).
std::string_view one_line(std::string_view s, std::size_t pos) {
  std::size_t nl = s.find('\n', pos);
  return s.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl + 1 - pos);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// The line without trailing whitespace (pretty.c is_blank_line's trim).
std::string_view rtrim(std::string_view line) {
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  return line;
}

std::size_t skip_blank_lines(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    std::string_view line = one_line(s, pos);
    if (!rtrim(line).empty()) break;
    pos += line.size();
  }
  return pos;
}

json signature_json(const git_signature* sig) {
  if (!sig) return json{{"name", ""}, {"email", ""}, {"date", ""}};
  return json{{"name", sig->name ? sig->name : ""},
              {"email", sig->email ? sig->email : ""},
              {"date", iso_strict_date(sig->when)}};
}

}  // namespace

MessageParts split_message(std::string_view msg) {
  MessageParts out;
  std::size_t pos = skip_blank_lines(msg, 0);
  bool first = true;
  while (pos < msg.size()) {
    std::string_view line = one_line(msg, pos);
    pos += line.size();
    std::string_view text = rtrim(line);
    if (text.empty()) break;
    if (!first) out.subject += ' ';
    out.subject += text;
    first = false;
  }
  pos = skip_blank_lines(msg, pos);
  out.body = std::string(msg.substr(pos));
  return out;
}

json commit_json(const git_commit* c) {
  json parents = json::array();
  for (unsigned i = 0, n = git_commit_parentcount(c); i < n; ++i)
    parents.push_back(oid_hex(*git_commit_parent_id(c, i)));
  const char* raw = git_commit_message_raw(c);
  MessageParts parts = split_message(raw ? raw : "");
  return json{{"hash", oid_hex(*git_commit_id(c))},
              {"parents", std::move(parents)},
              {"author", signature_json(git_commit_author(c))},
              {"committer", signature_json(git_commit_committer(c))},
              {"subject", std::move(parts.subject)},
              {"body", std::move(parts.body)}};
}

// --- abbreviated ids ---------------------------------------------------------------

namespace {

// Objects in one pack index: the last fan-out entry (gitformat-pack(5):
// version 2 starts with "\377tOc" and a version word; version 1 has the
// fan-out table at offset 0).
std::uint64_t idx_object_count(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned char head[8];
  std::uint64_t count = 0;
  if (::pread(fd, head, sizeof head, 0) == static_cast<ssize_t>(sizeof head)) {
    const bool v2 = head[0] == 0xff && head[1] == 't' && head[2] == 'O' && head[3] == 'c';
    const off_t at = (v2 ? 8 : 0) + 255 * 4;
    unsigned char n[4];
    if (::pread(fd, n, sizeof n, at) == static_cast<ssize_t>(sizeof n))
      count = (std::uint64_t{n[0]} << 24) | (std::uint64_t{n[1]} << 16) | (std::uint64_t{n[2]} << 8) | n[3];
  }
  ::close(fd);
  return count;
}

std::uint64_t packed_object_count(git_repository* repo) {
  const std::string pack_dir = std::string(git_repository_commondir(repo)) + "objects/pack/";
  DIR* dir = ::opendir(pack_dir.c_str());
  if (!dir) return 0;
  std::uint64_t count = 0;
  while (const dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name.size() <= 4 || name.substr(name.size() - 4) != ".idx") continue;
    // git opens only indexes whose pack exists (packfile.c prepare_pack).
    std::string pack = pack_dir + std::string(name.substr(0, name.size() - 4)) + ".pack";
    if (::access(pack.c_str(), F_OK) != 0) continue;
    count += idx_object_count(pack_dir + std::string(name));
  }
  ::closedir(dir);
  return count;
}

}  // namespace

int default_abbrev(git_repository* repo) {
  git_config* cfg = nullptr;
  if (git_repository_config_snapshot(&cfg, repo) == 0) {
    ConfigPtr owned(cfg);
    git_buf value = GIT_BUF_INIT;
    if (git_config_get_string_buf(&value, cfg, "core.abbrev") == 0) {
      std::string v(value.ptr, value.size);
      git_buf_dispose(&value);
      if (v == "no" || v == "false" || v == "off") return GIT_OID_HEXSZ;
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (end && *end == '\0' && !v.empty()) return n < 4 ? 4 : n > GIT_OID_HEXSZ ? GIT_OID_HEXSZ : static_cast<int>(n);
      // "auto" (or anything else): computed below.
    }
  }
  const std::uint64_t count = packed_object_count(repo);
  int msb = 0;
  for (std::uint64_t c = count; c > 1; c >>= 1) ++msb;
  int len = (msb + 1 + 1) / 2;
  return len < 7 ? 7 : len;
}

std::string abbrev_oid(git_odb* odb, const git_oid& oid, int min_len) {
  const std::string hex = oid_hex(oid);
  if (git_oid_is_zero(&oid) || !odb) return hex.substr(0, static_cast<std::size_t>(min_len));
  int len = min_len;
  while (len < GIT_OID_HEXSZ) {
    git_oid found;
    int rc = git_odb_exists_prefix(&found, odb, &oid, static_cast<std::size_t>(len));
    if (rc == GIT_ENOTFOUND || (rc == 0 && git_oid_equal(&found, &oid))) break;
    if (rc != 0 && rc != GIT_EAMBIGUOUS) break;
    ++len;
  }
  return hex.substr(0, static_cast<std::size_t>(len));
}

// --- quoting -------------------------------------------------------------------------

bool needs_quote(std::string_view name) {
  for (unsigned char c : name) {
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) return true;
  }
  return false;
}

std::string quote_path(std::string_view name) { return git_text::quote_path(name, false); }

// --- paging ----------------------------------------------------------------------------

Result<std::size_t> parse_cursor(const std::optional<std::string>& cursor) {
  if (!cursor || cursor->empty()) return std::size_t{0};
  const std::string& c = *cursor;
  if (c.size() > 15 || c.find_first_not_of("0123456789") != std::string::npos)
    return make_error(error_code::kInvalidParams,
                      "invalid cursor '" + c.substr(0, 40) + "': pass nextCursor from the previous page unchanged");
  return static_cast<std::size_t>(std::stoull(c));
}

std::size_t text_budget(const Repo& r, const std::optional<std::size_t>& asked, std::size_t fallback) {
  std::size_t budget = asked.value_or(fallback);
  const std::size_t cap = r.policy.max_result_bytes;
  if (cap > 0) budget = std::min(budget, cap > kPageReserve ? cap - kPageReserve : std::size_t{0});
  return std::max<std::size_t>(budget, 1024);
}

std::size_t page_budget(const Repo& r, bool limit_given) {
  const std::size_t cap = r.policy.max_result_bytes;
  const std::size_t room = cap == 0 ? static_cast<std::size_t>(-1)
                                    : std::max<std::size_t>(cap > kPageReserve ? cap - kPageReserve : 0, 1024);
  return limit_given ? room : std::min(room, kDefaultPageBytes);
}

std::string continue_call(std::string_view tool, const json& params, const std::string& cursor, const json& replace) {
  json p = params.is_object() ? params : json::object();
  for (const auto& [k, v] : replace.items()) p[k] = v;
  p["cursor"] = cursor;
  return std::string(tool) + " " + p.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace icotes::git::detail
