// git/log: `git log [<rev>] [-- <paths>]` (git-log(1)) as commits: git's
// default order (revision.c: a queue by committer date, parents queued
// after their children, ties first-come first-served) and, with paths,
// git's default history simplification (git-log(1) "History
// Simplification": a commit is shown when it is not TREESAME to its
// parents; a merge TREESAME to one parent is hidden and only that parent
// followed).
#include <regex.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <queue>
#include <unordered_set>

#include "commit_format.hpp"
#include "icotes/git_text.hpp"
#include "log_date.hpp"

namespace icotes::git {
namespace {

// Commits per call by default: about 100 bytes of text each.
constexpr std::size_t kDefaultCount = 50;

using OidSet = std::unordered_set<git_oid, detail::OidHash, detail::OidEq>;

// A compiled POSIX basic regular expression (git's default for --author and
// --grep), freed on scope exit.
class Regex {
 public:
  Regex() = default;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex() {
    if (compiled_) regfree(&re_);
  }
  Status compile(const std::string& pattern, const char* param) {
    int rc = regcomp(&re_, pattern.c_str(), REG_NOSUB | REG_NEWLINE);
    if (rc != 0) {
      char msg[256];
      regerror(rc, &re_, msg, sizeof msg);
      return make_error(error_code::kInvalidParams, std::string("invalid ") + param + " pattern '" + pattern +
                                                        "': " + msg + " (a POSIX basic regular expression)");
    }
    compiled_ = true;
    return ok_status();
  }
  bool match(const std::string& s) const { return regexec(&re_, s.c_str(), 0, nullptr, 0) == 0; }

 private:
  regex_t re_{};
  bool compiled_ = false;
};

Result<std::optional<std::int64_t>> time_param(const std::optional<std::string>& param, const char* key) {
  if (!param) return std::optional<std::int64_t>();
  const std::string& s = *param;
  auto t = detail::log_date(s, static_cast<std::int64_t>(std::time(nullptr)));
  if (!t)
    return make_error(error_code::kInvalidParams,
                      std::string("invalid ") + key + " '" + s.substr(0, 100) +
                          "': use a date (2024-01-31, 2024-01-31T12:00:00+01:00, @<unix seconds>) or one of git's "
                          "relative forms: \"3 days ago\", \"2 weeks ago\", \"1 month ago\", \"yesterday\", "
                          "\"last monday\", \"midnight\"");
  return std::optional<std::int64_t>(*t);
}

// Whether `a` and `b` hold the same entries at the pathspecs (rev_compare_tree
// restricted to paths). A path names a file or a directory; "" is the whole
// tree. Missing on both sides counts as the same.
bool same_at_paths(git_tree* a, git_tree* b, const std::vector<std::string>& paths) {
  if (a && b && git_oid_equal(git_tree_id(a), git_tree_id(b))) return true;
  for (const auto& p : paths) {
    if (p.empty()) return false;  // the whole trees, whose ids differ (checked above)
    git_tree_entry* ea = nullptr;
    git_tree_entry* eb = nullptr;
    if (a) git_tree_entry_bypath(&ea, a, p.c_str());
    if (b) git_tree_entry_bypath(&eb, b, p.c_str());
    bool same = (!ea && !eb) || (ea && eb && git_oid_equal(git_tree_entry_id(ea), git_tree_entry_id(eb)) &&
                                 git_tree_entry_filemode(ea) == git_tree_entry_filemode(eb));
    git_tree_entry_free(ea);
    git_tree_entry_free(eb);
    if (!same) return false;
  }
  return true;
}

class Walker {
 public:
  Walker(const Repo& r, const std::vector<std::string>& paths, const OidSet& hidden)
      : r_(r), paths_(paths), hidden_(hidden) {}

  void push(const git_oid& oid, git_time_t date) {
    if (!seen_.insert(oid).second) return;
    queue_.push({date, seq_++, oid});
  }

  // The next commit in git's order, with `show` telling whether the path
  // simplification keeps it. Null at the end.
  Result<CommitPtr> next(bool& show, std::optional<std::int64_t> since) {
    while (!queue_.empty()) {
      const Item item = queue_.top();
      queue_.pop();
      git_commit* raw = nullptr;
      if (int rc = git_commit_lookup(&raw, r_.repo, &item.oid); rc != 0)
        return libgit2_error(rc, "read commit " + oid_hex(item.oid));
      CommitPtr c(raw);
      // --since: older commits are dropped and not walked through
      // (revision.c get_revision_1).
      if (since && git_commit_time(c.get()) < *since) continue;
      std::vector<CommitPtr> parents;
      auto st = simplify(c.get(), parents, show);
      if (!st) return std::move(st).error();
      for (auto& p : parents) push(*git_commit_id(p.get()), git_commit_time(p.get()));
      return c;
    }
    return CommitPtr();
  }

 private:
  struct Item {
    git_time_t date;
    std::uint64_t seq;
    git_oid oid;
    bool operator<(const Item& o) const { return date != o.date ? date < o.date : seq > o.seq; }
  };

  bool relevant(const git_commit* c) const { return !hidden_.count(*git_commit_id(c)); }

  // try_to_simplify_commit() with git's defaults (simplify_history, dense):
  // `parents` are those to walk; `show` is false when the commit is
  // TREESAME.
  Status simplify(git_commit* c, std::vector<CommitPtr>& parents, bool& show) {
    show = true;
    const unsigned n = git_commit_parentcount(c);
    for (unsigned i = 0; i < n; ++i) {
      git_commit* p = nullptr;
      if (int rc = git_commit_parent(&p, c, i); rc != 0) return libgit2_error(rc, "read a parent");
      CommitPtr owned(p);
      if (relevant(p)) parents.push_back(std::move(owned));
    }
    if (paths_.empty()) return ok_status();
    git_tree* tree_raw = nullptr;
    if (int rc = git_commit_tree(&tree_raw, c); rc != 0) return libgit2_error(rc, "read a tree");
    TreePtr tree(tree_raw);
    if (n == 0) {
      show = !same_at_paths(tree.get(), nullptr, paths_);
      return ok_status();
    }
    bool relevant_change = false, irrelevant_change = false;
    for (unsigned i = 0; i < n; ++i) {
      git_commit* p = nullptr;
      if (int rc = git_commit_parent(&p, c, i); rc != 0) return libgit2_error(rc, "read a parent");
      CommitPtr parent(p);
      git_tree* pt = nullptr;
      if (int rc = git_commit_tree(&pt, p); rc != 0) return libgit2_error(rc, "read a tree");
      TreePtr ptree(pt);
      const bool rel = relevant(p);
      if (!same_at_paths(ptree.get(), tree.get(), paths_)) {
        (rel ? relevant_change : irrelevant_change) = true;
        continue;
      }
      // TREESAME to an excluded parent brings nothing of interest: keep
      // looking at the other parents.
      if (!rel) continue;
      // TREESAME to this parent: follow only it, and hide the commit.
      parents.clear();
      parents.push_back(std::move(parent));
      show = false;
      return ok_status();
    }
    // With relevant parents, only changes against them count.
    show = parents.empty() ? irrelevant_change : relevant_change;
    return ok_status();
  }

  const Repo& r_;
  const std::vector<std::string>& paths_;
  const OidSet& hidden_;
  OidSet seen_;
  std::priority_queue<Item> queue_;
  std::uint64_t seq_ = 0;
};

bool matches(const git_commit* c, const Regex* author, const Regex* grep) {
  if (author) {
    const git_signature* a = git_commit_author(c);
    std::string who = std::string(a && a->name ? a->name : "") + " <" + (a && a->email ? a->email : "") + ">";
    if (!author->match(who)) return false;
  }
  if (grep) {
    const char* msg = git_commit_message_raw(c);
    if (!grep->match(msg ? msg : "")) return false;
  }
  return true;
}

// All commits reachable from `oid` (the excluded side of A..B).
Result<OidSet> ancestors(const Repo& r, const git_oid& oid) {
  git_revwalk* raw = nullptr;
  if (int rc = git_revwalk_new(&raw, r.repo); rc != 0) return libgit2_error(rc, "walk history");
  RevwalkPtr walk(raw);
  if (int rc = git_revwalk_push(walk.get(), &oid); rc != 0) return libgit2_error(rc, "walk history");
  OidSet out;
  git_oid o;
  while (git_revwalk_next(&o, walk.get()) == 0) out.insert(o);
  return out;
}

}  // namespace

// `git log` with its filters (rev, paths with git's history simplification,
// --since/--until, author, grep): which commits are shown and in what order follow
// git's revision walk case by case, and its text is compared byte for byte
// with git's (git.differential); kept in that order rather than restructured.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
Result<json> log(Repo& r, const LogParams& params) {
  auto paths = r.paths(params.paths);
  if (!paths) return std::move(paths).error();
  const std::string& rev = params.rev;
  const std::size_t max_count = params.limit.value_or(kDefaultCount);
  const bool body = params.body;
  const std::size_t budget = detail::page_budget(r, params.limit.has_value());
  auto cursor = detail::parse_cursor(params.cursor);
  if (!cursor) return std::move(cursor).error();
  const std::size_t skip = params.skip + *cursor;
  auto since = time_param(params.since, "since");
  if (!since) return std::move(since).error();
  auto until = time_param(params.until, "until");
  if (!until) return std::move(until).error();
  std::optional<Regex> author, grep;
  if (params.author) {
    if (auto st = author.emplace().compile(*params.author, "author"); !st) return st.error();
  }
  if (params.grep) {
    if (auto st = grep.emplace().compile(*params.grep, "grep"); !st) return st.error();
  }

  // "A..B": commits reachable from B and not from A (either side empty:
  // HEAD), as git's range notation (gitrevisions(7)).
  std::string include = rev, exclude;
  if (auto dots = rev.find(".."); dots != std::string::npos) {
    if (rev.compare(dots, 3, "...") == 0)
      return make_error(error_code::kInvalidParams, "symmetric ranges (A...B) are not supported; use A..B or B..A");
    exclude = rev.substr(0, dots);
    include = rev.substr(dots + 2);
    if (exclude.empty()) exclude = "HEAD";
    if (include.empty()) include = "HEAD";
  }
  json out = {{"commits", json::array()}, {"truncated", false}};
  if (body) out["body"] = true;
  if (include == "HEAD" && git_repository_head_unborn(r.repo) == 1) {
    out["note"] = "HEAD has no commits yet.";
    return out;
  }
  auto start = detail::lookup_commit(r, include);
  if (!start) return std::move(start).error();
  OidSet hidden;
  if (!exclude.empty()) {
    auto base = detail::lookup_commit(r, exclude);
    if (!base) return std::move(base).error();
    auto set = ancestors(r, *git_commit_id(base->get()));
    if (!set) return std::move(set).error();
    hidden = std::move(*set);
  }
  git_odb* odb_raw = nullptr;
  if (int rc = git_repository_odb(&odb_raw, r.repo); rc != 0) return libgit2_error(rc, "open the object database");
  OdbPtr odb(odb_raw);
  const int abbrev = detail::default_abbrev(r.repo);

  Walker walker(r, *paths, hidden);
  if (!hidden.count(*git_commit_id(start->get())))
    walker.push(*git_commit_id(start->get()), git_commit_time(start->get()));
  std::size_t matched = 0;
  std::size_t bytes = 0;  // the page's text as git_log's MCP text (icotes/git_text.hpp)
  json& commits = out["commits"];
  while (true) {
    if (auto st = r.check_cancel("git_log"); !st) return std::move(st).error();
    r.report(git_text::count(matched, "commit") + " so far", static_cast<double>(matched));
    bool show = true;
    auto c = walker.next(show, *since);
    if (!c) return std::move(c).error();
    if (!*c) break;
    if (!show) continue;
    if (*until && git_commit_time(c->get()) > **until) continue;
    if (!matches(c->get(), author ? &*author : nullptr, grep ? &*grep : nullptr)) continue;
    if (matched++ < skip) continue;
    json item;
    if (commits.size() < max_count) {
      item = detail::commit_json(c->get());
      item["shortHash"] = detail::abbrev_oid(odb.get(), *git_commit_id(c->get()), abbrev);
      bytes += git_text::log_block(item, body).size() + (body ? 1 : 0);
    }
    if (commits.size() == max_count || (!commits.empty() && bytes > budget)) {
      out["truncated"] = true;
      const std::size_t next = skip + commits.size() - params.skip;
      out["nextCursor"] = std::to_string(next);
      std::string why = commits.size() == max_count ? "" : " (the page's text budget)";
      out["note"] = "Showing " + git_text::count(commits.size(), "commit") + why +
                    "; more exist. Next: " + detail::continue_call("git_log", params.given, std::to_string(next)) +
                    ", or narrow with paths, since or author.";
      break;
    }
    commits.push_back(std::move(item));
  }
  return out;
}

}  // namespace icotes::git
