// The icotes/permissions/* requests (include/permissions/icotes/permission_admin.hpp)
// answer from the permission files as they are now: a change made by
// another process (the CLI beside a running daemon) shows in the next
// list, not only after some call has been judged.
#include <gtest/gtest.h>

#include <string>

#include "icotes/permission_admin.hpp"
#include "icotes/permission_gate.hpp"
#include "test_util.hpp"

namespace icotes::permissions {
namespace {

using test::TempDir;

TEST(PermissionAdmin, ListSeesChangesOtherProcessesMadeSinceTheLastDecision) {
  TempDir dir;
  auto root = ConfinedRoot::open(dir.path());
  ASSERT_TRUE(root.ok());
  auto daemon = Gate::open(*root, {});  // the running daemon's gate
  ASSERT_TRUE(daemon.ok()) << daemon.error().message;
  auto before = admin(**daemon, *root, "icotes/permissions/list", json::object(), "test");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ((*before)["mode"], "default");

  auto cli = Gate::open(*root, {});  // `icotes permissions ...` in another process
  ASSERT_TRUE(cli.ok()) << cli.error().message;
  ASSERT_TRUE(mode_from_cli(**cli, *root, "acceptEdits").ok());
  ASSERT_TRUE(admin(**cli, *root, "icotes/permissions/grant",
                    json{{"kind", "Bash"}, {"scope", "specific"}, {"value", "make test"}, {"answer", "allow"}}, "cli")
                  .ok());

  auto after = admin(**daemon, *root, "icotes/permissions/list", json::object(), "test");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["mode"], "acceptEdits") << after->dump();
  bool seen = false;
  for (const auto& g : (*after)["grants"]) seen = seen || g.dump().find("make test") != std::string::npos;
  EXPECT_TRUE(seen) << after->dump();
}

}  // namespace
}  // namespace icotes::permissions
