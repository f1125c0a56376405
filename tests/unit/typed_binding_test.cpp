// Registry::add<Params>: the schema check first, then the params read into
// their struct by its from_json (src/ops/bind.hpp), then the typed handler;
// a value the schema lets through that the field cannot hold is -32602
// naming the member.
#include <gtest/gtest.h>

#include <string>

#include "icotes/operation.hpp"
#include "icotes/workspace.hpp"
#include "ops/bind.hpp"
#include "ops/files_json.hpp"
#include "ops/workspace_json.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

TEST(TypedBinding, ReadsMembersAndKeepsDefaults) {
  const auto p = bind_params<files::EditParams>(json{
      {"path", "a.txt"},
      {"edits",
       {{{"oldString", "x"}, {"newString", "y"}}, {{"oldString", "p"}, {"newString", "q"}, {"replaceAll", true}}}}});
  EXPECT_EQ(p.path, "a.txt");
  ASSERT_EQ(p.edits.size(), 2u);
  EXPECT_EQ(p.edits[0].old_string, "x");
  EXPECT_EQ(p.edits[0].new_string, "y");
  EXPECT_FALSE(p.edits[0].replace_all);
  EXPECT_TRUE(p.edits[1].replace_all);
  EXPECT_FALSE(p.expected_sha256.has_value());
  EXPECT_FALSE(p.dry_run);

  const auto l = bind_params<files::ListDirectoryParams>(json{{"path", "."}});
  EXPECT_EQ(l.depth, 1);
  EXPECT_EQ(l.limit, files::kDefaultListEntries);
  EXPECT_FALSE(l.limit_given);
  const auto l2 = bind_params<files::ListDirectoryParams>(json{{"path", "."}, {"limit", 5}, {"depth", 2.0}});
  EXPECT_EQ(l2.limit, 5u);
  EXPECT_EQ(l2.depth, 2);
  EXPECT_TRUE(l2.limit_given);

  const auto r = bind_params<files::ReadFileParams>(json{{"path", "b"}, {"offset", -10}, {"lineNumbers", true}});
  EXPECT_EQ(r.offset, -10);
  EXPECT_FALSE(r.limit.has_value());
  EXPECT_TRUE(r.line_numbers);
}

TEST(TypedBinding, ConversionFailureNamesTheMember) {
  try {
    bind_params<files::EditParams>(json{{"path", "a"}, {"edits", {{{"oldString", "x"}, {"newString", 5}}}}});
    FAIL() << "no ParamError";
  } catch (const ParamError& e) {
    EXPECT_EQ(e.pointer, "/edits/0/newString");
    EXPECT_EQ(e.expected, "a string");
  }
  try {
    bind_params<workspace_ops::OpenParams>(json{{"path", "a"}, {"line", 5000000000LL}});
    FAIL() << "no ParamError";
  } catch (const ParamError& e) {
    EXPECT_EQ(e.pointer, "/line");
    EXPECT_EQ(e.expected, "an integer from 0 to 4294967295");
  }
  try {
    bind_params<files::ReadManyParams>(json{{"paths", {"a", "b"}}, {"maxBytes", -1}});
    FAIL() << "no ParamError";
  } catch (const ParamError& e) {
    EXPECT_EQ(e.pointer, "/maxBytes");
  }
  try {
    bind_params<files::PathParams>(json::object());
    FAIL() << "no ParamError";
  } catch (const ParamError& e) {
    EXPECT_EQ(e.pointer, "/path");
  }
}

class TypedRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::open(dir_.path(), 1);
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    ws_ = std::move(*ws);
    registry_.add<workspace_ops::OpenParams>(
        "workspace/open", [this](Context&, workspace_ops::OpenParams&& p) -> Result<json> {
          ++calls_;
          return json{{"path", p.path}, {"line", p.line ? json(*p.line) : json()}, {"column", p.column}};
        });
  }
  Result<json> call(const json& params) {
    const Operation* op = registry_.find("workspace/open");
    EXPECT_NE(op, nullptr);
    CancellationToken token;
    NullProgress progress;
    Context ctx{*ws_, token, progress, nullptr};
    return registry_.invoke(*op, ctx, params);
  }
  test::TempDir dir_;
  std::unique_ptr<Workspace> ws_;
  Registry registry_;
  int calls_ = 0;
};

TEST_F(TypedRegistry, HandlerGetsTypedParamsWithSchemaDefaults) {
  auto r = call(json{{"path", "a.txt"}, {"line", 3}});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (json{{"path", "a.txt"}, {"line", 3}, {"column", 1}}));
  EXPECT_EQ(calls_, 1);
}

TEST_F(TypedRegistry, SchemaCheckRunsFirst) {
  auto r = call(json{{"path", 5}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_EQ(r.error().data["pointer"], "/path");
  EXPECT_EQ(r.error().data["expected"], "expected string, got integer");
  EXPECT_EQ(calls_, 0);
}

TEST_F(TypedRegistry, ValueBeyondTheFieldIsInvalidParamsNamingIt) {
  auto r = call(json{{"path", "a.txt"}, {"line", 5000000000LL}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_EQ(r.error().message, "invalid open_in_editor params: /line: an integer from 0 to 4294967295");
  EXPECT_EQ(r.error().data["pointer"], "/line");
  EXPECT_EQ(calls_, 0);
}

}  // namespace
}  // namespace icotes
