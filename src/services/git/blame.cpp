// git/blame: `git blame --porcelain [-L a,b] [<rev>] -- <path>`
// (git-blame(1) "THE PORCELAIN FORMAT"): runs of lines from one commit, with
// each commit's details once, computed as git does (blame_engine.hpp). Without a
// revision the working-tree file is blamed, lines changed since HEAD
// belonging to the all-zero id, as git does.
#include <sys/stat.h>

#include <cstring>
#include <ctime>

#include "blame_engine.hpp"
#include "worktree_guard.hpp"

namespace icotes::git {
namespace {

constexpr std::size_t kDefaultLimit = 2000;
const std::string kZero(GIT_OID_HEXSZ, '0');

// Line starts of `content` (a last line without '\n' counts).
std::vector<std::size_t> line_starts(std::string_view content) {
  std::vector<std::size_t> out;
  std::size_t pos = 0;
  while (pos < content.size()) {
    out.push_back(pos);
    std::size_t nl = content.find('\n', pos);
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
  }
  return out;
}

// Line `n` (1-based) without its '\n'.
std::string_view line_at(std::string_view content, const std::vector<std::size_t>& starts, std::size_t n) {
  const std::size_t b = starts[n - 1];
  std::size_t e = n < starts.size() ? starts[n] : content.size();
  if (e > b && content[e - 1] == '\n') --e;
  return content.substr(b, e - b);
}

// blame.c get_commit_info(): the message's first line after blank lines.
std::string summary_of(const git_commit* c) {
  const char* raw = git_commit_message_raw(c);
  std::string_view msg = raw ? raw : "";
  std::size_t pos = 0;
  while (pos < msg.size()) {
    std::size_t nl = msg.find('\n', pos);
    std::string_view line = msg.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.find_first_not_of(" \t\r\v\f") != std::string_view::npos) {
      return std::string(line);
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return "(" + oid_hex(*git_commit_id(c)) + ")";
}

Result<TreePtr> tree_of(git_commit* c) {
  git_tree* t = nullptr;
  if (int rc = git_commit_tree(&t, c); rc != 0) return libgit2_error(rc, "read a tree");
  return TreePtr(t);
}

bool tree_has(git_tree* tree, const std::string& path) {
  git_tree_entry* e = nullptr;
  if (!tree || git_tree_entry_bypath(&e, tree, path.c_str()) != 0) return false;
  git_tree_entry_free(e);
  return true;
}

// git's "previous <commit> <path>": the parent's version the lines were
// compared with.
std::string previous_of(const detail::BlameOrigin& o) { return oid_hex(o.previous->commit) + " " + o.previous->path; }

std::string local_tz_now(std::time_t now) {
  std::tm tm{};
  localtime_r(&now, &tm);
  return detail::tz_offset(static_cast<int>(tm.tm_gmtoff / 60));
}

json uncommitted_info(const std::string& path, const detail::BlameOrigin* origin) {
  const std::time_t now = std::time(nullptr);
  const std::string tz = local_tz_now(now);
  json info = {{"author", "Not Committed Yet"},
               {"authorEmail", "<not.committed.yet>"},
               {"authorTime", static_cast<std::int64_t>(now)},
               {"authorTz", tz},
               {"committer", "Not Committed Yet"},
               {"committerEmail", "<not.committed.yet>"},
               {"committerTime", static_cast<std::int64_t>(now)},
               {"committerTz", tz},
               {"summary", "Version of " + path + " from " + path}};
  if (origin && origin->previous) info["previous"] = previous_of(*origin);
  return info;
}

Result<json> commit_info(const Repo& r, const detail::BlameOrigin& o) {
  git_commit* raw = nullptr;
  if (int rc = git_commit_lookup(&raw, r.repo, &o.commit); rc != 0)
    return libgit2_error(rc, "read commit " + oid_hex(o.commit));
  CommitPtr c(raw);
  const git_signature* a = git_commit_author(c.get());
  const git_signature* m = git_commit_committer(c.get());
  json info = {{"author", a->name ? a->name : ""},
               {"authorEmail", std::string("<") + (a->email ? a->email : "") + ">"},
               {"authorTime", static_cast<std::int64_t>(a->when.time)},
               {"authorTz", detail::tz_offset(a->when.offset)},
               {"committer", m->name ? m->name : ""},
               {"committerEmail", std::string("<") + (m->email ? m->email : "") + ">"},
               {"committerTime", static_cast<std::int64_t>(m->when.time)},
               {"committerTz", detail::tz_offset(m->when.offset)},
               {"summary", summary_of(c.get())}};
  if (o.boundary) info["boundary"] = true;
  if (o.previous) info["previous"] = previous_of(o);
  return info;
}

// The working-tree file as git would commit it (clean filters, CRLF -> LF),
// which is what `git blame <path>` blames.
Result<std::string> worktree_content(const Repo& r, const std::string& path) {
  git_filter_list* filters = nullptr;
  git_buf buf = GIT_BUF_INIT;
  int rc = git_filter_list_load(&filters, r.repo, nullptr, path.c_str(), GIT_FILTER_TO_ODB, GIT_FILTER_DEFAULT);
  if (rc == 0) rc = git_filter_list_apply_to_file(&buf, filters, r.repo, path.c_str());
  git_filter_list_free(filters);
  std::string out(buf.ptr ? buf.ptr : "", buf.size);
  git_buf_dispose(&buf);
  if (rc != 0) return libgit2_error(rc, "read " + path);
  return out;
}

}  // namespace

// One `git blame` call: the content blamed (the working tree's or rev's, in
// git's order of checks and with its messages, which git.differential
// compares with git's), the line window and cursor, and the page cut to the
// text budget; kept in git's order rather than restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> blame(Repo& r, const BlameParams& params) {
  auto path = r.path(params.path);
  if (!path) return std::move(path).error();
  if (path->empty()) return make_error(error_code::kInvalidParams, "git_blame needs a file, not the workspace root");
  const bool worktree = !params.rev;
  const std::string rev = params.rev.value_or("HEAD");
  if (auto st = check_readable(r, "git_blame", *path, worktree); !st) return st.error();

  std::string content;
  CommitPtr commit;
  if (worktree) {
    struct stat st;
    if (::lstat(r.root.absolute(*path).c_str(), &st) != 0)
      return make_error(error_code::kNotFound, "'" + *path +
                                                   "' does not exist in the working tree; give rev to blame "
                                                   "a file as of a commit");
    if (!S_ISREG(st.st_mode)) return make_error(error_code::kInvalidParams, "'" + *path + "' is not a regular file");
    auto text = worktree_content(r, *path);
    if (!text) return std::move(text).error();
    content = std::move(*text);
    bool in_head = false;
    if (git_repository_head_unborn(r.repo) != 1) {
      auto c = detail::lookup_commit(r, "HEAD");
      if (!c) return std::move(c).error();
      commit = std::move(*c);
      auto tree = tree_of(commit.get());
      if (!tree) return std::move(tree).error();
      in_head = tree_has(tree->get(), *path);
    }
    if (!in_head) {
      // git blames a file added to the index but not committed as all
      // uncommitted, and refuses an untracked one.
      git_index* index = nullptr;
      if (int rc = git_repository_index(&index, r.repo); rc != 0) return libgit2_error(rc, "read the index");
      IndexPtr owned(index);
      // The repository's index object may predate the file's `git add`.
      if (int rc = git_index_read(index, 0); rc != 0) return libgit2_error(rc, "read the index");
      if (!git_index_get_bypath(index, path->c_str(), 0))
        return make_error(error_code::kNotFound,
                          "no such path '" + *path + "' in HEAD: the file is not tracked by git");
    }
  } else {
    auto c = detail::lookup_commit(r, rev);
    if (!c) return std::move(c).error();
    commit = std::move(*c);
    auto tree = tree_of(commit.get());
    if (!tree) return std::move(tree).error();
    git_tree_entry* entry = nullptr;
    if (git_tree_entry_bypath(&entry, tree->get(), path->c_str()) != 0)
      return make_error(error_code::kNotFound, "no such path '" + *path + "' in " + rev);
    git_object* obj = nullptr;
    int rc = git_tree_entry_to_object(&obj, r.repo, entry);
    const bool is_blob = rc == 0 && git_object_type(obj) == GIT_OBJECT_BLOB;
    git_tree_entry_free(entry);
    ObjectPtr owned(obj);
    if (rc != 0) return libgit2_error(rc, "read " + *path + " in " + rev);
    if (!is_blob) return make_error(error_code::kInvalidParams, "'" + *path + "' is a directory in " + rev);
    const auto* blob = reinterpret_cast<const git_blob*>(obj);
    content.assign(static_cast<const char*>(git_blob_rawcontent(blob)),
                   static_cast<std::size_t>(git_blob_rawsize(blob)));
  }

  const auto starts = line_starts(content);
  const std::size_t total = starts.size();
  const std::size_t first = params.start_line.value_or(1);
  std::size_t last = params.end_line.value_or(total);
  if (total == 0) {
    json out = {{"path", *path},
                {"hunks", json::array()},
                {"commits", json::object()},
                {"totalLines", 0},
                {"truncated", false}};
    if (!worktree) out["rev"] = oid_hex(*git_commit_id(commit.get()));
    return out;
  }
  if (first > total)
    return make_error(error_code::kInvalidParams, "startLine " + std::to_string(first) + " is past the end: '" + *path +
                                                      "' has only " + git_text::count(total, "line"));
  if (last < first) return make_error(error_code::kInvalidParams, "endLine must not be before startLine");
  last = std::min(last, total);
  auto cursor = detail::parse_cursor(params.cursor);
  if (!cursor) return std::move(cursor).error();
  const std::size_t from = std::max(first, *cursor);
  if (from > last) return make_error(error_code::kInvalidParams, "cursor is past endLine; start again without it");
  const std::size_t limit = params.limit.value_or(kDefaultLimit);
  const std::size_t to = std::min(last, from + limit - 1);

  auto result = detail::blame_lines(r, commit.get(), worktree, *path, content, from, to);
  if (!result) return std::move(result).error();

  // The page ends at `limit` lines or where its text, as git_blame's MCP
  // text (icotes/git_text.hpp: "<id> <author> <date> <line>) <text>" and a
  // line per commit), would pass the budget.
  const std::size_t budget = detail::page_budget(r, params.limit.has_value());
  const std::size_t width = std::to_string(total).size();
  std::size_t bytes = 0;
  std::size_t end = to;  // the page's last line
  json hunks = json::array();
  json commits = json::object();
  for (const auto& e : result->entries) {
    const detail::BlameOrigin& o = *e.origin;
    const bool zero = git_oid_is_zero(&o.commit);
    const std::string hash = zero ? kZero : oid_hex(o.commit);
    if (!commits.contains(hash)) {
      if (zero) {
        commits[hash] = uncommitted_info(*path, &o);
      } else {
        auto info = commit_info(r, o);
        if (!info) return std::move(info).error();
        commits[hash] = std::move(*info);
      }
      bytes += 10 + commits[hash]["summary"].get_ref<const std::string&>().size();
    }
    const std::size_t prefix =
        24 + std::max<std::size_t>(commits[hash]["author"].get_ref<const std::string&>().size(), 20) + width;
    json lines = json::array();
    for (std::size_t k = 0; k < e.count; ++k) {
      const std::string_view text = line_at(content, starts, e.lno + 1 + k);
      bytes += prefix + text.size();
      if (bytes > budget && (k > 0 || !hunks.empty())) {
        end = e.lno + k;
        break;
      }
      lines.push_back(std::string(text));
    }
    if (!lines.empty()) {
      hunks.push_back({{"hash", hash},
                       {"startLine", e.lno + 1},
                       {"lineCount", lines.size()},
                       {"origPath", o.path},
                       {"origStartLine", e.orig + 1},
                       {"lines", std::move(lines)}});
    }
    if (end < to) break;
  }
  // A commit whose lines all fell past the page is not described.
  json named = json::object();
  for (const auto& h : hunks) named[h["hash"].get<std::string>()] = commits[h["hash"].get<std::string>()];

  json out = {{"path", *path},
              {"hunks", std::move(hunks)},
              {"commits", std::move(named)},
              {"totalLines", total},
              {"truncated", end < last}};
  if (!worktree) out["rev"] = oid_hex(*git_commit_id(commit.get()));
  if (end < last) {
    const std::string next = std::to_string(end + 1);
    out["nextCursor"] = next;
    json replace = json::object();
    if (!worktree) replace["rev"] = out["rev"];
    out["note"] = "Showing lines " + std::to_string(from) + "-" + std::to_string(end) + " of " + std::to_string(first) +
                  "-" + std::to_string(last) +
                  ". Next: " + detail::continue_call("git_blame", params.given, next, replace) + ".";
  }
  return out;
}

}  // namespace icotes::git
