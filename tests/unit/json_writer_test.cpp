#include <gtest/gtest.h>

#include "icotes/json.hpp"

namespace icotes {
namespace {

TEST(JsonWriter, MatchesNlohmannOnPlainAndEscapedText) {
  const json v = {{"a", "plain text that is long enough to use the word path"},
                  {"b", "quote \" backslash \\ newline \n tab \t bell \x07 nul-free"},
                  {"c", {1, 2.5, -3, true, false, nullptr}},
                  {"d", "unicode: héllo ✓ 𝄞"}};
  EXPECT_EQ(to_json_string(v), v.dump());
}

TEST(JsonWriter, ReplacesMalformedUtf8) {
  std::string out;
  append_json_string(out, std::string("a\xff"
                                      "b\xc3",
                                      4));
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\"");
  EXPECT_TRUE(json::parse(out).is_string());
}

// The writer repairs strings as nlohmann's dump(error_handler_t::replace)
// does (one U+FFFD per maximal subpart), which the comment in json.hpp has
// always promised; it replaced each byte of a cut sequence.
TEST(JsonWriter, RepairsUtf8AsNlohmannReplaceDoes) {
  const std::string cases[] = {
      "\xE2\x82"
      "A",
      "\xF0\x9F\x98"
      "x",
      "\xED\xA0\x80",
      "\xC0\xAF",
      "\xF4\x90\x80\x80",
      "a\xE2\x82",
      "\xF0\x9F\x98\x80\xE2\x82\xE2\x82\xAC\xFF"};
  for (const std::string& s : cases) {
    std::string out;
    append_json_string(out, s);
    EXPECT_EQ(out, json(s).dump(-1, ' ', false, json::error_handler_t::replace))
        << json(s).dump(-1, ' ', true, json::error_handler_t::replace);
  }
}

TEST(JsonWriter, RoundTripsEveryByteValue) {
  std::string s;
  for (int c = 1; c < 0x80; ++c) s.push_back(static_cast<char>(c));
  const json parsed = json::parse(to_json_string(json(s)));
  EXPECT_EQ(parsed.get<std::string>(), s);
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii only, longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo \xF0\x9D\x84\x9E"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));             // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));         // surrogate
  EXPECT_FALSE(is_valid_utf8("abc\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));             // truncated
}

}  // namespace
}  // namespace icotes
