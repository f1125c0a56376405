#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "icotes/client_hello.hpp"
#include "icotes/session.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

// The executable's answer (src/cli/serve.cpp).
std::optional<json> mcp_initialize(const json& params) { return mcp_initialize_result(params, ""); }

TEST(ResponseDropper, DropsOnlyTheFirstResponseWithTheIdAcrossChunks) {
  const std::string stream =
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"roots/list\"}\n"  // a request with the id: kept
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2025-06-18\"}}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"again\":true}}\n";  // a second one: kept
  for (std::size_t step : {1u, 7u, 64u, 4096u}) {
    ResponseDropper d(json(0));
    std::string out;
    for (std::size_t i = 0; i < stream.size(); i += step) out += d.filter(std::string_view(stream).substr(i, step));
    EXPECT_EQ(out.find("2025-06-18"), std::string::npos) << "step " << step;
    EXPECT_NE(out.find("notifications/message"), std::string::npos);
    EXPECT_NE(out.find("roots/list"), std::string::npos);
    EXPECT_NE(out.find("\"id\":1"), std::string::npos);
    EXPECT_NE(out.find("again"), std::string::npos);
    EXPECT_TRUE(d.done());
    // Once done, bytes pass unchanged (a partial frame included).
    EXPECT_EQ(d.filter("{\"partial"), "{\"partial");
  }
}

TEST(ResponseDropper, KeepsContentLengthFraming) {
  const std::string body = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":null}";
  const std::string other = "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"result\":null}";
  ResponseDropper d(json("a"));
  const std::string out =
      d.filter(frame_message(Framing::ContentLength, body) + frame_message(Framing::ContentLength, other));
  EXPECT_EQ(out, frame_message(Framing::ContentLength, other));
  EXPECT_TRUE(is_response_to(frame_message(Framing::ContentLength, body), json("a")));
  EXPECT_FALSE(is_response_to(frame_message(Framing::ContentLength, body), json("b")));
  EXPECT_FALSE(is_response_to("{\"id\":\"a\",\"method\":\"x\"}\n", json("a")));
}

// The MCP handshake over two pipes, the client's side played by hand.
TEST(ClientHello, McpClientWithRootsIsAnsweredAskedAndReplayed) {
  test::TempDir root;
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  const std::string init =
      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\","
      "\"capabilities\":{\"roots\":{}},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n";
  const std::string initialized = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
  const std::string early = "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}\n";
  std::thread client([&] {
    ASSERT_EQ(::write(in[1], init.data(), init.size()), static_cast<ssize_t>(init.size()));
    std::string seen;
    char buf[4096];
    // The answer to initialize, then roots/list (after `initialized`).
    while (seen.find("\"method\":\"roots/list\"") == std::string::npos) {
      if (seen.find("\"id\":7") != std::string::npos && seen.find("initialized-sent") == std::string::npos) {
        seen += "initialized-sent";
        const std::string both = initialized + early;
        ASSERT_EQ(::write(in[1], both.data(), both.size()), static_cast<ssize_t>(both.size()));
      }
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      ASSERT_GT(n, 0);
      seen.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_NE(seen.find("\"protocolVersion\":\"2025-03-26\""), std::string::npos);
    const std::string answer =
        "{\"jsonrpc\":\"2.0\",\"id\":\"icotes/roots\",\"result\":{\"roots\":[{\"uri\":\"file://" + root.path() +
        "\"}]}}\n{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"pi";
    ASSERT_EQ(::write(in[1], answer.data(), answer.size()), static_cast<ssize_t>(answer.size()));
  });
  const ClientHello hello = read_client_hello(in[0], out[1], 1 << 20, 10000, mcp_initialize);
  client.join();
  ASSERT_TRUE(hello.root.has_value());
  EXPECT_EQ(*hello.root, root.path());
  EXPECT_EQ(hello.drop_response_id, json(7));
  // The server gets initialize, initialized, the early request and the
  // partial frame that followed; not the roots answer.
  EXPECT_EQ(hello.bytes, init + initialized + early + "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"pi");
  for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
}

TEST(ClientHello, LspInitializeNamesItsRootAndIsLeftAsRead) {
  test::TempDir root;
  int in[2];
  ASSERT_EQ(::pipe(in), 0);
  const std::string body =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"processId\":null,"
      "\"rootUri\":\"file://" +
      root.path() + "\",\"capabilities\":{}}}";
  const std::string framed = frame_message(Framing::ContentLength, body);
  ASSERT_EQ(::write(in[1], framed.data(), framed.size()), static_cast<ssize_t>(framed.size()));
  const ClientHello hello = read_client_hello(in[0], -1, 1 << 20, 100, mcp_initialize);
  EXPECT_EQ(hello.root, root.path());
  EXPECT_TRUE(hello.drop_response_id.is_null());
  EXPECT_EQ(hello.bytes, framed);
  ::close(in[0]);
  ::close(in[1]);
}

// The first message is looked at before any server exists: nested 100,000
// deep, it overflowed the stack when its params were copied. Refused while
// parsing (json_parse.hpp): no root, and the bytes go on to the server,
// which answers -32700.
TEST(ClientHello, DeeplyNestedFirstMessageNamesNoRoot) {
  const std::string deep(100000, '[');
  const std::string body =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
      "\"2025-06-18\",\"capabilities\":{\"roots\":{}},\"rootUri\":\"file:///\",\"x\":" +
      deep + std::string(100000, ']') + "}}\n";
  int in[2];
  ASSERT_EQ(::pipe(in), 0);
  std::thread client([&] {
    ASSERT_EQ(::write(in[1], body.data(), body.size()), static_cast<ssize_t>(body.size()));
    ::close(in[1]);
  });
  const ClientHello hello = read_client_hello(in[0], -1, 1 << 20, 100, mcp_initialize);
  client.join();
  EXPECT_FALSE(hello.root.has_value());
  EXPECT_TRUE(hello.drop_response_id.is_null());
  EXPECT_EQ(hello.bytes, body);
  ::close(in[0]);
}

TEST(ClientHello, McpClientThatNeverSendsInitializedFallsBackInTime) {
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  const std::string init =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
      "\"capabilities\":{\"roots\":{}},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n";
  ASSERT_EQ(::write(in[1], init.data(), init.size()), static_cast<ssize_t>(init.size()));
  const ClientHello hello = read_client_hello(in[0], out[1], 1 << 20, 200, mcp_initialize);
  EXPECT_FALSE(hello.root.has_value());
  EXPECT_EQ(hello.drop_response_id, json(1));  // it was answered: the server's answer must still go
  EXPECT_EQ(hello.bytes, init);
  for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
}

}  // namespace
}  // namespace icotes
