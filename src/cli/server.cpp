#include "cli/server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "icotes/client_hello.hpp"
#include "icotes/confine.hpp"
#include "icotes/daemon.hpp"
#include "icotes/http.hpp"
#include "icotes/stdio.hpp"
#include "icotes/tcp.hpp"
#include "icotes/workspace.hpp"

namespace icotes::cli {
namespace {

// SIGINT/SIGTERM/SIGHUP end a server that listens: the handler only writes a
// byte that the main thread waits for (nothing else is async-signal-safe).
// Process-wide, as signals are; never closed (a late signal writes here).
int g_stop_pipe[2] = {-1, -1};
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
  const char b = 1;
  [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &b, 1);
}

// A Session as the doors keep a connection's handler (door.hpp).
class SessionHandler final : public ConnectionHandler {
 public:
  SessionHandler(Workspace& workspace, std::shared_ptr<Connection> connection, SessionOptions options)
      : session_(workspace, std::move(connection), std::move(options)) {}
  void on_request(Request request) override { session_.on_request(std::move(request)); }
  void on_notification(const std::string& method, const json& params) override {
    session_.on_notification(method, params);
  }
  void on_close() override { session_.on_close(); }
  void on_refused(const Error& error) override { session_.on_refused(error); }
  std::string_view dialect() const override { return session_.dialect(); }
  std::string client_name() const override { return session_.client_name(); }

 private:
  Session session_;
};

// "[::1]" for an IPv6 host in a URL.
std::string url_host(const std::string& host) { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

}  // namespace

Server::Server(const ServeOptions& options, const permissions::Settings& settings) : options_(options) {
  auto ws = Workspace::open(options_.root, options_.threads, settings);
  if (!ws) die(ws.error());
  workspace_ = std::move(*ws);
  Workspace& workspace = *workspace_;
  for (const auto& w : workspace.gate().warnings()) spdlog::warn("permissions: {}", w);
  session_.profile = options_.profile;
  session_.on_exit = [&workspace](int code) {
    spdlog::info("exit notification: exiting with {}", code);
    workspace.workers().shutdown();
    spdlog::shutdown();
    std::_Exit(code);
  };
  // A standalone server's session is this client's; a daemon's connections
  // each bring their own (tcp.hpp, daemon.hpp).
  if (!options_.daemon) session_.profile = client_profile(options_);
}

Server::~Server() = default;

int Server::run(std::string_view initial, const json& drop_response_id) {
  // Before the address is announced: a script may signal right after.
  if (listen_only()) catch_stop_signals();
  if (options_.daemon) open_daemon_socket();
  for (const auto& spec : options_.listen) open_door(spec);
  if (options_.daemon) servers_.front()->start();  // once every door is open (the admin reads them)
  if (!listen_only()) {
    serve_stdio(initial, drop_response_id);
    return 0;
  }
  wait_for_stop();
  close_doors(stop_reason());
  workspace_->workers().shutdown();
  return 0;
}

void Server::catch_stop_signals() {
  if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) throw Exit{2, ""};
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_stop_signal);
}

void Server::open_daemon_socket() {
  auto address = daemon_address(workspace_->root().path());
  if (!address) die(address.error());
  socket_path_ = address->socket_path;
  TcpServerOptions options{options_.max_frame_bytes, 1024};
  // `icotes daemon list|stop`: what this daemon serves, and a stop.
  options.admin = [this](const std::string& method, const json&) { return admin(method); };
  auto server = TcpServer::listen_unix(sessions(), address->socket_path, std::move(options));
  if (!server) die(server.error());
  if (options_.listen.empty())
    spdlog::info("daemon for {} listening on {} (exits {} ms after its last client leaves)", workspace_->root().path(),
                 address->socket_path, options_.idle_timeout_ms);
  else
    spdlog::info("daemon for {} listening on {} and its --listen doors (runs until signalled)",
                 workspace_->root().path(), address->socket_path);
  servers_.push_back(std::move(*server));  // started once the doors are open
}

void Server::open_door(const std::string& spec) {
  auto address = parse_tcp_listen(spec, options_.allow_remote);
  if (!address) die(address.error());
  if (address->scheme == "http") {
    auto door = HttpDoor::listen(sessions(), *address, options_.max_frame_bytes);
    if (!door) die(door.error());
    const std::string host = url_host(address->host);
    std::fprintf(stderr, "icotes: listening on http://%s:%u/mcp; token in %s\n", host.c_str(), (*door)->port(),
                 (*door)->token_path().c_str());
    spdlog::info("listening on http://{}:{}/mcp (MCP Streamable HTTP; bearer token in {})", host, (*door)->port(),
                 (*door)->token_path());
    doors_.push_back("http://" + host + ":" + std::to_string((*door)->port()) + "/mcp");
    http_doors_.push_back(std::move(*door));
    return;
  }
  auto server = TcpServer::listen(sessions(), *address, TcpServerOptions{options_.max_frame_bytes, 1024});
  if (!server) die(server.error());
  // One line scripts and tests can wait for: where to connect, where the token is.
  std::fprintf(stderr, "icotes: listening on tcp:%s:%u; token in %s\n", address->host.c_str(), (*server)->port(),
               (*server)->token_path().c_str());
  spdlog::info("listening on tcp:{}:{} (token in {})", address->host, (*server)->port(), (*server)->token_path());
  doors_.push_back("tcp:" + address->host + ":" + std::to_string((*server)->port()));
  (*server)->start();
  servers_.push_back(std::move(*server));
}

HandlerFactory Server::sessions() {
  return [this](const std::shared_ptr<Connection>& connection,
                const DoorClient& client) -> std::unique_ptr<ConnectionHandler> {
    SessionOptions options = session_;
    if (client.profile) options.profile = *client.profile;
    options.on_exit = client.end;  // the connection ends, not the server the others share
    return std::make_unique<SessionHandler>(*workspace_, connection, std::move(options));
  };
}

Result<json> Server::admin(const std::string& method) {
  if (method == "icotes/daemon/status") {
    json clients = json::array();
    for (const auto& server : servers_)
      for (auto& c : server->describe_clients()) clients.push_back(std::move(c));
    std::error_code ec;
    const auto err = std::filesystem::read_symlink("/proc/self/fd/2", ec).string();
    const std::string log = !options_.log_file.empty()      ? options_.log_file
                            : !err.empty() && err[0] == '/' ? err
                                                            : std::string("stderr");
    return json{{"root", workspace_->root().path()},
                {"pid", ::getpid()},
                {"version", ICOTES_VERSION},
                {"since", std::chrono::duration_cast<std::chrono::milliseconds>(since_.time_since_epoch()).count()},
                {"socket", socket_path_},
                {"log", log},
                {"idleTimeoutMs", options_.listen.empty() ? json(options_.idle_timeout_ms) : json(nullptr)},
                {"doors", doors_},
                {"clients", std::move(clients)}};
  }
  if (method == "icotes/daemon/stop") {
    spdlog::info("stop requested by `icotes daemon stop`");
    request_stop("`icotes daemon stop`");
    return json{{"stopping", true}, {"pid", ::getpid()}};
  }
  return make_error(error_code::kMethodNotFound, "unknown daemon request " + method);
}

void Server::request_stop(const std::string& reason) {
  {
    std::lock_guard lock(stop_mutex_);
    if (stop_reason_.empty()) stop_reason_ = reason;
  }
  const char b = 0;
  [[maybe_unused]] ssize_t n = ::write(g_stop_pipe[1], &b, 1);
}

std::string Server::stop_reason() const {
  std::lock_guard lock(stop_mutex_);
  if (!stop_reason_.empty()) return stop_reason_;
  const int sig = g_stop_signal;
  return sig ? std::string("it received ") + (sig == SIGINT    ? "SIGINT"
                                              : sig == SIGTERM ? "SIGTERM"
                                              : sig == SIGHUP  ? "SIGHUP"
                                                               : "a signal")
             : std::string("the daemon stopped");
}

void Server::wait_for_stop() {
  for (;;) {
    pollfd p{g_stop_pipe[0], POLLIN, 0};
    const int n = ::poll(&p, 1, options_.daemon ? 100 : -1);
    if (n > 0) {
      spdlog::info("stopping ({}): closing connections", stop_reason());
      return;
    }
    // A daemon started by hand with doors of its own (--listen) serves
    // clients that come and go over them: it runs until signalled.
    if (options_.daemon && options_.listen.empty() &&
        servers_.front()->idle_seconds() * 1000 >= options_.idle_timeout_ms) {
      spdlog::info("no client for {} ms: the daemon exits", options_.idle_timeout_ms);
      return;
    }
  }
}

void Server::serve_stdio(std::string_view initial, const json& drop_response_id) {
  Workspace& workspace = *workspace_;
  if (::isatty(STDIN_FILENO)) print_banner(workspace.root().path(), " (standalone)");
  spdlog::info("icotes {} serving {} on stdio ({} workers, openat2: {})", ICOTES_VERSION, workspace.root().path(),
               workspace.workers().size(), ConfinedRoot::has_openat2() ? "yes" : "no");
  std::shared_ptr<Transport> transport = std::make_shared<FdTransport>(STDIN_FILENO, STDOUT_FILENO);
  // The client already has an answer to its initialize (client_hello.hpp).
  if (!drop_response_id.is_null()) transport = drop_first_response(std::move(transport), drop_response_id);
  auto connection = std::make_shared<Connection>(transport, options_.max_frame_bytes);
  Session session(workspace, connection, session_);
  connection->set_handler(&session);
  if (!initial.empty()) connection->on_bytes(initial);
  run_read_loop(STDIN_FILENO, *connection);
  spdlog::info("stdin closed; finishing in-flight requests");
  close_doors("the daemon stopped");
  workspace.workers().shutdown();
  connection->set_handler(nullptr);
}

void Server::close_doors(const std::string& reason) {
  for (auto& d : http_doors_) d->stop();
  for (auto& s : servers_) s->stop(reason);
}

}  // namespace icotes::cli
