// git/status compared with `git status --porcelain=v2 --branch` on real
// repositories: every scenario renders our JSON as porcelain v2 lines (modes
// and object ids left out, which the JSON does not carry) and expects git's.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "git_fixture.hpp"

namespace icotes {
namespace {

using test::GitRepoTest;

// Our result as porcelain v2 lines: "# branch.*" headers, then
// "1 XY sub path", "2 XY sub Rscore path\torig", "u XY sub path", "? path",
// "! path".
std::string render(const json& out) {
  std::string s;
  const json& b = out["branch"];
  s += "# branch.oid " + (b["oid"].is_null() ? std::string("(initial)") : b["oid"].get<std::string>()) + "\n";
  s += "# branch.head " + (b["head"].is_null() ? std::string("(detached)") : b["head"].get<std::string>()) + "\n";
  if (b.contains("upstream")) s += "# branch.upstream " + b["upstream"].get<std::string>() + "\n";
  if (b.contains("ahead"))
    s += "# branch.ab +" + std::to_string(b["ahead"].get<int>()) + " -" + std::to_string(b["behind"].get<int>()) + "\n";
  for (const auto& e : out["entries"]) {
    const std::string kind = e["kind"];
    const std::string path = e["path"];
    if (kind == "untracked" || kind == "ignored") {
      s += (kind == "untracked" ? "? " : "! ") + path + "\n";
      continue;
    }
    std::string sub = "N...";
    if (e.contains("submodule")) {
      const json& m = e["submodule"];
      sub = std::string("S") + (m["commitChanged"].get<bool>() ? "C" : ".") + (m["modified"].get<bool>() ? "M" : ".") +
            (m["untracked"].get<bool>() ? "U" : ".");
    }
    const std::string xy = e["index"].get<std::string>() + e["worktree"].get<std::string>();
    if (kind == "renamed") {
      s += "2 " + xy + " " + sub + " R" + std::to_string(e["score"].get<int>()) + " " + path + "\t" +
           e["origPath"].get<std::string>() + "\n";
    } else {
      s += (kind == "unmerged" ? "u " : "1 ") + xy + " " + sub + " " + path + "\n";
    }
  }
  return s;
}

// git's porcelain v2 with the mode and object-id fields dropped.
std::string normalize(const std::string& porcelain) {
  std::istringstream in(porcelain);
  std::string line, s;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::size_t pos = 0;
    while (pos <= line.size()) {
      std::size_t sp = line.find(' ', pos);
      if (sp == std::string::npos) sp = line.size();
      f.push_back(line.substr(pos, sp - pos));
      pos = sp + 1;
    }
    auto rest = [&](std::size_t from) {
      std::string r;
      for (std::size_t i = from; i < f.size(); ++i) r += (i > from ? " " : "") + f[i];
      return r;
    };
    if (f[0] == "1") {
      s += "1 " + f[1] + " " + f[2] + " " + rest(8) + "\n";
    } else if (f[0] == "2") {
      s += "2 " + f[1] + " " + f[2] + " " + f[8] + " " + rest(9) + "\n";
    } else if (f[0] == "u") {
      s += "u " + f[1] + " " + f[2] + " " + rest(10) + "\n";
    } else {
      s += line + "\n";
    }
  }
  return s;
}

class GitStatus : public GitRepoTest {
 protected:
  // Our status (all pages) against git's, for the same options.
  void expect_same(const json& params, const std::string& git_flags) {
    json p = params;
    p["limit"] = 100000;
    const json ours = ok(git::status, p);
    const std::string theirs = normalize(git("status --porcelain=v2 --branch " + git_flags));
    EXPECT_EQ(render(ours), theirs) << "params " << params.dump() << ", git flags '" << git_flags << "'";
  }

  // A repository with a commit: tracked a, b, dir/c, dir/sub/d, link -> a.
  void base() {
    put("a", "a\n");
    put("b", "b\n");
    put("dir/c", "c\n");
    put("dir/sub/d", "d\n");
    must("ln -s a link");
    commit_all("base");
  }
};

TEST_F(GitStatus, CleanTreeIsClean) {
  base();
  const json out = ok(git::status, json::object());
  EXPECT_TRUE(out["clean"].get<bool>());
  EXPECT_EQ(out["total"], 0);
  EXPECT_FALSE(out["truncated"].get<bool>());
  EXPECT_EQ(out["branch"]["head"], "main");
  EXPECT_EQ(out["branch"]["oid"], git("rev-parse HEAD"));
  EXPECT_FALSE(out["branch"]["detached"].get<bool>());
  expect_same(json::object(), "");
}

TEST_F(GitStatus, ModifiedAddedDeletedTypeChangedUntracked) {
  base();
  put("a", "a2\n");  // unstaged modification
  put("b", "b2\n");
  must("git add b");  // staged modification
  put("b", "b3\n");   // ... and unstaged on top
  put("new", "n\n");
  must("git add new");               // added
  must("git rm -q dir/c");           // staged deletion
  must("rm dir/sub/d");              // worktree deletion
  must("rm link && echo x > link");  // symlink -> file: type change
  put("untracked.txt", "u\n");       // untracked file
  put("fresh/x/y", "y\n");           // wholly untracked directory
  put("dir/sub/z", "z\n");           // untracked file in a tracked dir
  expect_same(json::object(), "");
  expect_same({{"untracked", "all"}}, "--untracked-files=all");
  expect_same({{"untracked", "no"}}, "--untracked-files=no");
  const json out = ok(git::status, json::object());
  EXPECT_FALSE(out["clean"].get<bool>());
}

TEST_F(GitStatus, StagedTypeChange) {
  base();
  must("rm a && ln -s b a && git add a");
  expect_same(json::object(), "");
}

TEST_F(GitStatus, IntentToAddAndModeChange) {
  base();
  put("ita", "i\n");
  put("ita-gone", "g\n");
  must("git add -N ita ita-gone && rm ita-gone && chmod +x b");
  expect_same(json::object(), "");
  expect_same({{"untracked", "no"}}, "-uno");
}

TEST_F(GitStatus, UntrackedModeFromConfig) {
  base();
  put("fresh/x/y", "y\n");
  must("git config status.showUntrackedFiles all");
  expect_same(json::object(), "");
  must("git config status.showUntrackedFiles no");
  expect_same(json::object(), "");
  expect_same({{"untracked", "normal"}}, "-unormal");
}

TEST_F(GitStatus, RemovedFromIndexButStillOnDisk) {
  base();
  put(".gitignore", "b\n");
  must("git rm -q --cached a b");  // a: untracked now; b: ignored now
  expect_same(json::object(), "");
  expect_same({{"ignored", true}}, "--ignored");
}

TEST_F(GitStatus, EmptyUntrackedDirectoryIsNotListed) {
  base();
  must("mkdir -p empty/deeper");
  put("onlyignored/x.log", "x\n");
  put(".gitignore", "*.log\n");
  expect_same(json::object(), "");
  expect_same({{"untracked", "all"}}, "-uall");
}

TEST_F(GitStatus, RenamesAsGitDefaultsAndWhenOff) {
  base();
  put("big", std::string(200, 'x') + "\n");
  commit_all("big");
  must("git mv big big2");
  must("git mv a a-renamed");                                            // tiny file: exact rename
  must("git mv dir/c dir/c2 && echo more >> dir/c2 && git add dir/c2");  // renamed and modified
  put("dir/c2", "changed again\n");                                      // worktree change on top
  expect_same(json::object(), "");
  expect_same({{"findRenames", false}}, "--no-renames");
  // status.renames=false in config is what git status honours too.
  must("git config status.renames false");
  expect_same(json::object(), "");
  expect_same({{"findRenames", true}}, "--renames");
}

TEST_F(GitStatus, IgnoredTraditional) {
  base();
  put(".gitignore", "*.o\nbuild/\n");
  put("x.o", "o\n");
  put("dir/y.o", "o\n");
  put("build/out/z", "z\n");
  put("mixed/keep.c", "c\n");
  put("mixed/drop.o", "o\n");
  put("mixed/build/x/a", "a\n");
  put("mixed/sub/s.o", "o\n");
  put("mixed/sub/k.c", "c\n");
  put("onlyignored/a.o", "o\n");
  put("onlyignored/deep/b.o", "o\n");
  expect_same({{"ignored", true}}, "--ignored");
  expect_same({{"ignored", true}, {"untracked", "all"}}, "--ignored -uall");
  expect_same({{"ignored", true}, {"untracked", "no"}}, "--ignored -uno");
  // Ignored files alone do not make a tree unclean.
  must("git add .gitignore mixed/keep.c mixed/sub/k.c && git commit -qm ign");
  expect_same({{"ignored", true}}, "--ignored");
  const json out = ok(git::status, {{"ignored", true}});
  EXPECT_TRUE(out["clean"].get<bool>()) << out.dump();
  EXPECT_GT(out["total"].get<int>(), 0);
}

TEST_F(GitStatus, MergeConflicts) {
  put("both", "base\n");
  put("deleted-by-them", "base\n");
  put("deleted-by-us", "base\n");
  put("clean", "base\n");
  commit_all("base");
  must("git checkout -q -b other");
  put("both", "theirs\n");
  put("added-both", "theirs\n");
  put("deleted-by-us", "theirs change\n");
  must("git rm -q deleted-by-them");
  commit_all("theirs");
  must("git checkout -q main");
  put("both", "ours\n");
  put("added-both", "ours\n");
  put("deleted-by-them", "ours change\n");
  must("git rm -q deleted-by-us");
  put("clean", "merged cleanly? no: a local staged change\n");
  commit_all("ours");
  EXPECT_NE(sh("git merge -q other").rc, 0);
  put("untracked", "u\n");
  const json out = ok(git::status, json::object());
  int unmerged = 0;
  for (const auto& e : out["entries"]) unmerged += e["kind"] == "unmerged";
  EXPECT_EQ(unmerged, 4) << out.dump();
  expect_same(json::object(), "");
}

TEST_F(GitStatus, UnmergedEntriesComeAfterTheOtherChanges) {
  // git prints every "1"/"2" line, then every "u" line, each group sorted by
  // path: the conflicted "a" comes after the staged "b" and "z".
  put("a", "base\n");
  put("b", "base\n");
  put("old", std::string(100, 'o') + "\n");
  commit_all("base");
  must("git checkout -q -b other");
  put("a", "theirs\n");
  put("z", "added by them\n");
  commit_all("theirs");
  must("git checkout -q main");
  put("a", "ours\n");
  commit_all("ours");
  EXPECT_NE(sh("git merge -q other").rc, 0);
  put("b", "unstaged\n");
  must("git mv old renamed");
  put("untracked", "u\n");
  const json out = ok(git::status, {{"limit", 100}});
  ASSERT_EQ(out["entries"].size(), 5u) << out.dump();
  EXPECT_EQ(out["entries"][3]["kind"], "unmerged") << out.dump();
  EXPECT_EQ(out["entries"][3]["path"], "a");
  expect_same(json::object(), "");
  expect_same({{"findRenames", false}}, "--no-renames");
  expect_same({{"untracked", "no"}}, "-uno");
  expect_same({{"path", "a"}}, "-- a");
}

TEST_F(GitStatus, IgnoredDirectoriesGroupedLikeGit) {
  base();
  put(".gitignore", "*.o\nbuild/\nkept/\n");
  must("mkdir -p empty empty-nest/a/b dir/empty-sub build/empty");  // nothing to show
  must("mkdir -p build-empty && echo build-empty/ >> .gitignore");  // an ignored empty directory
  put("only-ignored/x.o", "o\n");                                   // "! only-ignored/"
  put("only-ignored/deep/y.o", "o\n");
  must("mkdir -p only-ignored/void");
  put("src/main.c", "c\n");  // "? src/" and what is ignored in it
  put("src/trace.o", "o\n");
  put("src/objs/a.o", "o\n");  // "! src/objs/": nothing but ignored files
  must("mkdir -p src/objs/none src/nothing");
  put("src/build/out", "x\n");  // an ignored directory
  put("src/lib/keep.c", "c\n");
  put("src/lib/skip.o", "o\n");
  put("kept/tracked", "t\n");  // an ignored directory with a tracked file
  must("git add -f kept/tracked");
  put("kept/drop.o", "o\n");
  put("kept/other", "x\n");
  put("kept/untracked-dir/f", "f\n");
  must("mkdir -p kept/empty");
  put("dir/sub/gen.o", "o\n");
  expect_same({{"ignored", true}}, "--ignored");
  expect_same({{"ignored", true}, {"untracked", "all"}}, "--ignored -uall");
  expect_same({{"ignored", true}, {"untracked", "no"}}, "--ignored -uno");
  expect_same(json::object(), "");
  expect_same({{"untracked", "all"}}, "-uall");
  const json out = ok(git::status, {{"ignored", true}, {"limit", 100}});
  std::vector<std::string> ignored;
  for (const auto& e : out["entries"]) {
    if (e["kind"] == "ignored") ignored.push_back(e["path"]);
  }
  EXPECT_EQ(ignored,
            (std::vector<std::string>{"dir/sub/gen.o", "kept/drop.o", "kept/other", "kept/untracked-dir/",
                                      "only-ignored/", "src/build/", "src/lib/skip.o", "src/objs/", "src/trace.o"}));
}

TEST_F(GitStatus, PathInsideUntrackedOrIgnoredDirectories) {
  // A path the index has nothing at or under: git reads its way to it and
  // shows it as the untracked listing would.
  base();
  put(".gitignore", "*.o\nbuild/\n");
  put("new/file", "f\n");
  put("new/sub/x.o", "o\n");
  put("new/sub/deeper/y.o", "o\n");
  put("dir/new-file", "n\n");
  put("dir/only-ignored/z.o", "o\n");
  put("build/out/bin", "b\n");
  must("mkdir -p dir/empty");
  put("gone/f", "f\n");
  must("git add gone && git commit -qm gone && git rm -r -q --cached gone");  // "D." and "? gone/"
  for (const std::string path : {"new", "new/file", "new/sub", "new/sub/x.o", "new/sub/deeper", "dir/new-file",
                                 "dir/only-ignored", "dir/only-ignored/z.o", "dir/empty", "build", "build/out",
                                 "build/out/bin", "gone", "gone/f", "no-such", "new/no-such"}) {
    expect_same({{"path", path}}, "-- '" + path + "'");
    expect_same({{"path", path}, {"ignored", true}}, "--ignored -- '" + path + "'");
    expect_same({{"path", path}, {"untracked", "all"}}, "-uall -- '" + path + "'");
  }
}

TEST_F(GitStatus, NestedRepositoriesWithoutFiles) {
  // git lists a nested repository as one untracked entry even when its work
  // tree is empty; libgit2 finds no file in it and calls it ignored.
  base();
  put(".gitignore", "*.o\nignored-repo/\n");
  must("git init -q fresh && git init -q holder/inner && git init -q ignored-repo");
  must("git init -q only-objects && touch only-objects/x.o");
  put("with-files/f", "f\n");
  must("git -C with-files init -q");
  put("mixed/file", "f\n");
  must("git init -q mixed/repo");
  put("dir/sub/stray.o", "o\n");
  must("git init -q dir/repo");
  for (const char* u : {"normal", "all"}) {
    const std::string flag = std::string(" --untracked-files=") + u;
    expect_same({{"untracked", u}}, flag);
    expect_same({{"untracked", u}, {"ignored", true}}, "--ignored" + flag);
    for (const std::string path : {"fresh", "holder", "holder/inner", "mixed", "dir", "ignored-repo", "only-objects"}) {
      expect_same({{"untracked", u}, {"path", path}}, flag + " -- " + path);
      expect_same({{"untracked", u}, {"ignored", true}, {"path", path}}, "--ignored" + flag + " -- " + path);
    }
  }
}

TEST_F(GitStatus, DetachedHead) {
  base();
  put("a", "2\n");
  commit_all("second");
  must("git checkout -q --detach HEAD~1");
  put("b", "dirty\n");
  const json out = ok(git::status, json::object());
  EXPECT_TRUE(out["branch"]["detached"].get<bool>());
  EXPECT_TRUE(out["branch"]["head"].is_null());
  expect_same(json::object(), "");
}

TEST_F(GitStatus, UnbornBranch) {
  put("a", "a\n");
  put("b", "b\n");
  must("git add a");
  const json out = ok(git::status, json::object());
  EXPECT_TRUE(out["branch"]["oid"].is_null());
  EXPECT_EQ(out["branch"]["head"], "main");
  expect_same(json::object(), "");
}

TEST_F(GitStatus, UpstreamAheadBehindAndGone) {
  base();
  must("git init -q --bare -b main ../remote.git && git remote add origin ../remote.git && git push -q -u origin main");
  expect_same(json::object(), "");
  // Two local commits, one on the remote that we have fetched.
  put("a", "local1\n");
  commit_all("l1");
  put("a", "local2\n");
  commit_all("l2");
  must(
      "git clone -q ../remote.git ../other && cd ../other && echo r > r && git add r && git commit -qm r && "
      "git push -q origin main");
  must("git fetch -q origin");
  const json out = ok(git::status, json::object());
  EXPECT_EQ(out["branch"]["upstream"], "origin/main");
  EXPECT_EQ(out["branch"]["ahead"], 2);
  EXPECT_EQ(out["branch"]["behind"], 1);
  expect_same(json::object(), "");
  // An upstream whose remote-tracking branch does not exist: no counts.
  must(
      "git checkout -q -b topic && git config branch.topic.remote origin && "
      "git config branch.topic.merge refs/heads/topic");
  const json gone = ok(git::status, json::object());
  EXPECT_EQ(gone["branch"]["upstream"], "origin/topic");
  EXPECT_TRUE(gone["branch"]["upstreamGone"].get<bool>());
  EXPECT_FALSE(gone["branch"].contains("ahead"));
  expect_same(json::object(), "");
}

TEST_F(GitStatus, Submodules) {
  base();
  must("mkdir ../subsrc && cd ../subsrc && git init -q -b main && echo s > s && git add s && git commit -qm s");
  must("git -c protocol.file.allow=always submodule add -q ../subsrc mod");
  expect_same(json::object(), "");  // staged: .gitmodules and the gitlink
  commit_all("add submodule");
  expect_same(json::object(), "");
  // Modified content, then untracked content, then a new commit inside.
  put("mod/s", "changed\n");
  expect_same(json::object(), "");
  put("mod/untracked", "u\n");
  expect_same(json::object(), "");
  expect_same({{"untracked", "no"}}, "-uno");
  must("cd mod && git checkout -q s && rm untracked && echo t > t && git add t && git commit -qm t");
  expect_same(json::object(), "");
  put("mod/untracked", "u\n");
  expect_same(json::object(), "");
  expect_same({{"untracked", "no"}}, "-uno");
  const json out = ok(git::status, json::object());
  ASSERT_EQ(out["entries"].size(), 1u) << out.dump();
  EXPECT_TRUE(out["entries"][0]["submodule"]["commitChanged"].get<bool>());
  EXPECT_TRUE(out["entries"][0]["submodule"]["untracked"].get<bool>());
}

TEST_F(GitStatus, PathLimitsEntriesLikeAPathspec) {
  base();
  put("a", "x\n");
  put("dir/c", "x\n");
  put("dir/sub/d", "x\n");
  put("dir/new", "n\n");
  put("dirt", "not under dir\n");
  expect_same({{"path", "dir"}}, "-- dir");
  expect_same({{"path", "dir/sub"}}, "-- dir/sub");
  expect_same({{"path", "a"}}, "-- a");
  expect_same({{"path", dir() + "/dir"}}, "-- dir");  // absolute inside the root
}

TEST_F(GitStatus, PagesEntries) {
  base();
  for (int i = 0; i < 5; ++i) put("u" + std::to_string(i), "x\n");
  const json all = ok(git::status, json::object());
  ASSERT_EQ(all["total"], 5);
  json first = ok(git::status, {{"limit", 2}});
  EXPECT_EQ(first["entries"].size(), 2u);
  EXPECT_TRUE(first["truncated"].get<bool>());
  EXPECT_EQ(first["nextCursor"], "2");
  EXPECT_NE(first["note"].get<std::string>().find(R"(git_status {"cursor":"2","limit":2})"), std::string::npos)
      << first["note"];
  json items = first["entries"];
  std::string cursor = first["nextCursor"];
  while (true) {
    json next = ok(git::status, {{"limit", 2}, {"cursor", cursor}});
    for (const auto& e : next["entries"]) items.push_back(e);
    if (!next["truncated"].get<bool>()) break;
    cursor = next["nextCursor"];
  }
  EXPECT_EQ(items, all["entries"]);
  fails(git::status, {{"cursor", "abc"}}, error_code::kInvalidParams);
}

TEST_F(GitStatus, WritesRefreshedStatDataBack) {
  base();
  // Touch every file: git would re-hash them all until the index learns the
  // new stat data; our status writes it back like git status does.
  must("touch -d '2001-01-01' a b dir/c dir/sub/d");
  const auto before = std::filesystem::last_write_time(dir() + "/.git/index");
  ok(git::status, json::object());
  EXPECT_NE(std::filesystem::last_write_time(dir() + "/.git/index"), before);
  expect_same(json::object(), "");
  // A held index.lock does not fail status.
  must("touch -d '2002-01-01' a && touch .git/index.lock");
  const json out = ok(git::status, json::object());
  EXPECT_TRUE(out["clean"].get<bool>());
  must("rm .git/index.lock");
}

TEST_F(GitStatus, RefusesPathsOutsideTheWorkspace) {
  base();
  std::filesystem::create_directories(outside());
  must("ln -s " + outside() + " out");
  EXPECT_NE(fails(git::status, {{"path", "../x"}}, error_code::kOutsideWorkspace), "");
  EXPECT_NE(fails(git::status, {{"path", "/etc"}}, error_code::kOutsideWorkspace), "");
  EXPECT_NE(fails(git::status, {{"path", "out/file"}}, error_code::kOutsideWorkspace), "");
  EXPECT_NE(fails(git::status, {{"path", ".git/config"}}, error_code::kInvalidParams), "");
}

TEST_F(GitStatus, NoRepository) {
  must("rm -rf .git");
  open_service();
  const std::string msg = fails(git::status, json::object(), git::kNoRepository);
  EXPECT_NE(msg.find("git init"), std::string::npos) << msg;
}

}  // namespace
}  // namespace icotes
