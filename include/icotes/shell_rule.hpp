// Shell permission rules: decides whether a command line an AI wants to run
// with `/bin/sh -c` is covered by user rules written like Claude Code's
// `Bash(git diff:*)`, `Bash(make test)`, `Bash(npm run test *)` (the text
// inside `Bash(...)` is the pattern). A conservative parser of bash syntax
// (bash(1) "SHELL GRAMMAR", "QUOTING", "EXPANSION", "REDIRECTION") splits the
// line into every simple command the shell would run, including those inside
// substitutions, subshells, here-documents and wrappers such as `timeout`,
// `xargs` or `sh -c`; a rule covers the line only when it covers each of
// them. Whatever the parser cannot analyse safely makes the parse opaque, and
// an opaque line matches no rule, so the user is asked: that is the safe
// failure. Only the standard library is used.
//
// Choices beyond the rule syntax (each errs towards "no match"):
// - Pattern words are split on blanks without quote removal; command words are
//   compared word by word after quote removal, so `git 'diff --stat'` (one
//   argument) does not match `Bash(git diff --stat)`. Globs compare the words
//   joined by single spaces; only `*` is a wildcard there.
// - A command consisting only of assignments (`PATH=/tmp`) must be matched like
//   any other: its words are its assignments. An empty line matches nothing.
// - A dynamic command name matches no pattern at all, not even `*`.
// - Opaque, beyond syntax errors: `case`, `select`, `coproc`, `function` and
//   `f() {}` definitions, `[[ ]]`, `(( ))`, `for ((;;))`, arithmetic
//   `$((..))` naming variables, `$[..]`, `${!x}`, `${x[..]}`, `${x:offset}`,
//   `${x@op}`, `a[i]=v`, `a=(..)`, extglob, and builtins that evaluate a
//   variable's text as code (`let`; `read`, `unset`, `declare`, `export`... with
//   a dynamic or `[`-holding argument; `printf -v`; `test -v`): a `for` loop can
//   put any text in a variable, and bash runs `$(..)` found in array subscripts.
// - A file redirection on a compound command (`(..) > f`, `done > f`) is opaque;
//   `time -o FILE` and `find -fprint FILE` count as file redirections.
// - Wrapper options are parsed from a fixed table per tool; an unknown option,
//   or an expansion before the wrapped command's name, is opaque. `trap 'ACTION'`
//   is treated like `eval` (the action runs later).
// - /bin/sh may be dash, so lines that dash splits differently are opaque: a word
//   after `&>` (dash: `&` then `>`), `\'` inside `$'...'` (dash has no `$'...'`).
//   A backslash ending a line of an unquoted here-document body is opaque too
//   (bash joins the lines before it looks for the delimiter).
// - The text of a dynamic word keeps only its literal parts ("$HOME/x" -> "/x").
// - Not unwrapped: programs that run commands on their own terms (git aliases and
//   -c options, make, npm run, ssh, su -c, script -c, parallel, flock, setsid,
//   chroot, strace, awk system(), sed e, less !, ...). A rule naming them allows
//   whatever they run; likewise options that write files (`git diff --output=f`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace icotes::permissions {

/// One simple command as the shell would run it, words after quote removal.
struct SimpleCommand {
  std::vector<std::string> assignments;  // leading NAME=value words (and `env NAME=value` / `sudo NAME=value` ones)
  std::vector<bool> assignment_dynamic;  // per assignment: the value holds an expansion
  std::vector<std::string> words;        // command name and arguments
  std::vector<bool> dynamic;             // per word: contains an expansion ($VAR, ${..}, $(..), `..`, unquoted glob
                                         // * ? [..], ~, {a,b}) whose value the parser cannot know
  bool redirects_files = false;          // has a redirection to or from a file (not >/dev/null, 2>/dev/null,
                                         // N>&M, <&-; here-documents and here-strings are data)
};

struct ShellParse {
  /// Every simple command, in the order the parser met them (a substitution before the command using it):
  /// including those inside $(..), `..`, <(..), >(..), ( .. ), { ..; }, if/while/until/for bodies, here-document
  /// bodies with unquoted delimiters, and the commands run by wrappers (env, sh -c, eval, xargs, timeout, nice,
  /// nohup, command, builtin, exec, sudo, doas, stdbuf, time, watch, find -exec, trap), each after its wrapper.
  std::vector<SimpleCommand> commands;
  bool opaque = false;  // something could not be analysed; then no rule matches and `commands` is empty
  std::string reason;   // why opaque, for the user: "unterminated single quote", "case statement"
};

/// Parses `command` (bash syntax, as run by `/bin/sh -c`). Opaque for syntax errors, unterminated quotes,
/// substitutions or here-documents, NUL bytes, input over 64 KiB (65536 bytes), nesting deeper than 32
/// levels, and the constructs listed at the top of this header.
ShellParse parse_shell_command(std::string_view command);

/// Whether one simple command matches one pattern (the text inside `Bash(...)`):
/// - "cmd args:*": the command's words begin with these words (word boundary: "git diff:*" matches "git diff",
///   "git diff --stat", not "git diff-tree" nor "git difftool");
/// - a pattern ending in "*" without ":" is a glob on the words joined by single spaces ("git diff*" matches
///   "git diff-tree" and "git diff x"; "npm run test *" needs at least a space after test);
/// - otherwise the words must equal the pattern's words ("make test" matches "make  test", "'make' test").
/// Leading assignments count as words, so `FOO=1 make` matches only patterns that start with `FOO=1`.
/// A dynamic word never equals a literal pattern word; only the `:*` tail or a glob `*` covers it.
bool rule_matches_command(std::string_view pattern, const SimpleCommand& command);

/// True only when the parse is not opaque, has at least one simple command, and every one matches `pattern`.
bool bash_rule_matches(std::string_view pattern, std::string_view command);

/// True only when the parse is not opaque, has at least one simple command, and every one is matched by at
/// least one of `patterns` (`git diff && git status` needs both `git diff:*` and `git status`).
bool bash_rules_allow(const std::vector<std::string>& patterns, std::string_view command);

}  // namespace icotes::permissions
