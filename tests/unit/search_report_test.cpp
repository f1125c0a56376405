// What search reads and reports as ripgrep 13 does: a UTF-8 byte order mark
// is dropped before matching (lines and offsets never include it), files and
// directories that cannot be read are reported (rg: "PATH: Permission
// denied" on stderr) and the rest is searched; globs rg -g refuses and glob
// patterns that cannot match by their form (absolute, "..") are errors.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/glob.hpp"
#include "icotes/rpc.hpp"
#include "icotes/search.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::TempDir;
using test::write_file;

struct Run {
  Result<search::GrepStats> stats = search::GrepStats{};
  std::map<std::string, search::FileResult> files;
};

Run grep(const std::string& root, const std::string& pattern, search::OutputMode mode = search::OutputMode::Content) {
  auto r = ConfinedRoot::open(root);
  if (!r) throw std::runtime_error(r.error().message);
  search::GrepParams p;
  p.pattern = pattern;
  p.output = mode;
  Run run;
  run.stats = search::grep(
      *r, p, [&](search::FileResult&& f) { run.files[f.path] = std::move(f); }, nullptr);
  return run;
}

Result<search::PathList> glob(const std::string& root, const std::string& pattern,
                              search::WalkReport* report = nullptr) {
  auto r = ConfinedRoot::open(root);
  if (!r) throw std::runtime_error(r.error().message);
  search::GlobParams p;
  p.pattern = pattern;
  return search::glob(*r, p, nullptr, report);
}

TEST(SearchBom, AUtf8ByteOrderMarkIsDroppedBeforeMatching) {
  TempDir d;
  write_file(d / "bom.txt", "\xEF\xBB\xBFneedle first\nsecond needle\n");
  write_file(d / "mid.txt", "x\xEF\xBB\xBFneedle in the middle\n");  // not at the start: a character like any other
  auto run = grep(d.path(), "^needle");
  ASSERT_TRUE(run.stats.ok()) << run.stats.error().message;
  ASSERT_EQ(run.files.count("bom.txt"), 1u);
  const auto& lines = run.files["bom.txt"].lines;
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].number, 1u);
  EXPECT_EQ(lines[0].text, "needle first");
  ASSERT_EQ(lines[0].submatches.size(), 1u);
  EXPECT_EQ(lines[0].submatches[0].start, 0u);
  EXPECT_EQ(run.files.count("mid.txt"), 0u);
  // rg's bytes_searched leaves the mark out too.
  EXPECT_EQ(run.stats->bytes_searched, std::string("needle first\nsecond needle\n").size() +
                                           std::string("x\xEF\xBB\xBFneedle in the middle\n").size());
  auto mid = grep(d.path(), "needle in");
  ASSERT_EQ(mid.files.count("mid.txt"), 1u);
  EXPECT_EQ(mid.files["mid.txt"].lines[0].text, "x\xEF\xBB\xBFneedle in the middle");
}

// As rg: an empty file (or one holding only a byte order mark) has no
// line, so not even the empty pattern or '^' matches in it; a file's last
// line terminator does not start another line.
TEST(SearchEmptyFile, HasNoLineToMatch) {
  TempDir d;
  write_file(d / "empty.txt", "");
  write_file(d / "bom-only.txt", "\xEF\xBB\xBF");
  write_file(d / "one.txt", "x\n");
  for (const char* pattern : {"", "^", "^$", "$"}) {
    for (auto mode : {search::OutputMode::Content, search::OutputMode::Count, search::OutputMode::FilesWithMatches}) {
      auto run = grep(d.path(), pattern, mode);
      ASSERT_TRUE(run.stats.ok()) << run.stats.error().message;
      EXPECT_EQ(run.files.count("empty.txt"), 0u) << "'" << pattern << "'";
      EXPECT_EQ(run.files.count("bom-only.txt"), 0u) << "'" << pattern << "'";
    }
    auto run = grep(d.path(), pattern, search::OutputMode::Count);
    const bool matches_x_line = std::string(pattern) != "^$";
    ASSERT_EQ(run.files.count("one.txt"), matches_x_line ? 1u : 0u) << "'" << pattern << "'";
    if (matches_x_line) {
      EXPECT_EQ(run.files["one.txt"].matched_lines, 1u) << "'" << pattern << "'";
    }
  }
}

TEST(SearchBom, ABigFileReadInChunksDropsItToo) {
  TempDir d;
  std::string big = "\xEF\xBB\xBFneedle at the top\n";
  while (big.size() < (1u << 20)) big += "filler line of text\n";
  big += "needle at the end\n";
  write_file(d / "big.txt", big);
  auto run = grep(d.path(), "^needle");
  ASSERT_TRUE(run.stats.ok());
  const auto& lines = run.files["big.txt"].lines;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "needle at the top");
  EXPECT_EQ(lines[0].number, 1u);
  EXPECT_EQ(lines[1].text, "needle at the end");
  auto files = grep(d.path(), "^needle at the top", search::OutputMode::FilesWithMatches);
  EXPECT_EQ(files.files.count("big.txt"), 1u);
}

// chmod 000 does not stop root (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
// this thread gives up both in its effective set for the test's length;
// threads it starts (the walk's) inherit that. Nothing changes for a user
// without them.
class WithoutDacOverride {
 public:
  WithoutDacOverride() {
    header_.version = _LINUX_CAPABILITY_VERSION_3;
    header_.pid = 0;
    if (::syscall(SYS_capget, &header_, saved_) != 0) return;
    __user_cap_data_struct less[2] = {saved_[0], saved_[1]};
    less[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
    changed_ = ::syscall(SYS_capset, &header_, less) == 0;
  }
  ~WithoutDacOverride() {
    if (changed_) ::syscall(SYS_capset, &header_, saved_);
  }
  WithoutDacOverride(const WithoutDacOverride&) = delete;
  WithoutDacOverride& operator=(const WithoutDacOverride&) = delete;

 private:
  __user_cap_header_struct header_{};
  __user_cap_data_struct saved_[2]{};
  bool changed_ = false;
};

class SearchUnreadable : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(d_ / "ok.txt", "needle ok\n");
    write_file(d_ / "locked.txt", "needle locked\n");
    write_file(d_ / "lockdir/inner.txt", "needle inner\n");
    write_file(d_ / "sub/also-locked.c", "needle also\n");
    ASSERT_EQ(::chmod((d_ / "locked.txt").c_str(), 0), 0);
    ASSERT_EQ(::chmod((d_ / "sub/also-locked.c").c_str(), 0), 0);
    ASSERT_EQ(::chmod((d_ / "lockdir").c_str(), 0), 0);
    const int fd = ::open((d_ / "locked.txt").c_str(), O_RDONLY);
    if (fd >= 0) {
      ::close(fd);
      GTEST_SKIP() << "this process reads a mode 000 file: permissions cannot be tested here";
    }
  }
  void TearDown() override {
    ::chmod((d_ / "lockdir").c_str(), 0755);  // so that the directory can be removed
  }
  TempDir d_;
  WithoutDacOverride no_override_;
};

TEST_F(SearchUnreadable, GrepReportsThemAndSearchesTheRest) {
  auto run = grep(d_.path(), "needle");
  ASSERT_TRUE(run.stats.ok()) << run.stats.error().message;
  EXPECT_EQ(run.files.size(), 1u);
  EXPECT_EQ(run.files.count("ok.txt"), 1u);
  const auto& r = run.stats->report;
  EXPECT_EQ(r.unreadable, 3u);
  EXPECT_EQ(r.unreadable_names,
            (std::vector<std::string>{"lockdir/: Permission denied", "locked.txt: Permission denied",
                                      "sub/also-locked.c: Permission denied"}));
}

TEST_F(SearchUnreadable, GlobReportsTheDirectoriesItCannotList) {
  search::WalkReport report;
  auto files = glob(d_.path(), "**", &report);
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(files->size(), 3u);  // ok.txt, locked.txt, sub/also-locked.c: listed without being opened
  EXPECT_EQ(report.unreadable, 1u);
  EXPECT_EQ(report.unreadable_names, std::vector<std::string>{"lockdir/: Permission denied"});
}

TEST_F(SearchUnreadable, OnlyTheFirstFewAreNamed) {
  for (int i = 0; i < 12; ++i) {
    const std::string f = d_ / ("many/f" + std::to_string(100 + i) + ".txt");
    write_file(f, "needle\n");
    ASSERT_EQ(::chmod(f.c_str(), 0), 0);
  }
  auto run = grep(d_.path(), "needle");
  ASSERT_TRUE(run.stats.ok());
  EXPECT_EQ(run.stats->report.unreadable, 15u);
  ASSERT_EQ(run.stats->report.unreadable_names.size(), search::WalkReport::kUnreadableNames);
  EXPECT_EQ(run.stats->report.unreadable_names[0], "lockdir/: Permission denied");
  EXPECT_EQ(run.stats->report.unreadable_names[2], "many/f100.txt: Permission denied");
}

TEST(GlobSyntax, WhatRipgrepRefusesIsAnError) {
  for (const char* ok : {"*.c", "src/**", "**/*.{c,h}", "{a,{b,c}}", "a}", "[a-z]*", "[!a]", "[]]", "[[:alpha:]]",
                         "\\*", "[a-]", "{}", "x/**/y"}) {
    EXPECT_EQ(glob_syntax_error(ok), std::nullopt) << ok;
  }
  EXPECT_NE(glob_syntax_error("a[")->find("not closed with ']'"), std::string::npos);
  EXPECT_NE(glob_syntax_error("[z-a]")->find("the range 'z-a' ends before it starts"), std::string::npos);
  EXPECT_NE(glob_syntax_error("src/*.{c,h")->find("'{' is not closed"), std::string::npos);
  EXPECT_NE(glob_syntax_error("a\\")->find("escapes nothing"), std::string::npos);
  EXPECT_TRUE(glob_syntax_error("[[:nope:]]").has_value());  // git's wildmatch would match nothing
}

TEST(GlobPattern, AbsoluteClimbingOrMalformedPatternsAreErrors) {
  TempDir d;
  write_file(d / "src/a.c", "x\n");
  auto abs = glob(d.path(), "/etc/*.conf");
  ASSERT_FALSE(abs.ok());
  EXPECT_EQ(abs.error().code, error_code::kInvalidParams);
  EXPECT_NE(abs.error().message.find("is absolute"), std::string::npos) << abs.error().message;
  // An absolute pattern inside the workspace gets the relative one to use.
  auto inside = glob(d.path(), d.path() + "/src/*.c");
  ASSERT_FALSE(inside.ok());
  EXPECT_NE(inside.error().message.find("here 'src/*.c'"), std::string::npos) << inside.error().message;
  auto up = glob(d.path(), "../*");
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.error().message.find("climbs with '..'"), std::string::npos);
  auto bad = glob(d.path(), "src/[a-");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("invalid pattern 'src/[a-'"), std::string::npos);
  // A leading "./" names the search path itself.
  auto dot = glob(d.path(), "./src/*.c");
  ASSERT_TRUE(dot.ok());
  EXPECT_EQ(dot->size(), 1u);
}

TEST(GlobPattern, IncludeAndExcludeGlobsAreCheckedToo) {
  TempDir d;
  write_file(d / "a.c", "needle\n");
  auto r = ConfinedRoot::open(d.path());
  ASSERT_TRUE(r.ok());
  search::GrepParams p;
  p.pattern = "needle";
  p.walk.include = {"!*.{c,h"};
  auto st = search::grep(
      *r, p, [](search::FileResult&&) {}, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "invalid glob '!*.{c,h' in include: a '{' is not closed with '}'");
  p.walk.include.clear();
  p.walk.exclude = {"[b-a]"};
  st = search::grep(
      *r, p, [](search::FileResult&&) {}, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("in exclude"), std::string::npos);
}

}  // namespace
}  // namespace icotes
