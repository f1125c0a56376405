// Path confinement: nothing a client names may reach outside the root,
// lexically or through symlinks, and no race between a check and a use may
// either.
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

#include "icotes/confine.hpp"
#include "icotes/documents.hpp"
#include "icotes/files.hpp"
#include "icotes/workspace.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::exists_nofollow;
using test::read_file;
using test::TempDir;
using test::tree;
using test::write_file;

constexpr const char* kSecret = "TOP SECRET\n";

std::string read_fd_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

void make_symlink(const std::string& target, const std::string& at) {
  ASSERT_EQ(::symlink(target.c_str(), at.c_str()), 0) << at << " -> " << target;
}

// base/
//   app/            the root
//     inside.txt
//     sub/file.txt
//     a/b/c/
//   app-evil/x.txt  a sibling whose name starts with the root's
//   outside/secret.txt
class Confine : public ::testing::Test {
 protected:
  void SetUp() override {
    root_path_ = base_ / "app";
    write_file(root_path_ + "/inside.txt", "inside\n");
    write_file(root_path_ + "/sub/file.txt", "sub file\n");
    std::filesystem::create_directories(root_path_ + "/a/b/c");
    write_file(base_ / "app-evil/x.txt", "evil\n");
    write_file(base_ / "outside/secret.txt", kSecret);
    auto r = ConfinedRoot::open(root_path_);
    ASSERT_TRUE(r.ok()) << r.error().message;
    root_.emplace(std::move(*r));
    outside_before_ = tree(base_ / "outside");
  }

  const ConfinedRoot& root() const { return *root_; }
  std::string outside() const { return base_ / "outside"; }

  void expect_outside_untouched() {
    EXPECT_EQ(tree(outside()), outside_before_);
    EXPECT_EQ(read_file(outside() + "/secret.txt"), kSecret);
    EXPECT_EQ(tree(base_ / "app-evil"), std::vector<std::string>{"x.txt"});
    EXPECT_EQ(read_file(base_ / "app-evil/x.txt"), "evil\n");
    std::vector<std::string> top;
    for (const auto& e : std::filesystem::directory_iterator(base_.path())) top.push_back(e.path().filename().string());
    std::sort(top.begin(), top.end());
    EXPECT_EQ(top, (std::vector<std::string>{"app", "app-evil", "outside"}));
  }

  void expect_refused(const Result<std::string>& r, std::string_view path) {
    ASSERT_FALSE(r.ok()) << "'" << path << "' was accepted as '" << r.value() << "'";
    EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace) << path;
  }

  TempDir base_;
  std::string root_path_;
  std::optional<ConfinedRoot> root_;
  std::vector<std::string> outside_before_;
};

// --- ConfinedRoot::relative -------------------------------------------------

TEST_F(Confine, RootPathIsCanonical) {
  EXPECT_EQ(root().path(), root_path_);
  EXPECT_EQ(root().absolute(""), root_path_);
  EXPECT_EQ(root().absolute("x/y"), root_path_ + "/x/y");
  auto again = ConfinedRoot::open(root_path_ + "/./sub/..");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->path(), root_path_);
}

TEST_F(Confine, OpenMissingRootFails) {
  auto r = ConfinedRoot::open(base_ / "no-such-dir");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kNotFound);
}

TEST_F(Confine, RelativeNormalises) {
  EXPECT_EQ(root().relative("a/b").value(), "a/b");
  EXPECT_EQ(root().relative("./a//b/").value(), "a/b");
  EXPECT_EQ(root().relative("a/../b").value(), "b");
  EXPECT_EQ(root().relative("a/b/../../c").value(), "c");
  EXPECT_EQ(root().relative(".").value(), "");
  EXPECT_EQ(root().relative("./").value(), "");
  EXPECT_EQ(root().relative(root_path_).value(), "");
  EXPECT_EQ(root().relative(root_path_ + "/").value(), "");
  EXPECT_EQ(root().relative(root_path_ + "/sub/file.txt").value(), "sub/file.txt");
  EXPECT_EQ(root().relative(root_path_ + "/sub/../inside.txt").value(), "inside.txt");
  EXPECT_EQ(root().relative("...").value(), "...");  // an ordinary name
  EXPECT_EQ(root().relative("..foo/x").value(), "..foo/x");
}

TEST_F(Confine, RelativeRefusesDotDotEscapes) {
  for (const std::string& p :
       std::vector<std::string>{"..", "../", "../outside/secret.txt", "a/../../x", "a/b/../../..",
                                "./../app/inside.txt", "sub/../../app/inside.txt", "a/b/c/../../../../outside"}) {
    expect_refused(root().relative(p), p);
  }
}

TEST_F(Confine, RelativeRefusesAbsolutePathsOutside) {
  for (const std::string& p : std::vector<std::string>{
           std::string("/"), std::string("/etc/passwd"), std::string("/tmp"), base_.path(),
           base_ / "outside/secret.txt", root_path_ + "/../outside/secret.txt", root_path_ + "/sub/../../outside",
           "/proc/self/root" + root_path_ + "/inside.txt", "//" + root_path_.substr(1) + "/inside.txt"}) {
    expect_refused(root().relative(p), p);
  }
}

TEST_F(Confine, RelativeRefusesSiblingWithSamePrefix) {
  for (const std::string& p :
       std::vector<std::string>{base_ / "app-evil", base_ / "app-evil/x.txt", base_ / "app-evil/", base_ / "ap",
                                base_ / "app.bak/x", base_ / "appx"}) {
    expect_refused(root().relative(p), p);
  }
}

TEST_F(Confine, RelativeRefusesEmptyAndNul) {
  expect_refused(root().relative(""), "(empty)");
  expect_refused(root().relative(std::string("inside.txt\0../../etc/passwd", 27)), "NUL");
  expect_refused(root().relative(std::string("\0", 1)), "NUL only");
  expect_refused(root().relative(root_path_ + std::string("/a\0b", 4)), "abs NUL");
}

TEST_F(Confine, RelativeErrorsNamePathAndRoot) {
  auto r = root().relative("../x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().data["path"], "../x");
  EXPECT_EQ(r.error().data["root"], root_path_);
  EXPECT_NE(r.error().message.find("../x"), std::string::npos);
}

TEST(ConfineRootSlash, RootIsFilesystemRoot) {
  auto r = ConfinedRoot::open("/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path(), "/");
  EXPECT_EQ(r->relative("/etc/passwd").value(), "etc/passwd");
  EXPECT_EQ(r->relative("/").value(), "");
  EXPECT_FALSE(r->relative("/..").ok());
  EXPECT_EQ(r->absolute("etc"), "/etc");
}

// --- open_beneath -----------------------------------------------------------

TEST_F(Confine, OpenBeneathReadsInsideFiles) {
  auto fd = root().open_beneath("sub/file.txt", O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  EXPECT_EQ(read_fd_all(fd->get()), "sub file\n");
  auto dir = root().open_beneath("", O_RDONLY | O_DIRECTORY);
  EXPECT_TRUE(dir.ok());
  auto missing = root().open_beneath("nope.txt", O_RDONLY);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, error_code::kNotFound);
  auto notdir = root().open_beneath("inside.txt/x", O_RDONLY);
  ASSERT_FALSE(notdir.ok());
  EXPECT_EQ(notdir.error().code, error_code::kNotFound);
}

TEST_F(Confine, OpenBeneathRefusesFileSymlinksLeadingOut) {
  make_symlink(outside() + "/secret.txt", root_path_ + "/abs_link");
  make_symlink("../outside/secret.txt", root_path_ + "/rel_link");
  make_symlink("../../../../outside/secret.txt", root_path_ + "/a/b/c/deep_link");
  make_symlink(base_ / "app-evil/x.txt", root_path_ + "/evil_link");
  for (const std::string& p : std::vector<std::string>{"abs_link", "rel_link", "a/b/c/deep_link", "evil_link"}) {
    auto fd = root().open_beneath(p, O_RDONLY);
    ASSERT_FALSE(fd.ok()) << p << " opened: " << read_fd_all(fd->get());
    EXPECT_EQ(fd.error().code, error_code::kOutsideWorkspace) << p << ": " << fd.error().message;
  }
  expect_outside_untouched();
}

TEST_F(Confine, OpenBeneathRefusesDirectorySymlinksLeadingOut) {
  make_symlink(outside(), root_path_ + "/abs_dir");
  make_symlink("../outside", root_path_ + "/rel_dir");
  make_symlink("../../../../outside", root_path_ + "/a/b/c/deep_dir");
  make_symlink("../..", root_path_ + "/sub/up2");         // base_
  make_symlink("c/deep_dir", root_path_ + "/a/b/chain");  // a symlink to a symlink that leads out
  for (const std::string& p :
       std::vector<std::string>{"abs_dir/secret.txt", "rel_dir/secret.txt", "a/b/c/deep_dir/secret.txt",
                                "sub/up2/outside/secret.txt", "a/b/chain/secret.txt"}) {
    auto fd = root().open_beneath(p, O_RDONLY);
    ASSERT_FALSE(fd.ok()) << p;
    EXPECT_EQ(fd.error().code, error_code::kOutsideWorkspace) << p << ": " << fd.error().message;
    auto parent = root().open_parent(p);
    EXPECT_FALSE(parent.ok()) << p;
  }
  auto dirfd = root().open_beneath("abs_dir", O_PATH | O_DIRECTORY);
  EXPECT_FALSE(dirfd.ok());
}

TEST_F(Confine, OpenBeneathRefusesCreatingThroughSymlinks) {
  make_symlink(outside() + "/created.txt", root_path_ + "/dangling_abs");
  make_symlink("../outside/created2.txt", root_path_ + "/dangling_rel");
  make_symlink(outside(), root_path_ + "/dir_out");
  for (const std::string& p : std::vector<std::string>{"dangling_abs", "dangling_rel", "dir_out/created3.txt"}) {
    auto fd = root().open_beneath(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_FALSE(fd.ok()) << p;
  }
  auto trunc = root().open_beneath("dir_out/secret.txt", O_WRONLY | O_TRUNC);
  EXPECT_FALSE(trunc.ok());
  expect_outside_untouched();
}

TEST_F(Confine, OpenBeneathRefusesProcSelfRootTricks) {
  make_symlink("/proc/self/root" + outside() + "/secret.txt", root_path_ + "/proc_abs");
  make_symlink("/proc/self/root", root_path_ + "/proc_root");
  make_symlink("/proc/self/cwd", root_path_ + "/proc_cwd");
  std::string up;
  for (std::size_t i = 0; i < 20; ++i) up += "../";
  make_symlink(up + "proc/self/root" + outside(), root_path_ + "/proc_rel");
  make_symlink(up + "proc/self/fd/" + std::to_string(root().fd()), root_path_ + "/proc_fd");
  for (const std::string& p : std::vector<std::string>{"proc_abs", "proc_root" + outside() + "/secret.txt", "proc_cwd",
                                                       "proc_rel/secret.txt", "proc_fd/../outside/secret.txt"}) {
    auto fd = root().open_beneath(p, O_RDONLY);
    ASSERT_FALSE(fd.ok()) << p << " opened: " << read_fd_all(fd->get());
    EXPECT_TRUE(fd.error().code == error_code::kOutsideWorkspace || fd.error().code == error_code::kIoError ||
                fd.error().code == error_code::kNotFound)
        << p << ": " << fd.error().message;
  }
  expect_outside_untouched();
}

TEST_F(Confine, OpenBeneathAllowsSymlinksThatStayInside) {
  make_symlink("sub/file.txt", root_path_ + "/to_sub");
  make_symlink("../inside.txt", root_path_ + "/sub/up_one");
  make_symlink("../../../sub", root_path_ + "/a/b/c/to_sub_dir");
  make_symlink("to_sub", root_path_ + "/chain");
  make_symlink("../sub/../a/../inside.txt", root_path_ + "/sub/wiggle");
  struct Case {
    std::string path, content;
  };
  for (const Case& c :
       {Case{"to_sub", "sub file\n"}, Case{"sub/up_one", "inside\n"}, Case{"a/b/c/to_sub_dir/file.txt", "sub file\n"},
        Case{"chain", "sub file\n"}, Case{"sub/wiggle", "inside\n"}}) {
    auto fd = root().open_beneath(c.path, O_RDONLY);
    ASSERT_TRUE(fd.ok()) << c.path << ": " << fd.error().message;
    EXPECT_EQ(read_fd_all(fd->get()), c.content) << c.path;
  }
}

TEST_F(Confine, SymlinkLoopIsAnErrorNotAHang) {
  make_symlink("loop_b", root_path_ + "/loop_a");
  make_symlink("loop_a", root_path_ + "/loop_b");
  auto fd = root().open_beneath("loop_a", O_RDONLY);
  EXPECT_FALSE(fd.ok());
}

TEST_F(Confine, ErrnoErrorMapping) {
  EXPECT_EQ(errno_error(ENOENT, "open", "x").code, error_code::kNotFound);
  EXPECT_EQ(errno_error(ENOTDIR, "open", "x").code, error_code::kNotFound);
  EXPECT_EQ(errno_error(EXDEV, "open", "x").code, error_code::kOutsideWorkspace);
  EXPECT_EQ(errno_error(EACCES, "open", "x").code, error_code::kPermissionDenied);
  EXPECT_EQ(errno_error(EPERM, "open", "x").code, error_code::kPermissionDenied);
  EXPECT_EQ(errno_error(EIO, "open", "x").code, error_code::kIoError);
  EXPECT_EQ(errno_error(ENOENT, "open", "some/path").data["path"], "some/path");
}

TEST_F(Confine, WorkspaceUrisAreConfined) {
  auto ws = Workspace::open(root_path_, 1);
  ASSERT_TRUE(ws.ok());
  Workspace& w = **ws;
  EXPECT_EQ(w.rel_of_uri(w.uri_of("sub/file.txt")).value(), "sub/file.txt");
  EXPECT_EQ(w.rel_of_uri("file://" + root_path_ + "/a%20b.txt").value(), "a b.txt");
  for (const std::string& u :
       std::vector<std::string>{"file:///etc/passwd", "file://" + root_path_ + "/%2e%2e/outside/secret.txt",
                                "file://" + base_.path() + "/app-evil/x.txt", "file://" + root_path_ + "/a%00b"}) {
    auto r = w.rel_of_uri(u);
    ASSERT_FALSE(r.ok()) << u;
    EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace) << u;
  }
  EXPECT_EQ(w.rel_of_uri("https://example.com/x").error().code, error_code::kInvalidParams);
  EXPECT_EQ(w.rel_of_uri("file://" + root_path_ + "/%zz").error().code, error_code::kInvalidParams);
}

// --- files::Service never reaches outside ------------------------------------

class ConfineService : public Confine {
 protected:
  void SetUp() override {
    Confine::SetUp();
    make_symlink(outside() + "/secret.txt", root_path_ + "/file_out_abs");
    make_symlink("../outside/secret.txt", root_path_ + "/file_out_rel");
    make_symlink(outside(), root_path_ + "/dir_out");
    make_symlink("../../../../outside", root_path_ + "/a/b/c/deep_out");
    make_symlink(outside() + "/new.txt", root_path_ + "/dangling_out");
    files_.emplace(root(), docs_);
  }
  files::Service& svc() { return *files_; }

  // Paths whose resolution leaves the root before the last component, or
  // whose lexical form is outside.
  std::vector<std::string> escapes() const {
    return {"../outside/secret.txt",
            outside() + "/secret.txt",
            base_ / "app-evil/x.txt",
            "dir_out/secret.txt",
            "a/b/c/deep_out/secret.txt",
            "dir_out/new.txt",
            "a/b/c/deep_out/newdir/new.txt",
            root_path_ + "/../outside/secret.txt",
            std::string("inside.txt\0/../../outside/secret.txt", 36)};
  }
  // Final-component symlinks that lead outside: following them is refused.
  std::vector<std::string> link_escapes() const { return {"file_out_abs", "file_out_rel", "dangling_out"}; }

  Documents docs_;
  std::optional<files::Service> files_;
};

TEST_F(ConfineService, ReadRefusesEveryEscape) {
  auto all = escapes();
  for (const auto& p : link_escapes()) all.push_back(p);
  for (const auto& p : all) {
    auto r = svc().read({p, std::nullopt, std::nullopt, std::nullopt});
    ASSERT_FALSE(r.ok()) << p << " read: " << r->content;
    EXPECT_TRUE(r.error().code == error_code::kOutsideWorkspace || r.error().code == error_code::kNotFound) << p;
    if (p != "dangling_out") {
      EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace) << p << ": " << r.error().message;
    }
    auto res = svc().read_resource(p);
    EXPECT_FALSE(res.ok()) << p;
  }
}

TEST_F(ConfineService, WriteRefusesEveryEscape) {
  auto all = escapes();
  for (const auto& p : link_escapes()) all.push_back(p);
  for (const auto& p : all) {
    auto r = svc().write({p, "pwned\n", std::nullopt});
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.error().code, error_code::kOutsideWorkspace) << p << ": " << r.error().message;
  }
  expect_outside_untouched();
  // The links themselves are still links.
  for (const auto& p : link_escapes()) {
    struct stat st {};
    ASSERT_EQ(::lstat((root_path_ + "/" + p).c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << p;
  }
}

TEST_F(ConfineService, EditRefusesEveryEscape) {
  auto all = escapes();
  for (const auto& p : link_escapes()) all.push_back(p);
  for (const auto& p : all) {
    files::EditParams ep;
    ep.path = p;
    ep.edits.push_back({"TOP", "BOTTOM", false});
    auto r = svc().edit(ep);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_TRUE(r.error().code == error_code::kOutsideWorkspace || r.error().code == error_code::kNotFound) << p;
    files::EditParams create;
    create.path = p;
    create.edits.push_back({"", "new", false});
    EXPECT_FALSE(svc().edit(create).ok()) << p;
  }
  expect_outside_untouched();
}

TEST_F(ConfineService, StatListMkdirRefuseEscapes) {
  for (const auto& p : escapes()) {
    auto st = svc().stat(p);
    ASSERT_FALSE(st.ok()) << p << " stat type " << st->type;
    EXPECT_EQ(st.error().code, error_code::kOutsideWorkspace) << p;
    auto mk = svc().mkdir(p);
    ASSERT_FALSE(mk.ok()) << p;
    EXPECT_EQ(mk.error().code, error_code::kOutsideWorkspace) << p;
  }
  for (const std::string& p : std::vector<std::string>{"..", "dir_out", "a/b/c/deep_out", outside(), "../outside"}) {
    auto l = svc().list(p, 3);
    ASSERT_FALSE(l.ok()) << p << " listed " << (*l)->entries.size();
    EXPECT_EQ(l.error().code, error_code::kOutsideWorkspace) << p;
  }
  EXPECT_FALSE(svc().mkdir("dir_out/x/y/z").ok());
  // stat of the link itself is fine and reports a symlink.
  auto link = svc().stat("file_out_abs");
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->type, "symlink");
  expect_outside_untouched();
}

TEST_F(ConfineService, ListingTheRootDoesNotFollowLinksOut) {
  auto l = svc().list(".", 10);
  ASSERT_TRUE(l.ok());
  for (const auto& e : (*l)->entries) {
    EXPECT_EQ(e.path.find("secret"), std::string::npos) << e.path;
  }
  bool more = false;
  auto files = svc().list_files("", 1000, more);
  ASSERT_TRUE(files.ok());
  for (const auto& f : *files) EXPECT_EQ(f.find("secret"), std::string::npos) << f;
}

TEST_F(ConfineService, MoveAndDeleteRefuseEscapes) {
  for (const auto& p : escapes()) {
    EXPECT_FALSE(svc().move("inside.txt", p, true).ok()) << p;
    EXPECT_FALSE(svc().move(p, "stolen.txt", true).ok()) << p;
    auto del = svc().remove(p, true);
    ASSERT_FALSE(del.ok()) << p;
    EXPECT_EQ(del.error().code, error_code::kOutsideWorkspace) << p;
  }
  EXPECT_TRUE(exists_nofollow(root_path_ + "/inside.txt"));
  EXPECT_FALSE(exists_nofollow(root_path_ + "/stolen.txt"));
  // Deleting a link to a directory outside removes the link, not the directory.
  ASSERT_TRUE(svc().remove("dir_out", true).ok());
  EXPECT_FALSE(exists_nofollow(root_path_ + "/dir_out"));
  ASSERT_TRUE(svc().remove("a", true).ok());  // contains deep_out
  EXPECT_FALSE(exists_nofollow(root_path_ + "/a"));
  expect_outside_untouched();
}

TEST_F(ConfineService, ApplyPatchRefusesEscapes) {
  const std::vector<std::string> patches = {
      "--- a/../outside/secret.txt\n+++ b/../outside/secret.txt\n@@ -1 +1 @@\n-TOP SECRET\n+pwned\n",
      "--- a/dir_out/secret.txt\n+++ b/dir_out/secret.txt\n@@ -1 +1 @@\n-TOP SECRET\n+pwned\n",
      "--- a/file_out_abs\n+++ b/file_out_abs\n@@ -1 +1 @@\n-TOP SECRET\n+pwned\n",
      "--- /dev/null\n+++ b/dir_out/new.txt\n@@ -0,0 +1 @@\n+pwned\n",
      "--- /dev/null\n+++ b/dangling_out\n@@ -0,0 +1 @@\n+pwned\n",
      "--- a/dir_out/secret.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-TOP SECRET\n",
      "--- " + outside() + "/secret.txt\n+++ " + outside() + "/secret.txt\n@@ -1 +1 @@\n-TOP SECRET\n+pwned\n",
      // A good file first: it must not be written either.
      "--- a/inside.txt\n+++ b/inside.txt\n@@ -1 +1 @@\n-inside\n+changed\n"
      "--- a/dir_out/secret.txt\n+++ b/dir_out/secret.txt\n@@ -1 +1 @@\n-TOP SECRET\n+pwned\n",
  };
  for (const auto& patch : patches) {
    auto r = svc().apply_patch(patch);
    EXPECT_FALSE(r.ok()) << patch;
  }
  EXPECT_EQ(read_file(root_path_ + "/inside.txt"), "inside\n");
  expect_outside_untouched();
}

// A thread swaps a directory and a symlink to outside (RENAME_EXCHANGE, so the
// name is always one or the other) while this thread writes, edits, reads and
// creates through that name. Nothing may ever appear or change outside.
TEST_F(ConfineService, RaceSwappingDirectoryForSymlink) {
  const std::string dir = root_path_ + "/race";
  const std::string link = root_path_ + "/race_swap";
  std::filesystem::create_directories(dir);
  write_file(dir + "/f.txt", "TOP SECRET\n");
  make_symlink(outside(), link);
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    while (!stop.load()) {
      if (::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  int ok_writes = 0;
  int refused = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  // Until both states of the name were met (or the deadline): on a loaded
  // machine the two threads may share a core, and a whole time slice of
  // fast refusals can pass with the name frozen as the symlink.
  for (int i = 0; std::chrono::steady_clock::now() < deadline && (i < 3000 || ok_writes == 0 || refused == 0); ++i) {
    const std::string content = "pwned " + std::to_string(i) + "\n";
    auto w = svc().write({"race/secret.txt", content, std::nullopt});
    w.ok() ? ++ok_writes : ++refused;
    (void)svc().write({"race/f.txt", content, std::nullopt});
    files::EditParams ep;
    ep.path = "race/f.txt";
    ep.edits.push_back({"pwned", "owned", false});
    (void)svc().edit(ep);
    auto r = svc().read({"race/secret.txt", std::nullopt, std::nullopt, std::nullopt});
    if (r.ok()) {
      EXPECT_NE(r->content, kSecret);
    }
    (void)svc().mkdir("race/newdir/deeper");
    (void)svc().apply_patch("--- /dev/null\n+++ b/race/p" + std::to_string(i) + ".txt\n@@ -0,0 +1 @@\n+pwned\n");
    (void)svc().move("race/f.txt", "race/g.txt", true);
    (void)svc().move("race/g.txt", "race/f.txt", true);
    (void)svc().remove("race/newdir", true);
    (void)svc().list("race", 2);
  }
  stop = true;
  swapper.join();
  EXPECT_GT(swaps.load(), 10);
  EXPECT_GT(ok_writes, 0);  // both states of the name were seen
  EXPECT_GT(refused, 0);
  expect_outside_untouched();
}

}  // namespace
}  // namespace icotes

namespace icotes {
namespace {

// The root an LSP client names when serve has no --root (LSP 3.17
// "Initialize Request"): the first workspace folder, else rootUri, else
// rootPath; only an existing local directory counts.
TEST(ClientRoot, FromInitialize) {
  test::TempDir a, b;
  std::filesystem::create_directories(b / "with space");
  auto init = [](json params) {
    return json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}, {"params", params}};
  };
  const std::string uri_a = "file://" + percent_encode_path(a.path());
  const std::string uri_b = "file://" + percent_encode_path(b / "with space");
  EXPECT_EQ(client_root_of_initialize(
                init({{"workspaceFolders", {{{"uri", uri_b}, {"name", "b"}}, {{"uri", uri_a}, {"name", "a"}}}},
                      {"rootUri", uri_a}})),
            b / "with space")
      << "the first folder, %-escapes decoded";
  EXPECT_EQ(client_root_of_initialize(init({{"workspaceFolders", nullptr}, {"rootUri", uri_a}})), a.path());
  EXPECT_EQ(client_root_of_initialize(init({{"rootUri", nullptr}, {"rootPath", b.path()}})), b.path());
  EXPECT_EQ(client_root_of_initialize(init({{"rootUri", "file://localhost" + percent_encode_path(a.path())}})),
            a.path());
  // Not a directory here, another host or scheme, a relative path: the next candidate, or none.
  EXPECT_EQ(client_root_of_initialize(init({{"rootUri", uri_a + "/missing"}, {"rootPath", b.path()}})), b.path());
  EXPECT_EQ(client_root_of_initialize(init({{"rootUri", "file://server/share"}})), std::nullopt);
  EXPECT_EQ(client_root_of_initialize(init({{"rootUri", "https://example.com/x"}})), std::nullopt);
  EXPECT_EQ(client_root_of_initialize(init({{"rootPath", "relative/dir"}})), std::nullopt);
  EXPECT_EQ(client_root_of_initialize(init({{"rootUri", "file:///%zz"}})), std::nullopt);
  // Not an initialize request (MCP's carries no root), or no params.
  EXPECT_EQ(client_root_of_initialize(
                json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}, {"params", {{"rootUri", uri_a}}}}),
            std::nullopt);
  EXPECT_EQ(client_root_of_initialize(json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}}), std::nullopt);
  EXPECT_EQ(client_root_of_initialize(json::array()), std::nullopt);
  EXPECT_EQ(path_of_file_uri("file:///a%20b/c?q#f").value(), "/a b/c");
}

}  // namespace
}  // namespace icotes
