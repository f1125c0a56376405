// Shell permission rules (include/permissions/icotes/shell_rule.hpp): attack strings that
// must not be allowed by a benign rule, commands that must be allowed, and the
// shape of parse_shell_command's output. Each row names the rules beside the
// command, the way a user's settings would list `Bash(...)` entries.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
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
    // `\c` takes the next character as its operand in bash's decoding, but bash's lexer ends the string at the
    // quote after `\c` (and dash at the first quote): `touch` runs in both.
    {{"echo:*"}, "echo $'\\c'; touch PWNED; echo '\\'"},
    {{"echo:*"}, "echo $'\\c\\''; touch PWNED; echo '"},
    {{"echo:*"}, "echo $'\\\\'; touch PWNED; echo '"},
    {{"echo:*"}, "echo ${x:-$'\\''}; touch PWNED; echo '"},
    {{"echo:*"}, "echo $'\\x27'; touch PWNED"},
    // What a later command name runs, changed earlier in the line.
    {{"alias:*", "ls:*"}, "alias ls='rm -rf ~'\nls"},
    {{"hash:*", "ls:*"}, "hash -p /tmp/evil ls; ls"},
    {{"enable:*", "evil:*"}, "enable -f ./evil.so evil; evil"},
    // Shells reading their script from stdin, and shells whose grammar is not sh's.
    {{"echo:*", "sh"}, "echo 'rm -rf ~' | sh"},
    {{"bash"}, "bash <<'EOF'\nrm -rf ~\nEOF"},
    {{"bash -s:*"}, "bash -s < script.sh"},
    {{"ksh -c:*", "echo:*"}, "ksh -c 'echo ${ rm -rf ~; }'"},
    {{"busybox:*"}, "busybox rm -rf ~"},
    {{"busybox:*", "echo:*"}, "busybox sh -c 'echo; rm -rf ~'"},
    // Assignments that make a program run other code, or read other files, need a rule that names them.
    {{"git status:*"}, "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0=x git status"},
    {{"sort:*"}, "LC_ALL=/tmp/evil sort"},
    {{"make:*"}, "TERM=../../tmp/x make"},
    {{"ls:*"}, "COLUMNS=$(rm -rf ~) ls"},
    // The shells join a backslash-newline before reading tokens: `<<\<newline>-EOF` is `<<-EOF`, whose body
    // ends at the tab-indented EOF, and `rm -rf ~` runs.
    {{"cat:*"}, "cat <<\\\n-EOF\n\tEOF\nrm -rf ~\n-EOF"},
    {{"ls:*", "echo:*"}, "for ls in 'x[$(rm -rf ~)]'; do echo $(\\\n(ls)); done"},
    {{"ls:*"}, "(\\\n(ls))"},
    // A loop variable is an assignment: PATH, HOME, GIT_DIR... go to the commands in the loop.
    {{"ls:*"}, "for PATH in ./evil; do ls; done"},
    {{"git status:*"}, "for HOME in ./evil; do git status; done"},
    {{"curl:*"}, "for https_proxy in http://evil:8080; do curl https://example.com; done"},
    {{"echo:*", "ls:*"}, "echo ${PATH:=./evil} && ls"},
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
    {{"grep:*"}, "grep -c $'\\t' data.tsv"},
    {{"echo:*", "touch x"}, "echo $'\\c'; touch x"},
    // Each simple command by one of the rules.
    {{"ls:*", "echo:*"}, "ls; echo hi"},
    {{"ls:*", "echo:*", "wc -l"}, "ls | wc -l && echo done"},
    // Harmless variables need no rule; a rule that names them still matches.
    {{"sort:*"}, "LC_ALL=C sort -u names.txt"},
    {{"git log:*"}, "TZ=UTC TERM=dumb NO_COLOR=1 git log -1"},
    {{"LC_ALL=C sort"}, "LC_ALL=C sort"},
    {{"busybox:*", "ls:*"}, "busybox ls -l"},
    {{"bash --norc -c:*", "make:*"}, "bash --norc -c 'make -j2'"},
    {{"sh script.sh"}, "sh script.sh"},
    {{"cc:*"}, "for src in *.c; do cc -c \"$src\"; done"},
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
  // $'...' is dynamic: dash reads `$` and a single-quoted string, bash decodes the escapes.
  ShellParse p = parse_shell_command("echo \"$HOME\"/x 'a b' c\\ d $'\\t' HEAD~1 ~/y *.c");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 1u);
  const SimpleCommand& c = p.commands[0];
  EXPECT_EQ(c.words, (std::vector<std::string>{"echo", "/x", "a b", "c d", "", "HEAD~1", "~/y", "*.c"}));
  EXPECT_EQ(c.dynamic, (std::vector<bool>{false, true, false, false, true, false, true, true}));
}

// `$'\c'`: both shells end the string at the next quote, so the line is three commands.
TEST(ShellParseTest, AnsiCQuotesEndWhereBothShellsEndThem) {
  ShellParse p = parse_shell_command("echo $'\\c'; touch PWNED; echo '\\'");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 3u);
  EXPECT_EQ(p.commands[1].words, (std::vector<std::string>{"touch", "PWNED"}));
  EXPECT_EQ(p.commands[2].words, (std::vector<std::string>{"echo", "\\"}));
  for (const char* line : {"echo $'\\c\\'' x'", "echo $'a\\'b'", "echo $'\\\\\\''", "echo $'\\c"}) {
    EXPECT_TRUE(parse_shell_command(line).opaque) << line;
  }
  EXPECT_FALSE(parse_shell_command("echo $'\\\\' x").opaque);  // `\\` then the quote: the same end in both
}

// A backslash-newline inside a word is gone before the shell reads the word: `PA\<newline>TH=x` assigns.
TEST(ShellParseTest, LineContinuationsJoinWords) {
  ShellParse p = parse_shell_command("PA\\\nTH=./evil l\\\ns -l \\\n  x");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 1u);
  EXPECT_EQ(p.commands[0].assignments, (std::vector<std::string>{"PATH=./evil"}));
  EXPECT_EQ(p.commands[0].words, (std::vector<std::string>{"ls", "-l", "x"}));
}

TEST(ShellParseTest, LoopVariablesThatMatterAreAssignments) {
  ShellParse p = parse_shell_command("for PATH in ./evil; do ls; done");
  ASSERT_FALSE(p.opaque) << p.reason;
  ASSERT_EQ(p.commands.size(), 2u);
  EXPECT_EQ(p.commands[0].assignments, (std::vector<std::string>{"PATH="}));
  EXPECT_EQ(p.commands[0].assignment_dynamic, (std::vector<bool>{true}));
  EXPECT_TRUE(p.commands[0].words.empty());
  EXPECT_TRUE(p.commands[0].derived);
  EXPECT_EQ(parse_shell_command("for f in a b; do ls $f; done").commands.size(), 1u);
  EXPECT_EQ(parse_shell_command("for no_proxy in x; do ls; done").commands.size(), 2u);
}

TEST(ShellParseTest, CommandsRunByWrappersAreMarked) {
  ShellParse p = parse_shell_command("echo $(date) && timeout 5 sh -c 'ls | wc -l'");
  ASSERT_FALSE(p.opaque) << p.reason;
  std::vector<bool> wrapped;
  for (const SimpleCommand& c : p.commands) wrapped.push_back(c.derived);
  EXPECT_EQ(wrapped, (std::vector<bool>{false, false, false, true, true, true}));  // date echo timeout sh ls wc
}

// Deny rules: a pattern may name a command whose words are partly unknown, whatever its assignments, with the
// command name written as a path.
TEST(ShellRuleTest, DenyPatternsMayMatchWhatMightBeTheirCommand) {
  struct Row {
    const char* pattern;
    const char* command;
    bool may_match;
  };
  const std::vector<Row> rows = {
      {"rm:*", "rm -rf x", true},
      {"rm:*", "FOO=1 rm -rf x", true},
      {"rm:*", "/bin/rm -rf x", true},
      {"rm:*", "./rm x", true},
      {"rm -rf:*", "rm $OPTS x", true},
      {"rm -rf:*", "rm -r x", false},
      {"rm -rf x", "rm -rf x $MORE", true},
      {"rm -rf x", "rm -rf x y", false},
      {"git push:*", "git $SUB origin", true},
      {"git push:*", "git status", false},
      {"git push*", "git $SUB", true},
      {"git push*", "git status", false},
      {"curl * | sh", "curl x", false},
      {"rm:*", "echo $(date)", false},
      {"rm:*", "$CMD -rf x", false},  // a dynamic name: names_known() is false, decide() asks
      {"*", "ls", true},
      {"rm *", "rm", false},
      {"rm*", "rm", true},
  };
  for (const Row& r : rows) {
    ShellParse p = parse_shell_command(r.command);
    ASSERT_FALSE(p.opaque) << r.command << ": " << p.reason;
    EXPECT_EQ(bash_rule_may_match(r.pattern, p), r.may_match) << r.pattern << " vs " << r.command;
  }
  EXPECT_FALSE(names_known(parse_shell_command("$CMD -rf x")));
  EXPECT_FALSE(names_known(parse_shell_command("case x in x) rm -rf ~;; esac")));
  EXPECT_TRUE(names_known(parse_shell_command("rm $x")));
}

// What an allow rule matches a deny rule with the same pattern may match.
TEST(ShellRuleTest, DenyMatchingCoversAllowMatching) {
  for (const std::vector<Case>* list : {&kAllowed, &kAttacks}) {
    for (const Case& c : *list) {
      ShellParse p = parse_shell_command(c.command);
      for (const SimpleCommand& sc : p.commands) {
        for (const std::string& r : c.rules) {
          if (rule_matches_command(r, sc)) {
            EXPECT_TRUE(rule_may_match_command(r, sc)) << r << "\n" << describe(c);
          }
        }
      }
    }
  }
}

TEST(ShellRuleTest, ExactPatternsAllowExactlyTheLine) {
  EXPECT_EQ(exact_patterns_for("ls; echo hi && ls"), (std::vector<std::string>{"ls", "echo hi"}));
  EXPECT_EQ(exact_patterns_for("timeout 10 make test"),
            (std::vector<std::string>{"timeout 10 make test", "make test"}));
  EXPECT_EQ(exact_patterns_for("FOO=1 make"), (std::vector<std::string>{"FOO=1 make"}));
  for (const char* none :
       {"git commit -m 'a b'", "ls *.c", "echo 'a*'", "ls > out", "case x in esac", "", "echo $HOME"}) {
    EXPECT_TRUE(exact_patterns_for(none).empty()) << none;
  }
  for (const Case& c : kAllowed) {
    std::vector<std::string> patterns = exact_patterns_for(c.command);
    if (!patterns.empty()) {
      EXPECT_TRUE(bash_rules_allow(patterns, c.command)) << describe(c);
    }
  }
}

TEST(ShellRuleTest, HarmlessEnvironmentVariables) {
  for (auto [name, value] : std::vector<std::pair<const char*, const char*>>{{"TERM", "xterm-256color"},
                                                                             {"LANG", "C.UTF-8"},
                                                                             {"LC_ALL", "C"},
                                                                             {"LC_MESSAGES", "fr_FR"},
                                                                             {"TZ", "Europe/Paris"},
                                                                             {"NO_COLOR", "1"},
                                                                             {"FORCE_COLOR", "3"},
                                                                             {"COLUMNS", "120"},
                                                                             {"LINES", "40"},
                                                                             {"CI", "true"}}) {
    EXPECT_TRUE(harmless_environment_variable(name, value)) << name << "=" << value;
  }
  for (auto [name, value] : std::vector<std::pair<const char*, const char*>>{{"PATH", "/usr/bin"},
                                                                             {"HOME", "/tmp"},
                                                                             {"GIT_CONFIG_COUNT", "1"},
                                                                             {"BASH_ENV", "x"},
                                                                             {"ENV", "x"},
                                                                             {"PYTHONSTARTUP", "x"},
                                                                             {"NODE_OPTIONS", "--require x"},
                                                                             {"PERL5OPT", "-Mx"},
                                                                             {"LD_PRELOAD", "x.so"},
                                                                             {"PAGER", "sh"},
                                                                             {"EDITOR", "vi"},
                                                                             {"LANG", "/tmp/locale"},
                                                                             {"TERM", "../x"},
                                                                             {"COLUMNS", "80x"},
                                                                             {"LC_foo", "C"},
                                                                             {"LC_", "C"},
                                                                             {"SHELLOPTS", "xtrace"},
                                                                             {"PS4", "$(x)"},
                                                                             {"IFS", " "}}) {
    EXPECT_FALSE(harmless_environment_variable(name, value)) << name << "=" << value;
  }
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
      // dash and bash disagree.
      {"x+=1 echo hi", "+="},
      {"echo {fd}>out", "{name}>"},
      {"echo 10>/dev/null hi", "descriptor number over 9"},
      {"time { rm -rf ~; }", "time before a compound command"},
      {"time -p ! rm x", "time before a compound command"},
      {"alias ls='rm -rf ~'", "alias"},
      {"hash -p /tmp/evil ls", "hash -p"},
      {"echo $'a\\'b'", "backslash before a quote"},
      {"zsh -c 'ls'", "zsh -c"},
      {"sh", "standard input"},
      {"cat x | bash -s", "standard input"},
      {"bash <<'EOF'\nls\nEOF", "standard input"},
      {"echo ${X:=1}", "assigns"},
      {"$\\\n{CMD} -rf ~", "line continuation after '$'"},
      {"echo \"$\\\nHOME\"", "line continuation after '$'"},
      {"rm 2\\\n>/dev/null -rf x", "line continuation inside a redirection"},
      {"cat <<\\\n-EOF\n\tEOF\nEOF", "line continuation after a redirection operator"},
      {"a[\\\n0]=1", "subscript"},
      {"echo ${X=1}", "assigns"},
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
