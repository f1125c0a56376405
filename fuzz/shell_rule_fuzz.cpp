// libFuzzer target: arbitrary bytes as a command line through the shell-rule
// parser and matcher (include/permissions/icotes/shell_rule.hpp).
//
// Oracles besides the sanitizers:
//  - an opaque parse lists no command, says why, and no rule allows the line;
//  - a parse is deterministic, and each command's flags match its words;
//  - the name of every simple command written in the line (not one a wrapper
//    runs) is made of the line's bytes in order (quote removal only drops);
//  - re-parsing a reported command, its literal words single-quoted, gives
//    that command first, and only commands the line already reported;
//  - what an allow pattern matches, the same pattern as a deny rule may match;
//  - the exact patterns suggested for a line allow that line.
// With ICOTES_SHELL_FUZZ_SHFMT=1 each input is also compared with shfmt's
// syntax tree (tests/unit/shfmt_oracle.hpp; slow: a process per input), e.g.
//   ICOTES_SHELL_FUZZ_SHFMT=1 build/fuzz/fuzz/shell_rule_fuzz -runs=2000 fuzz/corpus/shell_rule_fuzz
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../tests/unit/shfmt_oracle.hpp"
#include "icotes/shell_rule.hpp"

namespace {

using icotes::permissions::ShellParse;
using icotes::permissions::SimpleCommand;

[[noreturn]] void fail(const std::string& what, std::string_view line) {
  std::fprintf(stderr, "oracle failed: %s\nline (%zu bytes): %.*s\n", what.c_str(), line.size(),
               static_cast<int>(line.size() < 2000 ? line.size() : 2000), line.data());
  std::abort();
}

bool same(const SimpleCommand& a, const SimpleCommand& b) {
  return a.assignments == b.assignments && a.assignment_dynamic == b.assignment_dynamic && a.words == b.words &&
         a.dynamic == b.dynamic;
}

bool subsequence(std::string_view needle, std::string_view hay) {
  std::size_t at = 0;
  for (char c : needle) {
    at = hay.find(c, at);
    if (at == std::string_view::npos) return false;
    ++at;
  }
  return true;
}

bool valid_name(std::string_view s) {
  if (s.empty() || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (char c : s)
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

std::string single_quoted(std::string_view w) {
  std::string out = "'";
  for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The command as a line of single-quoted literal words; "" when it cannot be written so.
std::string requoted(const SimpleCommand& c) {
  std::string out;
  for (std::size_t k = 0; k < c.assignments.size(); ++k) {
    if (c.assignment_dynamic[k]) return "";
    const std::string& a = c.assignments[k];
    const std::size_t eq = a.find('=');
    if (eq == std::string::npos || !valid_name(std::string_view(a).substr(0, eq))) return "";
    out += a.substr(0, eq + 1) + single_quoted(std::string_view(a).substr(eq + 1)) + " ";
  }
  for (std::size_t k = 0; k < c.words.size(); ++k) {
    if (c.dynamic[k]) return "";
    out += single_quoted(c.words[k]) + " ";
  }
  return out;
}

void check_command(const SimpleCommand& c, const ShellParse& whole, std::string_view line) {
  if (c.words.size() != c.dynamic.size() || c.assignments.size() != c.assignment_dynamic.size())
    fail("a flag list and its words differ in length", line);
  if (!c.derived && !c.words.empty() && !c.dynamic[0] && !subsequence(c.words[0], line))
    fail("command name '" + c.words[0] + "' is not made of the line's bytes", line);

  // Deny matching covers allow matching, for patterns made from the command itself.
  std::vector<std::string> patterns = {"*", ":*"};
  if (!c.words.empty() && !c.dynamic[0]) {
    patterns.push_back(c.words[0] + ":*");
    patterns.push_back(c.words[0] + " *");
    patterns.push_back(c.words[0] + "*");
  }
  for (const std::string& p : patterns)
    if (icotes::permissions::rule_matches_command(p, c) && !icotes::permissions::rule_may_match_command(p, c))
      fail("allow pattern '" + p + "' matches a command the deny form does not", line);

  // Idempotent re-parse.
  if (c.words.empty() && c.assignments.empty()) return;
  const std::string again = requoted(c);
  if (again.empty() || again.size() > 60000) return;
  const ShellParse p = icotes::permissions::parse_shell_command(again);
  if (p.opaque) fail("re-parsing a reported command is opaque (" + p.reason + "): " + again, line);
  if (p.commands.empty() || !same(p.commands[0], c)) fail("re-parsing a reported command changes it: " + again, line);
  for (const SimpleCommand& r : p.commands) {
    bool found = false;
    for (const SimpleCommand& o : whole.commands) found = found || same(o, r);
    if (!found) fail("re-parsing a reported command reports a new one: " + again, line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const ShellParse p = icotes::permissions::parse_shell_command(line);
  const ShellParse q = icotes::permissions::parse_shell_command(line);
  if (p.opaque != q.opaque || p.reason != q.reason || p.commands.size() != q.commands.size())
    fail("two parses differ", line);
  for (std::size_t k = 0; k < p.commands.size(); ++k)
    if (!same(p.commands[k], q.commands[k])) fail("two parses differ", line);

  if (p.opaque) {
    if (!p.commands.empty()) fail("an opaque parse lists commands", line);
    if (p.reason.empty()) fail("an opaque parse without a reason", line);
    if (icotes::permissions::bash_rules_allow({"*", ":*"}, line)) fail("a rule allows an opaque line", line);
    if (icotes::permissions::names_known(p)) fail("names_known on an opaque parse", line);
    return 0;
  }
  // The first commands only: each check reads the line or the whole list (a 64 KiB `a;a;a...` has 32768).
  for (std::size_t k = 0; k < p.commands.size() && k < 256; ++k) check_command(p.commands[k], p, line);

  const std::vector<std::string> exact = icotes::permissions::exact_patterns_for(line);
  if (!exact.empty() && exact.size() <= 64 && !icotes::permissions::bash_rules_allow(exact, line))
    fail("the exact patterns suggested for a line do not allow it", line);

  static const bool differential = [] {
    const char* v = std::getenv("ICOTES_SHELL_FUZZ_SHFMT");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  if (differential) {
    const std::string diff = icotes::test::shfmt::check(line);
    if (!diff.empty()) fail("shfmt disagrees: " + diff, line);
  }
  return 0;
}
