#include "icotes/http.hpp"

#include <unistd.h>

#include <mutex>

#include "icotes/log.hpp"
#include "icotes/module_loader.hpp"

namespace icotes {
namespace {

// The bytes a Connection writes for one MCP session, handed to the module
// as messages (the session's framing is one JSON message per line).
class OutboxTransport final : public Transport {
 public:
  explicit OutboxTransport(std::weak_ptr<http::Outbox> out) : out_(std::move(out)) {}
  bool write(std::string_view bytes) override {
    auto out = out_.lock();
    if (!out) return false;
    while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r')) bytes.remove_suffix(1);
    out->send(std::string(bytes));
    return true;
  }
  void close() override {}

 private:
  std::weak_ptr<http::Outbox> out_;
};

// One MCP session: a Connection and its handler. Without a handler (the
// factory made none) its requests are answered -32601.
class McpPeer final : public http::Peer {
 public:
  static std::shared_ptr<McpPeer> open(const HandlerFactory& handlers, std::weak_ptr<http::Outbox> out) {
    auto peer = std::shared_ptr<McpPeer>(new McpPeer(std::move(out)));
    DoorClient client;
    client.transport = "http";
    client.end = [](int) {};  // an MCP client ends its session with DELETE, never with LSP `exit`
    peer->handler_ = handlers(peer->connection_, client);
    if (peer->handler_)
      peer->connection_->set_handler(peer->handler_.get());
    else
      spdlog::warn("http: no handler for a new MCP session; its requests are refused");
    return peer;
  }
  ~McpPeer() override { close(); }

  void receive(std::string message) override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    message.push_back('\n');
    connection_->on_bytes(message);
  }
  void close() override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    connection_->cancel_all();  // its requests (and their child processes) end with it
    connection_->on_eof();
    connection_->set_handler(nullptr);
  }

 private:
  explicit McpPeer(std::weak_ptr<http::Outbox> out)
      : connection_(std::make_shared<Connection>(std::make_shared<OutboxTransport>(std::move(out)))) {}

  std::mutex mutex_;
  bool closed_ = false;
  std::shared_ptr<Connection> connection_;
  std::unique_ptr<ConnectionHandler> handler_;  // after connection_: destroyed first
};

}  // namespace

class HttpDoor::Backend final : public http::Backend {
 public:
  explicit Backend(HandlerFactory handlers) : handlers_(std::move(handlers)) {}
  std::shared_ptr<http::Peer> open(std::weak_ptr<http::Outbox> out) override {
    return McpPeer::open(handlers_, std::move(out));
  }
  void log(int level, std::string_view message) override {
    switch (level) {
      case 0:
        spdlog::debug("{}", message);
        break;
      case 1:
        spdlog::info("{}", message);
        break;
      case 2:
        spdlog::warn("{}", message);
        break;
      default:
        spdlog::error("{}", message);
        break;
    }
  }

 private:
  HandlerFactory handlers_;
};

Result<std::unique_ptr<HttpDoor>> HttpDoor::listen(HandlerFactory handlers, const TcpAddress& address,
                                                   std::size_t max_body_bytes) {
  auto entry = load_module_symbol("http", "icotes-http.so", "ICOTES_HTTP_MODULE", "icotes_http_module");
  if (!entry) return std::move(entry).error();
  using Entry = const http::ModuleApi* (*)();
  const http::ModuleApi* api = reinterpret_cast<Entry>(*entry)();
  if (!api || api->abi_version != http::ModuleApi::kAbiVersion)
    return make_error(error_code::kInternalError,
                      "http: icotes-http.so is not a module of this build (rebuild icotes)");
  std::unique_ptr<HttpDoor> door(new HttpDoor());
  door->backend_ = std::make_unique<Backend>(std::move(handlers));
  http::Options options;
  options.host = address.host;
  options.port = address.port;
  options.max_body_bytes = max_body_bytes;
  options.protocol_versions = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"};
  // The token file is named after the port, known only once bound: the
  // server starts with a token nobody has yet, then it is published.
  options.token = random_token();
  std::string error;
  auto server = api->listen(*door->backend_, options, &error);
  if (!server)
    return make_error(error_code::kIoError,
                      "--listen http:" + address.host + ":" + std::to_string(address.port) + ": " + error);
  door->server_ = std::move(server);
  auto path = write_token_file("http-" + std::to_string(door->server_->port()) + ".token", options.token);
  if (!path) return std::move(path).error();  // the door closes with `door`
  door->token_path_ = *path;
  return door;
}

HttpDoor::~HttpDoor() {
  stop();
  if (!token_path_.empty()) ::unlink(token_path_.c_str());
}

void HttpDoor::stop() {
  if (server_) server_->stop();
}

}  // namespace icotes
