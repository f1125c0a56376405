// The executable's side of the MCP Streamable HTTP door (`icotes serve
// --listen http:127.0.0.1:PORT`, endpoint /mcp): loads icotes-http.so
// (include/doors/icotes/http_module.hpp) and gives every MCP session a Connection
// and a handler from the door's HandlerFactory (door.hpp), like the TCP
// door's connections: in the executable, a Session on the shared Workspace.
// The bearer token is written like the TCP token, to
// runtime_dir()/http-PORT.token (mode 0600).
#pragma once

#include <memory>
#include <string>

#include "icotes/door.hpp"
#include "icotes/http_module.hpp"
#include "icotes/result.hpp"
#include "icotes/tcp.hpp"

namespace icotes {

class HttpDoor {
 public:
  /// Loads the module, binds, writes the token file and starts serving;
  /// each MCP session is served by a handler from `handlers` (its
  /// DoorClient::end does nothing: an MCP client ends its session with
  /// DELETE). Errors: kInternalError (module not found), kIoError (bind,
  /// token file).
  static Result<std::unique_ptr<HttpDoor>> listen(HandlerFactory handlers, const TcpAddress& address,
                                                  std::size_t max_body_bytes);
  ~HttpDoor();
  std::uint16_t port() const { return server_->port(); }
  const std::string& token_path() const { return token_path_; }
  /// Ends every session and stops serving; also done by the destructor.
  void stop();

 private:
  class Backend;
  HttpDoor() = default;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<http::Server> server_;
  std::string token_path_;
};

}  // namespace icotes
