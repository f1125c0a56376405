// git/diff compared with `git diff` on real repositories: the text must be
// byte for byte what git prints with the same options (patch, -U<n>,
// --stat, --name-only, renames, attributes), the structured files must
// agree with `git diff --numstat` / `--name-status`, paging must add up to
// the whole, and client paths and revisions that could escape or read as
// options are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "git_fixture.hpp"
#include "services/git/commit_format.hpp"

namespace icotes {
namespace {

using test::GitRepoTest;

class GitDiff : public GitRepoTest {
 protected:
  // Our text for `params`, which must succeed.
  std::string text(const json& params) {
    json out = ok(git::diff, params);
    return out.value("text", std::string("<no text>"));
  }
  // Expects our text for `params` to equal `git <args>`'s stdout.
  void same(const json& params, const std::string& args) {
    auto r = sh("git " + args);
    ASSERT_EQ(r.rc, 0) << args;
    EXPECT_EQ(text(params), r.out) << "params " << params.dump() << " vs git " << args;
  }

  // A history exercising most of what a patch can hold; leaves changes in
  // the index and the working tree. Commits: v1 (base), v2 (renames, a
  // type change, binary and mode changes).
  void build_history() {
    std::string big;
    for (int i = 0; i < 60; ++i)
      big += "static int\nfunc_" + std::to_string(i) + "(int x)\n{\n\treturn x + " + std::to_string(i) + ";\n}\n\n";
    put("src/big.c", big);
    std::string text;
    for (int i = 0; i < 40; ++i) text += "alpha line " + std::to_string(i) + "\n";
    put("lib/a.txt", text);
    put("exact.txt", std::string("exact\n") + "same content\n");
    put("nonl", "no newline at the end");
    put("bin.dat", std::string("\0\1\2\3binary", 10));
    put("file", "regular\n");
    put("mode.sh", "echo hi\n");
    put("empty", "");
    put("with space.txt", "a space\n");
    put("h\xc3\xa9llo.txt", "unicode\n");
    put(".gitattributes", "*.c diff=cpp\n");
    commit_all("v1");
    must("git tag v1");

    std::string big2 = big;
    big2.replace(big2.find("return x + 17;"), 14, "return x - 17;");
    big2.replace(big2.find("return x + 45;"), 14, "return 45 * x;");
    put("src/big.c", big2);
    std::string text2;
    for (int i = 0; i < 40; ++i) text2 += (i % 4 ? "alpha line " : "ALPHA LINE ") + std::to_string(i) + "\n";
    put("lib/b.txt", text2);
    must("git rm -q lib/a.txt && mkdir -p moved && git mv exact.txt moved/exact.txt");
    put("nonl", "still no newline");
    put("bin.dat", std::string("\0\1\2\3binary, longer now", 22));
    must("rm file && ln -s src/big.c file && chmod +x mode.sh && git rm -q empty");
    put("with space.txt", "a space, changed\n");
    put("h\xc3\xa9llo.txt", "unicode, changed\n");
    commit_all("v2");
    must("git tag v2");

    // Staged and unstaged changes on top.
    put("staged.txt", "new and staged\n");
    must("git add staged.txt");
    big2.replace(big2.find("return x + 3;"), 13, "return x + 300;");
    put("src/big.c", big2);
    put("nonl", "still no newline\n");
    must("chmod -x mode.sh && rm nonl && printf 'back' > nonl");
    must("rm 'with space.txt'");
  }
};

TEST_F(GitDiff, WorktreeStagedAndRevisionsMatchGit) {
  build_history();
  same(json::object(), "diff");
  same({{"target", "worktree"}}, "diff");
  same({{"target", "staged"}}, "diff --cached");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}}, "diff v1 v2");
  same({{"target", {{"from", "v2"}, {"to", "v1"}}}}, "diff v2 v1");
  same({{"target", {{"from", "v1"}}}}, "diff v1");
  same({{"target", {{"from", "HEAD"}}}}, "diff HEAD");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}, {"findRenames", false}}, "diff --no-renames v1 v2");
}

TEST_F(GitDiff, ContextLinesStatAndNameOnlyMatchGit) {
  build_history();
  for (int u : {0, 1, 10}) {
    same({{"contextLines", u}}, "diff -U" + std::to_string(u));
    same({{"target", {{"from", "v1"}, {"to", "v2"}}}, {"contextLines", u}}, "diff -U" + std::to_string(u) + " v1 v2");
  }
  same({{"stat", true}}, "diff --stat");
  same({{"target", "staged"}, {"stat", true}}, "diff --cached --stat");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}, {"stat", true}}, "diff --stat v1 v2");
  same({{"target", {{"from", "v1"}}}, {"stat", true}}, "diff --stat v1");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}, {"nameOnly", true}}, "diff --name-only v1 v2");
  same({{"nameOnly", true}}, "diff --name-only");
}

TEST_F(GitDiff, PathsLimitTheDiffAsGitPathspecs) {
  build_history();
  same({{"paths", {"src"}}}, "diff -- src");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}, {"paths", {"lib", "nonl"}}}, "diff v1 v2 -- lib nonl");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}, {"paths", {"*.txt"}}}, "diff v1 v2 -- '*.txt'");
  same({{"paths", {dir() + "/src/big.c"}}}, "diff -- src/big.c");
}

// Skip-worktree (sparse checkout) and assume-unchanged entries are not
// looked at, as git does not: git/diff and git/status share one stat scan
// (worktree_scan.hpp); git/diff's own copy showed an absent skip-worktree
// file as deleted, where git/status and git show nothing.
TEST_F(GitDiff, SkipWorktreeAndAssumeUnchangedAreLeftOutAsGitLeavesThem) {
  put("sparse.txt", "not checked out\n");
  put("assumed.txt", "assumed unchanged\n");
  put("plain.txt", "plain\n");
  commit_all("base");
  must("git update-index --skip-worktree sparse.txt && rm sparse.txt");
  must("git update-index --assume-unchanged assumed.txt && echo changed >> assumed.txt");
  put("plain.txt", "plain, changed\n");
  same(json::object(), "diff");
  same({{"target", {{"from", "HEAD"}}}}, "diff HEAD");
  same({{"nameOnly", true}}, "diff --name-only");
}

TEST_F(GitDiff, StagedOnAnUnbornHeadComparesWithTheEmptyTree) {
  put("a.txt", "first\n");
  put("d/b.txt", "second\n");
  must("git add -A");
  same({{"target", "staged"}}, "diff --cached");
  same({{"target", "staged"}, {"stat", true}}, "diff --cached --stat");
  // Nothing to compare in the working tree.
  same(json::object(), "diff");
}

TEST_F(GitDiff, RenamesAreScoredAsGitScoresThem) {
  std::string base;
  for (int i = 0; i < 50; ++i) base += "a line of text number " + std::to_string(i) + "\n";
  put("one.txt", base);
  put("two.txt", base + base);
  put("three.txt", "short\nfile\n");
  commit_all("base");
  // Edits of growing size: 98%, ~80%, ~60% similar, and one below 50%.
  auto edit = [&](int every) {
    std::string s;
    for (int i = 0; i < 50; ++i)
      s += (i % every == 0 ? "CHANGED line " : "a line of text number ") + std::to_string(i) + "\n";
    return s;
  };
  must("git rm -q one.txt two.txt three.txt");
  put("r1.txt", edit(50));
  put("r2.txt", edit(5) + edit(5));
  put("r3.txt", "short\nfile\nplus one\n");
  put("other.txt", edit(2));
  must("git add -A");
  same({{"target", "staged"}}, "diff --cached");
  same({{"target", "staged"}, {"stat", true}}, "diff --cached --stat");
  same({{"target", "staged"}, {"findRenames", false}, {"stat", true}}, "diff --cached --no-renames --stat");
  json out = ok(git::diff, {{"target", "staged"}});
  // --name-status agrees with our statuses and paths.
  std::string ns;
  for (const auto& f : out["files"]) {
    const std::string st = f["status"];
    if (st == "renamed")
      ns += "R0" + std::to_string(f["similarity"].get<int>()) + "\t" + f["oldPath"].get<std::string>() + "\t" +
            f["path"].get<std::string>() + "\n";
    else
      ns += std::string(1, static_cast<char>(std::toupper(st[0]))) + "\t" + f["path"].get<std::string>() + "\n";
  }
  EXPECT_EQ(ns, git("diff --cached --name-status") + "\n");
  // diff.renames=false turns the default off, as for git.
  must("git config diff.renames false");
  same({{"target", "staged"}}, "diff --cached");
}

TEST_F(GitDiff, RenamesIntoOtherDirectoriesShowAsGitAbbreviatesThem) {
  std::string s;
  for (int i = 0; i < 30; ++i) s += "content " + std::to_string(i) + "\n";
  put("a/b/c/file.txt", s);
  put("x/same.txt", s + "x\n");
  put("top.txt", s + "top\n");
  commit_all("base");
  must(
      "mkdir -p a/d/c && git mv a/b/c/file.txt a/d/c/file.txt && mkdir -p y && git mv x/same.txt y/same.txt && "
      "git mv top.txt sub-top.txt");
  same({{"target", "staged"}, {"stat", true}}, "diff --cached --stat");
  same({{"target", "staged"}}, "diff --cached");
}

TEST_F(GitDiff, AttributesDecideTextBinaryAndLineEndings) {
  std::string fn;
  for (int i = 0; i < 30; ++i) fn += "def f" + std::to_string(i) + "(x):\n    return " + std::to_string(i) + "\n\n";
  put("crlf.txt", "one\ntwo\nthree\n");
  put("raw.txt", "one\r\ntwo\r\n");
  put("forced.bin", "text that is binary by attribute\n");
  put("nodiff.txt", "no diff\n");
  put("code.py", fn);
  put(".gitattributes",
      "crlf.txt text eol=crlf\nraw.txt -text\nforced.bin binary\nnodiff.txt -diff\n*.py diff=python\n");
  commit_all("attrs");
  must("printf 'one\\r\\nTWO\\r\\nthree\\r\\n' > crlf.txt && printf 'one\\r\\ntwo changed\\r\\n' > raw.txt");
  put("forced.bin", "text that is binary by attribute, changed\n");
  put("nodiff.txt", "no diff, changed\n");
  std::string fn2 = fn;
  fn2.replace(fn2.find("return 20"), 9, "return -20");
  put("code.py", fn2);
  same(json::object(), "diff");
  same({{"stat", true}}, "diff --stat");
  same({{"target", {{"from", "HEAD"}}}}, "diff HEAD");
  commit_all("changed");
  same({{"target", {{"from", "HEAD~1"}, {"to", "HEAD"}}}}, "diff HEAD~1 HEAD");
  same({{"target", {{"from", "HEAD~1"}, {"to", "HEAD"}}}, {"stat", true}}, "diff --stat HEAD~1 HEAD");
}

TEST_F(GitDiff, HunksAreShiftedByTheIndentHeuristicAsGitsDefault) {
  // Without diff.indentHeuristic the added block would start one line
  // earlier ("}" first).
  put("f.c", "        x1\n    x0\n}\n    {\n\n");
  commit_all("base");
  put("f.c", "        x1\n    x0\n}\n        x1\n    x0\n}\n    {\n\n");
  same(json::object(), "diff");
  ASSERT_NE(git("diff"), git("-c diff.indentHeuristic=false diff"));
  must("git config diff.indentHeuristic false");
  same(json::object(), "diff");
}

TEST_F(GitDiff, IntentToAddIsANewFileInTheWorktreeAndAbsentFromTheIndexDiff) {
  put("a.txt", "a\n");
  commit_all("a");
  put("later.txt", "added with -N\n");
  must("git add -N later.txt");
  same(json::object(), "diff");
  same({{"target", "staged"}}, "diff --cached");
  same({{"target", {{"from", "HEAD"}}}}, "diff HEAD");
  json out = ok(git::diff, json::object());
  ASSERT_EQ(out["files"].size(), 1u);
  EXPECT_EQ(out["files"][0]["status"], "added");
}

TEST_F(GitDiff, StatGraphScalesAndNamesShortenAsGitDoes) {
  for (int i = 0; i < 12; ++i) put("many" + std::to_string(i) + ".txt", std::string(i * 37 + 1, 'x') + "\n");
  put("a/very/long/directory/path/that/will/not/fit/in/the/name/column/file.txt", "x\n");
  put("img.bin", std::string("\0\1\2", 3));
  commit_all("base");
  for (int i = 0; i < 12; ++i) {
    std::string s;
    for (int k = 0; k < i * 53 + 2; ++k) s += "line\n";
    put("many" + std::to_string(i) + ".txt", s);
  }
  put("a/very/long/directory/path/that/will/not/fit/in/the/name/column/file.txt", "y\nz\n");
  put("img.bin", std::string("\0\1\2\3\4", 5));
  same({{"stat", true}}, "diff --stat");
  // A file with one change among huge ones still gets a column.
  same({{"stat", true}, {"paths", {"many0.txt", "many11.txt"}}}, "diff --stat -- many0.txt many11.txt");
}

TEST_F(GitDiff, StatChangesInTheSameSecondAreSeen) {
  put("f", "aaa\n");
  put("g", "bbb\n");
  commit_all("base");
  // Same size, written right after the index: only the racy check sees it.
  put("f", "ccc\n");
  same(json::object(), "diff");
  // Content changed, mtime put back: ctime still differs.
  must("cp -p g g.keep && printf 'ddd\\n' > g && touch -r g.keep g && rm g.keep");
  same(json::object(), "diff");
  must("git update-index --refresh >/dev/null || true");
  same(json::object(), "diff");
  // A file replaced by a directory, and a deleted file.
  must("rm f && mkdir f && touch f/inner && rm g");
  same(json::object(), "diff");
}

TEST_F(GitDiff, FilesAgreeWithNumstatAndTheTextsHunkHeaders) {
  build_history();
  json out = ok(git::diff, {{"target", {{"from", "v1"}, {"to", "v2"}}}});
  EXPECT_EQ(out["total"], out["files"].size());
  EXPECT_FALSE(out["truncated"].get<bool>());
  // numstat lists renames as "old => new" forms; compare counts per new path.
  std::istringstream numstat(git("-c core.quotepath=off diff --numstat --no-renames v1 v2") + "\n");
  std::map<std::string, std::string> counts;
  for (std::string line; std::getline(numstat, line);) {
    auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    counts[line.substr(t2 + 1)] += line.substr(0, t2) + ";";
  }
  std::string headers;
  for (const auto& f : out["files"]) {
    const std::string path = f["path"];
    const bool binary = f["binary"];
    const std::string mine =
        binary ? "-\t-;"
               : std::to_string(f["additions"].get<int>()) + "\t" + std::to_string(f["deletions"].get<int>()) + ";";
    if (f["status"] == "renamed") continue;  // numstat without renames splits them
    if (f["status"] == "typechange") {
      EXPECT_EQ(f["oldMode"], "100644");
      EXPECT_EQ(f["newMode"], "120000");
      continue;
    }
    EXPECT_EQ(counts[path], mine) << path;
    for (const auto& h : f.value("hunks", json::array())) headers += h["header"].get<std::string>() + "\n";
    if (path == "mode.sh") {
      EXPECT_EQ(f["oldMode"], "100644");
      EXPECT_EQ(f["newMode"], "100755");
    }
  }
  std::string expected;
  std::istringstream patch(git("diff v1 v2 -- ':!exact.txt' ':!moved' ':!lib' ':!file'") + "\n");
  for (std::string line; std::getline(patch, line);)
    if (line.rfind("@@ ", 0) == 0) expected += line + "\n";
  EXPECT_EQ(headers, expected);
}

TEST_F(GitDiff, PagesAddUpToTheWholeDiff) {
  build_history();
  const json target = {{"from", "v1"}, {"to", "v2"}};
  const std::string whole = git("diff v1 v2") + "\n";
  std::string joined;
  json cursor;
  std::size_t files = 0, pages = 0;
  do {
    json p = {{"target", target}, {"limit", 2}};
    if (!cursor.is_null()) p["cursor"] = cursor;
    json out = ok(git::diff, p);
    joined += out["text"].get<std::string>();
    files += out["files"].size();
    ++pages;
    cursor = out.value("nextCursor", json());
    if (!cursor.is_null()) {
      EXPECT_NE(out["note"].get<std::string>().find("cursor"), std::string::npos);
    }
  } while (!cursor.is_null() && pages < 50);
  EXPECT_EQ(joined, whole);
  EXPECT_EQ(files, ok(git::diff, {{"target", target}})["total"].get<std::size_t>());
  EXPECT_GT(pages, 2u);

  // A byte budget smaller than one file: the file is cut at a line end.
  json cut = ok(git::diff, {{"target", target}, {"maxBytes", 1024}, {"contextLines", 100}, {"paths", {"src/big.c"}}});
  const std::string full = git("diff -U100 v1 v2 -- src/big.c") + "\n";
  ASSERT_GT(full.size(), 1024u);
  const std::string t = cut["text"];
  EXPECT_TRUE(cut["truncated"].get<bool>());
  EXPECT_LE(t.size(), 1024u);
  EXPECT_EQ(full.compare(0, t.size(), t), 0);
  EXPECT_EQ(t.back(), '\n');
  EXPECT_NE(cut["note"].get<std::string>().find("maxBytes"), std::string::npos);

  fails(git::diff, {{"target", target}, {"cursor", "abc"}}, error_code::kInvalidParams);
}

TEST_F(GitDiff, AbbreviatedIdsFollowCoreAbbrevAndTheObjectCount) {
  build_history();
  must("git config core.abbrev 12");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}}, "diff v1 v2");
  must("git config --unset core.abbrev && git gc -q");
  same({{"target", {{"from", "v1"}, {"to", "v2"}}}}, "diff v1 v2");
  git_repository* repo = nullptr;
  ASSERT_EQ(git_repository_open(&repo, dir().c_str()), 0);
  EXPECT_EQ(git::detail::default_abbrev(repo), static_cast<int>(git("rev-parse --short HEAD").size()));
  git_repository_free(repo);
}

TEST_F(GitDiff, AbbreviationLengthOnTheKernelTreeEqualsGits) {
  const std::string kernel = std::string(ICOTES_SOURCE_DIR) + "/build/kernel/linux-source-6.1";
  // Only a finished tree: the search tier's fixture may be building it right now.
  if (::access((kernel + "/.icotes-history-ready").c_str(), F_OK) != 0)
    GTEST_SKIP() << "no prepared kernel tree at " << kernel << " (scripts/kernel-tree.sh)";
  git_repository* repo = nullptr;
  ASSERT_EQ(git_repository_open(&repo, kernel.c_str()), 0);
  auto r = test::run_in(kernel, "git rev-parse --short HEAD");
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(git::detail::default_abbrev(repo), static_cast<int>(r.out.size() - 1));  // 9 for ~92k packed objects
  git_repository_free(repo);
}

TEST_F(GitDiff, RefusesEscapingPathsAndOptionLikeRevisions) {
  put("a.txt", "a\n");
  commit_all("a");
  must("mkdir -p '" + outside() + "' && echo secret > '" + outside() + "/s.txt' && ln -s '" + outside() + "' out");
  EXPECT_NE(fails(git::diff, {{"paths", {"../x"}}}, error_code::kOutsideWorkspace), "");
  EXPECT_NE(fails(git::diff, {{"paths", {outside() + "/s.txt"}}}, error_code::kOutsideWorkspace), "");
  std::string msg = fails(git::diff, {{"paths", {"out/s.txt"}}}, error_code::kOutsideWorkspace);
  EXPECT_NE(msg.find("symlink"), std::string::npos) << msg;
  fails(git::diff, {{"paths", {".git/config"}}}, error_code::kInvalidParams);
  msg = fails(git::diff, {{"target", {{"from", "--output=/tmp/x"}}}}, error_code::kInvalidParams);
  EXPECT_NE(msg.find("'-'"), std::string::npos) << msg;
  fails(git::diff, {{"target", {{"from", "HEAD"}, {"to", "-R"}}}}, error_code::kInvalidParams);
  fails(git::diff, {{"target", {{"from", "HEAD a"}}}}, error_code::kInvalidParams);
  msg = fails(git::diff, {{"target", {{"from", "no-such-branch"}}}}, error_code::kNotFound);
  EXPECT_NE(msg.find("no-such-branch"), std::string::npos);
  // A blob is not a commit.
  fails(git::diff, {{"target", {{"from", "HEAD:a.txt"}}}}, error_code::kInvalidParams);
}

TEST_F(GitDiff, HonoursCancellation) {
  build_history();
  auto root = ConfinedRoot::open(dir());
  ASSERT_TRUE(root.ok());
  git::Service svc(*root);
  CancellationToken token;
  token.cancel();
  NullProgress progress;
  auto r = svc.with_repo(token, progress, [](git::Repo& repo) {
    return git::diff(repo, bind_params<git::DiffParams>({{"target", {{"from", "v1"}, {"to", "v2"}}}}));
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kRequestCancelled);
}

// Every page that is truncated names the next; the pages' texts add up to
// git's whole text even where one file is larger than a page; each file is
// listed once.
TEST_F(GitDiff, FilesLargerThanAPageContinueOnTheNextPage) {
  build_history();
  for (const json& target : {json({{"from", "v1"}, {"to", "v2"}}), json("worktree")}) {
    std::string joined;
    json cursor;
    std::size_t files = 0, pages = 0, total = 0;
    do {
      json p = {{"target", target}, {"maxBytes", 1024}, {"contextLines", 40}};
      if (!cursor.is_null()) p["cursor"] = cursor;
      json out = ok(git::diff, p);
      joined += out["text"].get<std::string>();
      files += out["files"].size();
      total = out["total"];
      ++pages;
      cursor = out.value("nextCursor", json());
      EXPECT_EQ(out["truncated"].get<bool>(), !cursor.is_null()) << out.dump();
    } while (!cursor.is_null() && pages < 200);
    EXPECT_EQ(joined, git(target.is_object() ? "diff -U40 v1 v2" : "diff -U40") + "\n");
    EXPECT_EQ(files, total);
    EXPECT_GT(pages, target.is_object() ? 3u : 1u);
  }
  fails(git::diff, {{"cursor", "1:x"}}, error_code::kInvalidParams);
}

// xdiff's default funcname: the hunk header's context is the first 80
// bytes of the line, then trailing whitespace is dropped.
TEST_F(GitDiff, HunkHeaderContextIsCutAt80BytesWithoutTrailingSpace) {
  // Byte 80 of the function line is a space.
  const std::string fn = "void Connection::send_response(const json& id, const json* result, const Error* error)\n";
  ASSERT_EQ(fn[79], ' ');
  std::string body = fn + "{\n";
  for (int i = 0; i < 12; ++i) body += "  step(" + std::to_string(i) + ");\n";
  body += "}\n";
  put("c.cpp", body);
  commit_all("c");
  body.replace(body.find("step(9)"), 7, "step(90)");
  put("c.cpp", body);
  same(json::object(), "diff");
  json out = ok(git::diff, json::object());
  ASSERT_EQ(out["files"].size(), 1u);
  const std::string header = out["files"][0]["hunks"][0]["header"];
  EXPECT_NE(header.back(), ' ') << header;
  EXPECT_EQ(header, git("diff").substr(git("diff").find("@@ -"), header.size()));
}

// git 2.39's similarity count leaves out a last line without a newline.
TEST_F(GitDiff, RenameScoreIgnoresAnUnterminatedLastLine) {
  put("src/old.txt",
      "\tamet epsilon gamma omega xi tau amet lambda\n\tkappa upsilon omega xi psi\n"
      "\ttheta psi sit rho tau psi dolor tau\n\tpi amet eta gamma upsilon mu ipsum");
  commit_all("one");
  must("git mv src/old.txt src/new.txt");
  put("src/new.txt",
      "\tamet epsilon gamma omega xi tau amet lambda\n\tiota sigma rho sigma ipsum delta dolor\n"
      "\ttheta psi sit rho tau psi dolor tau\n\tpi amet eta gamma upsilon mu ipsum");
  commit_all("two");
  ASSERT_NE(git("diff HEAD~1 HEAD").find("similarity index 52%"), std::string::npos);
  same({{"target", {{"from", "HEAD~1"}, {"to", "HEAD"}}}}, "diff HEAD~1 HEAD");
}

// libgit2 loses the symlink half of a type change when the diff also
// covers a file gone from the index and an emptied directory; git does not.
TEST_F(GitDiff, TypeChangeNextToAStagedRenameAgainstARevision) {
  put("src/a.txt", "1\n2\n3\n");
  put("with space/b.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n");
  commit_all("base");
  must("git mv 'with space/b.txt' src/util.txt && mkdir -p 'with space' && rm src/a.txt && ln -s target src/a.txt");
  same({{"target", {{"from", "HEAD"}}}}, "diff HEAD");
  same({{"target", {{"from", "HEAD"}}}, {"stat", true}}, "diff HEAD --stat");
}

// Conflicted paths: both sides changed (stages 1-3), added on both sides
// (2, 3), deleted by them (1, 2).
class GitDiffConflict : public GitDiff {
 protected:
  void conflict() {
    put("both.txt", "base\n");
    put("gone.txt", "kept here\n");
    put("plain.txt", "plain\n");
    commit_all("base");
    must("git checkout -q -b side");
    put("both.txt", "side\n");
    put("added.txt", "side added\n");
    must("git rm -q gone.txt");
    commit_all("side");
    must("git checkout -q main");
    put("both.txt", "main\n");
    put("added.txt", "main added\n");
    put("gone.txt", "kept here, changed\n");
    commit_all("main");
    sh("git merge -q side");
    ASSERT_EQ(git("ls-files -u | wc -l"), "7");
    put("plain.txt", "plain, changed\n");
    put("staged.txt", "new\n");
    must("git add staged.txt");
  }
};

TEST_F(GitDiffConflict, UnmergedPathsAreListedAsGitListsThem) {
  conflict();
  same({{"target", "staged"}}, "diff --cached");
  same({{"target", "staged"}, {"nameOnly", true}}, "diff --cached --name-only");
  same({{"nameOnly", true}}, "diff --name-only");
  // git 2.39 forgets the line break after "Unmerged" (diff.c show_stats).
  const std::string fix_break = " | sed -E 's/\\| Unmerged /| Unmerged\\n /g'";
  EXPECT_EQ(text({{"stat", true}}), sh("git diff --stat" + fix_break).out);
  EXPECT_EQ(text({{"target", "staged"}, {"stat", true}}), sh("git diff --cached --stat" + fix_break).out);
  same({{"paths", {"gone.txt"}}}, "diff -- gone.txt");
  same({{"target", {{"from", "HEAD"}}}}, "diff HEAD");
  same({{"target", {{"from", "HEAD~1"}}}}, "diff HEAD~1");
  json staged = ok(git::diff, {{"target", "staged"}});
  std::vector<std::string> statuses;
  for (const auto& f : staged["files"])
    statuses.push_back(f["path"].get<std::string>() + " " + f["status"].get<std::string>());
  EXPECT_EQ(statuses, (std::vector<std::string>{"added.txt unmerged", "both.txt unmerged", "gone.txt unmerged",
                                                "staged.txt added"}));
  EXPECT_EQ(staged["total"], 4);
  // Documented divergence: git's combined diff (diff --cc) for a path with
  // both sides is shown as "* Unmerged path" and ours -> working tree.
  const std::string worktree = text(json::object());
  EXPECT_EQ(worktree.rfind("* Unmerged path added.txt\ndiff --git a/added.txt b/added.txt\n", 0), 0u) << worktree;
}

}  // namespace
}  // namespace icotes
