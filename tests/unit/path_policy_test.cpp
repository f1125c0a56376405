// What no operation may change, and where an opened descriptor lands.
#include "icotes/path_policy.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "test_util.hpp"

namespace icotes {
namespace {

using test::TempDir;
using test::write_file;

TEST(PathPolicy, IcotesIsProtectedAtAnyDepth) {
  for (const char* p :
       {".icotes", ".icotes/config.toml", ".icotes/permissions.sqlite", "sub/.icotes", "a/b/.icotes/config.toml"})
    EXPECT_TRUE(protected_path_reason(p).has_value()) << p;
}

TEST(PathPolicy, GitFilesThatRunCommandsAreProtected) {
  for (const char* p :
       {".git", ".git/config", ".git/config.worktree", ".git/hooks", ".git/hooks/pre-commit", ".git/hooks/sub/x",
        ".git/info/attributes", ".git/modules", ".git/modules/lib/config", ".git/modules/a/b/hooks/post-checkout",
        ".git/modules/lib/info/attributes", "sub/.git", "sub/.git/config", "vendor/x/.git/hooks/pre-push",
        // commondir names the directory git takes config and hooks from; worktrees have their own config.
        ".git/commondir", ".git/worktrees", ".git/worktrees/wt/config.worktree", ".git/worktrees/wt/commondir",
        ".git/modules/lib/commondir", ".git/modules/lib/worktrees/w/config.worktree", "sub/.git/worktrees/w/commondir"})
    EXPECT_TRUE(protected_path_reason(p).has_value()) << p;
}

TEST(PathPolicy, OrdinaryPathsAreNot) {
  for (const char* p :
       {"", "src/a.c", ".icotesx", "x.icotes", ".gitignore", ".gitattributes", ".github/workflows/ci.yml", ".git/HEAD",
        ".git/info/exclude", ".git/refs/heads/main", ".git/objects/ab/cdef", "config", "hooks/pre-commit", "git/config",
        ".git2/config", ".git/worktrees/wt/HEAD", ".git/worktrees/wt/gitdir", "commondir", "worktrees/x/config"})
    EXPECT_FALSE(protected_path_reason(p).has_value()) << p;
}

TEST(PathPolicy, LandingPathFollowsTheDescriptorNotTheName) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir.path() + "/real").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("real", (dir.path() + "/link").c_str()), 0);
  auto root = ConfinedRoot::open(dir.path());
  ASSERT_TRUE(root) << root.error().message;
  auto fd = root->open_beneath("link", O_PATH | O_DIRECTORY);
  ASSERT_TRUE(fd) << fd.error().message;
  auto landed = landing_path(*root, fd->get());
  ASSERT_TRUE(landed) << landed.error().message;
  EXPECT_EQ(*landed, "real");
  auto in = landing_path_in(*root, fd->get(), "config.toml");
  ASSERT_TRUE(in);
  EXPECT_EQ(*in, "real/config.toml");
  // Renamed after it was opened: the descriptor tells where it is now.
  ASSERT_EQ(::rename((dir.path() + "/real").c_str(), (dir.path() + "/moved").c_str()), 0);
  landed = landing_path(*root, fd->get());
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, "moved");
  auto top = landing_path_in(*root, root->fd(), "a.txt");
  ASSERT_TRUE(top);
  EXPECT_EQ(*top, "a.txt");
}

TEST(PathPolicy, LandingPathOfADeletedFileIsAnError) {
  TempDir dir;
  write_file(dir.path() + "/gone.txt", "x");
  auto root = ConfinedRoot::open(dir.path());
  ASSERT_TRUE(root);
  auto fd = root->open_beneath("gone.txt", O_RDONLY);
  ASSERT_TRUE(fd);
  ASSERT_EQ(::unlink((dir.path() + "/gone.txt").c_str()), 0);
  EXPECT_FALSE(landing_path(*root, fd->get()));
}

}  // namespace
}  // namespace icotes
