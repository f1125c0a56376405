// What a door serves on each connection. A door (tcp.hpp: TCP and Unix
// sockets, the shared daemon's attached clients; http.hpp: MCP sessions over
// HTTP) turns a byte stream into a Connection and asks its HandlerFactory for
// the handler of that connection's messages. What the handler serves is the
// factory's business: in the executable, a Session on the one Workspace
// (src/cli/server.cpp), so the doors know JSON-RPC connections and sockets,
// never sessions or the workspace (docs/ARCHITECTURE.md, "Doors").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "icotes/client_profile.hpp"
#include "icotes/rpc.hpp"

namespace icotes {

/// The handler of one connection's messages, as a door keeps it: the
/// MessageHandler its Connection calls, and what `icotes daemon list` shows
/// of the client (TcpServer::describe_clients).
class ConnectionHandler : public MessageHandler {
 public:
  /// The protocol the client speaks ("lsp", "mcp", "plain"); "" until it is
  /// known, and a connection whose handler says "" is not listed. Any thread.
  virtual std::string_view dialect() const { return {}; }
  /// The client's name for itself (its initialize's clientInfo.name), "" until
  /// known. Any thread.
  virtual std::string client_name() const { return {}; }
};

/// What a door knows of a connection when it asks for its handler.
struct DoorClient {
  /// "tcp", "unix socket", "stdio (attached)", "stdio (forwarded)" or "http".
  std::string transport;
  /// The client's own settings when its launcher sent them (a client
  /// attached to the shared daemon, daemon.hpp); nullopt: the server's.
  std::optional<ClientProfile> profile;
  /// Ends this connection alone, with the exit code an attached client's
  /// launcher exits with: what a handler does when its client asks the
  /// process to end (LSP `exit`), since other connections share the process.
  /// Never null; any thread.
  std::function<void(int exit_code)> end;
};

/// Makes the handler of a new connection, before any of its bytes is read,
/// on the thread that will read it (TCP, Unix) or the HTTP module's. The
/// door keeps the handler until the connection has ended (its Connection no
/// longer calls it), then destroys it. Returning null closes a TCP or Unix
/// connection; an HTTP session's requests are then answered -32601. Must be
/// safe to call from several threads at once.
using HandlerFactory = std::function<std::unique_ptr<ConnectionHandler>(const std::shared_ptr<Connection>& connection,
                                                                        const DoorClient& client)>;

}  // namespace icotes
