// icotes/utf8.hpp: the one UTF-8 repair (exec and terminal output, JSON
// strings), against Python's errors="replace" where it matters.
#include "icotes/utf8.hpp"
#include "icotes/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace icotes {
namespace {

const std::string R(kReplacementCharacter);

TEST(Utf8, RepairsEachMaximalSubpartToOneReplacement) {
  EXPECT_EQ(repair_utf8("a\xff"
                        "b\xc3"),
            "a" + R + "b" + R);
  EXPECT_EQ(repair_utf8("\xed\xa0\x80"), R + R + R);  // a surrogate: ED is no prefix of one
  EXPECT_EQ(repair_utf8("\xe2\x82"
                        "A"),
            R + "A");  // python3 -c 'print(b"\xe2\x82A".decode("utf-8", "replace"))'
  EXPECT_EQ(repair_utf8("\xf0\x9f\x98"
                        "x\xc0\xaf"),
            R + "x" + R + R);                                 // overlong: C0 never starts a sequence
  EXPECT_EQ(repair_utf8("\xf4\x90\x80\x80"), R + R + R + R);  // above U+10FFFF
  EXPECT_EQ(repair_utf8("h\xc3\xa9llo \xf0\x9d\x84\x9e"), "h\xc3\xa9llo \xf0\x9d\x84\x9e");
}

TEST(Utf8, StreamKeepsSplitCharacters) {
  std::string carry;
  EXPECT_EQ(repair_utf8("a\xe6\xbc", carry), "a");
  EXPECT_EQ(carry, "\xe6\xbc");
  EXPECT_EQ(repair_utf8("\xa2z", carry), "\xe6\xbc\xa2z");
  EXPECT_TRUE(carry.empty());
  EXPECT_EQ(repair_utf8("\xe2", carry), "");
  EXPECT_EQ(repair_utf8("\x82", carry), "");
  EXPECT_EQ(carry, "\xe2\x82");
  EXPECT_EQ(repair_utf8("A", carry), R + "A");
  EXPECT_TRUE(carry.empty());
}

TEST(Utf8, CompletePrefixStopsBeforeACutSequence) {
  EXPECT_EQ(utf8_complete_prefix("ab\xe2\x82"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xe2\x82\xac"), 5u);
  EXPECT_EQ(utf8_complete_prefix("ab\xff"), 3u);      // ill-formed, not cut
  EXPECT_EQ(utf8_complete_prefix("ab\xe2\x41"), 4u);  // E2 already ended by 'A'
  EXPECT_EQ(utf8_complete_prefix("\xf0\x9f\x98"), 0u);
  EXPECT_EQ(utf8_complete_prefix(""), 0u);
}

// A summary line: breaks and tabs as spaces; cut before the character that
// would cross the limit, never inside one.
TEST(Utf8, OneLineCutsAtACharacterBoundary) {
  EXPECT_EQ(one_line("a\nb\tc\r", 10), "a b c ");
  EXPECT_EQ(one_line("abcdef", 6), "abcdef");
  EXPECT_EQ(one_line("abcdef", 4), "abcd...");
  EXPECT_EQ(one_line("ab\xc3\xa9z", 3), "ab...");          // é would cross 3 bytes
  EXPECT_EQ(one_line("ab\xc3\xa9z", 4), "ab\xc3\xa9...");  // é ends at 4 bytes: kept
  EXPECT_EQ(one_line("\xf0\x9f\x98\x80", 2), "...");
}

}  // namespace
}  // namespace icotes
