// What the MCP dialect makes of results and tools: the text a model reads,
// the cut at the client's cap, the listed schema, the tool groups.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "icotes/builtin_ops.hpp"
#include "icotes/mcp.hpp"

namespace icotes {
namespace {

TEST(McpRenderText, FlatResultsAreKeyValueLinesPathFirstNoteLast) {
  const json r = {{"bytes", 6},      {"created", true}, {"path", "out/new.txt"}, {"note", "written"}, {"via", "disk"},
                  {"gone", nullptr}, {"empty", ""}};
  EXPECT_EQ(mcp::render_text(r),
            "path: out/new.txt\nbytes: 6\ncreated: true\nempty: \"\"\ngone: null\nvia: disk\nnote: written\n");
}

TEST(McpRenderText, TheTextMemberComesLastVerbatimAfterABlankLine) {
  const json r = {{"path", "a.txt"}, {"content", "line \"one\"\n\tline two\n"}, {"totalLines", 2}};
  EXPECT_EQ(mcp::render_text(r, "content"), "path: a.txt\ntotalLines: 2\n\nline \"one\"\n\tline two\n");
  // Empty text: no blank line, nothing after the header.
  EXPECT_EQ(mcp::render_text({{"path", "b"}, {"content", ""}}, "content"), "path: b\n");
}

TEST(McpRenderText, ListsAreLinesAndObjectsAreIndented) {
  const json r = {
      {"files", {"src/a.c", "src/lib/b.h", "docs/a very long name that makes the list too long to share one line.md"}},
      {"tags", {"v1", "v2"}},
      {"none", json::array()},
      {"entries", {{{"path", "a"}, {"status", "M"}}, {{"path", "b"}, {"status", "A"}}}},
      {"stats", {{"files", 2}, {"ms", 1.5}}},
      {"total", 3}};
  EXPECT_EQ(mcp::render_text(r),
            "total: 3\n"
            "entries (2):\n  path: a, status: M\n  path: b, status: A\n"
            "files (3):\n  src/a.c\n  src/lib/b.h\n  docs/a very long name that makes the list too long to share one "
            "line.md\n"
            "none: (none)\n"
            "stats:\n  files: 2\n  ms: 1.5\n"
            "tags: v1, v2\n");
}

TEST(McpRenderText, NestedItemsAreYamlLikeAndBlocksKeepTheirLines) {
  const json r = {{"commits", {{{"hash", "abc"}, {"author", {{"name", "Ann"}}}, {"subject", "fix"}}}},
                  {"diff", "--- a/x\n+++ b/x\n-old\n+new"}};
  EXPECT_EQ(mcp::render_text(r),
            "commits (1):\n  - author:\n      name: Ann\n    hash: abc\n    subject: fix\n"
            "diff:\n--- a/x\n+++ b/x\n-old\n+new\n");
  const json nested = {{"items", {{{"path", "p"}, {"text", "a\nb\n"}}}}};
  EXPECT_EQ(mcp::render_text(nested), "items (1):\n  - path: p\n    text: |\n      a\n      b\n");
}

TEST(McpRenderText, NeverJsonEscapedAndHiddenMembersLeftOut) {
  const json r = {{"path", "q\"uote\\d.txt"}, {"listing", hidden_text("secret cache")}, {"ok", true}};
  const std::string text = mcp::render_text(r);
  EXPECT_EQ(text, "path: q\"uote\\d.txt\nok: true\n");
  EXPECT_EQ(mcp::render_text(json("just text\n")), "just text\n");
}

TEST(McpRenderText, StopsAddingLinesPastTheLimit) {
  json r = {{"path", "p"}, {"files", json::array()}};
  for (int i = 0; i < 10000; ++i) r["files"].push_back("some/long/path/number/" + std::to_string(i));
  const std::string all = mcp::render_text(r);
  const std::string some = mcp::render_text(r, {}, 1000);
  EXPECT_GT(some.size(), 1000u);
  EXPECT_LT(some.size(), 1100u);
  EXPECT_EQ(all.compare(0, some.size(), some), 0) << "the beginning is the same";
}

TEST(McpRenderText, AnImageIsNamedNotDumped) {
  const json r = {{"path", "p.png"}, {"image", {{"mimeType", "image/png"}, {"data", "iVBORw0KGgo="}}}};
  EXPECT_EQ(mcp::render_text(r), "path: p.png\nimage: image/png, 8 bytes (attached as an image)\n");
}

TEST(McpExpandRawParts, SearchPagesBecomePlainJson) {
  json r = {{"files", raw_json(R"(["a","b"])")}, {"nested", {{"x", raw_json("{\"k\":1}")}}}, {"total", 2}};
  mcp::expand_raw_parts(r);
  EXPECT_EQ(r, json::parse(R"({"files":["a","b"],"nested":{"x":{"k":1}},"total":2})"));
  json hidden = {{"listing", hidden_text("x")}};
  mcp::expand_raw_parts(hidden);
  EXPECT_TRUE(hidden_text_of(hidden["listing"]));
}

TEST(McpCutText, CutsAtALineEndAndAppendsTheNote) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i) + " of some text\n";
  const std::string note = "[cut]";
  const std::string cut = mcp::cut_text(text, 200, note);
  EXPECT_LE(cut.size(), 200u);
  EXPECT_EQ(cut.substr(cut.size() - note.size()), note);
  const std::string kept = cut.substr(0, cut.size() - note.size());
  EXPECT_EQ(kept.back(), '\n');
  EXPECT_EQ(text.compare(0, kept.size(), kept), 0);
  EXPECT_EQ(mcp::cut_text("short\n", 200, note), "short\n");
}

TEST(McpCutText, ALongLineIsCutBetweenCharacters) {
  std::string text = "head\n";
  for (int i = 0; i < 100; ++i) text += "é";  // two bytes each
  const std::string cut = mcp::cut_text(text, 60, "[cut]");
  EXPECT_LE(cut.size(), 60u);
  const std::string kept = cut.substr(0, cut.size() - 6);  // "\n[cut]"
  EXPECT_EQ(kept.rfind("head\n", 0), 0u);
  EXPECT_EQ((kept.size() - 5) % 2, 0u) << "a UTF-8 sequence was split";
}

Operation op_with(json input) {
  Operation op;
  op.id = "files/read";
  op.mcp_name = "read_file";
  op.input_schema = std::move(input);
  return op;
}

TEST(McpCutNote, NamesTheCapAndTheParametersThatAskForLess) {
  const Operation op = op_with(json::parse(
      R"({"type":"object","properties":{"path":{"type":"string"},"maxBytes":{"type":"integer"},"limit":{"type":"integer"},"offset":{"type":"integer"}}})"));
  EXPECT_EQ(mcp::cut_note(op, 102400),
            "[icotes: result cut at this client's limit of 102,400 bytes (icotes serve --max-result-bytes). Call "
            "read_file again asking for less (offset, limit or maxBytes).]");
  const Operation bare = op_with(json::parse(R"({"type":"object","properties":{"path":{"type":"string"}}})"));
  EXPECT_NE(mcp::cut_note(bare, 1024).find("asking for less (narrower arguments)"), std::string::npos);
}

TEST(McpListedSchema, LeavesOutWhatOnlyValidatesAndServerAnnotations) {
  const Operation op = op_with(json::parse(R"({"type":"object","additionalProperties":false,"required":["p"],
    "properties":{"p":{"x-permission":"path","type":"string","minLength":1,"maxLength":9,"pattern":"^a","description":"d"},
                  "n":{"type":"integer","minimum":1,"maximum":5,"exclusiveMaximum":9},
                  "a":{"type":"array","minItems":1,"maxItems":3,"uniqueItems":true,"items":{"type":"object",
                       "additionalProperties":false,"properties":{"s":{"type":"string","minLength":1,"x-y":1}}}},
                  "u":{"oneOf":[{"type":"string","pattern":"x"},{"type":"object","x-z":true,"additionalProperties":true,
                       "properties":{"f":{"type":"string","maxLength":2}}}]},
                  "o":{"type":"object","additionalProperties":{"type":"string","minLength":1}}}})"));
  EXPECT_EQ(mcp::listed_input_schema(op), json::parse(R"({"type":"object","required":["p"],
    "properties":{"p":{"type":"string","description":"d"},"n":{"type":"integer"},
                  "a":{"type":"array","items":{"type":"object","properties":{"s":{"type":"string"}}}},
                  "u":{"oneOf":[{"type":"string"},{"type":"object","properties":{"f":{"type":"string"}}}]},
                  "o":{"type":"object","additionalProperties":{"type":"string"}}}})"));
  // The full form keeps every keyword but never the x- annotations.
  const json full = mcp::listed_input_schema(op, true);
  EXPECT_EQ(full["properties"]["p"],
            json::parse(R"({"type":"string","minLength":1,"maxLength":9,"pattern":"^a","description":"d"})"));
  EXPECT_EQ(full["additionalProperties"], false);
  EXPECT_EQ(full["properties"]["n"]["maximum"], 5);
  EXPECT_FALSE(full["properties"]["a"]["items"]["properties"]["s"].contains("x-y"));
  EXPECT_FALSE(full["properties"]["u"]["oneOf"][1].contains("x-z"));
}

TEST(McpListedSchema, HiddenPropertiesAreLeftOutUnlessFull) {
  Operation op = op_with(json::parse(R"({"type":"object","required":["p"],
    "properties":{"p":{"type":"string"},"rare":{"type":"boolean"},"other":{"type":"integer"}}})"));
  op.mcp_hidden = {"rare"};
  EXPECT_EQ(
      mcp::listed_input_schema(op),
      json::parse(
          R"({"type":"object","required":["p"],"properties":{"p":{"type":"string"},"other":{"type":"integer"}}})"));
  EXPECT_TRUE(mcp::listed_input_schema(op, true)["properties"].contains("rare"));
  // required never names what is not listed (the registry refuses a hidden required property).
  op.mcp_hidden = {"p"};
  EXPECT_FALSE(mcp::listed_input_schema(op).contains("required"));
}

TEST(McpListedSchema, EveryBuiltinToolListsItsRequiredPropertiesAndNoHiddenOne) {
  std::size_t hidden = 0;
  for (const Operation* op : builtin_registry().all()) {
    SCOPED_TRACE(op->id);
    const json listed = mcp::listed_input_schema(*op);
    const json props = listed.value("properties", json::object());
    for (const auto& r : listed.value("required", json::array())) EXPECT_TRUE(props.contains(r)) << r;
    EXPECT_EQ(listed.value("required", json::array()), op->input_schema.value("required", json::array()));
    for (const auto& h : op->mcp_hidden) {
      EXPECT_FALSE(props.contains(h)) << h;
      EXPECT_TRUE(op->input_schema["properties"].contains(h)) << h;
      ++hidden;
    }
    // Every schema in it (not the properties maps, whose keys are names such as grep's "pattern").
    auto check = [](auto& self, const json& s) -> void {
      if (!s.is_object()) return;
      for (const auto& [k, v] : s.items()) {
        EXPECT_NE(k.rfind("x-", 0), 0u) << k;
        for (const char* bad : {"minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems"})
          EXPECT_NE(k, bad);
        if (k == "additionalProperties") {
          EXPECT_FALSE(v.is_boolean());
        }
      }
      if (s.contains("properties"))
        for (const auto& [name, p] : s["properties"].items()) self(self, p);
      if (s.contains("items")) self(self, s["items"]);
      for (const char* k : {"anyOf", "oneOf", "allOf"})
        if (s.contains(k))
          for (const auto& alt : s[k]) self(self, alt);
    };
    check(check, listed);
    EXPECT_EQ(mcp::listed_input_schema(*op, true).value("properties", json::object()).size(),
              op->input_schema.value("properties", json::object()).size());
  }
  EXPECT_GT(hidden, 0u);
}

TEST(McpToolFilter, TheWorkspaceNarrowsNeverWidensAndEventsAreNeverOffered) {
  ClientProfile all;
  auto f = mcp::tool_filter(all, std::nullopt);
  EXPECT_TRUE(f.offers("files"));
  EXPECT_TRUE(f.offers("test"));
  EXPECT_FALSE(f.offers("events"));

  ClientProfile some;
  some.tool_groups = {"files", "search"};
  f = mcp::tool_filter(some, std::nullopt);
  EXPECT_TRUE(f.offers("search"));
  EXPECT_FALSE(f.offers("git"));
  EXPECT_FALSE(f.offers("test"));

  f = mcp::tool_filter(some, std::vector<std::string>{"files", "git"});
  EXPECT_TRUE(f.offers("files"));
  EXPECT_FALSE(f.offers("search"));
  EXPECT_FALSE(f.offers("git")) << "the workspace widened the client's choice";

  f = mcp::tool_filter(all, std::vector<std::string>{"git"});
  EXPECT_TRUE(f.offers("git"));
  EXPECT_FALSE(f.offers("files"));
}

TEST(McpToolFilter, DelegateIsTheAgentGroupAndCanBeNamed) {
  const Operation* op = builtin_registry().find("agent/delegate");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->group(), "agent");
  ClientProfile some;
  some.tool_groups = {"agent"};
  EXPECT_TRUE(mcp::tool_filter(some, std::nullopt).offers("agent"));
  some.tool_groups = {"files"};
  EXPECT_FALSE(mcp::tool_filter(some, std::nullopt).offers("agent"));
  std::vector<std::string> warnings;
  const auto dir = std::filesystem::temp_directory_path() / ("icotes-mcp-agent-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream((dir / "config.toml").string()) << "[mcp]\ntools = [\"agent\"]\n";
  EXPECT_EQ(mcp::workspace_tool_groups((dir / "config.toml").string(), warnings), std::vector<std::string>{"agent"});
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  std::filesystem::remove_all(dir);
}

TEST(McpWorkspaceToolGroups, ReadsMcpToolsAndWarnsAboutWhatItDrops) {
  const auto dir = std::filesystem::temp_directory_path() / ("icotes-mcp-groups-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "config.toml").string();
  auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  std::vector<std::string> warnings;

  EXPECT_EQ(mcp::workspace_tool_groups((dir / "none.toml").string(), warnings), std::nullopt);
  write("[permissions]\nmode = \"default\"\n");
  EXPECT_EQ(mcp::workspace_tool_groups(path, warnings), std::nullopt);
  EXPECT_TRUE(warnings.empty());

  write("[mcp]\ntools = [\"files\", \"bogus\", 3]\n");
  auto groups = mcp::workspace_tool_groups(path, warnings);
  ASSERT_TRUE(groups);
  EXPECT_EQ(*groups, std::vector<std::string>{"files"});
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("config.toml:2: [mcp] tools: unknown group 'bogus'"), std::string::npos) << warnings[0];

  warnings.clear();
  write("[mcp]\ntools = \"files\"\n");
  EXPECT_EQ(mcp::workspace_tool_groups(path, warnings), std::nullopt);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("must be an array"), std::string::npos);

  warnings.clear();
  write("[mcp\n");
  EXPECT_EQ(mcp::workspace_tool_groups(path, warnings), std::nullopt);
  EXPECT_EQ(warnings.size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(McpWorkspaceFullToolSchemas, ReadsTheBooleanAndWarnsAboutAnythingElse) {
  const auto dir = std::filesystem::temp_directory_path() / ("icotes-mcp-full-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "config.toml").string();
  auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  std::vector<std::string> warnings;

  EXPECT_FALSE(mcp::workspace_full_tool_schemas((dir / "none.toml").string(), warnings));
  write("[mcp]\ntools = [\"files\"]\n");
  EXPECT_FALSE(mcp::workspace_full_tool_schemas(path, warnings));
  EXPECT_TRUE(warnings.empty());
  write("[mcp]\nfull_tool_schemas = true\n");
  EXPECT_TRUE(mcp::workspace_full_tool_schemas(path, warnings));
  EXPECT_TRUE(warnings.empty());
  write("[mcp]\nfull_tool_schemas = \"yes\"\n");
  EXPECT_FALSE(mcp::workspace_full_tool_schemas(path, warnings));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("config.toml:2: [mcp] full_tool_schemas must be true or false"), std::string::npos)
      << warnings[0];
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace icotes
