// What the file tools hand a model: pages within a text budget (read_file,
// read_many_files, list_directory), listings that honour ignore files and
// page with a cursor, images, appends, CRLF-tolerant edits with the closest
// match when oldString is missing, and each tool's text form (the MCP text
// block) rendered from its result.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/files.hpp"
#include "icotes/workspace.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

// The smallest images of each kind read_file shows (magic bytes first).
const std::string kPng("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\x08\x06\0\0\0\x1f\x15\xc4\x89", 33);
const std::string kJpeg("\xFF\xD8\xFF\xE0\0\x10JFIF\0", 11);
const std::string kGif("GIF89a\1\0\1\0\x80\0\0", 13);
const std::string kWebp("RIFF\x1a\0\0\0WEBPVP8L", 16);

std::string numbered(int n, const std::string& prefix = "line") {
  std::string s;
  for (int i = 1; i <= n; ++i) s += prefix + std::to_string(i) + "\n";
  return s;
}

class FilesText : public ::testing::Test {
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
  void git_init(const std::string& rel = "") {
    std::filesystem::create_directories(path(rel.empty() ? ".git" : rel + "/.git"));
  }

  std::vector<std::string> names(const files::ListResult& l) {
    std::vector<std::string> out;
    for (const auto& e : l.entries) out.push_back(e.path);
    return out;
  }
  std::vector<std::string> listed(const std::string& rel, int depth, bool include_ignored = false) {
    auto l = svc().list(rel, depth, nullptr, true, {}, include_ignored);
    EXPECT_TRUE(l.ok()) << l.error().message;
    return l.ok() ? names(**l) : std::vector<std::string>{};
  }
  Result<files::EditResult> edit(const std::string& rel, const std::string& old_s, const std::string& new_s,
                                 bool all = false) {
    files::EditParams ep;
    ep.path = rel;
    ep.edits = {{old_s, new_s, all}};
    return svc().edit(ep);
  }

  TempDir dir_;
  Documents docs_;
  std::optional<ConfinedRoot> root_;
  std::optional<files::Service> files_;
};

// --- read_file: images, budgets -------------------------------------------------------------

TEST_F(FilesText, ImagesAreFoundByTheirMagicBytes) {
  put("a.png", kPng);
  put("b.jpg", kJpeg);
  put("c.gif", kGif);
  put("d.webp", kWebp);
  put("misnamed.txt", kPng);  // the bytes decide, not the name
  const std::vector<std::pair<std::string, std::string>> cases = {{"a.png", "image/png"},
                                                                  {"b.jpg", "image/jpeg"},
                                                                  {"c.gif", "image/gif"},
                                                                  {"d.webp", "image/webp"},
                                                                  {"misnamed.txt", "image/png"}};
  for (const auto& [rel, mime] : cases) {
    files::ReadParams rp{rel, std::nullopt, std::nullopt, std::nullopt};
    rp.images = true;
    auto r = svc().read(rp);
    ASSERT_TRUE(r.ok()) << rel << ": " << r.error().message;
    EXPECT_EQ(r->mime_type, mime) << rel;
    EXPECT_EQ(r->image, get(rel)) << rel;
    EXPECT_TRUE(r->binary);
    EXPECT_TRUE(r->content.empty());
    EXPECT_NE(r->note.find("shown as an image"), std::string::npos) << r->note;
    EXPECT_EQ(r->sha256, files::sha256_hex(get(rel)));
  }
  // Not asked for (read_many_files): no bytes, a note saying where to look.
  auto r = svc().read({"a.png", std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->image.empty());
  EXPECT_NE(r->note.find("read_file shows it as an image"), std::string::npos) << r->note;
  // Magic bytes of no image kind: a binary file as before.
  put("x.png", std::string("\x89PNX\0\0", 6));
  r = svc().read({"x.png", std::nullopt, std::nullopt, std::nullopt, 0, true});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->image.empty());
  EXPECT_EQ(r->encoding, "binary");
}

TEST_F(FilesText, AnImageOverTheLimitIsNotShown) {
  put("big.png", kPng + std::string(files::kMaxImageBytes, 'x'));
  auto r = svc().read({"big.png", std::nullopt, std::nullopt, std::nullopt, 0, true});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->image.empty());
  EXPECT_NE(r->note.find("larger than the " + std::to_string(files::kMaxImageBytes) + "-byte limit"), std::string::npos)
      << r->note;
  put("edge.png", kPng + std::string(files::kMaxImageBytes - kPng.size(), 'x'));
  r = svc().read({"edge.png", std::nullopt, std::nullopt, std::nullopt, 0, true});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->image.size(), files::kMaxImageBytes);
}

TEST_F(FilesText, DefaultPageStaysWithin31KiB) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += std::string(60, 'a' + i % 26) + "\n";
  put("big.txt", text);
  auto r = svc().read({"big.txt", std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(r.ok());
  EXPECT_LE(r->content.size(), files::kDefaultReadBytes);
  EXPECT_GT(r->content.size(), files::kDefaultReadBytes - 61);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->note, "Showing lines 1-" + std::to_string(r->end_line) + " of 3000; continue with read_file " +
                         "{\"path\":\"big.txt\",\"offset\":" + std::to_string(r->end_line + 1) + "}");
}

TEST_F(FilesText, PerLineBytesCountAgainstTheBudget) {
  put("a.txt", numbered(10));  // "line1\n" .. "line9\n" are 6 bytes
  files::ReadParams rp{"a.txt", std::nullopt, std::nullopt, 28};
  rp.per_line_bytes = 8;  // 14 bytes per line shown
  auto r = svc().read(rp);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "line1\nline2\n");
  EXPECT_EQ(r->end_line, 2);
}

TEST_F(FilesText, CutPageKeepsWholeLinesAndSaysHowToContinue) {
  put("a.txt", numbered(10));
  auto r = svc().read({"a.txt", 2, std::nullopt, std::nullopt});
  ASSERT_TRUE(r.ok());
  files::cut_page(*r, 13);
  EXPECT_EQ(r->content, "line2\nline3\n");
  EXPECT_EQ(r->end_line, 3);
  EXPECT_TRUE(r->truncated);
  EXPECT_NE(r->note.find("read_file {\"path\":\"a.txt\",\"offset\":4}"), std::string::npos) << r->note;
  // Within the budget: untouched.
  auto whole = svc().read({"a.txt", std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(whole.ok());
  files::cut_page(*whole, 1000);
  EXPECT_EQ(whole->content, numbered(10));
  EXPECT_FALSE(whole->truncated);
}

// --- write_file append ----------------------------------------------------------------------

TEST_F(FilesText, AppendAddsAtTheEndOrCreates) {
  put("log.txt", "one\n");
  files::WriteParams wp{"log.txt", "two\n", std::nullopt, true};
  auto w = svc().write(wp);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(get("log.txt"), "one\ntwo\n");
  EXPECT_TRUE(w->appended);
  EXPECT_FALSE(w->created);
  EXPECT_EQ(w->bytes, 4u);
  EXPECT_EQ(w->size, 8u);
  EXPECT_EQ(w->sha256, files::sha256_hex("one\ntwo\n"));
  // expectedSha256 guards an append too.
  wp.expected_sha256 = files::sha256_hex("stale");
  EXPECT_EQ(svc().write(wp).error().code, error_code::kConflict);
  EXPECT_EQ(get("log.txt"), "one\ntwo\n");
  wp.expected_sha256 = files::sha256_hex("one\ntwo\n");
  ASSERT_TRUE(svc().write(wp).ok());
  EXPECT_EQ(get("log.txt"), "one\ntwo\ntwo\n");
  w = svc().write({"new/dir/made.txt", "first\n", std::nullopt, true});
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->created);
  EXPECT_EQ(get("new/dir/made.txt"), "first\n");
}

TEST_F(FilesText, AppendKeepsTheFilesEncoding) {
  put("le.txt", std::string("\xFF\xFEh\0i\0\n\0", 8));
  ASSERT_TRUE(svc().write({"le.txt", "\xC3\xA9\xF0\x9F\x98\x80\n", std::nullopt, true}).ok());  // é 😀
  EXPECT_EQ(get("le.txt"), std::string("\xFF\xFEh\0i\0\n\0\xE9\0\x3D\xD8\x00\xDE\n\0", 16));
  put("be.txt", std::string("\xFE\xFF\0h", 4));
  ASSERT_TRUE(svc().write({"be.txt", "\xC3\xA9", std::nullopt, true}).ok());
  EXPECT_EQ(get("be.txt"), std::string("\xFE\xFF\0h\0\xE9", 6));
  put("latin.txt", "caf\xE9\n");
  ASSERT_TRUE(svc().write({"latin.txt", "cr\xC3\xA8me\n", std::nullopt, true}).ok());
  EXPECT_EQ(get("latin.txt"), "caf\xE9\ncr\xE8me\n");
  auto w = svc().write({"latin.txt", "\xE2\x82\xAC\n", std::nullopt, true});  // € is not in Latin-1
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, error_code::kInvalidParams);
  EXPECT_NE(w.error().message.find("Latin-1"), std::string::npos) << w.error().message;
  EXPECT_EQ(get("latin.txt"), "caf\xE9\ncr\xE8me\n");
}

// --- edit_file: line endings, closest match ------------------------------------------------

TEST_F(FilesText, EditMatchesAcrossLineEndingsAndKeepsCrlf) {
  put("w.txt", "first\r\nsecond\r\nthird\r\n");
  auto e = edit("w.txt", "first\nsecond\n", "first\nnew\nsecond\n");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(get("w.txt"), "first\r\nnew\r\nsecond\r\nthird\r\n");
  EXPECT_EQ(e->sha256, files::sha256_hex(get("w.txt")));
  // oldString with CRLF matches too; replaceAll; a match ending before "\r\n" keeps it.
  e = edit("w.txt", "second\r\n", "2nd\n");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(get("w.txt"), "first\r\nnew\r\n2nd\r\nthird\r\n");
  e = edit("w.txt", "d", "D", true);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->replacements, 2u);
  EXPECT_EQ(get("w.txt"), "first\r\nnew\r\n2nD\r\nthirD\r\n");
  // Occurrence lines are the file's lines.
  put("dup.txt", "x\r\ny\r\nx\r\ny\r\n");
  e = edit("dup.txt", "x\ny", "z");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().data["lines"], json::array({1, 3}));
}

TEST_F(FilesText, EditOfAMixedFileChangesOnlyTheEditedLines) {
  put("m.txt", "a\nb\r\nc\nd\r\n");  // mostly... half and half: LF wins ties
  auto e = edit("m.txt", "b\nc\n", "B\nC\n");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(get("m.txt"), "a\nB\nC\nd\r\n");
  // An LF file: oldString with CRLF still matches, the file stays LF.
  put("lf.txt", "one\ntwo\n");
  e = edit("lf.txt", "one\r\ntwo\r\n", "uno\r\ndos\r\n");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(get("lf.txt"), "uno\ndos\n");
}

TEST_F(FilesText, NotFoundShowsTheClosestLinesAndADiff) {
  put("main.c",
      "#include <stdio.h>\n\nint main(void) {\n    int x = 1;\n    printf(\"%d\\n\", x);\n    return 0;\n}\n");
  auto e = edit("main.c", "int main(void) {\n  int x = 1;\n  printf(\"%d\\n\", y);\n", "int main(void) {\n");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, error_code::kNotFound);
  const std::string& m = e.error().message;
  EXPECT_NE(m.find("oldString was not found in main.c. The most similar text is lines 3-5 ("), std::string::npos) << m;
  EXPECT_NE(m.find("--- oldString\n+++ main.c (lines 3-5)\n@@ -1,3 +3,3 @@\n int main(void) {\n-  int x = 1;\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("+    printf(\"%d\\n\", x);\n"), std::string::npos) << m;
  EXPECT_NE(m.find("read_file {\"path\":\"main.c\",\"offset\":3,\"limit\":3}"), std::string::npos) << m;
  EXPECT_EQ(e.error().data["closest"]["startLine"], 3);
  EXPECT_EQ(e.error().data["closest"]["endLine"], 5);
  EXPECT_GT(e.error().data["closest"]["similarity"].get<double>(), 0.7);
  EXPECT_EQ(m.find("only in whitespace"), std::string::npos) << m;
  // Indentation only.
  e = edit("main.c", "int x = 1;\n    printf(\"%d\\n\", x);\n", "");
  ASSERT_TRUE(e.ok()) << "a substring of the lines matches";
  e = edit("main.c", "\treturn 0;\n}\n", "");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("differing only in whitespace"), std::string::npos) << e.error().message;
  // Nothing alike.
  e = edit("main.c", "zzzz qqqq\nwwww\n", "");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("no similar lines were found"), std::string::npos) << e.error().message;
  EXPECT_FALSE(e.error().data.contains("closest"));
}

TEST_F(FilesText, ClosestLinesFindsTheBestWindow) {
  std::string text;
  for (int i = 1; i <= 200; ++i) text += "    value_" + std::to_string(i) + " = compute(" + std::to_string(i) + ");\n";
  auto c = files::closest_lines(text, "value_120 = compute(121);\nvalue_121 = compute(121);\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first_line, 120);
  EXPECT_EQ(c->last_line, 121);
  EXPECT_EQ(c->text, "    value_120 = compute(120);\n    value_121 = compute(121);");
  // A needle longer than the text: the whole text.
  c = files::closest_lines("a\nb\n", "a\nb\nc\nd\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first_line, 1);
  EXPECT_EQ(c->last_line, 2);
  EXPECT_FALSE(files::closest_lines("", "x"));
  // CRLF lines compare without their "\r".
  c = files::closest_lines("x\r\nhello there\r\ny\r\n", "hello there\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first_line, 2);
  EXPECT_DOUBLE_EQ(c->similarity, 1.0);
}

TEST_F(FilesText, UnifiedDiffWithLabelsCountsFromTheExcerpt) {
  const std::string d =
      files::unified_diff("a\nb\n", "a\nc\n", files::DiffLabels{"oldString", "f (lines 40-41)", 1, 40});
  EXPECT_EQ(d, "--- oldString\n+++ f (lines 40-41)\n@@ -1,2 +40,2 @@\n a\n-b\n+c\n");
  EXPECT_EQ(files::unified_diff("a\n", "b\n", "p"), "--- a/p\n+++ b/p\n@@ -1 +1 @@\n-a\n+b\n");
}

TEST_F(FilesText, ApplyPatchReturnsTheDiffOfEachFile) {
  put("m.txt", "one\ntwo\n");
  auto r = svc().apply_patch(
      "--- a/m.txt\n+++ b/m.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+new\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->files.size(), 2u);
  EXPECT_EQ(r->files[0].diff, "--- a/m.txt\n+++ b/m.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n");
  EXPECT_EQ(r->files[1].diff, "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+new\n");
}

// --- list_directory: ignore files, paging ----------------------------------------------------

TEST_F(FilesText, ListingsLeaveOutWhatIgnoreFilesCover) {
  git_init();
  put(".gitignore", "node_modules/\n*.log\n/build\n!keep.log\n");
  put("node_modules/pkg/index.js", "x");
  put("src/node_modules/inner.js", "x");
  put("src/a.c", "x");
  put("src/debug.log", "x");
  put("keep.log", "x");
  put("build/out.o", "x");
  put("src/build/ok.c", "x");  // "/build" is anchored at the root
  put("docs/.ignore", "draft.md\n");
  put("docs/draft.md", "x");
  put("docs/final.md", "x");
  EXPECT_EQ(listed(".", 3), (std::vector<std::string>{".gitignore", "docs", "docs/.ignore", "docs/final.md", "keep.log",
                                                      "src", "src/a.c", "src/build", "src/build/ok.c"}));
  auto l = svc().list(".", 3, nullptr, true, {}, false);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)->ignored, 5u);  // build/, node_modules/, docs/draft.md, src/debug.log, src/node_modules/
  EXPECT_EQ((*l)->ignored_names, (std::vector<std::string>{"build/", "docs/draft.md", "node_modules/", "src/debug.log",
                                                           "src/node_modules/"}));
  // A subdirectory: the root's .gitignore applies there too.
  EXPECT_EQ(listed("src", 1), (std::vector<std::string>{"a.c", "build"}));
  // Everything, when asked.
  EXPECT_EQ(listed("src", 1, true), (std::vector<std::string>{"a.c", "build", "debug.log", "node_modules"}));
  // The default overload (completion, tests) lists everything.
  auto all = svc().list(".", 1);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)->ignored, 0u);
  EXPECT_EQ((*all)->entries.size(), 6u);
}

TEST_F(FilesText, GitignoreOutsideARepositoryDoesNotApply) {
  put(".gitignore", "x.txt\n");  // no .git: ripgrep ignores .gitignore too
  put(".ignore", "y.txt\n");
  put("x.txt", "x");
  put("y.txt", "y");
  EXPECT_EQ(listed(".", 1), (std::vector<std::string>{".gitignore", ".ignore", "x.txt"}));
}

TEST_F(FilesText, ListingIsRebuiltWhenAnAncestorsIgnoreFileChanges) {
  git_init();
  put(".gitignore", "");
  put("src/a.c", "x");
  put("src/gen.c", "x");
  EXPECT_EQ(listed("src", 1), (std::vector<std::string>{"a.c", "gen.c"}));
  EXPECT_EQ(listed("src", 1), (std::vector<std::string>{"a.c", "gen.c"}));  // cached
  put(".gitignore", "gen.c\n");
  EXPECT_EQ(listed("src", 1), (std::vector<std::string>{"a.c"}));
}

TEST_F(FilesText, PagesFollowTheCursorWithoutGapsOrRepeats) {
  for (int d = 0; d < 5; ++d)
    for (int f = 0; f < 7; ++f) put("t/d" + std::to_string(d) + "/f" + std::to_string(f), "x");
  auto all = svc().list("t", 2);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ((*all)->entries.size(), 40u);
  std::vector<std::string> seen;
  files::ListParams p;
  p.path = "t";
  p.depth = 2;
  p.limit = 6;
  for (int i = 0; i < 20; ++i) {
    auto page = svc().list_page(p);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& e : page->entries) seen.push_back(e.path);
    if (!page->truncated) break;
    EXPECT_EQ(page->entries.size(), 6u);
    EXPECT_EQ(page->next_cursor, page->entries.back().path);
    EXPECT_NE(page->text.find("\"cursor\":\"" + page->next_cursor + "\""), std::string::npos) << page->text;
    EXPECT_NE(page->text.find("\"depth\":2"), std::string::npos);
    EXPECT_NE(page->text.find("\"limit\":6"), std::string::npos);
    p.cursor = page->next_cursor;
  }
  EXPECT_EQ(seen, names(**all));
}

TEST_F(FilesText, PagesGoPastWhatOneWalkGathers) {
  const int n = static_cast<int>(files::kMaxListEntries) + 150;
  std::filesystem::create_directories(path("big"));
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "big/f%05d", i);
    put(name, "");
  }
  files::ListParams p;
  p.path = "big";
  p.limit = 4000;
  std::set<std::string> seen;
  int pages = 0;
  for (;; ++pages) {
    ASSERT_LT(pages, 10);
    auto page = svc().list_page(p);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& e : page->entries) EXPECT_TRUE(seen.insert(e.path).second) << e.path << " twice";
    if (!page->truncated) break;
    p.cursor = page->next_cursor;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(pages, 3);  // 4000, 4000, 2000 (the first walk's end), 150 (walked from the cursor)
}

TEST_F(FilesText, PageTextStaysWithinItsBudget) {
  for (int i = 0; i < 3000; ++i) put("many/entry-with-a-longish-name-" + std::to_string(i) + ".txt", "content");
  files::ListParams p;
  p.path = "many";
  p.max_text_bytes = 4096;
  auto page = svc().list_page(p);
  ASSERT_TRUE(page.ok());
  EXPECT_LE(page->text.size(), 4096u);
  EXPECT_GT(page->text.size(), 3000u);
  EXPECT_TRUE(page->truncated);
  EXPECT_TRUE(page->text.starts_with("many/: " + std::to_string(page->entries.size()) +
                                     " entries; more entries follow: "
                                     "continue with list_directory {\"path\":\"many\",\"cursor\":\"" +
                                     page->next_cursor + "\"}\n"))
      << page->text.substr(0, 300);
  // One entry at least, whatever the budget.
  p.max_text_bytes = 10;
  page = svc().list_page(p);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 1u);
  EXPECT_TRUE(page->truncated);
}

TEST_F(FilesText, ListPageTextLinesAndIgnoredNote) {
  git_init();
  put(".gitignore", "node_modules/\n");
  put("node_modules/x.js", "x");
  put("a.txt", "hello");
  std::filesystem::create_directories(path("dir"));
  ASSERT_EQ(::symlink("a.txt", path("link").c_str()), 0);
  files::ListParams p;
  p.path = ".";
  auto page = svc().list_page(p);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->text,
            "./: 4 entries; 1 ignored entry not listed (node_modules/); \"includeIgnored\":true lists them\n"
            ".gitignore (14 bytes)\na.txt (5 bytes)\ndir/\nlink (symlink)\n");
  EXPECT_FALSE(page->truncated);
  EXPECT_TRUE(page->next_cursor.empty());
  EXPECT_EQ(page->ignored, 1u);
  p.include_ignored = true;
  page = svc().list_page(p);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 5u);
  EXPECT_EQ(page->ignored, 0u);
}

TEST_F(FilesText, DeepListingsDoNotExpandCrowdedDirectories) {
  for (std::size_t i = 0; i <= files::kMaxExpandedEntries; ++i) put("data/crowd/f" + std::to_string(i), "");
  for (std::size_t i = 0; i < files::kMaxExpandedEntries; ++i) put("data/full/f" + std::to_string(i), "");
  put("data/x.txt", "x");
  files::ListParams p;
  p.path = "data";
  p.depth = 3;
  auto page = svc().list_page(p);
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->entries.size(), 3 + files::kMaxExpandedEntries);  // crowd, full and its files, x.txt
  EXPECT_EQ(page->entries[0].path, "crowd");
  EXPECT_EQ(page->entries[0].not_listed, files::kMaxExpandedEntries + 1);
  EXPECT_EQ(page->entries[1].path, "full");
  EXPECT_EQ(page->entries[1].not_listed, 0u);
  EXPECT_NE(page->text.find("\ncrowd/ (201 entries, not listed here: list_directory {\"path\":\"data/crowd\"})\n"),
            std::string::npos)
      << page->text.substr(0, 300);
  EXPECT_NE(page->entries_json.find("\"path\":\"crowd\",\"type\":\"directory\",\"size\":0,\"mtime\":"),
            std::string::npos);
  EXPECT_NE(page->entries_json.find(",\"notListed\":201}"), std::string::npos);
  // Listed itself, it is listed whole.
  p.path = "data/crowd";
  p.depth = 1;
  page = svc().list_page(p);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), files::kMaxExpandedEntries + 1);
}

TEST_F(FilesText, ResourceFilesHonourIgnoreFiles) {
  git_init();
  put(".gitignore", "node_modules/\n*.tmp\n");
  put("node_modules/a/index.js", "x");
  put("src/a.c", "x");
  put("src/b.tmp", "x");
  put("z.txt", "x");
  bool more = true;
  auto files = svc().list_files("", 100, more);
  ASSERT_TRUE(files.ok());
  EXPECT_FALSE(more);
  EXPECT_EQ(*files, (std::vector<std::string>{".gitignore", "src/a.c", "z.txt"}));
  auto page = svc().list_files("node_modules/a/index.js", 100, more);  // a cursor inside an ignored directory
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (std::vector<std::string>{"src/a.c", "z.txt"}));
}

// --- the operations and their text ------------------------------------------------------------

class FilesOps : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = Workspace::open(dir_.path(), 1);
    ASSERT_TRUE(w.ok()) << w.error().message;
    ws_ = std::move(*w);
  }
  void put(const std::string& rel, const std::string& content) { write_file(dir_ / rel, content); }
  Result<json> call(const std::string& id, const json& params, std::size_t cap = kMaxToolResultBytes) {
    const Operation* op = builtin_registry().find(id);
    if (!op) throw std::runtime_error("no operation " + id);
    NullProgress progress;
    Context ctx{*ws_, cancel_, progress, nullptr};
    ctx.max_result_bytes = cap;
    return builtin_registry().invoke(*op, ctx, params);
  }
  // The MCP text of a result, as the MCP layer asks for it.
  static std::string text(const std::string& id, const json& result) {
    const Operation* op = builtin_registry().find(id);
    EXPECT_TRUE(op && op->mcp_text) << id << " has a text renderer";
    return op && op->mcp_text ? op->mcp_text(result) : std::string();
  }
  std::string large(int n, const std::string& tag) {
    std::string s;
    for (int i = 1; i <= n; ++i) s += tag + ":" + std::to_string(i) + " some text of a line of source code here\n";
    return s;
  }

  TempDir dir_;
  std::unique_ptr<Workspace> ws_;
  CancellationToken cancel_;
};

TEST_F(FilesOps, ReadFileTextHasAHeaderThenTheLines) {
  put("a.txt", "alpha\nbeta\n");
  auto r = call("files/read", {{"path", "a.txt"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(text("files/read", *r),
            "a.txt: lines 1-2 of 2, sha256 " + files::sha256_hex("alpha\nbeta\n") + "\nalpha\nbeta\n");
  r = call("files/read", {{"path", "a.txt"}, {"offset", 2}, {"lineNumbers", true}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/read", *r),
            "a.txt: line 2 of 2, sha256 " + files::sha256_hex("alpha\nbeta\n") + "\n     2\tbeta\n");
  put("l1.txt", "caf\xE9\n");
  r = call("files/read", {{"path", "l1.txt"}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(text("files/read", *r).starts_with("l1.txt: line 1 of 1, latin-1, sha256 ")) << text("files/read", *r);
  put("empty.txt", "");
  r = call("files/read", {{"path", "empty.txt"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/read", *r), "empty.txt: empty file, sha256 " + files::sha256_hex("") + "\n");
  // A page that stops early names the call that continues.
  put("long.txt", large(3000, "x"));
  r = call("files/read", {{"path", "long.txt"}});
  ASSERT_TRUE(r.ok());
  const std::string t = text("files/read", *r);
  EXPECT_LE(t.size(), kDefaultToolResultBytes);
  const auto end = (*r)["endLine"].get<std::int64_t>();
  EXPECT_TRUE(t.starts_with("long.txt: lines 1-" + std::to_string(end) + " of 3000, sha256 " +
                            files::sha256_hex(large(3000, "x")) +
                            "; more: read_file {\"path\":\"long.txt\",\"offset\":" + std::to_string(end + 1) + "}\n"))
      << t.substr(0, 300);
}

TEST_F(FilesOps, ReadFileNeverExceedsTheClientsCap) {
  put("long.txt", large(5000, "x"));
  for (std::size_t cap : {std::size_t{4096}, std::size_t{20000}, kMaxToolResultBytes}) {
    for (bool numbers : {false, true}) {
      auto r = call("files/read", {{"path", "long.txt"}, {"maxBytes", 1 << 20}, {"lineNumbers", numbers}}, cap);
      ASSERT_TRUE(r.ok());
      const std::string t = text("files/read", *r);
      EXPECT_LE(t.size(), cap) << cap << (numbers ? " with numbers" : "");
      EXPECT_GT(t.size(), cap / 2) << cap;
    }
  }
  // Programs (cap 0) get what they ask for.
  auto r = call("files/read", {{"path", "long.txt"}, {"maxBytes", 1 << 20}, {"limit", 10000}}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["content"], large(5000, "x"));
}

TEST_F(FilesOps, ReadFileOfAnImageCarriesItBase64) {
  put("pic.png", kPng);
  auto r = call("files/read", {{"path", "pic.png"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->contains("image"));
  EXPECT_EQ((*r)["image"]["mimeType"], "image/png");
  EXPECT_EQ((*r)["image"]["data"], "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ");
  EXPECT_EQ(text("files/read", *r), "pic.png is a PNG image (33 bytes), shown as an image\n");
}

TEST_F(FilesOps, ReadManyFilesSharesOneBudget) {
  for (int i = 1; i <= 3; ++i) put("large" + std::to_string(i) + ".txt", large(4000, "f" + std::to_string(i)));
  put("small.txt", "tiny\n");
  auto r = call("files/readMany", {{"paths", {"large1.txt", "small.txt", "large2.txt", "large3.txt", "missing.txt"}}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string t = text("files/readMany", *r);
  EXPECT_LE(t.size(), kDefaultToolResultBytes);
  EXPECT_GT(t.size(), kDefaultToolResultBytes * 3 / 4);
  EXPECT_NE(t.find("==> small.txt <== line 1 of 1, sha256 " + files::sha256_hex("tiny\n") + "\ntiny\n"),
            std::string::npos);
  EXPECT_NE(t.find("==> missing.txt <== error: "), std::string::npos);
  EXPECT_TRUE(
      t.starts_with("read_many_files: Within 32768 bytes of text (maxBytes): cut: large1.txt (read_file "
                    "{\"path\":\"large1.txt\",\"offset\":"))
      << t.substr(0, 400);
  const auto& files = (*r)["files"];
  ASSERT_EQ(files.size(), 5u);
  // The large files get about the same share.
  const auto l1 = files[0]["content"].get<std::string>().size(), l3 = files[3]["content"].get<std::string>().size();
  EXPECT_GT(l1, 7000u);
  EXPECT_LT(l1 > l3 ? l1 - l3 : l3 - l1, 200u);
  EXPECT_EQ(files[1]["content"], "tiny\n");
  EXPECT_EQ(files[0]["startLine"], 1);
  EXPECT_TRUE(files[0]["truncated"].get<bool>());
  EXPECT_FALSE(r->contains("notShown"));
}

TEST_F(FilesOps, ReadManyFilesLeavesOutWhatHasNoRoom) {
  std::vector<std::string> paths;
  for (int i = 0; i < 40; ++i) {
    paths.push_back("f" + std::to_string(i) + ".txt");
    put(paths.back(), large(200, "f" + std::to_string(i)));  // about 9 KB each
  }
  auto r = call("files/readMany", {{"paths", paths}});
  ASSERT_TRUE(r.ok());
  const std::string t = text("files/readMany", *r);
  EXPECT_LE(t.size(), kDefaultToolResultBytes);
  ASSERT_TRUE(r->contains("notShown"));
  const auto not_shown = (*r)["notShown"].get<std::vector<std::string>>();
  EXPECT_FALSE(not_shown.empty());
  EXPECT_EQ(not_shown.back(), "f39.txt");
  EXPECT_EQ((*r)["files"].size() + not_shown.size(), 40u);
  std::string call_text = "read_many_files {\"paths\":[";
  for (std::size_t i = 0; i < not_shown.size(); ++i) call_text += (i ? ",\"" : "\"") + not_shown[i] + "\"";
  EXPECT_NE(t.find(call_text + "]}"), std::string::npos) << t.substr(0, 600);
  // A larger budget, asked for, within the cap.
  r = call("files/readMany", {{"paths", paths}, {"maxBytes", 1 << 20}});
  ASSERT_TRUE(r.ok());
  EXPECT_LE(text("files/readMany", *r).size(), kMaxToolResultBytes);
  r = call("files/readMany", {{"paths", paths}, {"maxBytes", 1 << 20}}, 0);  // a program
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->contains("note"));
}

TEST_F(FilesOps, ListDirectoryDefaultsStayWithin32KiB) {
  std::filesystem::create_directories(dir_ / "big");
  for (int i = 0; i < 3000; ++i) put("big/file-" + std::to_string(100000 + i) + ".txt", "x");
  auto r = call("files/list", {{"path", "big"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  std::string t = text("files/list", *r);
  EXPECT_LE(t.size(), kDefaultToolResultBytes);
  EXPECT_TRUE((*r)["truncated"].get<bool>());
  const std::string cursor = (*r)["nextCursor"];
  EXPECT_NE(t.find("{\"path\":\"big\",\"cursor\":\"" + cursor + "\"}"), std::string::npos);
  // A limit asked for: up to the cap.
  r = call("files/list", {{"path", "big"}, {"limit", 10000}}, 50000);
  ASSERT_TRUE(r.ok());
  t = text("files/list", *r);
  EXPECT_LE(t.size(), 50000u);
  EXPECT_GT(t.size(), 40000u);
  // Programs: entries only by count.
  r = call("files/list", {{"path", "big"}, {"limit", 3000}}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)["truncated"].get<bool>());
  EXPECT_FALSE(r->contains("nextCursor"));
}

TEST_F(FilesOps, TextFormsOfTheOtherTools) {
  auto r = call("files/write", {{"path", "d/new.txt"}, {"content", "one\n"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(text("files/write", *r),
            "wrote 4 bytes to d/new.txt (new file, sha256 " + files::sha256_hex("one\n") + ")\n");
  r = call("files/write", {{"path", "d/new.txt"}, {"content", "two\n"}, {"append", true}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/write", *r),
            "appended 4 bytes to d/new.txt (now 8 bytes, sha256 " + files::sha256_hex("one\ntwo\n") + ")\n");
  r = call("files/edit", {{"path", "d/new.txt"}, {"edits", {{{"oldString", "two"}, {"newString", "2"}}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/edit", *r), "edited d/new.txt: 1 replacement, sha256 " + files::sha256_hex("one\n2\n") +
                                        "\n--- a/d/new.txt\n+++ b/d/new.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n");
  r = call("files/edit",
           {{"path", "d/new.txt"}, {"edits", {{{"oldString", "one"}, {"newString", "1"}}}}, {"dryRun", true}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(text("files/edit", *r).starts_with("dry run, nothing written: d/new.txt: 1 replacement, sha256 "));
  r = call("files/applyPatch", {{"patch", "--- a/d/new.txt\n+++ b/d/new.txt\n@@ -1,2 +1,2 @@\n-one\n+uno\n 2\n"}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(text("files/applyPatch", *r),
            "applied the patch to 1 file (1 modified, 0 created, 0 deleted)\n--- a/d/new.txt\n+++ b/d/new.txt\n"
            "@@ -1,2 +1,2 @@\n-one\n+uno\n 2\n");
  r = call("files/stat", {{"path", "d/new.txt"}});
  ASSERT_TRUE(r.ok());
  const std::string st = text("files/stat", *r);
  EXPECT_TRUE(st.starts_with("path: d/new.txt\ntype: file\nsize: 6 bytes\nmode: 0")) << st;
  EXPECT_NE(st.find("\nmtime: 20"), std::string::npos) << st;
  EXPECT_TRUE(st.ends_with("Z\nopenInEditor: no\n")) << st;
  r = call("files/mkdir", {{"path", "d/e"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/mkdir", *r), "created directory d/e\n");
  r = call("files/mkdir", {{"path", "d/e"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/mkdir", *r), "directory d/e already exists\n");
  r = call("files/move", {{"source", "d/e"}, {"destination", "d/f"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/move", *r), "moved d/e to d/f\n");
  r = call("files/delete", {{"path", "d/f"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(text("files/delete", *r), "deleted d/f\n");
}

TEST_F(FilesOps, AHugeEditDiffIsCutInTheTextOnly) {
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "x = " + std::to_string(i) + "\n";
  put("big.txt", body);
  auto r = call("files/edit",
                {{"path", "big.txt"}, {"edits", {{{"oldString", "x ="}, {"newString", "y ="}, {"replaceAll", true}}}}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string t = text("files/edit", *r);
  EXPECT_LE(t.size(), kDefaultToolResultBytes);
  EXPECT_NE(t.find("(diff cut: "), std::string::npos);
  EXPECT_GT((*r)["diff"].get<std::string>().size(), kDefaultToolResultBytes);
}

}  // namespace
}  // namespace icotes
