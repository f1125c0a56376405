// The bash grammar of shell permission rules (include/permissions/icotes/shell_rule.hpp):
// a conservative parser that lists every simple command of a line. Anything
// it is unsure about throws Opaque; parse_shell_command turns that into
// ShellParse::opaque. Wrappers and builtins: shell_wrappers.cpp.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shell_parse.hpp"

namespace icotes::permissions {
namespace detail {
namespace {

constexpr std::size_t kMaxCommandBytes = 64 * 1024;
constexpr int kMaxDepth = 32;

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_meta(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' ||
         c == '>';
}

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
      if (!parse_list_item(stop)) return;
    }
  }

  // One item of a list at i_ (not a blank): a line break, a comment, an operator, a subshell or a command.
  // False after the ')' that ends a Stop::kParen list.
  bool parse_list_item(Stop stop) {
    const char c = peek();
    if (c == '\n') {
      newline();
    } else if (c == '#') {
      skip_comment();
    } else if (c == ';' || (c == '&' && peek(1) != '>') || c == '|') {
      skip_operator(c);
    } else if (c == ')') {
      if (stop != Stop::kParen) opaque("unexpected ')'");
      ++i_;
      return false;
    } else if (c == '(') {
      parse_subshell();
    } else if (starts_redirection()) {
      parse_simple(nullptr);
    } else {
      Word w = read_word(true);
      if (!handle_reserved(w)) parse_simple(&w);
    }
    return true;
  }

  // `;`, `&`, `&&`, `|`, `||` or `|&` at i_.
  void skip_operator(char c) {
    if (c == ';') {
      if (peek(1) == ';' || peek(1) == '&') opaque("';;' outside a case statement");
      ++i_;
    } else if (c == '&') {
      i_ += peek(1) == '&' ? 2 : 1;
    } else {
      i_ += (peek(1) == '|' || peek(1) == '&') ? 2 : 1;
    }
  }

  // `( list )` and its redirections.
  void parse_subshell() {
    if (peek(1) == '(') opaque("arithmetic command (( ))");
    if (continuation_at(1)) opaque("line continuation after '(' (it may make '((')");
    ++i_;
    enter();
    parse_list(Stop::kParen);
    leave();
    compound_redirections();
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

  enum class RedirectionKind { kFile, kDup, kHereDoc, kHereString };
  struct RedirectionOp {
    std::string_view text;
    RedirectionKind kind;
  };

  // The redirection operator at i_, the longest that matches.
  const RedirectionOp& redirection_operator() const {
    using K = RedirectionKind;
    static constexpr RedirectionOp kOps[] = {{"&>>", K::kFile},    {"&>", K::kFile},    {"<<<", K::kHereString},
                                             {"<<-", K::kHereDoc}, {"<<", K::kHereDoc}, {"<>", K::kFile},
                                             {"<&", K::kDup},      {">&", K::kDup},     {">>", K::kFile},
                                             {">|", K::kFile},     {"<", K::kFile},     {">", K::kFile}};
    for (const RedirectionOp& o : kOps) {
      if (s_.substr(i_, o.text.size()) == o.text) return o;
    }
    opaque("malformed redirection");
  }

  void parse_redirection(Cmd& cmd) {
    cmd.redirected = true;
    if (peek() == '{') opaque("{name}> redirection (bash allocates a descriptor, dash reads {name} as a word)");
    const std::size_t digits_start = i_;
    while (is_digit(peek())) ++i_;
    if (i_ - digits_start > 1) opaque("descriptor number over 9 before a redirection (dash reads it as a word)");
    const RedirectionOp* op = &redirection_operator();
    if (op->text[0] == '&') cmd.amp_redirect = true;
    i_ += op->text.size();
    if (continuation_at(0)) opaque("line continuation after a redirection operator (`<<\\<newline>-` is `<<-`)");
    skip_blanks();
    bool process_substitution = (peek() == '<' || peek() == '>') && peek(1) == '(';
    if (at_end() || (is_meta(peek()) && !process_substitution)) opaque("redirection without a target");
    Word target = read_word(false);
    switch (op->kind) {
      case RedirectionKind::kHereString:
        return;
      case RedirectionKind::kHereDoc:
        if (target.dynamic) opaque("here-document delimiter with an expansion");
        heredocs_.push_back({target.text, op->text == "<<-", !target.quoted, depth_});
        return;
      case RedirectionKind::kDup: {
        std::string_view t = target.text;
        if (!t.empty() && t.back() == '-') t.remove_suffix(1);
        if (!target.dynamic && (t.empty() || all_digits(t))) return;
        cmd.redirects_files = true;  // >&word is &>word
        return;
      }
      case RedirectionKind::kFile:
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
      const std::string_view body = read_heredoc_body(h);
      if (h.expand) {
        Parser sub(body, depth_ + 1, out_, derived_);
        sub.scan_heredoc_body();
      }
    }
  }

  // The lines at i_ up to h's delimiter line; i_ moves past that line.
  std::string_view read_heredoc_body(const PendingHeredoc& h) {
    const std::size_t body_start = i_;
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
      const std::size_t line_start = i_;
      i_ = eol == std::string_view::npos ? s_.size() : eol + 1;
      if (line == h.delimiter) return s_.substr(body_start, line_start - body_start);
    }
  }

  // ---- words

  // Reads one word at i_ (bash(1) "QUOTING", "EXPANSION"); substitutions inside are parsed and their commands
  // emitted. `command_position` enables the check for `a[i]=v` array assignments.
  Word read_word(bool command_position) {
    Word w;
    check_continued_redirection();
    check_name_prefix(w, command_position);
    LiteralScan scan;
    while (!at_end()) {
      char c = peek();
      if ((c == '<' || c == '>') && peek(1) == '(') {  // process substitution, part of the word
        read_process_substitution(w);
        scan.prev = '\0';
        scan.at_start = false;
        continue;
      }
      if (is_meta(c)) break;
      const Part part = read_quoted_part(w, c);
      if (part == Part::kJoinedLines) continue;
      if (part == Part::kRead) {
        scan.prev = '\0';
      } else {
        read_literal(w, c, scan);
      }
      scan.at_start = false;
    }
    return w;
  }

  // The shells join a backslash-newline before they read a token: `2\<newline>>f` is a redirection of
  // descriptor 2, which starts_redirection() (looking at the raw text) did not see.
  void check_continued_redirection() const {
    std::size_t k = skip_continuations(i_);
    const bool digits = k < s_.size() && is_digit(s_[k]);
    while (k < s_.size() && is_digit(s_[k])) k = skip_continuations(k + 1);
    if (digits && k < s_.size() && (s_[k] == '<' || s_[k] == '>')) opaque("line continuation inside a redirection");
  }

  // A word that starts with a NAME (continuations joined, so `PA\<newline>TH=x` is one): NAME=value is an
  // assignment; at command position NAME+=value and NAME[i]=value are opaque.
  void check_name_prefix(Word& w, bool command_position) const {
    std::size_t k = skip_continuations(i_);
    if (k >= s_.size() || !is_name_start(s_[k])) return;
    while (k < s_.size() && is_name_char(s_[k])) k = skip_continuations(k + 1);
    if (k < s_.size() && s_[k] == '=') w.assignment = true;
    if (!command_position) return;
    if (k + 1 < s_.size() && s_[k] == '+' && s_[k + 1] == '=') {
      opaque("NAME+=value (bash appends to a variable, dash runs a command of that name)");
    }
    if (k < s_.size() && s_[k] == '[') check_subscript_assignment(k);
  }

  // At the '[' after a NAME in command position.
  void check_subscript_assignment(std::size_t k) const {
    std::size_t e = k;
    while (e < s_.size() && !is_meta(s_[e])) ++e;
    if (s_.substr(k, e - k + 1).find("\\\n") != std::string_view::npos) {
      opaque("line continuation inside a subscript");
    }
    const std::string_view subscript = s_.substr(k, e - k);
    if (subscript.find("]=") != std::string_view::npos || subscript.find("]+=") != std::string_view::npos) {
      opaque("array element assignment (its subscript is evaluated)");
    }
  }

  // At `<(` or `>(`: the list inside is parsed; the word's value is unknown.
  void read_process_substitution(Word& w) {
    i_ += 2;
    enter();
    parse_list(Stop::kParen);
    leave();
    w.dynamic = true;
  }

  enum class Part {
    kLiteral,      // c is a literal character (read_literal reads it)
    kRead,         // a quoted or expanded part was read into the word
    kJoinedLines,  // a backslash-newline was skipped
  };

  // A part of an unquoted word that starts with c: a backslash escape, '...', "...", $... or `...`.
  Part read_quoted_part(Word& w, char c) {
    switch (c) {
      case '\\':
        if (peek(1) == '\n') {
          i_ += 2;
          return Part::kJoinedLines;
        }
        read_escaped(w);
        return Part::kRead;
      case '\'':
        read_single_quoted(w);
        return Part::kRead;
      case '"':
        ++i_;
        read_double_quoted(w);
        w.quoted = true;
        return Part::kRead;
      case '$':
        parse_dollar(w, false);
        return Part::kRead;
      case '`':
        parse_backtick(w, false);
        return Part::kRead;
      default:
        return Part::kLiteral;
    }
  }

  // At a backslash that is not a line continuation: the next character, literally.
  void read_escaped(Word& w) {
    w.quoted = true;
    if (i_ + 1 < s_.size()) {
      w.text += s_[i_ + 1];
      i_ += 2;
    } else {
      w.text += '\\';
      ++i_;
    }
  }

  // At a single quote: the text up to the next one.
  void read_single_quoted(Word& w) {
    std::size_t end = s_.find('\'', i_ + 1);
    if (end == std::string_view::npos) opaque("unterminated single quote");
    w.text.append(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    w.quoted = true;
  }

  // What the unquoted literal characters of a word so far say about globs, braces and tildes.
  struct LiteralScan {
    bool bracket = false;          // an unquoted '[' (a following ']' makes a glob)
    bool brace = false;            // an unquoted '{'
    bool brace_separator = false;  // ',' or '..' after it (a following '}' makes a brace expansion)
    bool at_start = true;          // nothing read yet
    char prev = '\0';              // the previous unquoted literal character
  };

  // One unquoted literal character c: globs and brace expansions may split the word, a tilde at the start or
  // after '=' or ':' expands.
  void read_literal(Word& w, char c, LiteralScan& scan) {
    if (c == '*' || c == '?' || (c == ']' && scan.bracket) || (c == '}' && scan.brace && scan.brace_separator)) {
      w.dynamic = true;  // a glob or a brace expansion
      w.splits = true;
    } else if (c == '[') {
      scan.bracket = true;
    } else if (c == '{') {
      scan.brace = true;
    } else if (scan.brace && (c == ',' || (c == '.' && peek(1) == '.'))) {
      scan.brace_separator = true;
    } else if (c == '~' && (scan.at_start || scan.prev == '=' || scan.prev == ':')) {
      w.dynamic = true;
    }
    w.text += c;
    scan.prev = c;
    ++i_;
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
    read_parameter_name();
    const char c = peek();
    if (at_end()) opaque("unterminated ${");
    if (c == '}') {
      ++i_;
      return;
    }
    read_parameter_operator(c);
    skip_parameter_word(in_double_quotes);
  }

  // After "${": `#` (length) and the parameter: a name, digits or a special parameter.
  void read_parameter_name() {
    if (peek() == '!') opaque("indirect expansion ${!...}");
    if (peek() == '#' && peek(1) != '}') ++i_;  // ${#name}: length
    const char c = peek();
    if (is_name_start(c)) {
      while (is_name_char(peek())) ++i_;
    } else if (is_digit(c)) {
      while (is_digit(peek())) ++i_;
    } else if (one_of(c, "@*#?-$")) {
      ++i_;
    } else {
      opaque("bad substitution ${...}");
    }
  }

  // The operator c after the parameter: `-`, `:-`, `#`, `%`, `/`... Assignments, subscripts, substrings and
  // transformations are opaque.
  void read_parameter_operator(char c) {
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
  }

  // The operator's word, up to and past the first unquoted '}'; its substitutions are parsed.
  void skip_parameter_word(bool in_double_quotes) {
    Word scratch;
    while (!at_end()) {
      const char c = peek();
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
    // May parse `sh -c` / eval scripts, which appends their commands.
    unwrap(cmd, inner, [this](const std::string& script) { parse_nested(script); });
    out_.commands[slot] = to_simple(cmd, derived);
    for (Cmd& c : inner) emit(std::move(c), true);
    leave();
  }

  void parse_nested(const std::string& script) {
    Parser sub(script, depth_ + 1, out_, true);
    sub.parse_script();
  }

  std::string_view s_;
  std::size_t i_ = 0;
  int depth_;
  ShellParse& out_;
  std::vector<PendingHeredoc> heredocs_;
  bool derived_ = false;
};

}  // namespace

bool is_reserved_word(const Word& w) {
  if (w.quoted || w.dynamic) return false;
  static constexpr std::string_view kReserved[] = {
      "!",    "{",   "}",  "if",   "then", "else",   "elif",     "fi",     "while", "until", "do",
      "done", "for", "in", "case", "esac", "select", "function", "coproc", "time",  "[[",    "]]"};
  for (std::string_view r : kReserved) {
    if (w.text == r) return true;
  }
  return false;
}

}  // namespace detail

ShellParse parse_shell_command(std::string_view command) {
  using detail::opaque;
  ShellParse out;
  try {
    if (command.size() > detail::kMaxCommandBytes) opaque("command longer than 64 KiB");
    if (command.find('\0') != std::string_view::npos) opaque("NUL byte in the command");
    detail::Parser parser(command, 0, out);
    parser.parse_script();
  } catch (const detail::Opaque& o) {
    out.commands.clear();
    out.opaque = true;
    out.reason = o.reason;
  }
  return out;
}

}  // namespace icotes::permissions
