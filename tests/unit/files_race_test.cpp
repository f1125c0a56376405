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

// write_file creates or replaces: concurrent writes of one new file (and of
// its new parents) all succeed, the last one wins.
TEST_F(FilesRace, ConcurrentWritesOfANewFileAllSucceed) {
  for (int round = 0; round < 20; ++round) {
    const std::string rel = "r" + std::to_string(round) + "/sub/x.txt";
    std::atomic<int> failed{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w)
      writers.emplace_back([&, w] {
        auto r = svc().write({rel, "writer " + std::to_string(w) + "\n", std::nullopt});
        if (!r.ok()) {
          ADD_FAILURE() << r.error().message;
          failed.fetch_add(1);
        }
      });
    for (auto& t : writers) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(get(rel).rfind("writer ", 0), 0u);
    EXPECT_EQ(names("r" + std::to_string(round) + "/sub"), std::vector<std::string>{"x.txt"});
  }
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

// --- protected paths, through every operation that changes files ----------

class FilesProtected : public FilesRace {
 protected:
  void SetUp() override {
    FilesRace::SetUp();
    for (const char* p : kExisting) put(p, "original\n");
    put("ok.txt", "original\n");
  }
  // Every protected file, as it was.
  void expect_untouched() {
    for (const char* p : kExisting) EXPECT_EQ(get(p), "original\n") << p;
    for (const char* p : kAbsent) EXPECT_FALSE(exists_nofollow(path(p))) << p;
  }
  static void expect_denied(const Status& s, const std::string& what) {
    ASSERT_FALSE(s.ok()) << what;
    EXPECT_EQ(s.error().code, error_code::kPermissionDenied) << what << ": " << s.error().message;
  }
  template <typename T>
  static void expect_denied(const Result<T>& r, const std::string& what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code, error_code::kPermissionDenied) << what << ": " << r.error().message;
  }
  static constexpr const char* kExisting[] = {".icotes/config.toml",
                                              ".git/config",
                                              ".git/hooks/pre-commit",
                                              ".git/info/attributes",
                                              ".git/modules/lib/config",
                                              ".git/modules/lib/hooks/post-checkout",
                                              ".git/modules/lib/info/attributes",
                                              ".git/worktrees/wt/config.worktree",
                                              ".git/worktrees/wt/commondir",
                                              "sub/.git/config",
                                              "nested/.icotes/config.toml",
                                              "wt2/.git"};
  static constexpr const char* kAbsent[] = {".git/commondir",       ".git/hooks/post-checkout", ".icotes/new.toml",
                                            ".git/config.worktree", "sub/.git/hooks/pre-push",  "other/.git"};
};

TEST_F(FilesProtected, WriteEditAndPatchRefuseThemByNameLinkOrLinkedParent) {
  ASSERT_EQ(::symlink(".git", path("gitlink").c_str()), 0);
  ASSERT_EQ(::symlink(".git/config", path("config-link").c_str()), 0);
  for (const char* p : kExisting) {
    const std::string rel = p;
    expect_denied(svc().write({rel, "[core]\n\tfsmonitor = evil\n", std::nullopt}), "write " + rel);
    expect_denied(svc().edit({rel, {{"original", "evil", false}}, std::nullopt, false}), "edit " + rel);
    expect_denied(svc().apply_patch("--- a/" + rel + "\n+++ b/" + rel + "\n@@ -1 +1 @@\n-original\n+evil\n"),
                  "patch " + rel);
    expect_denied(svc().apply_patch("--- a/" + rel + "\n+++ /dev/null\n@@ -1 +0,0 @@\n-original\n"),
                  "patch delete " + rel);
  }
  for (const char* p : kAbsent) {
    const std::string rel = p;
    expect_denied(svc().write({rel, "evil\n", std::nullopt}), "write " + rel);
    expect_denied(svc().edit({rel, {{"", "evil\n", false}}, std::nullopt, false}), "edit create " + rel);
    expect_denied(svc().apply_patch("--- /dev/null\n+++ b/" + rel + "\n@@ -0,0 +1 @@\n+evil\n"), "patch create " + rel);
  }
  expect_denied(svc().write({"config-link", "evil\n", std::nullopt}), "write through a link to .git/config");
  expect_denied(svc().write({"gitlink/hooks/pre-push", "evil\n", std::nullopt}), "write beneath a link to .git");
  expect_denied(svc().write({"gitlink/config", "evil\n", std::nullopt}), "write beneath a link to .git");
  // A patch that also touches a protected file writes nothing at all.
  expect_denied(svc().apply_patch("--- a/ok.txt\n+++ b/ok.txt\n@@ -1 +1 @@\n-original\n+changed\n"
                                  "--- a/gitlink/config\n+++ b/gitlink/config\n@@ -1 +1 @@\n-original\n+evil\n"),
                "patch of ok.txt and .git/config");
  EXPECT_EQ(get("ok.txt"), "original\n");
  expect_untouched();
  EXPECT_TRUE(std::filesystem::is_symlink(path("config-link")));
  // Ordinary files in .git are git's business but not protected.
  EXPECT_TRUE(svc().write({".git/info/exclude", "*.o\n", std::nullopt}).ok());
}

TEST_F(FilesProtected, MoveMkdirAndDeleteRefuseThem) {
  ASSERT_EQ(::symlink(".git", path("gitlink").c_str()), 0);
  for (const char* p : kExisting) {
    const std::string rel = p;
    expect_denied(svc().move(rel, "stolen", false), "move " + rel);
    expect_denied(svc().move("ok.txt", rel, true), "move onto " + rel);
    expect_denied(svc().remove(rel, false), "delete " + rel);
  }
  for (const char* p : kAbsent) expect_denied(svc().move("ok.txt", p, false), std::string("move to ") + p);
  expect_denied(svc().move("ok.txt", "gitlink/hooks/pre-push", false), "move into a link to .git");
  expect_denied(svc().mkdir(".icotes/sub"), "mkdir in .icotes");
  expect_denied(svc().mkdir("gitlink/hooks/x"), "mkdir beneath a link to .git");
  expect_denied(svc().mkdir("other/.git/hooks"), "mkdir of a .git");
  EXPECT_FALSE(exists_nofollow(path("other")));  // judged before anything was made
  // .git itself, and directories that hold a protected path, with everything in them.
  expect_denied(svc().remove(".git", true), "delete .git");
  expect_denied(svc().remove("sub", true), "delete a directory holding sub/.git/config");
  expect_denied(svc().remove("nested", true), "delete a directory holding nested/.icotes");
  expect_denied(svc().move("sub", "elsewhere", false), "move a directory holding sub/.git");
  expect_denied(svc().move(".git/modules", "mods", false), "move .git/modules");
  put("tree/config", "[core]\n\tfsmonitor = evil\n");
  put("tree/hooks/post-checkout", "#!/bin/sh\nevil\n");
  expect_denied(svc().move("tree", ".git/modules/lib2", false), "move a directory into .git");
  expect_denied(svc().move("tree", "gitlink/modules/lib3", false), "move a directory into a link to .git");
  EXPECT_FALSE(svc().remove(".", true).ok());
  expect_untouched();
  EXPECT_TRUE(exists_nofollow(path("tree/config")));
  // The link to .git is a name like any other: it may go.
  EXPECT_TRUE(svc().remove("gitlink", false).ok());
  EXPECT_TRUE(std::filesystem::is_directory(path(".git/hooks")));
}

// A hard link to .icotes/config.toml made inside the workspace (a command
// can make one): writing the link replaces that name with a new file, the
// protected inode keeps its bytes.
TEST_F(FilesProtected, AHardLinkToAProtectedFileIsReplacedNotWrittenThrough) {
  ASSERT_EQ(::link(path(".icotes/config.toml").c_str(), path("x.toml").c_str()), 0);
  auto w = svc().write({"x.toml", "evil = 1\n", std::nullopt});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(get("x.toml"), "evil = 1\n");
  ASSERT_EQ(::link(path(".icotes/config.toml").c_str(), path("y.toml").c_str()), 0);
  auto e = svc().edit({"y.toml", {{"original", "evil", false}}, std::nullopt, false});
  ASSERT_TRUE(e.ok()) << e.error().message;
  ASSERT_EQ(::link(path(".icotes/config.toml").c_str(), path("z.toml").c_str()), 0);
  auto pa = svc().apply_patch("--- a/z.toml\n+++ b/z.toml\n@@ -1 +1 @@\n-original\n+evil\n");
  ASSERT_TRUE(pa.ok()) << pa.error().message;
  EXPECT_EQ(get("z.toml"), "evil\n");
  expect_untouched();
  struct stat st {};
  ASSERT_EQ(::stat(path(".icotes/config.toml").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);  // x.toml, y.toml and z.toml are new files now
}

// The client's own check (the gate's write check in the server) is asked
// about the landing path, never the name given.
TEST_F(FilesProtected, TheClientsCheckJudgesTheLandingPath) {
  put("secret/key", "k\n");
  ASSERT_EQ(::symlink("secret", path("alias").c_str()), 0);
  ASSERT_EQ(::symlink("secret/key", path("key-link").c_str()), 0);
  std::vector<std::string> asked;
  files::Access access;
  access.may_write = [&](std::string_view rel) -> Status {
    asked.emplace_back(rel);
    if (rel.starts_with("secret")) return make_error(error_code::kPermissionDenied, "rule Edit(secret/**)");
    return ok_status();
  };
  expect_denied(svc().write({"alias/key", "x", std::nullopt}, access), "write through a linked parent");
  expect_denied(svc().write({"key-link", "x", std::nullopt}, access), "write through a link");
  expect_denied(svc().edit({"alias/key", {{"k", "x", false}}, std::nullopt, false}, access), "edit");
  expect_denied(svc().remove("alias/key", false, access), "delete");
  expect_denied(svc().move("alias/key", "k2", false, access), "move from");
  expect_denied(svc().move("ok.txt", "alias/k3", false, access), "move to");
  expect_denied(svc().mkdir("alias/d", access), "mkdir");
  expect_denied(svc().apply_patch("--- /dev/null\n+++ b/alias/n\n@@ -0,0 +1 @@\n+x\n", access), "patch");
  EXPECT_EQ(get("secret/key"), "k\n");
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "secret/key"), 5) << "write, link, edit, delete, move";
  // The link itself is a name of its own: deleting it is judged as key-link.
  asked.clear();
  EXPECT_TRUE(svc().remove("key-link", false, access).ok());
  EXPECT_EQ(asked, std::vector<std::string>{"key-link"});
  // Parents made for a write are judged as part of it.
  asked.clear();
  EXPECT_TRUE(svc().write({"a/b/c.txt", "x", std::nullopt}, access).ok());
  EXPECT_EQ(asked, (std::vector<std::string>{"a/b/c.txt", "a/b/c.txt"}));
}

// An editor that records edits and confirms them with a didChange.
class RecordingEditor final : public EditorLink {
 public:
  RecordingEditor(Documents& docs, std::string rel) : docs_(docs), rel_(std::move(rel)) {}
  int edits = 0;
  Result<bool> apply_edit(const std::string&, std::int64_t version, std::string_view old_text, std::size_t begin,
                          std::size_t end, std::string_view replacement, std::chrono::milliseconds) override {
    ++edits;
    std::string text(old_text);
    text.replace(begin, end - begin, replacement);
    (void)docs_.replace(rel_, version + 1, std::move(text));
    return true;
  }
  std::string editor_name() const override { return "recording"; }
  Result<bool> show_document(const std::string&, std::optional<Position>, std::chrono::milliseconds) override {
    return true;
  }

 private:
  Documents& docs_;
  std::string rel_;
};

// An edit to an open document goes to the editor, which saves it where the
// document's name leads: judged there before the editor is asked.
TEST_F(FilesProtected, EditsOfOpenDocumentsAreJudgedWhereTheEditorWouldSave) {
  ASSERT_EQ(::symlink(".icotes/config.toml", path("settings.toml").c_str()), 0);
  auto editor = std::make_shared<RecordingEditor>(docs_, "settings.toml");
  docs_.open("settings.toml", {"file:///x/settings.toml", "toml", 1, "original\n", editor});
  expect_denied(svc().edit({"settings.toml", {{"original", "evil", false}}, std::nullopt, false}), "edit open link");
  expect_denied(svc().write({"settings.toml", "evil\n", std::nullopt}), "write open link");
  EXPECT_EQ(editor->edits, 0);
  // A hard link: the editor would write the shared inode in place.
  ASSERT_EQ(::link(path(".icotes/config.toml").c_str(), path("hard.toml").c_str()), 0);
  auto hard = std::make_shared<RecordingEditor>(docs_, "hard.toml");
  docs_.open("hard.toml", {"file:///x/hard.toml", "toml", 1, "original\n", hard});
  auto e = svc().edit({"hard.toml", {{"original", "evil", false}}, std::nullopt, false});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("hard links"), std::string::npos) << e.error().message;
  EXPECT_EQ(hard->edits, 0);
  // An ordinary open document is still edited through its editor.
  auto plain = std::make_shared<RecordingEditor>(docs_, "ok.txt");
  docs_.open("ok.txt", {"file:///x/ok.txt", "plaintext", 1, "original\n", plain});
  auto ok = svc().edit({"ok.txt", {{"original", "edited", false}}, std::nullopt, false});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->via, "editor");
  EXPECT_EQ(plain->edits, 1);
  expect_untouched();
}

// --- Read denies, where a name really leads --------------------------------

class FilesReadDeny : public FilesRace {
 protected:
  void SetUp() override {
    FilesRace::SetUp();
    put(".env", "TOKEN=hunter2\n");
    put("private/notes.txt", "secret notes\n");
    put("src/a.c", "int a;\n");
    ASSERT_EQ(::symlink(".env", path("env-link").c_str()), 0);
    ASSERT_EQ(::symlink("private", path("alias").c_str()), 0);
    access_.read_denied = [](std::string_view rel) {
      return rel == ".env" || rel == "private" || rel.starts_with("private/");
    };
  }
  files::Access access_;
};

TEST_F(FilesReadDeny, ALinkDoesNotReachADeniedFile) {
  const files::ReadParams via_link{"env-link", std::nullopt, std::nullopt, std::nullopt};
  auto r = svc().read(via_link, access_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kPermissionDenied);
  EXPECT_NE(r.error().message.find("env-link leads to .env"), std::string::npos) << r.error().message;
  EXPECT_EQ(svc().read({"alias/notes.txt", std::nullopt, std::nullopt, std::nullopt}, access_).error().code,
            error_code::kPermissionDenied);
  EXPECT_EQ(svc().read_resource("env-link", access_).error().code, error_code::kPermissionDenied);
  EXPECT_EQ(svc().stat("alias/notes.txt", access_).error().code, error_code::kPermissionDenied);
  EXPECT_EQ(svc().list("alias", 1, nullptr, true, access_).error().code, error_code::kPermissionDenied);
  // Content shown by an edit (its diff, its errors) or tested by expectedSha256 is a read too.
  EXPECT_EQ(svc().edit({"env-link", {{"TOKEN", "X", false}}, std::nullopt, true}, access_).error().code,
            error_code::kPermissionDenied);
  EXPECT_EQ(
      svc().apply_patch("--- a/env-link\n+++ b/env-link\n@@ -1 +1 @@\n-TOKEN=hunter2\n+X\n", access_).error().code,
      error_code::kPermissionDenied);
  EXPECT_EQ(svc().write({"env-link", "x", files::sha256_hex("TOKEN=hunter2\n")}, access_).error().code,
            error_code::kPermissionDenied);
  EXPECT_EQ(get(".env"), "TOKEN=hunter2\n");
  // Without a filter (no Read deny at all) nothing changes.
  EXPECT_EQ(svc().read(via_link).value().content, "TOKEN=hunter2\n");
  EXPECT_TRUE(svc().read({"src/a.c", std::nullopt, std::nullopt, std::nullopt}, access_).ok());
}

TEST_F(FilesReadDeny, AnOpenBufferOfADeniedFileDoesNotLeak) {
  docs_.open("env-link", {"file:///x/env-link", "dotenv", 3, "TOKEN=unsaved\n", {}});
  docs_.open(".env", {"file:///x/.env", "dotenv", 3, "TOKEN=unsaved\n", {}});
  for (const char* p : {"env-link", ".env"}) {
    auto r = svc().read({p, std::nullopt, std::nullopt, std::nullopt}, access_);
    ASSERT_FALSE(r.ok()) << p << ": " << r->content;
    EXPECT_EQ(r.error().code, error_code::kPermissionDenied);
    EXPECT_FALSE(svc().read_resource(p, access_).ok()) << p;
    EXPECT_FALSE(svc().edit({p, {{"TOKEN", "X", false}}, std::nullopt, true}, access_).ok()) << p;
  }
}

TEST_F(FilesReadDeny, ListingsLeaveDeniedEntriesOutAndSaySo) {
  for (bool cached : {true, false, true}) {
    auto l = svc().list(".", 2, nullptr, cached, access_);
    ASSERT_TRUE(l.ok()) << l.error().message;
    std::vector<std::string> shown;
    for (const auto& e : (*l)->entries) shown.push_back(e.path);
    EXPECT_EQ(shown, (std::vector<std::string>{"alias", "env-link", "src", "src/a.c"}));
    EXPECT_EQ((*l)->denied, 3u);  // .env, private, private/notes.txt
    EXPECT_EQ((*l)->note, "3 entries are left out: a Read deny rule covers them");
    files::ListParams lp;
    lp.path = ".";
    lp.depth = 2;
    lp.use_cache = cached;
    auto page = svc().list_page(lp, nullptr, access_);
    ASSERT_TRUE(page.ok()) << page.error().message;
    EXPECT_EQ(page->entries.size(), 4u);
    EXPECT_EQ(page->denied, 3u);
    EXPECT_EQ(page->entries_json.find(".env"), std::string::npos);
    EXPECT_EQ(page->entries_json.find("notes"), std::string::npos);
    EXPECT_EQ(page->text.find("notes"), std::string::npos);
    EXPECT_NE(page->text.find("3 entries left out: a Read deny rule covers them"), std::string::npos) << page->text;
  }
  // The cache shared with other clients still has every entry.
  auto all = svc().list(".", 2);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)->entries.size(), 7u);
  EXPECT_TRUE((*all)->note.empty());
  bool more = false;
  auto files = svc().list_files("", 100, more, nullptr, access_);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(*files, std::vector<std::string>{"src/a.c"});
}

}  // namespace
}  // namespace icotes
