// One process serving its own workspace: standalone on stdio, with --listen
// doors (TCP, MCP Streamable HTTP), or as the workspace's daemon (its Unix
// socket: daemon.hpp). A Server owns the workspace and every door it opens,
// and how serving ends: stdin's end on stdio; else SIGINT, SIGTERM, SIGHUP,
// `icotes daemon stop`, or a daemon's idle timeout. Its destructor closes
// the doors, then the workspace. One Server per process (the stop signals
// are the process's).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli.hpp"
#include "icotes/door.hpp"
#include "icotes/session.hpp"

namespace icotes {
class HttpDoor;
class TcpServer;
class Workspace;
}  // namespace icotes

namespace icotes::cli {

class Server {
 public:
  /// Opens the workspace of `options.root` with `settings` (ends the
  /// command with status 2 when it cannot).
  Server(const ServeOptions& options, const permissions::Settings& settings);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Opens the doors and serves until the end (see the top of this file);
  /// `initial`: client bytes read from stdin already, `drop_response_id`:
  /// non-null when the client already has the answer to that request
  /// (client_hello.hpp). Ends the command with status 2 when a door cannot
  /// open. Returns the exit status.
  int run(std::string_view initial, const json& drop_response_id);

 private:
  bool listen_only() const { return (!options_.listen.empty() && !options_.stdio) || options_.daemon; }
  void catch_stop_signals();
  void open_daemon_socket();
  void open_door(const std::string& spec);
  /// What every door serves on a connection: a Session on the workspace
  /// with session_'s options, the client's profile when its launcher sent
  /// one, and LSP `exit` ending that connection alone (door.hpp).
  HandlerFactory sessions();
  /// `icotes daemon list|stop` on the daemon's socket.
  Result<json> admin(const std::string& method);
  /// Why serving stops (what attached clients are told); wakes wait_for_stop().
  void request_stop(const std::string& reason);
  std::string stop_reason() const;
  void wait_for_stop();
  void serve_stdio(std::string_view initial, const json& drop_response_id);
  void close_doors(const std::string& reason);

  ServeOptions options_;
  std::unique_ptr<Workspace> workspace_;
  SessionOptions session_;
  const std::chrono::system_clock::time_point since_ = std::chrono::system_clock::now();
  std::string socket_path_;                          // the daemon's
  std::vector<std::unique_ptr<TcpServer>> servers_;  // the daemon's socket first, then the TCP doors
  std::vector<std::unique_ptr<HttpDoor>> http_doors_;
  std::vector<std::string> doors_;  // what `icotes daemon list` shows
  mutable std::mutex stop_mutex_;
  std::string stop_reason_;
};

}  // namespace icotes::cli
