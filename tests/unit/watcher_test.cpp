#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <set>
#include <thread>

#include "icotes/events.hpp"
#include "icotes/file_watcher.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

// Collects files/changed events as path -> last type, and the other topics.
class Seen {
 public:
  events::Broker::Sink sink() {
    return [this](std::uint64_t, const events::Event& e) {
      std::lock_guard lock(m_);
      if (e.topic == "files/changed") {
        for (const auto& c : e.data["changes"]) changes_[c["path"]] = c["type"];
        if (e.data.value("rescan", false)) ++rescans_;
        modes_.insert(e.data["mode"].get<std::string>());
      } else {
        other_.push_back(e);
      }
      cv_.notify_all();
    };
  }
  // Waits (bounded) until `path` was last reported as `type`.
  bool wait_for(const std::string& path, const std::string& type, int ms = 10000) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] {
      auto it = changes_.find(path);
      return it != changes_.end() && it->second == type;
    });
  }
  // Waits (bounded) until `path` was reported at all.
  bool wait_reported(const std::string& path, int ms) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return changes_.count(path) > 0; });
  }
  bool has(const std::string& path) {
    std::lock_guard lock(m_);
    return changes_.count(path) > 0;
  }
  std::vector<events::Event> other() {
    std::lock_guard lock(m_);
    return other_;
  }
  std::set<std::string> modes() {
    std::lock_guard lock(m_);
    return modes_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::map<std::string, std::string> changes_;
  std::vector<events::Event> other_;
  std::set<std::string> modes_;
  int rescans_ = 0;
};

struct WatcherFixture : ::testing::Test {
  test::TempDir dir;
  std::unique_ptr<ConfinedRoot> root;
  events::Broker broker;
  Seen seen;
  void SetUp() override {
    test::write_file(dir / ".ignore", "build/\n*.o\n");
    std::filesystem::create_directories(dir / "src/deep");
    std::filesystem::create_directories(dir / "build");
    test::write_file(dir / "src/deep/old.c", "int x;\n");
    auto r = ConfinedRoot::open(dir.path());
    ASSERT_TRUE(r.ok());
    root = std::make_unique<ConfinedRoot>(std::move(*r));
    ASSERT_TRUE(broker.subscribe(nullptr, {"files/**"}, seen.sink()).ok());
  }
};

TEST_F(WatcherFixture, ReportsCreatedChangedDeletedAndSkipsIgnoredPaths) {
  files::Watcher w(*root, broker);
  ASSERT_TRUE(w.start().ok());
  EXPECT_EQ(w.mode(), "inotify");
  EXPECT_EQ(w.watch_count(), 3u);                // the root, src, src/deep; not build/
  test::write_file(dir / "build/out.bin", "x");  // ignored directory
  test::write_file(dir / "src/main.o", "x");     // ignored file
  test::write_file(dir / "src/deep/new.c", "int y;\n");
  ASSERT_TRUE(seen.wait_for("src/deep/new.c", "created"));
  {
    std::ofstream f(dir / "src/deep/old.c", std::ios::app);
    f << "int z;\n";
  }
  ASSERT_TRUE(seen.wait_for("src/deep/old.c", "changed"));
  std::filesystem::remove(dir / "src/deep/old.c");
  ASSERT_TRUE(seen.wait_for("src/deep/old.c", "deleted"));
  EXPECT_FALSE(seen.has("src/main.o"));
  EXPECT_FALSE(seen.has("build/out.bin"));
  EXPECT_FALSE(seen.has("build"));
  EXPECT_EQ(seen.modes(), std::set<std::string>{"inotify"});
}

TEST_F(WatcherFixture, WatchesNewDirectoriesAndReportsWhatTheyAlreadyHold) {
  files::Watcher w(*root, broker);
  ASSERT_TRUE(w.start().ok());
  // Made in one go: the files may exist before the new directory's watch.
  std::filesystem::create_directories(dir / "pkg/a/b");
  test::write_file(dir / "pkg/a/b/early.txt", "1");
  ASSERT_TRUE(seen.wait_for("pkg/a/b/early.txt", "created"));
  // Later files in the new tree are seen through its own watch.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  test::write_file(dir / "pkg/a/b/late.txt", "2");
  ASSERT_TRUE(seen.wait_for("pkg/a/b/late.txt", "created"));
  // A directory moved out of the workspace: reported deleted, its watches
  // dropped (a change under the old name would be wrong).
  test::TempDir outside;
  std::filesystem::rename(dir / "pkg", outside / "pkg");
  ASSERT_TRUE(seen.wait_for("pkg", "deleted"));
  test::write_file(outside / "pkg/a/b/after.txt", "3");
  test::write_file(dir / "marker.txt", "m");
  ASSERT_TRUE(seen.wait_for("marker.txt", "created"));
  EXPECT_FALSE(seen.has("pkg/a/b/after.txt"));
}

// `mkdir -p` then a file, many times while the watcher adds watches: the
// walk of a new tree lists a directory before it watches it, and a file
// made in between must still be reported (a second walk finds it).
TEST_F(WatcherFixture, AFileMadeWhileItsNewDirectoryIsBeingWatchedIsReported) {
  files::WatcherOptions options;
  options.max_changes = 1000000;  // no event truncated (that would say "rescan", not name the file)
  files::Watcher w(*root, broker, options);
  ASSERT_TRUE(w.start().ok());
  constexpr int kTrees = 600;
  for (int i = 0; i < kTrees; ++i) {
    const auto d = dir / ("burst/t" + std::to_string(i) + "/x/y");
    std::filesystem::create_directories(d);
    // 0 to 490 µs later: some file lands while the watcher walks its tree.
    std::this_thread::sleep_for(std::chrono::microseconds(i % 50 * 10));
    test::write_file(std::filesystem::path(d) / "f.txt", "1");
  }
  std::vector<std::string> missed;
  for (int i = 0; i < kTrees; ++i) {
    const std::string path = "burst/t" + std::to_string(i) + "/x/y/f.txt";
    // Created, or changed where its write's own event came in a later window.
    if (!seen.wait_reported(path, missed.empty() ? 10000 : 10)) missed.push_back(path);
  }
  EXPECT_TRUE(missed.empty()) << missed.size() << " of " << kTrees << " never reported, first " << missed.front();
}

TEST_F(WatcherFixture, FallsBackToPollingAtTheWatchLimitAndSaysSo) {
  files::Watcher w(
      *root, broker,
      files::WatcherOptions{.coalesce_ms = 20, .poll_interval_ms = 100, .max_changes = 1000, .max_watches = 1});
  ASSERT_TRUE(w.start().ok());
  EXPECT_EQ(w.mode(), "polling");
  auto other = seen.other();
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].topic, "files/watcher");
  EXPECT_EQ(other[0].data["mode"], "polling");
  EXPECT_NE(other[0].data["reason"].get<std::string>().find("limit of 1 watches"), std::string::npos);
  // start() took the baseline scan: a change made at once is seen.
  test::write_file(dir / "src/polled.c", "p");
  ASSERT_TRUE(seen.wait_for("src/polled.c", "created"));
  std::filesystem::remove(dir / "src/deep/old.c");
  ASSERT_TRUE(seen.wait_for("src/deep/old.c", "deleted"));
  EXPECT_EQ(seen.modes(), std::set<std::string>{"polling"});
}

TEST_F(WatcherFixture, CoalescesABurstIntoFewEvents) {
  files::Watcher w(
      *root, broker,
      files::WatcherOptions{.coalesce_ms = 200, .poll_interval_ms = 2000, .max_changes = 10, .max_watches = 0});
  ASSERT_TRUE(w.start().ok());
  std::vector<events::Event> got;
  std::mutex m;
  ASSERT_TRUE(broker
                  .subscribe(nullptr, {"files/changed"},
                             [&](std::uint64_t, const events::Event& e) {
                               std::lock_guard lock(m);
                               got.push_back(e);
                             })
                  .ok());
  for (int i = 0; i < 50; ++i) test::write_file(dir / ("src/f" + std::to_string(i) + ".c"), "x");
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard lock(m);
      if (!got.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // the rest of the burst
  std::lock_guard lock(m);
  ASSERT_GE(got.size(), 1u);
  // Coalesced: far fewer events than files.
  EXPECT_LT(got.size(), 50u);
  bool truncated = false;
  for (const auto& e : got) {
    // At most max_changes per event; a cut list says so and asks for a rescan.
    EXPECT_LE(e.data["changes"].size(), 10u);
    if (e.data.value("truncated", false)) {
      truncated = true;
      EXPECT_EQ(e.data["rescan"], true);
    }
  }
  // 50 creations in fewer than 5 events of at most 10: one must be cut.
  if (got.size() < 5) {
    EXPECT_TRUE(truncated);
  }
}

}  // namespace
}  // namespace icotes
