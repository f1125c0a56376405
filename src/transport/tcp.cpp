#include "icotes/tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <nettle/memops.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "icotes/fd_io.hpp"
#include "icotes/log.hpp"
#include "icotes/stdio.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

Error sys_error(const std::string& what) { return make_error(error_code::kIoError, what + ": " + std::strerror(errno)); }

// Answers the first message: icotes/authenticate with the right token lets
// the rest through to the Session; anything else closes the connection.
class AuthGate final : public MessageHandler {
 public:
  AuthGate(Session& session, const std::string& token, const std::string& token_path, int fd)
      : session_(session), token_(token), token_path_(token_path), fd_(fd) {}

  void on_request(Request request) override {
    if (authenticated_) return session_.on_request(std::move(request));
    const json& p = request.params();
    if (request.method() == "icotes/authenticate" && p.is_object() && p.contains("token") && p["token"].is_string() &&
        token_equal(p["token"].get_ref<const std::string&>(), token_)) {
      authenticated_ = true;
      request.reply(json{{"authenticated", true}});
      return;
    }
    const bool tried = request.method() == "icotes/authenticate";
    spdlog::warn("tcp: {} ; closing the connection", tried ? "wrong token" : "request before authentication");
    request.fail(make_error(error_code::kPermissionDenied,
                            tried ? "wrong token: the connection is closed. The token is in " + token_path_
                                  : "not authenticated: the first message on a TCP connection must be the request "
                                    "icotes/authenticate {\"token\": \"...\"} with the token in " +
                                        token_path_ + "; the connection is closed"));
    ::shutdown(fd_, SHUT_RDWR);
  }
  void on_notification(const std::string& method, const json& params) override {
    if (authenticated_) return session_.on_notification(method, params);
    spdlog::warn("tcp: notification {} before authentication; closing the connection", method);
    ::shutdown(fd_, SHUT_RDWR);
  }
  void on_close() override { session_.on_close(); }

 private:
  Session& session_;
  const std::string& token_;
  const std::string& token_path_;
  int fd_;
  bool authenticated_ = false;
};

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  const std::string h(host);
  return ::inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

Result<TcpAddress> parse_tcp_listen(std::string_view spec, bool allow_remote) {
  auto bad = [&](const std::string& why) {
    return make_error(error_code::kInvalidParams,
                      "--listen '" + std::string(spec) + "': " + why + " (expected tcp:127.0.0.1:PORT or http:127.0.0.1:PORT; PORT 0 picks one)");
  };
  std::string scheme;
  if (spec.substr(0, 4) == "tcp:") scheme = "tcp";
  else if (spec.substr(0, 5) == "http:") scheme = "http";
  else return bad("the forms are tcp:HOST:PORT and http:HOST:PORT");
  std::string_view rest = spec.substr(scheme.size() + 1);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return bad("no host");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return bad("the port is not a number");
  const unsigned long n = std::stoul(std::string(port));
  if (n > 65535) return bad("the port is above 65535");
  if (!allow_remote && !is_loopback_host(host))
    return bad("'" + std::string(host) +
               "' is not a loopback address; listening beyond this machine needs --allow-remote (the token is still "
               "required)");
  return TcpAddress{scheme, std::string(host), static_cast<std::uint16_t>(n)};
}

Result<std::string> runtime_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = (xdg && *xdg) ? std::string(xdg) + "/icotes" : "/tmp/icotes-" + std::to_string(::geteuid());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("creating " + dir);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return sys_error("checking " + dir);
  // Someone else's directory, a symlink or one others can enter would let
  // them read the token or plant files: refused rather than repaired.
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0)
    return make_error(error_code::kIoError, dir + " must be a directory of this user with mode 0700 (it holds tokens)");
  return dir;
}

std::string random_token() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return out;
}

bool token_equal(std::string_view a, std::string_view b) {
  // The length is not secret (always 64); the bytes are.
  return a.size() == b.size() && nettle_memeql_sec(a.data(), b.data(), a.size()) != 0;
}

Result<std::string> write_token_file(const std::string& file_name, const std::string& token) {
  auto dir = runtime_dir();
  if (!dir) return std::move(dir).error();
  std::string path = *dir + "/" + file_name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  const std::string line = token + "\n";
  bool written = fd >= 0 && ::fchmod(fd, 0600) == 0;
  if (written) {
    const int err = write_fully(fd, line);
    written = err == 0;
    errno = err;
  }
  if (!written) {
    auto e = sys_error("writing the token file " + path);
    if (fd >= 0) ::close(fd);
    return e;
  }
  ::close(fd);
  return path;
}

struct TcpServer::Client {
  int fd = -1;
  std::thread thread;
  std::atomic<bool> done{false};
};

Result<std::unique_ptr<TcpServer>> TcpServer::listen(Workspace& workspace, const TcpAddress& address,
                                                     TcpServerOptions options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return make_error(error_code::kInvalidParams, "--listen: cannot resolve '" + address.host + "': " + ::gai_strerror(rc));
  int fd = -1;
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 512) == 0) break;
    last_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0)
    return make_error(error_code::kIoError, "--listen tcp:" + address.host + ":" + port + ": " + last_error);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const std::uint16_t actual = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                                 : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  const std::string token = random_token();
  auto path = write_token_file("tcp-" + std::to_string(actual) + ".token", token);
  if (!path) {
    ::close(fd);
    return std::move(path).error();
  }
  if (!options.max_frame_bytes) options.max_frame_bytes = kDefaultMaxFrameBytes;
  return std::unique_ptr<TcpServer>(new TcpServer(workspace, fd, actual, token, *path, std::move(options)));
}

Result<std::unique_ptr<TcpServer>> TcpServer::listen_unix(Workspace& workspace, const std::string& path,
                                                          TcpServerOptions options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return make_error(error_code::kInvalidParams, "unix socket path too long (" + std::to_string(path.size()) +
                                                      " bytes; the limit is " + std::to_string(sizeof addr.sun_path - 1) + ")");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  // A socket file nobody listens on (its server died) would make bind fail:
  // the caller holds the start lock, so it is ours to replace.
  ::unlink(path.c_str());
  const mode_t old = ::umask(077);
  const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0 || ::listen(fd, 512) != 0) {
    auto e = sys_error("listening on " + path);
    ::close(fd);
    return e;
  }
  if (!options.max_frame_bytes) options.max_frame_bytes = kDefaultMaxFrameBytes;
  std::unique_ptr<TcpServer> server(new TcpServer(workspace, fd, 0, "", "", std::move(options)));
  server->socket_path_ = path;
  return server;
}

double TcpServer::idle_seconds() const {
  std::lock_guard lock(mutex_);
  for (const auto& c : clients_)
    if (!c->done) return 0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - last_active_).count();
}

TcpServer::TcpServer(Workspace& workspace, int fd, std::uint16_t port, std::string token, std::string token_path,
                     TcpServerOptions options)
    : workspace_(workspace),
      fd_(fd),
      port_(port),
      token_(std::move(token)),
      token_path_(std::move(token_path)),
      options_(std::move(options)) {}

TcpServer::~TcpServer() {
  stop();
  if (!token_path_.empty()) ::unlink(token_path_.c_str());
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
}

void TcpServer::start() { acceptor_ = std::thread([this] { accept_loop(); }); }

void TcpServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  ::close(fd_);
  std::vector<std::shared_ptr<Client>> clients;
  {
    std::lock_guard lock(mutex_);
    clients.swap(clients_);
  }
  for (auto& c : clients) ::shutdown(c->fd, SHUT_RDWR);
  for (auto& c : clients)
    if (c->thread.joinable()) c->thread.join();
}

std::size_t TcpServer::connection_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& c : clients_) n += !c->done;
  return n;
}

void TcpServer::accept_loop() {
  while (!stopping_) {
    const int cfd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stopping_) return;
      if (errno == EMFILE || errno == ENFILE) {
        spdlog::warn("tcp: out of file descriptors; waiting before accepting more");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      spdlog::error("tcp: accept: {}", std::strerror(errno));
      return;
    }
    int one = 1;
    if (socket_path_.empty()) ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    // Join the threads of connections that have ended.
    std::erase_if(clients_, [](const std::shared_ptr<Client>& c) {
      if (!c->done) return false;
      c->thread.join();
      return true;
    });
    if (clients_.size() >= options_.max_connections) {
      spdlog::warn("tcp: {} connections open, the limit; refusing one", clients_.size());
      ::close(cfd);
      continue;
    }
    auto client = std::make_shared<Client>();
    client->fd = cfd;
    clients_.push_back(client);
    client->thread = std::thread([this, client] { serve_client(client); });
  }
}

void TcpServer::serve_client(const std::shared_ptr<Client>& client) {
  const int fd = client->fd;
  // The descriptor is closed when the last holder of the transport lets go:
  // a reply still being computed for this connection must never write to a
  // number the process has since reused.
  std::shared_ptr<FdTransport> transport(new FdTransport(fd, fd), [fd](FdTransport* t) {
    delete t;
    ::close(fd);
  });
  auto connection = std::make_shared<Connection>(transport, options_.max_frame_bytes);
  {
    // LSP `exit` ends this connection, not the server the others share.
    SessionOptions session_options = options_.session;
    session_options.on_exit = [fd](int) { ::shutdown(fd, SHUT_RDWR); };
    Session session(workspace_, connection, session_options);
    AuthGate gate(session, token_, token_path_, fd);
    if (token_.empty())
      connection->set_handler(&session);  // a Unix socket: its mode is the authentication
    else
      connection->set_handler(&gate);
    run_read_loop(fd, *connection);
    if (token_.empty()) {
      // A Unix socket: `serve` forwarding stdio half-closes when its stdin
      // ends and still wants the answers, as a standalone server gives them
      // (a script that closes stdin after its last request). A launcher
      // that is gone closes both ways, which poll(2) reports as POLLHUP.
      while (connection->in_flight_count() > 0 && !stopping_) {
        pollfd p{fd, 0, 0};
        if (::poll(&p, 1, 50) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0) break;
      }
    }
    // The peer is gone (or the server stops): what it asked is no longer
    // wanted; cancelling also ends the child processes of those requests.
    connection->cancel_all();
    connection->set_handler(nullptr);
  }
  std::lock_guard lock(mutex_);
  last_active_ = std::chrono::steady_clock::now();
  client->done = true;
}

}  // namespace icotes
