// The git tools as an MCP client's model meets them: the text each result
// is rendered to (icotes/git_text.hpp) against what git prints, the pages kept
// within the text budget, git_log's relative dates against git's
// approxidate, and git_restore, git_reset, git_checkout, git_init and
// git_tag against git doing the same in a copy of the repository.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string>

#include "git_fixture.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/git_text.hpp"
#include "services/git/log_date.hpp"
#include "services/git/repo_util.hpp"

namespace icotes {
namespace {

using test::exists_nofollow;
using test::GitOp;
using test::GitRepoTest;
using test::read_file;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The MCP text block of `result` for operation `id`, as the registry
/// renders it.
std::string text_of(const char* id, const json& result) {
  const Operation* op = builtin_registry().find(id);
  EXPECT_NE(op, nullptr) << id;
  EXPECT_TRUE(op && op->mcp_text) << id << " has no renderer";
  return op && op->mcp_text ? op->mcp_text(result) : std::string();
}

class GitTools : public GitRepoTest {
 protected:
  /// Fetches every page of `op` (following nextCursor) and returns the
  /// pages; each page's rendered text must stay within `cap`.
  std::vector<json> all_pages(GitOp op, const char* id, json params, std::size_t cap) {
    std::vector<json> pages;
    for (int i = 0; i < 1000; ++i) {
      json page = ok(op, params);
      const std::string text = text_of(id, page);
      EXPECT_LE(text.size(), cap) << id << " page " << i << " of " << params.dump();
      pages.push_back(page);
      if (!page.value("truncated", false)) break;
      EXPECT_TRUE(page.contains("nextCursor"));
      params["cursor"] = page["nextCursor"];
    }
    return pages;
  }
};

// ---- git_log since/until: git's approxidate --------------------------------------

TEST_F(GitTools, RelativeDatesAreGitsApproxidate) {
  const std::vector<std::string> forms = {"2 weeks ago",
                                          "2.weeks.ago",
                                          "3 days ago",
                                          "1 day ago",
                                          "yesterday",
                                          "last monday",
                                          "last sunday",
                                          "last tuesday",
                                          "2 fridays ago",
                                          "1 month ago",
                                          "6 months ago",
                                          "13 months ago",
                                          "1 year ago",
                                          "2 years 3 months ago",
                                          "one week ago",
                                          "ten minutes ago",
                                          "5 hours ago",
                                          "90 seconds ago",
                                          "last week",
                                          "last month",
                                          "last year",
                                          "noon",
                                          "midnight",
                                          "yesterday noon",
                                          "yesterday midnight",
                                          "now",
                                          "3 weeks",
                                          "2weeks ago",
                                          "2 WEEKS AGO",
                                          "last Mon",
                                          "4 days 6 hours ago",
                                          "2024-01-31T12:00:00Z",
                                          "@1700000000",
                                          "2024-02-29 10:30",
                                          "2023-03-26T02:30:00+01:00"};
  const char* saved = std::getenv("TZ");
  const std::string saved_tz = saved ? saved : "";
  for (const char* zone : {"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"}) {
    // A Tuesday evening, a New Year's midnight, a leap day, the hour Berlin's
    // clocks go forward and a Sunday morning.
    for (std::int64_t now : {1700000000LL, 1704067200LL, 1709164800LL, 1711846800LL, 1712476800LL}) {
      std::string cmd = "export TZ=" + std::string(zone) + " GIT_TEST_DATE_NOW=" + std::to_string(now) + "; ";
      for (const auto& f : forms) cmd += "git rev-parse --since='" + f + "'; ";
      std::istringstream want(must(cmd));
      ::setenv("TZ", zone, 1);
      ::tzset();
      for (const auto& f : forms) {
        std::string line;
        std::getline(want, line);
        ASSERT_EQ(line.rfind("--max-age=", 0), 0u) << line;
        auto got = git::detail::log_date(f, now);
        ASSERT_TRUE(got.has_value()) << f;
        EXPECT_EQ(std::to_string(*got), line.substr(10)) << "'" << f << "' in " << zone << " at " << now;
      }
    }
  }
  if (saved)
    ::setenv("TZ", saved_tz.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
  // What git reads as "now" (unknown words) is refused, not guessed.
  for (const char* f : {"today", "monday", "weeks ago", "next week", "3", "2 ago", "12:30", "tea", "5 yesterday"})
    EXPECT_FALSE(git::detail::log_date(f, 1700000000).has_value()) << f;
}

// GIT_AUTHOR_DATE is read by the same parser as git_log's dates, and as git
// reads it: the ISO forms with a zone attached ("...+02:00", "...Z") were
// refused by a second parser that wanted a space before the zone.
TEST_F(GitTools, AuthorDateIsReadAsGitReadsIt) {
  const char* saved = std::getenv("TZ");
  const std::string saved_tz = saved ? saved : "";
  ::setenv("TZ", "Europe/Berlin", 1);
  ::tzset();
  for (const char* date : {"@1700000000 +0200", "1700000000 -0130", "2024-01-31T12:00:00+02:00", "2024-01-31T12:00:00Z",
                           "2024-01-31 12:00:00 +0200", "2024-01-31T12:00:00 +02:00", "2024-01-31T12:00 +0200",
                           "2024-07-01 08:30:15 -0700", "2024-01-31T12:00:00", "2024-07-01T12:00:00+05"}) {
    const std::string ident = must("TZ=Europe/Berlin GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=b GIT_AUTHOR_DATE='" +
                                   std::string(date) + "' git var GIT_AUTHOR_IDENT");
    ::setenv("GIT_AUTHOR_DATE", date, 1);
    auto sig = git::signature_for(git::Role::kAuthor, "a", "b");
    ::unsetenv("GIT_AUTHOR_DATE");
    ASSERT_TRUE(sig) << date << ": " << sig.error().message;
    const int off = (*sig)->when.offset;
    char zone[16];
    std::snprintf(zone, sizeof zone, "%c%02d%02d", off < 0 ? '-' : '+', std::abs(off) / 60, std::abs(off) % 60);
    EXPECT_EQ("a <b> " + std::to_string((*sig)->when.time) + " " + zone + "\n", ident) << date;
  }
  if (saved)
    ::setenv("TZ", saved_tz.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
}

TEST_F(GitTools, LogSinceTakesRelativeDates) {
  // Commits dated relative to now, far from any boundary a second matters to.
  const std::int64_t now = std::time(nullptr);
  for (int days : {40, 20, 10, 3}) {
    const std::string when = "@" + std::to_string(now - days * 86400 - 3600) + " +0000";
    must("GIT_AUTHOR_DATE='" + when + "' GIT_COMMITTER_DATE='" + when + "' git commit -q --allow-empty -m d" +
         std::to_string(days));
  }
  for (const char* since : {"2 weeks ago", "1 month ago", "yesterday", "1 year ago"}) {
    json r = ok(git::log, {{"since", since}});
    std::string want = git(std::string("log --format=%H '--since=") + since + "'");
    std::string got;
    for (const auto& c : r["commits"]) got += (got.empty() ? "" : "\n") + c["hash"].get<std::string>();
    EXPECT_EQ(got, want) << since;
  }
}

// ---- text forms ---------------------------------------------------------------------

TEST_F(GitTools, StatusTextIsGitStatusShortBranch) {
  put("a.txt", "a\n");
  put("b.txt", "b\n");
  put("gone.txt", "g\n");
  put("old name.txt", "a file to rename\nwith lines\n");
  put("dir/c.txt", "c\n");
  commit_all("base");
  // Unborn-free branch with an upstream one commit behind.
  must(
      "git update-ref refs/remotes/origin/main HEAD && git config branch.main.remote origin && "
      "git config branch.main.merge refs/heads/main");
  put("a.txt", "a2\n");
  commit_all("ahead");
  put("a.txt", "a3\n");  // modified, unstaged
  put("b.txt", "b2\n");
  must("git add b.txt");                         // staged
  put("b.txt", "b3\n");                          // and changed again
  must("rm gone.txt");                           // deleted
  must("git mv 'old name.txt' 'new name.txt'");  // renamed, names with spaces
  put("new.txt", "n\n");
  must("git add new.txt");              // added
  put("untracked dir/x", "x\n");        // untracked directory
  put("\xc3\xa9t\xc3\xa9.txt", "e\n");  // non-ASCII: quoted
  const std::string want = git("status --short --branch") + "\n";
  EXPECT_EQ(text_of("git/status", ok(git::status, json::object())), want);
  EXPECT_EQ(text_of("git/status", ok(git::status, {{"untracked", "all"}})),
            git("status --short --branch --untracked-files=all") + "\n");
  // Detached HEAD, and a clean tree.
  must("git stash -q -u && git checkout -q --detach HEAD");
  EXPECT_EQ(text_of("git/status", ok(git::status, json::object())), git("status --short --branch") + "\n");
}

TEST_F(GitTools, StatusTextOfUnbornAndConflictedRepositories) {
  put("f", "f\n");
  must("git add f");
  EXPECT_EQ(text_of("git/status", ok(git::status, json::object())), git("status --short --branch") + "\n");
  commit_all("base");
  must(
      "git checkout -q -b side && echo side > f && git commit -qam side && git checkout -q main && "
      "echo main > f && git commit -qam main");
  sh("git merge side");  // conflicts: exits 1
  EXPECT_EQ(text_of("git/status", ok(git::status, json::object())), git("status --short --branch") + "\n");
}

TEST_F(GitTools, LogTextIsOneShortBlockPerCommit) {
  for (int i = 0; i < 3; ++i) {
    put("f", std::to_string(i) + "\n");
    must("git add f && git commit -q -m 'subject " + std::to_string(i) + "' -m 'body line one' -m 'body line two'");
  }
  const json r = ok(git::log, json::object());
  const std::string want = git("log --format='commit %h  %ad  %an%n    %s' '--date=format:%Y-%m-%d %H:%M'") + "\n";
  EXPECT_EQ(text_of("git/log", r), want);
  EXPECT_FALSE(contains(text_of("git/log", r), "body line"));
  const json with_body = ok(git::log, {{"body", true}, {"limit", 1}});
  const std::string t = text_of("git/log", with_body);
  EXPECT_TRUE(contains(t, "    subject 2\n\n    body line one\n\n    body line two\n")) << t;
  // The note says how to continue, in the singular when one commit is shown.
  EXPECT_TRUE(contains(t, "Showing 1 commit;")) << t;
  EXPECT_TRUE(contains(t, R"(Next: git_log {"body":true,"cursor":"1","limit":1})")) << t;
}

TEST_F(GitTools, BlameTextNamesCommitAuthorDateAndLine) {
  put("f", "one\ntwo\n");
  commit_all("first");
  must("GIT_AUTHOR_NAME='B Other' git commit -q --allow-empty -m noop");
  put("f", "one\nTWO\nthree\n");
  commit_all("second");
  // The root commit is a boundary: `^` and 7 digits, as git blame shows it.
  const std::string first = "^" + git("rev-parse --short=7 HEAD~2");
  const std::string second = git("rev-parse --short=8 HEAD");
  const std::string t = text_of("git/blame", ok(git::blame, {{"path", "f"}}));
  // Dates are the author's (GIT_AUTHOR_DATE: 2023-11-14 23:13 +0100).
  EXPECT_EQ(t, "f lines 1-3 of 3 (working tree)\n" +               //
                   first + " A U Thor 2023-11-14 1) one\n" +       //
                   second + " A U Thor 2023-11-14 2) TWO\n" +      //
                   second + " A U Thor 2023-11-14 3) three\n\n" +  //
                   first + " first\n" + second + " second\n");
}

TEST_F(GitTools, WriteResultsAreOneLine) {
  put("a", "a\n");
  must("git add a");
  const json c = ok(git::commit, {{"message", "first\n\nbody"}});
  EXPECT_EQ(text_of("git/commit", c), "[main (root-commit) " + git("rev-parse --short HEAD") + "] first\n");
  put("a", "a2\n");
  EXPECT_EQ(text_of("git/stage", ok(git::stage, {{"paths", {"a"}}})), "Staged 1 path: a\n");
  EXPECT_EQ(text_of("git/unstage", ok(git::unstage, {{"paths", {"a"}}})), "Unstaged 1 path: a\n");
  EXPECT_EQ(text_of("git/restore", ok(git::restore, {{"paths", {"a"}}})), "Restored 1 path: a\n");
  EXPECT_EQ(text_of("git/stage", ok(git::stage, {{"paths", {"a"}}})),
            "Nothing to stage: the index already matches the work tree for these paths.\n");
  EXPECT_EQ(text_of("git/branch", ok(git::branch, {{"action", "create"}, {"name", "x"}})),
            "Created branch 'x' at " + git("rev-parse --short HEAD") + ".\n");
  EXPECT_EQ(text_of("git/branch", ok(git::branch, {{"action", "list"}})),
            "* main " + git("rev-parse --short HEAD") + "\n  x    " + git("rev-parse --short HEAD") + "\n");
  EXPECT_EQ(text_of("git/stash", ok(git::stash, {{"action", "list"}})), "No stashes.\n");
}

TEST_F(GitTools, DiffTextIsTheCompleteResultsText) {
  // The renderer is given the complete result: the diff's text, then the
  // note; an empty diff says so.
  put("a", "a\n");
  commit_all("a");
  EXPECT_EQ(text_of("git/diff", ok(git::diff, json::object())), "No differences.\n");
  put("a", "b\n");
  const json d = ok(git::diff, json::object());
  EXPECT_EQ(text_of("git/diff", d), git("diff --no-color --no-ext-diff") + "\n");
  // A result whose text went out as a block of its own: only the rest.
  EXPECT_EQ(text_of("git/diff", {{"note", "n"}}), "n\n");
  EXPECT_EQ(text_of("git/diff", {{"text", "t\n"}, {"note", "n"}}), "t\n\nn\n");
}

// ---- budgets ---------------------------------------------------------------------------

TEST_F(GitTools, DefaultPagesStayWithin32KB) {
  // A commit of 900 files of 40 lines: about 1 MB of patch.
  std::string script =
      "for i in $(seq 1 900); do seq -f \"line %g of file $i, long enough to matter\" 1 40 > f$i.txt; done";
  must(script);
  commit_all("many files");
  const std::string hash = git("rev-parse HEAD");
  auto pages = all_pages(git::show, "git/show", json::object(), kDefaultToolResultBytes);
  ASSERT_GT(pages.size(), 10u);
  std::string text;
  for (const auto& p : pages) text += p["text"].get<std::string>();
  EXPECT_EQ(text, git("show --no-color --no-ext-diff HEAD") + "\n");
  // The first page says what it holds and the exact call that continues.
  const std::string note = pages[0]["note"];
  EXPECT_TRUE(contains(note, "of 900;")) << note;
  EXPECT_TRUE(contains(note, R"(Next: git_show {"cursor":")" + pages[0]["nextCursor"].get<std::string>() +
                                 R"(","rev":")" + hash + "\"}"))
      << note;
  EXPECT_TRUE(contains(text_of("git/show", pages[0]), note));

  // The working tree's diff of the same files.
  must("for i in $(seq 1 900); do sed -i 's/long/LONG/' f$i.txt; done");
  pages = all_pages(git::diff, "git/diff", json::object(), kDefaultToolResultBytes);
  text.clear();
  for (const auto& p : pages) text += p["text"].get<std::string>();
  EXPECT_EQ(text, git("diff --no-color --no-ext-diff") + "\n");
  EXPECT_TRUE(contains(pages[0]["note"], R"(Next: git_diff {"cursor":)")) << pages[0]["note"];

  // A client with a smaller cap gets smaller pages, whatever maxBytes asks.
  set_policy(git::Policy{nullptr, nullptr, 8192});
  pages = all_pages(
      git::diff, "git/diff",
      {{"maxBytes", 1000000}, {"paths", {"f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt", "f6.txt", "f7.txt"}}}, 8192);
  EXPECT_GT(pages.size(), 1u);
  set_policy({});
}

TEST_F(GitTools, BlameLogAndStatusPagesStayWithin32KB) {
  // 1500 lines of 70 characters: about 150 KB of blame text.
  must("seq -f 'a line of text that is long enough to make blame pages big: %g' 1 1500 > long.txt");
  commit_all("long");
  auto pages = all_pages(git::blame, "git/blame", {{"path", "long.txt"}}, kDefaultToolResultBytes);
  ASSERT_GT(pages.size(), 3u);
  std::size_t lines = 0;
  for (const auto& p : pages)
    for (const auto& h : p["hunks"]) lines += h["lines"].size();
  EXPECT_EQ(lines, 1500u);
  EXPECT_TRUE(contains(pages[0]["note"], R"(Next: git_blame {"cursor":")")) << pages[0]["note"];

  // 120 commits with long bodies: the default page stops at the budget
  // with bodies, at 50 commits without.
  std::string body(1500, 'b');
  for (int i = 0; i < 120; ++i) must("git commit -q --allow-empty -m 's" + std::to_string(i) + "' -m '" + body + "'");
  json first = ok(git::log, json::object());
  EXPECT_EQ(first["commits"].size(), 50u);
  EXPECT_LE(text_of("git/log", first).size(), kDefaultToolResultBytes);
  auto log_pages = all_pages(git::log, "git/log", {{"body", true}}, kDefaultToolResultBytes);
  std::size_t commits = 0;
  for (const auto& p : log_pages) commits += p["commits"].size();
  EXPECT_EQ(commits, 121u);
  EXPECT_GT(log_pages.size(), 5u);

  // 3000 untracked files with long names.
  must("mkdir many && for i in $(seq 1 3000); do : > many/an-untracked-file-with-a-long-name-$i.txt; done");
  auto status_pages = all_pages(git::status, "git/status", {{"untracked", "all"}}, kDefaultToolResultBytes);
  std::size_t entries = 0;
  for (const auto& p : status_pages) entries += p["entries"].size();
  EXPECT_EQ(entries, 3000u);
}

TEST_F(GitTools, MaximalParametersStayWithinTheClientsCap) {
  // Every size parameter at its schema's maximum, for a client with the
  // default hard cap: each page's text stays within it, and paging still
  // gives everything.
  set_policy(git::Policy{nullptr, nullptr, kMaxToolResultBytes});
  must("for i in $(seq 1 300); do seq -f \"line %g of file $i, long enough to matter\" 1 40 > f$i.txt; done");
  must("seq -f 'a line of text that is long enough to make blame pages big: %g' 1 3000 > long.txt");
  commit_all("many files");
  std::string body(3000, 'b');
  for (int i = 0; i < 60; ++i) must("git commit -q --allow-empty -m 's" + std::to_string(i) + "' -m '" + body + "'");
  must("for i in $(seq 1 300); do sed -i 's/long/LONG/' f$i.txt; done");
  const std::size_t cap = kMaxToolResultBytes;
  auto pages =
      all_pages(git::diff, "git/diff", {{"maxBytes", 1000000000}, {"limit", 100000}, {"contextLines", 100000}}, cap);
  EXPECT_GT(pages.size(), 1u);
  std::string text;
  for (const auto& p : pages) text += p["text"].get<std::string>();
  EXPECT_EQ(text, git("diff --no-color --no-ext-diff -U100000") + "\n");
  pages = all_pages(git::show, "git/show",
                    {{"rev", "HEAD~60"}, {"maxBytes", 1000000000}, {"limit", 100000}, {"contextLines", 100000}}, cap);
  EXPECT_GT(pages.size(), 1u);
  pages = all_pages(git::log, "git/log", {{"limit", 10000}, {"body", true}}, cap);
  std::size_t commits = 0;
  for (const auto& p : pages) commits += p["commits"].size();
  EXPECT_EQ(commits, 61u);
  EXPECT_GT(pages.size(), 1u);
  pages = all_pages(git::blame, "git/blame", {{"path", "long.txt"}, {"limit", 100000}}, cap);
  std::size_t lines = 0;
  for (const auto& p : pages)
    for (const auto& h : p["hunks"]) lines += h["lines"].size();
  EXPECT_EQ(lines, 3000u);
  EXPECT_GT(pages.size(), 1u);
  set_policy({});
}

// ---- git_restore -------------------------------------------------------------------------

class GitRestore : public GitTools {
 protected:
  void SetUp() override {
    GitTools::SetUp();
    put("a", "a\n");
    put("b", "b\n");
    put("dir/c", "c\n");
    put("dir/d", "d\n");
    commit_all("base");
    put("a", "a2\n");
    commit_all("second");
    // Local changes of every kind.
    put("a", "a-staged\n");
    must("git add a");
    put("a", "a-local\n");
    put("b", "b-local\n");
    must("rm dir/c");
    put("dir/d", "d-local\n");
    put("dir/new", "untracked\n");
    put("added", "added\n");
    must("git add added");
    make_twin();
  }
};

TEST_F(GitRestore, WorktreeFromTheIndexLikeGit) {
  const json r = ok(git::restore, {{"paths", {"a", "dir"}}});
  in_twin("git restore -- a dir");
  expect_twin_state();
  EXPECT_EQ(read_file(dir() + "/dir/new"), "untracked\n");  // untracked: never touched
  EXPECT_EQ(r["paths"], json({"a", "dir/c", "dir/d"}));
}

TEST_F(GitRestore, StagedLikeGitRestoreStaged) {
  ok(git::restore, {{"paths", {"."}}, {"staged", true}});
  in_twin("git restore --staged -- .");
  expect_twin_state();
}

TEST_F(GitRestore, StagedAndWorktreeLikeGit) {
  ok(git::restore, {{"paths", {"a", "dir", "added"}}, {"staged", true}, {"worktree", true}});
  in_twin("git restore --staged --worktree -- a dir added");
  expect_twin_state();
}

TEST_F(GitRestore, FromARevisionLikeGitRestoreSource) {
  ok(git::restore, {{"paths", {"a", "dir"}}, {"rev", "HEAD~1"}});
  in_twin("git restore --source=HEAD~1 -- a dir");
  expect_twin_state();
  make_twin();
  ok(git::restore, {{"paths", {"."}}, {"rev", "HEAD~1"}, {"staged", true}, {"worktree", true}});
  in_twin("git restore --source=HEAD~1 --staged --worktree -- .");
  expect_twin_state();
}

TEST_F(GitRestore, RefusesUnknownPathsAndChangesNothing) {
  const std::string before = state(dir());
  const std::string msg = fails(git::restore, {{"paths", {"a", "nothing-here"}}}, error_code::kNotFound);
  EXPECT_TRUE(contains(msg, "nothing-here")) << msg;
  EXPECT_EQ(state(dir()), before);
  EXPECT_EQ(read_file(dir() + "/a"), "a-local\n");
  fails(git::restore, {{"paths", {"a"}}, {"staged", false}, {"worktree", false}}, error_code::kInvalidParams);
}

TEST_F(GitTools, RestoreRefusesUnmergedPathsLikeGit) {
  put("f", "base\n");
  commit_all("base");
  must(
      "git checkout -q -b side && echo side > f && git commit -qam side && git checkout -q main && "
      "echo main > f && git commit -qam main");
  sh("git merge side");
  const std::string msg = fails(git::restore, {{"paths", {"f"}}}, error_code::kConflict);
  EXPECT_TRUE(contains(msg, "unmerged")) << msg;
  EXPECT_NE(sh("git restore -- f", true).rc, 0);  // git refuses too
}

// ---- git_reset -----------------------------------------------------------------------------

class GitReset : public GitTools {
 protected:
  void SetUp() override {
    GitTools::SetUp();
    put("a", "a1\n");
    put("gone-later", "g\n");
    commit_all("one");
    put("a", "a2\n");
    must("git rm -q gone-later");
    put("added-later", "x\n");
    commit_all("two");
    put("a", "a-local\n");
    put("added-later", "x-staged\n");
    must("git add added-later");
    put("untracked", "u\n");
    make_twin();
  }

  void same_as_git(const std::string& mode) {
    const json r = ok(git::reset, {{"rev", "HEAD~1"}, {"mode", mode}});
    in_twin("git reset -q --" + mode + " HEAD~1");
    expect_twin_state();
    EXPECT_EQ(git("rev-parse ORIG_HEAD"), twin_git("rev-parse ORIG_HEAD"));
    EXPECT_EQ(git("reflog -1 --format=%gs"), twin_git("reflog -1 --format=%gs"));
    EXPECT_EQ(git("reflog -1 --format=%gs main"), twin_git("reflog -1 --format=%gs main"));
    EXPECT_EQ(r["previous"], twin_git("rev-parse ORIG_HEAD"));
    EXPECT_EQ(read_file(dir() + "/untracked"), "u\n");
    EXPECT_TRUE(contains(text_of("git/reset", r), "HEAD is now at " + git("rev-parse --short HEAD") + " one"))
        << text_of("git/reset", r);
  }
};

TEST_F(GitReset, SoftLikeGit) { same_as_git("soft"); }
TEST_F(GitReset, MixedLikeGit) { same_as_git("mixed"); }
TEST_F(GitReset, HardLikeGit) { same_as_git("hard"); }

TEST_F(GitReset, MixedListsWhatStaysModified) {
  const json r = ok(git::reset, json::object());
  EXPECT_EQ(r["mode"], "mixed");
  EXPECT_EQ(r["paths"], json({"a", "added-later"}));
  EXPECT_EQ(twin_git("reset"), "Unstaged changes after reset:\nM\ta\nM\tadded-later");
  expect_twin_state();
  EXPECT_TRUE(contains(text_of("git/reset", r), "Unstaged changes after reset: a, added-later"))
      << text_of("git/reset", r);
}

TEST_F(GitReset, OnADetachedHead) {
  must("git checkout -q --detach HEAD");
  in_twin("git checkout -q --detach HEAD");
  ok(git::reset, {{"rev", "HEAD~1"}, {"mode", "hard"}});
  in_twin("git reset -q --hard HEAD~1");
  expect_twin_state();
  EXPECT_EQ(git("reflog -1 --format=%gs"), "reset: moving to HEAD~1");
}

TEST_F(GitReset, SoftRefusedDuringAMerge) {
  must(
      "git stash -q -u && git checkout -q -b side HEAD~1 && echo side > a && git commit -qam side && "
      "git checkout -q main && echo main > a && git commit -qam main");
  sh("git merge side");
  const std::string msg = fails(git::reset, {{"mode", "soft"}}, error_code::kConflict);
  EXPECT_TRUE(contains(msg, "merge")) << msg;
  ok(git::reset, {{"mode", "hard"}});  // ends the merge, as git reset --hard does
  EXPECT_FALSE(exists_nofollow(dir() + "/.git/MERGE_HEAD"));
  EXPECT_EQ(git("status --porcelain"), "");
}

// ---- git_checkout ----------------------------------------------------------------------------

class GitCheckout : public GitTools {
 protected:
  void SetUp() override {
    GitTools::SetUp();
    put("a", "a1\n");
    put("b", "b1\n");
    commit_all("one");
    must("git tag v1 && git tag -a -m 'release one' v1a");
    put("a", "a2\n");
    put("c", "c2\n");
    commit_all("two");
    must("git branch other HEAD~1");
  }
};

TEST_F(GitCheckout, TagsAndCommitsDetachLikeGit) {
  put("b", "b-local\n");  // kept: v1 has the same b
  make_twin();
  const json r = ok(git::checkout, {{"rev", "v1a"}});
  EXPECT_TRUE(r["detached"].get<bool>());
  EXPECT_EQ(r["previous"], "main");
  in_twin("git checkout -q v1a");
  expect_twin_state();
  EXPECT_EQ(git("reflog -1 --format=%gs"), twin_git("reflog -1 --format=%gs"));
  EXPECT_EQ(read_file(dir() + "/b"), "b-local\n");
  EXPECT_TRUE(contains(text_of("git/checkout", r), "(detached HEAD)")) << text_of("git/checkout", r);
  const std::string id = git("rev-parse main");
  ok(git::checkout, {{"rev", id}});
  in_twin("git checkout -q " + id);
  expect_twin_state();
}

TEST_F(GitCheckout, BranchesSwitchLikeGit) {
  make_twin();
  const json r = ok(git::checkout, {{"rev", "other"}});
  EXPECT_EQ(r["head"], "other");
  EXPECT_FALSE(r["detached"].get<bool>());
  in_twin("git checkout -q other");
  expect_twin_state();
  EXPECT_EQ(git("reflog -1 --format=%gs"), twin_git("reflog -1 --format=%gs"));
  EXPECT_EQ(text_of("git/checkout", r), "Switched to branch 'other' (" + git("rev-parse --short other") + ")\n");
}

TEST_F(GitCheckout, RefusesToOverwriteLocalChanges) {
  put("a", "a-local\n");  // v1 has another a
  const std::string before = state(dir());
  const std::string msg = fails(git::checkout, {{"rev", "v1"}}, error_code::kConflict);
  EXPECT_TRUE(contains(msg, "would overwrite local changes")) << msg;
  EXPECT_EQ(state(dir()), before);
  EXPECT_EQ(read_file(dir() + "/a"), "a-local\n");
  EXPECT_NE(sh("git checkout v1", true).rc, 0);  // git refuses too
  make_twin();
  ok(git::checkout, {{"rev", "v1"}, {"force", true}});
  in_twin("git checkout -q -f v1");
  expect_twin_state();
}

TEST_F(GitCheckout, UnknownRevisionsAreRefused) {
  const std::string msg = fails(git::checkout, {{"rev", "no-such-thing"}}, error_code::kNotFound);
  EXPECT_TRUE(contains(msg, "no-such-thing")) << msg;
  fails(git::checkout, {{"rev", "--orphan"}}, error_code::kInvalidParams);
  fails(git::checkout, {{"rev", "HEAD:a"}}, error_code::kInvalidParams);  // a blob
}

// ---- git_init -------------------------------------------------------------------------------------

TEST_F(GitTools, InitMakesARepositoryWithoutTemplateHooks) {
  must("rm -rf .git");
  open_service();
  EXPECT_TRUE(contains(fails(git::status, json::object(), git::kNoRepository), "no git repository"));
  // A user config whose init.templateDir holds a hook: git init would copy
  // it (and run it at the next commit); git_init takes no template.
  const std::string home = std::filesystem::path(dir()).parent_path() / "home";
  test::write_file(home + "/template/hooks/pre-commit", "#!/bin/sh\ntouch pwned\n");
  ::chmod((home + "/template/hooks/pre-commit").c_str(), 0755);
  test::write_file(home + "/.gitconfig", "[init]\n\ttemplateDir = " + home + "/template\n\tdefaultBranch = trunk\n");
  git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, home.c_str());
  auto r = init_repo(json::object());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)["created"].get<bool>());
  EXPECT_EQ((*r)["branch"], "trunk");  // init.defaultBranch is honoured
  EXPECT_EQ((*r)["gitDir"], dir() + "/.git/");
  EXPECT_FALSE(exists_nofollow(dir() + "/.git/hooks/pre-commit"));
  EXPECT_EQ(must("ls .git/hooks"), "README.sample\n");
  EXPECT_EQ(text_of("git/init", *r), "Initialized empty Git repository in " + dir() + "/.git/ (branch trunk)\n");
  // git and the service both see it.
  EXPECT_EQ(git("symbolic-ref HEAD"), "refs/heads/trunk");
  EXPECT_EQ(ok(git::status, json::object())["branch"]["head"], "trunk");
  // Again: nothing changes.
  auto again = init_repo({{"initialBranch", "other"}});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)["created"].get<bool>());
  EXPECT_EQ(git("symbolic-ref HEAD"), "refs/heads/trunk");
}

TEST_F(GitTools, InitTakesABranchNameAndRefusesADotGitThatIsNoRepository) {
  must("rm -rf .git");
  open_service();
  auto bad = init_repo({{"initialBranch", "no..good"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, error_code::kInvalidParams);
  EXPECT_FALSE(exists_nofollow(dir() + "/.git"));
  auto r = init_repo({{"initialBranch", "dev"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(git("symbolic-ref HEAD"), "refs/heads/dev");
  // A .git that leads elsewhere is never initialised through.
  must("rm -rf .git && mkdir -p ../elsewhere && ln -s ../elsewhere .git");
  open_service();
  auto link = init_repo(json::object());
  ASSERT_FALSE(link.ok());
  EXPECT_EQ(link.error().code, error_code::kConflict);
  EXPECT_EQ(must("ls -A ../elsewhere"), "");
  must("rm .git && echo 'gitdir: ../elsewhere' > .git");
  auto file = init_repo(json::object());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().code, error_code::kConflict);
}

// ---- git_tag --------------------------------------------------------------------------------------

class GitTag : public GitTools {
 protected:
  void SetUp() override {
    GitTools::SetUp();
    put("a", "1\n");
    commit_all("one");
    put("a", "2\n");
    commit_all("two");
    make_twin();
  }
  static std::string refs(const std::string& where) {
    return test::run_in(where,
                        "git for-each-ref refs/tags --format='%(refname) %(objectname) %(objecttype) %(*objectname)'")
        .out;
  }
};

TEST_F(GitTag, CreateListAndDeleteLikeGit) {
  ok(git::tag, {{"action", "create"}, {"name", "v1"}, {"rev", "HEAD~1"}});
  in_twin("git tag v1 HEAD~1");
  // git tag's message cleanup ("strip"): comment lines and blank edges go.
  const std::string message = "\nRelease two  \n\n\n# a comment\nbody\n\n";
  const json a = ok(git::tag, {{"action", "create"}, {"name", "v2"}, {"message", message}});
  EXPECT_TRUE(a["annotated"].get<bool>());
  test::write_file(twin() + "/../msg", message);
  in_twin("git tag -a -F ../msg v2");
  EXPECT_EQ(refs(dir()), refs(twin()));
  EXPECT_EQ(git("cat-file -p v2"), twin_git("cat-file -p v2"));
  EXPECT_EQ(text_of("git/tag", a), "Created annotated tag 'v2' at " + git("rev-parse --short HEAD") + ".\n");

  const json list = ok(git::tag, {{"action", "list"}});
  ASSERT_EQ(list["tags"].size(), 2u);
  EXPECT_EQ(list["tags"][0]["name"], "v1");
  EXPECT_FALSE(list["tags"][0]["annotated"].get<bool>());
  EXPECT_EQ(list["tags"][0]["subject"], "one");
  EXPECT_EQ(list["tags"][1]["target"], git("rev-parse HEAD"));
  EXPECT_EQ(list["tags"][1]["subject"], "Release two");
  EXPECT_EQ(text_of("git/tag", list),
            "v1 " + git("rev-parse --short HEAD~1") + " one\nv2 " + git("rev-parse --short HEAD") + " Release two\n");
  EXPECT_EQ(ok(git::tag, {{"action", "list"}, {"pattern", "v1*"}})["tags"].size(), 1u);

  // An existing name needs force, as in git.
  const std::string msg = fails(git::tag, {{"action", "create"}, {"name", "v1"}}, error_code::kConflict);
  EXPECT_TRUE(contains(msg, "already exists")) << msg;
  ok(git::tag, {{"action", "create"}, {"name", "v1"}, {"force", true}});
  in_twin("git tag -f v1");
  EXPECT_EQ(refs(dir()), refs(twin()));

  const std::string was = git("rev-parse v2");
  const json d = ok(git::tag, {{"action", "delete"}, {"name", "v2"}});
  EXPECT_EQ(d["oid"], was);
  in_twin("git tag -d v2");
  EXPECT_EQ(refs(dir()), refs(twin()));
  fails(git::tag, {{"action", "delete"}, {"name", "v2"}}, error_code::kNotFound);
  fails(git::tag, {{"action", "create"}, {"name", "bad name"}}, error_code::kInvalidParams);
  fails(git::tag, {{"action", "create"}, {"name", "-x"}}, error_code::kInvalidParams);
  fails(git::tag, {{"action", "create"}, {"name", "v3"}, {"rev", "no-such-rev"}}, error_code::kNotFound);
}

}  // namespace
}  // namespace icotes
