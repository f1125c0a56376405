// Ignore rules (include/search/icotes/ignore.hpp): gitignore(5) parsing of one file,
// and ripgrep's precedence between files (the `ignore` crate's
// Ignore::matched_ignore): per kind the deepest directory decides first;
// .rgignore > .ignore > .gitignore > .git/info/exclude > core.excludesFile;
// git files only inside a repository, and not across a nested repository.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "icotes/ignore.hpp"

namespace icotes {
namespace {

constexpr IgnoreMatch kNone = IgnoreMatch::None;
constexpr IgnoreMatch kIgnore = IgnoreMatch::Ignore;
constexpr IgnoreMatch kWhite = IgnoreMatch::Whitelist;

IgnoreMatch file_match(const IgnoreFile& f, const char* path) { return f.match(path, false); }
IgnoreMatch dir_match(const IgnoreFile& f, const char* path) { return f.match(path, true); }

TEST(IgnoreFile, CommentsAndBlankLines) {
  const IgnoreFile f("", "# a comment\n\n   \n#*.c\nfoo\n");
  EXPECT_FALSE(f.empty());
  EXPECT_EQ(file_match(f, "foo"), kIgnore);
  EXPECT_EQ(file_match(f, "x.c"), kNone);  // "#*.c" is a comment
  EXPECT_EQ(file_match(f, "# a comment"), kNone);
  EXPECT_TRUE(IgnoreFile("", "# only\n\n").empty());
}

TEST(IgnoreFile, EscapedHashAndBang) {
  const IgnoreFile f("", "\\#hash.txt\n\\!bang.txt\n");
  EXPECT_EQ(file_match(f, "#hash.txt"), kIgnore);
  EXPECT_EQ(file_match(f, "!bang.txt"), kIgnore);  // a literal '!', not a negation
  EXPECT_EQ(file_match(f, "bang.txt"), kNone);
  EXPECT_EQ(file_match(f, "hash.txt"), kNone);
}

TEST(IgnoreFile, TrailingSpaces) {
  const IgnoreFile f("", "foo   \nspace\\ \ntab\t\n");
  EXPECT_EQ(file_match(f, "foo"), kIgnore);  // unescaped trailing spaces are dropped
  EXPECT_EQ(file_match(f, "foo "), kNone);
  EXPECT_EQ(file_match(f, "space "), kIgnore);  // "\ " keeps one
  EXPECT_EQ(file_match(f, "space"), kNone);
  EXPECT_EQ(file_match(f, "tab\t"), kIgnore);  // only spaces are trimmed
}

TEST(IgnoreFile, CrlfLines) {
  const IgnoreFile f("", "a.txt\r\n!b.txt\r\n*.o\r\n");
  EXPECT_EQ(file_match(f, "a.txt"), kIgnore);
  EXPECT_EQ(file_match(f, "x/y.o"), kIgnore);
  EXPECT_EQ(file_match(f, "b.txt"), kWhite);
}

TEST(IgnoreFile, TrailingSlashMatchesDirectoriesOnly) {
  const IgnoreFile f("", "build/\nnode_modules/\n");
  EXPECT_EQ(dir_match(f, "build"), kIgnore);
  EXPECT_EQ(file_match(f, "build"), kNone);
  EXPECT_EQ(dir_match(f, "lib/build"), kIgnore);  // a trailing '/' does not anchor
  EXPECT_EQ(dir_match(f, "a/b/node_modules"), kIgnore);
  EXPECT_EQ(file_match(f, "node_modules"), kNone);
}

TEST(IgnoreFile, Anchoring) {
  const IgnoreFile f("", "/root.txt\n/build/\ndocs/*.tmp\n*.log\na/**/z\n");
  EXPECT_EQ(file_match(f, "root.txt"), kIgnore);
  EXPECT_EQ(file_match(f, "sub/root.txt"), kNone);  // leading '/' anchors
  EXPECT_EQ(dir_match(f, "build"), kIgnore);
  EXPECT_EQ(dir_match(f, "lib/build"), kNone);
  EXPECT_EQ(file_match(f, "docs/a.tmp"), kIgnore);  // a middle '/' anchors too
  EXPECT_EQ(file_match(f, "x/docs/a.tmp"), kNone);
  EXPECT_EQ(file_match(f, "docs/sub/b.tmp"), kNone);   // '*' does not cross '/'
  EXPECT_EQ(file_match(f, "deep/er/x.log"), kIgnore);  // no '/': the base name at any depth
  EXPECT_EQ(file_match(f, "a/z"), kIgnore);
  EXPECT_EQ(file_match(f, "a/b/c/z"), kIgnore);
  EXPECT_EQ(file_match(f, "b/a/z"), kNone);
}

TEST(IgnoreFile, DoubleStarPatterns) {
  const IgnoreFile f("", "**/generated/**\n**/foo\nlogs/**\n");
  EXPECT_EQ(file_match(f, "x/generated/y/z.txt"), kIgnore);
  EXPECT_EQ(file_match(f, "generated/a"), kIgnore);
  EXPECT_EQ(file_match(f, "foo"), kIgnore);
  EXPECT_EQ(file_match(f, "a/b/foo"), kIgnore);
  EXPECT_EQ(file_match(f, "logs/a/b.txt"), kIgnore);
  EXPECT_EQ(dir_match(f, "logs"), kNone);  // "logs/**" matches what is inside
  EXPECT_EQ(file_match(f, "x/logs/a"), kNone);
}

TEST(IgnoreFile, RelativeToItsDirectory) {
  const IgnoreFile f("src", "local.c\n/keep/\nsub/*.c\n");
  EXPECT_EQ(file_match(f, "src/local.c"), kIgnore);
  EXPECT_EQ(file_match(f, "src/a/b/local.c"), kIgnore);
  EXPECT_EQ(file_match(f, "local.c"), kNone);  // outside src/
  EXPECT_EQ(file_match(f, "srclocal.c"), kNone);
  EXPECT_EQ(dir_match(f, "src/keep"), kIgnore);
  EXPECT_EQ(dir_match(f, "src/x/keep"), kNone);
  EXPECT_EQ(file_match(f, "src/sub/a.c"), kIgnore);
  EXPECT_EQ(file_match(f, "src/sub/deeper/b.c"), kNone);
  EXPECT_EQ(file_match(f, "sub/a.c"), kNone);
}

TEST(IgnoreFile, NegationAndLastMatchWins) {
  const IgnoreFile reinclude("", "*.log\n!keep.log\n");
  EXPECT_EQ(file_match(reinclude, "app.log"), kIgnore);
  EXPECT_EQ(file_match(reinclude, "keep.log"), kWhite);
  EXPECT_EQ(file_match(reinclude, "d/keep.log"), kWhite);
  // The same lines the other way round: the later "*.log" wins.
  const IgnoreFile order("", "!keep.log\n*.log\n");
  EXPECT_EQ(file_match(order, "keep.log"), kIgnore);
  const IgnoreFile flip("", "a\n!a\na\n");
  EXPECT_EQ(file_match(flip, "a"), kIgnore);
  const IgnoreFile flop("", "a\n!a\n");
  EXPECT_EQ(file_match(flop, "a"), kWhite);
  const IgnoreFile dir_neg("", "*.o\n!important.o\ncache/\n!cache\n");
  EXPECT_EQ(file_match(dir_neg, "important.o"), kWhite);
  EXPECT_EQ(dir_match(dir_neg, "cache"), kWhite);
}

// A chain of directories for IgnoreDir tests, root first.
struct Chain {
  std::shared_ptr<const IgnoreDir> dir;
  void add(IgnoreDir::Files files) {
    const bool any_git = files.has_git || (dir && dir->any_git());
    dir = std::make_shared<const IgnoreDir>(dir, std::move(files), any_git);
  }
  IgnoreMatch match(const char* path, bool is_dir = false, const IgnoreFile* global = nullptr) const {
    return dir->match(path, is_dir, global);
  }
};

IgnoreDir::Files files(const std::string& base, const char* rg, const char* ig, const char* gi, const char* ex = "",
                       bool git = false) {
  IgnoreDir::Files f;
  f.rgignore = IgnoreFile(base, rg);
  f.ignore = IgnoreFile(base, ig);
  f.gitignore = IgnoreFile(base, gi);
  f.exclude = IgnoreFile(base, ex);
  f.has_git = git;
  return f;
}

TEST(IgnoreDir, PrecedenceBetweenKindsInOneDirectory) {
  Chain c;
  c.add(files("", "!c.txt\nd.txt\n", "!b.txt\nc.txt\n", "*.txt\n!d.txt\n", "e.txt\n!a.txt\n", true));
  EXPECT_EQ(c.match("a.txt"), kIgnore);  // .gitignore beats exclude
  EXPECT_EQ(c.match("b.txt"), kWhite);   // .ignore beats .gitignore
  EXPECT_EQ(c.match("c.txt"), kWhite);   // .rgignore beats .ignore
  EXPECT_EQ(c.match("d.txt"), kIgnore);  // .rgignore beats .gitignore
  EXPECT_EQ(c.match("e.txt"), kIgnore);  // exclude alone
  EXPECT_EQ(c.match("f.md"), kNone);
}

TEST(IgnoreDir, DeeperDirectoryFirst) {
  Chain c;
  c.add(files("", "", "", "*.c\nlocal/\n", "", true));
  c.add(files("src", "", "", "!keep.c\n"));
  c.add(files("src/sub", "", "", "keep.c\n"));
  EXPECT_EQ(c.match("src/keep.c"), kWhite);       // src/.gitignore re-includes
  EXPECT_EQ(c.match("src/sub/keep.c"), kIgnore);  // src/sub/.gitignore is deeper
  EXPECT_EQ(c.match("src/other.c"), kIgnore);     // the root's rule
  EXPECT_EQ(c.match("src/sub/local", true), kIgnore);
  EXPECT_EQ(c.match("src/sub/readme"), kNone);
}

TEST(IgnoreDir, KindBeatsDepth) {
  // ripgrep looks for a .rgignore/.ignore decision in every directory before
  // consulting any .gitignore: a root .ignore beats a deeper .gitignore.
  Chain c;
  c.add(files("", "", "!*.gen\n", "", "", true));
  c.add(files("src", "", "", "x.gen\n"));
  EXPECT_EQ(c.match("src/x.gen"), kWhite);
}

TEST(IgnoreDir, GitignoreOnlyInsideARepository) {
  Chain c;  // no .git anywhere
  c.add(files("", "", "b.txt\n", "a.txt\n", "c.txt\n"));
  EXPECT_FALSE(c.dir->any_git());
  EXPECT_EQ(c.match("a.txt"), kNone);  // .gitignore needs a repository
  EXPECT_EQ(c.match("c.txt"), kNone);
  EXPECT_EQ(c.match("b.txt"), kIgnore);  // .ignore does not
  const IgnoreFile global("", "*.txt\n");
  EXPECT_EQ(c.match("z.txt", false, &global), kNone);  // nor core.excludesFile

  Chain git;
  git.add(files("", "", "", "a.txt\n", "", true));
  EXPECT_EQ(git.match("a.txt"), kIgnore);
  EXPECT_EQ(git.match("z.txt", false, &global), kIgnore);  // the global file is last
  EXPECT_EQ(git.match("z.md", false, &global), kNone);
}

TEST(IgnoreDir, NestedRepositoryStopsParentGitignore) {
  Chain c;
  c.add(files("", "", "*.tmp\n", "*.txt\n", "", true));
  c.add(files("nested", "", "", "inner.txt\n", "", true));
  EXPECT_EQ(c.match("nested/inner.txt"), kIgnore);  // its own .gitignore
  EXPECT_EQ(c.match("nested/kept.txt"), kNone);     // the outer repository's does not apply
  EXPECT_EQ(c.match("nested/x.tmp"), kIgnore);      // .ignore files apply across repositories
}

TEST(IgnoreDir, SubdirectoryOfARepositoryWithoutGitHere) {
  Chain c;
  c.add(files("", "", "", "*.o\n", "", true));
  c.add(files("a", "", "", ""));
  c.add(files("a/b", "", "", "!keep.o\n"));
  EXPECT_TRUE(c.dir->any_git());
  EXPECT_EQ(c.match("a/b/x.o"), kIgnore);
  EXPECT_EQ(c.match("a/b/keep.o"), kWhite);
}

}  // namespace
}  // namespace icotes
