// Shell permission rules (include/permissions/icotes/shell_rule.hpp): a conservative bash
// parser that lists every simple command of a line, and the Claude Code style
// pattern matcher on top of it. Anything the parser is unsure about throws
// Opaque internally; parse_shell_command turns that into ShellParse::opaque.
#include "icotes/shell_rule.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace icotes::permissions {
namespace {

constexpr std::size_t kMaxCommandBytes = 64 * 1024;
constexpr int kMaxDepth = 32;

struct Opaque {
  std::string reason;
};

[[noreturn]] void opaque(std::string reason) { throw Opaque{std::move(reason)}; }

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_meta(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' ||
         c == '>';
}
bool one_of(char c, std::string_view set) { return c != '\0' && set.find(c) != std::string_view::npos; }
bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// One word after quote removal.
struct Word {
  std::string text;
  bool dynamic = false;     // holds an expansion whose value is unknown
  bool splits = false;      // has an unquoted expansion or glob: may become zero or several words
  bool quoted = false;      // some quoting was used (reserved words, here-document delimiters)
  bool assignment = false;  // unquoted NAME=value or NAME+=value shape
};

// A simple command while it is analysed.
struct Cmd {
  std::vector<Word> assignments;
  std::vector<Word> words;
  bool redirects_files = false;
  bool redirected = false;    // had any redirection, even a harmless one
  bool amp_redirect = false;  // had `&>`: dash reads `a &>f b` as `a &` then `>f b`, which runs b
  bool empty() const { return assignments.empty() && words.empty() && !redirected; }
};

SimpleCommand to_simple(const Cmd& c, bool derived) {
  SimpleCommand s;
  s.derived = derived;
  for (const Word& w : c.assignments) {
    s.assignments.push_back(w.text);
    s.assignment_dynamic.push_back(w.dynamic);
  }
  for (const Word& w : c.words) {
    s.words.push_back(w.text);
    s.dynamic.push_back(w.dynamic);
  }
  s.redirects_files = c.redirects_files;
  return s;
}

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

// Index of the first operand in words[i..] after `tool`'s options (stops at the first non-option, as getopt with
// "+" does), recording each option. Opaque on an unknown option or an expansion, which could hide the command.
std::size_t parse_options(const std::vector<Word>& w, std::size_t i, const OptionSpec& spec, std::string_view tool,
                          std::vector<SeenOption>* seen) {
  auto need_value = [&](std::size_t at) -> const std::string& {
    if (at >= w.size() || w[at].dynamic) opaque(std::string(tool) + ": option argument missing or an expansion");
    return w[at].text;
  };
  while (i < w.size()) {
    if (w[i].dynamic) opaque(std::string(tool) + ": an option or the command name is an expansion");
    const std::string& a = w[i].text;
    if (a == "--") return i + 1;
    if (a.size() < 2 || a[0] != '-') return i;
    SeenOption opt;
    if (a[1] == '-') {
      std::size_t eq = a.find('=');
      opt.long_name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      opt.has_value = eq != std::string::npos;
      if (opt.has_value) opt.value = a.substr(eq + 1);
      if (listed(spec.long_flags, opt.long_name) && !opt.has_value) {
        ++i;
      } else if (listed(spec.long_optional, opt.long_name)) {
        ++i;
      } else if (listed(spec.long_with_arg, opt.long_name)) {
        if (!opt.has_value) {
          opt.value = need_value(i + 1);
          opt.has_value = true;
          ++i;
        }
        ++i;
      } else {
        opaque(std::string(tool) + ": unknown option " + a);
      }
      if (seen) seen->push_back(std::move(opt));
      continue;
    }
    std::size_t advance = 1;
    for (std::size_t j = 1; j < a.size(); ++j) {
      SeenOption s;
      s.short_name = a[j];
      if (one_of(a[j], spec.flags)) {
        if (seen) seen->push_back(std::move(s));
        continue;
      }
      if (one_of(a[j], spec.optional_arg)) {
        s.has_value = j + 1 < a.size();
        s.value = a.substr(j + 1);
      } else if (one_of(a[j], spec.with_arg)) {
        s.has_value = true;
        if (j + 1 < a.size()) {
          s.value = a.substr(j + 1);
        } else {
          s.value = need_value(i + 1);
          advance = 2;
        }
      } else {
        opaque(std::string(tool) + ": unknown option " + a);
      }
      if (seen) seen->push_back(std::move(s));
      break;
    }
    i += advance;
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

std::string_view basename(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Whether a `for` loop's variable may change what later commands do: a name with an uppercase letter (the
// environment's convention: PATH, HOME, GIT_DIR, IFS, PS4, ...) or a lowercase one programs read (http_proxy
// and the other *_proxy, npm_config_*). Lowercase names (`for f in *.c`) are the loop's own.
bool loop_variable_matters(std::string_view name) {
  for (char ch : name) {
    if (ch >= 'A' && ch <= 'Z') return true;
  }
  const auto ends_with = [name](std::string_view tail) {
    return name.size() >= tail.size() && name.substr(name.size() - tail.size()) == tail;
  };
  return ends_with("_proxy") || name.rfind("npm_config_", 0) == 0;
}

// The command words[from..] with no assignments or redirections of its own.
Cmd tail(const Cmd& c, std::size_t from) {
  Cmd t;
  if (from < c.words.size()) t.words.assign(c.words.begin() + static_cast<std::ptrdiff_t>(from), c.words.end());
  return t;
}

// ---------------------------------------------------------------------------

class Parser {
 public:
  // `derived`: the text is a script some command runs (sh -c, eval, trap, watch), not the line itself.
  Parser(std::string_view src, int depth, ShellParse& out, bool derived = false)
      : s_(src), depth_(depth), out_(out), derived_(derived) {
    if (depth_ > kMaxDepth) opaque("nesting deeper than 32 levels");
  }

  void parse_script() {
    parse_list(Stop::kEnd);
    if (!heredocs_.empty()) opaque("here-document without a body");
  }

  // Unquoted here-document body: only substitutions matter (bash(1) "Here Documents").
  void scan_heredoc_body() {
    Word scratch;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\') {
        i_ += 2;
      } else if (c == '$') {
        parse_dollar(scratch, true);
      } else if (c == '`') {
        parse_backtick(scratch, true);
      } else {
        ++i_;
      }
    }
  }

 private:
  enum class Stop { kEnd, kParen };

  struct PendingHeredoc {
    std::string delimiter;
    bool strip_tabs = false;
    bool expand = false;
    int depth = 0;
  };

  char peek(std::size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  bool continuation_at(std::size_t ahead) const { return peek(ahead) == '\\' && peek(ahead + 1) == '\n'; }
  // The first index at or after k that is not a backslash-newline (a line continuation).
  std::size_t skip_continuations(std::size_t k) const {
    while (k + 1 < s_.size() && s_[k] == '\\' && s_[k + 1] == '\n') k += 2;
    return k;
  }
  bool at_end() const { return i_ >= s_.size(); }

  void enter() {
    if (++depth_ > kMaxDepth) opaque("nesting deeper than 32 levels");
  }
  void leave() { --depth_; }

  void skip_blanks() {
    while (!at_end()) {
      if (is_blank(peek())) {
        ++i_;
      } else if (peek() == '\\' && peek(1) == '\n') {
        i_ += 2;
      } else {
        return;
      }
    }
  }

  void skip_comment() {
    while (!at_end() && peek() != '\n') ++i_;
  }

  void newline() {
    ++i_;
    read_heredocs();
  }

  // ---- lists and compound commands

  void parse_list(Stop stop) {
    for (;;) {
      skip_blanks();
      if (at_end()) {
        if (stop == Stop::kParen) opaque("unterminated ( or $(");
        return;
      }
      char c = peek();
      if (c == '\n') {
        newline();
      } else if (c == '#') {
        skip_comment();
      } else if (c == ';') {
        if (peek(1) == ';' || peek(1) == '&') opaque("';;' outside a case statement");
        ++i_;
      } else if (c == '&' && peek(1) != '>') {
        i_ += peek(1) == '&' ? 2 : 1;
      } else if (c == '|') {
        i_ += (peek(1) == '|' || peek(1) == '&') ? 2 : 1;
      } else if (c == ')') {
        if (stop != Stop::kParen) opaque("unexpected ')'");
        ++i_;
        return;
      } else if (c == '(') {
        if (peek(1) == '(') opaque("arithmetic command (( ))");
        if (continuation_at(1)) opaque("line continuation after '(' (it may make '((')");
        ++i_;
        enter();
        parse_list(Stop::kParen);
        leave();
        compound_redirections();
      } else if (starts_redirection()) {
        parse_simple(nullptr);
      } else {
        Word w = read_word(true);
        if (!handle_reserved(w)) parse_simple(&w);
      }
    }
  }

  static bool is_reserved_word(const Word& w) {
    if (w.quoted || w.dynamic) return false;
    static constexpr std::string_view kReserved[] = {
        "!",    "{",   "}",  "if",   "then", "else",   "elif",     "fi",     "while", "until", "do",
        "done", "for", "in", "case", "esac", "select", "function", "coproc", "time",  "[[",    "]]"};
    for (std::string_view r : kReserved) {
      if (w.text == r) return true;
    }
    return false;
  }

  // Reserved words at command position (bash(1) "Reserved Words"); true when `w` was one.
  bool handle_reserved(const Word& w) {
    if (w.quoted || w.dynamic) return false;
    const std::string& t = w.text;
    if (t == "if" || t == "then" || t == "elif" || t == "else" || t == "while" || t == "until" || t == "do" ||
        t == "!" || t == "{") {
      return true;
    }
    if (t == "fi" || t == "done" || t == "}") {
      compound_redirections();
      return true;
    }
    if (t == "for") {
      parse_for_header();
      return true;
    }
    if (t == "case" || t == "esac") opaque("case statement");
    if (t == "select") opaque("select statement");
    if (t == "function") opaque("function definition");
    if (t == "coproc") opaque("coproc");
    if (t == "[[" || t == "]]") opaque("[[ ]] conditional");
    return false;
  }

  // `for NAME [in WORDS] ;` — the words are expanded (their substitutions run) but are not a command.
  void parse_for_header() {
    skip_blanks();
    if (peek() == '(') opaque("arithmetic for loop");
    Word name = read_word(false);
    if (name.quoted || name.dynamic || name.text.empty() || !is_name_start(name.text[0])) {
      opaque("for: bad loop variable");
    }
    // The loop assigns each word to NAME. A variable programs read from the environment (PATH, HOME, GIT_DIR,
    // http_proxy: already exported, it goes to every later command with the new value) or the shell reads
    // itself (IFS, PS4, CDPATH) changes what later commands do, so it is an assignment a rule must name, as a
    // plain `NAME=value` would be: a command of its own, `NAME=` and an unknown value.
    if (loop_variable_matters(name.text)) {
      Word value;
      value.text = name.text + "=";
      value.dynamic = true;
      value.assignment = true;
      Cmd assignment;
      assignment.assignments.push_back(std::move(value));
      emit(std::move(assignment), true);
    }
    for (;;) {
      skip_blanks();
      if (peek() != '\n') break;
      newline();
    }
    if (at_end() || is_meta(peek())) return;
    Word w = read_word(false);
    if (!w.quoted && w.text == "do") return;
    if (w.quoted || w.text != "in") opaque("for: expected 'in' or 'do'");
    for (;;) {
      skip_blanks();
      if (at_end() || peek() == ';' || peek() == '\n' || peek() == '#') return;
      if (is_meta(peek()) && !((peek() == '<' || peek() == '>') && peek(1) == '(')) {
        opaque("for: unexpected operator in the word list");
      }
      read_word(false);
    }
  }

  // Redirections after `)`, `}`, `done`, `fi`: harmless ones are fine, a file makes the line opaque.
  void compound_redirections() {
    for (;;) {
      skip_blanks();
      if (!starts_redirection()) return;
      Cmd scratch;
      parse_redirection(scratch);
      if (scratch.redirects_files) opaque("redirection of a compound command to or from a file");
    }
  }

  // ---- simple commands

  void parse_simple(const Word* first) {
    Cmd cmd;
    if (first) add_word(cmd, *first);
    for (;;) {
      skip_blanks();
      if (at_end()) break;
      char c = peek();
      if (c == '\n' || c == ';' || c == '|' || c == ')' || (c == '&' && peek(1) != '>')) break;
      if (c == '#') break;  // a comment: parse_list skips it
      if (c == '(') opaque("function definition or '(' inside a command");
      if (starts_redirection()) {
        parse_redirection(cmd);
        continue;
      }
      if (cmd.amp_redirect) opaque("a word after '&>' (sh reads '&>' as '&' then '>')");
      add_word(cmd, read_word(cmd.words.empty()));
    }
    if (!cmd.empty()) emit(std::move(cmd), derived_);
  }

  void add_word(Cmd& cmd, Word w) {
    if (cmd.words.empty() && w.assignment) {
      cmd.assignments.push_back(std::move(w));
    } else {
      cmd.words.push_back(std::move(w));
    }
  }

  // At a word start: `[N]<`, `[N]>`, `&>`, `{name}>`; not `<(`/`>(` (process substitution).
  bool starts_redirection() const {
    std::size_t k = i_;
    const std::size_t n = s_.size();
    if (k < n && s_[k] == '{') {
      std::size_t e = k + 1;
      while (e < n && is_name_char(s_[e])) ++e;
      if (e > k + 1 && e + 1 < n && s_[e] == '}' && (s_[e + 1] == '<' || s_[e + 1] == '>')) return true;
    }
    while (k < n && is_digit(s_[k])) ++k;
    if (k >= n) return false;
    if (s_[k] == '<' || s_[k] == '>') return !(k == i_ && k + 1 < n && s_[k + 1] == '(');
    return k == i_ && s_[k] == '&' && k + 1 < n && s_[k + 1] == '>';
  }

  void parse_redirection(Cmd& cmd) {
    cmd.redirected = true;
    if (peek() == '{') opaque("{name}> redirection (bash allocates a descriptor, dash reads {name} as a word)");
    const std::size_t digits_start = i_;
    while (is_digit(peek())) ++i_;
    if (i_ - digits_start > 1) opaque("descriptor number over 9 before a redirection (dash reads it as a word)");
    enum class Kind { kFile, kDup, kHereDoc, kHereString };
    struct Op {
      std::string_view text;
      Kind kind;
    };
    static constexpr Op kOps[] = {{"&>>", Kind::kFile},    {"&>", Kind::kFile},    {"<<<", Kind::kHereString},
                                  {"<<-", Kind::kHereDoc}, {"<<", Kind::kHereDoc}, {"<>", Kind::kFile},
                                  {"<&", Kind::kDup},      {">&", Kind::kDup},     {">>", Kind::kFile},
                                  {">|", Kind::kFile},     {"<", Kind::kFile},     {">", Kind::kFile}};
    const Op* op = nullptr;
    for (const Op& o : kOps) {
      if (s_.substr(i_, o.text.size()) == o.text) {
        op = &o;
        break;
      }
    }
    if (!op) opaque("malformed redirection");
    if (op->text[0] == '&') cmd.amp_redirect = true;
    i_ += op->text.size();
    if (continuation_at(0)) opaque("line continuation after a redirection operator (`<<\\<newline>-` is `<<-`)");
    skip_blanks();
    bool process_substitution = (peek() == '<' || peek() == '>') && peek(1) == '(';
    if (at_end() || (is_meta(peek()) && !process_substitution)) opaque("redirection without a target");
    Word target = read_word(false);
    switch (op->kind) {
      case Kind::kHereString:
        return;
      case Kind::kHereDoc:
        if (target.dynamic) opaque("here-document delimiter with an expansion");
        heredocs_.push_back({target.text, op->text == "<<-", !target.quoted, depth_});
        return;
      case Kind::kDup: {
        std::string_view t = target.text;
        if (!t.empty() && t.back() == '-') t.remove_suffix(1);
        if (!target.dynamic && (t.empty() || all_digits(t))) return;
        cmd.redirects_files = true;  // >&word is &>word
        return;
      }
      case Kind::kFile:
        if (!target.dynamic && target.text == "/dev/null") return;
        cmd.redirects_files = true;
        return;
    }
  }

  void read_heredocs() {
    if (heredocs_.empty()) return;
    std::vector<PendingHeredoc> pending = std::move(heredocs_);
    heredocs_.clear();
    for (const PendingHeredoc& h : pending) {
      if (h.depth != depth_) opaque("line break inside a substitution while a here-document is pending");
      std::size_t body_start = i_;
      std::string_view body;
      for (;;) {
        if (at_end()) opaque("here-document not terminated by '" + h.delimiter + "'");
        std::size_t eol = s_.find('\n', i_);
        std::size_t line_end = eol == std::string_view::npos ? s_.size() : eol;
        std::string_view line = s_.substr(i_, line_end - i_);
        if (h.expand && !line.empty() && line.back() == '\\') {
          opaque("line continuation in a here-document body (bash joins the lines before looking for its end)");
        }
        if (h.strip_tabs) {
          while (!line.empty() && line.front() == '\t') line.remove_prefix(1);
        }
        std::size_t next = eol == std::string_view::npos ? s_.size() : eol + 1;
        if (line == h.delimiter) {
          body = s_.substr(body_start, i_ - body_start);
          i_ = next;
          break;
        }
        i_ = next;
      }
      if (h.expand) {
        Parser sub(body, depth_ + 1, out_, derived_);
        sub.scan_heredoc_body();
      }
    }
  }

  // ---- words

  // Reads one word at i_ (bash(1) "QUOTING", "EXPANSION"); substitutions inside are parsed and their commands
  // emitted. `command_position` enables the check for `a[i]=v` array assignments.
  Word read_word(bool command_position) {
    Word w;
    {
      // The shells join a backslash-newline before they read a token: `PA\<newline>TH=x` is an assignment and
      // `2\<newline>>f` a redirection of descriptor 2.
      std::size_t k = skip_continuations(i_);
      const bool digits = k < s_.size() && is_digit(s_[k]);
      while (k < s_.size() && is_digit(s_[k])) k = skip_continuations(k + 1);
      if (digits && k < s_.size() && (s_[k] == '<' || s_[k] == '>')) {
        opaque("line continuation inside a redirection");  // starts_redirection() saw no redirection
      }
      k = skip_continuations(i_);
      if (k < s_.size() && is_name_start(s_[k])) {
        while (k < s_.size() && is_name_char(s_[k])) k = skip_continuations(k + 1);
        if (k < s_.size() && s_[k] == '=') w.assignment = true;
        if (command_position && k + 1 < s_.size() && s_[k] == '+' && s_[k + 1] == '=') {
          opaque("NAME+=value (bash appends to a variable, dash runs a command of that name)");
        }
        if (command_position && k < s_.size() && s_[k] == '[') {
          std::size_t e = k;
          while (e < s_.size() && !is_meta(s_[e])) ++e;
          if (s_.substr(k, e - k + 1).find("\\\n") != std::string_view::npos) {
            opaque("line continuation inside a subscript");
          }
          if (s_.substr(k, e - k).find("]=") != std::string_view::npos ||
              s_.substr(k, e - k).find("]+=") != std::string_view::npos) {
            opaque("array element assignment (its subscript is evaluated)");
          }
        }
      }
    }
    bool bracket = false;
    bool brace = false;
    bool brace_separator = false;
    bool at_start = true;
    char prev = '\0';  // previous unquoted literal character
    auto glob = [&w] {
      w.dynamic = true;
      w.splits = true;
    };
    while (!at_end()) {
      char c = peek();
      if ((c == '<' || c == '>') && peek(1) == '(') {  // process substitution, part of the word
        i_ += 2;
        enter();
        parse_list(Stop::kParen);
        leave();
        w.dynamic = true;
        prev = '\0';
        at_start = false;
        continue;
      }
      if (is_meta(c)) break;
      switch (c) {
        case '\\':
          if (peek(1) == '\n') {
            i_ += 2;
            continue;
          }
          w.quoted = true;
          if (i_ + 1 < s_.size()) {
            w.text += s_[i_ + 1];
            i_ += 2;
          } else {
            w.text += '\\';
            ++i_;
          }
          prev = '\0';
          break;
        case '\'': {
          std::size_t end = s_.find('\'', i_ + 1);
          if (end == std::string_view::npos) opaque("unterminated single quote");
          w.text.append(s_.substr(i_ + 1, end - i_ - 1));
          i_ = end + 1;
          w.quoted = true;
          prev = '\0';
          break;
        }
        case '"':
          ++i_;
          read_double_quoted(w);
          w.quoted = true;
          prev = '\0';
          break;
        case '$':
          parse_dollar(w, false);
          prev = '\0';
          break;
        case '`':
          parse_backtick(w, false);
          prev = '\0';
          break;
        default:
          if (c == '*' || c == '?') {
            glob();
          } else if (c == '[') {
            bracket = true;
          } else if (c == ']' && bracket) {
            glob();
          } else if (c == '{') {
            brace = true;
          } else if (brace && (c == ',' || (c == '.' && peek(1) == '.'))) {
            brace_separator = true;
          } else if (c == '}' && brace && brace_separator) {
            glob();
          } else if (c == '~' && (at_start || prev == '=' || prev == ':')) {
            w.dynamic = true;
          }
          w.text += c;
          prev = c;
          ++i_;
          break;
      }
      at_start = false;
    }
    return w;
  }

  // After an opening '"'; appends the quote-removed text up to the closing '"'.
  void read_double_quoted(Word& w) {
    while (!at_end()) {
      char c = peek();
      if (c == '"') {
        ++i_;
        return;
      }
      if (c == '\\') {
        char d = peek(1);
        if (d == '\n') {
          i_ += 2;
        } else if (d == '$' || d == '`' || d == '"' || d == '\\') {
          w.text += d;
          i_ += 2;
        } else {
          w.text += '\\';
          ++i_;
        }
      } else if (c == '$') {
        parse_dollar(w, true);
      } else if (c == '`') {
        parse_backtick(w, true);
      } else {
        w.text += c;
        ++i_;
      }
    }
    opaque("unterminated double quote");
  }

  // At '$'. `in_double_quotes` selects the rules inside "..." and unquoted here-documents.
  void parse_dollar(Word& w, bool in_double_quotes) {
    // `$\<newline>x` is `$x`, `$(\<newline>(` is `$((`: the shells join the lines first.
    if (continuation_at(1) || (peek(1) == '(' && continuation_at(2))) opaque("line continuation after '$'");
    char n = peek(1);
    auto expansion = [&] {
      w.dynamic = true;
      if (!in_double_quotes) w.splits = true;
    };
    if (!in_double_quotes && n == '\'') {
      i_ += 2;
      read_ansi_c(w);
      w.quoted = true;
      return;
    }
    if (!in_double_quotes && n == '"') {  // $"..." is translated through the message catalog: not known
      i_ += 2;
      read_double_quoted(w);
      w.quoted = true;
      w.dynamic = true;
      return;
    }
    if (n == '(' && peek(2) == '(') {
      parse_arithmetic();
      expansion();
      return;
    }
    if (n == '(') {
      i_ += 2;
      enter();
      parse_list(Stop::kParen);
      leave();
      expansion();
      return;
    }
    if (n == '[') opaque("$[...] arithmetic expansion");
    if (n == '{') {
      i_ += 2;
      enter();
      parse_parameter_braces(in_double_quotes);
      leave();
      expansion();
      return;
    }
    if (is_name_start(n)) {
      i_ += 2;
      while (is_name_char(peek())) ++i_;
      expansion();
      return;
    }
    if (is_digit(n) || one_of(n, "@*#?-$!")) {
      i_ += 2;
      expansion();
      if (n == '@') w.splits = true;  // "$@" is one word per argument
      return;
    }
    w.text += '$';
    ++i_;
  }

  // $'...' (bash(1) "QUOTING"), after the opening quote. /bin/sh may be dash, which has no $'...': it reads `$`
  // and then '...' up to the next quote, whatever backslashes come before it, while bash skips the character
  // after each backslash (so `$'\''` and `$'\c'` end in different places). The line splits alike in both only
  // when the two ends are the same quote; the value differs (dash keeps the `$` and the backslashes), so the
  // word is dynamic.
  void read_ansi_c(Word& w) {
    const std::size_t dash_end = s_.find('\'', i_);
    std::size_t bash_end = i_;
    while (bash_end < s_.size() && s_[bash_end] != '\'') bash_end += s_[bash_end] == '\\' ? 2 : 1;
    if (dash_end == std::string_view::npos || bash_end >= s_.size()) opaque("unterminated $'...'");
    if (bash_end != dash_end)
      opaque("backslash before a quote inside $'...' (dash ends the string there, bash does not)");
    i_ = bash_end + 1;
    w.dynamic = true;
  }

  // At "$((". Only constant arithmetic is analysed: a variable's text is evaluated as an expression, and a `for`
  // loop can set it to `a[$(cmd)]`, which bash runs.
  void parse_arithmetic() {
    i_ += 3;
    int parens = 0;
    while (!at_end()) {
      char c = peek();
      if (c == '(') {
        ++parens;
      } else if (c == ')') {
        if (parens == 0) {
          if (peek(1) != ')') opaque("malformed $((...))");
          i_ += 2;
          return;
        }
        --parens;
      } else if (!is_digit(c) && !is_blank(c) && !one_of(c, "+-*/%<>=!&|^~?:,")) {
        opaque("arithmetic expansion with variables or substitutions");
      }
      ++i_;
    }
    opaque("unterminated $((");
  }

  // After "${" (bash(1) "Parameter Expansion"). Forms that evaluate text as code are opaque.
  void parse_parameter_braces(bool in_double_quotes) {
    if (peek() == '!') opaque("indirect expansion ${!...}");
    if (peek() == '#' && peek(1) != '}') ++i_;  // ${#name}: length
    char c = peek();
    if (is_name_start(c)) {
      while (is_name_char(peek())) ++i_;
    } else if (is_digit(c)) {
      while (is_digit(peek())) ++i_;
    } else if (one_of(c, "@*#?-$")) {
      ++i_;
    } else {
      opaque("bad substitution ${...}");
    }
    c = peek();
    if (at_end()) opaque("unterminated ${");
    if (c == '}') {
      ++i_;
      return;
    }
    if (c == '[') opaque("array subscript ${x[...]} (evaluated as arithmetic)");
    if (c == '@') opaque("${x@...} transformation");
    if (c == '=' || (c == ':' && peek(1) == '=')) opaque("${NAME=word} assigns a variable");
    if (c == ':') {
      if (!one_of(peek(1), "-=?+")) opaque("substring expansion ${x:offset} (evaluated as arithmetic)");
      i_ += 2;
    } else if (one_of(c, "-=?+#%/^,")) {
      ++i_;
    } else {
      opaque("bad substitution ${...}");
    }
    // The word up to the first unquoted '}'.
    Word scratch;
    while (!at_end()) {
      c = peek();
      if (c == '}') {
        ++i_;
        return;
      }
      if (c == '{') opaque("'{' inside ${...}");
      if (c == '\\') {
        i_ += 2;
      } else if (c == '\'') {
        if (in_double_quotes) opaque("single quote inside \"${...}\"");
        std::size_t end = s_.find('\'', i_ + 1);
        if (end == std::string_view::npos) opaque("unterminated single quote");
        i_ = end + 1;
      } else if (c == '"') {
        ++i_;
        read_double_quoted(scratch);
      } else if (c == '$') {
        parse_dollar(scratch, in_double_quotes);
      } else if (c == '`') {
        parse_backtick(scratch, in_double_quotes);
      } else if ((c == '<' || c == '>') && peek(1) == '(') {
        i_ += 2;
        enter();
        parse_list(Stop::kParen);
        leave();
      } else {
        ++i_;
      }
    }
    opaque("unterminated ${");
  }

  // At '`': the text up to the closing backquote, unescaped, is parsed as a script.
  void parse_backtick(Word& w, bool in_double_quotes) {
    ++i_;
    std::string inner;
    while (!at_end()) {
      char c = peek();
      if (c == '`') {
        ++i_;
        Parser sub(inner, depth_ + 1, out_, derived_);
        sub.parse_script();
        w.dynamic = true;
        if (!in_double_quotes) w.splits = true;
        return;
      }
      if (c == '\\' && i_ + 1 < s_.size()) {
        char d = s_[i_ + 1];
        if (!(d == '$' || d == '`' || d == '\\' || (in_double_quotes && d == '"'))) inner += c;
        inner += d;
        i_ += 2;
        continue;
      }
      inner += c;
      ++i_;
    }
    opaque("unterminated backquote");
  }

  // ---- commands after parsing: wrappers and builtins

  void emit(Cmd cmd, bool derived) {
    enter();
    check_builtins(cmd);
    std::size_t slot = out_.commands.size();
    out_.commands.emplace_back();  // the wrapper comes before the commands it runs
    std::vector<Cmd> inner;
    unwrap(cmd, inner);  // may parse `sh -c` / eval scripts, which appends their commands
    out_.commands[slot] = to_simple(cmd, derived);
    for (Cmd& c : inner) emit(std::move(c), true);
    leave();
  }

  void parse_nested(const std::string& script) {
    Parser sub(script, depth_ + 1, out_, true);
    sub.parse_script();
  }

  // Builtins that evaluate a variable's text (or a name with a subscript) as arithmetic, where bash runs `$(..)`.
  static void check_builtins(const Cmd& c) {
    if (c.words.empty() || c.words[0].dynamic) return;
    const std::string& name = c.words[0].text;
    auto any_arg = [&c](auto pred) {
      for (std::size_t k = 1; k < c.words.size(); ++k) {
        if (pred(c.words[k])) return true;
      }
      return false;
    };
    if (name == "let") opaque("let evaluates its arguments as arithmetic");
    // What a later command name runs: dash (and bash as sh) expands aliases on the lines after `alias`,
    // `hash -p FILE NAME` makes NAME run FILE, `enable -f` loads builtins from a shared object.
    if (name == "alias" && any_arg([](const Word& w) { return w.dynamic || w.text.find('=') != std::string::npos; })) {
      opaque("alias definition (later lines expand it)");
    }
    if (name == "hash" && any_arg([](const Word& w) { return w.dynamic || w.text.rfind("-p", 0) == 0; })) {
      opaque("hash -p (makes a command name run another file)");
    }
    if (name == "enable") opaque("enable (loads or turns off builtins)");
    if (name == "read" || name == "mapfile" || name == "readarray" || name == "unset" || name == "declare" ||
        name == "typeset" || name == "local" || name == "export" || name == "readonly" || name == "getopts" ||
        name == "wait") {
      if (any_arg([](const Word& w) { return w.dynamic || w.text.find('[') != std::string::npos; })) {
        opaque(name + " with an expansion or a subscript in its arguments");
      }
    }
    if (name == "printf") {
      if (c.words.size() > 1 && c.words[1].dynamic) opaque("printf with an expansion as its first argument");
      if (any_arg([](const Word& w) { return w.text.rfind("-v", 0) == 0; })) opaque("printf -v");
    }
    if (name == "test" || name == "[") {
      std::size_t last = c.words.size() - (name == "[" ? 1 : 0);
      for (std::size_t k = 1; k < c.words.size(); ++k) {
        const Word& w = c.words[k];
        if (!w.dynamic && (w.text == "-v" || w.text == "-R")) opaque(name + " -v (evaluates subscripts)");
        if (w.splits) opaque(name + " with an unquoted expansion");
        if (!w.dynamic && k < last && w.text.find('[') != std::string::npos) opaque(name + " with '[' in an operand");
        if (w.dynamic && k + 1 < c.words.size() && c.words[k + 1].dynamic) opaque(name + " with adjacent expansions");
      }
    }
  }

  void unwrap(Cmd& c, std::vector<Cmd>& inner) {
    if (c.words.empty() || c.words[0].dynamic) return;
    const std::vector<Word>& w = c.words;
    const std::string_view name = basename(w[0].text);
    std::vector<SeenOption> seen;
    auto run_from = [&](std::size_t i) {
      if (i < w.size()) inner.push_back(tail(c, i));
    };
    if (name == "source" || name == ".") opaque(std::string(name) + " runs a script file the parser cannot see");
    if (name == "env") {
      std::size_t i = 1;
      for (;;) {
        i = parse_options(w, i, kEnvOptions, "env", &seen);
        if (i < w.size() && w[i].text == "-" && !w[i].dynamic) {
          ++i;
          continue;
        }
        break;
      }
      if (has_option(seen, 'S', "split-string")) opaque("env -S splits a string into a command");
      return run_with_assignments(c, i, "env", inner);
    }
    if (name == "sudo") {
      std::size_t i = parse_options(w, 1, kSudoOptions, "sudo", &seen);
      return run_with_assignments(c, i, "sudo", inner);
    }
    if (name == "sh" || name == "bash" || name == "dash") return unwrap_shell(c, true);
    if (name == "zsh" || name == "ksh" || name == "ksh93" || name == "mksh" || name == "ash" || name == "hush" ||
        name == "yash" || name == "posh") {
      return unwrap_shell(c, false);
    }
    if (name == "busybox") {  // busybox APPLET ARGS...; its sh is ash
      if (w.size() < 2) return;
      if (w[1].dynamic) opaque("busybox: the applet is an expansion");
      if (w[1].text.empty() || w[1].text[0] == '-') return;
      const std::string_view applet = basename(w[1].text);
      if (applet == "sh" || applet == "ash" || applet == "hush") opaque("busybox " + w[1].text + " (ash's grammar)");
      return run_from(1);
    }
    if (name == "eval") {
      std::size_t i = 1;
      if (i < w.size() && !w[i].dynamic && w[i].text == "--") ++i;
      return parse_nested(join_literal(c, i, "eval"));
    }
    if (name == "xargs") return unwrap_xargs(c, inner);
    if (name == "timeout") {
      std::size_t i = parse_options(w, 1, kTimeoutOptions, "timeout", nullptr);
      if (i < w.size() && w[i].dynamic) opaque("timeout: the duration is an expansion");
      return run_from(i + 1);
    }
    if (name == "nice") {
      std::size_t i = 1;
      if (i < w.size() && !w[i].dynamic && w[i].text.size() > 1 && w[i].text[0] == '-' &&
          all_digits(std::string_view(w[i].text).substr(w[i].text[1] == '-' ? 2 : 1))) {
        ++i;  // nice -10, nice --10
      }
      return run_from(parse_options(w, i, kNiceOptions, "nice", nullptr));
    }
    if (name == "nohup" || name == "builtin") return run_from(parse_options(w, 1, kNoOptions, name, nullptr));
    if (name == "command") return run_from(parse_options(w, 1, kCommandOptions, "command", nullptr));
    if (name == "exec") return run_from(parse_options(w, 1, kExecOptions, "exec", nullptr));
    if (name == "doas") return run_from(parse_options(w, 1, kDoasOptions, "doas", nullptr));
    if (name == "stdbuf") return run_from(parse_options(w, 1, kStdbufOptions, "stdbuf", nullptr));
    if (name == "time") {
      std::size_t i = parse_options(w, 1, kTimeOptions, "time", &seen);
      if (has_option(seen, 'o', "output")) c.redirects_files = true;
      // In bash `time` is a reserved word that times a pipeline, compound commands included.
      if (i < w.size() && is_reserved_word(w[i])) opaque("time before a compound command");
      return run_from(i);
    }
    if (name == "watch") {
      std::size_t i = parse_options(w, 1, kWatchOptions, "watch", &seen);
      if (i >= w.size()) return;
      if (has_option(seen, 'x', "exec")) return run_from(i);
      return parse_nested(join_literal(c, i, "watch"));  // watch runs its arguments with sh -c
    }
    if (name == "find") return unwrap_find(c, inner);
    if (name == "trap") return unwrap_trap(c);
  }

  // trap 'ACTION' SIGNAL...: the action is a script run later.
  void unwrap_trap(const Cmd& c) {
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
  static std::string join_literal(const Cmd& c, std::size_t from, std::string_view tool) {
    std::string script;
    for (std::size_t k = from; k < c.words.size(); ++k) {
      if (c.words[k].dynamic) opaque(std::string(tool) + " of an expansion");
      if (k > from) script += ' ';
      script += c.words[k].text;
    }
    return script;
  }

  // env/sudo: NAME=value words, then the command, which gets them as its assignments.
  static void run_with_assignments(const Cmd& c, std::size_t i, std::string_view tool, std::vector<Cmd>& inner) {
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
  void unwrap_shell(const Cmd& c, bool modelled) {
    const std::vector<Word>& w = c.words;
    bool command_mode = false;
    bool reads_stdin = false;  // -s
    std::size_t i = 1;
    for (; i < w.size(); ++i) {
      if (w[i].dynamic) opaque("shell: an option or the script is an expansion");
      const std::string& a = w[i].text;
      if (a == "--" || a == "-") {
        ++i;
        break;
      }
      if (a.rfind("--", 0) == 0) {
        if (a == "--rcfile" || a == "--init-file") {
          ++i;
          continue;
        }
        static constexpr std::string_view kLong[] = {"--login",      "--noprofile", "--norc",    "--posix",
                                                     "--restricted", "--verbose",   "--version", "--help",
                                                     "--noediting",  "--debugger"};
        bool known = false;
        for (std::string_view l : kLong) known = known || a == l;
        if (!known) opaque("shell: unknown option " + a);
        if (a == "--version" || a == "--help") return;
        continue;
      }
      if (a.size() < 2 || (a[0] != '-' && a[0] != '+')) break;
      bool takes_arg = false;
      for (std::size_t j = 1; j < a.size(); ++j) {
        if (a[j] == 'c' && a[0] == '-') command_mode = true;
        if (a[j] == 's' && a[0] == '-') reads_stdin = true;
        if (a[j] == 'o' || a[j] == 'O') takes_arg = true;
      }
      if (takes_arg) ++i;
    }
    if (!command_mode && (i >= w.size() || reads_stdin)) {
      opaque(std::string(basename(w[0].text)) + " reading commands from its standard input");
    }
    if (!command_mode || i >= w.size()) return;
    if (!modelled) opaque(std::string(basename(w[0].text)) + " -c (a grammar other than sh's)");
    if (w[i].dynamic) opaque("shell -c of an expansion");
    parse_nested(w[i].text);
  }

  // xargs runs COMMAND (default echo) with arguments read from stdin: one more, unknown, argument.
  void unwrap_xargs(const Cmd& c, std::vector<Cmd>& inner) {
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

  // find ... -exec/-execdir/-ok/-okdir CMD ... ; (or {} +): each is a command with `{}` unknown.
  static void unwrap_find(Cmd& c, std::vector<Cmd>& inner) {
    const std::vector<Word>& w = c.words;
    for (std::size_t i = 1; i < w.size(); ++i) {
      if (w[i].dynamic) opaque("find with an expansion among its arguments (it could add -exec)");
      const std::string& a = w[i].text;
      if (a == "-fprint" || a == "-fprint0" || a == "-fprintf" || a == "-fls") c.redirects_files = true;
      if (a != "-exec" && a != "-execdir" && a != "-ok" && a != "-okdir") continue;
      Cmd run;
      std::size_t k = i + 1;
      for (; k < w.size(); ++k) {
        if (w[k].dynamic) opaque("find: an expansion inside " + a);
        if (w[k].text == ";") break;
        if (w[k].text == "+" && k > i + 1 && w[k - 1].text == "{}") break;
        Word arg = w[k];
        if (arg.text.find("{}") != std::string::npos) arg.dynamic = true;
        run.words.push_back(std::move(arg));
      }
      if (k >= w.size()) opaque("find: " + a + " without a terminating ';' or '+'");
      if (run.words.empty()) opaque("find: " + a + " without a command");
      inner.push_back(std::move(run));
      i = k;
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
  int depth_;
  ShellParse& out_;
  std::vector<PendingHeredoc> heredocs_;
  bool derived_ = false;
};

// ---------------------------------------------------------------------------
// Patterns

std::vector<std::string_view> split_blanks(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (is_blank(s[i]) || s[i] == '\n')) ++i;
    std::size_t start = i;
    while (i < s.size() && !is_blank(s[i]) && s[i] != '\n') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// `*` matches any run of bytes, including the NUL that stands for a dynamic word; other bytes match themselves
// and never NUL.
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && text[t] != '\0' && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Whether some text that `text` may stand for matches the glob `pattern`: in `text` a NUL stands for any run of
// bytes (a dynamic word), in `pattern` a `*` does. Dynamic programming over two rows: O(pattern * text).
bool glob_may_match(std::string_view pattern, std::string_view text) {
  const std::size_t n = text.size();
  std::vector<char> next(n + 1);  // row p + 1: does pattern[p + 1..] match text[t..]
  std::vector<char> cur(n + 1);
  next[n] = 1;
  for (std::size_t t = n; t-- > 0;) next[t] = text[t] == '\0' && next[t + 1];
  for (std::size_t p = pattern.size(); p-- > 0;) {
    const char pc = pattern[p];
    cur[n] = pc == '*' && next[n];
    for (std::size_t t = n; t-- > 0;) {
      if (text[t] == '\0') {
        cur[t] = cur[t + 1] || next[t];  // the unknown text is empty, or it covers pattern[p]
      } else if (pc == '*') {
        cur[t] = next[t] || cur[t + 1];
      } else {
        cur[t] = pc == text[t] && next[t + 1];
      }
    }
    std::swap(cur, next);
  }
  return next[0] != 0;
}

enum class Shape { kPrefix, kGlob, kExact };

struct Pattern {
  Shape shape = Shape::kExact;
  std::vector<std::string_view> words;  // kPrefix, kExact
  std::string glob;                     // kGlob: the words joined by single spaces
};

Pattern parse_pattern(std::string_view pattern) {
  while (!pattern.empty() && is_blank(pattern.back())) pattern.remove_suffix(1);
  Pattern p;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ":*") {
    p.shape = Shape::kPrefix;
    p.words = split_blanks(pattern.substr(0, pattern.size() - 2));
  } else if (!pattern.empty() && pattern.back() == '*') {
    p.shape = Shape::kGlob;
    for (std::string_view w : split_blanks(pattern)) {
      if (!p.glob.empty()) p.glob += ' ';
      p.glob += w;
    }
  } else {
    p.words = split_blanks(pattern);
  }
  return p;
}

// A command's words as a pattern sees them: the leading assignments (all, only those that matter, or none),
// then the command name (or its last path component) and the arguments.
struct View {
  std::vector<std::string_view> words;
  std::vector<bool> dynamic;
};

enum class Assignments { kAll, kMeaningful, kNone };

View view_of(const SimpleCommand& c, Assignments which, bool name_basename) {
  View v;
  if (which != Assignments::kNone) {
    for (std::size_t k = 0; k < c.assignments.size(); ++k) {
      const bool dynamic = k < c.assignment_dynamic.size() && c.assignment_dynamic[k];
      const std::string_view a = c.assignments[k];
      if (which == Assignments::kMeaningful && !dynamic) {
        const std::size_t eq = a.find('=');
        if (eq != std::string_view::npos && harmless_environment_variable(a.substr(0, eq), a.substr(eq + 1))) continue;
      }
      v.words.push_back(a);
      v.dynamic.push_back(dynamic);
    }
  }
  for (std::size_t k = 0; k < c.words.size(); ++k) {
    std::string_view w = c.words[k];
    if (k == 0 && name_basename && !c.dynamic[0]) w = basename(w);
    v.words.push_back(w);
    v.dynamic.push_back(c.dynamic[k]);
  }
  return v;
}

// Allow rules: a dynamic word equals no literal pattern word; only `:*` and a glob `*` cover it.
bool view_matches(const Pattern& p, const View& v) {
  if (v.words.empty()) return false;
  switch (p.shape) {
    case Shape::kPrefix:
    case Shape::kExact:
      if (p.shape == Shape::kExact ? p.words.size() != v.words.size() : p.words.size() > v.words.size()) return false;
      for (std::size_t k = 0; k < p.words.size(); ++k) {
        if (v.dynamic[k] || v.words[k] != p.words[k]) return false;
      }
      return true;
    case Shape::kGlob: {
      std::string text;
      for (std::size_t k = 0; k < v.words.size(); ++k) {
        if (k > 0) text += ' ';
        if (v.dynamic[k]) {
          text += '\0';
        } else {
          text += v.words[k];
        }
      }
      return glob_match(p.glob, text);
    }
  }
  return false;
}

// Deny rules: a dynamic word may be any text, or no word at all, or several.
bool view_may_match(const Pattern& p, const View& v) {
  if (v.words.empty()) return false;
  switch (p.shape) {
    case Shape::kPrefix:
    case Shape::kExact: {
      std::size_t k = 0;
      for (; k < p.words.size(); ++k) {
        if (k >= v.words.size()) return false;
        if (v.dynamic[k]) return true;
        if (v.words[k] != p.words[k]) return false;
      }
      if (p.shape == Shape::kPrefix) return true;
      for (; k < v.words.size(); ++k) {  // what follows must be able to vanish
        if (!v.dynamic[k]) return false;
      }
      return true;
    }
    case Shape::kGlob: {
      std::string text;
      for (std::size_t k = 0; k < v.words.size(); ++k) {
        if (v.dynamic[k]) {
          text += '\0';  // also stands for the blank before it
        } else {
          if (k > 0) text += ' ';
          text += v.words[k];
        }
      }
      return glob_may_match(p.glob, text);
    }
  }
  return false;
}

// A pattern word list that `rule_matches_command` reads back as exactly these words, or nothing.
std::optional<std::string> exact_pattern(const SimpleCommand& c) {
  if (c.redirects_files || c.words.empty()) return std::nullopt;
  std::string out;
  auto add = [&out](std::string_view w, bool dynamic) {
    if (dynamic || w.empty()) return false;
    for (char ch : w) {
      if (is_blank(ch) || ch == '\n') return false;
    }
    if (!out.empty()) out += ' ';
    out += w;
    return true;
  };
  for (std::size_t k = 0; k < c.assignments.size(); ++k) {
    if (!add(c.assignments[k], k < c.assignment_dynamic.size() && c.assignment_dynamic[k])) return std::nullopt;
  }
  for (std::size_t k = 0; k < c.words.size(); ++k) {
    if (!add(c.words[k], c.dynamic[k])) return std::nullopt;
  }
  if (out.back() == '*') return std::nullopt;  // it would be a glob
  return out;
}

}  // namespace

ShellParse parse_shell_command(std::string_view command) {
  ShellParse out;
  try {
    if (command.size() > kMaxCommandBytes) opaque("command longer than 64 KiB");
    if (command.find('\0') != std::string_view::npos) opaque("NUL byte in the command");
    Parser parser(command, 0, out);
    parser.parse_script();
  } catch (const Opaque& o) {
    out.commands.clear();
    out.opaque = true;
    out.reason = o.reason;
  }
  return out;
}

bool harmless_environment_variable(std::string_view name, std::string_view value) {
  const bool no_slash = value.find('/') == std::string_view::npos;
  if (name == "TERM" || name == "LANG" || name == "LANGUAGE" || name == "LC_ALL") return no_slash;
  if (name.size() > 3 && name.substr(0, 3) == "LC_") {
    for (char ch : name.substr(3)) {
      if (ch < 'A' || ch > 'Z') return false;
    }
    return no_slash;
  }
  if (name == "COLUMNS" || name == "LINES") return all_digits(value);
  return name == "COLORTERM" || name == "TZ" || name == "NO_COLOR" || name == "FORCE_COLOR" || name == "CLICOLOR" ||
         name == "CLICOLOR_FORCE" || name == "CI";
}

bool rule_matches_command(std::string_view pattern, const SimpleCommand& command) {
  if (command.redirects_files) return false;
  if (!command.words.empty() && command.dynamic[0]) return false;
  const Pattern p = parse_pattern(pattern);
  const View all = view_of(command, Assignments::kAll, false);
  if (view_matches(p, all)) return true;
  const View meaningful = view_of(command, Assignments::kMeaningful, false);
  return meaningful.words.size() != all.words.size() && view_matches(p, meaningful);
}

bool rule_may_match_command(std::string_view pattern, const SimpleCommand& command) {
  if (!command.words.empty() && command.dynamic[0]) return false;
  const Pattern p = parse_pattern(pattern);
  const bool has_path = !command.words.empty() && command.words[0].find('/') != std::string::npos;
  for (Assignments which : {Assignments::kAll, Assignments::kNone}) {
    if (view_may_match(p, view_of(command, which, false))) return true;
    if (has_path && view_may_match(p, view_of(command, which, true))) return true;
  }
  return false;
}

bool names_known(const ShellParse& parse) {
  if (parse.opaque) return false;
  for (const SimpleCommand& c : parse.commands) {
    if (!c.words.empty() && c.dynamic[0]) return false;
  }
  return true;
}

bool bash_rule_matches(std::string_view pattern, std::string_view command) {
  return bash_rules_allow({std::string(pattern)}, command);
}

bool bash_rules_allow(const std::vector<std::string>& patterns, std::string_view command) {
  ShellParse parse = parse_shell_command(command);
  if (parse.opaque || parse.commands.empty()) return false;
  for (const SimpleCommand& c : parse.commands) {
    bool allowed = false;
    for (const std::string& p : patterns) {
      if (rule_matches_command(p, c)) {
        allowed = true;
        break;
      }
    }
    if (!allowed) return false;
  }
  return true;
}

bool bash_rule_may_match(std::string_view pattern, const ShellParse& parse) {
  if (parse.opaque) return false;
  for (const SimpleCommand& c : parse.commands) {
    if (rule_may_match_command(pattern, c)) return true;
  }
  return false;
}

std::vector<std::string> exact_patterns_for(std::string_view command) {
  ShellParse parse = parse_shell_command(command);
  std::vector<std::string> out;
  if (parse.opaque) return out;
  std::unordered_set<std::string> seen;
  for (const SimpleCommand& c : parse.commands) {
    std::optional<std::string> p = exact_pattern(c);
    if (!p) return {};
    if (seen.insert(*p).second) out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace icotes::permissions
