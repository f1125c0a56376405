// Glob matching (include/search/icotes/glob.hpp): git's wildmatch with WM_PATHNAME,
// checked against git's own table (t/t3070-wildmatch.sh, after git 2.20's
// "foo**bar" change), plus ripgrep/globset brace alternation.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "icotes/glob.hpp"

namespace icotes {
namespace {

// Verbatim rows of t3070: match GLOB IGLOB PATHMATCH IPATHMATCH TEXT PATTERN.
// Columns 1 and 2 are wildmatch with WM_PATHNAME (case-sensitive / folded),
// which is what Glob implements; the pathmatch columns (no WM_PATHNAME) are
// not used. Values are shell words: '...' literal, "..." literal here.
constexpr const char* kT3070 = R"TABLE(
# Basic wildmatch features
match 1 1 1 1 foo foo
match 0 0 0 0 foo bar
match 1 1 1 1 '' ""
match 1 1 1 1 foo '???'
match 0 0 0 0 foo '??'
match 1 1 1 1 foo '*'
match 1 1 1 1 foo 'f*'
match 0 0 0 0 foo '*f'
match 1 1 1 1 foo '*foo*'
match 1 1 1 1 foobar '*ob*a*r*'
match 1 1 1 1 aaaaaaabababab '*ab'
match 1 1 1 1 'foo*' 'foo\*'
match 0 0 0 0 foobar 'foo\*bar'
match 1 1 1 1 'f\oo' 'f\\oo'
match 1 1 1 1 ball '*[al]?'
match 0 0 0 0 ten '[ten]'
match 1 1 1 1 ten '**[!te]'
match 0 0 0 0 ten '**[!ten]'
match 1 1 1 1 ten 't[a-g]n'
match 0 0 0 0 ten 't[!a-g]n'
match 1 1 1 1 ton 't[!a-g]n'
match 1 1 1 1 ton 't[^a-g]n'
match 1 1 1 1 'a]b' 'a[]]b'
match 1 1 1 1 a-b 'a[]-]b'
match 1 1 1 1 'a]b' 'a[]-]b'
match 0 0 0 0 aab 'a[]-]b'
match 1 1 1 1 aab 'a[]a-]b'
match 1 1 1 1 ']' ']'

# Extended slash-matching features
match 0 0 1 1 'foo/baz/bar' 'foo*bar'
match 0 0 1 1 'foo/baz/bar' 'foo**bar'
match 1 1 1 1 'foobazbar' 'foo**bar'
match 1 1 1 1 'foo/baz/bar' 'foo/**/bar'
match 1 1 0 0 'foo/baz/bar' 'foo/**/**/bar'
match 1 1 1 1 'foo/b/a/z/bar' 'foo/**/bar'
match 1 1 1 1 'foo/b/a/z/bar' 'foo/**/**/bar'
match 1 1 0 0 'foo/bar' 'foo/**/bar'
match 1 1 0 0 'foo/bar' 'foo/**/**/bar'
match 0 0 1 1 'foo/bar' 'foo?bar'
match 0 0 1 1 'foo/bar' 'foo[/]bar'
match 0 0 1 1 'foo/bar' 'foo[^a-z]bar'
match 0 0 1 1 'foo/bar' 'f[^eiu][^eiu][^eiu][^eiu][^eiu]r'
match 1 1 1 1 'foo-bar' 'f[^eiu][^eiu][^eiu][^eiu][^eiu]r'
match 1 1 0 0 'foo' '**/foo'
match 1 1 1 1 'XXX/foo' '**/foo'
match 1 1 1 1 'bar/baz/foo' '**/foo'
match 0 0 1 1 'bar/baz/foo' '*/foo'
match 0 0 1 1 'foo/bar/baz' '**/bar*'
match 1 1 1 1 'deep/foo/bar/baz' '**/bar/*'
match 0 0 1 1 'deep/foo/bar/baz/' '**/bar/*'
match 1 1 1 1 'deep/foo/bar/baz/' '**/bar/**'
match 0 0 0 0 'deep/foo/bar' '**/bar/*'
match 1 1 1 1 'deep/foo/bar/' '**/bar/**'
match 0 0 1 1 'foo/bar/baz' '**/bar**'
match 1 1 1 1 'foo/bar/baz/x' '*/bar/**'
match 0 0 1 1 'deep/foo/bar/baz/x' '*/bar/**'
match 1 1 1 1 'deep/foo/bar/baz/x' '**/bar/*/*'

# Various additional tests
match 0 0 0 0 'acrt' 'a[c-c]st'
match 1 1 1 1 'acrt' 'a[c-c]rt'
match 0 0 0 0 ']' '[!]-]'
match 1 1 1 1 'a' '[!]-]'
match 0 0 0 0 '' '\'
match 0 0 0 0 '\' '\'
match 0 0 0 0 'XXX/\' '*/\'
match 1 1 1 1 'XXX/\' '*/\\'
match 1 1 1 1 'foo' 'foo'
match 1 1 1 1 '@foo' '@foo'
match 0 0 0 0 'foo' '@foo'
match 1 1 1 1 '[ab]' '\[ab]'
match 1 1 1 1 '[ab]' '[[]ab]'
match 1 1 1 1 '[ab]' '[[:]ab]'
match 0 0 0 0 '[ab]' '[[::]ab]'
match 1 1 1 1 '[ab]' '[[:digit]ab]'
match 1 1 1 1 '[ab]' '[\[:]ab]'
match 1 1 1 1 '?a?b' '\??\?b'
match 1 1 1 1 'abc' '\a\b\c'
match 0 0 0 0 'foo' ''
match 1 1 1 1 'foo/bar/baz/to' '**/t[o]'

# Character class tests
match 1 1 1 1 'a1B' '[[:alpha:]][[:digit:]][[:upper:]]'
match 0 1 0 1 'a' '[[:digit:][:upper:][:space:]]'
match 1 1 1 1 'A' '[[:digit:][:upper:][:space:]]'
match 1 1 1 1 '1' '[[:digit:][:upper:][:space:]]'
match 0 0 0 0 '1' '[[:digit:][:upper:][:spaci:]]'
match 1 1 1 1 ' ' '[[:digit:][:upper:][:space:]]'
match 0 0 0 0 '.' '[[:digit:][:upper:][:space:]]'
match 1 1 1 1 '.' '[[:digit:][:punct:][:space:]]'
match 1 1 1 1 '5' '[[:xdigit:]]'
match 1 1 1 1 'f' '[[:xdigit:]]'
match 1 1 1 1 'D' '[[:xdigit:]]'
match 1 1 1 1 '_' '[[:alnum:][:alpha:][:blank:][:cntrl:][:digit:][:graph:][:lower:][:print:][:punct:][:space:][:upper:][:xdigit:]]'
match 1 1 1 1 '.' '[^[:alnum:][:alpha:][:blank:][:cntrl:][:digit:][:lower:][:space:][:upper:][:xdigit:]]'
match 1 1 1 1 '5' '[a-c[:digit:]x-z]'
match 1 1 1 1 'b' '[a-c[:digit:]x-z]'
match 1 1 1 1 'y' '[a-c[:digit:]x-z]'
match 0 0 0 0 'q' '[a-c[:digit:]x-z]'

# Additional tests, including some malformed wildmatch patterns
match 1 1 1 1 ']' '[\\-^]'
match 0 0 0 0 '[' '[\\-^]'
match 1 1 1 1 '-' '[\-_]'
match 1 1 1 1 ']' '[\]]'
match 0 0 0 0 '\]' '[\]]'
match 0 0 0 0 '\' '[\]]'
match 0 0 0 0 'ab' 'a[]b'
match 0 0 0 0 'a[]b' 'a[]b'
match 0 0 0 0 'ab[' 'ab['
match 0 0 0 0 'ab' '[!'
match 0 0 0 0 'ab' '[-'
match 1 1 1 1 '-' '[-]'
match 0 0 0 0 '-' '[a-'
match 0 0 0 0 '-' '[!a-'
match 1 1 1 1 '-' '[--A]'
match 1 1 1 1 '5' '[--A]'
match 1 1 1 1 ' ' '[ --]'
match 1 1 1 1 '$' '[ --]'
match 1 1 1 1 '-' '[ --]'
match 0 0 0 0 '0' '[ --]'
match 1 1 1 1 '-' '[---]'
match 1 1 1 1 '-' '[------]'
match 0 0 0 0 'j' '[a-e-n]'
match 1 1 1 1 '-' '[a-e-n]'
match 1 1 1 1 'a' '[!------]'
match 0 0 0 0 '[' '[]-a]'
match 1 1 1 1 '^' '[]-a]'
match 0 0 0 0 '^' '[!]-a]'
match 1 1 1 1 '[' '[!]-a]'
match 1 1 1 1 '^' '[a^bc]'
match 1 1 1 1 '-b]' '[a-]b]'
match 0 0 0 0 '\' '[\]'
match 1 1 1 1 '\' '[\\]'
match 0 0 0 0 '\' '[!\\]'
match 1 1 1 1 'G' '[A-\\]'
match 0 0 0 0 'aaabbb' 'b*a'
match 0 0 0 0 'aabcaa' '*ba*'
match 1 1 1 1 ',' '[,]'
match 1 1 1 1 ',' '[\\,]'
match 1 1 1 1 '\' '[\\,]'
match 1 1 1 1 '-' '[,-.]'
match 0 0 0 0 '+' '[,-.]'
match 0 0 0 0 '-.]' '[,-.]'
match 1 1 1 1 '2' '[\1-\3]'
match 1 1 1 1 '3' '[\1-\3]'
match 0 0 0 0 '4' '[\1-\3]'
match 1 1 1 1 '\' '[[-\]]'
match 1 1 1 1 '[' '[[-\]]'
match 1 1 1 1 ']' '[[-\]]'
match 0 0 0 0 '-' '[[-\]]'

# Test recursion
match 1 1 1 1 '-adobe-courier-bold-o-normal--12-120-75-75-m-70-iso8859-1' '-*-*-*-*-*-*-12-*-*-*-m-*-*-*'
match 0 0 0 0 '-adobe-courier-bold-o-normal--12-120-75-75-X-70-iso8859-1' '-*-*-*-*-*-*-12-*-*-*-m-*-*-*'
match 0 0 0 0 '-adobe-courier-bold-o-normal--12-120-75-75-/-70-iso8859-1' '-*-*-*-*-*-*-12-*-*-*-m-*-*-*'
match 1 1 1 1 'XXX/adobe/courier/bold/o/normal//12/120/75/75/m/70/iso8859/1' 'XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*'
match 0 0 0 0 'XXX/adobe/courier/bold/o/normal//12/120/75/75/X/70/iso8859/1' 'XXX/*/*/*/*/*/*/12/*/*/*/m/*/*/*'
match 1 1 1 1 'abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txt' '**/*a*b*g*n*t'
match 0 0 0 0 'abcd/abcdefg/abcdefghijk/abcdefghijklmnop.txtz' '**/*a*b*g*n*t'
match 0 0 0 0 foo '*/*/*'
match 0 0 0 0 foo/bar '*/*/*'
match 1 1 1 1 foo/bba/arr '*/*/*'
match 0 0 1 1 foo/bb/aa/rr '*/*/*'
match 1 1 1 1 foo/bb/aa/rr '**/**/**'
match 1 1 1 1 abcXdefXghi '*X*i'
match 0 0 1 1 ab/cXd/efXg/hi '*X*i'
match 1 1 1 1 ab/cXd/efXg/hi '*/*X*/*/*i'
match 1 1 1 1 ab/cXd/efXg/hi '**/*X*/**/*i'

# Extra pathmatch tests
match 0 0 0 0 foo fo
match 1 1 1 1 foo/bar foo/bar
match 1 1 1 1 foo/bar 'foo/*'
match 0 0 1 1 foo/bba/arr 'foo/*'
match 1 1 1 1 foo/bba/arr 'foo/**'
match 0 0 1 1 foo/bba/arr 'foo*'
match 0 0 1 1 foo/bba/arr 'foo**'
match 0 0 1 1 foo/bba/arr 'foo/*arr'
match 0 0 1 1 foo/bba/arr 'foo/**arr'
match 0 0 0 0 foo/bba/arr 'foo/*z'
match 0 0 0 0 foo/bba/arr 'foo/**z'
match 0 0 1 1 foo/bar 'foo?bar'
match 0 0 1 1 foo/bar 'foo[/]bar'
match 0 0 1 1 foo/bar 'foo[^a-z]bar'
match 0 0 1 1 ab/cXd/efXg/hi '*Xg*i'

# Extra case-sensitivity tests
match 0 1 0 1 'a' '[A-Z]'
match 1 1 1 1 'A' '[A-Z]'
match 0 1 0 1 'A' '[a-z]'
match 1 1 1 1 'a' '[a-z]'
match 0 1 0 1 'a' '[[:upper:]]'
match 1 1 1 1 'A' '[[:upper:]]'
match 0 1 0 1 'A' '[[:lower:]]'
match 1 1 1 1 'a' '[[:lower:]]'
match 0 1 0 1 'A' '[B-Za]'
match 1 1 1 1 'a' '[B-Za]'
match 0 1 0 1 'A' '[B-a]'
match 1 1 1 1 'a' '[B-a]'
match 0 1 0 1 'z' '[Z-y]'
match 1 1 1 1 'Z' '[Z-y]'
)TABLE";

struct Row {
  int line = 0;
  char glob = '?', iglob = '?';
  std::string text, pattern;
};

// Splits a line into shell words ('...' and "..." quoting; no escapes outside quotes).
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size()) break;
    std::string w;
    while (i < line.size() && line[i] != ' ') {
      if (line[i] == '\'' || line[i] == '"') {
        const char q = line[i];
        const std::size_t close = line.find(q, i + 1);
        w += line.substr(i + 1, close - i - 1);
        i = close + 1;
      } else {
        w.push_back(line[i++]);
      }
    }
    out.push_back(w);
  }
  return out;
}

std::vector<Row> t3070_rows() {
  std::vector<Row> rows;
  std::istringstream in(kT3070);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("match ", 0) != 0) continue;
    const auto w = shell_words(line);
    if (w.size() != 7) throw std::runtime_error("bad t3070 row: " + line);
    rows.push_back({n, w[1][0], w[2][0], w[5], w[6]});
  }
  return rows;
}

TEST(Wildmatch, GitT3070Table) {
  const auto rows = t3070_rows();
  ASSERT_GE(rows.size(), 180u);
  int checked = 0;
  for (const auto& r : rows) {
    if (r.glob != 'x') {
      EXPECT_EQ(wildmatch(r.pattern, r.text, false), r.glob == '1')
          << "t3070 line " << r.line << ": wildmatch('" << r.pattern << "', '" << r.text << "')";
      ++checked;
    }
    if (r.iglob != 'x') {
      EXPECT_EQ(wildmatch(r.pattern, r.text, true), r.iglob == '1')
          << "t3070 line " << r.line << ": iwildmatch('" << r.pattern << "', '" << r.text << "')";
      ++checked;
    }
  }
  EXPECT_GE(checked, 360);
}

// Glob (with its fast paths for common shapes) agrees with wildmatch on every row.
TEST(Wildmatch, GlobAgreesWithWildmatchOnT3070) {
  for (const auto& r : t3070_rows()) {
    if (r.pattern.find('{') != std::string::npos) continue;
    EXPECT_EQ(Glob(r.pattern).matches(r.text), wildmatch(r.pattern, r.text, false))
        << "t3070 line " << r.line << ": Glob('" << r.pattern << "').matches('" << r.text << "')";
    EXPECT_EQ(Glob(r.pattern, true).matches(r.text), wildmatch(r.pattern, r.text, true))
        << "t3070 line " << r.line << ": Glob('" << r.pattern << "', ci).matches('" << r.text << "')";
  }
}

// The gitignore(5) forms of "**" that ignore files and -g globs rely on.
TEST(Wildmatch, DoubleStarForms) {
  EXPECT_TRUE(wildmatch("**/foo", "foo", false));
  EXPECT_TRUE(wildmatch("**/foo", "a/b/foo", false));
  EXPECT_FALSE(wildmatch("**/foo", "a/foox", false));
  EXPECT_TRUE(wildmatch("**/foo/bar", "x/foo/bar", false));
  EXPECT_TRUE(wildmatch("abc/**", "abc/x", false));
  EXPECT_TRUE(wildmatch("abc/**", "abc/x/y/z", false));
  EXPECT_FALSE(wildmatch("abc/**", "abc", false));
  EXPECT_FALSE(wildmatch("abc/**", "abcd/x", false));
  EXPECT_TRUE(wildmatch("a/**/b", "a/b", false));
  EXPECT_TRUE(wildmatch("a/**/b", "a/x/y/b", false));
  EXPECT_FALSE(wildmatch("a/**/b", "a/xb", false));
  EXPECT_TRUE(wildmatch("**", "a/b/c", false));
  EXPECT_TRUE(wildmatch("**/*.c", "main.c", false));
  EXPECT_TRUE(wildmatch("**/*.c", "src/x/main.c", false));
  EXPECT_FALSE(wildmatch("**/*.c", "src/main.h", false));
  // "*/" is exactly one directory, "**/" any number.
  EXPECT_TRUE(wildmatch("*/x.c", "src/x.c", false));
  EXPECT_FALSE(wildmatch("*/x.c", "x.c", false));
  EXPECT_FALSE(wildmatch("*/x.c", "a/b/x.c", false));
  EXPECT_TRUE(wildmatch("**/x.c", "a/b/x.c", false));
  EXPECT_TRUE(wildmatch("src/*/*.c", "src/a/b.c", false));
  EXPECT_FALSE(wildmatch("src/*/*.c", "src/a/b/c.c", false));
  EXPECT_TRUE(wildmatch("src/**/*.c", "src/b.c", false));
  EXPECT_TRUE(wildmatch("src/**/*.c", "src/a/b/c.c", false));
  // Not a whole component: "**" acts as "*".
  EXPECT_TRUE(wildmatch("a**b", "axxb", false));
  EXPECT_FALSE(wildmatch("a**b", "ax/xb", false));
}

TEST(Wildmatch, EscapesAndClasses) {
  EXPECT_TRUE(wildmatch("\\*.c", "*.c", false));
  EXPECT_FALSE(wildmatch("\\*.c", "a.c", false));
  EXPECT_TRUE(wildmatch("\\[x]", "[x]", false));
  EXPECT_TRUE(wildmatch("\\#hash", "#hash", false));
  EXPECT_TRUE(wildmatch("space\\ ", "space ", false));
  EXPECT_TRUE(wildmatch("*.[ch]", "x.h", false));
  EXPECT_FALSE(wildmatch("*.[ch]", "x.o", false));
  EXPECT_TRUE(wildmatch("*.[!ch]", "x.o", false));
  EXPECT_FALSE(wildmatch("*.[!ch]", "x.c", false));
  EXPECT_TRUE(wildmatch("*.[^ch]", "x.o", false));
  EXPECT_FALSE(wildmatch("[!a]", "/", false));  // a class never matches '/'
  EXPECT_TRUE(wildmatch("*.C", "x.c", true));
  EXPECT_TRUE(wildmatch("README*", "readme.md", true));
  EXPECT_FALSE(wildmatch("README*", "readme.md", false));
  // Non-ASCII bytes are matched as bytes.
  EXPECT_TRUE(wildmatch("\xC3\xBC*.txt", "\xC3\xBCn.txt", false));
  EXPECT_TRUE(wildmatch("*.txt", "\xC3\xBC\xC3\xA9.txt", false));
}

TEST(Braces, Expansion) {
  using V = std::vector<std::string>;
  auto sorted = [](V v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(expand_braces("*.c"), V{"*.c"});
  EXPECT_EQ(sorted(expand_braces("*.{c,h}")), (V{"*.c", "*.h"}));
  EXPECT_EQ(sorted(expand_braces("src/**/*.{c,h,cpp}")), (V{"src/**/*.c", "src/**/*.cpp", "src/**/*.h"}));
  EXPECT_EQ(sorted(expand_braces("{a,b}/{x,y}")), (V{"a/x", "a/y", "b/x", "b/y"}));
  EXPECT_EQ(sorted(expand_braces("{a,b{c,d}}")), (V{"a", "bc", "bd"}));
  EXPECT_EQ(sorted(expand_braces("x{,.bak}")), (V{"x", "x.bak"}));
  EXPECT_EQ(expand_braces("\\{a,b}"), V{"\\{a,b}"});  // escaped
  EXPECT_EQ(expand_braces("[{]a,b}"), V{"[{]a,b}"});  // inside a class
  EXPECT_EQ(expand_braces("{a,b"), V{"{a,b"});        // unbalanced: literal
}

TEST(Braces, GlobMatchesAnyAlternative) {
  const Glob g("src/**/*.{c,h}");
  EXPECT_TRUE(g.matches("src/a.c"));
  EXPECT_TRUE(g.matches("src/x/y/a.h"));
  EXPECT_FALSE(g.matches("src/a.cpp"));
  EXPECT_FALSE(g.matches("lib/a.c"));
  const Glob nested("{Makefile,*.{mk,mak}}");
  EXPECT_TRUE(nested.matches("Makefile"));
  EXPECT_TRUE(nested.matches("rules.mk"));
  EXPECT_TRUE(nested.matches("x.mak"));
  EXPECT_FALSE(nested.matches("x.make"));
  const Glob ci("*.{MD,Txt}", true);
  EXPECT_TRUE(ci.matches("notes.md"));
  EXPECT_TRUE(ci.matches("a.TXT"));
  EXPECT_EQ(g.pattern(), "src/**/*.{c,h}");
}

}  // namespace
}  // namespace icotes
