// search::grep on temporary trees: the searcher's line model as ripgrep's
// (`rg --json`: context, max count, multiline, empty matches, CRLF, UTF-16,
// binary files), cancellation from another thread, and the documents overlay.
// Expected values were taken from ripgrep 13 on the same bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/documents.hpp"
#include "icotes/rpc.hpp"
#include "icotes/search.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using search::FileResult;
using search::GrepParams;
using test::TempDir;
using test::write_file;

using Subs = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

// One result line as a comparable tuple: number, text, context?, submatches.
struct L {
  std::uint64_t n;
  std::string text;
  bool context;
  Subs subs;
  bool operator==(const L&) const = default;
};

std::ostream& operator<<(std::ostream& os, const L& l) {
  os << (l.context ? "ctx " : "match ") << l.n << " \"" << l.text << "\" [";
  for (const auto& [s, e] : l.subs) os << "(" << s << "," << e << ")";
  return os << "]";
}

L M(std::uint64_t n, std::string text, Subs subs) { return {n, std::move(text), false, std::move(subs)}; }
L C(std::uint64_t n, std::string text) { return {n, std::move(text), true, {}}; }

struct Outcome {
  Result<search::GrepStats> stats = search::GrepStats{};
  std::map<std::string, FileResult> files;
  std::vector<L> lines(const std::string& path) const {
    std::vector<L> out;
    auto it = files.find(path);
    if (it == files.end()) return out;
    for (const auto& l : it->second.lines) {
      Subs subs;
      for (const auto& s : l.submatches) subs.emplace_back(s.start, s.end);
      out.push_back({l.number, l.text, l.context, subs});
    }
    return out;
  }
};

Outcome grep(const std::string& root, GrepParams p, const CancellationToken* cancel = nullptr,
             const Documents* docs = nullptr) {
  auto r = ConfinedRoot::open(root);
  if (!r) throw std::runtime_error("cannot open root: " + r.error().message);
  Outcome run;
  run.stats = search::grep(
      *r, p, [&](FileResult&& f) { run.files[f.path] = std::move(f); }, cancel, docs);
  return run;
}

GrepParams params(std::string pattern) {
  GrepParams p;
  p.pattern = std::move(pattern);
  return p;
}

TEST(Grep, ContentWithSubmatches) {
  TempDir d;
  write_file(d / "a.txt", "one needle\nnone\nneedle needle\n");
  write_file(d / "sub/b.txt", "no\n");
  const Outcome run = grep(d.path(), params("needle"));
  ASSERT_TRUE(run.stats) << run.stats.error().message;
  EXPECT_EQ(run.files.size(), 1u);
  EXPECT_EQ(run.lines("a.txt"),
            (std::vector<L>{M(1, "one needle", {{4, 10}}), M(3, "needle needle", {{0, 6}, {7, 13}})}));
  EXPECT_EQ(run.files.at("a.txt").matched_lines, 2u);
  EXPECT_EQ(run.files.at("a.txt").matches, 3u);
  EXPECT_EQ(run.stats->files_searched, 2u);
  EXPECT_EQ(run.stats->files_matched, 1u);
  EXPECT_FALSE(run.stats->cancelled);
}

// rg -n -B2 -A1 m: before/after context, overlapping windows, adjacent
// matches, and a gap (line 7 is printed by no window).
TEST(Grep, ContextBeforeAfterOverlappingAdjacent) {
  TempDir d;
  write_file(d / "c.txt", "l1\nl2 m\nl3\nl4\nl5 m\nl6\nl7\nl8\nl9\nl10 m\nl11 m\nl12\nl13\n");
  GrepParams p = params("m");
  p.before = 2;
  p.after = 1;
  const Outcome run = grep(d.path(), p);
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("c.txt"), (std::vector<L>{C(1, "l1"), M(2, "l2 m", {{3, 4}}), C(3, "l3"), C(4, "l4"),
                                                M(5, "l5 m", {{3, 4}}), C(6, "l6"), C(8, "l8"), C(9, "l9"),
                                                M(10, "l10 m", {{4, 5}}), M(11, "l11 m", {{4, 5}}), C(12, "l12")}));
}

TEST(Grep, AfterContextOnlyAndAtEndOfFile) {
  TempDir d;
  write_file(d / "c.txt", "m1\nx\nm2\ny");
  GrepParams p = params("m");
  p.after = 3;
  const Outcome run = grep(d.path(), p);
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("c.txt"), (std::vector<L>{M(1, "m1", {{0, 1}}), C(2, "x"), M(3, "m2", {{0, 1}}), C(4, "y")}));
}

TEST(Grep, BeforeContextAtStartOfFile) {
  TempDir d;
  write_file(d / "c.txt", "a\nm\nb\n");
  GrepParams p = params("m");
  p.before = 5;
  const Outcome run = grep(d.path(), p);
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("c.txt"), (std::vector<L>{C(1, "a"), M(2, "m", {{0, 1}})}));
}

// rg -n -m2 -A2 m: the after context of the last counted match is still printed.
TEST(Grep, MaxCountPerFile) {
  TempDir d;
  write_file(d / "c.txt", "l1\nl2 m\nl3\nl4\nl5 m\nl6\nl7\nl8\nl9\nl10 m\nl11 m\nl12\nl13\n");
  write_file(d / "d.txt", "m\nm\nm\n");
  GrepParams p = params("m");
  p.max_count = 2;
  p.after = 2;
  const Outcome run = grep(d.path(), p);
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("c.txt"), (std::vector<L>{M(2, "l2 m", {{3, 4}}), C(3, "l3"), C(4, "l4"), M(5, "l5 m", {{3, 4}}),
                                                C(6, "l6"), C(7, "l7")}));
  EXPECT_EQ(run.files.at("d.txt").matched_lines, 2u);  // per file
  // ripgrep 13 reports a matching line of the last after-context as a match
  // (rg --json -m2 -A2 m), without counting it or extending the context.
  EXPECT_EQ(run.lines("d.txt"), (std::vector<L>{M(1, "m", {{0, 1}}), M(2, "m", {{0, 1}}), M(3, "m", {{0, 1}})}));
  write_file(d / "d.txt", "m\nm\nx\nm\ny\nm\n");
  p.max_count = 1;
  p.after = 3;
  const Outcome more = grep(d.path(), p);
  EXPECT_EQ(more.lines("d.txt"),
            (std::vector<L>{M(1, "m", {{0, 1}}), M(2, "m", {{0, 1}}), C(3, "x"), M(4, "m", {{0, 1}})}));
  EXPECT_EQ(more.files.at("d.txt").matched_lines, 1u);
}

TEST(Grep, MultilineMatchSpansLines) {
  TempDir d;
  write_file(d / "ml.txt", "foo\nbar\nx\nfoo\nbar baz\n");
  GrepParams p = params("foo\\nbar");
  p.multiline = true;
  const Outcome run = grep(d.path(), p);
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("ml.txt"), (std::vector<L>{M(1, "foo\nbar", {{0, 7}}), M(4, "foo\nbar baz", {{0, 7}})}));
  // Without multiline a line break in the pattern is refused with a hint.
  const Outcome single = grep(d.path(), params("foo\nbar"));
  ASSERT_FALSE(single.stats);
  EXPECT_EQ(single.stats.error().code, error_code::kInvalidParams);
  EXPECT_NE(single.stats.error().message.find("multiline"), std::string::npos);
}

// rg --json 'x*': empty matches at every position where nothing else matches,
// none right after a non-empty match.
TEST(Grep, EmptyMatches) {
  TempDir d;
  write_file(d / "e.txt", "axxb\nnone\nxx\n");
  const Outcome run = grep(d.path(), params("x*"));
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("e.txt"),
            (std::vector<L>{M(1, "axxb", {{0, 0}, {1, 3}, {4, 4}}),
                            M(2, "none", {{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}}), M(3, "xx", {{0, 2}})}));
}

// Without --crlf ripgrep keeps '\r' in the line: "a$" does not match "a\r".
TEST(Grep, CrlfLinesKeepCarriageReturn) {
  TempDir d;
  write_file(d / "crlf.txt", "a\r\nb a\r\n");
  const Outcome run = grep(d.path(), params("a$|b"));
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("crlf.txt"), (std::vector<L>{M(2, "b a\r", {{0, 1}})}));
}

TEST(Grep, Utf16WithBomIsTranscoded) {
  TempDir d;
  // "héllo wörld\nnext\n" as UTF-16LE with a BOM, and "héllo" as UTF-16BE.
  std::string le = "\xFF\xFE";
  for (char16_t c : std::u16string(u"h\u00e9llo w\u00f6rld\nnext\n")) {
    le.push_back(static_cast<char>(c & 0xFF));
    le.push_back(static_cast<char>(c >> 8));
  }
  write_file(d / "le.txt", le);
  std::string be = "\xFE\xFF";
  for (char16_t c : std::u16string(u"h\u00e9llo\n")) {
    be.push_back(static_cast<char>(c >> 8));
    be.push_back(static_cast<char>(c & 0xFF));
  }
  write_file(d / "be.txt", be);
  const Outcome run = grep(d.path(), params("h\u00e9llo"));
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.lines("le.txt"), (std::vector<L>{M(1, "h\u00e9llo w\u00f6rld", {{0, 6}})}));
  EXPECT_EQ(run.lines("be.txt"), (std::vector<L>{M(1, "h\u00e9llo", {{0, 6}})}));
}

TEST(Grep, BinaryFilesAreSkipped) {
  TempDir d;
  write_file(d / "bin.dat", std::string("needle\0more needle\n", 19));
  write_file(d / "text.txt", "needle\n");
  const Outcome run = grep(d.path(), params("needle"));
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.files.size(), 1u);
  EXPECT_EQ(run.files.count("text.txt"), 1u);
  EXPECT_EQ(run.files.count("bin.dat"), 0u);
}

TEST(Grep, CaseModesAndWord) {
  TempDir d;
  write_file(d / "w.txt", "Foo foo\nfood FOO\n");
  GrepParams smart = params("foo");
  smart.case_mode = search::CaseMode::Smart;
  EXPECT_EQ(grep(d.path(), smart).lines("w.txt"),
            (std::vector<L>{M(1, "Foo foo", {{0, 3}, {4, 7}}), M(2, "food FOO", {{0, 3}, {5, 8}})}));
  smart.pattern = "Foo";  // an uppercase letter: case-sensitive
  EXPECT_EQ(grep(d.path(), smart).lines("w.txt"), (std::vector<L>{M(1, "Foo foo", {{0, 3}})}));
  GrepParams word = params("foo");
  word.word = true;
  word.case_mode = search::CaseMode::Insensitive;
  EXPECT_EQ(grep(d.path(), word).lines("w.txt"),
            (std::vector<L>{M(1, "Foo foo", {{0, 3}, {4, 7}}), M(2, "food FOO", {{5, 8}})}));
}

TEST(Grep, Errors) {
  TempDir d;
  write_file(d / "a.txt", "x\n");
  const Outcome bad = grep(d.path(), params("a(b"));
  ASSERT_FALSE(bad.stats);
  EXPECT_EQ(bad.stats.error().code, error_code::kInvalidParams);
  EXPECT_NE(bad.stats.error().message.find("missing )"), std::string::npos) << bad.stats.error().message;
  GrepParams type = params("x");
  type.walk.types = {"no-such-type"};
  const Outcome unknown = grep(d.path(), type);
  ASSERT_FALSE(unknown.stats);
  EXPECT_EQ(unknown.stats.error().code, error_code::kInvalidParams);
  EXPECT_NE(unknown.stats.error().message.find("no-such-type"), std::string::npos);
  GrepParams missing = params("x");
  missing.walk.path = "nope";
  EXPECT_FALSE(grep(d.path(), missing).stats);
}

// A search of a large tree stops soon after the token is cancelled from
// another thread, and reports cancelled. The sink is slowed to 1 ms per file,
// so an uncancelled search would take over 4 s.
TEST(Grep, CancellationFromAnotherThread) {
  TempDir d;
  constexpr int kDirs = 40, kFiles = 100;
  for (int i = 0; i < kDirs; ++i) {
    for (int j = 0; j < kFiles; ++j) {
      write_file(d / ("d" + std::to_string(i) + "/f" + std::to_string(j) + ".txt"), "some text\nneedle here\nmore\n");
    }
  }
  CancellationToken cancel;
  auto root = ConfinedRoot::open(d.path());
  ASSERT_TRUE(root);
  std::atomic<int> seen{0};
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen.load() < 20 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    cancelled_at = std::chrono::steady_clock::now();
    cancel.cancel();
  });
  const auto stats = search::grep(
      *root, params("needle"),
      [&](FileResult&&) {
        ++seen;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      },
      &cancel);
  const auto returned_at = std::chrono::steady_clock::now();
  canceller.join();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_TRUE(stats->cancelled);
  EXPECT_LT(seen.load(), kDirs * kFiles);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(returned_at - cancelled_at).count();
  EXPECT_LT(ms, 500) << "grep returned " << ms << " ms after the cancellation";
}

// An open editor buffer is searched instead of the file on disk.
TEST(Grep, DocumentsOverlay) {
  TempDir d;
  write_file(d / "open.txt", "disk says needle\n");
  write_file(d / "edited.txt", "nothing on disk\n");
  write_file(d / "closed.txt", "closed needle\n");
  Documents docs;
  OpenDocument a;
  a.uri = "file://" + (d / "open.txt");
  a.version = 3;
  a.text = "the buffer has no match\n";
  docs.open("open.txt", a);
  OpenDocument b;
  b.uri = "file://" + (d / "edited.txt");
  b.version = 1;
  b.text = "first\nunsaved needle\n";
  docs.open("edited.txt", b);
  const Outcome run = grep(d.path(), params("needle"), nullptr, &docs);
  ASSERT_TRUE(run.stats);
  EXPECT_EQ(run.files.count("open.txt"), 0u);
  EXPECT_EQ(run.lines("edited.txt"), (std::vector<L>{M(2, "unsaved needle", {{8, 14}})}));
  EXPECT_EQ(run.lines("closed.txt"), (std::vector<L>{M(1, "closed needle", {{7, 13}})}));
  // Without the overlay the disk is searched.
  const Outcome disk = grep(d.path(), params("needle"));
  EXPECT_EQ(disk.files.count("open.txt"), 1u);
  EXPECT_EQ(disk.files.count("edited.txt"), 0u);
}

}  // namespace
}  // namespace icotes
