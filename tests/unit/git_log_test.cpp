// git/log, git/show and git/blame compared with git on real repositories:
// log's commits and fields with `git log --format` (order with merges and
// skewed dates, path simplification, skip/limit, author/grep/since/
// until, ranges), show's text with `git show`, blame's hunks rendered as
// `git blame --porcelain`. Plus the refusals every client-given revision
// and path goes through.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "git_fixture.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/schema.hpp"

namespace icotes {
namespace {

using test::GitRepoTest;

const char* const kLogFormat = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s%x00%b%x01";

// Our commits in kLogFormat's shape.
std::string render_log(const json& out) {
  std::string s;
  for (const auto& c : out["commits"]) {
    std::string parents;
    for (const auto& p : c["parents"]) parents += (parents.empty() ? "" : " ") + p.get<std::string>();
    const json& a = c["author"];
    const json& m = c["committer"];
    s += c["hash"].get<std::string>() + '\0' + parents + '\0' + a["name"].get<std::string>() + '\0' +
         a["email"].get<std::string>() + '\0' + a["date"].get<std::string>() + '\0' + m["name"].get<std::string>() +
         '\0' + m["email"].get<std::string>() + '\0' + m["date"].get<std::string>() + '\0' +
         c["subject"].get<std::string>() + '\0' + c["body"].get<std::string>() + '\1' + '\n';
  }
  return s;
}

// Our blame as `git blame --porcelain` prints it, author and committer
// times as T (uncommitted lines are dated "now"; commit times are compared
// by the log tests).
std::string render_porcelain(const json& out) {
  std::string s;
  std::set<std::string> shown;
  for (const auto& h : out["hunks"]) {
    const std::string hash = h["hash"];
    const std::size_t orig = h["origStartLine"], start = h["startLine"], count = h["lineCount"];
    for (std::size_t k = 0; k < count; ++k) {
      s += hash + " " + std::to_string(orig + k) + " " + std::to_string(start + k);
      if (k == 0) s += " " + std::to_string(count);
      s += "\n";
      if (k == 0 && shown.insert(hash).second) {
        const json& c = out["commits"][hash];
        s += "author " + c["author"].get<std::string>() + "\nauthor-mail " + c["authorEmail"].get<std::string>() +
             "\nauthor-time T" + "\nauthor-tz " + c["authorTz"].get<std::string>() + "\ncommitter " +
             c["committer"].get<std::string>() + "\ncommitter-mail " + c["committerEmail"].get<std::string>() +
             "\ncommitter-time T" + "\ncommitter-tz " + c["committerTz"].get<std::string>() + "\nsummary " +
             c["summary"].get<std::string>() + "\n";
        if (c.value("boundary", false)) s += "boundary\n";
        if (c.contains("previous")) s += "previous " + c["previous"].get<std::string>() + "\n";
        s += "filename " + h["origPath"].get<std::string>() + "\n";
      }
      s += "\t" + h["lines"][k].get<std::string>() + "\n";
    }
  }
  return s;
}

class GitLog : public GitRepoTest {
 protected:
  // Commits with their own dates (author = committer date).
  void commit_at(const std::string& date, const std::string& msg, const std::string& extra_env = "") {
    must("git add -A && GIT_AUTHOR_DATE='" + date + "' GIT_COMMITTER_DATE='" + date + "' " + extra_env +
         " git commit -q --allow-empty -m '" + msg + "'");
  }
  void merge_at(const std::string& date, const std::string& branch, const std::string& msg) {
    must("GIT_AUTHOR_DATE='" + date + "' GIT_COMMITTER_DATE='" + date + "' git merge -q --no-ff " + branch + " -m '" +
         msg + "'");
  }
  // Two branches merged twice, one commit dated before its parent, an
  // empty merge and an empty commit; paths a, b, m, s, x.
  void build_history() {
    put("a", "1\n");
    commit_at("2020-01-01T00:00:00+0000", "root commit");
    must("git checkout -q -b side");
    put("s", "s1\n");
    commit_at("2020-01-03T00:00:00+0200", "side one\n\nwith a body\nof two lines");
    put("a", "1\n2\n");
    commit_at("2020-01-05T00:00:00-0500", "side touches a");
    must("git checkout -q main");
    put("m", "m\n");
    commit_at("2020-01-02T00:00:00+0000", "main one");
    put("b", "3\n");
    commit_at("2020-01-06T00:00:00+0000", "main two");
    merge_at("2020-01-07T00:00:00+0000", "side", "Merge side");
    must("git checkout -q -b side2 HEAD~1");
    put("x", "x\n");
    commit_at("2019-12-31T00:00:00+0000", "skewed old date fix bug",
              "GIT_AUTHOR_NAME='Alice Smith' GIT_AUTHOR_EMAIL=alice@example.org");
    must("git checkout -q main");
    put("a", "1\n2\n4\n");
    commit_at("2020-01-08T00:00:00+0000", "main touches a");
    merge_at("2020-01-09T00:00:00+0000", "side2", "Merge side2");
    must("git checkout -q -b same HEAD~1");
    commit_at("2020-01-10T00:00:00+0000", "empty on same");
    must("git checkout -q main");
    merge_at("2020-01-11T00:00:00+0000", "same", "merge same");
    must("git tag -a v1 -m 'Tag message' HEAD~2");
  }
  void same_log(const json& params, const std::string& args) {
    auto r = sh(std::string("git log --format='") + kLogFormat + "' " + args);
    ASSERT_EQ(r.rc, 0) << args;
    json out = ok(git::log, params);
    EXPECT_EQ(render_log(out), r.out) << "params " << params.dump() << " vs git log " << args;
  }
  void same_show(const json& params, const std::string& args) {
    auto r = sh("git show " + args);
    ASSERT_EQ(r.rc, 0) << args;
    json out = ok(git::show, params);
    EXPECT_EQ(out.value("text", std::string()), r.out) << "params " << params.dump() << " vs git show " << args;
  }
  void same_blame(const json& params, const std::string& args) {
    auto r = sh("git blame --porcelain " + args + " | sed -E 's/^(author|committer)-time [0-9]+$/\\1-time T/'");
    ASSERT_EQ(r.rc, 0) << args;
    ASSERT_FALSE(r.out.empty()) << args;
    json out = ok(git::blame, params);
    std::string mine = render_porcelain(out);
    EXPECT_EQ(mine, r.out) << "params " << params.dump() << " vs git blame --porcelain " << args;
  }
};

// --- log ---------------------------------------------------------------------------

TEST_F(GitLog, OrderAndFieldsMatchGitLog) {
  build_history();
  same_log(json::object(), "");
  same_log({{"rev", "side"}}, "side");
  same_log({{"rev", "HEAD~2"}}, "HEAD~2");
  same_log({{"rev", "v1"}}, "v1");
}

TEST_F(GitLog, LogAndBlameReportProgress) {
  build_history();
  ok(git::log, json::object());
  ASSERT_FALSE(reports().empty());
  EXPECT_NE(reports().back().find("commits so far"), std::string::npos) << reports().back();
  ok(git::blame, {{"path", "a"}});
  EXPECT_NE(reports().back().find(" examined"), std::string::npos) << reports().back();
}

TEST_F(GitLog, PathsFollowGitsHistorySimplification) {
  build_history();
  for (const char* p : {"a", "b", "x", "s", "m"}) same_log({{"paths", {p}}}, std::string("-- ") + p);
  same_log({{"paths", {"s", "b"}}}, "-- s b");
  same_log({{"paths", {"."}}}, "-- .");
  same_log({{"paths", {"nothing-here"}}}, "-- nothing-here");
  same_log({{"rev", "side2..main"}, {"paths", {"a"}}}, "side2..main -- a");
}

TEST_F(GitLog, SkipMaxCountAndCursorPage) {
  build_history();
  same_log({{"limit", 3}}, "-n3");
  same_log({{"skip", 2}, {"limit", 3}}, "--skip=2 -n3");
  same_log({{"skip", 20}}, "--skip=20");
  json first = ok(git::log, {{"limit", 4}});
  EXPECT_TRUE(first["truncated"].get<bool>());
  ASSERT_EQ(first["nextCursor"], "4");
  same_log({{"limit", 4}, {"cursor", "4"}}, "--skip=4 -n4");
  json last = ok(git::log, {{"limit", 100}});
  EXPECT_FALSE(last["truncated"].get<bool>());
  EXPECT_FALSE(last.contains("nextCursor"));
}

TEST_F(GitLog, AuthorGrepSinceUntilFilterAsGitDoes) {
  build_history();
  same_log({{"author", "Alice"}}, "--author=Alice");
  same_log({{"author", "^A U Thor <author@example"}}, "'--author=^A U Thor <author@example'");
  same_log({{"author", "alice"}}, "--author=alice");  // case-sensitive: none
  same_log({{"grep", "fix"}}, "--grep=fix");
  same_log({{"grep", "^main"}}, "'--grep=^main'");
  same_log({{"grep", "two lines$"}}, "'--grep=two lines$'");
  same_log({{"grep", "[Mm]erge s.*2"}}, "'--grep=[Mm]erge s.*2'");
  same_log({{"author", "Thor"}, {"grep", "side"}}, "--author=Thor --grep=side");
  same_log({{"since", "2020-01-05T00:00:00Z"}}, "--since=2020-01-05T00:00:00Z");
  same_log({{"since", "2020-01-05T06:00:00+01:00"}}, "--since=2020-01-05T06:00:00+01:00");
  same_log({{"until", "2020-01-05T05:00:00Z"}}, "--until=2020-01-05T05:00:00Z");
  same_log({{"since", "@1578182400"}, {"until", "@1578528000"}}, "--since=@1578182400 --until=@1578528000");
  fails(git::log, {{"grep", "a\\{1"}}, error_code::kInvalidParams);
  // Forms git reads as "now" (an unknown word, a weekday without a
  // number) are refused rather than guessed.
  for (const char* form : {"next tuesday", "tuesday", "today", "weeks ago", "3", "2 ago"}) {
    std::string msg = fails(git::log, {{"since", form}}, error_code::kInvalidParams);
    EXPECT_NE(msg.find("2 weeks ago"), std::string::npos) << msg;
  }
}

TEST_F(GitLog, RangesAndEmptyRepositories) {
  json empty = ok(git::log, json::object());
  EXPECT_TRUE(empty["commits"].empty());
  EXPECT_NE(empty["note"].get<std::string>().find("no commits"), std::string::npos);
  build_history();
  same_log({{"rev", "side..main"}}, "side..main");
  same_log({{"rev", "main..side"}}, "main..side");
  same_log({{"rev", "HEAD~3.."}}, "HEAD~3..");
  fails(git::log, {{"rev", "a...b"}}, error_code::kInvalidParams);
}

// --- show ---------------------------------------------------------------------------

TEST_F(GitLog, ShowPrintsCommitsAsGitShow) {
  build_history();
  same_show(json::object(), "");
  for (const char* rev : {"HEAD~1", "HEAD~2", "HEAD~3", "side", "side~1", "main~6", "v1"})
    same_show({{"rev", rev}}, rev);
  // A message with tabs, trailing spaces and blank lines; an empty one.
  put("z", "z\n");
  must(
      "git add z && printf '\\n\\n\\ttabbed\\tsubject  \\nsecond\\tline\\n   \\nbody\\n\\n\\n' | "
      "git commit -q --cleanup=verbatim -F -");
  same_show(json::object(), "");
  same_show({{"contextLines", 0}}, "-U0");
  must("git commit -q --allow-empty --allow-empty-message -m ''");
  same_show(json::object(), "");
  json empty = ok(git::show, json::object());
  EXPECT_EQ(empty["total"], 0);
  EXPECT_TRUE(empty["files"].empty());
  json out = ok(git::show, {{"rev", "HEAD~1"}});
  EXPECT_EQ(out["commit"]["hash"], git("rev-parse HEAD~1"));
  EXPECT_EQ(out["files"].size(), 1u);
}

TEST_F(GitLog, ShowOfARootCommitAndOfRenames) {
  std::string s;
  for (int i = 0; i < 40; ++i) s += "line " + std::to_string(i) + "\n";
  put("dir/one.txt", s);
  put("two.txt", "two\n");
  commit_all("root");
  same_show(json::object(), "");
  must("mkdir -p other && git mv dir/one.txt other/one.txt");
  put("other/one.txt", s + "appended\n");
  commit_all("move");
  same_show(json::object(), "");
  same_show({{"findRenames", false}}, "--no-renames");
}

// A commit whose patch is longer than maxBytes: the pages, cut inside
// files, add up to `git show`.
TEST_F(GitLog, ShowPagesAddUpToGitShowWhenFilesAreCut) {
  std::string s;
  for (int i = 0; i < 200; ++i) s += "line number " + std::to_string(i) + " of a long file\n";
  put("a.txt", s);
  put("b.txt", s);
  commit_all("two long files");
  std::string joined;
  json cursor;
  std::size_t pages = 0, files = 0;
  do {
    json p = {{"maxBytes", 1024}};
    if (!cursor.is_null()) p["cursor"] = cursor;
    json out = ok(git::show, p);
    joined += out["text"].get<std::string>();
    files += out["files"].size();
    cursor = out.value("nextCursor", json());
    EXPECT_EQ(out["truncated"].get<bool>(), !cursor.is_null()) << out.dump();
  } while (!cursor.is_null() && ++pages < 100);
  EXPECT_EQ(joined, sh("git show").out);
  EXPECT_EQ(files, 2u);
  EXPECT_GT(pages, 10u);
}

TEST_F(GitLog, ShowPathGivesTheFileAtARevision) {
  build_history();
  same_show({{"rev", "HEAD~3"}, {"path", "a"}}, "HEAD~3:a");
  same_show({{"path", "a"}}, "HEAD:a");
  put("d/e/f.txt", "deep\n");
  put("d/g.txt", "g\n");
  put("bin", std::string("\0\1\2", 3));
  commit_all("dirs");
  same_show({{"path", "d"}}, "HEAD:d");
  same_show({{"path", "."}}, "HEAD:");
  json bin = ok(git::show, {{"path", "bin"}});
  EXPECT_TRUE(bin["binary"].get<bool>());
  EXPECT_EQ(bin["text"], "");
  EXPECT_EQ(bin["size"], 3);
  std::string msg = fails(git::show, {{"path", "nope"}}, error_code::kNotFound);
  EXPECT_NE(msg.find("nope"), std::string::npos);
  // Paged by bytes at line ends.
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "line number " + std::to_string(i) + "\n";
  put("big.txt", big);
  commit_all("big");
  std::string joined;
  json cursor;
  int pages = 0;
  do {
    json p = {{"path", "big.txt"}, {"maxBytes", 10000}};
    if (!cursor.is_null()) p["cursor"] = cursor;
    json out = ok(git::show, p);
    const std::string t = out["text"];
    EXPECT_LE(t.size(), 10000u);
    EXPECT_EQ(t.back(), '\n');
    joined += t;
    cursor = out.value("nextCursor", json());
    ++pages;
  } while (!cursor.is_null() && pages < 100);
  EXPECT_EQ(joined, big);
  EXPECT_GT(pages, 3);
}

// --- blame --------------------------------------------------------------------------

TEST_F(GitLog, BlameMatchesGitBlamePorcelainThroughEditsAndARename) {
  // 40 commits of random edits to one file, renamed half-way.
  std::mt19937 rng(7);
  std::vector<std::string> lines;
  for (int i = 0; i < 120; ++i) lines.push_back("line " + std::to_string(i));
  std::string name = "f.txt";
  auto write = [&] {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    put(name, s);
  };
  write();
  commit_at("2020-01-01T00:00:00+0000", "init");
  for (int k = 1; k < 40; ++k) {
    for (int n = 0, ops = 1 + static_cast<int>(rng() % 4); n < ops; ++n) {
      const std::size_t i = rng() % lines.size();
      switch (rng() % 4) {
        case 0:
          for (int j = 0, c = 1 + static_cast<int>(rng() % 5); j < c; ++j)
            lines.insert(lines.begin() + static_cast<long>(i), "ins " + std::to_string(k) + "." + std::to_string(j));
          break;
        case 1:
          if (lines.size() > 20)
            lines.erase(lines.begin() + static_cast<long>(i),
                        lines.begin() + static_cast<long>(std::min(lines.size(), i + 1 + rng() % 4)));
          break;
        default:
          lines[i] = "mod " + std::to_string(k) + ": " + lines[i];
      }
    }
    if (k == 20) {
      must("git mv f.txt g.txt");
      name = "g.txt";
    }
    write();
    commit_at("2020-01-01T00:00:" + std::string(k < 10 ? "0" : "") + std::to_string(k) + "+0100",
              "change " + std::to_string(k));
  }
  same_blame({{"path", "g.txt"}, {"rev", "HEAD"}}, "HEAD -- g.txt");
  same_blame({{"path", "g.txt"}, {"rev", "HEAD"}, {"startLine", 30}, {"endLine", 60}}, "-L30,60 HEAD -- g.txt");
  same_blame({{"path", "f.txt"}, {"rev", "HEAD~25"}}, "HEAD~25 -- f.txt");
  same_blame({{"path", "g.txt"}}, "-- g.txt");
  // Uncommitted changes in the working tree.
  lines[3] = "changed in the working tree";
  lines.insert(lines.begin() + 10, "inserted in the working tree");
  write();
  same_blame({{"path", "g.txt"}}, "-- g.txt");
}

TEST_F(GitLog, BlameOfMergesStagedAndUntrackedFiles) {
  build_history();
  same_blame({{"path", "a"}, {"rev", "HEAD"}}, "HEAD -- a");
  same_blame({{"path", "a"}, {"rev", "side"}}, "side -- a");
  same_blame({{"path", "x"}}, "-- x");
  put("new.txt", "staged\nfile\n");
  must("git add new.txt");
  same_blame({{"path", "new.txt"}}, "-- new.txt");
  put("untracked.txt", "u\n");
  std::string msg = fails(git::blame, {{"path", "untracked.txt"}}, error_code::kNotFound);
  EXPECT_NE(msg.find("not tracked"), std::string::npos) << msg;
  fails(git::blame, {{"path", "x"}, {"rev", "side"}}, error_code::kNotFound);
  fails(git::blame, {{"path", "a"}, {"rev", "HEAD"}, {"startLine", 99}}, error_code::kInvalidParams);
}

TEST_F(GitLog, BlamePagesByLines) {
  std::string s;
  for (int i = 0; i < 50; ++i) s += "l" + std::to_string(i) + "\n";
  put("f", s);
  commit_all("f");
  json out = ok(git::blame, {{"path", "f"}, {"rev", "HEAD"}, {"limit", 20}});
  EXPECT_TRUE(out["truncated"].get<bool>());
  EXPECT_EQ(out["totalLines"], 50);
  ASSERT_EQ(out["nextCursor"], "21");
  json next = ok(git::blame, {{"path", "f"}, {"rev", "HEAD"}, {"limit", 20}, {"cursor", "21"}});
  ASSERT_EQ(next["hunks"].size(), 1u);
  EXPECT_EQ(next["hunks"][0]["startLine"], 21);
  EXPECT_EQ(next["hunks"][0]["lineCount"], 20);
  EXPECT_EQ(next["hunks"][0]["lines"][0], "l20");
}

// --- schemas ---------------------------------------------------------------------------

TEST_F(GitLog, ResultsConformToTheOutputSchemas) {
  build_history();
  put("bin", std::string("\0\1", 2));
  put("a", "changed\n");
  auto check = [&](const char* id, test::GitOp op, const json& params) {
    const Operation* o = builtin_registry().find(id);
    ASSERT_NE(o, nullptr) << id;
    SchemaValidator v(o->output_schema);
    json out = ok(op, params);
    auto err = v.validate(out, std::string(id) + " result");
    EXPECT_FALSE(err.has_value()) << id << " " << params.dump() << ": " << (err ? err->message : "");
  };
  check("git/diff", git::diff, json::object());
  check("git/diff", git::diff, {{"target", {{"from", "HEAD~3"}, {"to", "HEAD"}}}, {"limit", 1}});
  check("git/diff", git::diff, {{"target", {{"from", "HEAD~3"}}}, {"stat", true}});
  check("git/log", git::log, {{"limit", 2}});
  check("git/show", git::show, json::object());
  check("git/show", git::show, {{"rev", "HEAD~4"}});
  check("git/show", git::show, {{"path", "a"}, {"rev", "HEAD~1"}});
  check("git/show", git::show, {{"path", "."}});
  check("git/blame", git::blame, {{"path", "a"}});
  check("git/blame", git::blame, {{"path", "a"}, {"rev", "side"}, {"limit", 1}});
}

// --- safety ---------------------------------------------------------------------------

TEST_F(GitLog, RefusesEscapingPathsAndOptionLikeRevisions) {
  build_history();
  must("mkdir -p '" + outside() + "' && echo secret > '" + outside() + "/s.txt' && ln -s '" + outside() + "' out");
  for (const test::GitOp& op : {test::GitOp(git::log), test::GitOp(git::show), test::GitOp(git::blame)}) {
    fails(op, {{"rev", "--output=/tmp/x"}, {"path", "a"}}, error_code::kInvalidParams);
    fails(op, {{"rev", "-n1"}, {"path", "a"}}, error_code::kInvalidParams);
    fails(op, {{"rev", "HEAD\nmain"}, {"path", "a"}}, error_code::kInvalidParams);
  }
  fails(git::log, {{"paths", {"../a"}}}, error_code::kOutsideWorkspace);
  fails(git::log, {{"paths", {outside()}}}, error_code::kOutsideWorkspace);
  fails(git::log, {{"paths", {"out/s.txt"}}}, error_code::kOutsideWorkspace);
  fails(git::log, {{"rev", "--all"}}, error_code::kInvalidParams);
  fails(git::show, {{"path", "../../etc/passwd"}}, error_code::kOutsideWorkspace);
  fails(git::show, {{"path", outside() + "/s.txt"}}, error_code::kOutsideWorkspace);
  fails(git::show, {{"path", "out/s.txt"}}, error_code::kOutsideWorkspace);
  fails(git::show, {{"path", ".git/config"}}, error_code::kInvalidParams);
  fails(git::blame, {{"path", "../a"}}, error_code::kOutsideWorkspace);
  fails(git::blame, {{"path", "out/s.txt"}}, error_code::kOutsideWorkspace);
  fails(git::blame, {{"path", outside() + "/s.txt"}}, error_code::kOutsideWorkspace);
  fails(git::show, {{"rev", "no-such-rev"}}, error_code::kNotFound);
}

}  // namespace
}  // namespace icotes
