#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "icotes/framing.hpp"

namespace icotes {
namespace {

struct Collector {
  std::vector<std::string> messages;
  std::vector<FrameError> errors;

  void feed(FrameReader& r, std::string_view data) {
    r.feed(
        data, [this](std::string&& body) { messages.push_back(std::move(body)); },
        [this](const FrameError& e) { errors.push_back(e); });
  }
};

std::string lsp(std::string_view body) {
  return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST(FrameReader, StartsUnknown) {
  FrameReader r;
  EXPECT_EQ(r.framing(), Framing::Unknown);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(FrameReader, DetectsContentLength) {
  FrameReader r;
  Collector c;
  c.feed(r, lsp(R"({"jsonrpc":"2.0","id":1,"method":"a"})"));
  EXPECT_EQ(r.framing(), Framing::ContentLength);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], R"({"jsonrpc":"2.0","id":1,"method":"a"})");
  EXPECT_TRUE(c.errors.empty());
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(FrameReader, DetectsNewlineDelimitedObjectAndArray) {
  {
    FrameReader r;
    Collector c;
    c.feed(r, "{\"a\":1}\n");
    EXPECT_EQ(r.framing(), Framing::NewlineDelimited);
    ASSERT_EQ(c.messages.size(), 1u);
    EXPECT_EQ(c.messages[0], "{\"a\":1}");
  }
  {
    FrameReader r;
    Collector c;
    c.feed(r, "[{\"a\":1}]\r\n");
    EXPECT_EQ(r.framing(), Framing::NewlineDelimited);
    ASSERT_EQ(c.messages.size(), 1u);
    EXPECT_EQ(c.messages[0], "[{\"a\":1}]");  // the '\r' is dropped too
  }
}

TEST(FrameReader, LeadingWhitespaceIsSkippedBeforeDetection) {
  {
    FrameReader r;
    Collector c;
    c.feed(r, " \r\n\t\n");
    EXPECT_EQ(r.framing(), Framing::Unknown);
    EXPECT_EQ(r.buffered(), 0u);
    c.feed(r, "  " + lsp("{}"));
    EXPECT_EQ(r.framing(), Framing::ContentLength);
    ASSERT_EQ(c.messages.size(), 1u);
    EXPECT_EQ(c.messages[0], "{}");
  }
  {
    FrameReader r;
    Collector c;
    c.feed(r, "\n\n   {\"x\":true}\n");
    EXPECT_EQ(r.framing(), Framing::NewlineDelimited);
    ASSERT_EQ(c.messages.size(), 1u);
    EXPECT_EQ(c.messages[0], "{\"x\":true}");
  }
}

TEST(FrameReader, LowercaseHeaderName) {
  FrameReader r;
  Collector c;
  c.feed(r, "content-length: 2\r\n\r\n{}");
  EXPECT_EQ(r.framing(), Framing::ContentLength);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "{}");
}

TEST(FrameReader, ExtraHeadersAreIgnored) {
  FrameReader r;
  Collector c;
  c.feed(r, "Content-Length: 3\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n[1]");
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "[1]");
  c.feed(r, "Content-Type: x\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[1], "{}");
}

TEST(FrameReader, LspSplitByteByByte) {
  const std::string a = R"({"jsonrpc":"2.0","id":1,"method":"ä✓𝄞"})";
  const std::string b = R"({"jsonrpc":"2.0","method":"n"})";
  const std::string stream = lsp(a) + lsp(b);
  FrameReader r;
  Collector c;
  for (char ch : stream) c.feed(r, std::string_view(&ch, 1));
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0], a);
  EXPECT_EQ(c.messages[1], b);
  EXPECT_TRUE(c.errors.empty());
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(FrameReader, NdjsonSplitByteByByte) {
  const std::string stream = "{\"id\":1}\n{\"id\":2}\r\n\n[3]\n";
  FrameReader r;
  Collector c;
  for (char ch : stream) c.feed(r, std::string_view(&ch, 1));
  ASSERT_EQ(c.messages.size(), 3u);
  EXPECT_EQ(c.messages[0], "{\"id\":1}");
  EXPECT_EQ(c.messages[1], "{\"id\":2}");
  EXPECT_EQ(c.messages[2], "[3]");
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(FrameReader, SeveralLspMessagesInOneFeed) {
  std::string stream;
  for (int i = 0; i < 5; ++i) stream += lsp("{\"id\":" + std::to_string(i) + "}");
  stream += "Content-Length: 9\r\n\r\n{\"id\"";  // incomplete sixth message
  FrameReader r;
  Collector c;
  c.feed(r, stream);
  ASSERT_EQ(c.messages.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c.messages[static_cast<std::size_t>(i)], "{\"id\":" + std::to_string(i) + "}");
  EXPECT_EQ(r.buffered(), 5u);  // the body bytes received so far
  c.feed(r, ":99}");
  ASSERT_EQ(c.messages.size(), 6u);
  EXPECT_EQ(c.messages[5], "{\"id\":99}");
}

TEST(FrameReader, SeveralLinesInOneFeed) {
  FrameReader r;
  Collector c;
  c.feed(r, "{\"a\":1}\n{\"b\":2}\n{\"c\":");
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(r.buffered(), 5u);
  c.feed(r, "3}\n");
  ASSERT_EQ(c.messages.size(), 3u);
  EXPECT_EQ(c.messages[2], "{\"c\":3}");
}

TEST(FrameReader, BareNewlineHeaders) {
  FrameReader r;
  Collector c;
  c.feed(r, "Content-Length: 2\n\n{}Content-Length: 3\n\n[1]");
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0], "{}");
  EXPECT_EQ(c.messages[1], "[1]");
  EXPECT_TRUE(c.errors.empty());
}

TEST(FrameReader, BodyContainingCrlfIsTakenByLength) {
  const std::string body = "{\"text\":\"a\\r\\n\",\"raw\":1}\r\n\r\n";
  FrameReader r;
  Collector c;
  c.feed(r, lsp(body) + lsp("{}"));
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0], body);
  EXPECT_EQ(c.messages[1], "{}");
}

TEST(FrameReader, MissingContentLengthIsBadHeaderAndStreamContinues) {
  FrameReader r;
  Collector c;
  c.feed(r, "Content-Type: application/json\r\n\r\n");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::BadHeader);
  EXPECT_TRUE(c.messages.empty());
  c.feed(r, lsp("{\"ok\":1}"));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "{\"ok\":1}");
}

TEST(FrameReader, NonNumericContentLengthIsBadHeader) {
  FrameReader r;
  Collector c;
  c.feed(r, "Content-Length: 12abc\r\n\r\n");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::BadHeader);
  c.feed(r, "Content-Length: -1\r\n\r\n");
  ASSERT_EQ(c.errors.size(), 2u);
  EXPECT_EQ(c.errors[1].kind, FrameError::Kind::BadHeader);
  c.feed(r, lsp("[]"));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "[]");
}

TEST(FrameReader, HeaderBlockWithoutEndIsRefusedWithoutUnboundedBuffering) {
  FrameReader r(1024 * 1024);
  Collector c;
  c.feed(r, "Content-Length: 5\r\nX-Junk: ");
  const std::string junk(4096, 'j');
  for (int i = 0; i < 40; ++i) {
    c.feed(r, junk);
    ASSERT_LE(r.buffered(), 64u * 1024u + junk.size());
  }
  ASSERT_FALSE(c.errors.empty());
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::BadHeader);
}

TEST(FrameReader, OversizedLspFrameRefusedWithoutBuffering) {
  constexpr std::size_t kMax = 1000;
  FrameReader r(kMax);
  Collector c;
  const std::size_t body_size = 200000;
  std::string head = "Content-Length: " + std::to_string(body_size) + "\r\n\r\n";
  std::string body = R"({"jsonrpc":"2.0","id":42,"method":"big","params":{"x":")";
  body.append(body_size - body.size() - 3, 'x');
  body += "\"}}";
  ASSERT_EQ(body.size(), body_size);
  c.feed(r, head);
  std::size_t max_seen = 0;
  for (std::size_t i = 0; i < body.size(); i += 997) {
    c.feed(r, std::string_view(body).substr(i, 997));
    max_seen = std::max(max_seen, r.buffered());
  }
  EXPECT_LE(max_seen, 997u);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::TooLarge);
  EXPECT_TRUE(c.messages.empty());
  // In sync: the next message is delivered whole.
  c.feed(r, lsp(R"({"jsonrpc":"2.0","id":43,"method":"small"})"));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], R"({"jsonrpc":"2.0","id":43,"method":"small"})");
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(FrameReader, OversizedLspFrameSniffsIdWhenBodyStartArrivesWithHeader) {
  FrameReader r(100);
  Collector c;
  std::string body = R"({"jsonrpc":"2.0","id":"req-7","method":"m","params":")" + std::string(500, 'a') + "\"}";
  c.feed(r, lsp(body) + lsp("{}"));
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::TooLarge);
  EXPECT_EQ(c.errors[0].id, "req-7");
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "{}");
}

TEST(FrameReader, FrameExactlyAtLimitIsAccepted) {
  FrameReader r(10);
  Collector c;
  c.feed(r, lsp("[1,2,3,45]"));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_TRUE(c.errors.empty());
}

TEST(FrameReader, OversizedLineRefusedWithoutBuffering) {
  constexpr std::size_t kMax = 1000;
  FrameReader r(kMax);
  Collector c;
  c.feed(r, "{\"ok\":0}\n");
  ASSERT_EQ(c.messages.size(), 1u);
  std::string line = R"({"jsonrpc":"2.0","id":9,"method":"big","params":[")";
  line.append(300000, 'y');
  line += "\"]}";
  std::size_t max_seen = 0;
  for (std::size_t i = 0; i < line.size(); i += 1021) {
    c.feed(r, std::string_view(line).substr(i, 1021));
    max_seen = std::max(max_seen, r.buffered());
  }
  EXPECT_LE(max_seen, kMax + 1021);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::TooLarge);
  EXPECT_EQ(c.errors[0].id, 9);
  // The rest of the line, then the next message in the same feed.
  c.feed(r, "tail of the huge line\n{\"ok\":1}\n");
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[1], "{\"ok\":1}");
  EXPECT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(FrameReader, OversizedLineInOneFeedIsRefusedAndNextDelivered) {
  FrameReader r(50);
  Collector c;
  c.feed(r, "{\"id\":3,\"p\":\"" + std::string(100, 'z') + "\"}\n{\"ok\":2}\n");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::TooLarge);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "{\"ok\":2}");
}

TEST(FrameMessage, FramesBothWays) {
  EXPECT_EQ(frame_message(Framing::ContentLength, "{}"), "Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(frame_message(Framing::NewlineDelimited, "{}"), "{}\n");
  EXPECT_EQ(frame_message(Framing::Unknown, "[]"), "[]\n");
  // Content-Length counts bytes, not characters.
  EXPECT_EQ(frame_message(Framing::ContentLength, "\"é\""), "Content-Length: 4\r\n\r\n\"é\"");
}

TEST(SniffRequestId, FindsNumbersAndStrings) {
  EXPECT_EQ(sniff_request_id(R"({"jsonrpc":"2.0","id":17,"method":)"), 17);
  EXPECT_EQ(sniff_request_id(R"({"id" : "abc", "method": "x", broken)"), "abc");
  EXPECT_EQ(sniff_request_id(R"({"id":-5,)"), -5);
  EXPECT_EQ(sniff_request_id(R"({"method":"x","params":{},"id":8 garbage)"), 8);
  EXPECT_EQ(sniff_request_id(R"({"id":9})"), 9);
  // Escapes are decoded, and an escaped quote does not end the string.
  EXPECT_EQ(sniff_request_id(R"({"id":"a\"b\u00e9", broken)"), "a\"b\u00e9");
}

TEST(SniffRequestId, OnlyTheTopLevelObjectsIdCounts) {
  // An "id" inside params is another thing's id.
  EXPECT_TRUE(sniff_request_id(R"({"jsonrpc":"2.0","params":{"id":5},"method":)").is_null());
  EXPECT_EQ(sniff_request_id(R"({"params":{"id":5,"x":[{"id":6}]},"id":7,"method":)"), 7);
  // Braces and the word id inside strings do not count.
  EXPECT_EQ(sniff_request_id(R"({"method":"a{[\"id\":1","id":3,)"), 3);
  EXPECT_EQ(sniff_request_id(R"({"method":"id","id":4,)"), 4);
  // A batch that cannot be parsed is answered with id null (JSON-RPC 2.0 section 6).
  EXPECT_TRUE(sniff_request_id(R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"id":2,)").is_null());
  EXPECT_TRUE(sniff_request_id(R"(  "id":1)").is_null());
}

TEST(SniffRequestId, NumbersAreReadWholeOrNotAtAll) {
  // Read as 1 before: a reply would have answered a request nobody sent.
  EXPECT_TRUE(sniff_request_id(R"({"id":1e99999999,"method":)").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":1.5,)").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":99999999999999999999,)").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":12x)").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":"bad \q escape", )").is_null());
}

TEST(SniffRequestId, NullWhenAbsentOrUnreadable) {
  EXPECT_TRUE(sniff_request_id("").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"method":"x"})").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":)").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":"unterminated)").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":null})").is_null());
  EXPECT_TRUE(sniff_request_id(R"({"id":{"x":1}})").is_null());
  // A key that merely contains "id" is not the id.
  EXPECT_TRUE(sniff_request_id(R"({"idx":4})").is_null());
}

TEST(FrameReader, RandomSplitsDeliverTheSameMessages) {
  std::vector<std::string> bodies;
  std::string stream;
  for (int i = 0; i < 50; ++i) {
    bodies.push_back("{\"id\":" + std::to_string(i) + ",\"pad\":\"" +
                     std::string(static_cast<std::size_t>(i * 7 % 31), 'p') + "\"}");
    stream += lsp(bodies.back());
  }
  unsigned seed = 12345;
  for (int round = 0; round < 20; ++round) {
    FrameReader r;
    Collector c;
    std::size_t i = 0;
    while (i < stream.size()) {
      seed = seed * 1103515245u + 12345u;
      const std::size_t n = 1 + (seed >> 16) % 64;
      c.feed(r, std::string_view(stream).substr(i, n));
      i += n;
    }
    ASSERT_EQ(c.messages, bodies) << "round " << round;
  }
}

// What the launcher sees of each message (EnvelopeScanner), whatever the
// chunking: every split of the stream must give the same envelopes.
std::vector<Envelope> scan(const std::string& stream, std::size_t step, EnvelopeScanner* out = nullptr) {
  EnvelopeScanner local;
  EnvelopeScanner& s = out ? *out : local;
  std::vector<Envelope> seen;
  for (std::size_t i = 0; i < stream.size(); i += step)
    s.feed(std::string_view(stream).substr(i, step), [&](const Envelope& e) { seen.push_back(e); });
  return seen;
}

TEST(EnvelopeScanner, ReadsKindIdAndMethodInAnyMemberOrderAndChunking) {
  const std::string big(200000, 'x');
  const std::string stream =
      // The MCP SDK writes the id last, after params of any size.
      "{\"method\":\"tools/call\",\"params\":{\"name\":\"write_file\",\"arguments\":{\"content\":\"" + big +
      "\\\"}\\\\\"}},\"jsonrpc\":\"2.0\",\"id\":41}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"result\":{\"id\":99,\"method\":\"inner\"}}\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":41}}\n"
      "  \n"
      "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"method\":\"b\"},"
      "{\"jsonrpc\":\"2.0\",\"id\":[1],\"error\":{}}]\n";
  for (std::size_t step : {1u, 3u, 7u, 4096u, 1000000u}) {
    EnvelopeScanner s;
    const auto e = scan(stream, step, &s);
    ASSERT_EQ(e.size(), 6u) << "step " << step;
    EXPECT_TRUE(e[0].is_request());
    EXPECT_EQ(e[0].method, "tools/call");
    EXPECT_EQ(e[0].id, 41);
    EXPECT_TRUE(e[0].params.is_null());  // longer than kEnvelopeValueBytes
    EXPECT_TRUE(e[1].is_response());
    EXPECT_EQ(e[1].id, "a\"b");
    EXPECT_TRUE(e[1].method.empty());  // "method" inside result is not the message's
    EXPECT_FALSE(e[2].has_id);
    EXPECT_EQ(e[2].method, "notifications/cancelled");
    EXPECT_EQ(e[2].params, (json{{"requestId", 41}}));
    EXPECT_TRUE(e[3].is_request());
    EXPECT_EQ(e[3].id, 1);
    EXPECT_EQ(e[4].method, "b");
    EXPECT_FALSE(e[4].has_id);
    EXPECT_TRUE(e[5].is_response());
    EXPECT_TRUE(e[5].id.is_null());  // not a valid request id: answered with id null
    EXPECT_EQ(s.framing(), Framing::NewlineDelimited);
    EXPECT_TRUE(s.frame_filler().empty());
  }
}

TEST(EnvelopeScanner, ContentLengthFramesAndFillerForAPartialFrame) {
  const std::string one = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"done\"}";
  const std::string two = "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":\"" + std::string(100, 'y') + "\"}";
  const std::string stream = lsp(one) + lsp(two);
  for (std::size_t step : {1u, 5u, 64u, 100000u}) {
    EnvelopeScanner s;
    const auto e = scan(stream, step, &s);
    ASSERT_EQ(e.size(), 2u) << "step " << step;
    EXPECT_EQ(e[0].id, 7);
    EXPECT_EQ(e[1].id, 8);
    EXPECT_EQ(s.framing(), Framing::ContentLength);
    EXPECT_TRUE(s.frame_filler().empty());
  }
  // Cut in the middle of the second body: the filler is its missing bytes,
  // after which a new frame is read whole.
  EnvelopeScanner s;
  const std::string cut = stream.substr(0, stream.size() - 30);
  EXPECT_EQ(scan(cut, 9, &s).size(), 1u);
  EXPECT_EQ(s.frame_filler(), (FrameFiller{"", 30}));
  const std::string after = std::string(30, ' ') + lsp("{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{}}");
  std::vector<Envelope> more;
  s.feed(after, [&](const Envelope& e) { more.push_back(e); });
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].id, 9);
  // A partial line is ended by a newline.
  EnvelopeScanner line;
  scan("{\"jsonrpc\":\"2.0\",\"id\":1,\"res", 4, &line);
  EXPECT_EQ(line.frame_filler(), (FrameFiller{"\n", 0}));
}

// A header may declare any length: the filler counts the missing bytes
// rather than holding them (the fuzzer found 99999999999 allocated whole).
TEST(EnvelopeScanner, AHugeDeclaredLengthIsCountedNotAllocated) {
  EnvelopeScanner s;
  s.feed("Content-Type: x\r\n\r\nContent-Length: 99999999999\n\n{\"id\":5}", [](const Envelope&) {});
  EXPECT_EQ(s.frame_filler(), (FrameFiller{"", 99999999999ull - 8}));
}

TEST(EnvelopeScanner, BackslashRunsBeforeQuotesAcrossChunks) {
  // "a\\" ends the string (an escaped backslash); "\"" does not.
  const std::string stream = "{\"x\":\"a\\\\\",\"id\":3,\"y\":\"q\\\"\\\\\\\"}\",\"method\":\"m\"}\n";
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    const auto e = scan(stream, step);
    ASSERT_EQ(e.size(), 1u) << "step " << step;
    EXPECT_EQ(e[0].id, 3) << "step " << step;
    EXPECT_EQ(e[0].method, "m") << "step " << step;
  }
}

TEST(EnvelopeScanner, GarbageReportsNothingAndTheNextFrameIsRead) {
  const std::string stream = "not json at all }}]]\n{\"id\":\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"m\"}\n";
  const auto e = scan(stream, 5);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].id, 2);
}

// A TCP connection reads its first message under a limit of a few KiB.
TEST(FrameReader, TheLimitCanChangeAndBoundsTheHeaderBlock) {
  FrameReader r(100);
  Collector c;
  c.feed(r, "Content-Length: 5\r\nX-Pad: " + std::string(200, 'p'));
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::BadHeader);
  EXPECT_EQ(r.buffered(), 0u);
  r.set_max_frame_bytes(1000);
  c.feed(r, lsp(std::string(500, ' ') + "{}"));
  EXPECT_EQ(c.messages.size(), 1u);
}

}  // namespace
}  // namespace icotes
