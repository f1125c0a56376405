// cpp-httplib on the door's own connection handling (gate.hpp): its
// listener hands each accepted socket to the gate, and the gate's workers
// run requests through cpp-httplib's request processing on a ConnStream,
// whose reads and writes keep the Conn's deadlines and byte limits.
// Private to mcp_http.cpp.
#pragma once

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "gate.hpp"

namespace icotes::http {

// What the request handlers know of the connection they run on: they run on
// its worker thread, inside DoorServer::serve_request.
struct ConnState {
  Conn* conn = nullptr;
  bool close = false;  // end the connection after this response
};
inline thread_local ConnState* t_conn = nullptr;

// Marks the current connection to close after its response: a refused
// request's body is never read, so nothing after it can be parsed.
inline void close_connection() {
  if (t_conn) t_conn->close = true;
}

// getpeername/getsockname as text, for cpp-httplib's REMOTE_ADDR headers.
inline void socket_address(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (::getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) return;
  ip = host;
  port = std::atoi(serv);
}

// cpp-httplib's view of a Conn (gate.hpp): every read and write of a
// request goes through the Conn's deadlines and byte limits.
class ConnStream final : public httplib::Stream {
 public:
  explicit ConnStream(Conn& conn) : conn_(&conn) {}
  bool is_readable() const override { return conn_->wait_readable(std::chrono::milliseconds(0)); }
  bool is_writable() const override { return conn_->writable(); }
  ssize_t read(char* ptr, std::size_t size) override { return conn_->read(ptr, size); }
  ssize_t write(const char* ptr, std::size_t size) override { return conn_->write(ptr, size); }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    socket_address(conn_->fd(), true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    socket_address(conn_->fd(), false, ip, port);
  }
  // cpp-httplib uses this only to refuse descriptors above FD_SETSIZE, a
  // limit of select(2), which this stream does not use (Conn polls).
  socket_t socket() const override { return 0; }

 private:
  Conn* conn_;
};

// cpp-httplib's server with the connection handling taken over: its
// listener thread accepts and hands each socket to `on_accept` (the gate)
// instead of its thread pool; the gate's workers then run requests through
// the protected process_request on a ConnStream.
class DoorServer final : public httplib::Server {
 public:
  std::function<void(int fd)> on_accept;

  bool serve_request(httplib::Stream& stream, bool last, bool& client_closes) {
    return process_request(stream, last, client_closes, nullptr);
  }
  // cpp-httplib listens with a backlog of 5: a burst of connections (a
  // client's pool opening, or a flood) would have the kernel drop the SYNs
  // of real clients, which retry only after a second. listen(2) again on
  // the bound socket sets the backlog (capped by net.core.somaxconn).
  void widen_backlog(int backlog) {
    const socket_t sock = svr_sock_;
    if (sock != INVALID_SOCKET) ::listen(sock, backlog);
  }
  // Stops the listener's accept loop, whether or not it has started yet.
  void close_listener() {
    const socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) {
      ::shutdown(sock, SHUT_RDWR);
      ::close(sock);
    }
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    on_accept(sock);
    return true;
  }
};

// The listener runs each accepted socket's task at once, on its own thread:
// the task only hands the socket to the gate.
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

}  // namespace icotes::http
