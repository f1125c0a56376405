// Every operation declares what the permission gate judges (operation.hpp:
// Operation::path_params from the schema's "x-permission", the NeedsHook of
// Bash-kind operations), and the gate judges every declaration: a parameter
// that names a file but declares nothing would escape path rules silently.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "icotes/builtin_ops.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/permissions.hpp"
#include "test_util.hpp"

namespace icotes::permissions {
namespace {

using K = OperationKind;

// Properties whose name or description suggests a path but that name none,
// each with why. "<operation id> <property>" (nested: "parent.child",
// "parent[].child"). An entry whose property no longer exists fails too.
const std::map<std::string, std::string>& not_paths() {
  static const std::map<std::string, std::string> kNotPaths = {
      {"exec/run argv",
       "the program and its arguments ('looked up in PATH'): judged as the command line by the needs "
       "hook, the program being a command, not a workspace path"},
      {"files/edit expectedSha256", "a digest of the file's content"},
      {"files/write expectedSha256", "a digest of the file's content"},
      {"git/blame rev", "a revision ('the file as of this commit')"},
      {"git/diff target", "'worktree', 'staged' or {from, to} revisions: what to compare, not a path"},
      {"git/status untracked", "a mode: no, normal or all ('untracked files')"},
      {"search/glob sort", "an order: path or mtime"},
      {"search/grep outputMode", "a result form: content, filesWithMatches or count"},
      {"search/glob pattern", "a glob matched beneath the declared `path` ('relative to path'); it cannot leave it"},
      {"search/grep type", "rg file type names (c, cpp, py)"},
      {"terminal/create shell",
       "the program the terminal starts ('a name on PATH'): judged as the command line by "
       "the needs hook"},
  };
  return kNotPaths;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool names_a_type(const json& schema, std::string_view type) {
  if (!schema.is_object()) return false;
  if (auto t = schema.find("type"); t != schema.end()) {
    if (t->is_string() && *t == type) return true;
    if (t->is_array() && std::find(t->begin(), t->end(), type) != t->end()) return true;
  }
  for (const char* alternatives : {"oneOf", "anyOf"})
    if (auto a = schema.find(alternatives); a != schema.end() && a->is_array())
      for (const auto& s : *a)
        if (names_a_type(s, type)) return true;
  return false;
}

// A string, or an array of strings.
bool stringish(const json& schema) {
  if (names_a_type(schema, "string")) return true;
  return names_a_type(schema, "array") && schema.contains("items") && names_a_type(schema["items"], "string");
}

bool looks_like_a_path(const std::string& name, const json& schema) {
  const std::string n = lower(name);
  for (const char* word : {"path", "file", "dir", "source", "destination", "cwd", "root", "target"})
    if (n.find(word) != std::string::npos) return true;
  const std::string d = lower(schema.value("description", std::string()));
  for (const char* word : {"path", "file", "director"})
    if (d.find(word) != std::string::npos) return true;
  return false;
}

struct Property {
  std::string key;  // "parent.child"
  bool top_level;
  std::string name;  // the member's own name
  bool looks;        // like a path, by its name or description
};

// Every string or string-array property of an input schema, nested ones too.
void path_like(const json& schema, const std::string& prefix, bool top, std::vector<Property>& out) {
  if (!schema.is_object()) return;
  if (auto props = schema.find("properties"); props != schema.end() && props->is_object()) {
    for (const auto& [name, p] : props->items()) {
      const std::string key = prefix.empty() ? name : prefix + "." + name;
      if (stringish(p)) out.push_back({key, top, name, looks_like_a_path(name, p)});
      path_like(p, key, false, out);
      if (p.contains("items")) path_like(p["items"], key + "[]", false, out);
    }
  }
  for (const char* alternatives : {"oneOf", "anyOf", "allOf"})
    if (auto a = schema.find(alternatives); a != schema.end() && a->is_array())
      for (const auto& s : *a) path_like(s, prefix, top, out);
}

// Every operation: the built-in registry's, and those of schemas it does not
// register (test/*, registered only when ICOTES_TEST_OPERATIONS=1).
std::vector<Operation> every_operation() {
  std::vector<Operation> out;
  for (const Operation* op : builtin_registry().all()) out.push_back(*op);
  Registry extra;
  register_test_ops(extra);
  for (const auto& [id, text] : ops::embedded_schemas()) {
    if (builtin_registry().find(id) || extra.find(id)) continue;
    extra.add(id, [](Context&, const json&) -> Result<json> { return json::object(); });
  }
  for (const Operation* op : extra.all()) out.push_back(*op);
  return out;
}

bool declared(const Operation& op, const std::string& name) {
  return std::any_of(op.path_params.begin(), op.path_params.end(), [&](const PathParam& p) { return p.name == name; });
}

TEST(GateDeclarations, EveryPathParameterIsDeclared) {
  const auto ops = every_operation();
  ASSERT_GT(ops.size(), 40u);
  std::set<std::string> seen;
  for (const Operation& op : ops) {
    // Read into the Operation at registration; clients' schemas (MCP tools/list) do not carry them.
    EXPECT_EQ(op.input_schema.dump().find("x-permission"), std::string::npos) << op.id;
    std::vector<Property> props;
    path_like(op.input_schema, "", true, props);
    for (const Property& p : props) {
      const std::string key = op.id + " " + p.key;
      if (not_paths().count(key)) seen.insert(key);
      if (!p.looks || not_paths().count(key)) continue;
      if (!p.top_level) {
        ADD_FAILURE() << key << " looks like a path but is nested: the gate judges only top-level members; make it "
                      << "one (with \"x-permission\") or list it in not_paths() with why it names no path";
        continue;
      }
      EXPECT_TRUE(declared(op, p.name))
          << key << " looks like a path but its schema (schemas/" << op.id
          << ".json) declares no \"x-permission\": the gate would never judge it. Declare it (path, name, paths, "
          << "patch, cwd; docs/ARCHITECTURE.md) or list it in not_paths() with why it names no path";
      EXPECT_FALSE(declared(op, p.name) && op.kind == K::None)
          << key << " names a path but " << op.id << " asks no permission (\"permission\": \"None\")";
    }
    // Commands: a Bash operation without a needs hook would be judged as a Bash need on the workspace root.
    EXPECT_TRUE(op.kind != K::Bash || op.needs) << op.id << ": a Bash operation with no NeedsHook";
  }
  for (const auto& [key, why] : not_paths())
    EXPECT_TRUE(seen.count(key)) << "not_paths() lists " << key << ", which no longer exists";
}

class GateDeclarationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = ConfinedRoot::open(dir_.path());
    ASSERT_TRUE(r.ok());
    root_.emplace(std::move(*r));
    auto g = Gate::open(*root_, Settings{});
    ASSERT_TRUE(g.ok()) << g.error().message;
    gate_ = std::move(*g);
  }
  test::TempDir dir_;
  std::optional<ConfinedRoot> root_;
  std::unique_ptr<Gate> gate_;
};

// A declared property's value, naming `path`.
json value_naming(PathRole role, const std::string& path) {
  switch (role) {
    case PathRole::Paths:
      return json::array({path});
    case PathRole::Patch:
      return "--- a/" + path + "\n+++ b/" + path + "\n@@ -1 +1 @@\n-a\n+b\n";
    default:
      return path;
  }
}

// Each declared path of each operation that asks permission: one outside the workspace is an outside need
// (refused), one a deny rule covers is denied.
TEST_F(GateDeclarationsTest, EveryDeclaredPathIsJudged) {
  std::filesystem::create_directories(dir_ / "secret");
  ClientState client;
  client.name = "test client";
  client.settings.mode = Mode::Bypass;  // only deny rules and the workspace's bounds refuse
  for (const char* r : {"Read(secret/**)", "Edit(secret/**)", "GitWrite(secret/**)"}) {
    auto rule = Rule::parse(r, Answer::Deny);
    ASSERT_TRUE(rule.ok()) << r;
    client.settings.deny.push_back(*rule);
  }
  std::size_t judged = 0;
  for (const Operation& op : every_operation()) {
    if (op.kind == K::None) continue;
    for (const PathParam& decl : op.path_params) {
      SCOPED_TRACE(op.id + " " + decl.name);
      ++judged;
      auto needs = gate_->needs(op, json{{decl.name, value_naming(decl.role, "../outside")}});
      EXPECT_TRUE(std::any_of(needs.begin(), needs.end(), [](const Need& n) { return n.outside; }));
      EXPECT_FALSE(gate_->check_now(client, op.id, needs).ok());
      needs = gate_->needs(op, json{{decl.name, value_naming(decl.role, "secret/x")}});
      auto st = gate_->check_now(client, op.id, needs);
      ASSERT_FALSE(st.ok());
      EXPECT_NE(st.error().message.find("(secret/**)"), std::string::npos) << st.error().message;
      // Outside the deny rule the same call passes (bypass): the refusal above was the path's.
      needs = gate_->needs(op, json{{decl.name, value_naming(decl.role, "open/x")}});
      EXPECT_TRUE(gate_->check_now(client, op.id, needs).ok()) << op.id;
    }
  }
  EXPECT_GT(judged, 20u);
}

}  // namespace
}  // namespace icotes::permissions
