#include <gtest/gtest.h>

#include <set>
#include <string>

#include "icotes/builtin_ops.hpp"
#include "icotes/schema.hpp"
#include "icotes/workspace.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

const json kEditSchema = json::parse(R"({
  "type": "object",
  "required": ["path", "edits"],
  "additionalProperties": false,
  "properties": {
    "path": {"type": "string", "minLength": 1},
    "mode": {"type": "string", "enum": ["fast", "slow"]},
    "a/b~c": {"type": "integer"},
    "edits": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["oldString", "newString"],
        "properties": {
          "oldString": {"type": "string"},
          "newString": {"type": "string"},
          "replaceAll": {"type": "boolean"}
        }
      }
    }
  }
})");

TEST(SchemaValidator, AcceptsConformingValues) {
  const SchemaValidator v(kEditSchema);
  EXPECT_FALSE(v.validate(json{{"path", "a"}, {"edits", json::array()}}).has_value());
  EXPECT_FALSE(
      v.validate(json{{"path", "a"}, {"edits", {{{"oldString", "x"}, {"newString", "y"}, {"replaceAll", true}}}}})
          .has_value());
}

TEST(SchemaValidator, NestedTypeErrorNamesPointerAndTypes) {
  const SchemaValidator v(kEditSchema);
  const json bad = {{"path", "a"}, {"edits", {{{"oldString", "x"}, {"newString", 5}}}}};
  const auto err = v.validate(bad);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, error_code::kInvalidParams);
  EXPECT_EQ(err->data["pointer"], "/edits/0/newString");
  EXPECT_EQ(err->data["expected"], "expected string, got integer");
  EXPECT_NE(err->message.find("/edits/0/newString"), std::string::npos) << err->message;
  EXPECT_NE(err->message.find("expected string, got integer"), std::string::npos) << err->message;
  EXPECT_TRUE(err->data["errors"].is_array());
  EXPECT_FALSE(err->data["errors"].empty());
}

TEST(SchemaValidator, SecondArrayElementIsNamed) {
  const SchemaValidator v(kEditSchema);
  const json bad = {
      {"path", "a"},
      {"edits",
       {{{"oldString", "x"}, {"newString", "y"}}, {{"oldString", "x"}, {"newString", "y"}, {"replaceAll", "yes"}}}}};
  const auto err = v.validate(bad);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["pointer"], "/edits/1/replaceAll");
  EXPECT_EQ(err->data["expected"], "expected boolean, got string");
}

TEST(SchemaValidator, TopLevelTypeErrors) {
  const SchemaValidator v(kEditSchema);
  auto err = v.validate(json{{"path", 3.5}, {"edits", json::array()}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["pointer"], "/path");
  EXPECT_EQ(err->data["expected"], "expected string, got number");
  err = v.validate(json{{"path", "p"}, {"edits", json::object()}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["pointer"], "/edits");
  EXPECT_EQ(err->data["expected"], "expected array, got object");
}

TEST(SchemaValidator, RootTypeError) {
  const SchemaValidator v(kEditSchema);
  const auto err = v.validate(json::array());
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["pointer"], "");
  EXPECT_NE(err->message.find("(root)"), std::string::npos) << err->message;
}

TEST(SchemaValidator, MissingRequiredMember) {
  const SchemaValidator v(kEditSchema);
  const auto err = v.validate(json{{"path", "x"}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, error_code::kInvalidParams);
  EXPECT_NE(err->message.find("edits"), std::string::npos) << err->message;
}

TEST(SchemaValidator, EnumMismatchListsAllowedValues) {
  const SchemaValidator v(kEditSchema);
  const auto err = v.validate(json{{"path", "x"}, {"edits", json::array()}, {"mode", "medium"}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["pointer"], "/mode");
  const std::string expected = err->data["expected"];
  EXPECT_NE(expected.find("fast"), std::string::npos) << expected;
  EXPECT_NE(expected.find("medium"), std::string::npos) << expected;
}

TEST(SchemaValidator, PointerEscapesSlashAndTilde) {
  const SchemaValidator v(kEditSchema);
  const auto err = v.validate(json{{"path", "x"}, {"edits", json::array()}, {"a/b~c", "s"}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["pointer"], "/a~1b~0c");
}

TEST(SchemaValidator, UsesTheGivenNoun) {
  const SchemaValidator v(kEditSchema);
  const auto err = v.validate(json{{"path", 1}, {"edits", json::array()}}, "edit_file params");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->message.rfind("invalid edit_file params", 0), 0u) << err->message;
}

TEST(SchemaValidator, UnionTypeDoesNotThrow) {
  const SchemaValidator v(json::parse(R"({"type":"object","properties":{"x":{"type":["string","null"]}}})"));
  std::optional<Error> err;
  ASSERT_NO_THROW(err = v.validate(json{{"x", 5}}));
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["pointer"], "/x");
  EXPECT_FALSE(v.validate(json{{"x", nullptr}}).has_value());
}

// tools/list leaves bounds and patterns out (mcp::listed_input_schema): the
// refusal is where a client learns them.
TEST(SchemaValidator, BoundsAndPatternsAreNamedInTheMessage) {
  SchemaValidator v(json::parse(R"({"type":"object","properties":{
    "n":{"type":"integer","minimum":0,"maximum":1000},"m":{"type":"integer","minimum":1},
    "f":{"type":"number","maximum":2.5},"h":{"type":"string","pattern":"^[0-9a-f]{64}$"}}})"));
  auto err = v.validate(json{{"n", 5000}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["expected"], "expected an integer from 0 to 1000, got 5000");
  EXPECT_EQ(err->data["pointer"], "/n");
  err = v.validate(json{{"m", 0}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["expected"], "expected an integer of at least 1, got 0");
  err = v.validate(json{{"f", 3}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["expected"], "expected a number of at most 2.5, got 3");
  err = v.validate(json{{"h", "zz"}});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->data["expected"], "expected a string matching ^[0-9a-f]{64}$");
  EXPECT_NE(err->message.find("/h: expected a string matching"), std::string::npos) << err->message;
}

TEST(Registry, HiddenPropertiesMustExistAndNotBeRequired) {
  // Schemas are embedded, so the checks are exercised on the builtin ones:
  // every mcpHidden name is a property that is not required.
  for (const Operation* op : builtin_registry().all()) {
    SCOPED_TRACE(op->id);
    for (const auto& h : op->mcp_hidden) {
      EXPECT_TRUE(op->input_schema["properties"].contains(h)) << h;
      for (const auto& r : op->input_schema.value("required", json::array())) {
        EXPECT_NE(r, h);
      }
    }
  }
}

TEST(SchemaValidator, InvalidSchemaThrows) {
  EXPECT_THROW(SchemaValidator(json::parse(R"({"type": 12})")), std::runtime_error);
}

TEST(Registry, BuiltinRegistryLoadsEverySchema) {
  const Registry* reg = nullptr;
  ASSERT_NO_THROW(reg = &builtin_registry());
  const auto all = reg->all();
  ASSERT_FALSE(all.empty());
  std::set<std::string> names, commands;
  for (const Operation* op : all) {
    SCOPED_TRACE(op->id);
    EXPECT_FALSE(op->mcp_name.empty());
    EXPECT_FALSE(op->description.empty());
    EXPECT_TRUE(op->input_schema.is_object());
    EXPECT_TRUE(op->output_schema.is_object());
    EXPECT_EQ(op->input_schema.value("type", ""), "object");
    EXPECT_TRUE(static_cast<bool>(op->handler));
    EXPECT_NE(op->input_validator, nullptr);
    EXPECT_TRUE(names.insert(op->mcp_name).second) << "duplicate MCP name " << op->mcp_name;
    EXPECT_TRUE(commands.insert(op->command()).second);
    EXPECT_EQ(reg->find(op->id), op);
    EXPECT_EQ(reg->find_by_mcp_name(op->mcp_name), op);
    EXPECT_EQ(reg->find_by_command(op->command()), op);
    EXPECT_EQ(op->lsp_method(), "icotes/" + op->id);
    if (!op->mcp_text_field.empty()) {
      EXPECT_TRUE(op->output_schema["properties"].contains(op->mcp_text_field));
    }
  }
  EXPECT_NE(reg->find("files/read"), nullptr);
  EXPECT_EQ(reg->find("files/nope"), nullptr);
  EXPECT_EQ(reg->find_by_command("icotes.files.read"), reg->find("files/read"));
}

TEST(Registry, EveryEmbeddedSchemaLoadsIntoARegistry) {
  Registry r;
  for (const auto& [id, text] : ops::embedded_schemas()) {
    SCOPED_TRACE(std::string(id));
    EXPECT_NO_THROW(r.add(id, [](Context&, const json&) -> Result<json> { return json::object(); }));
    const Operation* op = r.find(id);
    ASSERT_NE(op, nullptr);
    EXPECT_TRUE(json::parse(text).is_object());
  }
}

TEST(Registry, MissingSchemaThrowsLogicError) {
  Registry r;
  EXPECT_THROW(r.add("files/doesNotExist", [](Context&, const json&) -> Result<json> { return json(); }),
               std::logic_error);
}

TEST(Registry, OperationKindNames) {
  for (auto k : {OperationKind::None, OperationKind::ReadFile, OperationKind::WriteFile, OperationKind::EditFile,
                 OperationKind::Bash, OperationKind::GitWrite, OperationKind::Network}) {
    EXPECT_EQ(operation_kind_from_string(to_string(k)), k);
  }
  EXPECT_FALSE(operation_kind_from_string("Root").has_value());
}

class RegistryInvoke : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ws = Workspace::open(dir_.path(), 1);
    ASSERT_TRUE(ws.ok());
    ws_ = std::move(*ws);
    registry_.add("files/edit", [this](Context&, const json& params) -> Result<json> {
      calls_.push_back(params);
      return json{{"ok", true}};
    });
    op_ = registry_.find("files/edit");
  }
  Result<json> invoke(const json& params) {
    NullProgress progress;
    Context ctx{*ws_, token_, progress, nullptr};
    return registry_.invoke(*op_, ctx, params);
  }

  test::TempDir dir_;
  std::unique_ptr<Workspace> ws_;
  Registry registry_;
  const Operation* op_ = nullptr;
  CancellationToken token_;
  std::vector<json> calls_;
};

TEST_F(RegistryInvoke, InvalidParamsNeverReachTheHandler) {
  ASSERT_NE(op_, nullptr);
  auto r = invoke(json{{"path", "a.txt"}, {"edits", {{{"oldString", "x"}, {"newString", 5}}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_EQ(r.error().data["pointer"], "/edits/0/newString");
  EXPECT_NE(r.error().message.find("edit_file"), std::string::npos) << r.error().message;
  r = invoke(json{{"path", "a.txt"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  r = invoke(json{{"path", "a.txt"}, {"edits", {{{"oldString", "x"}, {"newString", "y"}, {"bogus", 1}}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_EQ(r.error().data["pointer"], "/edits/0/bogus");
  EXPECT_NE(r.error().message.find("unknown property 'bogus' (allowed: "), std::string::npos) << r.error().message;
  r = invoke(json::array());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(calls_.empty());
}

TEST_F(RegistryInvoke, ValidParamsRunTheHandlerOnce) {
  const json params = {{"path", "a.txt"}, {"edits", {{{"oldString", "x"}, {"newString", "y"}}}}};
  auto r = invoke(params);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value()["ok"], true);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0], params);
}

TEST_F(RegistryInvoke, CancelledBeforeStartDoesNotRun) {
  token_.cancel();
  auto r = invoke(json{{"path", "a.txt"}, {"edits", {{{"oldString", "x"}, {"newString", "y"}}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kRequestCancelled);
  EXPECT_TRUE(calls_.empty());
}

TEST(Registry, HandlerJsonExceptionBecomesInvalidParams) {
  test::TempDir dir;
  auto ws = Workspace::open(dir.path(), 1);
  ASSERT_TRUE(ws.ok());
  Registry r;
  r.add("files/stat", [](Context&, const json& p) -> Result<json> { return json(p.at("nonexistent").get<int>()); });
  CancellationToken token;
  NullProgress progress;
  Context ctx{**ws, token, progress, nullptr};
  auto res = r.invoke(*r.find("files/stat"), ctx, json{{"path", "x"}});
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, error_code::kInvalidParams);
}

}  // namespace
}  // namespace icotes
