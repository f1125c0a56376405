// The files service judges where a change really lands, through the
// descriptors it writes with: a symlink, a rename racing the operation or a
// hard link cannot turn a write to `d/config.toml` into one to
// `.icotes/config.toml`, and a Read deny covers the file a symlink leads to.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "icotes/files.hpp"
#include "icotes/path_policy.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::exists_nofollow;
using test::read_file;
using test::TempDir;
using test::write_file;

class FilesRace : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = ConfinedRoot::open(dir_.path());
    ASSERT_TRUE(r.ok());
    root_.emplace(std::move(*r));
    files_.emplace(*root_, docs_);
  }
  files::Service& svc() { return *files_; }
  std::string path(const std::string& rel) const { return dir_ / rel; }
  void put(const std::string& rel, const std::string& content) { write_file(path(rel), content); }
  std::string get(const std::string& rel) const { return read_file(path(rel)); }
  std::vector<std::string> names(const std::string& rel) const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path(rel))) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  Documents docs_;
  std::optional<ConfinedRoot> root_;
  std::optional<files::Service> files_;
};

// Swaps directory `d` with the symlink `dlink -> target` (RENAME_EXCHANGE)
// until stopped, as a sandboxed background job can.
class Swapper {
 public:
  Swapper(const std::string& root, const std::string& target) : root_(root) {
    std::filesystem::create_directories(root + "/d");
    if (::symlink(target.c_str(), (root + "/dlink").c_str()) != 0) throw std::runtime_error("symlink");
    thread_ = std::thread([this] {
      const std::string d = root_ + "/d", l = root_ + "/dlink";
      while (!stop_.load(std::memory_order_relaxed)) {
        if (::renameat2(AT_FDCWD, d.c_str(), AT_FDCWD, l.c_str(), RENAME_EXCHANGE) == 0) swaps_.fetch_add(1);
      }
    });
  }
  ~Swapper() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long swaps() const { return swaps_.load(); }

 private:
  std::string root_;
  std::atomic<bool> stop_{false};
  std::atomic<long> swaps_{0};
  std::thread thread_;
};

// Runs `attempt` (0: done, else the error code) while `d` and
// `dlink -> target` swap: at most 4000 times or 10 s, and at least until the
// race was hit (a refusal: kPermissionDenied) and an attempt got through.
template <typename F>
void race(const std::string& root, const std::string& target, F attempt, int& refused, int& passed) {
  Swapper swapper(root, target);
  refused = passed = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < 4000 && std::chrono::steady_clock::now() < deadline; ++i) {
    const int code = attempt(i);
    if (code == error_code::kPermissionDenied) ++refused;
    if (code == 0) ++passed;
    if (i >= 200 && refused > 20 && passed > 20) break;
  }
  swapper.stop();
}

template <typename T>
int code_of(const Result<T>& r) {
  return r.ok() ? 0 : r.error().code;
}

TEST_F(FilesRace, WriteNeverLandsInIcotesWhileADirectoryIsSwappedWithALinkToIt) {
  put(".icotes/config.toml", "[permissions]\nmode = \"default\"\n");
  const std::string before = get(".icotes/config.toml");
  int refused = 0, passed = 0;
  race(
      dir_.path(), ".icotes",
      [&](int i) {
        return code_of(
            svc().write({"d/config.toml", "[exec]\nsandbox = false # " + std::to_string(i) + "\n", std::nullopt}));
      },
      refused, passed);
  EXPECT_EQ(get(".icotes/config.toml"), before);
  EXPECT_EQ(names(".icotes"), std::vector<std::string>{"config.toml"});  // no temporary file left there either
  EXPECT_GT(passed, 0);
  EXPECT_GT(refused, 0) << "the race was never hit";
}

// What .icotes/ looks like, to compare after each race.
struct Snapshot {
  std::vector<std::string> names;
  std::string config;
  bool operator==(const Snapshot&) const = default;
};

class FilesRaceOps : public FilesRace {
 protected:
  void SetUp() override {
    FilesRace::SetUp();
    put(".icotes/config.toml", "mode = 1\n");
    put("d/config.toml", "mode = 1\n");
    real_ = Fd(::open(path("d").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(real_.valid());
  }
  Snapshot icotes() const { return {names(".icotes"), get(".icotes/config.toml")}; }
  // Runs `attempt` while d and dlink -> .icotes swap; .icotes must not change.
  template <typename F>
  void expect_icotes_untouched(F attempt) {
    const Snapshot before = icotes();
    int refused = 0, passed = 0;
    race(dir_.path(), ".icotes", attempt, refused, passed);
    EXPECT_EQ(icotes(), before);
    EXPECT_GT(passed, 0);
    EXPECT_GT(refused, 0) << "the race was never hit";
  }
  // Puts `name` back in the real directory, whatever it is called now (d or
  // dlink): through its descriptor, never by a name that may be the link.
  void reset(const std::string& name, const std::string& content = "mode = 1\n") {
    Fd f(::openat(real_.get(), name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    ASSERT_TRUE(f.valid());
    ASSERT_EQ(::write(f.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
  }
  Fd real_;
};

TEST_F(FilesRaceOps, Edit) {
  expect_icotes_untouched([&](int) {
    reset("config.toml");
    files::EditParams ep;
    ep.path = "d/config.toml";
    ep.edits = {{"mode = 1", "mode = 2", false}};
    return code_of(svc().edit(ep));
  });
}

TEST_F(FilesRaceOps, ApplyPatch) {
  expect_icotes_untouched([&](int) {
    reset("config.toml");
    return code_of(svc().apply_patch("--- a/d/config.toml\n+++ b/d/config.toml\n@@ -1 +1 @@\n-mode = 1\n+mode = 2\n"));
  });
}

TEST_F(FilesRaceOps, ApplyPatchCreatesAndDeletes) {
  expect_icotes_untouched([&](int i) {
    reset("config.toml");
    ::unlinkat(real_.get(), "new.toml", 0);
    if (i % 2) return code_of(svc().apply_patch("--- a/d/config.toml\n+++ /dev/null\n@@ -1 +0,0 @@\n-mode = 1\n"));
    return code_of(svc().apply_patch("--- /dev/null\n+++ b/d/new.toml\n@@ -0,0 +1 @@\n+x = 1\n"));
  });
}

TEST_F(FilesRaceOps, Mkdir) {
  expect_icotes_untouched([&](int i) { return code_of(svc().mkdir("d/made" + std::to_string(i) + "/x")); });
}

TEST_F(FilesRaceOps, MoveInto) {
  expect_icotes_untouched([&](int i) {
    put("src.toml", "mode = 9 # " + std::to_string(i) + "\n");
    auto s = svc().move("src.toml", "d/config.toml", true);
    return s.ok() ? 0 : s.error().code;
  });
}

TEST_F(FilesRaceOps, MoveOutOf) {
  expect_icotes_untouched([&](int i) {
    reset("config.toml");
    auto s = svc().move("d/config.toml", "moved" + std::to_string(i) + ".toml", false);
    return s.ok() ? 0 : s.error().code;
  });
}

TEST_F(FilesRaceOps, Remove) {
  expect_icotes_untouched([&](int) {
    reset("config.toml");
    auto s = svc().remove("d/config.toml", false);
    return s.ok() ? 0 : s.error().code;
  });
}

TEST_F(FilesRaceOps, RemoveRecursive) {
  put(".icotes/sub/keep", "k");
  expect_icotes_untouched([&](int) {
    ::mkdirat(real_.get(), "sub", 0755);
    auto s = svc().remove("d/sub", true);
    return s.ok() ? 0 : s.error().code;
  });
  EXPECT_EQ(get(".icotes/sub/keep"), "k");
}

// A Read deny on secret/: a name swapped between a directory and a link to
// secret/ never yields its content, its listing or its metadata.
TEST_F(FilesRace, ReadsNeverReachADeniedFile) {
  put("secret/config.toml", "token = \"hunter2\"\n");
  files::Access access;
  access.read_denied = [](std::string_view rel) { return rel == "secret" || rel.starts_with("secret/"); };
  Swapper swapper(dir_.path(), "secret");
  int refused = 0, passed = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int i = 0; i < 4000 && std::chrono::steady_clock::now() < deadline; ++i) {
    // d/config.toml exists only in secret/: any success is a leak.
    auto r = svc().read({"d/config.toml", std::nullopt, std::nullopt, std::nullopt}, access);
    if (r.ok()) ADD_FAILURE() << "read " << r->content;
    auto res = svc().read_resource("d/config.toml", access);
    if (res.ok()) ADD_FAILURE() << "resource " << res->data;
    auto st = svc().stat("d/config.toml", access);
    if (st.ok()) ADD_FAILURE() << "stat of a denied file";
    auto l = svc().list("d", 1, nullptr, i % 3 != 0, access);
    if (l.ok()) {
      for (const auto& e : (*l)->entries) EXPECT_NE(e.path, "config.toml");
      ++passed;
    } else {
      EXPECT_EQ(l.error().code, error_code::kPermissionDenied) << l.error().message;
      ++refused;
    }
    if (i >= 200 && refused > 20 && passed > 20) break;
    if (::testing::Test::HasFailure()) break;
  }
  swapper.stop();
  EXPECT_GT(refused, 0);
  EXPECT_GT(passed, 0);
}

}  // namespace
}  // namespace icotes
