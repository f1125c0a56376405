// parse_shell_command against another parser: shfmt (mvdan/sh) in bash and in
// POSIX mode (tests/unit/shfmt_oracle.hpp). For every line of a corpus of
// tricky shell, and every seed of the shell-rule fuzz target, a parse that is
// not opaque must list the simple commands shfmt finds, with the same literal
// words. Skipped when shfmt is not installed (scripts/install-deps.sh
// installs it).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "icotes/shell_rule.hpp"
#include "shfmt_oracle.hpp"

namespace icotes::permissions {
namespace {

const std::vector<std::string> kLines = {
    // Quoting.
    "echo 'a b' \"c d\" e\\ f g\\\\h 'i'\"j\"k",
    "echo \"a \\\"b\\\" \\$c \\`d\\` \\\\ \\x\"",
    "echo '\\'' x'",
    "echo \"it's\" 'say \"hi\"'",
    "'g''it' st\"at\"us",
    "echo a#b '#c' \\#d # comment",
    "echo \"\" '' x",
    // $'...' and $"...".
    "echo $'\\c'; touch PWNED; echo '\\'",
    "echo $'a\\tb' $'\\\\' $'\\x41' $'\\101' $'\\u00e9'",
    "echo $'\\c\\\\' x",
    "echo $'\\''",
    "echo $'a\\'b'",
    "echo $\"x y\" z",
    "echo \"$'not special'\"",
    // Substitutions.
    "echo $(date) `whoami` \"$(pwd) `id -u`\"",
    "echo $(echo $(echo deep))",
    "echo `echo \\`echo inner\\``",
    "echo \"`echo \\\"q\\\"`\"",
    "echo ${HOME:-$(pwd)} ${x:+\"$(id)\"} ${#y} ${z%%.c}",
    "echo ${x:-'}'} ${y:-\"}\"}",
    "diff <(sort a) <(sort b) > /dev/null",
    "tee >(wc -l) < in.txt",
    "echo $((1 + 2 * 3)) $(( (4) ))",
    "echo $((x + 1))",
    "echo $[1 + 1]",
    // Here-documents and here-strings.
    "cat <<EOF\nhello $USER $(date)\nEOF",
    "cat <<'EOF'\n$(not run)\nEOF\necho after",
    "cat <<-EOF\n\tindented `id`\n\tEOF",
    "cat <<A; cat <<B\na $(one)\nA\nb $(two)\nB",
    "cat <<\"E\"OF\nbody\nEOF",
    "cat << E\\\nOF\nbody\nEOF\necho after",
    "echo $(cat <<EOF\n)\nEOF\n)",
    "grep x <<< 'some text' | wc -l",
    // Comments and continuations.
    "ls # ; rm -rf ~\necho two",
    "git diff \\\n  --stat && \\\n  git status",
    "r\\\nm -f x",
    "echo a\\\n#b",
    // Redirections.
    "ls > out 2>&1 < in >> log 2>/dev/null <&- >&2",
    "ls &>/dev/null",
    "ls &> out",
    "ls &>>out",
    "ls 2>&1 | tee log",
    "echo 10>/dev/null hi",
    "echo {fd}>out",
    "ls |& cat",
    ">empty",
    // Lists, pipelines, compound commands.
    "a && b || c; d & e | f |& g",
    "! git diff --quiet",
    "(cd sub && make) ; { make; make install; } 2>&1",
    "if true; then echo y; elif false; then echo n; else echo z; fi",
    "while read -r l; do echo \"$l\"; done < file",
    "until false; do break; done",
    "for f in *.c \"a b\" $(ls); do cc -c \"$f\"; done",
    "for x in a; { echo brace; }",
    "for x\ndo echo $x\ndone",
    "case x in x) echo c;; esac",
    "f() { echo body; }; f",
    "function g { echo body; }",
    "[[ -f x ]] && echo y",
    "(( i++ ))",
    "for ((i=0;i<3;i++)); do echo $i; done",
    "select x in a b; do break; done",
    "coproc cat",
    "let x=1",
    "a=(1 2 3)",
    "a[0]=1",
    // Assignments and wrappers.
    "FOO=1 BAR='x y' make test",
    "A=1",
    "x+=1 echo hi",
    "LC_ALL=C sort -u",
    "env FOO=1 make",
    "export A=1 B; readonly C=2; local d",
    "declare -x E=$(id)",
    "timeout 5 sh -c 'ls | wc -l'",
    "bash -c \"git status; echo $HOME\"",
    "eval 'ls; pwd'",
    "xargs -0 rm -f < list",
    "find . -name '*.o' -exec rm -f {} \\;",
    "sudo -u root git diff",
    "nice -n 10 nohup make &",
    "time -p make",
    "time make -j2",
    "time { make; }",
    "command -v git",
    "exec 3>&-",
    // Globs, tilde, braces.
    "ls ~ ~/x a~b --prefix=~/y a=~ *.txt file?.c [ab].c x]y",
    "echo {a,b} {1..3} a{,b} {x}",
    "echo \\* '*' \"*\" \\~",
    // Reserved words in other places.
    "echo if then fi done { }",
    "echo hi; }",
    "'if' true",
    "{ echo; }",
    // Found by the differential fuzzing.
    "PA\\\nTH=x l\\\ns -l",
    "echo ''~ a'='~ b=~ c=x:~",
    "time a | b && c",
    "timeout|true;u",
    // Odd spacing and bytes.
    "  ls\t-l  ;;",
    "ls;;",
    "echo \xc3\xa9t\xc3\xa9",
    "echo a\rb",
};

TEST(ShellOracleTest, ParserAgreesWithShfmt) {
  if (!test::shfmt::available()) GTEST_SKIP() << "shfmt is not installed (scripts/install-deps.sh installs it)";
  std::vector<std::string> lines = kLines;
  const std::filesystem::path seeds = std::filesystem::path(ICOTES_SOURCE_DIR) / "fuzz/corpus/shell_rule_fuzz";
  if (std::filesystem::is_directory(seeds)) {
    for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
      std::ifstream f(entry.path(), std::ios::binary);
      lines.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
  }
  int compared = 0;
  for (const std::string& line : lines) {
    if (parse_shell_command(line).opaque || test::shfmt::shfmt_differs(line)) continue;
    ++compared;
    EXPECT_EQ(test::shfmt::check(line), "") << "line: " << line;
  }
  EXPECT_GE(compared, 60) << "too few lines were analysed to compare";
}

// The oracle itself: the split the parser used to make of `echo $'\c'; touch PWNED; echo '\'` (one echo) is
// reported as a mismatch, as is a literal word shfmt sees expanded.
TEST(ShellOracleTest, OracleReportsAWrongSplit) {
  if (!test::shfmt::available()) GTEST_SKIP() << "shfmt is not installed";
  const std::string line = "echo $'\\c'; touch PWNED; echo '\\'";
  auto tree = test::shfmt::parse(line, "bash");
  ASSERT_TRUE(tree);
  ShellParse wrong;
  wrong.commands.push_back(SimpleCommand{{}, {}, {"echo", "\x03; touch PWNED; echo '"}, {false, false}, false, false});
  EXPECT_NE(test::shfmt::compare(wrong, test::shfmt::commands(*tree)), "");
  EXPECT_EQ(test::shfmt::compare(parse_shell_command(line), test::shfmt::commands(*tree)), "");
  auto glob = test::shfmt::parse("ls *.c", "bash");
  ASSERT_TRUE(glob);
  ShellParse literal;
  literal.commands.push_back(SimpleCommand{{}, {}, {"ls", "*.c"}, {false, false}, false, false});
  EXPECT_NE(test::shfmt::compare(literal, test::shfmt::commands(*glob)), "");
  auto func = test::shfmt::parse("f() { ls; }", "bash");
  ASSERT_TRUE(func);
  EXPECT_NE(test::shfmt::compare(ShellParse{}, test::shfmt::commands(*func)), "");
}

}  // namespace
}  // namespace icotes::permissions
