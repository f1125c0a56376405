// Commands that run other commands (include/permissions/icotes/shell_rule.hpp): the
// option tables of the wrappers the parser sees through, and the builtins
// that evaluate text as code. src/permissions/shell_parse.hpp has the types.
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shell_parse.hpp"

namespace icotes::permissions::detail {
namespace {

// ---------------------------------------------------------------------------
// Wrapper option tables (GNU coreutils/findutils, procps watch, sudo 1.9, OpenBSD doas).

struct OptionSpec {
  std::string_view flags;         // short options without an argument
  std::string_view with_arg;      // short options taking an argument, attached or in the next word
  std::string_view optional_arg;  // short options whose argument can only be attached (-i[R])
  std::initializer_list<std::string_view> long_flags;
  std::initializer_list<std::string_view> long_with_arg;  // --name=value or --name value
  std::initializer_list<std::string_view> long_optional;  // --name or --name=value
};

struct SeenOption {
  char short_name = 0;
  std::string long_name;
  std::string value;
  bool has_value = false;
};

bool listed(std::initializer_list<std::string_view> list, std::string_view name) {
  for (std::string_view n : list) {
    if (n == name) return true;
  }
  return false;
}

// The option argument at words[at], which must exist and be literal.
const std::string& option_value(const std::vector<Word>& w, std::size_t at, std::string_view tool) {
  if (at >= w.size() || w[at].dynamic) opaque(std::string(tool) + ": option argument missing or an expansion");
  return w[at].text;
}

// `--name`, `--name=value` or `--name value` at words[i]; returns the index after it (and its value).
std::size_t parse_long_option(const std::vector<Word>& w, std::size_t i, const OptionSpec& spec, std::string_view tool,
                              SeenOption& opt) {
  const std::string& a = w[i].text;
  std::size_t eq = a.find('=');
  opt.long_name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  opt.has_value = eq != std::string::npos;
  if (opt.has_value) opt.value = a.substr(eq + 1);
  if (listed(spec.long_flags, opt.long_name) && !opt.has_value) return i + 1;
  if (listed(spec.long_optional, opt.long_name)) return i + 1;
  if (!listed(spec.long_with_arg, opt.long_name)) opaque(std::string(tool) + ": unknown option " + a);
  if (opt.has_value) return i + 1;
  opt.value = option_value(w, i + 1, tool);
  opt.has_value = true;
  return i + 2;
}

// A cluster of short options at words[i] (`-abc`, `-ovalue`, `-o value`): flags until the first option with an
// argument, which takes the rest of the word or the next one. Returns the index after the cluster.
std::size_t parse_short_options(const std::vector<Word>& w, std::size_t i, const OptionSpec& spec,
                                std::string_view tool, std::vector<SeenOption>* seen) {
  const std::string& a = w[i].text;
  for (std::size_t j = 1; j < a.size(); ++j) {
    SeenOption s;
    s.short_name = a[j];
    std::size_t next = i + 1;
    if (one_of(a[j], spec.flags)) {
      if (seen) seen->push_back(std::move(s));
      continue;
    }
    if (one_of(a[j], spec.optional_arg)) {
      s.has_value = j + 1 < a.size();
      s.value = a.substr(j + 1);
    } else if (!one_of(a[j], spec.with_arg)) {
      opaque(std::string(tool) + ": unknown option " + a);
    } else if (j + 1 < a.size()) {
      s.has_value = true;
      s.value = a.substr(j + 1);
    } else {
      s.has_value = true;
      s.value = option_value(w, i + 1, tool);
      next = i + 2;
    }
    if (seen) seen->push_back(std::move(s));
    return next;
  }
  return i + 1;
}

// Index of the first operand in words[i..] after `tool`'s options (stops at the first non-option, as getopt with
// "+" does), recording each option. Opaque on an unknown option or an expansion, which could hide the command.
std::size_t parse_options(const std::vector<Word>& w, std::size_t i, const OptionSpec& spec, std::string_view tool,
                          std::vector<SeenOption>* seen) {
  while (i < w.size()) {
    if (w[i].dynamic) opaque(std::string(tool) + ": an option or the command name is an expansion");
    const std::string& a = w[i].text;
    if (a == "--") return i + 1;
    if (a.size() < 2 || a[0] != '-') return i;
    if (a[1] != '-') {
      i = parse_short_options(w, i, spec, tool, seen);
      continue;
    }
    SeenOption opt;
    i = parse_long_option(w, i, spec, tool, opt);
    if (seen) seen->push_back(std::move(opt));
  }
  return i;
}

const OptionSpec kEnvOptions{"iv0",
                             "uCS",
                             "",
                             {"ignore-environment", "null", "debug", "list-signal-handling"},
                             {"unset", "chdir", "split-string"},
                             {"block-signal", "default-signal", "ignore-signal"}};
const OptionSpec kTimeoutOptions{"fv", "ks", "", {"foreground", "preserve-status", "verbose"}, {"kill-after", "signal"},
                                 {}};
const OptionSpec kNiceOptions{"", "n", "", {}, {"adjustment"}, {}};
const OptionSpec kNoOptions{"", "", "", {}, {}, {}};
const OptionSpec kCommandOptions{"pvV", "", "", {}, {}, {}};
const OptionSpec kExecOptions{"cl", "a", "", {}, {}, {}};
const OptionSpec kSudoOptions{
    "ABbEeHiKklNnPSsVv",
    "CDgpRrTtUu",
    "",
    {"askpass", "bell", "background", "edit", "set-home", "login", "remove-timestamp", "reset-timestamp", "list",
     "no-update", "non-interactive", "preserve-groups", "stdin", "shell", "version", "validate"},
    {"close-from", "chdir", "group", "prompt", "chroot", "role", "type", "command-timeout", "other-user", "user",
     "host"},
    {"preserve-env"}};
const OptionSpec kDoasOptions{"Lns", "aCu", "", {}, {}, {}};
const OptionSpec kStdbufOptions{"", "ioe", "", {}, {"input", "output", "error"}, {}};
const OptionSpec kTimeOptions{
    "apqvV", "fo", "", {"append", "portability", "quiet", "verbose", "version"}, {"format", "output"}, {}};
const OptionSpec kWatchOptions{"bcegptwx",
                               "nq",
                               "d",
                               {"beep", "color", "errexit", "chgexit", "precise", "no-title", "no-wrap", "exec"},
                               {"interval", "equexit"},
                               {"differences"}};
const OptionSpec kXargsOptions{"0oprtx",
                               "adEILnPs",
                               "eil",
                               {"null", "open-tty", "interactive", "no-run-if-empty", "verbose", "exit", "show-limits"},
                               {"arg-file", "delimiter", "max-args", "max-procs", "process-slot-var", "max-chars"},
                               {"eof", "replace", "max-lines"}};

bool has_option(const std::vector<SeenOption>& seen, char short_name, std::string_view long_name) {
  for (const SeenOption& o : seen) {
    if ((short_name != 0 && o.short_name == short_name) || (!long_name.empty() && o.long_name == long_name)) {
      return true;
    }
  }
  return false;
}

// The command words[from..] with no assignments or redirections of its own.
Cmd tail(const Cmd& c, std::size_t from) {
  Cmd t;
  if (from < c.words.size()) t.words.assign(c.words.begin() + static_cast<std::ptrdiff_t>(from), c.words.end());
  return t;
}

// trap 'ACTION' SIGNAL...: the action is a script run later.
void unwrap_trap(Cmd& c, std::vector<Cmd>&, const ParseNested& parse_nested) {
  std::size_t i = 1;
  if (i < c.words.size() && !c.words[i].dynamic && c.words[i].text == "--") ++i;
  if (i >= c.words.size()) return;
  const Word& action = c.words[i];
  if (action.dynamic) opaque("trap with an expansion as its action");
  if (action.text == "-" || action.text == "-l" || action.text == "-p" || action.text == "-lp" ||
      action.text == "-pl") {
    return;
  }
  if (!action.text.empty() && action.text[0] == '-') opaque("trap: unknown option " + action.text);
  parse_nested(action.text);
}

// Words from..end joined by spaces, for eval and watch; an expansion there is opaque.
std::string join_literal(const Cmd& c, std::size_t from, std::string_view tool) {
  std::string script;
  for (std::size_t k = from; k < c.words.size(); ++k) {
    if (c.words[k].dynamic) opaque(std::string(tool) + " of an expansion");
    if (k > from) script += ' ';
    script += c.words[k].text;
  }
  return script;
}

// env/sudo: NAME=value words, then the command, which gets them as its assignments.
void run_with_assignments(const Cmd& c, std::size_t i, std::string_view tool, std::vector<Cmd>& inner) {
  Cmd run;
  for (; i < c.words.size(); ++i) {
    const Word& w = c.words[i];
    if (w.splits) opaque(std::string(tool) + ": an unquoted expansion before the command could split into words");
    if (w.dynamic) {
      if (w.text.find('=') != std::string::npos) {
        run.assignments.push_back(w);
        continue;
      }
      opaque(std::string(tool) + ": the command name is an expansion");
    }
    if (w.text.find('=') == std::string::npos) break;
    run.assignments.push_back(w);
  }
  if (i >= c.words.size()) return;
  run.words.assign(c.words.begin() + static_cast<std::ptrdiff_t>(i), c.words.end());
  inner.push_back(std::move(run));
}

// sh/bash/dash -c 'script': the script is parsed like the outer line. Without -c they run a script file (its
// name must be in the rule) or read commands from stdin (a pipe, a here-document, a terminal), which is
// opaque. Other shells' grammars (`modelled` false) differ: their -c scripts are opaque.
// What a shell's options say: where its operands start, whether it runs a -c script or reads stdin, and
// whether it only prints (--version, --help).
struct ShellOptions {
  std::size_t operands = 1;
  bool command_mode = false;  // -c
  bool reads_stdin = false;   // -s
  bool prints_only = false;
};

// A `--long` shell option at w[i] (bash's); returns the index of the last word it uses.
std::size_t shell_long_option(const std::vector<Word>& w, std::size_t i, ShellOptions& o) {
  const std::string& a = w[i].text;
  if (a == "--rcfile" || a == "--init-file") return i + 1;
  static constexpr std::string_view kLong[] = {"--login",   "--noprofile", "--norc", "--posix",     "--restricted",
                                               "--verbose", "--version",   "--help", "--noediting", "--debugger"};
  bool known = false;
  for (std::string_view l : kLong) known = known || a == l;
  if (!known) opaque("shell: unknown option " + a);
  o.prints_only = a == "--version" || a == "--help";
  return i;
}

// A cluster of short shell options (`-xc`, `+o name`) at w[i]; returns the index of the last word it uses.
std::size_t shell_short_options(const std::string& a, std::size_t i, ShellOptions& o) {
  bool takes_arg = false;
  for (std::size_t j = 1; j < a.size(); ++j) {
    if (a[j] == 'c' && a[0] == '-') o.command_mode = true;
    if (a[j] == 's' && a[0] == '-') o.reads_stdin = true;
    if (a[j] == 'o' || a[j] == 'O') takes_arg = true;
  }
  return takes_arg ? i + 1 : i;
}

ShellOptions shell_options(const std::vector<Word>& w) {
  ShellOptions o;
  std::size_t i = 1;
  for (; i < w.size(); ++i) {
    if (w[i].dynamic) opaque("shell: an option or the script is an expansion");
    const std::string& a = w[i].text;
    if (a == "--" || a == "-") {
      ++i;
      break;
    }
    if (a.rfind("--", 0) == 0) {
      i = shell_long_option(w, i, o);
      if (o.prints_only) return o;
      continue;
    }
    if (a.size() < 2 || (a[0] != '-' && a[0] != '+')) break;
    i = shell_short_options(a, i, o);
  }
  o.operands = i;
  return o;
}

void unwrap_shell(const Cmd& c, bool modelled, const ParseNested& parse_nested) {
  const std::vector<Word>& w = c.words;
  const ShellOptions options = shell_options(w);
  if (options.prints_only) return;
  const bool command_mode = options.command_mode;
  const std::size_t i = options.operands;
  if (!command_mode && (i >= w.size() || options.reads_stdin)) {
    opaque(std::string(basename(w[0].text)) + " reading commands from its standard input");
  }
  if (!command_mode || i >= w.size()) return;
  if (!modelled) opaque(std::string(basename(w[0].text)) + " -c (a grammar other than sh's)");
  if (w[i].dynamic) opaque("shell -c of an expansion");
  parse_nested(w[i].text);
}

// xargs runs COMMAND (default echo) with arguments read from stdin: one more, unknown, argument.
void unwrap_xargs(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  std::vector<SeenOption> seen;
  std::size_t i = parse_options(c.words, 1, kXargsOptions, "xargs", &seen);
  std::string replace;
  for (const SeenOption& o : seen) {
    if (o.short_name == 'I') replace = o.value;
    if (o.short_name == 'i' || o.long_name == "replace") replace = o.has_value ? o.value : "{}";
  }
  Cmd run;
  if (i < c.words.size()) {
    run = tail(c, i);
  } else {
    Word echo;
    echo.text = "echo";
    run.words.push_back(std::move(echo));
  }
  if (!replace.empty()) {
    for (Word& w : run.words) {
      if (w.text.find(replace) != std::string::npos) w.dynamic = true;
    }
  }
  Word extra;
  extra.dynamic = true;
  extra.splits = true;
  run.words.push_back(std::move(extra));
  inner.push_back(std::move(run));
}

// The command of find's -exec (or -execdir, -ok, -okdir) at w[at], up to its `;` or `{} +`, into inner;
// returns the index of that terminator.
std::size_t find_exec_command(const std::vector<Word>& w, std::size_t at, std::vector<Cmd>& inner) {
  const std::string& action = w[at].text;
  Cmd run;
  std::size_t k = at + 1;
  for (; k < w.size(); ++k) {
    if (w[k].dynamic) opaque("find: an expansion inside " + action);
    if (w[k].text == ";") break;
    if (w[k].text == "+" && k > at + 1 && w[k - 1].text == "{}") break;
    Word arg = w[k];
    if (arg.text.find("{}") != std::string::npos) arg.dynamic = true;
    run.words.push_back(std::move(arg));
  }
  if (k >= w.size()) opaque("find: " + action + " without a terminating ';' or '+'");
  if (run.words.empty()) opaque("find: " + action + " without a command");
  inner.push_back(std::move(run));
  return k;
}

// find ... -exec/-execdir/-ok/-okdir CMD ... ; (or {} +): each is a command with `{}` unknown.
void unwrap_find(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  const std::vector<Word>& w = c.words;
  for (std::size_t i = 1; i < w.size(); ++i) {
    if (w[i].dynamic) opaque("find with an expansion among its arguments (it could add -exec)");
    const std::string& a = w[i].text;
    if (a == "-fprint" || a == "-fprint0" || a == "-fprintf" || a == "-fls") c.redirects_files = true;
    if (a != "-exec" && a != "-execdir" && a != "-ok" && a != "-okdir") continue;
    i = find_exec_command(w, i, inner);
  }
}

}  // namespace

namespace {

// Whether an argument of c (after its name) satisfies pred.
template <class Pred>
bool any_arg(const Cmd& c, Pred pred) {
  for (std::size_t k = 1; k < c.words.size(); ++k) {
    if (pred(c.words[k])) return true;
  }
  return false;
}

// Builtins that take variable names as arguments: a name with a subscript has it evaluated as arithmetic.
bool takes_variable_names(std::string_view name) {
  static constexpr std::string_view kNames[] = {"read",  "mapfile", "readarray", "unset",   "declare", "typeset",
                                                "local", "export",  "readonly",  "getopts", "wait"};
  for (std::string_view n : kNames) {
    if (n == name) return true;
  }
  return false;
}

// test and [: -v and -R evaluate subscripts; with '[' in an operand or expansions that could make one, so can
// other operators.
void check_test(const Cmd& c, const std::string& name) {
  const std::size_t last = c.words.size() - (name == "[" ? 1 : 0);
  for (std::size_t k = 1; k < c.words.size(); ++k) {
    const Word& w = c.words[k];
    if (!w.dynamic && (w.text == "-v" || w.text == "-R")) opaque(name + " -v (evaluates subscripts)");
    if (w.splits) opaque(name + " with an unquoted expansion");
    if (!w.dynamic && k < last && w.text.find('[') != std::string::npos) opaque(name + " with '[' in an operand");
    if (w.dynamic && k + 1 < c.words.size() && c.words[k + 1].dynamic) opaque(name + " with adjacent expansions");
  }
}

}  // namespace

// Builtins that evaluate a variable's text (or a name with a subscript) as arithmetic, where bash runs `$(..)`.
void check_builtins(const Cmd& c) {
  if (c.words.empty() || c.words[0].dynamic) return;
  const std::string& name = c.words[0].text;
  if (name == "let") opaque("let evaluates its arguments as arithmetic");
  // What a later command name runs: dash (and bash as sh) expands aliases on the lines after `alias`,
  // `hash -p FILE NAME` makes NAME run FILE, `enable -f` loads builtins from a shared object.
  if (name == "alias" && any_arg(c, [](const Word& w) { return w.dynamic || w.text.find('=') != std::string::npos; })) {
    opaque("alias definition (later lines expand it)");
  }
  if (name == "hash" && any_arg(c, [](const Word& w) { return w.dynamic || w.text.rfind("-p", 0) == 0; })) {
    opaque("hash -p (makes a command name run another file)");
  }
  if (name == "enable") opaque("enable (loads or turns off builtins)");
  if (takes_variable_names(name) &&
      any_arg(c, [](const Word& w) { return w.dynamic || w.text.find('[') != std::string::npos; })) {
    opaque(name + " with an expansion or a subscript in its arguments");
  }
  if (name == "printf") {
    if (c.words.size() > 1 && c.words[1].dynamic) opaque("printf with an expansion as its first argument");
    if (any_arg(c, [](const Word& w) { return w.text.rfind("-v", 0) == 0; })) opaque("printf -v");
  }
  if (name == "test" || name == "[") check_test(c, name);
}

namespace {

// The command words[i..], when there is one, runs as given.
void run_from(const Cmd& c, std::size_t i, std::vector<Cmd>& inner) {
  if (i < c.words.size()) inner.push_back(tail(c, i));
}

void unwrap_env(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  const std::vector<Word>& w = c.words;
  std::vector<SeenOption> seen;
  std::size_t i = parse_options(w, 1, kEnvOptions, "env", &seen);
  while (i < w.size() && w[i].text == "-" && !w[i].dynamic) i = parse_options(w, i + 1, kEnvOptions, "env", &seen);
  if (has_option(seen, 'S', "split-string")) opaque("env -S splits a string into a command");
  run_with_assignments(c, i, "env", inner);
}

void unwrap_sudo(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  std::vector<SeenOption> seen;
  run_with_assignments(c, parse_options(c.words, 1, kSudoOptions, "sudo", &seen), "sudo", inner);
}

void unwrap_sh(Cmd& c, std::vector<Cmd>&, const ParseNested& parse_nested) { unwrap_shell(c, true, parse_nested); }

void unwrap_other_shell(Cmd& c, std::vector<Cmd>&, const ParseNested& parse_nested) {
  unwrap_shell(c, false, parse_nested);
}

// busybox APPLET ARGS...; its sh is ash.
void unwrap_busybox(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  const std::vector<Word>& w = c.words;
  if (w.size() < 2) return;
  if (w[1].dynamic) opaque("busybox: the applet is an expansion");
  if (w[1].text.empty() || w[1].text[0] == '-') return;
  const std::string_view applet = basename(w[1].text);
  if (applet == "sh" || applet == "ash" || applet == "hush") opaque("busybox " + w[1].text + " (ash's grammar)");
  run_from(c, 1, inner);
}

void unwrap_eval(Cmd& c, std::vector<Cmd>&, const ParseNested& parse_nested) {
  std::size_t i = 1;
  if (i < c.words.size() && !c.words[i].dynamic && c.words[i].text == "--") ++i;
  parse_nested(join_literal(c, i, "eval"));
}

void unwrap_timeout(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  std::size_t i = parse_options(c.words, 1, kTimeoutOptions, "timeout", nullptr);
  if (i < c.words.size() && c.words[i].dynamic) opaque("timeout: the duration is an expansion");
  run_from(c, i + 1, inner);
}

void unwrap_nice(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  const std::vector<Word>& w = c.words;
  std::size_t i = 1;
  if (i < w.size() && !w[i].dynamic && w[i].text.size() > 1 && w[i].text[0] == '-' &&
      all_digits(std::string_view(w[i].text).substr(w[i].text[1] == '-' ? 2 : 1))) {
    ++i;  // nice -10, nice --10
  }
  run_from(c, parse_options(w, i, kNiceOptions, "nice", nullptr), inner);
}

void unwrap_time(Cmd& c, std::vector<Cmd>& inner, const ParseNested&) {
  std::vector<SeenOption> seen;
  std::size_t i = parse_options(c.words, 1, kTimeOptions, "time", &seen);
  if (has_option(seen, 'o', "output")) c.redirects_files = true;
  // In bash `time` is a reserved word that times a pipeline, compound commands included.
  if (i < c.words.size() && is_reserved_word(c.words[i])) opaque("time before a compound command");
  run_from(c, i, inner);
}

void unwrap_watch(Cmd& c, std::vector<Cmd>& inner, const ParseNested& parse_nested) {
  std::vector<SeenOption> seen;
  std::size_t i = parse_options(c.words, 1, kWatchOptions, "watch", &seen);
  if (i >= c.words.size()) return;
  if (has_option(seen, 'x', "exec")) return run_from(c, i, inner);
  parse_nested(join_literal(c, i, "watch"));  // watch runs its arguments with sh -c
}

// Wrappers whose command follows their options, nothing else to see.
struct OptionsThenCommand {
  std::string_view name;
  const OptionSpec* options;
};
const OptionsThenCommand kOptionsThenCommand[] = {{"nohup", &kNoOptions},        {"builtin", &kNoOptions},
                                                  {"command", &kCommandOptions}, {"exec", &kExecOptions},
                                                  {"doas", &kDoasOptions},       {"stdbuf", &kStdbufOptions}};

struct Wrapper {
  std::string_view name;
  void (*unwrap)(Cmd& c, std::vector<Cmd>& inner, const ParseNested& parse_nested);
};
const Wrapper kWrappers[] = {{"env", unwrap_env},          {"sudo", unwrap_sudo},         {"sh", unwrap_sh},
                             {"bash", unwrap_sh},          {"dash", unwrap_sh},           {"zsh", unwrap_other_shell},
                             {"ksh", unwrap_other_shell},  {"ksh93", unwrap_other_shell}, {"mksh", unwrap_other_shell},
                             {"ash", unwrap_other_shell},  {"hush", unwrap_other_shell},  {"yash", unwrap_other_shell},
                             {"posh", unwrap_other_shell}, {"busybox", unwrap_busybox},   {"eval", unwrap_eval},
                             {"xargs", unwrap_xargs},      {"timeout", unwrap_timeout},   {"nice", unwrap_nice},
                             {"time", unwrap_time},        {"watch", unwrap_watch},       {"find", unwrap_find},
                             {"trap", unwrap_trap}};

}  // namespace

void unwrap(Cmd& c, std::vector<Cmd>& inner, const ParseNested& parse_nested) {
  if (c.words.empty() || c.words[0].dynamic) return;
  const std::string_view name = basename(c.words[0].text);
  if (name == "source" || name == ".") opaque(std::string(name) + " runs a script file the parser cannot see");
  for (const OptionsThenCommand& o : kOptionsThenCommand) {
    if (o.name == name) return run_from(c, parse_options(c.words, 1, *o.options, o.name, nullptr), inner);
  }
  for (const Wrapper& wrapper : kWrappers) {
    if (wrapper.name == name) return wrapper.unwrap(c, inner, parse_nested);
  }
}

}  // namespace icotes::permissions::detail
