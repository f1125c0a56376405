// What grep and glob may reach and show: followed symbolic links stay
// beneath the root (however they are spelled, whatever they change to during
// the walk), and files a Read deny rule covers are left out of multi-file
// results, judged where each file really is.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/search.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

struct Found {
  std::vector<std::string> paths;  // sorted
  search::WalkReport report;
};

Found grep(const ConfinedRoot& root, search::GrepParams p) {
  Found out;
  std::mutex m;
  auto st = search::grep(
      root, p,
      [&](search::FileResult&& r) {
        std::lock_guard lock(m);
        out.paths.push_back(r.path);
      },
      nullptr);
  EXPECT_TRUE(st) << (st ? "" : st.error().message);
  if (st) out.report = st->report;
  std::sort(out.paths.begin(), out.paths.end());
  return out;
}

search::GrepParams secret_search(bool follow) {
  search::GrepParams p;
  p.pattern = "SECRET";
  p.walk.follow_symlinks = follow;
  p.output = search::OutputMode::FilesWithMatches;
  return p;
}

class SearchLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(outside / "etc/passwd", "root SECRET\n");
    write_file(ws / "src/a.txt", "SECRET inside\n");
    fs::create_directory_symlink(outside / "etc", ws / "etc_link");  // a directory outside
    fs::create_symlink(outside / "etc/passwd", ws / "pw");           // a file outside
    fs::create_directory_symlink("/", ws / "root_link");             // the whole machine
    fs::create_directory_symlink("../..", ws / "src/up2");           // above the root, relative
    fs::create_directory_symlink("..", ws / "src/up");               // a loop: the root itself
    fs::create_directory_symlink("src", ws / "src_link");            // inside: followed
    fs::create_symlink(ws / "src/a.txt", ws / "abs_inside.txt");     // absolute, into the root: followed
    fs::create_symlink(ws.path() + "/../" + fs::path(outside.path()).filename().string() + "/etc/passwd",
                       ws / "abs_dotdot");  // absolute, out through ..
    root = std::make_unique<ConfinedRoot>(std::move(*ConfinedRoot::open(ws.path())));
  }
  TempDir ws, outside;
  std::unique_ptr<ConfinedRoot> root;
};

TEST_F(SearchLinks, FollowingNeverLeavesTheWorkspace) {
  const Found f = grep(*root, secret_search(true));
  EXPECT_EQ(f.paths, (std::vector<std::string>{"abs_inside.txt", "src/a.txt", "src_link/a.txt"}));
  // src/up2 twice: also as src_link/up2 (the loops src/up and src_link/up are skipped).
  EXPECT_EQ(f.report.links_outside, 6u);
  EXPECT_EQ(f.report.link_names,
            (std::vector<std::string>{"abs_dotdot", "etc_link", "pw", "root_link", "src/up2", "src_link/up2"}));
  EXPECT_EQ(f.report.read_denied, 0u);
}

TEST_F(SearchLinks, WithoutFollowLinksAreNeitherFollowedNorReported) {
  const Found f = grep(*root, secret_search(false));
  EXPECT_EQ(f.paths, (std::vector<std::string>{"src/a.txt"}));
  EXPECT_EQ(f.report.links_outside, 0u);
}

TEST_F(SearchLinks, AnExplicitPathThroughALinkOutsideIsRefused) {
  for (const char* path : {"pw", "etc_link", "etc_link/passwd", "root_link/etc"}) {
    search::GrepParams p = secret_search(true);
    p.walk.path = path;
    auto st = search::grep(
        *root, p, [](search::FileResult&&) { ADD_FAILURE() << "a result"; }, nullptr);
    ASSERT_FALSE(st) << path;
    EXPECT_EQ(st.error().code, error_code::kOutsideWorkspace) << path;
  }
  // A link inside is the file it names (relative: ConfinedRoot refuses
  // every absolute link in a path a client names, as other operations do).
  fs::create_symlink("src/a.txt", ws / "rel_inside.txt");
  search::GrepParams p = secret_search(false);
  p.walk.path = "rel_inside.txt";
  EXPECT_EQ(grep(*root, p).paths, (std::vector<std::string>{"rel_inside.txt"}));
}

TEST_F(SearchLinks, GlobWalksTheSameWay) {
  search::GlobParams g;
  g.pattern = "**/passwd";
  g.walk.follow_symlinks = true;
  search::WalkReport report;
  auto found = search::glob(*root, g, nullptr, &report);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->size(), 0u);
  EXPECT_EQ(report.links_outside, 6u);
}

TEST_F(SearchLinks, ALinkSwappedBetweenInsideAndOutsideDuringTheWalkIsJudgedByWhatOpens) {
  write_file(ws / "inside/note.txt", "harmless\n");
  fs::create_directory_symlink("inside", ws / "flip");
  std::atomic<bool> stop{false};
  // Renames a fresh link over `flip`, alternating its target (atomic for the walker).
  std::thread flipper([&] {
    for (int i = 0; !stop; ++i) {
      const std::string tmp = ws / ("flip.tmp" + std::to_string(i % 2));
      std::error_code ec;
      fs::remove(tmp, ec);
      fs::create_directory_symlink(i % 2 ? fs::path(outside / "etc") : fs::path("inside"), tmp, ec);
      fs::rename(tmp, ws / "flip", ec);
    }
  });
  search::GrepParams p = secret_search(true);
  p.pattern = "root SECRET";
  int leaks = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (int i = 0; i < 300 && std::chrono::steady_clock::now() < until; ++i) leaks += grep(*root, p).paths.size();
  stop = true;
  flipper.join();
  EXPECT_EQ(leaks, 0);
}

// Read deny: a filter over workspace-relative paths, recording what it was asked.
struct Deny {
  std::string prefix;
  std::shared_ptr<std::mutex> m = std::make_shared<std::mutex>();
  std::shared_ptr<std::set<std::string>> asked = std::make_shared<std::set<std::string>>();
  ReadFilter filter() const {
    return [*this](std::string_view rel) {
      std::lock_guard lock(*m);
      asked->insert(std::string(rel));
      return rel.substr(0, prefix.size()) == prefix;
    };
  }
};

class SearchReadDeny : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(ws / "secret/key.txt", "SECRET key\n");
    write_file(ws / "secret/.env", "SECRET env\n");
    write_file(ws / "src/a.txt", "SECRET fine\n");
    write_file(ws / ".hidden/b.txt", "SECRET hidden fine\n");
    fs::create_directory_symlink("secret", ws / "public");  // the link's name is not where the files are
    fs::create_symlink("secret/key.txt", ws / "key_link.txt");
    root = std::make_unique<ConfinedRoot>(std::move(*ConfinedRoot::open(ws.path())));
  }
  TempDir ws;
  std::unique_ptr<ConfinedRoot> root;
};

TEST_F(SearchReadDeny, GrepOfAParentLeavesDeniedFilesOutAndCountsThem) {
  Deny deny{"secret/"};
  for (const bool hidden : {false, true}) {
    search::GrepParams p = secret_search(false);
    p.walk.hidden = hidden;
    p.walk.read_denied = deny.filter();
    const Found f = grep(*root, p);
    if (hidden) {
      EXPECT_EQ(f.paths, (std::vector<std::string>{".hidden/b.txt", "src/a.txt"}));
      EXPECT_EQ(f.report.read_denied, 2u);
    } else {
      EXPECT_EQ(f.paths, (std::vector<std::string>{"src/a.txt"}));
      EXPECT_EQ(f.report.read_denied, 1u);
    }
  }
}

TEST_F(SearchReadDeny, FollowedLinksAreJudgedWhereTheFilesReallyAre) {
  Deny deny{"secret/"};
  search::GrepParams p = secret_search(true);
  p.walk.read_denied = deny.filter();
  const Found f = grep(*root, p);
  EXPECT_EQ(f.paths, (std::vector<std::string>{"src/a.txt"}));
  EXPECT_EQ(f.report.read_denied, 3u);  // secret/key.txt, public/key.txt, key_link.txt
  EXPECT_TRUE(deny.asked->count("secret/key.txt"));
  EXPECT_FALSE(deny.asked->count("public/key.txt"));
  EXPECT_FALSE(deny.asked->count("key_link.txt"));
  // Named as the start of the walk, a link into the denied directory too.
  p.walk.path = "public";
  const Found g = grep(*root, p);
  EXPECT_TRUE(g.paths.empty());
  EXPECT_EQ(g.report.read_denied, 1u);
  p.walk.path = "key_link.txt";
  const Found h = grep(*root, p);
  EXPECT_TRUE(h.paths.empty());
  EXPECT_EQ(h.report.read_denied, 1u);
}

TEST_F(SearchReadDeny, GlobLeavesThemOutToo) {
  Deny deny{"secret/"};
  search::GlobParams g;
  g.pattern = "**/*";
  g.walk.hidden = true;
  g.walk.read_denied = deny.filter();
  search::WalkReport report;
  auto found = search::glob(*root, g, nullptr, &report);
  ASSERT_TRUE(found);
  found->sort_by_path([](std::string_view a, std::string_view b) { return a.compare(b); });
  std::vector<std::string> paths;
  std::string scratch;
  for (std::size_t i = 0; i < found->size(); ++i) paths.emplace_back(found->path(i, scratch));
  EXPECT_EQ(paths, (std::vector<std::string>{".hidden/b.txt", "src/a.txt"}));
  EXPECT_EQ(report.read_denied, 2u);
}

TEST_F(SearchReadDeny, ALinkLeadingOutOfADeniedDirectoryIsCountedNotNamed) {
  TempDir outside;
  fs::create_directory_symlink(outside.path(), ws / "secret/out");
  fs::create_directory_symlink(outside.path(), ws / "src/out");
  Deny deny{"secret/"};
  search::GrepParams p = secret_search(true);
  p.walk.read_denied = deny.filter();
  const Found f = grep(*root, p);
  EXPECT_EQ(f.report.links_outside, 3u);  // secret/out, src/out, and public/out (really secret/out)
  EXPECT_EQ(f.report.link_names, (std::vector<std::string>{"src/out"}));
}

}  // namespace
}  // namespace icotes
