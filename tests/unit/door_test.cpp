// The doors serve whatever handler their factory makes (door.hpp): here a
// fake that is neither a Session nor on a Workspace.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "icotes/door.hpp"
#include "icotes/http.hpp"
#include "icotes/json_parse.hpp"
#include "icotes/tcp.hpp"
#include "test_util.hpp"

namespace icotes {
namespace {

// Answers `echo` with its params, `transport` (and `initialize`) with what
// the door told the factory; the notification `exit` ends its connection
// with code 3.
class FakeHandler final : public ConnectionHandler {
 public:
  explicit FakeHandler(DoorClient client) : client_(std::move(client)) {}
  void on_request(Request request) override {
    if (request.method() == "echo") return request.reply(request.params());
    if (request.method() == "initialize")
      return request.reply(
          json{{"protocolVersion", request.params().value("protocolVersion", "")}, {"transport", client_.transport}});
    if (request.method() == "transport") return request.reply(json{{"transport", client_.transport}});
    request.fail(make_error(error_code::kMethodNotFound, "fake: " + request.method()));
  }
  void on_notification(const std::string& method, const json&) override {
    if (method == "exit") client_.end(3);
  }
  std::string_view dialect() const override { return "fake"; }
  std::string client_name() const override { return "fake client"; }

 private:
  DoorClient client_;
};

struct Factory {
  std::atomic<int> made{0};
  bool refuse = false;
  HandlerFactory handlers() {
    return [this](const std::shared_ptr<Connection>&, const DoorClient& client) -> std::unique_ptr<ConnectionHandler> {
      if (refuse) return nullptr;
      ++made;
      return std::make_unique<FakeHandler>(client);
    };
  }
};

// A blocking client socket that gives up after 5 s.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Peer() { ::close(fd_); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  static int unix_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    return fd;
  }
  static int tcp(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    return fd;
  }

  void send(const json& message) {
    const std::string line = message.dump() + "\n";
    ASSERT_EQ(::write(fd_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  /// The next line as JSON; discarded at EOF or after 5 s.
  json receive() {
    std::size_t nl;
    while ((nl = buffered_.find('\n')) == std::string::npos) {
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return json::value_t::discarded;
      buffered_.append(buf, static_cast<std::size_t>(n));
    }
    json m = parse_json_or_discarded(buffered_.substr(0, nl));
    buffered_.erase(0, nl + 1);
    return m;
  }
  /// True when the server closed the connection (within 5 s).
  bool closed() {
    char b;
    const ssize_t n = ::read(fd_, &b, 1);
    return buffered_.empty() && (n == 0 || (n < 0 && errno == ECONNRESET));
  }

 private:
  int fd_;
  std::string buffered_;
};

json request(int id, const std::string& method, json params = json::object()) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

TEST(TcpDoor, UnixSocketServesAHandlerFromItsFactory) {
  test::TempDir dir;
  Factory factory;
  const std::string path = dir / "door.sock";
  auto server = TcpServer::listen_unix(factory.handlers(), path, TcpServerOptions{});
  ASSERT_TRUE(server.ok()) << server.error().message;
  (*server)->start();
  {
    Peer peer(Peer::unix_socket(path));
    peer.send(request(1, "echo", {{"x", 1}}));
    const json reply = peer.receive();
    ASSERT_FALSE(reply.is_discarded());
    EXPECT_EQ(reply["id"], 1);
    EXPECT_EQ(reply["result"], (json{{"x", 1}}));
    peer.send(request(2, "transport"));
    EXPECT_EQ(peer.receive()["result"]["transport"], "unix socket");
    // What `icotes daemon list` shows comes from the handler.
    const json clients = (*server)->describe_clients();
    ASSERT_EQ(clients.size(), 1u);
    EXPECT_EQ(clients[0]["dialect"], "fake");
    EXPECT_EQ(clients[0]["name"], "fake client");
    // DoorClient::end closes this connection; the door goes on serving.
    peer.send(json{{"jsonrpc", "2.0"}, {"method", "exit"}});
    EXPECT_TRUE(peer.closed());
  }
  Peer again(Peer::unix_socket(path));
  again.send(request(3, "echo", {{"y", 2}}));
  EXPECT_EQ(again.receive()["result"], (json{{"y", 2}}));
  EXPECT_EQ(factory.made.load(), 2);
  (*server)->stop();
}

TEST(TcpDoor, TcpAuthenticatesBeforeTheFactorysHandlerSeesAnything) {
  test::TempDir dir;
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved = old ? old : "";
  ::setenv("XDG_RUNTIME_DIR", dir.path().c_str(), 1);
  Factory factory;
  auto address = parse_tcp_listen("tcp:127.0.0.1:0", false);
  ASSERT_TRUE(address.ok());
  auto server = TcpServer::listen(factory.handlers(), *address, TcpServerOptions{});
  ASSERT_TRUE(server.ok()) << server.error().message;
  (*server)->start();
  std::string token = test::read_file((*server)->token_path());
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  {
    // Without the token the handler is never reached.
    Peer peer(Peer::tcp((*server)->port()));
    peer.send(request(1, "echo"));
    EXPECT_EQ(peer.receive()["error"]["code"], error_code::kPermissionDenied);
    EXPECT_TRUE(peer.closed());
  }
  {
    Peer peer(Peer::tcp((*server)->port()));
    peer.send(request(1, "icotes/authenticate", {{"token", token}}));
    EXPECT_EQ(peer.receive()["result"]["authenticated"], true);
    peer.send(request(2, "echo", {{"z", "tcp"}}));
    EXPECT_EQ(peer.receive()["result"], (json{{"z", "tcp"}}));
    peer.send(request(3, "transport"));
    EXPECT_EQ(peer.receive()["result"]["transport"], "tcp");
  }
  (*server)->stop();
  if (old)
    ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
  else
    ::unsetenv("XDG_RUNTIME_DIR");
}

TEST(TcpDoor, AConnectionWithoutAHandlerIsClosed) {
  test::TempDir dir;
  Factory factory;
  factory.refuse = true;
  const std::string path = dir / "door.sock";
  auto server = TcpServer::listen_unix(factory.handlers(), path, TcpServerOptions{});
  ASSERT_TRUE(server.ok()) << server.error().message;
  (*server)->start();
  Peer peer(Peer::unix_socket(path));
  peer.send(request(1, "echo"));
  EXPECT_TRUE(peer.closed());
  (*server)->stop();
}

TEST(HttpDoor, ServesAnMcpSessionWithAHandlerFromItsFactory) {
  // The module built beside the executable (tests/CMakeLists.txt makes it first).
  const std::string module = std::filesystem::path(ICOTES_BINARY).parent_path() / "icotes-http.so";
  if (!test::exists_nofollow(module)) GTEST_SKIP() << "no " << module;
  test::TempDir dir;
  const char* old_runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved_runtime = old_runtime ? old_runtime : "";
  const char* old_module = std::getenv("ICOTES_HTTP_MODULE");
  const std::string saved_module = old_module ? old_module : "";
  ::setenv("XDG_RUNTIME_DIR", dir.path().c_str(), 1);
  ::setenv("ICOTES_HTTP_MODULE", module.c_str(), 1);
  Factory factory;
  auto address = parse_tcp_listen("http:127.0.0.1:0", false);
  ASSERT_TRUE(address.ok());
  auto door = HttpDoor::listen(factory.handlers(), *address, 1 << 20);
  ASSERT_TRUE(door.ok()) << door.error().message;
  std::string token = test::read_file((*door)->token_path());
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  // The fake answers the session's initialize like any request.
  const std::string body =
      request(1, "initialize", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()}}).dump();
  const std::string http = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string((*door)->port()) +
                           "\r\nAuthorization: Bearer " + token +
                           "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  const int fd = Peer::tcp((*door)->port());
  Peer peer(fd);
  ASSERT_EQ(::write(fd, http.data(), http.size()), static_cast<ssize_t>(http.size()));
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  const json reply = parse_json_or_discarded(response.substr(response.find("\r\n\r\n") + 4));
  ASSERT_FALSE(reply.is_discarded()) << response;
  EXPECT_EQ(reply["id"], 1);
  EXPECT_EQ(reply["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(reply["result"]["transport"], "http");
  EXPECT_EQ(factory.made.load(), 1);
  (*door)->stop();
  if (old_runtime)
    ::setenv("XDG_RUNTIME_DIR", saved_runtime.c_str(), 1);
  else
    ::unsetenv("XDG_RUNTIME_DIR");
  if (old_module)
    ::setenv("ICOTES_HTTP_MODULE", saved_module.c_str(), 1);
  else
    ::unsetenv("ICOTES_HTTP_MODULE");
}

}  // namespace
}  // namespace icotes
