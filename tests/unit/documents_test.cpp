#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "icotes/documents.hpp"
#include "icotes/files.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

// "a𝄞b" then "é!" on a second line: U+1D11E is 4 UTF-8 bytes, 2 UTF-16 units.
const std::string kAstral =
    "a\xF0\x9D\x84\x9E"
    "b\n\xC3\xA9!";

TEST(Positions, Utf16CountsSurrogatePairsAsTwo) {
  const auto e = PositionEncoding::Utf16;
  EXPECT_EQ(offset_of(kAstral, {0, 0}, e), 0u);
  EXPECT_EQ(offset_of(kAstral, {0, 1}, e), 1u);
  EXPECT_EQ(offset_of(kAstral, {0, 2}, e), 1u);  // inside the pair: stays before it
  EXPECT_EQ(offset_of(kAstral, {0, 3}, e), 5u);
  EXPECT_EQ(offset_of(kAstral, {0, 4}, e), 6u);
  EXPECT_EQ(offset_of(kAstral, {0, 99}, e), 6u);  // clamped to the line's end
  EXPECT_EQ(offset_of(kAstral, {1, 0}, e), 7u);
  EXPECT_EQ(offset_of(kAstral, {1, 1}, e), 9u);  // é is one unit
  EXPECT_EQ(offset_of(kAstral, {1, 2}, e), 10u);
  EXPECT_EQ(offset_of(kAstral, {7, 3}, e), kAstral.size());  // past the last line

  EXPECT_EQ(position_of(kAstral, 0, e).character, 0u);
  EXPECT_EQ(position_of(kAstral, 5, e).character, 3u);
  EXPECT_EQ(position_of(kAstral, 6, e).character, 4u);
  const Position p = position_of(kAstral, 9, e);
  EXPECT_EQ(p.line, 1u);
  EXPECT_EQ(p.character, 1u);
  const Position end = position_of(kAstral, 1000, e);
  EXPECT_EQ(end.line, 1u);
  EXPECT_EQ(end.character, 2u);
}

TEST(Positions, Utf8CountsBytes) {
  const auto e = PositionEncoding::Utf8;
  EXPECT_EQ(offset_of(kAstral, {0, 1}, e), 1u);
  EXPECT_EQ(offset_of(kAstral, {0, 3}, e), 1u);  // inside the 4-byte sequence
  EXPECT_EQ(offset_of(kAstral, {0, 5}, e), 5u);
  EXPECT_EQ(offset_of(kAstral, {0, 6}, e), 6u);
  EXPECT_EQ(offset_of(kAstral, {1, 2}, e), 9u);
  EXPECT_EQ(position_of(kAstral, 5, e).character, 5u);
  EXPECT_EQ(position_of(kAstral, 10, e).character, 3u);
}

TEST(Positions, Utf32CountsCodePoints) {
  const auto e = PositionEncoding::Utf32;
  EXPECT_EQ(offset_of(kAstral, {0, 1}, e), 1u);
  EXPECT_EQ(offset_of(kAstral, {0, 2}, e), 5u);
  EXPECT_EQ(offset_of(kAstral, {0, 3}, e), 6u);
  EXPECT_EQ(offset_of(kAstral, {1, 1}, e), 9u);
  EXPECT_EQ(position_of(kAstral, 5, e).character, 2u);
  EXPECT_EQ(position_of(kAstral, 10, e).character, 2u);
}

TEST(Positions, CrlfLineEnds) {
  const std::string t = "ab\r\ncd\r\n";
  for (auto e : {PositionEncoding::Utf16, PositionEncoding::Utf8, PositionEncoding::Utf32}) {
    EXPECT_EQ(offset_of(t, {0, 2}, e), 2u);
    EXPECT_EQ(offset_of(t, {0, 10}, e), 2u);  // clamped before the '\r'
    EXPECT_EQ(offset_of(t, {1, 0}, e), 4u);
    EXPECT_EQ(offset_of(t, {1, 1}, e), 5u);
    EXPECT_EQ(offset_of(t, {2, 0}, e), 8u);
    const Position p = position_of(t, 5, e);
    EXPECT_EQ(p.line, 1u);
    EXPECT_EQ(p.character, 1u);
  }
}

TEST(Positions, RoundTripAtEveryCharacterBoundary) {
  const std::string t = "x\xF0\x9F\x98\x80y\n\xE2\x9C\x93\r\n\nz\xC3\xA9";
  for (auto e : {PositionEncoding::Utf16, PositionEncoding::Utf8, PositionEncoding::Utf32}) {
    for (std::size_t off = 0; off <= t.size(); ++off) {
      if (off < t.size() && (static_cast<unsigned char>(t[off]) & 0xC0) == 0x80) continue;  // not a boundary
      if (off > 0 && t[off - 1] == '\r') continue;                                          // between '\r' and '\n'
      EXPECT_EQ(offset_of(t, position_of(t, off, e), e), off) << "offset " << off;
    }
  }
}

TEST(Documents, OpenGetCloseAndIncrementalChanges) {
  Documents docs;
  EXPECT_FALSE(docs.get("a.txt").has_value());
  docs.open("a.txt", {"file:///w/a.txt", "plaintext", 1, "hello\nworld\n", {}});
  ASSERT_TRUE(docs.get("a.txt").has_value());
  EXPECT_EQ(docs.get("a.txt")->version, 1);

  const auto u16 = PositionEncoding::Utf16;
  ASSERT_TRUE(docs.change("a.txt", 2, {{0, 0}, {0, 5}}, "HELLO", u16).ok());
  EXPECT_EQ(docs.get("a.txt")->text, "HELLO\nworld\n");
  ASSERT_TRUE(docs.change("a.txt", 3, {{1, 5}, {1, 5}}, "!", u16).ok());
  EXPECT_EQ(docs.get("a.txt")->text, "HELLO\nworld!\n");
  ASSERT_TRUE(docs.change("a.txt", 4, {{0, 5}, {1, 0}}, " ", u16).ok());  // join lines
  EXPECT_EQ(docs.get("a.txt")->text, "HELLO world!\n");
  ASSERT_TRUE(docs.change("a.txt", 5, {{1, 0}, {1, 0}}, "line2\nline3", u16).ok());  // append at the end
  EXPECT_EQ(docs.get("a.txt")->text, "HELLO world!\nline2\nline3");
  ASSERT_TRUE(docs.change("a.txt", 6, {{2, 4}, {2, 99}}, "", u16).ok());  // clamped end
  EXPECT_EQ(docs.get("a.txt")->text, "HELLO world!\nline2\nline");
  EXPECT_EQ(docs.get("a.txt")->version, 6);

  ASSERT_TRUE(docs.replace("a.txt", 7, "whole\n").ok());
  EXPECT_EQ(docs.get("a.txt")->text, "whole\n");
  EXPECT_EQ(docs.open_paths(), std::vector<std::string>{"a.txt"});
  docs.close("a.txt");
  EXPECT_FALSE(docs.get("a.txt").has_value());
  EXPECT_EQ(docs.change("a.txt", 8, {{0, 0}, {0, 0}}, "x", u16).error().code, error_code::kNotFound);
  EXPECT_EQ(docs.replace("a.txt", 8, "x").error().code, error_code::kNotFound);
}

TEST(Documents, IncrementalChangesWithAstralCharacters) {
  Documents docs;
  docs.open("u.txt", {"file:///w/u.txt", "plaintext", 1, "x\xF0\x9D\x84\x9Ey\n", {}});
  // Replace the astral character (UTF-16 columns 1..3) with "z".
  ASSERT_TRUE(docs.change("u.txt", 2, {{0, 1}, {0, 3}}, "z", PositionEncoding::Utf16).ok());
  EXPECT_EQ(docs.get("u.txt")->text, "xzy\n");
  ASSERT_TRUE(docs.change("u.txt", 3, {{0, 1}, {0, 2}}, "\xF0\x9F\x98\x80", PositionEncoding::Utf8).ok());
  EXPECT_EQ(docs.get("u.txt")->text, "x\xF0\x9F\x98\x80y\n");
  ASSERT_TRUE(docs.change("u.txt", 4, {{0, 2}, {0, 3}}, "Y", PositionEncoding::Utf32).ok());
  EXPECT_EQ(docs.get("u.txt")->text, "x\xF0\x9F\x98\x80Y\n");
  // A reversed range is taken in order.
  ASSERT_TRUE(docs.change("u.txt", 5, {{0, 3}, {0, 0}}, "", PositionEncoding::Utf32).ok());
  EXPECT_EQ(docs.get("u.txt")->text, "\n");
}

TEST(Documents, WaitForChange) {
  Documents docs;
  docs.open("w.txt", {"u", "plaintext", 1, "a", {}});
  EXPECT_FALSE(docs.wait_for_change("w.txt", 1, std::chrono::milliseconds(20)));
  EXPECT_TRUE(docs.wait_for_change("w.txt", 0, std::chrono::milliseconds(20)));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (void)docs.replace("w.txt", 2, "b");
  });
  EXPECT_TRUE(docs.wait_for_change("w.txt", 1, std::chrono::seconds(5)));
  t.join();
  EXPECT_TRUE(docs.wait_for_change("closed.txt", 1, std::chrono::milliseconds(1)));
}

// An editor that records the edit and confirms it with a didChange, as an
// LSP client does.
class FakeEditor final : public EditorLink {
 public:
  explicit FakeEditor(Documents& docs, std::string rel) : docs_(docs), rel_(std::move(rel)) {}
  struct Call {
    std::string uri;
    std::int64_t version;
    std::string old_text;
    std::size_t begin, end;
    std::string replacement;
  };
  std::vector<Call> calls;
  bool accept = true;

  Result<bool> apply_edit(const std::string& uri, std::int64_t version, std::string_view old_text, std::size_t begin,
                          std::size_t end, std::string_view replacement, std::chrono::milliseconds) override {
    calls.push_back({uri, version, std::string(old_text), begin, end, std::string(replacement)});
    if (!accept) return false;
    std::string text(old_text);
    text.replace(begin, end - begin, replacement);
    (void)docs_.replace(rel_, version + 1, std::move(text));
    return true;
  }
  std::string editor_name() const override { return "fake"; }
  Result<bool> show_document(const std::string& uri, std::optional<Position> at, std::chrono::milliseconds) override {
    shown.emplace_back(uri, at);
    return true;
  }
  std::vector<std::pair<std::string, std::optional<Position>>> shown;

 private:
  Documents& docs_;
  std::string rel_;
};

TEST(DocumentsEditors, TheLastAttachedEditorThatIsStillThereIsChosen) {
  Documents docs;
  EXPECT_EQ(docs.editor(), nullptr);
  auto first = std::make_shared<FakeEditor>(docs, "a.txt");
  auto second = std::make_shared<FakeEditor>(docs, "b.txt");
  docs.add_editor(first);
  docs.add_editor(second);
  EXPECT_EQ(docs.editor(), second);
  second.reset();  // that editor disconnected
  EXPECT_EQ(docs.editor(), first);
  first.reset();
  EXPECT_EQ(docs.editor(), nullptr);
}

class OpenDocumentFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "a.txt", "disk text\n");
    auto r = ConfinedRoot::open(dir_.path());
    ASSERT_TRUE(r.ok());
    root_.emplace(std::move(*r));
    files_.emplace(*root_, docs_);
    editor_ = std::make_shared<FakeEditor>(docs_, "a.txt");
    docs_.open("a.txt", {"file://" + dir_.path() + "/a.txt", "plaintext", 4, "hello world\n", editor_});
  }

  TempDir dir_;
  Documents docs_;
  std::optional<ConfinedRoot> root_;
  std::optional<files::Service> files_;
  std::shared_ptr<FakeEditor> editor_;
};

TEST_F(OpenDocumentFiles, ReadReturnsTheBuffer) {
  auto r = files_->read({"a.txt", std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->source, "editor");
  EXPECT_EQ(r->content, "hello world\n");
  EXPECT_EQ(r->sha256, files::sha256_hex("hello world\n"));
  EXPECT_EQ(r->size, 12u);
  auto st = files_->stat("a.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->open_in_editor);
}

TEST_F(OpenDocumentFiles, WriteGoesToTheEditorWithTheChangedRange) {
  auto w = files_->write({"a.txt", "hello there world\n", std::nullopt});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->via, "editor");
  ASSERT_EQ(editor_->calls.size(), 1u);
  const auto& c = editor_->calls[0];
  EXPECT_EQ(c.uri, "file://" + dir_.path() + "/a.txt");
  EXPECT_EQ(c.version, 4);
  EXPECT_EQ(c.old_text, "hello world\n");
  EXPECT_EQ(c.begin, 6u);
  EXPECT_EQ(c.end, 6u);
  EXPECT_EQ(c.replacement, "there ");
  EXPECT_EQ(read_file(dir_ / "a.txt"), "disk text\n");  // the disk is the editor's business
  EXPECT_EQ(docs_.get("a.txt")->text, "hello there world\n");
}

TEST_F(OpenDocumentFiles, ExpectedShaIsCheckedAgainstTheBuffer) {
  auto w = files_->write({"a.txt", "x\n", files::sha256_hex("disk text\n")});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, error_code::kConflict);
  EXPECT_TRUE(editor_->calls.empty());
  w = files_->write({"a.txt", "x\n", files::sha256_hex("hello world\n")});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(editor_->calls.size(), 1u);
  EXPECT_EQ(editor_->calls[0].begin, 0u);
  EXPECT_EQ(editor_->calls[0].end, 11u);  // the common "\n" suffix is kept
  EXPECT_EQ(editor_->calls[0].replacement, "x");
}

TEST_F(OpenDocumentFiles, RangeNeverSplitsAUtf8Sequence) {
  docs_.open("a.txt", {"file://" + dir_.path() + "/a.txt", "plaintext", 9, "a\xC3\xA9z", editor_});
  auto w = files_->write({"a.txt", "a\xC3\xA8z", std::nullopt});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(editor_->calls.size(), 1u);
  EXPECT_EQ(editor_->calls[0].begin, 1u);
  EXPECT_EQ(editor_->calls[0].end, 3u);
  EXPECT_EQ(editor_->calls[0].replacement, "\xC3\xA8");
  EXPECT_EQ(docs_.get("a.txt")->text, "a\xC3\xA8z");
}

TEST_F(OpenDocumentFiles, EditGoesToTheEditor) {
  files::EditParams ep;
  ep.path = "a.txt";
  ep.edits.push_back({"world", "there", false});
  auto e = files_->edit(ep);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->via, "editor");
  ASSERT_EQ(editor_->calls.size(), 1u);
  EXPECT_EQ(editor_->calls[0].begin, 6u);
  EXPECT_EQ(editor_->calls[0].end, 11u);
  EXPECT_EQ(editor_->calls[0].replacement, "there");
  EXPECT_EQ(docs_.get("a.txt")->text, "hello there\n");
  EXPECT_EQ(read_file(dir_ / "a.txt"), "disk text\n");
}

TEST_F(OpenDocumentFiles, EditorRefusalIsAConflict) {
  editor_->accept = false;
  auto w = files_->write({"a.txt", "nope\n", std::nullopt});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, error_code::kConflict);
  EXPECT_EQ(docs_.get("a.txt")->text, "hello world\n");
  EXPECT_EQ(read_file(dir_ / "a.txt"), "disk text\n");
}

TEST_F(OpenDocumentFiles, WithoutALiveEditorTheDiskIsWritten) {
  editor_.reset();  // the editor went away; its buffer is still listed
  auto w = files_->write({"a.txt", "to disk\n", std::nullopt});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->via, "disk");
  EXPECT_EQ(read_file(dir_ / "a.txt"), "to disk\n");
}

TEST_F(OpenDocumentFiles, CloseOwnedByDropsTheEditorsBuffers) {
  docs_.open("b.txt", {"u", "plaintext", 1, "b", {}});  // no owner
  auto other = std::make_shared<FakeEditor>(docs_, "c.txt");
  docs_.open("c.txt", {"u", "plaintext", 1, "c", other});
  docs_.close_owned_by(editor_.get());
  EXPECT_FALSE(docs_.get("a.txt").has_value());
  EXPECT_TRUE(docs_.get("c.txt").has_value());
  auto r = files_->read({"a.txt", std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->source, "disk");
  EXPECT_EQ(r->content, "disk text\n");
}

}  // namespace
}  // namespace icotes
