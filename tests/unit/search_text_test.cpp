// grep and glob as an MCP client reads them (the operation's text block):
// ripgrep's forms (path:line:text, path-line-text and "--" for context,
// path:count, one path a line), long lines cut around the match, and pages
// that stay within the client's text budget (32 KiB by default, the cap
// with an explicit limit) and say, first, the exact call for the next page.
// Programs (max_result_bytes 0) get pages bounded by limit alone, no text.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/workspace.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

using test::TempDir;
using test::write_file;

class SearchText : public ::testing::Test {
 protected:
  void open() {
    auto ws = Workspace::open(dir_.path(), 1);
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    ws_ = std::move(*ws);
  }

  struct Out {
    json result;       // as the client receives it (raw parts spliced)
    std::string text;  // the MCP text block
  };

  // Runs `id` as an MCP client with a cap of `cap` bytes (0: as a program);
  // `structured`: the client receives structuredContent (--structured-output).
  Out call(const std::string& id, const json& params, std::size_t cap = kMaxToolResultBytes, bool structured = false) {
    if (!ws_) open();
    const Operation* op = builtin_registry().find(id);
    EXPECT_NE(op, nullptr);
    CancellationToken token;
    NullProgress progress;
    Context ctx{*ws_, token, progress, nullptr};
    ctx.max_result_bytes = cap;
    ctx.structured_output = structured;
    auto r = builtin_registry().invoke(*op, ctx, params);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return {};
    Out out;
    out.result = json::parse(to_json_string(*r));
    // The renderer gets the complete result with its raw parts expanded to
    // plain JSON, as the MCP dialect hands it over.
    expand(*r);
    out.text = op->mcp_text ? op->mcp_text(*r) : std::string();
    return out;
  }

  // Every raw_json()/raw_json_source() part replaced by the JSON it stands
  // for; hidden members stay.
  static void expand(json& v) {
    if (v.is_binary() && v.get_binary().has_subtype() &&
        (v.get_binary().subtype() == kRawJsonSubtype || v.get_binary().subtype() == kRawSourceSubtype)) {
      std::string text;
      write_json(text, v);
      v = json::parse(text);
      return;
    }
    if (v.is_object() || v.is_array())
      for (auto& m : v) expand(m);
  }

  TempDir dir_;
  std::unique_ptr<Workspace> ws_;
};

TEST_F(SearchText, ContentIsWhatRipgrepPrints) {
  write_file(dir_ / "a.txt", "one needle\nno\nneedle, needle\n");
  write_file(dir_ / "src/b.c", "int needle(void);\r\n");
  auto out = call("search/grep", {{"pattern", "needle"}});
  EXPECT_EQ(out.text, "a.txt:1:one needle\na.txt:3:needle, needle\nsrc/b.c:1:int needle(void);\n");
  // Byte ranges stay in the structured result only.
  EXPECT_EQ(out.result["matches"][1]["submatches"][1]["start"], 8);
  EXPECT_EQ(out.result.contains("text"), false);
}

TEST_F(SearchText, ContextLinesAndGroupSeparators) {
  write_file(dir_ / "a.txt", "1\nneedle 2\n3\n4\n5\nneedle 6\n7\n");
  write_file(dir_ / "b.txt", "needle b\n");
  auto out = call("search/grep", {{"pattern", "needle"}, {"beforeContext", 1}, {"afterContext", 1}});
  EXPECT_EQ(
      out.text,
      "a.txt-1-1\na.txt:2:needle 2\na.txt-3-3\n--\na.txt-5-5\na.txt:6:needle 6\na.txt-7-7\n--\nb.txt:1:needle b\n");
  // Adjacent groups run together, as in rg.
  out = call("search/grep", {{"pattern", "needle"}, {"path", "a.txt"}, {"afterContext", 3}});
  EXPECT_EQ(out.text, "a.txt:2:needle 2\na.txt-3-3\na.txt-4-4\na.txt-5-5\na.txt:6:needle 6\na.txt-7-7\n");
}

TEST_F(SearchText, MultilineMatchesNumberEachLine) {
  write_file(dir_ / "a.txt", "start\nfoo\nbar\nend\n");
  auto out = call("search/grep", {{"pattern", "foo\\nbar"}, {"multiline", true}});
  EXPECT_EQ(out.text, "a.txt:2:foo\na.txt:3:bar\n");
}

TEST_F(SearchText, CountFilesAndGlobForms) {
  write_file(dir_ / "a.txt", "needle\nneedle needle\n");
  write_file(dir_ / "b/c.txt", "needle\n");
  EXPECT_EQ(call("search/grep", {{"pattern", "needle"}, {"outputMode", "count"}}).text, "a.txt:2\nb/c.txt:1\n");
  EXPECT_EQ(call("search/grep", {{"pattern", "needle"}, {"outputMode", "filesWithMatches"}}).text, "a.txt\nb/c.txt\n");
  EXPECT_EQ(call("search/glob", {{"pattern", "**/*.txt"}}).text, "a.txt\nb/c.txt\n");
  EXPECT_EQ(call("search/grep", {{"pattern", "nothing"}}).text, "No matches (2 files searched).\n");
  EXPECT_EQ(call("search/glob", {{"pattern", "*.md"}}).text, "No files match.\n");
}

TEST_F(SearchText, LongLinesAreCutAroundTheMatch) {
  std::string line(3000, 'x');
  line.replace(2000, 6, "needle");
  line.replace(2600, 6, "needle");
  line.replace(2900, 6, "needle");
  write_file(dir_ / "min.js", line + "\n" + std::string(1000, 'y') + "needle\n");
  auto out = call("search/grep", {{"pattern", "needle"}});
  const auto nl = out.text.find('\n');
  const std::string first = out.text.substr(0, nl);
  EXPECT_LT(first.size(), 400u) << first;
  EXPECT_EQ(first.rfind("min.js:1:[...] x", 0), 0u) << first;
  EXPECT_NE(first.find("needle"), std::string::npos);
  EXPECT_TRUE(first.ends_with(" [... 2 more matches]")) << first;
  const std::string second = out.text.substr(nl + 1);
  EXPECT_TRUE(second.ends_with("yneedle\n")) << second;  // the window ends with the line when the match is near its end
  EXPECT_EQ(second.rfind("min.js:2:[...] y", 0), 0u) << second;
  // The structured result keeps the whole line.
  EXPECT_EQ(out.result["matches"][0]["text"].get<std::string>().size(), 3000u);
  // A cut never splits a UTF-8 character.
  std::string wide;
  for (int i = 0; i < 400; ++i) wide += "\xC3\xA9";  // é
  write_file(dir_ / "min.js", wide + "needle" + wide + "\n");
  out = call("search/grep", {{"pattern", "needle"}, {"path", "min.js"}});
  const std::string cut = out.text.substr(std::string("min.js:1:[...] ").size());
  EXPECT_EQ(cut.rfind("\xC3\xA9", 0), 0u);
  EXPECT_NE(cut.find("\xC3\xA9 [... omitted end of long line]"), std::string::npos) << cut;
}

// A tree whose 3000 matching lines come to about 540 KB of text.
void many_lines(const TempDir& dir) {
  for (int f = 0; f < 30; ++f) {
    std::string text;
    for (int l = 0; l < 100; ++l) text += "needle " + std::string(150, 'a' + static_cast<char>(l % 26)) + "\n";
    write_file(dir / ("dir/file" + std::to_string(100 + f) + ".txt"), text);
  }
}

TEST_F(SearchText, DefaultPagesStayWithinTheDefaultBudgetAndSayHowToGoOn) {
  many_lines(dir_);
  auto out = call("search/grep", {{"pattern", "needle"}});
  EXPECT_LE(out.text.size(), kDefaultToolResultBytes);
  EXPECT_GT(out.text.size(), kDefaultToolResultBytes / 2);
  EXPECT_EQ(out.result["truncated"], true);
  const std::string next = out.result["nextCursor"];
  const std::size_t shown = std::stoul(next);
  EXPECT_LT(shown, 250u);  // the budget ended the page before the limit did
  EXPECT_EQ(out.result["total"], 3000);
  // First line: the note with the exact call for the next page.
  const std::string head = out.text.substr(0, out.text.find('\n'));
  EXPECT_EQ(head, "Showing lines 1-" + next + " of 3000; " + std::to_string(3000 - shown) +
                      " more (the page stopped at the size limit). Next page: grep {\"cursor\":\"" + next +
                      "\",\"pattern\":\"needle\"}. Or narrow with \"path\", \"include\" or \"type\".");
  EXPECT_EQ(out.result["note"], head);
  // That call continues exactly where the page stopped.
  auto page2 = call("search/grep", {{"pattern", "needle"}, {"cursor", next}});
  EXPECT_EQ(page2.result["matches"][0]["line"], out.result["matches"][shown - 1]["line"].get<int>() + 1);
  EXPECT_EQ(page2.text.find("Showing lines " + std::to_string(shown + 1) + "-"), 0u);
}

TEST_F(SearchText, NoParametersGoPastTheCap) {
  many_lines(dir_);
  auto out = call("search/grep", {{"pattern", "needle"}, {"limit", 100000}});
  EXPECT_LE(out.text.size(), kMaxToolResultBytes);
  EXPECT_GT(out.text.size(), kDefaultToolResultBytes);
  // structuredContent too, for a client that receives it.
  out = call("search/grep", {{"pattern", "needle"}, {"limit", 100000}}, kMaxToolResultBytes, true);
  EXPECT_LE(out.text.size(), kMaxToolResultBytes);
  EXPECT_LE(to_json_string(out.result).size(), kMaxToolResultBytes + 4096);
  // A client that lowered the cap gets pages within it.
  out = call("search/grep", {{"pattern", "needle"}, {"limit", 100000}}, 8192);
  EXPECT_LE(out.text.size(), 8192u);
  out = call("search/grep", {{"pattern", "needle"}}, 8192);
  EXPECT_LE(out.text.size(), 8192u);
  out = call("search/grep", {{"pattern", "needle"}, {"outputMode", "count"}, {"limit", 100000}}, 2048);
  EXPECT_LE(out.text.size(), 2048u);
  // With structuredContent the JSON (a few times the text) is held to it too.
  out = call("search/grep", {{"pattern", "needle"}, {"outputMode", "count"}, {"limit", 100000}}, 2048, true);
  EXPECT_LE(out.text.size(), 2048u);
  EXPECT_LE(to_json_string(out.result).size(), 2048u + 4096);
  EXPECT_EQ(out.result["truncated"], true);
}

TEST_F(SearchText, WithoutStructuredOutputOnlyTheTextBoundsAPage) {
  // Many short matches: their JSON (offsets, submatches) is several times
  // their text. A client that never receives the JSON gets the whole page
  // the text budget allows, not one cut by the JSON's size.
  std::string lines;
  for (int i = 0; i < 3000; ++i) lines += "ab\n";
  write_file(dir_ / "short.txt", lines);
  auto out = call("search/grep", {{"pattern", "a|b"}, {"limit", 2000}});
  EXPECT_EQ(out.result["matches"].size(), 2000u);
  out = call("search/grep", {{"pattern", "a|b"}, {"limit", 2000}}, kMaxToolResultBytes, true);
  EXPECT_LT(out.result["matches"].size(), 2000u);
  EXPECT_LE(to_json_string(out.result).size(), kMaxToolResultBytes + 4096);
}

TEST_F(SearchText, ProgramsGetPagesBoundedByLimitOnly) {
  many_lines(dir_);
  auto out = call("search/grep", {{"pattern", "needle"}, {"limit", 2000}}, 0);
  EXPECT_EQ(out.result["matches"].size(), 2000u);
  EXPECT_EQ(out.result["nextCursor"], "2000");
  out = call("search/grep", {{"pattern", "needle"}}, 0);
  EXPECT_EQ(out.result["matches"].size(), 250u);
  // Only the files up to the page's end keep their lines: a deep page
  // still finds its own, and the total counts every file's.
  out = call("search/grep", {{"pattern", "needle"}, {"cursor", "2950"}, {"limit", 100}}, 0);
  EXPECT_EQ(out.result["total"], 3000);
  ASSERT_EQ(out.result["matches"].size(), 50u);
  EXPECT_EQ(out.result["matches"][0]["path"], "dir/file129.txt");
  EXPECT_EQ(out.result["matches"][0]["line"], 51);
  EXPECT_EQ(out.result["matches"][49]["line"], 100);
  out = call("search/grep", {{"pattern", "needle"}, {"cursor", "1234"}, {"limit", 1}}, 0);
  EXPECT_EQ(out.result["matches"][0]["path"], "dir/file112.txt");
  EXPECT_EQ(out.result["matches"][0]["line"], 35);
}

TEST_F(SearchText, ARenderedResultWithoutABudgetKeepsTheForms) {
  write_file(dir_ / "a.txt", "one\nneedle\n");
  auto out = call("search/grep", {{"pattern", "needle"}, {"beforeContext", 1}}, 0);
  EXPECT_EQ(out.text, "a.txt-1-one\na.txt:2:needle\n");
  out = call("search/grep", {{"pattern", "needle"}, {"outputMode", "count"}}, 0);
  EXPECT_EQ(out.text, "a.txt:1\n");
  out = call("search/glob", {{"pattern", "*"}}, 0);
  EXPECT_EQ(out.text, "a.txt\n");
  write_file(dir_ / "b.txt", "needle\ntwo\nthree\nneedle\n");
  out = call("search/grep", {{"pattern", "needle"}, {"afterContext", 1}}, 0);
  EXPECT_EQ(out.text, "a.txt:2:needle\n--\nb.txt:1:needle\nb.txt-2-two\n--\nb.txt:4:needle\n");
}

TEST_F(SearchText, GlobPagesWithCursor) {
  const std::string d = "d/a-directory-name-long-enough-that-a-thousand-paths-pass-32-KiB/file";
  for (int i = 0; i < 1200; ++i) write_file(dir_ / (d + std::to_string(10000 + i)), "");
  auto out = call("search/glob", {{"pattern", "**"}});
  EXPECT_LE(out.text.size(), kDefaultToolResultBytes);
  EXPECT_EQ(out.result["truncated"], true);
  const std::string next = out.result["nextCursor"];
  EXPECT_NE(out.text.find("Next page: glob {\"cursor\":\"" + next + "\",\"pattern\":\"**\"}"), std::string::npos);
  auto page2 = call("search/glob", {{"pattern", "**"}, {"cursor", next}});
  const std::size_t shown = std::stoul(next);
  EXPECT_EQ(page2.result["files"][0], d + std::to_string(10000 + shown));
  // The last page: no note, no cursor.
  auto last = call("search/glob", {{"pattern", "**"}, {"cursor", "1199"}});
  EXPECT_EQ(last.text, d + "11199\n");
  EXPECT_FALSE(last.result.contains("nextCursor"));
}

TEST_F(SearchText, LeftOutFilesAreNotedAtTheEnd) {
  write_file(dir_ / "a.txt", "needle\n");
  open();
  const Operation* op = builtin_registry().find("search/grep");
  CancellationToken token;
  NullProgress progress;
  Context ctx{*ws_, token, progress, nullptr};
  ctx.max_result_bytes = kMaxToolResultBytes;
  write_file(dir_ / "secret.txt", "needle\n");
  ctx.read_denied = [](std::string_view rel) { return rel == "secret.txt"; };
  auto r = builtin_registry().invoke(*op, ctx, {{"pattern", "needle"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(op->mcp_text(*r), "a.txt:1:needle\n1 file was left out: a Read deny rule covers it.\n");
}

}  // namespace
}  // namespace icotes
