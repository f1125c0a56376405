// git/* on the typed path: the one table of git operations
// (ICOTES_GIT_OPERATIONS, include/git/icotes/git_params.hpp) against the
// schemas in schemas/git/, and the refusal of params the typed fields cannot
// take, before the git module is ever asked.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "icotes/builtin_ops.hpp"
#include "icotes/git_module.hpp"
#include "icotes/git_params.hpp"
#include "icotes/operation.hpp"
#include "icotes/workspace.hpp"
#include "ops/git_json.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

std::vector<std::string> table_verbs() {
  std::vector<std::string> verbs;
#define ICOTES_GIT_VERB(verb, Params, Target) verbs.emplace_back(#verb);
  ICOTES_GIT_OPERATIONS(ICOTES_GIT_VERB)
#undef ICOTES_GIT_VERB
  return verbs;
}

TEST(GitOperationTable, EverySchemaHasExactlyOneRowAndEveryRowASchema) {
  const auto verbs = table_verbs();
  std::multiset<std::string> rows(verbs.begin(), verbs.end());
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(std::string(ICOTES_SOURCE_DIR) + "/schemas/git"))
    if (e.path().extension() == ".json") files.insert(e.path().stem().string());
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) EXPECT_EQ(rows.count(f), 1u) << "schemas/git/" << f << ".json: rows in the table";
  for (const auto& v : verbs)
    EXPECT_EQ(files.count(v), 1u) << "table row '" << v << "' has no schemas/git/" << v << ".json";
  // The embedded schemas are the same set (cmake/embed_schemas.cmake globs them).
  std::set<std::string> embedded;
  for (const auto& [id, text] : ops::embedded_schemas())
    if (id.rfind("git/", 0) == 0) embedded.insert(std::string(id.substr(4)));
  EXPECT_EQ(embedded, files);
}

TEST(GitOperationTable, RegistrationFollowsTheTable) {
  std::set<std::string> registered;
  for (const Operation* op : builtin_registry().all())
    if (op->id.rfind("git/", 0) == 0) {
      registered.insert(op->id.substr(4));
      EXPECT_TRUE(op->mcp_text) << op->id << ": git's text form (git_text.hpp)";
    }
  const auto verbs = table_verbs();
  EXPECT_EQ(registered, std::set<std::string>(verbs.begin(), verbs.end()));
}

TEST(GitOperationTable, TheModuleHasAnEntryPerRow) {
  // ModuleApi is the entry table the module fills from the same rows: its
  // size is the header plus one entry per row (a row added on one side only
  // would not compile, this checks nothing was added beside the table).
  struct Header {
    int abi_version;
    void* (*create)(const ConfinedRoot&);
    void (*destroy)(void*);
  };
  using Entry = Result<json> (*)(void*, const git::StatusParams&, const git::Call&);
  EXPECT_EQ(sizeof(git::ModuleApi), sizeof(Header) + table_verbs().size() * sizeof(Entry));
}

// Calls refused by the schema or by a typed field never reach the handler,
// which would load icotes-git.so: ICOTES_GIT_MODULE points at nothing.
class GitTypedParams : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("ICOTES_GIT_MODULE", "/nonexistent/icotes-git.so", 1);
    auto ws = Workspace::open(dir_.path(), 1);
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    ws_ = std::move(*ws);
    register_git_ops(registry_);
  }
  void TearDown() override { ::unsetenv("ICOTES_GIT_MODULE"); }
  Result<json> call(const char* id, const json& params) {
    const Operation* op = registry_.find(id);
    EXPECT_NE(op, nullptr) << id;
    if (!op) return make_error(error_code::kInternalError, "no op");
    CancellationToken token;
    NullProgress progress;
    Context ctx{*ws_, token, progress, nullptr};
    return registry_.invoke(*op, ctx, params);
  }
  test::TempDir dir_;
  std::unique_ptr<Workspace> ws_;
  Registry registry_;
};

TEST_F(GitTypedParams, WrongTypeIsInvalidParamsNamingTheParameter) {
  auto r = call("git/log", json{{"limit", "ten"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_EQ(r.error().data["pointer"], "/limit");
  EXPECT_NE(r.error().message.find("limit"), std::string::npos) << r.error().message;

  r = call("git/diff", json{{"target", {{"from", 7}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_NE(r.error().message.find("target"), std::string::npos) << r.error().message;

  r = call("git/stage", json{{"paths", "a.txt"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams);
  EXPECT_EQ(r.error().data["pointer"], "/paths");
}

TEST_F(GitTypedParams, ValueBeyondTheFieldIsInvalidParamsNamingIt) {
  // The schema has no maximum for skip; a size_t cannot hold 1e30.
  auto r = call("git/log", json{{"skip", 1e30}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kInvalidParams) << r.error().message;
  EXPECT_EQ(r.error().data["pointer"], "/skip") << r.error().message;
  EXPECT_NE(r.error().message.find("/skip"), std::string::npos) << r.error().message;
}

TEST_F(GitTypedParams, ValidParamsReachTheModule) {
  // What the refusals above are measured against: a valid call gets past the
  // binding and fails later (no module here, or no repository).
  auto r = call("git/log", json{{"limit", 1}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().code, error_code::kInvalidParams) << r.error().message;
}

TEST(GitParamsBinding, MembersAndDefaults) {
  auto d = bind_params<git::DiffParams>(json{{"target", {{"from", "HEAD~1"}}}, {"paths", {"a"}}, {"limit", 5}});
  ASSERT_TRUE(d.revisions);
  EXPECT_EQ(d.revisions->from, "HEAD~1");
  EXPECT_FALSE(d.revisions->to);
  EXPECT_FALSE(d.staged);
  EXPECT_EQ(d.paths, std::vector<std::string>{"a"});
  EXPECT_EQ(d.limit, 5u);
  EXPECT_EQ(d.context_lines, 3u);
  EXPECT_EQ(d.given["limit"], 5);
  EXPECT_TRUE(bind_params<git::DiffParams>(json{{"target", "staged"}}).staged);

  auto t = bind_params<git::TagParams>(json::object());
  EXPECT_EQ(t.action, "list");
  EXPECT_EQ(t.rev, "HEAD");
  EXPECT_FALSE(t.name);

  auto c = bind_params<git::CommitParams>(json{{"author", {{"name", "N"}, {"email", "e@x"}}}});
  ASSERT_TRUE(c.author);
  EXPECT_EQ(c.author->email, "e@x");
  EXPECT_FALSE(c.message);
}

}  // namespace
}  // namespace icotes
