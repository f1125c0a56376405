// Shell permission rules (include/icotes/shell_rule.hpp): attack strings that
// must not be allowed by a benign rule, commands that must be allowed, and the
// shape of parse_shell_command's output. Each row names the rules beside the
// command, the way a user's settings would list `Bash(...)` entries.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "icotes/shell_rule.hpp"

namespace icotes::permissions {
namespace {

struct Case {
  std::vector<std::string> rules;  // patterns: the text inside Bash(...)
  std::string command;
};

std::string describe(const Case& c) {
  std::string s = "rules:";
  for (const std::string& r : c.rules) s += " Bash(" + r + ")";
  ShellParse p = parse_shell_command(c.command);
  s += "\ncommand: " + c.command + "\nopaque: " + (p.opaque ? "yes (" + p.reason + ")" : "no") + "\ncommands:";
  for (const SimpleCommand& sc : p.commands) {
    s += "\n ";
    for (const std::string& a : sc.assignments) s += " " + a;
    for (std::size_t k = 0; k < sc.words.size(); ++k) s += sc.dynamic[k] ? " <" + sc.words[k] + ">" : " " + sc.words[k];
    if (sc.redirects_files) s += "  (redirects files)";
  }
  return s;
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out += s;
  return out;
}

// Each of these must be refused by the rules beside it.
const std::vector<Case> kAttacks = {
    // A harmless prefix, then a separator.
    {{"git diff:*"}, "git diff && rm -rf ~"},
    {{"git diff:*"}, "git diff; rm -rf ~"},
    {{"git diff:*"}, "git diff || rm -rf ~"},
    {{"git diff:*"}, "git diff | sh"},
    {{"git diff:*"}, "git diff |& rm -rf ~"},
    {{"git diff:*"}, "git diff & rm -rf ~"},
    {{"git diff:*"}, "git diff\nrm -rf ~"},
    {{"cd:*"}, "cd /x && git push"},
    {{"make test"}, "make test && rm x"},
    {{"make test"}, "make test2"},
    {{"npm run test *"}, "npm run test; rm -rf ~"},
    // Assignments before the command.
    {{"git diff:*"}, "GIT_EXTERNAL_DIFF=evil git diff"},
    {{"rm -rf build"}, "FOO=1 rm -rf build"},
    {{"git diff:*"}, "PATH=/tmp/evil; git diff"},
    {{"git diff:*"}, "export PATH=/tmp/evil; git diff"},
    // Wrappers: naming the wrapper does not allow what it runs.
    {{"env:*", "git diff:*"}, "env GIT_EXTERNAL_DIFF=evil git diff"},
    {{"env:*"}, "env -i rm -rf ~"},
    {{"env:*", "git diff:*"}, "env -S 'git diff' x"},
    {{"sh -c:*", "git diff:*"}, "sh -c 'git diff; rm -rf ~'"},
    {{"bash:*", "git diff:*"}, "bash -lc 'git diff && rm -rf ~'"},
    {{"dash -c:*"}, "dash -c 'rm -rf ~'"},
    {{"zsh -c:*", "echo:*"}, "zsh -c \"echo \\$(rm -rf ~)\""},
    {{"bash -c:*"}, "bash -c \"$SCRIPT\""},
    {{"eval:*", "git diff:*"}, "eval 'git diff; rm -rf ~'"},
    {{"eval:*", "git diff:*"}, "eval git diff $'\\x3b' rm -rf x"},
    {{"bash -c:*", "git diff:*"}, "bash -c $'git diff\\x3b rm -rf ~'"},
    {{"echo:*", "xargs:*"}, "echo ~ | xargs rm -rf"},
    {{"echo:*", "xargs:*", "sh -c:*"}, "echo 'rm -rf ~' | xargs -I{} sh -c {}"},
    {{"echo:*", "xargs:*", "ls:*"}, "echo 'rm -rf ~' | xargs -I ls sh -c ls"},
    {{"timeout:*"}, "timeout 5 rm -rf ~"},
    {{"timeout:*", "git diff:*"}, "timeout --frobnicate 5 git diff"},
    {{"nice:*"}, "nice -n 5 rm -rf ~"},
    {{"nohup:*"}, "nohup rm -rf ~ &"},
    {{"command:*"}, "command rm -rf ~"},
    {{"builtin:*", "git diff:*"}, "builtin eval 'git diff; rm -rf ~'"},
    {{"exec:*"}, "exec rm -rf ~"},
    {{"sudo:*"}, "sudo -u root rm -rf /"},
    {{"sudo:*", "git diff:*"}, "sudo GIT_EXTERNAL_DIFF=evil git diff"},
    {{"doas:*"}, "doas rm -rf /"},
    {{"stdbuf:*"}, "stdbuf -oL rm -rf ~"},
    {{"time:*"}, "time rm -rf ~"},
    {{"time:*", "git diff:*"}, "time -o out.txt git diff"},
    {{"watch:*", "git diff:*"}, "watch 'git diff; rm -rf ~'"},
    {{"watch:*"}, "watch -x rm -rf ~"},
    {{"find:*"}, "find . -exec rm {} \\;"},
    {{"find:*"}, "find . -name '*.o' -execdir rm -f {} +"},
    {{"find:*"}, "find . -ok sh -c 'rm -rf ~' \\;"},
    {{"find:*"}, "find . $EXTRA"},
    {{"find:*"}, "find . -fprint out.txt"},
    {{"source:*"}, "source ./evil.sh"},
    {{".:*"}, ". ./evil.sh"},
    // Here-documents whose unquoted body holds a substitution.
    {{"cat:*"}, "cat <<EOF\n$(rm -rf ~)\nEOF"},
    {{"cat:*"}, "cat <<EOF\nhello `rm -rf ~`\nEOF"},
    {{"cat:*"}, "cat <<-EOF\n\thello ${x:-$(rm -rf ~)}\n\tEOF"},
    {{"cat:*"}, "cat <<EOF\nno end"},
    // Substitutions in arguments, in double quotes, process substitution.
    {{"echo:*"}, "echo $(rm x)"},
    {{"echo:*"}, "echo `rm x`"},
    {{"echo:*"}, "echo \"$(rm x)\""},
    {{"echo:*"}, "echo \"a `rm x` b\""},
    {{"echo:*"}, "echo ${HOME:-$(rm x)}"},
    {{"diff:*"}, "diff <(rm x) y"},
    {{"tee:*", "git diff:*"}, "git diff | tee >(rm x)"},
    {{"echo:*"}, "for f in $(rm -rf ~); do echo $f; done"},
    // Quoting tricks: quote removal makes these `git push`.
    {{"git diff:*"}, "'g''it' push"},
    {{"git diff:*"}, "g\\it push"},
    {{"git diff:*"}, "\"git\" \"push\""},
    {{"git diff:*"}, "gi\"t\" $'push'"},
    // Word boundaries.
    {{"git diff:*"}, "git diff-index HEAD"},
    {{"git diff:*"}, "git difftool"},
    {{"git diff"}, "git diff --stat"},
    {{"npm run test *"}, "npm run test"},
    // Compound commands.
    {{"git diff:*"}, "(git diff; rm -rf ~)"},
    {{"git diff:*"}, "{ git diff; rm -rf ~; }"},
    {{"git diff:*"}, "! rm -rf ~"},
    {{"git diff:*"}, "if git diff; then rm -rf ~; fi"},
    {{"git diff:*"}, "while git diff; do rm -rf ~; done"},
    {{"git diff:*"}, "(git diff) > ~/.bashrc"},
    {{"git diff:*"}, "git() { rm -rf ~; }; git diff"},
    {{"git diff:*"}, "case x in x) rm -rf ~;; esac"},
    // A comment ends at the line break; continuations join lines.
    {{"git diff:*"}, "git diff # harmless\nrm -rf ~"},
    {{"git diff:*"}, "git diff \\\n&& rm -rf ~"},
    {{"git diff:*"}, "git diff; r\\\nm -rf ~"},
    // Redirections to files.
    {{"git diff:*"}, "git diff > ~/.bashrc"},
    {{"git diff:*"}, "git diff >> ~/.bashrc"},
    {{"git diff:*"}, "git diff 2> err.txt"},
    {{"git diff:*"}, "git diff &> out.txt"},
    {{"git diff:*"}, "git diff >| out.txt"},
    {{"git diff:*"}, "git diff >&out.txt"},
    {{"cat:*"}, "cat < /etc/shadow"},
    {{"git diff:*"}, "git diff {fd}>out.txt"},
    {{"git diff:*"}, "git diff > \"$OUT\""},
    // Unterminated or malformed input.
    {{"git diff:*"}, "git diff 'oops"},
    {{"git diff:*"}, "git diff \"oops"},
    {{"git diff:*"}, "git diff $(rm -rf ~"},
    {{"git diff:*"}, "git diff `rm -rf ~"},
    {{"git diff:*"}, "git diff ${HOME"},
    {{"git diff:*"}, "git diff $'oops"},
    {{"git diff:*"}, "git diff )"},
    {{"git diff:*"}, std::string("git diff\0; rm -rf ~", 19)},
    {{"git diff:*"}, "git diff " + std::string(70 * 1024, 'a')},
    {{"echo:*"}, repeat("( ", 40) + "echo" + repeat(" )", 40)},
    // Dynamic command names.
    {{"git diff:*"}, "$GIT diff"},
    {{"git diff:*"}, "$(echo git) diff"},
    {{"*"}, "$(echo rm) -rf ~"},
    {{"git diff:*"}, "{git,rm} diff"},
    // A loop variable evaluated as code (bash runs $(..) in array subscripts).
    {{"echo:*"}, "for x in 'a[$(rm -rf ~)]'; do echo $((x)); done"},
    {{"echo:*"}, "for x in 'a[$(rm -rf ~)]'; do echo $[x]; done"},
    {{"echo:*"}, "for x in 'a[$(rm -rf ~)]'; do echo ${!x}; done"},
    {{"echo:*"}, "for x in '$(rm -rf ~)'; do echo ${x@P}; done"},
    {{"echo:*"}, "for x in 'a[$(rm -rf ~)]'; do echo ${y[x]}; done"},
    {{"printf:*"}, "for x in 'a[$(rm -rf ~)]'; do printf -v \"$x\" 1; done"},
    {{"read:*"}, "for x in 'a[$(rm -rf ~)]'; do read \"$x\" <<< 1; done"},
    {{"[:*"}, "[ -v 'a[$(rm -rf ~)]' ]"},
    {{"test:*"}, "for x in -v; do test \"$x\" 'a[$(rm -rf ~)]'; done"},
    {{"echo:*"}, "let 'a[$(rm -rf ~)]=1'"},
    // Places where /bin/sh as dash splits differently from bash.
    {{"git diff:*"}, "git diff &>/dev/null rm -rf ~"},
    {{"echo:*"}, "echo $'\\' ; rm -rf ~ ; echo '"},
    // Scripts run later, and values that split into words.
    {{"trap:*", "git diff:*"}, "trap 'rm -rf ~' EXIT; git diff"},
    {{"env:*", "git:*"}, "env FOO=$X git diff"},
    {{"cat:*"}, "cat <<EOF\nEO\\\nF\nrm -rf ~\nEOF"},
};

// Each of these must be allowed by the rules beside it.
const std::vector<Case> kAllowed = {
    {{"git diff:*"}, "git diff"},
    {{"git diff:*"}, "git diff --stat"},
    {{"git diff:*"}, "git  diff"},
    {{"git diff:*"}, "'git' diff"},
    {{"git diff:*"}, "git diff HEAD~1 -- src/"},
    {{"git diff:*", "head:*"}, "git diff 2>&1 | head -5"},
    {{"make test"}, "make test"},
    {{"make test"}, "make  test"},
    {{"make test"}, "'make' test"},
    {{"git diff:*"}, "git diff > /dev/null"},
    {{"git diff:*"}, "git diff 2>/dev/null"},
    {{"git diff:*"}, "git diff &>/dev/null"},
    {{"git diff:*"}, "git diff 2>&1 >/dev/null <&-"},
    {{"git diff:*", "git status"}, "git diff && git status"},
    {{"git:*"}, "git diff; git status || git log -1"},
    {{"echo:*"}, "for f in a b; do echo $f; done"},
    {{"timeout 10 make test", "make test"}, "timeout 10 make test"},
    {{"git diff:*"}, "git diff # ; rm -rf ~"},
    {{"git diff:*"}, "git diff \\\n  --stat"},
    {{"git diff*"}, "git diff-tree HEAD"},
    {{"git diff*"}, "git diff x"},
    {{"npm run test *"}, "npm run test --watch"},
    {{"git diff:*", "git merge-base:*"}, "git diff $(git merge-base HEAD main)"},
    {{"echo:*", "date"}, "echo \"today: `date`\""},
    {{"cat:*"}, "cat <<'EOF'\n$(rm -rf ~)\nEOF"},
    {{"cat:*"}, "cat <<EOF\nhello $USER\nEOF"},
    {{"cat:*", "date"}, "cat <<EOF\nnow $(date)\nEOF"},
    {{"grep:*"}, "grep -n foo <<< 'some text'"},
    {{"find:*", "rm -f:*"}, "find . -name '*.o' -exec rm -f {} \\;"},
    {{"echo:*", "xargs:*", "wc -l:*"}, "echo a b | xargs wc -l"},
    {{"bash -c:*", "git diff:*"}, "bash -c 'git diff --stat'"},
    {{"ls:*"}, "ls -la ~ *.txt"},
    {{"git diff:*"}, "(git diff)"},
    {{"git diff:*"}, "{ git diff; } 2>&1"},
    {{"git diff:*"}, "! git diff --quiet"},
    {{"FOO=1 make test"}, "FOO=1 make test"},
    {{"[:*", "echo:*"}, "[ -f x ] && echo yes"},
    {{"[:*", "echo:*"}, "for f in a b; do [ -f \"$f\" ] && echo \"$f\"; done"},
    {{"printf:*"}, "for f in *.txt; do printf '%s\\n' \"$f\"; done"},
    {{"echo:*"}, "echo $((1 + 2 * 3))"},
    {{"sudo:*", "git diff:*"}, "sudo -u root git diff"},
    {{"nohup:*", "make test"}, "nohup make test &"},
    {{"env:*", "FOO=1 make test"}, "env FOO=1 make test"},
    {{"nice:*", "make:*"}, "nice -n 10 make -j2"},
    {{"git diff:*", "wc -l"}, "if git diff --quiet; then wc -l; else wc -l; fi"},
    // `$'\x3b'` is a literal ';' argument here, not a separator: git gets the words `;`, `rm`, `x`.
    {{"git diff:*"}, "git diff $'\\x3b' rm x"},
};

TEST(ShellRuleTest, AttacksAreNotAllowed) {
  EXPECT_GE(kAttacks.size(), 40u);
  for (const Case& c : kAttacks) EXPECT_FALSE(bash_rules_allow(c.rules, c.command)) << describe(c);
}

TEST(ShellRuleTest, BenignCommandsAreAllowed) {
  EXPECT_GE(kAllowed.size(), 20u);
  for (const Case& c : kAllowed) EXPECT_TRUE(bash_rules_allow(c.rules, c.command)) << describe(c);
}

TEST(ShellRuleTest, SingleRuleMatchesEveryCommand) {
  EXPECT_TRUE(bash_rule_matches("git diff:*", "git diff && git diff --stat"));
  EXPECT_FALSE(bash_rule_matches("git diff:*", "git diff && git status"));
  EXPECT_FALSE(bash_rule_matches("git diff:*", ""));
  EXPECT_FALSE(bash_rule_matches("git diff:*", "# only a comment"));
  EXPECT_TRUE(bash_rule_matches("*", "anything at all | really"));
  EXPECT_FALSE(bash_rule_matches("npm run test *", "npm run test $(printf x)"));  // printf needs a rule
}

TEST(ShellRuleTest, RuleMatchesCommandWithDynamicWords) {
  SimpleCommand c;
  c.words = {"git", "diff", ""};
  c.dynamic = {false, false, true};
  EXPECT_TRUE(rule_matches_command("git diff:*", c));
  EXPECT_TRUE(rule_matches_command("git diff *", c));
  EXPECT_TRUE(rule_matches_command("git *", c));
  EXPECT_FALSE(rule_matches_command("git diff", c));
  EXPECT_FALSE(rule_matches_command("git diff x", c));
  EXPECT_FALSE(rule_matches_command("git diff x*", c));
  c.dynamic = {true, false, false};
  EXPECT_FALSE(rule_matches_command("*", c));
  EXPECT_FALSE(rule_matches_command(":*", c));
}

TEST(ShellParseTest, AssignmentsWordsAndHarmlessRedirections) {
  ShellParse p = parse_shell_command("FOO=1 git diff --stat 2>&1");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 1u);
  const SimpleCommand& c = p.commands[0];
  EXPECT_EQ(c.assignments, (std::vector<std::string>{"FOO=1"}));
  EXPECT_EQ(c.words, (std::vector<std::string>{"git", "diff", "--stat"}));
  EXPECT_EQ(c.dynamic, (std::vector<bool>{false, false, false}));
  EXPECT_FALSE(c.redirects_files);
}

TEST(ShellParseTest, QuoteRemovalAndDynamicWords) {
  ShellParse p = parse_shell_command("echo \"$HOME\"/x 'a b' c\\ d $'\\t' HEAD~1 ~/y *.c");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 1u);
  const SimpleCommand& c = p.commands[0];
  EXPECT_EQ(c.words, (std::vector<std::string>{"echo", "/x", "a b", "c d", "\t", "HEAD~1", "~/y", "*.c"}));
  EXPECT_EQ(c.dynamic, (std::vector<bool>{false, true, false, false, false, false, true, true}));
}

TEST(ShellParseTest, WrappersAndScriptsAddCommands) {
  ShellParse p = parse_shell_command("timeout 5 sh -c 'ls | wc -l'");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 4u);
  EXPECT_EQ(p.commands[0].words, (std::vector<std::string>{"timeout", "5", "sh", "-c", "ls | wc -l"}));
  EXPECT_EQ(p.commands[1].words, (std::vector<std::string>{"sh", "-c", "ls | wc -l"}));
  EXPECT_EQ(p.commands[2].words, (std::vector<std::string>{"ls"}));
  EXPECT_EQ(p.commands[3].words, (std::vector<std::string>{"wc", "-l"}));
}

TEST(ShellParseTest, XargsAddsAnUnknownArgument) {
  ShellParse p = parse_shell_command("xargs -0 -n1 rm -f");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 2u);
  EXPECT_EQ(p.commands[1].words, (std::vector<std::string>{"rm", "-f", ""}));
  EXPECT_EQ(p.commands[1].dynamic, (std::vector<bool>{false, false, true}));
}

TEST(ShellParseTest, HereDocumentBodies) {
  ShellParse p = parse_shell_command("cat <<EOF > /dev/null\nnow $(date +%s)\nEOF\necho done");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 3u);
  EXPECT_EQ(p.commands[0].words, (std::vector<std::string>{"cat"}));
  EXPECT_FALSE(p.commands[0].redirects_files);
  EXPECT_EQ(p.commands[1].words, (std::vector<std::string>{"date", "+%s"}));
  EXPECT_EQ(p.commands[2].words, (std::vector<std::string>{"echo", "done"}));
}

TEST(ShellParseTest, FileRedirectionIsFlagged) {
  ShellParse p = parse_shell_command("git diff > out.txt");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 1u);
  EXPECT_TRUE(p.commands[0].redirects_files);
}

TEST(ShellParseTest, OpaqueInputsSayWhy) {
  struct Row {
    std::string command;
    std::string reason_part;
  };
  const std::vector<Row> rows = {
      {"echo 'x", "unterminated single quote"},
      {"echo \"x", "unterminated double quote"},
      {"case a in a) ;; esac", "case"},
      {"f() { :; }", "function definition"},
      {"source x.sh", "source"},
      {std::string("a\0b", 3), "NUL"},
      {std::string(65537, 'a'), "64 KiB"},
      {repeat("( ", 40) + "x" + repeat(" )", 40), "nesting"},
      {repeat("$(", 40) + "x" + repeat(")", 40), "nesting"},
      {repeat("eval ", 40) + "x", "nesting"},
      {"[[ -f x ]]", "[[ ]]"},
      {"echo $((n + 1))", "arithmetic"},
  };
  for (const Row& r : rows) {
    ShellParse p = parse_shell_command(r.command);
    EXPECT_TRUE(p.opaque) << r.command.substr(0, 80);
    EXPECT_NE(p.reason.find(r.reason_part), std::string::npos) << r.command.substr(0, 80) << " -> " << p.reason;
    EXPECT_TRUE(p.commands.empty());
  }
}

}  // namespace
}  // namespace icotes::permissions
