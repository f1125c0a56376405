// EditorContexts: the latest icotes/editor/context per editor, bounded, with
// workspace-relative paths, and its text rendering.
#include "icotes/editor_context.hpp"

#include <gtest/gtest.h>

namespace icotes {
namespace {

const std::string kRoot = "file:///w/";

std::optional<std::string> rel_of(std::string_view uri) {
  if (uri.substr(0, kRoot.size()) != kRoot) return std::nullopt;
  return std::string(uri.substr(kRoot.size()));
}

json pos(int line, int ch) { return {{"line", line}, {"character", ch}}; }
json range(int l1, int c1, int l2, int c2) { return {{"start", pos(l1, c1)}, {"end", pos(l2, c2)}}; }

json vscode_params() {
  json sel = range(11, 4, 13, 1);
  sel["text"] = "int x;\nint y;\n}";
  return {
      {"uri", kRoot + "src/a.c"},
      {"languageId", "c"},
      {"selection", sel},
      {"selections", json::array({sel})},
      {"visibleRanges", json::array({{{"uri", kRoot + "src/a.c"}, {"range", range(0, 0, 40, 0)}},
                                     {{"uri", "file:///elsewhere/b.c"}, {"range", range(0, 0, 1, 0)}}})},
      {"openBuffers", json::array({kRoot + "src/a.c", kRoot + "README.md", "file:///etc/passwd", kRoot + "README.md"})},
      {"diagnostics", json::array({{{"uri", kRoot + "src/a.c"},
                                    {"range", range(12, 0, 12, 3)},
                                    {"severity", 1},
                                    {"message", "expected ';'"},
                                    {"source", "clang"}}})}};
}

TEST(EditorContexts, StoresRelativePathsAndDropsFilesOutsideTheRoot) {
  EditorContexts store;
  int owner = 0;
  store.update(&owner, "Visual Studio Code", vscode_params(), rel_of);
  const json l = store.list();
  ASSERT_EQ(l.size(), 1u);
  const json& e = l[0];
  EXPECT_EQ(e["client"], "Visual Studio Code");
  EXPECT_EQ(e["file"], "src/a.c");
  EXPECT_EQ(e["languageId"], "c");
  EXPECT_EQ(e["selection"]["text"], "int x;\nint y;\n}");
  EXPECT_EQ(e["selection"]["start"], pos(11, 4));
  EXPECT_FALSE(e.contains("selections"));  // only one
  EXPECT_EQ(e["visibleRanges"].size(), 1u);
  EXPECT_EQ(e["visibleRanges"][0]["path"], "src/a.c");
  EXPECT_EQ(e["openTabs"], json::array({"src/a.c", "README.md"}));
  ASSERT_EQ(e["diagnostics"].size(), 1u);
  EXPECT_EQ(e["diagnostics"][0]["path"], "src/a.c");
  EXPECT_EQ(e["diagnostics"][0]["severity"], 1);
  EXPECT_TRUE(e.contains("updated"));
}

TEST(EditorContexts, LatestPerEditorMostRecentFirstAndRemovedOnClose) {
  EditorContexts store;
  int vscode = 0, nvim = 0;
  store.update(&vscode, "code", vscode_params(), rel_of);
  json n = {{"uri", kRoot + "b.lua"}, {"selection", {{"start", pos(0, 0)}, {"end", pos(0, 0)}, {"text", ""}}}};
  store.update(&nvim, "Neovim", n, rel_of);
  n["uri"] = kRoot + "c.lua";
  store.update(&nvim, "Neovim", n, rel_of);
  json l = store.list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]["client"], "Neovim");
  EXPECT_EQ(l[0]["file"], "c.lua");
  EXPECT_EQ(l[1]["client"], "code");
  store.remove(&nvim);
  l = store.list();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["client"], "code");
}

TEST(EditorContexts, BoundsSelectionTextAndLists) {
  EditorContexts store;
  int owner = 0;
  json p = vscode_params();
  // "é" is two bytes: the cut falls inside one and must not split it.
  std::string big = "a";
  while (big.size() < EditorContexts::kSelectionBytes + 100) big += "\xc3\xa9";
  p["selection"]["text"] = big;
  p["openBuffers"] = json::array();
  for (int i = 0; i < 500; ++i) p["openBuffers"].push_back(kRoot + "f" + std::to_string(i));
  p["diagnostics"] = json::array();
  for (int i = 0; i < 500; ++i)
    p["diagnostics"].push_back(
        {{"uri", kRoot + "src/a.c"}, {"range", range(i, 0, i, 1)}, {"message", std::string(5000, 'm')}});
  store.update(&owner, "code", p, rel_of);
  const json e = store.list()[0];
  const std::string text = e["selection"]["text"];
  EXPECT_LE(text.size(), EditorContexts::kSelectionBytes);
  EXPECT_GE(text.size(), EditorContexts::kSelectionBytes - 1);
  EXPECT_EQ(text.size() % 2, 1u);  // "a" then whole "é"s
  EXPECT_TRUE(e["selection"]["truncated"].get<bool>());
  EXPECT_EQ(e["openTabs"].size(), EditorContexts::kTabs);
  EXPECT_EQ(e["diagnostics"].size(), EditorContexts::kDiagnostics);
  EXPECT_LE(e["diagnostics"][0]["message"].get<std::string>().size(), EditorContexts::kMessageBytes);
}

TEST(EditorContexts, MalformedMembersAreLeftOut) {
  EditorContexts store;
  int owner = 0;
  store.update(&owner, "x",
               {{"uri", 42},
                {"selection", {{"start", "no"}}},
                {"visibleRanges", "no"},
                {"openBuffers", json::array({1, kRoot + "ok"})},
                {"diagnostics", json::array({{{"uri", kRoot + "a"}}})}},
               rel_of);
  const json e = store.list()[0];
  EXPECT_FALSE(e.contains("file"));
  EXPECT_EQ(e["visibleRanges"], json::array());
  EXPECT_EQ(e["openTabs"], json::array({"ok"}));
  EXPECT_EQ(e["diagnostics"], json::array());
}

TEST(EditorContexts, ReadDeniedFilesAreLeftOut) {
  EditorContexts store;
  int owner = 0;
  store.update(&owner, "code", vscode_params(), rel_of);
  const json e = store.list([](std::string_view rel) { return rel == "src/a.c"; })[0];
  EXPECT_FALSE(e.contains("file"));
  EXPECT_FALSE(e.contains("selection"));
  EXPECT_EQ(e["openTabs"], json::array({"README.md"}));
  EXPECT_EQ(e["visibleRanges"], json::array());
  EXPECT_EQ(e["diagnostics"], json::array());
}

TEST(EditorContextText, SelectionTabsAndDiagnosticsReadAsLines) {
  EditorContexts store;
  int owner = 0;
  store.update(&owner, "code", vscode_params(), rel_of);
  const std::string t = render_editor_context({{"editors", store.list()}});
  EXPECT_NE(t.find("src/a.c:12:5-14:2 (selected)\nint x;\nint y;\n}\n"), std::string::npos) << t;
  EXPECT_NE(t.find("open tabs:\n- src/a.c\n- README.md\n"), std::string::npos) << t;
  EXPECT_NE(t.find("visible: src/a.c:1-41"), std::string::npos) << t;
  EXPECT_NE(t.find("- src/a.c:13:1: error: expected ';'"), std::string::npos) << t;
}

TEST(EditorContextText, CursorAndNoEditor) {
  EXPECT_NE(render_editor_context({{"editors", json::array()}}).find("No editor context"), std::string::npos);
  EditorContexts store;
  int owner = 0;
  store.update(&owner, "Neovim",
               {{"uri", kRoot + "b.lua"}, {"selection", {{"start", pos(2, 3)}, {"end", pos(2, 3)}, {"text", ""}}}},
               rel_of);
  const std::string t = render_editor_context({{"editors", store.list()}});
  EXPECT_NE(t.find("b.lua:3:4 (cursor)\n"), std::string::npos) << t;
}

}  // namespace
}  // namespace icotes
