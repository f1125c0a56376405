// The event-stream parser (WHATWG HTML 9.2.6), fed recorded streams whole,
// split at every byte boundary and one byte at a time: the same events
// must come out whatever the split.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "icotes/sse.hpp"

namespace icotes::sse {
namespace {

struct Seen {
  std::string type, data, id;
  bool operator==(const Seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{" << s.type << "|" << s.data << "|" << s.id << "}";
}

std::vector<Seen> parse_pieces(const std::vector<std::string_view>& pieces, Parser& p) {
  std::vector<Seen> out;
  for (const auto piece : pieces) {
    const Status s = p.feed(piece, [&](Event&& e) { out.push_back({e.type, e.data, e.id}); });
    EXPECT_TRUE(s.ok()) << s.error().message;
  }
  p.finish();
  return out;
}

std::vector<Seen> parse(std::string_view text) {
  Parser p;
  return parse_pieces({text}, p);
}

std::string with_line_ends(std::string_view lf_text, std::string_view eol) {
  std::string out;
  for (const char c : lf_text) {
    if (c == '\n') {
      out.append(eol);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Whole, at every split point, at pairs of split points and byte by byte.
void expect_splits(const std::string& text, const std::vector<Seen>& want) {
  {
    ASSERT_EQ(parse(text), want) << "whole";
    for (std::size_t i = 0; i <= text.size(); ++i) {
      Parser p;
      const std::string_view t(text);
      ASSERT_EQ(parse_pieces({t.substr(0, i), t.substr(i)}, p), want) << "split at " << i;
    }
    for (std::size_t i = 0; i <= text.size(); ++i) {
      for (std::size_t j = i; j <= text.size(); j += 3) {
        Parser p;
        const std::string_view t(text);
        ASSERT_EQ(parse_pieces({t.substr(0, i), t.substr(i, j - i), t.substr(j)}, p), want)
            << "split at " << i << " and " << j;
      }
    }
    Parser p;
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < text.size(); ++i) bytes.push_back(std::string_view(text).substr(i, 1));
    ASSERT_EQ(parse_pieces(bytes, p), want) << "byte by byte";
  }
}

// expect_splits with LF, CRLF and CR line ends.
void expect_same_at_every_split(std::string_view lf_text, const std::vector<Seen>& want) {
  for (const std::string_view eol : {"\n", "\r\n", "\r"}) {
    SCOPED_TRACE("line end of " + std::to_string(eol.size()) + " bytes, " + (eol[0] == '\r' ? "CR" : "LF") + " first");
    expect_splits(with_line_ends(lf_text, eol), want);
  }
}

TEST(ProvidersSse, SpecExampleTwoIdenticalEvents) {
  // "data:test" and "data: test" are the same field value.
  expect_same_at_every_split("data:test\n\ndata: test\n\n", {{"message", "test", ""}, {"message", "test", ""}});
}

TEST(ProvidersSse, EmptyDataAndNewlineDataLastIncompleteDiscarded) {
  // A bare "data" line is the field with an empty value; "data\ndata" is one
  // newline; the final "data:" has no blank line after it and never fires.
  expect_same_at_every_split("data\n\ndata\ndata\n\ndata:", {{"message", "", ""}, {"message", "\n", ""}});
}

TEST(ProvidersSse, CommentsIdsAndLeadingSpaces) {
  expect_same_at_every_split(
      ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
      {{"message", "first event", "1"}, {"message", "second event", ""}, {"message", " third event", ""}});
}

TEST(ProvidersSse, MultiLineDataAndEventTypes) {
  expect_same_at_every_split(
      "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: one\ndata: two\ndata:\n\n",
      {{"add", "73857293", ""}, {"remove", "2153", ""}, {"add", "one\ntwo\n", ""}});
}

TEST(ProvidersSse, IdCarriesOverAndNullIdIgnored) {
  std::string text = "id: 7\ndata: a\n\ndata: b\n\nid: x";
  text.push_back('\0');
  text += "y\ndata: c\n\nid\ndata: d\n\n";
  expect_same_at_every_split(
      text, {{"message", "a", "7"}, {"message", "b", "7"}, {"message", "c", "7"}, {"message", "d", ""}});
}

TEST(ProvidersSse, EventTypeResetAfterDispatchAndWithoutData) {
  // An event field with no data fires nothing, and its type does not leak
  // into the next event.
  expect_same_at_every_split("event: ping\n\ndata: x\n\nevent: a\nevent:\ndata: y\n\n",
                             {{"message", "x", ""}, {"message", "y", ""}});
}

TEST(ProvidersSse, UnknownFieldsAndNoColonLinesIgnored) {
  expect_same_at_every_split("foo: bar\ndata\nbaz\ndata: z\n\n", {{"message", "\nz", ""}});
}

TEST(ProvidersSse, ByteOrderMarkOnlyAtTheStart) {
  expect_same_at_every_split(
      "\xEF\xBB\xBF"
      "data: a\n\n\xEF\xBB\xBF"
      "data: b\n\n",
      {{"message", "a", ""}});
  // A prefix of the mark followed by something else is text, not a mark.
  expect_same_at_every_split(
      "\xEF\xBB"
      "data: a\n\ndata: b\n\n",
      {{"message", "b", ""}});
}

TEST(ProvidersSse, OpenAiStyleStream) {
  expect_same_at_every_split(
      ": OPENROUTER PROCESSING\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"total_tokens\":3}}\n\ndata: [DONE]\n\n",
      {{"message", "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", ""},
       {"message", "{\"choices\":[],\"usage\":{\"total_tokens\":3}}", ""},
       {"message", "[DONE]", ""}});
}

TEST(ProvidersSse, RetryDigitsOnly) {
  Parser p;
  auto noop = [](Event&&) {};
  ASSERT_TRUE(p.feed("retry: 1500\n\n", noop).ok());
  EXPECT_EQ(p.retry_ms(), 1500u);
  ASSERT_TRUE(p.feed("retry: 15x\nretry:\nretry: -1\n\n", noop).ok());
  EXPECT_EQ(p.retry_ms(), 1500u);
  ASSERT_TRUE(p.feed("retry: 99999999999999999999999\n\n", noop).ok());
  EXPECT_EQ(p.retry_ms(), std::numeric_limits<std::uint64_t>::max());
}

TEST(ProvidersSse, MixedLineEndsInOneStream) {
  expect_splits("data: a\r\n\rdata: b\r\rdata: c\n\r\n",
                {{"message", "a", ""}, {"message", "b", ""}, {"message", "c", ""}});
}

TEST(ProvidersSse, LimitsBoundLinesAndEvents) {
  Parser p(Limits{16, 32});
  auto noop = [](Event&&) {};
  const Status s = p.feed(std::string(17, 'x'), noop);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, error_code::kFrameTooLarge);
  Parser q(Limits{64, 8});
  EXPECT_TRUE(q.feed("data: 1234\n", noop).ok());
  EXPECT_FALSE(q.feed("data: 5678\n", noop).ok());
}

}  // namespace
}  // namespace icotes::sse
