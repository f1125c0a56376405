// raw_json_source(): JSON text produced while a reply is written (search
// pages). Checks the text where it is materialised, the splice where it is
// not, and whole frames through both transports: exact Content-Length, valid
// JSON, nothing else written in between, and a peer that has gone.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "icotes/rpc.hpp"
#include "icotes/stdio.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

// ["item-0","item-1",...] written one short piece at a time.
class Items final : public RawJsonSource {
 public:
  explicit Items(std::size_t n) : n_(n) {}
  std::size_t size() const override { return text().size(); }
  void write(const std::function<void(std::string_view)>& sink) const override {
    sink("[");
    for (std::size_t i = 0; i < n_; ++i) {
      if (i) sink(",");
      const std::string item = "\"item-" + std::to_string(i) + "\"";
      sink(item);  // valid only during the call, as the contract allows
    }
    sink("]");
  }
  std::string text() const {
    std::string s = "[";
    for (std::size_t i = 0; i < n_; ++i) s += (i ? ",\"item-" : "\"item-") + std::to_string(i) + "\"";
    return s + "]";
  }

 private:
  std::size_t n_;
};

TEST(RawJsonSource, MaterialisedByWriteJson) {
  Items items(3);
  json v = {{"a", 1}, {"list", raw_json_source(&items)}};
  EXPECT_EQ(to_json_string(v), R"({"a":1,"list":["item-0","item-1","item-2"]})");
}

TEST(RawJsonSource, RecordedAsASpliceWhenSplicing) {
  Items items(2);
  json v = {{"a", 1}, {"list", raw_json_source(&items)}, {"z", raw_json("[1]")}};
  std::string out;
  std::vector<RawSplice> splices;
  write_json(out, v, splices);
  ASSERT_EQ(splices.size(), 2u);
  EXPECT_EQ(splices[0].source, &items);
  EXPECT_EQ(out.substr(0, splices[0].offset), R"({"a":1,"list":)");
  EXPECT_EQ(splices[1].source, nullptr);
  EXPECT_EQ(splices[1].text, "[1]");
}

// Answers every request with a result holding a 200,000-item source.
class SourceHandler final : public MessageHandler {
 public:
  Items items{200000};
  void on_request(Request request) override {
    request.reply(json{{"items", raw_json_source(&items)}, {"total", 200000}});
  }
  void on_notification(const std::string&, const json&) override {}
  void on_close() override {}
};

TEST(RawJsonSource, NewlineFramedReplyThroughTheDefaultTransport) {
  auto transport = std::make_shared<test::CaptureTransport>();
  auto conn = std::make_shared<Connection>(transport, kDefaultMaxFrameBytes);
  SourceHandler handler;
  conn->set_handler(&handler);
  conn->on_bytes(R"({"jsonrpc":"2.0","id":1,"method":"m"})"
                 "\n");
  auto frames = transport->frames();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0].back(), '\n');
  json reply = json::parse(frames[0]);
  EXPECT_EQ(reply["result"]["items"].size(), 200000u);
  EXPECT_EQ(reply["result"]["items"][199999], "item-199999");
}

// Everything written to `fd` until the writer closes it.
std::string read_all(int fd) {
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

TEST(RawJsonSource, ContentLengthFrameIsExactThroughAPipe) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  auto transport = std::make_shared<FdTransport>(-1, out[1]);
  auto conn = std::make_shared<Connection>(transport, kDefaultMaxFrameBytes);
  SourceHandler handler;
  conn->set_handler(&handler);
  std::string data;
  std::thread reader([&] { data = read_all(out[0]); });
  const std::string body = R"({"jsonrpc":"2.0","id":7,"method":"m"})";
  conn->on_bytes("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  // A second message right behind it must not land inside the first frame.
  conn->notify("after", json::object());
  ::close(out[1]);
  reader.join();
  ::close(out[0]);
  const std::size_t header_end = data.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  const std::size_t length = std::stoul(data.substr(data.find(':') + 1));
  const std::string first = data.substr(header_end + 4, length);
  json reply = json::parse(first, nullptr, false);
  ASSERT_FALSE(reply.is_discarded()) << "the frame's Content-Length does not end where its JSON does";
  EXPECT_EQ(reply["id"], 7);
  EXPECT_EQ(reply["result"]["items"].size(), 200000u);
  EXPECT_EQ(reply["result"]["items"].dump(), handler.items.text());
  // What follows is the next frame, whole.
  const std::string rest = data.substr(header_end + 4 + length);
  ASSERT_EQ(rest.rfind("Content-Length:", 0), 0u) << rest.substr(0, 80);
  const std::size_t next_end = rest.find("\r\n\r\n");
  EXPECT_EQ(json::parse(rest.substr(next_end + 4))["method"], "after");
}

TEST(RawJsonSource, PeerGoneClosesTheConnection) {
  ::signal(SIGPIPE, SIG_IGN);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  ::close(out[0]);  // nobody reads
  auto transport = std::make_shared<FdTransport>(-1, out[1]);
  auto conn = std::make_shared<Connection>(transport, kDefaultMaxFrameBytes);
  SourceHandler handler;
  conn->set_handler(&handler);
  conn->on_bytes(R"({"jsonrpc":"2.0","id":1,"method":"m"})"
                 "\n");
  EXPECT_TRUE(conn->closed());
  ::close(out[1]);
}

}  // namespace
}  // namespace icotes
