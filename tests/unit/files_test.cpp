#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "icotes/files.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::exists_nofollow;
using test::read_file;
using test::TempDir;
using test::write_file;

class Files : public ::testing::Test {
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

  Result<files::ReadResult> read(const std::string& p, std::optional<std::int64_t> offset = std::nullopt,
                                 std::optional<std::int64_t> limit = std::nullopt,
                                 std::optional<std::size_t> max_bytes = std::nullopt) {
    return svc().read({p, offset, limit, max_bytes});
  }
  Result<files::EditResult> edit(const std::string& p, std::vector<files::Edit> edits, bool dry_run = false,
                                 std::optional<std::string> sha = std::nullopt) {
    files::EditParams ep;
    ep.path = p;
    ep.edits = std::move(edits);
    ep.dry_run = dry_run;
    ep.expected_sha256 = std::move(sha);
    return svc().edit(ep);
  }
  // Names in the root's directory `rel` (no temp files may linger).
  std::vector<std::string> names(const std::string& rel = "") const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(rel.empty() ? dir_.path() : path(rel)))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  Documents docs_;
  std::optional<ConfinedRoot> root_;
  std::optional<files::Service> files_;
};

std::string numbered_lines(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += "line" + std::to_string(i) + "\n";
  return s;
}

// --- sha256 -----------------------------------------------------------------

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(files::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(files::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(files::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(files::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(files::sha256_hex(std::string("\0", 1)),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(MimeType, ByExtension) {
  EXPECT_EQ(files::mime_type_for("src/a.CPP", false), "text/x-c++");
  EXPECT_EQ(files::mime_type_for("x.json", false), "application/json");
  EXPECT_EQ(files::mime_type_for("dir.d/noext", false), "text/plain");
  EXPECT_EQ(files::mime_type_for("dir.d/noext", true), "application/octet-stream");
  EXPECT_EQ(files::mime_type_for("i.png", true), "image/png");
}

// --- read -------------------------------------------------------------------

TEST_F(Files, ReadWholeFile) {
  put("a.txt", numbered_lines(10));
  auto r = read("a.txt");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "a.txt");
  EXPECT_EQ(r->content, numbered_lines(10));
  EXPECT_EQ(r->start_line, 1);
  EXPECT_EQ(r->end_line, 10);
  EXPECT_EQ(r->total_lines, 10);
  EXPECT_FALSE(r->truncated);
  EXPECT_TRUE(r->note.empty());
  EXPECT_EQ(r->source, "disk");
  EXPECT_EQ(r->encoding, "utf-8");
  EXPECT_EQ(r->size, numbered_lines(10).size());
  EXPECT_EQ(r->sha256, files::sha256_hex(numbered_lines(10)));
  EXPECT_EQ(r->mime_type, "text/plain");
}

TEST_F(Files, ReadOffsetAndLimit) {
  put("a.txt", numbered_lines(10));
  auto r = read("a.txt", 3, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "line3\nline4\n");
  EXPECT_EQ(r->start_line, 3);
  EXPECT_EQ(r->end_line, 4);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->note, "Showing lines 3-4 of 10; continue with read_file {\"path\":\"a.txt\",\"offset\":5,\"limit\":2}");
  // The whole-file sha256 regardless of the page.
  EXPECT_EQ(r->sha256, files::sha256_hex(numbered_lines(10)));

  r = read("a.txt", 9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "line9\nline10\n");
  EXPECT_FALSE(r->truncated);
  EXPECT_TRUE(r->note.empty());

  r = read("a.txt", 0, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "line1\n");
  EXPECT_EQ(r->start_line, 1);
}

TEST_F(Files, ReadNegativeOffsetCountsFromTheEnd) {
  put("a.txt", numbered_lines(10));
  auto r = read("a.txt", -3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "line8\nline9\nline10\n");
  EXPECT_EQ(r->start_line, 8);
  EXPECT_EQ(r->end_line, 10);
  EXPECT_FALSE(r->truncated);
  r = read("a.txt", -1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "line10\n");
  r = read("a.txt", -100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->start_line, 1);
  EXPECT_EQ(r->content, numbered_lines(10));
}

TEST_F(Files, ReadPastTheEndIsAnError) {
  put("a.txt", numbered_lines(3));
  auto r = read("a.txt", 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_NE(r.error().message.find("past the end"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().data["totalLines"], 3);
}

TEST_F(Files, ReadMaxBytesStopsAtWholeLines) {
  put("a.txt", numbered_lines(10));  // "line1\n" is 6 bytes
  auto r = read("a.txt", std::nullopt, std::nullopt, 14);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "line1\nline2\n");
  EXPECT_EQ(r->end_line, 2);
  EXPECT_TRUE(r->truncated);
  EXPECT_NE(r->note.find("read_file {\"path\":\"a.txt\",\"offset\":3,\"maxBytes\":14}"), std::string::npos) << r->note;
  // Paging on with the suggested offset gets the rest, exactly once.
  std::string all = r->content;
  std::int64_t next = r->end_line + 1;
  while (r->truncated) {
    r = read("a.txt", next, std::nullopt, 14);
    ASSERT_TRUE(r.ok());
    all += r->content;
    next = r->end_line + 1;
  }
  EXPECT_EQ(all, numbered_lines(10));
}

TEST_F(Files, ReadCutsAnOverlongLineAtACharacterBoundary) {
  put("long.txt", "abcdefghij\nshort\n");
  auto r = read("long.txt", std::nullopt, std::nullopt, 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "abcd");
  EXPECT_TRUE(r->truncated);
  EXPECT_NE(r->note.find("maxBytes"), std::string::npos) << r->note;

  put("utf.txt", "\xC3\xA9\xC3\xA9\xC3\xA9\n");  // "ééé"
  r = read("utf.txt", std::nullopt, std::nullopt, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "\xC3\xA9");
  EXPECT_TRUE(is_valid_utf8(r->content));
}

TEST_F(Files, ReadWithoutFinalNewlineAndEmpty) {
  put("nofinal.txt", "a\nb");
  auto r = read("nofinal.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total_lines, 2);
  EXPECT_EQ(r->content, "a\nb");
  put("empty.txt", "");
  r = read("empty.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total_lines, 0);
  EXPECT_EQ(r->content, "");
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(r->sha256, files::sha256_hex(""));
}

TEST_F(Files, ReadErrors) {
  std::filesystem::create_directories(path("d"));
  auto r = read("d");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  r = read("missing.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kNotFound);
}

TEST_F(Files, ReadEncodings) {
  put("bom.txt", "\xEF\xBB\xBFhi\n");
  auto r = read("bom.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->encoding, "utf-8-bom");
  EXPECT_EQ(r->content, "hi\n");
  EXPECT_EQ(r->size, 6u);
  EXPECT_EQ(r->sha256, files::sha256_hex("\xEF\xBB\xBFhi\n"));

  // "hé𝄞\n" in UTF-16 (𝄞 = U+1D11E = D834 DD1E).
  put("le.txt", std::string("\xFF\xFEh\0\xE9\0\x34\xD8\x1E\xDD\n\0", 12));
  r = read("le.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->encoding, "utf-16le");
  EXPECT_FALSE(r->binary);
  EXPECT_EQ(r->content, "h\xC3\xA9\xF0\x9D\x84\x9E\n");
  EXPECT_EQ(r->total_lines, 1);

  put("be.txt", std::string("\xFE\xFF\0h\0\xE9\xD8\x34\xDD\x1E\0\n", 12));
  r = read("be.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->encoding, "utf-16be");
  EXPECT_EQ(r->content, "h\xC3\xA9\xF0\x9D\x84\x9E\n");

  // A lone surrogate becomes U+FFFD.
  put("lone.txt", std::string("\xFF\xFE\x00\xD8"
                              "a\0",
                              6));
  r = read("lone.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content,
            "\xEF\xBF\xBD"
            "a");

  put("latin1.txt", "caf\xE9\n");
  r = read("latin1.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->encoding, "latin-1");
  EXPECT_EQ(r->content, "caf\xC3\xA9\n");
  EXPECT_EQ(r->sha256, files::sha256_hex("caf\xE9\n"));

  put("bin.dat", std::string("\x7F"
                             "ELF\0\x01\x02\x03",
                             8));
  r = read("bin.dat");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->binary);
  EXPECT_EQ(r->encoding, "binary");
  EXPECT_EQ(r->content, "");
  EXPECT_EQ(r->size, 8u);
  EXPECT_EQ(r->mime_type, "application/octet-stream");
  EXPECT_NE(r->note.find("binary"), std::string::npos);

  auto res = svc().read_resource("bin.dat");
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->binary);
  EXPECT_EQ(res->data, std::string("\x7F"
                                   "ELF\0\x01\x02\x03",
                                   8));
}

// The sha256 cache must never return the hash of old content. A tool that
// restores the mtime (cp -p, rsync -t, tar) after rewriting a file with the
// same size leaves size and mtime as they were; only ctime tells.
TEST_F(Files, ReadShaFollowsContentWhenMtimeIsRestored) {
  const struct timespec old_times[2] = {{1000000000, 0}, {1000000000, 0}};
  put("same.txt", "AAAA\n");
  ASSERT_EQ(::utimensat(AT_FDCWD, path("same.txt").c_str(), old_times, 0), 0);
  auto r = read("same.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sha256, files::sha256_hex("AAAA\n"));
  put("same.txt", "BBBB\n");
  ASSERT_EQ(::utimensat(AT_FDCWD, path("same.txt").c_str(), old_times, 0), 0);
  r = read("same.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "BBBB\n");
  EXPECT_EQ(r->sha256, files::sha256_hex("BBBB\n"));
  // And expectedSha256 is judged against the real content.
  auto w = svc().write({"same.txt", "CCCC\n", files::sha256_hex("AAAA\n")});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(get("same.txt"), "BBBB\n");
}

// --- write ------------------------------------------------------------------

TEST_F(Files, WriteCreatesParentsAndReportsIt) {
  auto w = svc().write({"new/dir/file.txt", "hello\n", std::nullopt});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_TRUE(w->created);
  EXPECT_EQ(w->path, "new/dir/file.txt");
  EXPECT_EQ(w->bytes, 6u);
  EXPECT_EQ(w->via, "disk");
  EXPECT_EQ(w->sha256, files::sha256_hex("hello\n"));
  EXPECT_EQ(get("new/dir/file.txt"), "hello\n");
  w = svc().write({"new/dir/file.txt", "again\n", std::nullopt});
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->created);
  EXPECT_EQ(get("new/dir/file.txt"), "again\n");
  EXPECT_EQ(names("new/dir"), std::vector<std::string>{"file.txt"});
}

TEST_F(Files, WriteKeepsTheModeAndIsAtomic) {
  put("run.sh", "#!/bin/sh\necho old\n");
  ASSERT_EQ(::chmod(path("run.sh").c_str(), 0755), 0);
  const int old_fd = ::open(path("run.sh").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(old_fd, 0);
  auto w = svc().write({"run.sh", "#!/bin/sh\necho new\n", std::nullopt});
  ASSERT_TRUE(w.ok());
  struct stat st {};
  ASSERT_EQ(::stat(path("run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(get("run.sh"), "#!/bin/sh\necho new\n");
  // Renamed over, not rewritten in place: the old inode still has the old bytes.
  char buf[64] = {};
  const ssize_t n = ::pread(old_fd, buf, sizeof buf, 0);
  ::close(old_fd);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0))), "#!/bin/sh\necho old\n");
  auto s = svc().stat("run.sh");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->mode, "0755");
  EXPECT_EQ(s->type, "file");
  EXPECT_EQ(names(), std::vector<std::string>{"run.sh"});
}

TEST_F(Files, WriteExpectedShaMismatchIsConflict) {
  put("a.txt", "original\n");
  auto w = svc().write({"a.txt", "changed\n", std::string(64, '0')});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, error_code::kConflict);
  EXPECT_EQ(w.error().data["actualSha256"], files::sha256_hex("original\n"));
  EXPECT_EQ(get("a.txt"), "original\n");
  w = svc().write({"a.txt", "changed\n", files::sha256_hex("original\n")});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(get("a.txt"), "changed\n");
  w = svc().write({"absent.txt", "x", files::sha256_hex("")});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, error_code::kConflict);
  EXPECT_FALSE(exists_nofollow(path("absent.txt")));
  EXPECT_EQ(names(), std::vector<std::string>{"a.txt"});
}

TEST_F(Files, WriteRefusesDirectoriesAndTheRoot) {
  std::filesystem::create_directories(path("d"));
  EXPECT_FALSE(svc().write({"d", "x", std::nullopt}).ok());
  auto w = svc().write({".", "x", std::nullopt});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, error_code::kInvalidParams);
  put("file", "f");
  EXPECT_FALSE(svc().write({"file/child.txt", "x", std::nullopt}).ok());
  EXPECT_EQ(get("file"), "f");
  EXPECT_EQ(names(), (std::vector<std::string>{"d", "file"}));
}

TEST_F(Files, WriteThroughAnInsideSymlinkWritesItsTarget) {
  put("sub/target.txt", "old\n");
  ASSERT_EQ(::symlink("sub/target.txt", path("link.txt").c_str()), 0);
  auto w = svc().write({"link.txt", "new\n", std::nullopt});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(get("sub/target.txt"), "new\n");
  struct stat st {};
  ASSERT_EQ(::lstat(path("link.txt").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(Files, WriteEmptyAndBinaryContent) {
  const std::string bytes("\0\x01\xFF\n", 4);
  ASSERT_TRUE(svc().write({"b.bin", bytes, std::nullopt}).ok());
  EXPECT_EQ(get("b.bin"), bytes);
  ASSERT_TRUE(svc().write({"e.txt", "", std::nullopt}).ok());
  EXPECT_EQ(get("e.txt"), "");
  EXPECT_TRUE(exists_nofollow(path("e.txt")));
}

// --- edit -------------------------------------------------------------------

TEST_F(Files, EditUniqueOccurrence) {
  put("a.txt", "hello world\nbye\n");
  auto e = edit("a.txt", {{"world", "there", false}});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_TRUE(e->applied);
  EXPECT_EQ(e->replacements, 1u);
  EXPECT_EQ(e->via, "disk");
  EXPECT_EQ(get("a.txt"), "hello there\nbye\n");
  EXPECT_EQ(e->sha256, files::sha256_hex("hello there\nbye\n"));
  EXPECT_EQ(names(), std::vector<std::string>{"a.txt"});
}

TEST_F(Files, EditDiffIsExact) {
  put("f.txt", "a\nb\nc\n");
  auto e = edit("f.txt", {{"b\n", "B\n", false}}, true);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->diff, "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
}

TEST_F(Files, EditNotFound) {
  put("a.txt", "hello\n");
  auto e = edit("a.txt", {{"absent", "x", false}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, error_code::kNotFound);
  EXPECT_EQ(get("a.txt"), "hello\n");
}

TEST_F(Files, EditMultipleOccurrencesListsLines) {
  put("a.txt", "x = 1\ny\nx = 2\nz\nx = 3\n");
  auto e = edit("a.txt", {{"x", "w", false}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, error_code::kInvalidParams);
  EXPECT_NE(e.error().message.find("3 times"), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find("lines 1, 3, 5"), std::string::npos) << e.error().message;
  EXPECT_EQ(e.error().data["lines"], json::array({1, 3, 5}));
  EXPECT_EQ(get("a.txt"), "x = 1\ny\nx = 2\nz\nx = 3\n");
}

TEST_F(Files, EditOccurrenceLinesCountEveryNewline) {
  put("a.txt", "ab\n\n\nab ab\n");
  auto e = edit("a.txt", {{"ab", "x", false}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().data["lines"], json::array({1, 4, 4}));
}

TEST_F(Files, EditReplaceAll) {
  put("a.txt", "x\ny\nx\nz\nx\n");
  auto e = edit("a.txt", {{"x", "w", true}});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->replacements, 3u);
  EXPECT_EQ(get("a.txt"), "w\ny\nw\nz\nw\n");
}

TEST_F(Files, EditSeveralEditsAreAllOrNothing) {
  put("a.txt", "one\ntwo\nthree\n");
  auto e = edit("a.txt", {{"one", "1", false}, {"four", "4", false}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, error_code::kNotFound);
  EXPECT_NE(e.error().message.find("edit 2"), std::string::npos) << e.error().message;
  EXPECT_EQ(get("a.txt"), "one\ntwo\nthree\n");
  // Later edits see earlier ones.
  e = edit("a.txt", {{"one", "uno", false}, {"uno\ntwo", "uno\ndos", false}});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(get("a.txt"), "uno\ndos\nthree\n");
  EXPECT_EQ(e->replacements, 2u);
}

TEST_F(Files, EditDryRunLeavesFileUntouched) {
  put("a.txt", "alpha\n");
  auto e = edit("a.txt", {{"alpha", "beta", false}}, true);
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->applied);
  EXPECT_EQ(e->diff, "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-alpha\n+beta\n");
  EXPECT_EQ(e->sha256, files::sha256_hex("beta\n"));
  EXPECT_EQ(get("a.txt"), "alpha\n");
}

TEST_F(Files, EditExpectedShaAndOtherRefusals) {
  put("a.txt", "abc\n");
  auto e = edit("a.txt", {{"abc", "x", false}}, false, std::string(64, 'f'));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, error_code::kConflict);
  e = edit("a.txt", {{"abc", "abc", false}});
  EXPECT_FALSE(e.ok());
  e = edit("a.txt", {{"", "x", false}});
  EXPECT_FALSE(e.ok());
  e = edit("a.txt", {});
  EXPECT_FALSE(e.ok());
  put("latin.txt", "caf\xE9\n");
  e = edit("latin.txt", {{"caf", "x", false}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, error_code::kInvalidParams);
  EXPECT_EQ(get("latin.txt"), "caf\xE9\n");
  EXPECT_EQ(get("a.txt"), "abc\n");
  e = edit("a.txt", {{"abc", "xyz", false}}, false, files::sha256_hex("abc\n"));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(get("a.txt"), "xyz\n");
}

TEST_F(Files, EditCreatesWithEmptyOldString) {
  auto e = edit("made/new.txt", {{"", "content\n", false}});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(get("made/new.txt"), "content\n");
  e = edit("missing.txt", {{"x", "y", false}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, error_code::kNotFound);
}

// --- apply_patch ------------------------------------------------------------

TEST_F(Files, ApplyPatchMultiFileCreateDelete) {
  put("a.txt", "a1\na2\na3\n");
  put("b.txt", "b1\nb2\n");
  put("gone.txt", "bye\n");
  const std::string patch =
      "diff --git a/a.txt b/a.txt\n"
      "index 1..2 100644\n"
      "--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n a1\n-a2\n+A2\n a3\n"
      "--- a/b.txt\n+++ b/b.txt\n@@ -2 +2,2 @@\n b2\n+b3\n"
      "--- /dev/null\n+++ b/new/c.txt\n@@ -0,0 +1,2 @@\n+c1\n+c2\n"
      "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n";
  auto r = svc().apply_patch(patch);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->files.size(), 4u);
  EXPECT_EQ(r->files[0].path, "a.txt");
  EXPECT_EQ(r->files[0].action, "modified");
  EXPECT_EQ(r->files[2].action, "created");
  EXPECT_EQ(r->files[3].action, "deleted");
  EXPECT_EQ(r->files[3].sha256, "");
  EXPECT_EQ(get("a.txt"), "a1\nA2\na3\n");
  EXPECT_EQ(r->files[0].sha256, files::sha256_hex("a1\nA2\na3\n"));
  EXPECT_EQ(get("b.txt"), "b1\nb2\nb3\n");
  EXPECT_EQ(get("new/c.txt"), "c1\nc2\n");
  EXPECT_FALSE(exists_nofollow(path("gone.txt")));
}

TEST_F(Files, ApplyPatchToleratesAnOffset) {
  put("a.txt", "new0\nnew00\nx1\nx2\nx3\nx4\n");
  auto r = svc().apply_patch("--- a/a.txt\n+++ b/a.txt\n@@ -2,2 +2,2 @@\n x2\n-x3\n+X3\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(get("a.txt"), "new0\nnew00\nx1\nx2\nX3\nx4\n");
}

TEST_F(Files, ApplyPatchMismatchChangesNothing) {
  put("a.txt", "a1\na2\n");
  put("b.txt", "b1\nb2\n");
  const std::string patch =
      "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n a1\n-a2\n+A2\n"
      "--- /dev/null\n+++ b/c.txt\n@@ -0,0 +1 @@\n+c\n"
      "--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n b1\n-NOT THERE\n+B2\n";
  auto r = svc().apply_patch(patch);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kConflict);
  EXPECT_NE(r.error().message.find("b.txt"), std::string::npos) << r.error().message;
  EXPECT_EQ(get("a.txt"), "a1\na2\n");
  EXPECT_EQ(get("b.txt"), "b1\nb2\n");
  EXPECT_FALSE(exists_nofollow(path("c.txt")));
  EXPECT_EQ(names(), (std::vector<std::string>{"a.txt", "b.txt"}));
}

TEST_F(Files, ApplyPatchRefusals) {
  put("a.txt", "a\n");
  EXPECT_EQ(svc().apply_patch("just text\n").error().code, error_code::kInvalidParams);
  EXPECT_EQ(svc().apply_patch("--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+x\n").error().code, error_code::kConflict);
  EXPECT_EQ(svc().apply_patch("--- a/nope.txt\n+++ b/nope.txt\n@@ -1 +1 @@\n-a\n+b\n").error().code,
            error_code::kNotFound);
  EXPECT_EQ(svc().apply_patch("--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,3 @@\n a\n").error().code,
            error_code::kInvalidParams);  // hunk shorter than its header
  EXPECT_EQ(svc().apply_patch("--- a/a.txt\n+++ b/a.txt\n@@ bogus @@\n a\n").error().code, error_code::kInvalidParams);
  EXPECT_FALSE(svc()
                   .apply_patch("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n"
                                "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-b\n+c\n")
                   .ok());  // the same file twice
  EXPECT_EQ(get("a.txt"), "a\n");
}

TEST_F(Files, ApplyPatchNoNewlineAtEndOfFile) {
  put("a.txt", "a\nb");
  auto r = svc().apply_patch(
      "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of "
      "file\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(get("a.txt"), "a\nc");
  r = svc().apply_patch("--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n a\n-c\n\\ No newline at end of file\n+c\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(get("a.txt"), "a\nc\n");
  r = svc().apply_patch("--- a/a.txt\n+++ b/a.txt\n@@ -2 +2 @@\n-c\n+d\n\\ No newline at end of file\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(get("a.txt"), "a\nd");
}

TEST_F(Files, ApplyPatchKeepsCarriageReturns) {
  put("crlf.txt", "one\r\ntwo\r\nthree\r\n");
  const std::string patch = files::unified_diff("one\r\ntwo\r\nthree\r\n", "one\r\nTWO\r\nthree\r\n", "crlf.txt");
  auto r = svc().apply_patch(patch);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(get("crlf.txt"), "one\r\nTWO\r\nthree\r\n");
}

TEST(UnifiedDiff, EqualTextsGiveEmptyDiff) { EXPECT_EQ(files::unified_diff("a\n", "a\n", "x"), ""); }

TEST(UnifiedDiff, SeparateHunksAndContext) {
  std::string a, b;
  for (int i = 1; i <= 20; ++i) {
    a += std::to_string(i) + "\n";
    b += (i == 2 || i == 18 ? "X" : std::to_string(i)) + "\n";
  }
  const std::string d = files::unified_diff(a, b, "n.txt");
  EXPECT_EQ(d,
            "--- a/n.txt\n+++ b/n.txt\n"
            "@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n"
            "@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+X\n 19\n 20\n");
}

TEST(UnifiedDiff, FromAndToEmpty) {
  EXPECT_EQ(files::unified_diff("", "a\nb\n", "f"), "--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+a\n+b\n");
  EXPECT_EQ(files::unified_diff("a\n", "", "f"), "--- a/f\n+++ b/f\n@@ -1 +0,0 @@\n-a\n");
  EXPECT_EQ(files::unified_diff("a", "a\n", "f"),
            "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n");
}

// Property: for random pairs of texts, parse_patch(unified_diff(a, b)) applied
// to a gives b.
TEST(UnifiedDiff, RoundTripProperty) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> alphabet = {"a", "b", "c",     "",      "  indented", "x\r",
                                             "{", "}", "-dash", "+plus", "\\bs"};
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  auto random_lines = [&](std::size_t max) {
    std::vector<std::string> lines(pick(max + 1));
    for (auto& l : lines) l = alphabet[pick(alphabet.size())];
    return lines;
  };
  auto join = [](const std::vector<std::string>& lines, bool final_nl) {
    std::string s;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      s += lines[i];
      if (i + 1 < lines.size() || final_nl) s += '\n';
    }
    return s;
  };
  int checked = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::vector<std::string> la = random_lines(iter % 3 == 0 ? 40 : 12);
    std::vector<std::string> lb;
    if (iter % 2 == 0) {
      lb = random_lines(12);
    } else {  // a few local mutations of a: the usual shape of an edit
      lb = la;
      const std::size_t muts = 1 + pick(4);
      for (std::size_t m = 0; m < muts; ++m) {
        const std::size_t kind = pick(3);
        const std::size_t at = lb.empty() ? 0 : pick(lb.size() + 1);
        if (kind == 0 || lb.empty()) {
          lb.insert(lb.begin() + static_cast<std::ptrdiff_t>(at), alphabet[pick(alphabet.size())]);
        } else if (kind == 1 && at < lb.size()) {
          lb.erase(lb.begin() + static_cast<std::ptrdiff_t>(at));
        } else if (at < lb.size()) {
          lb[at] = alphabet[pick(alphabet.size())];
        }
      }
    }
    const std::string a = join(la, pick(4) != 0);
    const std::string b = join(lb, pick(4) != 0);
    if (a == b) continue;
    const int ctx = static_cast<int>(pick(4));
    const std::string d = files::unified_diff(a, b, "f.txt", ctx);
    auto parsed = files::parse_patch(d);
    ASSERT_TRUE(parsed.ok()) << "iter " << iter << ": " << parsed.error().message << "\n" << d;
    ASSERT_EQ(parsed->size(), 1u);
    EXPECT_EQ((*parsed)[0].old_path, "f.txt");
    auto applied = files::apply_hunks(a, (*parsed)[0], "f.txt");
    ASSERT_TRUE(applied.ok()) << "iter " << iter << ": " << applied.error().message << "\n" << d;
    ASSERT_EQ(*applied, b) << "iter " << iter << " ctx " << ctx << "\n--- a:\n"
                           << a << "\n--- b:\n"
                           << b << "\n--- diff:\n"
                           << d;
    ++checked;
  }
  EXPECT_GT(checked, 400);
}

// Many changes spread over a big file: the diff stays minimal and its memory
// bounded (the Myers trace once kept a copy of the whole V array per round).
TEST(UnifiedDiff, LargeSpreadOutChangeIsMinimalAndCheap) {
  std::string a, b;
  int changed = 0;
  for (int i = 0; i < 6000; ++i) {
    a += "line " + std::to_string(i) + "\n";
    b += (i % 7 == 0 ? "changed " : "line ") + std::to_string(i) + "\n";
    changed += i % 7 == 0;
  }
  struct rusage before {};
  ::getrusage(RUSAGE_SELF, &before);
  const std::string d = files::unified_diff(a, b, "big.txt");
  struct rusage after {};
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 150 * 1024) << "KiB of peak memory for one diff";
  int plus = 0, minus = 0;
  for (std::size_t pos = 0; pos < d.size();) {
    const std::size_t nl = d.find('\n', pos);
    const std::string_view line(d.data() + pos, nl - pos);
    if (line.substr(0, 3) != "+++" && line.substr(0, 1) == "+") ++plus;
    if (line.substr(0, 3) != "---" && line.substr(0, 1) == "-") ++minus;
    pos = nl + 1;
  }
  EXPECT_EQ(plus, changed);
  EXPECT_EQ(minus, changed);
  auto parsed = files::parse_patch(d);
  ASSERT_TRUE(parsed.ok());
  auto applied = files::apply_hunks(a, (*parsed)[0], "big.txt");
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, b);
}

TEST(ParsePatch, ErrorsNameTheLine) {
  auto r = files::parse_patch("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n?oops\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_EQ(r.error().data["line"], 5);
  r = files::parse_patch("--- /dev/null\n+++ /dev/null\n");
  EXPECT_FALSE(r.ok());
}

TEST(ParsePatch, PathsAndTimestamps) {
  auto r = files::parse_patch("--- a/src/x.c\t2024-01-01 00:00:00\n+++ b/src/x.c\t2024-01-02\n@@ -1 +1 @@\n-a\n+b\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].old_path, "src/x.c");
  EXPECT_EQ((*r)[0].new_path, "src/x.c");
  ASSERT_EQ((*r)[0].hunks.size(), 1u);
  EXPECT_EQ((*r)[0].hunks[0].old_start, 1);
  EXPECT_EQ((*r)[0].hunks[0].old_count, 1);
}

// --- list / move / delete / mkdir -------------------------------------------

TEST_F(Files, ListDepthSortingAndGitSkipped) {
  put("b.txt", "bb");
  put("a/inner.txt", "i");
  put("a/deep/deeper.txt", "d");
  put(".git/HEAD", "ref");
  put("C.txt", "c");
  auto l = svc().list(".", 1);
  ASSERT_TRUE(l.ok()) << l.error().message;
  std::vector<std::string> got;
  for (const auto& e : (*l)->entries) got.push_back(e.path + ":" + e.type);
  EXPECT_EQ(got, (std::vector<std::string>{"C.txt:file", "a:directory", "b.txt:file"}));
  EXPECT_EQ((*l)->entries[2].size, 2u);
  EXPECT_FALSE((*l)->truncated);

  l = svc().list("", 2);
  ASSERT_TRUE(l.ok());
  got.clear();
  for (const auto& e : (*l)->entries) got.push_back(e.path);
  EXPECT_EQ(got, (std::vector<std::string>{"C.txt", "a", "a/deep", "a/inner.txt", "b.txt"}));

  l = svc().list("a", 5);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)->path, "a");
  got.clear();
  for (const auto& e : (*l)->entries) got.push_back(e.path);
  EXPECT_EQ(got, (std::vector<std::string>{"deep", "deep/deeper.txt", "inner.txt"}));

  auto notdir = svc().list("b.txt", 1);
  ASSERT_FALSE(notdir.ok());
  EXPECT_EQ(notdir.error().code, error_code::kInvalidParams);
  EXPECT_EQ(svc().list("missing", 1).error().code, error_code::kNotFound);

  bool more = true;
  auto all = svc().list_files("", 100, more);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(more);
  EXPECT_EQ(*all, (std::vector<std::string>{"C.txt", "a/deep/deeper.txt", "a/inner.txt", "b.txt"}));
  auto page = svc().list_files("a/deep/deeper.txt", 2, more);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (std::vector<std::string>{"a/inner.txt", "b.txt"}));
  EXPECT_FALSE(more);
  page = svc().list_files("", 1, more);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, std::vector<std::string>{"C.txt"});
  EXPECT_TRUE(more);
}

TEST_F(Files, MoveRespectsOverwrite) {
  put("a.txt", "A");
  put("b.txt", "B");
  auto s = svc().move("a.txt", "b.txt", false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, error_code::kConflict);
  EXPECT_EQ(get("a.txt"), "A");
  EXPECT_EQ(get("b.txt"), "B");
  ASSERT_TRUE(svc().move("a.txt", "b.txt", true).ok());
  EXPECT_FALSE(exists_nofollow(path("a.txt")));
  EXPECT_EQ(get("b.txt"), "A");
  ASSERT_TRUE(svc().move("b.txt", "x/y/z.txt", false).ok());
  EXPECT_EQ(get("x/y/z.txt"), "A");
  EXPECT_FALSE(svc().move("x", "x/inside", false).ok());
  EXPECT_FALSE(svc().move("x", "x", false).ok());
  EXPECT_EQ(svc().move("missing", "m2", false).error().code, error_code::kNotFound);
}

TEST_F(Files, DeleteFilesAndDirectories) {
  put("d/e/f.txt", "f");
  put("g.txt", "g");
  auto s = svc().remove("d", false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, error_code::kConflict);
  EXPECT_EQ(get("d/e/f.txt"), "f");
  ASSERT_TRUE(svc().remove("d", true).ok());
  EXPECT_FALSE(exists_nofollow(path("d")));
  ASSERT_TRUE(svc().remove("g.txt", false).ok());
  EXPECT_FALSE(exists_nofollow(path("g.txt")));
  EXPECT_EQ(svc().remove("g.txt", false).error().code, error_code::kNotFound);
  EXPECT_FALSE(svc().remove(".", true).ok());
  std::filesystem::create_directories(path("empty"));
  EXPECT_TRUE(svc().remove("empty", false).ok());
  EXPECT_TRUE(names().empty());
}

TEST_F(Files, MkdirParents) {
  auto m = svc().mkdir("x/y/z");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(*m);
  EXPECT_TRUE(std::filesystem::is_directory(path("x/y/z")));
  m = svc().mkdir("x/y/z");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(*m);
  m = svc().mkdir(".");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(*m);
  put("file", "f");
  m = svc().mkdir("file/sub");
  ASSERT_FALSE(m.ok());
  m = svc().mkdir("file");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, error_code::kConflict);
}

TEST_F(Files, StatReportsTypes) {
  put("f.txt", "12345");
  std::filesystem::create_directories(path("d"));
  ASSERT_EQ(::symlink("f.txt", path("l").c_str()), 0);
  auto s = svc().stat("f.txt");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, "file");
  EXPECT_EQ(s->size, 5u);
  EXPECT_GT(s->mtime_ms, 1600000000000);
  EXPECT_EQ(svc().stat("d")->type, "directory");
  auto l = svc().stat("l");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->type, "symlink");
  EXPECT_EQ(l->symlink_target, "f.txt");
  EXPECT_EQ(svc().stat(".")->type, "directory");
  EXPECT_EQ(svc().stat("nope").error().code, error_code::kNotFound);
}

}  // namespace
}  // namespace icotes
