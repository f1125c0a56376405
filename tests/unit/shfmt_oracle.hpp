// shfmt (mvdan/sh, `shfmt --to-json`) as an oracle for parse_shell_command
// (include/permissions/icotes/shell_rule.hpp): the syntax tree another parser builds for
// a line, in bash and in POSIX mode (the latter reads `$'...'` as dash does),
// reduced to its simple commands, names and words after quote removal.
//
// The check: when the parse is not opaque, its simple commands written in
// the line (not those a wrapper runs) are, as a multiset, the tree's; a word
// the parser calls literal is a literal word of the tree with the same text
// (a dynamic word matches any word). Constructs the parser must call opaque
// (functions, case, [[ ]], (( )), coproc, let, arrays) make any non-opaque
// parse a mismatch. A line shfmt refuses in a dialect is not compared in it.
//
// Where shfmt 3.6 reads differently from sh and bash, the oracle does not
// judge. It skips the line for a control byte (shfmt reads a carriage return
// as a blank, and a long run of other control bytes before `NAME=` as
// nothing; sh and bash keep them in the word), a line holding a '#' and
// ending with a backslash (shfmt continues the comment; sh and bash end it
// at the newline), a '#' inside a word after a quote or an expansion
// (`'a'#x`, `$$#x`: one word for sh and bash, a word and a comment for
// shfmt; any '#' inside a word is skipped), and a reserved word out of place
// (`a; else b`: a syntax error for sh and bash, which run nothing of it; a
// command name for shfmt), an assignment to what is not a name (`}v=x`), or
// an extended glob (`!(cmd)` is a negated subshell: extglob is off in sh and
// in bash scripts).
// Inside a backquoted substitution within double quotes (sh and bash remove
// the backslash of `\"`, shfmt keeps it) only the number of words is
// compared.
//
// Used by tests/unit/shell_oracle_test.cpp and fuzz/shell_rule_fuzz.cpp
// (ICOTES_SHELL_FUZZ_SHFMT=1). Needs shfmt 3.x on PATH.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/json.hpp"
#include "icotes/shell_rule.hpp"

namespace icotes::test::shfmt {

/// A simple command of the tree: assignments (`NAME=value`), then words.
struct Command {
  std::vector<std::string> assignments;
  std::vector<bool> assignment_literal;
  std::vector<std::string> words;
  std::vector<bool> literal;  // no expansion, no glob: the shell passes this text as it is
  bool vague = false;         // shfmt's words are not the shell's here: only their number is compared
};

struct Tree {
  std::vector<Command> commands;
  std::string unsupported;  // a construct the parser must call opaque, "" when none
  bool misread = false;     // shfmt reads the line as sh and bash do not (see the top of this file)
};

inline bool available() { return std::system("shfmt --version >/dev/null 2>&1") == 0; }

/// `shfmt -ln <dialect> --to-json` of `line`; nullopt when shfmt refuses the line (or is missing).
inline std::optional<json> parse(std::string_view line, std::string_view dialect) {
  char path[] = "/tmp/icotes-shfmt-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return std::nullopt;
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  const std::string command = "shfmt -ln " + std::string(dialect) + " --to-json < " + path + " 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[8192];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    ::unlink(path);
    if (status != 0) return std::nullopt;
  } else {
    ::unlink(path);
    return std::nullopt;
  }
  json j = json::parse(out, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

namespace detail {

struct WordText {
  std::string text;
  bool literal = true;
};

// Where a word's reading is: inside `[` (a `]` then globs), before its first byte (a `~` there expands), after
// which unquoted byte (`~` after an unquoted `=` or `:` expands).
struct Scan {
  bool bracket = false;
  bool at_start = true;
  char prev = '\0';
};

// Unquoted literal text: backslash-newline vanishes, a backslash quotes the next byte; `*`, `?`, `[..]` glob
// and `~` at the start or after `=`/`:` expands.
inline void unquoted(std::string_view raw, WordText& w, Scan& scan) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size()) {
      if (raw[i + 1] != '\n') {
        w.text += raw[i + 1];
        scan.at_start = false;
        scan.prev = '\0';
      }
      ++i;
      continue;
    }
    if (c == '*' || c == '?') w.literal = false;
    if (c == '[') scan.bracket = true;
    if (c == ']' && scan.bracket) w.literal = false;
    if (c == '~' && (scan.at_start || scan.prev == '=' || scan.prev == ':')) w.literal = false;
    w.text += c;
    scan.at_start = false;
    scan.prev = c;
  }
}

// Literal text inside double quotes: a backslash quotes only $ ` " \ and newline.
inline void double_quoted(std::string_view raw, WordText& w) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size()) {
      const char d = raw[i + 1];
      if (d == '\n') {
        ++i;
        continue;
      }
      if (d == '$' || d == '`' || d == '"' || d == '\\') {
        w.text += d;
        ++i;
        continue;
      }
    }
    w.text += c;
  }
}

inline void parts(const json& list, WordText& w, bool in_double_quotes, Scan& scan) {
  if (!list.is_array()) return;
  for (const json& part : list) {
    const std::string type = part.value("Type", "");
    const std::string value = part.value("Value", "");
    if (type == "Lit" && !in_double_quotes) {
      unquoted(value, w, scan);
      continue;
    }
    if (type == "Lit") {
      double_quoted(value, w);
    } else if (type == "SglQuoted") {
      if (part.value("Dollar", false)) w.literal = false;
      w.text += value;
    } else if (type == "DblQuoted") {
      if (part.value("Dollar", false)) w.literal = false;
      if (auto it = part.find("Parts"); it != part.end()) parts(*it, w, true, scan);
    } else {
      w.literal = false;  // ParamExp, CmdSubst, ArithmExp, ProcSubst, ExtGlob, BraceExp
    }
    scan.at_start = false;
    scan.prev = '\0';
  }
}

inline WordText word(const json& node, bool at_start = true) {
  WordText w;
  Scan scan;
  scan.at_start = at_start;
  if (node.is_object())
    if (auto it = node.find("Parts"); it != node.end()) parts(*it, w, false, scan);
  return w;
}

inline bool assign(const json& a, Command& c, bool as_word) {
  if (a.contains("Index") || a.contains("Array")) return false;
  const std::string name = a.contains("Name") ? a["Name"].value("Value", "") : "";
  std::string text;
  bool literal = true;
  if (a.value("Naked", false)) {
    if (a.contains("Name")) {
      text = name;
    } else {
      WordText v = word(a.value("Value", json::object()));
      text = v.text;
      literal = v.literal;
    }
  } else {
    WordText v = a.contains("Value") ? word(a["Value"], true) : WordText{};  // `~` right after `=` expands
    text = name + (a.value("Append", false) ? "+=" : "=") + v.text;
    literal = v.literal;
  }
  if (as_word) {
    c.words.push_back(text);
    c.literal.push_back(literal);
  } else {
    c.assignments.push_back(text);
    c.assignment_literal.push_back(literal);
  }
  return true;
}

inline bool valid_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char ch : s)
    if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) return false;
  return true;
}

inline void call(const json& cmd, Command& c, Tree& t) {
  if (auto it = cmd.find("Assigns"); it != cmd.end())
    for (const json& a : *it) {
      // `}v=x` after a pipe: a command name for sh and bash, an assignment to shfmt.
      if (a.contains("Name") && !valid_name(a["Name"].value("Value", ""))) t.misread = true;
      if (!assign(a, c, false)) t.unsupported = "array assignment";
    }
  if (auto it = cmd.find("Args"); it != cmd.end())
    for (const json& a : *it) {
      WordText w = word(a);
      c.words.push_back(w.text);
      c.literal.push_back(w.literal);
    }
}

// `vague`: inside a backquoted substitution within double quotes, where shfmt's words are not the shell's.
inline void walk(const json& node, Tree& t, const json* skip = nullptr, bool in_dq = false, bool vague = false);

inline void walk_children(const json& node, Tree& t, const json* skip, bool in_dq, bool vague) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      if (it.key() != "Pos" && it.key() != "End") walk(it.value(), t, skip, in_dq, vague);
  } else if (node.is_array()) {
    for (const json& x : node) walk(x, t, skip, in_dq, vague);
  }
}

inline void push(Tree& t, Command c, bool vague) {
  c.vague = vague;
  t.commands.push_back(std::move(c));
}

inline void walk(const json& node, Tree& t, const json* skip, bool in_dq, bool vague) {
  if (&node == skip) return walk_children(node, t, nullptr, in_dq, vague);
  if (node.is_object()) {
    const std::string type = node.value("Type", "");
    if (type == "DblQuoted") in_dq = true;
    // `!(cmd)`: a negated subshell for sh and bash (extglob is off in scripts), an extended glob for shfmt.
    if (type == "ExtGlob") t.misread = true;
    if (type == "CmdSubst") {
      vague = vague || (in_dq && node.value("Backquotes", false));
      in_dq = false;
    }
    if (type == "CallExpr") {
      Command c;
      call(node, c, t);
      // A reserved word where a command starts, outside its compound command: a syntax error in sh and bash
      // (nothing of the line runs), a command name to shfmt. The parser reads it as the reserved word.
      if (auto args = node.find("Args"); args != node.end() && !args->empty()) {
        const json& first = (*args)[0]["Parts"];
        if (first.is_array() && first.size() == 1 && first[0].value("Type", "") == "Lit") {
          const std::string w = first[0].value("Value", "");
          for (const char* r : {"then", "else", "elif", "fi", "do", "done", "esac", "in", "}", "{", "!"})
            if (w == r) t.misread = true;
        }
      }
      push(t, std::move(c), vague);
    } else if (type == "DeclClause") {
      Command c;
      c.words.push_back(node.contains("Variant") ? node["Variant"].value("Value", "") : "");
      c.literal.push_back(true);
      if (auto it = node.find("Args"); it != node.end())
        for (const json& a : *it)
          if (!assign(a, c, true)) t.unsupported = "array assignment";
      push(t, std::move(c), vague);
    } else if (type == "TimeClause") {
      // bash's reserved word: the parser reads `time [-p] CMD` as one command (and CMD after it).
      Command c;
      c.words.push_back("time");
      c.literal.push_back(true);
      if (node.value("PosixFormat", false)) {
        c.words.push_back("-p");
        c.literal.push_back(true);
      }
      // `time a | b` times the pipeline: the parser's `time` command is the pipeline's first one.
      const json* stmt = node.contains("Stmt") ? &node["Stmt"] : nullptr;
      while (stmt && stmt->is_object() && stmt->contains("Cmd") && (*stmt)["Cmd"].value("Type", "") == "BinaryCmd" &&
             (*stmt)["Cmd"].contains("X"))
        stmt = &(*stmt)["Cmd"]["X"];
      const json* inner = nullptr;
      if (stmt && stmt->is_object()) {
        const json* s = stmt;
        if (auto cmd = s->find("Cmd"); cmd != s->end() && cmd->is_object()) {
          if (cmd->value("Type", "") != "CallExpr") {
            t.unsupported = "time before a compound command";
          } else {
            Command inner_words;
            call(*cmd, inner_words, t);
            for (std::size_t k = 0; k < inner_words.assignments.size(); ++k) {
              c.words.push_back(inner_words.assignments[k]);
              c.literal.push_back(inner_words.assignment_literal[k]);
            }
            c.words.insert(c.words.end(), inner_words.words.begin(), inner_words.words.end());
            c.literal.insert(c.literal.end(), inner_words.literal.begin(), inner_words.literal.end());
            inner = &*cmd;
          }
        }
      }
      push(t, std::move(c), vague);
      return walk_children(node, t, inner, in_dq, vague);
    } else if (type == "FuncDecl" || type == "ArithmCmd" || type == "TestClause" || type == "CaseClause" ||
               type == "LetClause" || type == "CoprocClause" || type == "TestDecl") {
      t.unsupported = type;
    } else if (type == "ForClause") {
      if (node.value("Select", false)) t.unsupported = "select";
      if (auto loop = node.find("Loop"); loop != node.end() && loop->value("Type", "") == "CStyleLoop")
        t.unsupported = "CStyleLoop";
    }
  }
  walk_children(node, t, skip, in_dq, vague);
}

}  // namespace detail

inline Tree commands(const json& file) {
  Tree t;
  detail::walk(file, t);
  return t;
}

namespace detail {

inline bool compatible(const permissions::SimpleCommand& p, const Command& o) {
  if (p.assignments.size() != o.assignments.size() || p.words.size() != o.words.size()) return false;
  if (o.vague) return true;
  for (std::size_t k = 0; k < p.assignments.size(); ++k) {
    const bool dynamic = k < p.assignment_dynamic.size() && p.assignment_dynamic[k];
    if (!dynamic && (!o.assignment_literal[k] || o.assignments[k] != p.assignments[k])) return false;
  }
  for (std::size_t k = 0; k < p.words.size(); ++k) {
    if (!p.dynamic[k] && (!o.literal[k] || o.words[k] != p.words[k])) return false;
  }
  return true;
}

inline std::string show(const std::vector<std::string>& a, const std::vector<std::string>& w) {
  std::string s;
  for (const std::string& x : a) s += " [" + x + "]";
  for (const std::string& x : w) s += " <" + x + ">";
  return s;
}

// Kuhn's augmenting paths: a perfect matching of parser commands to tree commands.
inline bool augment(std::size_t p, const std::vector<std::vector<bool>>& ok, std::vector<int>& owner,
                    std::vector<bool>& seen) {
  for (std::size_t o = 0; o < owner.size(); ++o) {
    if (!ok[p][o] || seen[o]) continue;
    seen[o] = true;
    if (owner[o] < 0 || augment(static_cast<std::size_t>(owner[o]), ok, owner, seen)) {
      owner[o] = static_cast<int>(p);
      return true;
    }
  }
  return false;
}

}  // namespace detail

/// "" when `parse` agrees with `tree` (see the top of this file), else what differs.
inline std::string compare(const permissions::ShellParse& parse, const Tree& tree) {
  if (parse.opaque || tree.misread) return "";
  if (!tree.unsupported.empty()) return "the parser is not opaque on " + tree.unsupported;
  std::vector<const permissions::SimpleCommand*> mine;
  for (const permissions::SimpleCommand& c : parse.commands)
    if (!c.derived && !(c.words.empty() && c.assignments.empty())) mine.push_back(&c);
  std::vector<const Command*> theirs;
  for (const Command& c : tree.commands)
    if (!(c.words.empty() && c.assignments.empty())) theirs.push_back(&c);
  auto describe = [&] {
    std::string s = "\n parser:";
    for (const auto* c : mine) s += "\n  " + detail::show(c->assignments, c->words);
    s += "\n shfmt:";
    for (const auto* c : theirs) s += "\n  " + detail::show(c->assignments, c->words);
    return s;
  };
  if (mine.size() != theirs.size())
    return std::to_string(mine.size()) + " simple commands, shfmt " + std::to_string(theirs.size()) + describe();
  std::vector<std::vector<bool>> ok(mine.size(), std::vector<bool>(theirs.size()));
  for (std::size_t p = 0; p < mine.size(); ++p)
    for (std::size_t o = 0; o < theirs.size(); ++o) ok[p][o] = detail::compatible(*mine[p], *theirs[o]);
  std::vector<int> owner(theirs.size(), -1);
  for (std::size_t p = 0; p < mine.size(); ++p) {
    std::vector<bool> seen(theirs.size());
    if (!detail::augment(p, ok, owner, seen))
      return "no shfmt command matches" + detail::show(mine[p]->assignments, mine[p]->words) + describe();
  }
  return "";
}

/// Whether shfmt 3.6 is known to read `line` differently from sh and bash (see the top of this file).
inline bool shfmt_differs(std::string_view line) {
  for (char c : line)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') return true;
  for (std::size_t at = line.find('#'); at != std::string_view::npos && at > 0; at = line.find('#', at + 1))
    if (std::string_view(" \t\n;&|()<>").find(line[at - 1]) == std::string_view::npos) return true;
  for (std::size_t at = 0; at < line.size();) {
    std::size_t end = line.find('\n', at);
    if (end == std::string_view::npos) end = line.size();
    const std::string_view l = line.substr(at, end - at);
    if (l.find('#') != std::string_view::npos && !l.empty() && l.back() == '\\') return true;
    at = end + 1;
  }
  return false;
}

/// Runs shfmt in both dialects on `line`; "" when the parser agrees with each tree shfmt builds.
inline std::string check(std::string_view line) {
  const permissions::ShellParse mine = permissions::parse_shell_command(line);
  if (mine.opaque || shfmt_differs(line)) return "";
  for (std::string_view dialect : {"bash", "posix"}) {
    auto tree = parse(line, dialect);
    if (!tree) continue;
    const std::string diff = compare(mine, commands(*tree));
    if (!diff.empty()) return std::string(dialect) + ": " + diff;
  }
  return "";
}

}  // namespace icotes::test::shfmt
