// Shell permission rules: decides whether a command line an AI wants to run
// with `/bin/sh -c` is covered by user rules written like Claude Code's
// `Bash(git diff:*)`, `Bash(make test)`, `Bash(npm run test *)` (the text
// inside `Bash(...)` is the pattern). A conservative parser splits the line
// into every simple command the shell would run, including those inside
// substitutions, subshells, here-documents and wrappers such as `timeout`,
// `xargs` or `sh -c`; allow rules cover the line only when each of them is
// covered by one of the rules, and a deny rule applies when it may name any
// of them. Whatever the parser cannot analyse safely makes the parse opaque,
// and an opaque line matches no rule, so the user is asked: that is the safe
// failure. Only the standard library is used.
//
// Dialect: /bin/sh is dash on Debian and Ubuntu and bash (in POSIX mode)
// elsewhere, and `sh -c`, `bash -c` and `dash -c` inside a line run either.
// The parser reads the grammar both share (POSIX.1-2017 XCU 2 "Shell Command
// Language", plus bash(1) "SHELL GRAMMAR", "QUOTING", "EXPANSION",
// "REDIRECTION" and dash(1)): a construct the two shells split into
// different commands is opaque, and a word whose value differs between them
// (`$'...'`, `$"..."`, brace expansion) is dynamic. Other shells (busybox
// ash, mksh, zsh) as /bin/sh are not modelled.
//
// Choices beyond the rule syntax (each errs towards "no match"):
// - Pattern words are split on blanks without quote removal; command words are
//   compared word by word after quote removal, so `git 'diff --stat'` (one
//   argument) does not match `Bash(git diff --stat)`. Globs compare the words
//   joined by single spaces; only `*` is a wildcard there.
// - A command consisting only of assignments (`PATH=/tmp`) must be matched like
//   any other: its words are its assignments. An empty line matches nothing.
// - A dynamic command name matches no pattern at all, not even `*`.
// - `for NAME in ...` assigns NAME: when NAME has an uppercase letter (PATH,
//   HOME, IFS, GIT_DIR: exported variables go to later commands with the new
//   value) or is a lowercase one programs read (*_proxy, npm_config_*), the
//   loop adds the command `NAME=<unknown>`, which needs a rule as a plain
//   assignment does. `${NAME=word}` and `${NAME:=word}` are opaque.
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
// - Lines that dash and bash split differently are opaque: a word after `&>`
//   (dash: `&` then `>`), a backslash before the quote that ends `$'...'` for
//   dash (`$'\''`, `$'\c\''`: dash has no `$'...'` and ends at that quote),
//   `NAME+=value` (dash: a command), `{fd}>` and descriptors over 9 (dash: a
//   word), `time` before a compound command (a reserved word in bash), and
//   `alias` definitions, `hash -p` and `enable`, which change what a later
//   command name runs (dash and bash as sh expand aliases on later lines).
//   `zsh`/`ksh`/`mksh`/`ash`/`busybox sh` -c scripts are opaque, as is a shell
//   reading commands from its standard input (no -c and no script file, or
//   -s: a pipe, a here-document, an interactive shell). Bash-only forms
//   that dash refuses as a syntax error (`|&`, `<<<`, `<(..)`) are parsed as
//   bash reads them: dash then runs less, never more.
//   A backslash ending a line of an unquoted here-document body is opaque too
//   (bash joins the lines before it looks for the delimiter).
// - Both shells join a backslash-newline before they read a token: inside a
//   word it is joined (`PA\<newline>TH=x` assigns PATH); where the join could
//   make another token (after `$`, `$(`, `(`, a redirection operator, or
//   inside a descriptor number or a subscript) the line is opaque.
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
  bool derived = false;                  // not written as a simple command of the line itself: run by another
                                         // command (env, timeout, xargs, find -exec, ...), read from a script
                                         // another command runs (sh -c, eval, trap, watch), or the assignment
                                         // `NAME=` (value dynamic) a `for NAME` loop makes when NAME may change
                                         // what later commands do (an uppercase letter, *_proxy, npm_config_*)
};

struct ShellParse {
  /// Every simple command, in the order the parser met them (a substitution before the command using it):
  /// including those inside $(..), `..`, <(..), >(..), ( .. ), { ..; }, if/while/until/for bodies, here-document
  /// bodies with unquoted delimiters, and the commands run by wrappers (env, sh -c, eval, xargs, timeout, nice,
  /// nohup, command, builtin, exec, sudo, doas, stdbuf, time, watch, find -exec, trap, busybox), each after
  /// its wrapper.
  std::vector<SimpleCommand> commands;
  bool opaque = false;  // something could not be analysed; then no rule matches and `commands` is empty
  std::string reason;   // why opaque, for the user: "unterminated single quote", "case statement"
};

/// Parses `command` (as run by `/bin/sh -c`: the dialect above). Opaque for syntax errors, unterminated quotes,
/// substitutions or here-documents, NUL bytes, input over 64 KiB (65536 bytes), nesting deeper than 32
/// levels, and the constructs listed at the top of this header.
ShellParse parse_shell_command(std::string_view command);

/// Environment variables that change no program's code or the files it reads, so they need no rule: TERM,
/// LANG, LANGUAGE, LC_ALL and LC_<NAME> without a '/' in the value (a '/' names locale or terminfo files),
/// COLUMNS and LINES (digits), COLORTERM, TZ, NO_COLOR, FORCE_COLOR, CLICOLOR, CLICOLOR_FORCE and CI.
/// Everything else (PATH, HOME, GIT_*, LD_*, BASH_ENV, ENV, PYTHONSTARTUP, NODE_OPTIONS, PERL5OPT, PAGER,
/// EDITOR, ...) can make an allowed program run other code.
bool harmless_environment_variable(std::string_view name, std::string_view value);

/// Whether one simple command matches one pattern (the text inside `Bash(...)`), for allow rules:
/// - "cmd args:*": the command's words begin with these words (word boundary: "git diff:*" matches "git diff",
///   "git diff --stat", not "git diff-tree" nor "git difftool");
/// - a pattern ending in "*" without ":" is a glob on the words joined by single spaces ("git diff*" matches
///   "git diff-tree" and "git diff x"; "npm run test *" needs at least a space after test);
/// - otherwise the words must equal the pattern's words ("make test" matches "make  test", "'make' test").
/// Leading assignments count as words, so `FOO=1 make` matches only patterns that start with `FOO=1`; those
/// of harmless_environment_variable() may be left out (`LC_ALL=C sort` matches `sort:*`).
/// A dynamic word never equals a literal pattern word; only the `:*` tail or a glob `*` covers it. A command
/// with a dynamic name or a file redirection matches nothing.
bool rule_matches_command(std::string_view pattern, const SimpleCommand& command);

/// Whether `pattern` may name `command`, for deny rules: as rule_matches_command, but a dynamic word may stand
/// for any text, for no word or for several, the leading assignments may be left out and a command name with a
/// '/' may be read as its last component (`FOO=1 /bin/rm -rf $D` may match `rm -rf:*`). A command with a
/// dynamic name is not judged (false): names_known() tells the caller, which must not let such a line through
/// on a rule or a broad grant.
bool rule_may_match_command(std::string_view pattern, const SimpleCommand& command);

/// True when the parse is not opaque and every simple command's name is literal: deny rules can judge it.
bool names_known(const ShellParse& parse);

/// True only when the parse is not opaque, has at least one simple command, and every one matches `pattern`.
bool bash_rule_matches(std::string_view pattern, std::string_view command);

/// True only when the parse is not opaque, has at least one simple command, and every one is matched by at
/// least one of `patterns` (`git diff && git status` needs both `git diff:*` and `git status`).
bool bash_rules_allow(const std::vector<std::string>& patterns, std::string_view command);

/// For a deny rule: true when the parse is not opaque and rule_may_match_command() holds for any of its
/// simple commands.
bool bash_rule_may_match(std::string_view pattern, const ShellParse& parse);

/// Exact patterns (`git commit -m x`), one per distinct simple command, that together allow `command` and
/// nothing wider; empty when the parse is opaque or some command cannot be written as one (a dynamic word, a
/// word holding a blank, a file redirection, a last word ending in `*`).
std::vector<std::string> exact_patterns_for(std::string_view command);

}  // namespace icotes::permissions
