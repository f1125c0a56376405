// The diff git/blame passes blame through (blame_diff.hpp): the same hunks
// as libgit2's own buffer diff after git's tail trimming, for every
// algorithm flag; the trimming itself as git's xdiff-interface.c does it;
// and blames of a long file, where every diff is trimmed, line for line
// as `git blame --porcelain` attributes them.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "git_fixture.hpp"
#include "services/git/blame_diff.hpp"

namespace icotes {
namespace {

using git::detail::BlameDiff;
using git::detail::LineHunk;
using Hunks = std::vector<std::tuple<std::size_t, std::size_t, std::size_t, std::size_t>>;

Hunks as_tuples(const std::vector<LineHunk>& v) {
  Hunks out;
  for (const auto& h : v) out.emplace_back(h.old_start, h.old_count, h.new_start, h.new_count);
  return out;
}

// libgit2's buffer diff of the trimmed texts, in xdiff's 0-based terms:
// what blame used before it diffed blobs.
Hunks reference_hunks(std::string_view a, std::string_view b, std::uint32_t flags) {
  git::detail::trim_common_tail(a, b);
  git_diff_options o = GIT_DIFF_OPTIONS_INIT;
  o.context_lines = 0;
  o.interhunk_lines = 0;
  o.flags = GIT_DIFF_FORCE_TEXT | flags;
  Hunks out;
  auto on_hunk = [](const git_diff_delta*, const git_diff_hunk* h, void* payload) -> int {
    const auto c1 = static_cast<std::size_t>(h->old_lines), c2 = static_cast<std::size_t>(h->new_lines);
    const auto s1 = static_cast<std::size_t>(h->old_start), s2 = static_cast<std::size_t>(h->new_start);
    static_cast<Hunks*>(payload)->emplace_back(c1 ? s1 - 1 : s1, c1, c2 ? s2 - 1 : s2, c2);
    return 0;
  };
  EXPECT_EQ(git_diff_buffers(a.data(), a.size(), nullptr, b.data(), b.size(), nullptr, &o, nullptr, nullptr, on_hunk,
                             nullptr, &out),
            0);
  return out;
}

std::string join(const std::vector<std::string>& lines, bool final_newline) {
  std::string s;
  for (std::size_t i = 0; i < lines.size(); ++i) s += lines[i] + (i + 1 < lines.size() || final_newline ? "\n" : "");
  return s;
}

// Random edits: insertions, deletions, changes, duplicated lines (which
// xdiff's line statistics treat apart) and blank lines (the indent
// heuristic's anchors).
void edit(std::vector<std::string>& lines, std::mt19937& rng, int ops, const std::string& tag) {
  for (int n = 0; n < ops; ++n) {
    const std::size_t i = lines.empty() ? 0 : rng() % lines.size();
    switch (rng() % 5) {
      case 0:
        for (int j = 0, c = 1 + static_cast<int>(rng() % 6); j < c; ++j)
          lines.insert(lines.begin() + static_cast<long>(i), j % 3 == 2 ? "" : tag + " ins " + std::to_string(j));
        break;
      case 1:
        if (!lines.empty())
          lines.erase(lines.begin() + static_cast<long>(i),
                      lines.begin() + static_cast<long>(std::min(lines.size(), i + 1 + rng() % 5)));
        break;
      case 2:
        lines.insert(lines.begin() + static_cast<long>(i), "}");
        break;
      default:
        if (!lines.empty()) lines[i] = tag + " mod " + lines[i];
    }
  }
}

class GitBlame : public test::GitRepoTest {
 protected:
  void SetUp() override {
    GitRepoTest::SetUp();
    // As the service sets it (repo.cpp): the diff's in-memory object store
    // serves buffers under ids that are not their hashes.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
  }

  // "hash orig final" for every line of `git blame --porcelain <args>`.
  std::vector<std::string> git_lines(const std::string& args) {
    auto r = sh("git blame --porcelain " + args + " | grep -E '^[0-9a-f]{40} [0-9]+ [0-9]+' | cut -d' ' -f1-3");
    EXPECT_EQ(r.rc, 0) << args;
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < r.out.size()) {
      const std::size_t nl = r.out.find('\n', pos);
      out.push_back(r.out.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }
  // The same from git/blame, all lines in one page.
  std::vector<std::string> our_lines(json params) {
    params["limit"] = 100000;
    json out = ok(git::blame, params);
    std::vector<std::string> lines;
    for (const auto& h : out["hunks"]) {
      const std::size_t orig = h["origStartLine"], start = h["startLine"], count = h["lineCount"];
      for (std::size_t k = 0; k < count; ++k)
        lines.push_back(h["hash"].get<std::string>() + " " + std::to_string(orig + k) + " " +
                        std::to_string(start + k));
    }
    return lines;
  }
};

TEST_F(GitBlame, DiffEqualsLibgit2BufferDiffForEveryAlgorithm) {
  auto differ = BlameDiff::create(0);
  ASSERT_TRUE(differ.ok()) << differ.error().message;
  std::mt19937 rng(11);
  for (int size : {0, 1, 7, 300, 3000}) {
    std::vector<std::string> base;
    for (int i = 0; i < size; ++i)
      base.push_back(i % 9 == 0 ? "" : i % 13 == 0 ? "\treturn 0;\r" : "line " + std::to_string(i % 400));
    for (int round = 0; round < 6; ++round) {
      std::vector<std::string> changed = base;
      edit(changed, rng, 1 + round * 2, "r" + std::to_string(round));
      const std::string a = join(base, round % 3 != 1), b = join(changed, round % 2 == 0);
      for (std::uint32_t flags :
           {0u, static_cast<std::uint32_t>(GIT_DIFF_INDENT_HEURISTIC), static_cast<std::uint32_t>(GIT_DIFF_PATIENCE),
            static_cast<std::uint32_t>(GIT_DIFF_MINIMAL)}) {
        auto d = BlameDiff::create(flags);
        ASSERT_TRUE(d.ok());
        auto mine = d->hunks(a, b);
        ASSERT_TRUE(mine.ok()) << mine.error().message;
        EXPECT_EQ(as_tuples(*mine), reference_hunks(a, b, flags))
            << "size " << size << " round " << round << " flags " << flags;
      }
    }
  }
  // One differ, many diffs (each buffer under its own id), and equal texts.
  const std::string x = join({"a", "b", "c"}, true), y = join({"a", "c"}, true);
  for (int i = 0; i < 3; ++i) {
    auto h = differ->hunks(x, y);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(as_tuples(*h), (Hunks{{1, 1, 1, 0}}));
    auto same = differ->hunks(x, x);
    ASSERT_TRUE(same.ok());
    EXPECT_TRUE(same->empty());
  }
}

TEST_F(GitBlame, TrimsTheCommonTailAsGit) {
  // 300 lines of 10 bytes after different heads: 3,001 common bytes, so
  // two 1 KiB blocks go, less the rest of the line the cut falls in.
  std::string tail;
  for (int i = 0; i < 300; ++i) tail += "abcdefghi\n";
  const std::string a_text = "A\n" + tail, b_text = "BB\n" + tail;
  std::string_view a = a_text, b = b_text;
  git::detail::trim_common_tail(a, b);
  EXPECT_EQ(a, a_text.substr(0, 962));
  EXPECT_EQ(b, b_text.substr(0, 963));
  EXPECT_EQ(a.back(), '\n');
  // Shorter than a block, or no common end: untouched.
  std::string_view c = "x\n", d = "y\nx\n";
  git::detail::trim_common_tail(c, d);
  EXPECT_EQ(c, "x\n");
  EXPECT_EQ(d, "y\nx\n");
  const std::string e_text = tail + "1\n", f_text = tail + "2\n";
  std::string_view e = e_text, f = f_text;
  git::detail::trim_common_tail(e, f);
  EXPECT_EQ(e.size(), e_text.size());
  EXPECT_EQ(f.size(), f_text.size());
}

TEST_F(GitBlame, LongFileMatchesGitBlameLineForLine) {
  // 2,500 lines edited near the top, in the middle, in the last KiB, with
  // and without a final newline, then in the working tree.
  std::mt19937 rng(5);
  std::vector<std::string> lines;
  for (int i = 0; i < 2500; ++i) lines.push_back(i % 10 == 0 ? "" : "code " + std::to_string(i % 700) + ";");
  put("big.c", join(lines, true));
  commit_all("init");
  for (int k = 1; k <= 12; ++k) {
    const std::size_t n = lines.size();
    const std::size_t at = k % 3 == 0 ? n - 1 - rng() % 20 : k % 3 == 1 ? rng() % 50 : n / 2 + rng() % 200;
    std::vector<std::string> window(lines.begin() + static_cast<long>(std::min(at, n - 1)),
                                    lines.begin() + static_cast<long>(std::min(at + 30, n)));
    edit(window, rng, 3, "c" + std::to_string(k));
    lines.erase(lines.begin() + static_cast<long>(std::min(at, n - 1)),
                lines.begin() + static_cast<long>(std::min(at + 30, n)));
    lines.insert(lines.begin() + static_cast<long>(std::min(at, lines.size())), window.begin(), window.end());
    put("big.c", join(lines, k % 4 != 0));
    commit_all("change " + std::to_string(k));
  }
  EXPECT_EQ(our_lines({{"path", "big.c"}, {"rev", "HEAD"}}), git_lines("HEAD -- big.c"));
  EXPECT_EQ(our_lines({{"path", "big.c"}, {"rev", "HEAD~5"}}), git_lines("HEAD~5 -- big.c"));
  lines[1200] = "changed in the working tree";
  lines.insert(lines.end() - 3, "inserted near the end");
  put("big.c", join(lines, true));
  EXPECT_EQ(our_lines({{"path", "big.c"}}), git_lines("-- big.c"));
}

}  // namespace
}  // namespace icotes
