// A client's own settings travel as JSON from the launcher to the daemon.
#include "icotes/client_profile.hpp"

#include <gtest/gtest.h>

namespace icotes {
namespace {

TEST(ClientProfile, RoundTripsAndLeavesDefaultsOut) {
  ClientProfile p;
  EXPECT_EQ(to_json(p), json::object());
  p.permission_mode = "acceptEdits";
  p.allow = {"Bash(make test)"};
  p.deny = {"Read(.env)"};
  p.max_result_bytes = 200000;
  p.structured_output = true;
  p.tool_groups = {"files", "git"};
  p.full_tool_schemas = true;
  auto back = client_profile_from_json(to_json(p));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->permission_mode, p.permission_mode);
  EXPECT_EQ(back->allow, p.allow);
  EXPECT_EQ(back->deny, p.deny);
  EXPECT_EQ(back->max_result_bytes, 200000u);
  EXPECT_TRUE(back->structured_output);
  EXPECT_EQ(back->tool_groups, p.tool_groups);
  EXPECT_TRUE(back->full_tool_schemas);
}

TEST(ClientProfile, WrongTypesAndUnknownGroupsAreClearErrors) {
  for (const char* text :
       {R"([])", R"({"permissionMode":1})", R"({"allow":"x"})", R"({"deny":[1]})", R"({"tools":["files","nope"]})",
        R"({"maxResultBytes":10})", R"({"maxResultBytes":-5})", R"({"maxResultBytes":"big"})",
        R"({"structuredOutput":"yes"})", R"({"fullToolSchemas":1})"}) {
    auto r = client_profile_from_json(json::parse(text));
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, error_code::kInvalidParams) << text;
    EXPECT_NE(r.error().message.find("client profile"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace icotes
