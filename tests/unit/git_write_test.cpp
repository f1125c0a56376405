// git/stage, unstage, commit, branch and stash checked against git: each
// write is done by the service in a repository and by the git CLI in a copy
// of it (the twin), and the two must end in the same state — same index,
// status, HEAD and, with the identity and dates fixed by the fixture, the
// same commit ids. Refusals must change nothing and say why.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "git_fixture.hpp"

namespace icotes {
namespace {

using test::exists_nofollow;
using test::GitRepoTest;
using test::read_file;
using test::RunResult;
using test::write_file;

class GitWrite : public GitRepoTest {
 protected:
  // Tracked a, b, dir/c, dir/sub/d; one commit on main.
  void base() {
    put("a", "a\n");
    put("b", "b\n");
    put("dir/c", "c\n");
    put("dir/sub/d", "d\n");
    commit_all("base");
  }
  std::vector<std::string> paths_of(const json& out) { return out["paths"].get<std::vector<std::string>>(); }
};

using Paths = std::vector<std::string>;

// ---- stage ----------------------------------------------------------------

TEST_F(GitWrite, StageMatchesGitAddA) {
  base();
  put("a", "a2\n");
  must("rm b");
  put("new", "n\n");
  put("dir/e", "e\n");
  put("fresh/x/y", "y\n");
  put(".gitignore", "*.log\n");
  put("dir/skip.log", "l\n");
  put("untouched", "u\n");
  make_twin();
  const json out = ok(git::stage, {{"paths", {"a", "b", "new", "dir", "fresh", ".gitignore"}}});
  EXPECT_EQ(paths_of(out), (Paths{".gitignore", "a", "b", "dir/e", "fresh/x/y", "new"}));
  EXPECT_EQ(out["total"], 6);
  EXPECT_FALSE(out["truncated"].get<bool>());
  in_twin("git add -A -- a b new dir fresh .gitignore");
  expect_twin_state();
}

TEST_F(GitWrite, StageEverythingWithDot) {
  base();
  put("a", "a2\n");
  must("rm dir/c");
  put("z", "z\n");
  must("rm a && ln -s b a");  // type change
  make_twin();
  ok(git::stage, {{"paths", {"."}}});
  in_twin("git add -A -- .");
  expect_twin_state();
}

TEST_F(GitWrite, StageNothingToDo) {
  base();
  const json out = ok(git::stage, {{"paths", {"a"}}});
  EXPECT_TRUE(out["paths"].empty());
  EXPECT_NE(out["note"].get<std::string>().find("Nothing to stage"), std::string::npos);
}

TEST_F(GitWrite, StageRefusesUnknownAndIgnoredPathsAndChangesNothing) {
  base();
  put(".gitignore", "*.log\nbuild/\n");
  put("x.log", "l\n");
  put("build/o", "o\n");
  put("a", "changed\n");
  const std::string before = state(dir());
  std::string msg = fails(git::stage, {{"paths", {"a", "nope"}}}, error_code::kNotFound);
  EXPECT_NE(msg.find("'nope' did not match"), std::string::npos) << msg;
  msg = fails(git::stage, {{"paths", {"a", "x.log"}}}, error_code::kInvalidParams);
  EXPECT_NE(msg.find("x.log"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ignored"), std::string::npos) << msg;
  fails(git::stage, {{"paths", {"build"}}}, error_code::kInvalidParams);
  fails(git::stage, {{"paths", {"build/o"}}}, error_code::kInvalidParams);
  EXPECT_EQ(state(dir()), before);
  // git refuses the same (exit 1, nothing added for an ignored path).
  EXPECT_NE(sh("git add -- nope").rc, 0);
  EXPECT_NE(sh("git add -- x.log").rc, 0);
}

TEST_F(GitWrite, StageRefusesPathsBeyondASymlinkLikeGit) {
  base();
  put("real/f", "f\n");
  commit_all("real");
  put("real/f", "changed\n");
  put("real/g", "new\n");
  must("ln -s real link && ln -s ../real dir/link");
  const std::string before = state(dir());
  for (const std::string path : {"link/f", "link/g", "link/no-such", "dir/link/f"}) {
    const std::string msg = fails(git::stage, {{"paths", {"a", path}}}, error_code::kInvalidParams);
    EXPECT_NE(msg.find("'" + path + "' is beyond a symbolic link"), std::string::npos) << msg;
    const RunResult theirs = sh("git add -- '" + path + "'", true);
    EXPECT_NE(theirs.rc, 0) << path;
    EXPECT_NE(theirs.out.find("beyond a symbolic link"), std::string::npos) << theirs.out;
  }
  EXPECT_EQ(state(dir()), before);
  // The link itself is a path git stages (as a symlink).
  make_twin();
  EXPECT_EQ(paths_of(ok(git::stage, {{"paths", {"link", "dir/link"}}})), (Paths{"dir/link", "link"}));
  in_twin("git add -- link dir/link");
  expect_twin_state();
}

TEST_F(GitWrite, StageResolvesAConflictLikeGitAdd) {
  put("f", "base\n");
  commit_all("base");
  must("git checkout -q -b other && echo theirs > f && git commit -qam theirs && git checkout -q main");
  must("echo ours > f && git commit -qam ours");
  EXPECT_NE(sh("git merge -q other").rc, 0);
  put("f", "resolved\n");
  make_twin();
  EXPECT_EQ(paths_of(ok(git::stage, {{"paths", {"f"}}})), Paths{"f"});
  in_twin("git add f");
  expect_twin_state();
}

TEST_F(GitWrite, StageWithHeldIndexLockFailsCleanly) {
  base();
  put("a", "a2\n");
  must("touch .git/index.lock");
  const std::string msg = fails(git::stage, {{"paths", {"a"}}}, error_code::kConflict);
  EXPECT_NE(msg.find("lock"), std::string::npos) << msg;
  must("rm .git/index.lock");
  // The in-memory index was discarded too: the next status still sees an unstaged change.
  const json st = ok(git::status, json::object());
  ASSERT_EQ(st["entries"].size(), 1u);
  EXPECT_EQ(st["entries"][0]["index"], ".");
  EXPECT_EQ(st["entries"][0]["worktree"], "M");
}

TEST_F(GitWrite, WritesRefusePathsOutsideTheWorkspace) {
  base();
  std::filesystem::create_directories(outside());
  write_file(outside() + "/secret", "s\n");
  must("ln -s " + outside() + " out");
  for (const test::GitOp& op : {test::GitOp(git::stage), test::GitOp(git::unstage)}) {
    fails(op, {{"paths", {"../outside/secret"}}}, error_code::kOutsideWorkspace);
    fails(op, {{"paths", {outside() + "/secret"}}}, error_code::kOutsideWorkspace);
    fails(op, {{"paths", {"out/secret"}}}, error_code::kOutsideWorkspace);
    fails(op, {{"paths", {".git/config"}}}, error_code::kInvalidParams);
  }
  EXPECT_EQ(git("ls-files"), "a\nb\ndir/c\ndir/sub/d");
}

// ---- unstage --------------------------------------------------------------

TEST_F(GitWrite, UnstageMatchesGitRestoreStaged) {
  base();
  put("a", "a2\n");
  put("new", "n\n");
  must("git rm -q b && git add a new && rm a && ln -s dir a");  // a: staged change, then a type change on disk
  put("dir/c", "c2\n");
  must("git add dir/c");
  make_twin();
  const json out = ok(git::unstage, {{"paths", {"a", "b", "new", "dir"}}});
  EXPECT_EQ(paths_of(out), (Paths{"a", "b", "dir/c", "new"}));
  in_twin("git restore --staged -- a b new dir");
  expect_twin_state();
  // Nothing staged any more: nothing to do.
  EXPECT_TRUE(ok(git::unstage, {{"paths", {"."}}})["paths"].empty());
}

TEST_F(GitWrite, UnstageOnAnUnbornBranchRemovesFromIndex) {
  put("a", "a\n");
  put("b", "b\n");
  must("git add a b");
  make_twin();
  EXPECT_EQ(paths_of(ok(git::unstage, {{"paths", {"a"}}})), Paths{"a"});
  in_twin("git rm -q --cached a");  // what git restore --staged does without HEAD
  expect_twin_state();
  EXPECT_EQ(git("ls-files"), "b");
}

TEST_F(GitWrite, UnstageRefusesUnknownPaths) {
  base();
  const std::string msg = fails(git::unstage, {{"paths", {"nope"}}}, error_code::kNotFound);
  EXPECT_NE(msg.find("'nope'"), std::string::npos) << msg;
  EXPECT_NE(sh("git restore --staged -- nope").rc, 0);
}

// ---- commit ---------------------------------------------------------------

TEST_F(GitWrite, CommitIsByteIdenticalToGitCommitM) {
  base();
  put("a", "a2\n");
  must("git add a");
  make_twin();
  const std::string message = "\n\n  Subject   line  \ncontinued\n\n\n\nBody text   \n# not a comment for -m\n\n";
  const json out = ok(git::commit, {{"message", message}});
  in_twin("git commit -q -m '" + message + "'");
  expect_twin_state();
  EXPECT_EQ(out["oid"], git("rev-parse HEAD"));
  EXPECT_EQ(out["summary"], git("log -1 --format=%s"));
  EXPECT_EQ(out["summary"], "  Subject   line continued");
  EXPECT_EQ(out["branch"], "main");
  EXPECT_EQ(out["parents"], json::array({git("rev-parse HEAD~1")}));
  EXPECT_EQ(git("reflog -1 --format=%gs"), twin_git("reflog -1 --format=%gs"));
}

TEST_F(GitWrite, InitialCommitAndReflog) {
  put("a", "a\n");
  must("git add a");
  make_twin();
  const json out = ok(git::commit, {{"message", "first"}});
  in_twin("git commit -q -m first");
  expect_twin_state();
  EXPECT_TRUE(out["parents"].empty());
  EXPECT_EQ(git("reflog -1 --format=%gs"), "commit (initial): first");
}

TEST_F(GitWrite, EmptyCommitsAreRefusedUnlessAllowed) {
  put("a", "a\n");
  std::string msg = fails(git::commit, {{"message", "nothing staged"}}, error_code::kInvalidParams);
  EXPECT_NE(msg.find("nothing to commit"), std::string::npos) << msg;
  must("git add a");
  ok(git::commit, {{"message", "first"}});
  msg = fails(git::commit, {{"message", "again"}}, error_code::kInvalidParams);
  EXPECT_NE(msg.find("allowEmpty"), std::string::npos) << msg;
  make_twin();
  ok(git::commit, {{"message", "empty on purpose"}, {"allowEmpty", true}});
  in_twin("git commit -q --allow-empty -m 'empty on purpose'");
  expect_twin_state();
  fails(git::commit, {{"message", " \n\t\n"}}, error_code::kInvalidParams);
  fails(git::commit, json::object(), error_code::kInvalidParams);
}

TEST_F(GitWrite, AmendKeepsAuthorAndMessageLikeGit) {
  base();
  must("GIT_AUTHOR_DATE='@1600000000 +0200' GIT_AUTHOR_NAME=Old git commit -q --allow-empty -m 'old subject'");
  put("a", "amended\n");
  must("git add a");
  make_twin();
  const json out = ok(git::commit, {{"amend", true}});
  in_twin("git commit -q --amend --no-edit");
  expect_twin_state();
  EXPECT_TRUE(out["amended"].get<bool>());
  EXPECT_EQ(git("reflog -1 --format=%gs"), "commit (amend): old subject");
  make_twin();
  ok(git::commit, {{"amend", true}, {"message", "new subject"}});
  in_twin("git commit -q --amend -m 'new subject'");
  expect_twin_state();
}

TEST_F(GitWrite, CommitWithExplicitAuthor) {
  base();
  put("a", "x\n");
  must("git add a");
  make_twin();
  ok(git::commit, {{"message", "by someone"}, {"author", {{"name", "Some One"}, {"email", "some@one.org"}}}});
  in_twin("git commit -q --author='Some One <some@one.org>' -m 'by someone'");
  expect_twin_state();
  fails(git::commit, {{"message", "x"}, {"allowEmpty", true}, {"author", {{"name", "<bad>"}, {"email", "e"}}}},
        error_code::kInvalidParams);
}

TEST_F(GitWrite, MergeCommitConcludesTheMerge) {
  put("f", "base\n");
  commit_all("base");
  must("git checkout -q -b other && echo theirs > f && git commit -qam theirs && git checkout -q main");
  must("echo ours > f && git commit -qam ours");
  EXPECT_NE(sh("git merge -q other").rc, 0);
  std::string msg = fails(git::commit, {{"message", "merge"}}, error_code::kConflict);
  EXPECT_NE(msg.find("f"), std::string::npos) << msg;
  put("f", "resolved\n");
  must("git add f");
  make_twin();
  const json out = ok(git::commit, json::object());  // message from MERGE_MSG, as git commit --no-edit
  in_twin("git commit -q --no-edit");
  expect_twin_state();
  EXPECT_TRUE(out["merge"].get<bool>());
  EXPECT_EQ(out["parents"].size(), 2u);
  EXPECT_FALSE(exists_nofollow(dir() + "/.git/MERGE_HEAD"));
  EXPECT_FALSE(exists_nofollow(dir() + "/.git/MERGE_MSG"));
  EXPECT_EQ(git("reflog -1 --format=%gs"), twin_git("reflog -1 --format=%gs"));
}

TEST_F(GitWrite, CommitNeedsAnIdentity) {
  base();
  put("a", "x\n");
  must("git add a");
  for (const char* v : {"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"})
    ::unsetenv(v);
  const std::string msg = fails(git::commit, {{"message", "who?"}}, error_code::kInvalidParams);
  EXPECT_NE(msg.find("user.name"), std::string::npos) << msg;
  EXPECT_NE(msg.find("git config"), std::string::npos) << msg;
  EXPECT_NE(sh("HOME=" + outside() + " git commit -q -m who").rc, 0);  // git refuses too
  // With the identity in the repository's config, it is used.
  must("git config user.name 'Con Fig' && git config user.email conf@ig.org");
  ok(git::commit, {{"message", "configured"}});
  EXPECT_EQ(git("log -1 --format='%an <%ae>|%cn <%ce>'"), "Con Fig <conf@ig.org>|Con Fig <conf@ig.org>");
}

TEST_F(GitWrite, HooksAreReportedNotRun) {
  base();
  put(".git/hooks/pre-commit", "#!/bin/sh\necho ran > hook-ran\nexit 1\n");
  put(".git/hooks/commit-msg", "#!/bin/sh\nexit 1\n");
  put(".git/hooks/post-commit", "#!/bin/sh\nexit 0\n");  // not executable: git would not run it
  must("chmod +x .git/hooks/pre-commit .git/hooks/commit-msg");
  const json out = ok(git::commit, {{"message", "no hooks"}, {"allowEmpty", true}});
  EXPECT_EQ(out["hooksSkipped"], json::array({"pre-commit", "commit-msg"}));
  EXPECT_NE(out["note"].get<std::string>().find("not run"), std::string::npos);
  EXPECT_FALSE(exists_nofollow(dir() + "/hook-ran"));
}

TEST_F(GitWrite, CommitOnDetachedHead) {
  base();
  must("git checkout -q --detach");
  make_twin();
  const json out = ok(git::commit, {{"message", "detached"}, {"allowEmpty", true}});
  in_twin("git commit -q --allow-empty -m detached");
  expect_twin_state();
  EXPECT_TRUE(out["branch"].is_null());
  EXPECT_EQ(git("rev-parse main"), git("rev-parse HEAD~1"));
}

// ---- branch ---------------------------------------------------------------

TEST_F(GitWrite, BranchListMatchesGit) {
  base();
  must("git init -q --bare -b main ../remote.git && git remote add origin ../remote.git && git push -q -u origin main");
  must("git branch feature && git branch zeta HEAD && git remote set-head origin main");
  put("a", "ahead\n");
  commit_all("ahead");
  const json out = ok(git::branch, {{"action", "list"}});
  std::string ours;
  for (const auto& b : out["branches"]) {
    ours += b["name"].get<std::string>() + " " + (b.contains("oid") ? b["oid"].get<std::string>() : "") + " " +
            (b.value("upstream", "")) +
            (b.contains("ahead")
                 ? " +" + std::to_string(b["ahead"].get<int>()) + " -" + std::to_string(b["behind"].get<int>())
                 : "") +
            (b["current"].get<bool>() ? " *" : "") + "\n";
  }
  const std::string theirs =
      git("for-each-ref --format='%(refname:short) %(objectname) %(upstream:short)%(if)%(upstream)%(then) "
          "%(upstream:track,nobracket)%(end)%(if)%(HEAD)%(then) *%(end)' refs/heads refs/remotes");
  // for-each-ref prints "ahead 1" / "behind 2" / nothing when even; ours prints the counts.
  EXPECT_EQ(ours, "feature " + git("rev-parse feature") + " \nmain " + git("rev-parse main") +
                      " origin/main +1 -0 *\nzeta " + git("rev-parse zeta") + " \norigin/HEAD " +
                      git("rev-parse origin/main") + " \norigin/main " + git("rev-parse origin/main") + " \n")
      << theirs;
  EXPECT_EQ(out["head"], "main");
  EXPECT_EQ(out["total"], 5);
  EXPECT_EQ(out["branches"][3]["target"], "origin/main");
  const json page = ok(git::branch, {{"action", "list"}, {"limit", 2}});
  EXPECT_EQ(page["branches"].size(), 2u);
  EXPECT_EQ(page["nextCursor"], "2");
}

TEST_F(GitWrite, BranchCreate) {
  base();
  put("a", "2\n");
  commit_all("second");
  must("git tag v1 HEAD~1");
  json out = ok(git::branch, {{"action", "create"}, {"name", "feature/x"}});
  EXPECT_EQ(out["oid"], git("rev-parse HEAD"));
  EXPECT_EQ(git("rev-parse feature/x"), git("rev-parse HEAD"));
  ok(git::branch, {{"action", "create"}, {"name", "old"}, {"startPoint", "v1"}});
  EXPECT_EQ(git("rev-parse old"), git("rev-parse HEAD~1"));
  EXPECT_EQ(git("reflog -1 --format=%gs old"), "branch: Created from v1");
  const std::string msg = fails(git::branch, {{"action", "create"}, {"name", "old"}}, error_code::kConflict);
  EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  ok(git::branch, {{"action", "create"}, {"name", "old"}, {"force", true}});
  EXPECT_EQ(git("rev-parse old"), git("rev-parse HEAD"));
  fails(git::branch, {{"action", "create"}, {"name", "main"}, {"force", true}, {"startPoint", "v1"}},
        error_code::kConflict);  // the current branch
  fails(git::branch, {{"action", "create"}, {"name", "y"}, {"startPoint", "nope"}}, error_code::kNotFound);
  fails(git::branch, {{"action", "create"}, {"name", "y"}, {"startPoint", "--all"}}, error_code::kInvalidParams);
  for (const char* bad : {"-x", "a..b", "HEAD", "a b", "x.lock", "x/", "a~1"})
    fails(git::branch, {{"action", "create"}, {"name", bad}}, error_code::kInvalidParams);
  fails(git::branch, {{"action", "create"}}, error_code::kInvalidParams);
  EXPECT_EQ(git("branch --format='%(refname:short)'"), "feature/x\nmain\nold");
}

TEST_F(GitWrite, BranchCreateFromRemoteTracksIt) {
  base();
  must("git init -q --bare -b main ../remote.git && git remote add origin ../remote.git && git push -q origin main");
  must("git fetch -q origin");
  const json out = ok(git::branch, {{"action", "create"}, {"name", "local"}, {"startPoint", "origin/main"}});
  EXPECT_EQ(out["upstream"], "origin/main");
  EXPECT_EQ(git("rev-parse --abbrev-ref local@{upstream}"), "origin/main");
}

TEST_F(GitWrite, BranchDeleteLikeGitBranchD) {
  base();
  must("git branch merged && git checkout -q -b unmerged && git commit -q --allow-empty -m u && git checkout -q main");
  json out = ok(git::branch, {{"action", "delete"}, {"name", "merged"}});
  EXPECT_EQ(out["oid"], git("rev-parse main"));
  const std::string tip = git("rev-parse unmerged");
  std::string msg = fails(git::branch, {{"action", "delete"}, {"name", "unmerged"}}, error_code::kConflict);
  EXPECT_NE(msg.find("not fully merged"), std::string::npos) << msg;
  EXPECT_NE(sh("git branch -d unmerged").rc, 0);  // git refuses too
  out = ok(git::branch, {{"action", "delete"}, {"name", "unmerged"}, {"force", true}});
  EXPECT_EQ(out["oid"], tip);
  msg = fails(git::branch, {{"action", "delete"}, {"name", "main"}, {"force", true}}, error_code::kConflict);
  EXPECT_NE(msg.find("current branch"), std::string::npos) << msg;
  fails(git::branch, {{"action", "delete"}, {"name", "nope"}}, error_code::kNotFound);
  EXPECT_EQ(git("branch --format='%(refname:short)'"), "main");
}

TEST_F(GitWrite, BranchSwitchKeepsOrRefusesLocalChanges) {
  base();
  must("git checkout -q -b feature && echo feature > a && git commit -qam feature && git checkout -q main");
  put("b", "local change, not touched by the switch\n");
  make_twin();
  json out = ok(git::branch, {{"action", "switch"}, {"name", "feature"}});
  in_twin("git switch -q feature");
  expect_twin_state();
  EXPECT_EQ(out["previous"], "main");
  EXPECT_EQ(git("reflog -1 --format=%gs"), "checkout: moving from main to feature");
  // A local change to a file that differs between the branches: refused, nothing changed.
  put("a", "local edit\n");
  const std::string before = state(dir());
  const std::string msg = fails(git::branch, {{"action", "switch"}, {"name", "main"}}, error_code::kConflict);
  EXPECT_NE(msg.find(": a."), std::string::npos) << msg;
  EXPECT_EQ(state(dir()), before);
  EXPECT_EQ(read_file(dir() + "/a"), "local edit\n");
  EXPECT_NE(sh("git switch -q main").rc, 0);  // git refuses too
  // force discards it.
  make_twin();
  ok(git::branch, {{"action", "switch"}, {"name", "main"}, {"force", true}});
  in_twin("git switch -q --discard-changes main");
  expect_twin_state();
  // Already there.
  out = ok(git::branch, {{"action", "switch"}, {"name", "main"}});
  EXPECT_NE(out["note"].get<std::string>().find("Already"), std::string::npos);
  fails(git::branch, {{"action", "switch"}, {"name", "nope"}}, error_code::kNotFound);
}

TEST_F(GitWrite, BranchSwitchGuessesRemoteBranch) {
  base();
  must("git init -q --bare -b main ../remote.git && git remote add origin ../remote.git && git push -q origin main");
  must(
      "git checkout -q -b topic && git commit -q --allow-empty -m t && git push -q origin topic && "
      "git checkout -q main && git branch -D -q topic && git fetch -q origin");
  make_twin();
  const json out = ok(git::branch, {{"action", "switch"}, {"name", "topic"}});
  in_twin("git switch -q topic");
  expect_twin_state();
  EXPECT_TRUE(out["created"].get<bool>());
  EXPECT_EQ(out["upstream"], "origin/topic");
  EXPECT_EQ(git("rev-parse --abbrev-ref topic@{upstream}"), "origin/topic");
}

TEST_F(GitWrite, BranchSwitchRefusedDuringAMerge) {
  put("f", "base\n");
  commit_all("base");
  must("git checkout -q -b other && echo theirs > f && git commit -qam theirs && git checkout -q main");
  must("echo ours > f && git commit -qam ours");
  EXPECT_NE(sh("git merge -q other").rc, 0);
  const std::string msg =
      fails(git::branch, {{"action", "switch"}, {"name", "other"}, {"force", true}}, error_code::kConflict);
  EXPECT_NE(msg.find("merge"), std::string::npos) << msg;
}

// ---- stash ----------------------------------------------------------------

TEST_F(GitWrite, StashPushListPopLikeGit) {
  base();
  put("a", "wip\n");
  put("dir/c", "staged\n");
  must("git add dir/c");
  const std::string before = state(dir());
  make_twin();
  json out = ok(git::stash, {{"action", "push"}});
  in_twin("git stash push -q");
  EXPECT_TRUE(out["stashed"].get<bool>());
  EXPECT_EQ(out["stash"]["message"], twin_git("stash list --format=%gs"));
  EXPECT_EQ(git("stash list --format=%gs"), twin_git("stash list --format=%gs"));
  EXPECT_EQ(git("status --porcelain"), "");
  EXPECT_EQ(git("stash show -p"), twin_git("stash show -p"));
  // Same commits: work tree, index (and untracked) trees, messages, parents.
  EXPECT_EQ(git("rev-parse stash@{0} stash@{0}^2"), twin_git("rev-parse stash@{0} stash@{0}^2"));
  EXPECT_EQ(git("reflog -1 --format=%gs refs/stash"), twin_git("reflog -1 --format=%gs refs/stash"));
  ok(git::stash, {{"action", "push"}, {"message", "second"}});  // nothing left to stash
  out = ok(git::stash, {{"action", "list"}});
  ASSERT_EQ(out["stashes"].size(), 1u);
  put("b", "more\n");
  out = ok(git::stash, {{"action", "push"}, {"message", "with message"}});
  EXPECT_EQ(out["stash"]["message"], "On main: with message");
  out = ok(git::stash, {{"action", "list"}});
  ASSERT_EQ(out["stashes"].size(), 2u);
  EXPECT_EQ(out["stashes"][0]["oid"], git("rev-parse stash@{0}"));
  EXPECT_EQ(out["stashes"][1]["oid"], git("rev-parse stash@{1}"));
  out = ok(git::stash, {{"action", "drop"}});
  EXPECT_EQ(out["stash"]["message"], "On main: with message");
  out = ok(git::stash, {{"action", "pop"}, {"reinstateIndex", true}});
  EXPECT_EQ(git("stash list"), "");
  EXPECT_EQ(state(dir()), before);
}

TEST_F(GitWrite, StashAndPopEveryKindOfChangeLikeGit) {
  base();
  put("a", "unstaged\n");
  put("new", "staged new file\n");
  put("dir/c", "staged\n");
  must("git add new dir/c && rm b && chmod +x dir/sub/d");
  put("dir/c", "staged, then changed again\n");
  make_twin();
  for (const bool reinstate : {false, true}) {
    ok(git::stash, {{"action", "push"}});
    in_twin("git stash push -q");
    expect_twin_state();
    EXPECT_EQ(git("rev-parse stash@{0} stash@{0}^2"), twin_git("rev-parse stash@{0} stash@{0}^2"));
    EXPECT_FALSE(exists_nofollow(dir() + "/new"));
    ok(git::stash, {{"action", "pop"}, {"reinstateIndex", reinstate}});
    in_twin(reinstate ? "git stash pop -q --index" : "git stash pop -q");
    expect_twin_state();
    EXPECT_EQ(git("stash list"), "");
  }
}

TEST_F(GitWrite, StashPopOntoANewerCommitMerges) {
  base();
  put("a", "stashed\n");
  put("n", "new\n");
  must("git add n");
  ok(git::stash, {{"action", "push"}});
  must("echo other > b && git commit -qam 'moved on'");
  make_twin();
  ok(git::stash, {{"action", "pop"}});
  in_twin("git stash pop -q");
  expect_twin_state();
}

TEST_F(GitWrite, StashOnDetachedHead) {
  base();
  must("git checkout -q --detach");
  put("a", "x\n");
  make_twin();
  const json out = ok(git::stash, {{"action", "push"}});
  in_twin("git stash push -q");
  EXPECT_EQ(git("rev-parse stash@{0}"), twin_git("rev-parse stash@{0}"));
  EXPECT_EQ(out["stash"]["message"].get<std::string>().rfind("WIP on (no branch): ", 0), 0u) << out.dump();
}

TEST_F(GitWrite, StashNothingToSave) {
  base();
  const json out = ok(git::stash, {{"action", "push"}});
  EXPECT_FALSE(out["stashed"].get<bool>());
  EXPECT_NE(out["note"].get<std::string>().find("No local changes"), std::string::npos);
}

TEST_F(GitWrite, StashUntrackedAndKeepIndex) {
  base();
  put("u", "untracked\n");
  put("a", "staged\n");
  must("git add a");
  put("b", "unstaged\n");
  make_twin();
  ok(git::stash, {{"action", "push"}, {"includeUntracked", true}, {"keepIndex", true}});
  in_twin("git stash push -q --include-untracked --keep-index");
  EXPECT_EQ(state(dir()), state(twin()));
  EXPECT_EQ(git("rev-parse stash@{0} stash@{0}^2 stash@{0}^3"),
            twin_git("rev-parse stash@{0} stash@{0}^2 stash@{0}^3"));
  EXPECT_FALSE(exists_nofollow(dir() + "/u"));
  must("git reset -q --hard");
  ok(git::stash, {{"action", "pop"}});
  EXPECT_EQ(read_file(dir() + "/u"), "untracked\n");
  EXPECT_EQ(read_file(dir() + "/b"), "unstaged\n");
}

TEST_F(GitWrite, StashPopRefusesConflictsAndKeepsTheStash) {
  base();
  put("a", "stashed\n");
  ok(git::stash, {{"action", "push"}});
  // 1. A local change to the same file.
  put("a", "local\n");
  std::string before = state(dir());
  std::string msg = fails(git::stash, {{"action", "pop"}}, error_code::kConflict);
  EXPECT_NE(msg.find("a"), std::string::npos) << msg;
  EXPECT_EQ(state(dir()), before);
  EXPECT_EQ(git("stash list --format=%gd"), "stash@{0}");
  // 2. HEAD changed the same line: git would leave conflict markers; we refuse.
  must("git commit -qam 'conflicting commit'");
  before = state(dir());
  msg = fails(git::stash, {{"action", "pop"}}, error_code::kConflict);
  EXPECT_NE(msg.find("conflicts with the current commit in: a"), std::string::npos) << msg;
  EXPECT_EQ(state(dir()), before);
  EXPECT_EQ(read_file(dir() + "/a"), "local\n");
  // 3. Staged changes: libgit2 needs a clean index.
  put("b", "staged\n");
  must("git add b");
  msg = fails(git::stash, {{"action", "pop"}}, error_code::kConflict);
  EXPECT_NE(msg.find("staged"), std::string::npos) << msg;
  EXPECT_EQ(git("stash list --format=%gd"), "stash@{0}");
  // Out of range.
  msg = fails(git::stash, {{"action", "drop"}, {"index", 3}}, error_code::kNotFound);
  EXPECT_NE(msg.find("stash@{3}"), std::string::npos) << msg;
}

TEST_F(GitWrite, StashPopRefusesUntrackedFilesThatCameBack) {
  base();
  put("u", "stashed untracked\n");
  ok(git::stash, {{"action", "push"}, {"includeUntracked", true}});
  put("u", "new file in the way\n");
  const std::string msg = fails(git::stash, {{"action", "pop"}}, error_code::kConflict);
  EXPECT_NE(msg.find("u"), std::string::npos) << msg;
  EXPECT_EQ(read_file(dir() + "/u"), "new file in the way\n");
  EXPECT_EQ(git("stash list --format=%gd"), "stash@{0}");
}

}  // namespace
}  // namespace icotes
