// workspace_info: the registry of connected clients, and the few lines a
// model reads first (root, git, clients, permission mode, limits), under
// 2 KB whatever is attached.
#include <gtest/gtest.h>

#include <string>

#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/client_registry.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/workspace.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

TEST(ClientRegistry, AddNameRemove) {
  ClientRegistry r;
  int a = 0, b = 0;
  const auto ia = r.add(&a, "lsp");
  const auto ib = r.add(&b, "mcp");
  EXPECT_NE(ia, ib);
  r.set_info(ib, "claude-code", "2.1.0");
  auto list = r.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].dialect, "lsp");
  EXPECT_EQ(list[0].name, "");
  EXPECT_EQ(list[1].name, "claude-code");
  EXPECT_EQ(list[1].version, "2.1.0");
  EXPECT_EQ(list[1].connection, &b);
  r.remove(ia);
  r.remove(ia);  // twice: nothing more happens
  list = r.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, ib);
}

class WorkspaceInfo : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::open(dir_.path(), 1);
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    ws_ = std::move(*ws);
  }
  // The result and its MCP text, as `client` (null: without the gate).
  std::pair<json, std::string> info(std::size_t cap = kMaxToolResultBytes,
                                    std::shared_ptr<const permissions::ClientState> client = nullptr) {
    const Operation* op = builtin_registry().find("workspace/info");
    EXPECT_NE(op, nullptr);
    EXPECT_EQ(op->mcp_name, "workspace_info");
    CancellationToken token;
    NullProgress progress;
    Context ctx{*ws_, token, progress, nullptr};
    ctx.max_result_bytes = cap;
    ctx.client = std::move(client);
    auto r = builtin_registry().invoke(*op, ctx, json::object());
    EXPECT_TRUE(r.ok()) << r.error().message;
    return {*r, op->mcp_text(*r)};
  }
  test::TempDir dir_;
  std::unique_ptr<Workspace> ws_;
};

TEST_F(WorkspaceInfo, AFewLinesOfWhatAModelShouldKnowFirst) {
  int editor = 0;
  const auto id = ws_->clients().add(&editor, "lsp");
  ws_->clients().set_info(id, "Neovim", "0.9.5");
  auto [result, text] = info();
  EXPECT_EQ(result["root"], dir_.path());
  EXPECT_FALSE(result.contains("git"));
  ASSERT_EQ(result["clients"].size(), 1u);
  EXPECT_EQ(result["clients"][0]["name"], "Neovim");
  EXPECT_EQ(result["permissions"]["mode"], "default");
  EXPECT_EQ(result["limits"]["maxResultBytes"], kMaxToolResultBytes);
  EXPECT_EQ(result["limits"]["defaultResultBytes"], kDefaultToolResultBytes);
  EXPECT_EQ(
      text.rfind("root: " + dir_.path() + "\ngit: no repository at the root\nclients: lsp Neovim 0.9.5 (since ", 0), 0u)
      << text;
  EXPECT_NE(text.find("\npermission mode: default (0 allow rules, 0 deny rules)\n"), std::string::npos) << text;
  EXPECT_NE(
      text.find("\nlimits: results up to 102400 bytes of text (32768 with default parameters); commands sandboxed"),
      std::string::npos)
      << text;
}

TEST_F(WorkspaceInfo, TheAskingClientsModeNotTheWorkspaces) {
  auto me = std::make_shared<permissions::ClientState>();
  me->settings.mode = permissions::Mode::AcceptEdits;
  auto [result, text] = info(0, me);
  EXPECT_EQ(result["permissions"]["mode"], "acceptEdits");
  EXPECT_NE(text.find("permission mode: acceptEdits"), std::string::npos);
  EXPECT_NE(text.find("limits: results not capped"), std::string::npos) << text;
}

TEST_F(WorkspaceInfo, StaysUnderTwoKilobytesWhateverIsAttached) {
  static int conns[100];
  for (int& c : conns) {
    const auto id = ws_->clients().add(&c, "mcp");
    ws_->clients().set_info(id, std::string(300, 'n'), std::string(100, 'v'));
  }
  auto [result, text] = info();
  EXPECT_EQ(result["clients"].size(), 100u);
  EXPECT_LT(text.size(), 2048u) << text;
  EXPECT_NE(text.find("; 92 more\n"), std::string::npos);
}

}  // namespace
}  // namespace icotes
