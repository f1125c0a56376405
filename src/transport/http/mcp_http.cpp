// MCP Streamable HTTP (MCP 2025-03-26, 2025-06-18, 2025-11-25 "Transports")
// on cpp-httplib, built into the module icotes-http.so
// (include/doors/icotes/http_module.hpp).
//
// One endpoint, /mcp:
// - POST carries one client message (or a batch). Only notifications and
//   responses: 202 Accepted. With requests: the answer is JSON when the
//   responses are the first thing the server sends for them, else an SSE
//   stream carrying what the server sends meanwhile (progress, log
//   messages, its own requests) and then the responses.
// - GET opens the session's stream for server messages unrelated to a POST;
//   messages sent while none is open wait for it (bounded).
// - DELETE ends the session.
// - `Mcp-Session-Id` is issued with the initialize response and required
//   afterwards (400 without, 404 when unknown or ended); `MCP-Protocol-
//   Version`, when sent, must be a supported revision (400).
// - Every SSE event has an id "<stream>-<n>"; a GET with `Last-Event-ID`
//   replays what followed it on that stream (kept per session, bounded) and
//   continues it when it is still open.
// - Security: `Authorization: Bearer <token>` (401), `Origin` and `Host`
//   must be loopback (403, loopback.hpp) against DNS rebinding. Everything
//   a client without the token can make the server hold is bounded before
//   the token is checked: connections still sending their head wait in the
//   gate without a thread, each head has a size limit and a deadline, and
//   a refused request closes its connection without reading its body
//   (gate.hpp). With the token: the body limit holds for every framing and
//   content coding, counted while reading (413), head and body share a
//   deadline, sessions are capped, and what a session keeps for replay is
//   bounded in bytes.
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "gate.hpp"
#include "icotes/http_module.hpp"
#include "icotes/json.hpp"  // is_request_id (inline: the module links no icotes code)
#include "icotes/json_parse.hpp"
#include "icotes/random_token.hpp"  // compiled into the module (CMakeLists.txt)
#include "loopback.hpp"

namespace icotes::http {
namespace {

using json = nlohmann::json;

bool accepts(const httplib::Request& req, std::string_view type) {
  const std::string a = req.get_header_value("Accept");
  return a.empty() || a.find(type) != std::string::npos || a.find("*/*") != std::string::npos;
}

// A JSON-RPC error body for HTTP-level refusals (as the SDKs send them).
std::string error_body(int code, const std::string& message) {
  return json{{"jsonrpc", "2.0"}, {"error", {{"code", code}, {"message", message}}}, {"id", nullptr}}.dump();
}

// What Session::send needs of a server message: is it a response, and to
// which ids. Read with nlohmann's SAX interface, which stops as soon as a
// single message's top-level "id" and one of "result"/"error"/"method"/
// "params" are seen, so a large result is neither lexed to its end nor
// built as a tree (whole-message parses were ~10% of a loaded HTTP door).
// JSON-RPC 2.0 section 5: a response has "result" or "error" and no "method".
struct Envelope {
  bool valid = false;
  bool response = false;
  std::vector<std::string> ids;  // each id as json::dump() writes it
};

class EnvelopeReader final : public nlohmann::json_sax<json> {
 public:
  bool null() override { return value("null"); }
  bool boolean(bool v) override { return value(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return value(json(v).dump()); }
  bool number_unsigned(number_unsigned_t v) override { return value(json(v).dump()); }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v).dump()); }
  bool string(string_t& v) override { return value(json(v).dump()); }
  bool binary(binary_t&) override { return value(""); }
  bool start_object(std::size_t) override {
    const bool member_value = depth_ == member_depth() && !key_.empty();
    ++depth_;
    if (depth_ == member_depth()) objects_.push_back({});
    if (member_value) key_.clear();
    return true;
  }
  bool end_object() override {
    if (depth_ == member_depth()) finish_object();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0)
      batch_ = true;
    else if (depth_ == member_depth())
      key_.clear();
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ != member_depth()) return true;
    key_ = k;
    auto& o = objects_.back();
    if (k == "result" || k == "error") o.response = true;
    if (k == "method" || k == "params") o.request = true;
    // A single message is decided once its id and kind are known.
    return batch_ || !(o.request || (o.response && o.id));
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    error_ = true;
    return false;
  }

  // The envelope, once sax_parse returned (true, or false because a key()
  // stopped it early).
  Envelope envelope() const {
    Envelope e;
    if (error_ || objects_.empty()) return e;
    e.valid = true;
    const auto& first = objects_.front();
    e.response = first.response && !first.request && first.id.has_value();
    for (const auto& o : objects_)
      if (o.id) e.ids.push_back(*o.id);
    return e;
  }

 private:
  struct Object {
    std::optional<std::string> id;
    bool response = false, request = false;
  };
  std::size_t member_depth() const { return batch_ ? 2 : 1; }
  bool value(std::string dumped) {
    if (depth_ == member_depth() && key_ == "id") {
      objects_.back().id = std::move(dumped);
      auto& o = objects_.back();
      key_.clear();
      return batch_ || !(o.request || o.response);
    }
    if (depth_ == member_depth()) key_.clear();
    return true;
  }
  void finish_object() { key_.clear(); }

  std::size_t depth_ = 0;
  bool batch_ = false;
  bool error_ = false;
  std::string key_;
  std::vector<Object> objects_;
};

Envelope envelope_of(const std::string& message) {
  EnvelopeReader reader;
  (void)json::sax_parse(message, &reader);
  return reader.envelope();
}

// A run of SSE events: a POST's answer or the session's GET stream.
struct Stream {
  std::uint64_t id = 0;
  bool get = false;                                          // the standalone GET stream
  std::set<std::string> pending;                             // request ids (dumped) still to answer
  std::deque<std::pair<std::uint64_t, std::string>> events;  // (n, message), kept for replay
  std::size_t bytes = 0;                                     // of the messages in `events`
  std::uint64_t next = 1;
  std::uint64_t reader = 0;  // ticket of the HTTP response reading it now (0: none)
  bool json_only = false;    // the client accepts no SSE on this POST
};

class Session final : public Outbox, public std::enable_shared_from_this<Session> {
 public:
  // `kept_events` and `kept_bytes` bound what each stream keeps for
  // Last-Event-ID, and what finished streams and undelivered messages keep
  // together.
  Session(std::string id, std::size_t kept_events, std::size_t kept_bytes)
      : id_(std::move(id)), kept_events_(kept_events), kept_bytes_(kept_bytes) {}

  const std::string& id() const { return id_; }
  void attach(std::shared_ptr<Peer> peer) { peer_ = std::move(peer); }

  // Server → client: a response goes to the stream waiting for its id; any
  // other message to the newest POST stream still waiting (it belongs to
  // that exchange), else the GET stream, else it waits for one.
  void send(std::string message) override {
    const Envelope envelope = envelope_of(message);
    if (!envelope.valid) return;
    std::lock_guard lock(mutex_);
    if (closed_) return;
    std::shared_ptr<Stream> target;
    if (envelope.response) {
      const std::string& key = envelope.ids.front();
      for (auto& [sid, s] : streams_)
        if (s->pending.count(key)) target = s;
      // A batch answers every id it holds at once.
      if (target)
        for (const auto& id : envelope.ids) target->pending.erase(id);
    } else {
      // Kept even while nobody reads it: a client that comes back with
      // Last-Event-ID gets it.
      for (auto it = streams_.rbegin(); it != streams_.rend() && !target; ++it)
        if (!it->second->get && !it->second->pending.empty() && !it->second->json_only) target = it->second;
      if (!target && get_) target = get_;
    }
    if (!target) {
      // Undelivered until a GET stream opens, up to kept_events_ messages
      // and kept_bytes_ bytes.
      if (waiting_.size() < kept_events_ && message.size() <= kept_bytes_ - waiting_bytes_) {
        waiting_bytes_ += message.size();
        waiting_.push_back(std::move(message));
      }
      return;
    }
    append(*target, std::move(message));
    cv_.notify_all();
  }

  // A POST with requests: the stream their answers will go to, read by the
  // caller (reader ticket in `ticket`).
  std::shared_ptr<Stream> open_post(std::set<std::string> ids, bool json_only, std::uint64_t& ticket) {
    std::lock_guard lock(mutex_);
    auto s = std::make_shared<Stream>();
    s->id = next_stream_++;
    s->pending = std::move(ids);
    s->json_only = json_only;
    s->reader = ticket = next_ticket_++;
    streams_[s->id] = s;
    trim_streams();
    touch();
    return s;
  }

  // Makes the caller the reader of `s`; whoever read it before stops.
  std::uint64_t attach_reader(Stream& s) {
    std::lock_guard lock(mutex_);
    s.reader = next_ticket_++;
    cv_.notify_all();
    return s.reader;
  }

  // The GET stream (a new one replaces the old, whose reader stops).
  std::shared_ptr<Stream> open_get() {
    std::lock_guard lock(mutex_);
    if (get_) get_->reader = 0;
    auto s = std::make_shared<Stream>();
    s->id = next_stream_++;
    s->get = true;
    streams_[s->id] = s;
    get_ = s;
    while (!waiting_.empty()) {
      append(*s, std::move(waiting_.front()));
      waiting_.pop_front();
    }
    waiting_bytes_ = 0;
    trim_streams();
    touch();
    cv_.notify_all();
    return s;
  }

  // Last-Event-ID "<stream>-<n>": that stream and the number after which
  // to replay; null when the stream is no longer kept.
  std::shared_ptr<Stream> find_stream(const std::string& last_event_id, std::uint64_t& after) {
    const auto dash = last_event_id.find('-');
    if (dash == std::string::npos) return nullptr;
    try {
      const std::uint64_t sid = std::stoull(last_event_id.substr(0, dash));
      after = std::stoull(last_event_id.substr(dash + 1));
      std::lock_guard lock(mutex_);
      auto it = streams_.find(sid);
      return it == streams_.end() ? nullptr : it->second;
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // Waits for events of `s` after `after`, up to `wait`; returns them, and
  // whether the stream is finished (a POST answered, the session ended).
  // Waits for events of `s` after `after`, up to `wait`, for the reader
  // `ticket`; returns them, and whether this reader is done (a POST
  // answered, the session ended, another reader took the stream over).
  std::vector<std::pair<std::uint64_t, std::string>> next_events(Stream& s, std::uint64_t after, std::uint64_t ticket,
                                                                 std::chrono::milliseconds wait, bool& finished) {
    std::unique_lock lock(mutex_);
    auto done = [&] { return closed_ || s.reader != ticket || (!s.get && s.pending.empty()); };
    cv_.wait_for(lock, wait, [&] { return done() || (!s.events.empty() && s.events.back().first > after); });
    std::vector<std::pair<std::uint64_t, std::string>> out;
    if (s.reader == ticket)
      for (const auto& e : s.events)
        if (e.first > after) out.push_back(e);
    finished = done();
    touch();
    return out;
  }

  // The reader `ticket` went (finished, or its client dropped the
  // connection); the stream stays for Last-Event-ID.
  void detach_reader(Stream& s, std::uint64_t ticket) {
    std::lock_guard lock(mutex_);
    if (s.reader == ticket) s.reader = 0;
  }

  // A POST answered with plain JSON: its events carried no ids, so nothing
  // can resume it and nothing of it is kept.
  void forget(const Stream& s) {
    std::lock_guard lock(mutex_);
    if (s.reader == 0 && s.pending.empty()) streams_.erase(s.id);
  }

  void receive(std::string message) {
    std::lock_guard lock(receive_mutex_);  // one reader: messages in order
    {
      std::lock_guard l(mutex_);
      touch();
    }
    if (auto p = peer_) p->receive(std::move(message));
  }

  void close() {
    std::shared_ptr<Peer> peer;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
      peer = std::move(peer_);
      cv_.notify_all();
    }
    if (peer) peer->close();
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  // Idle: no request for `ms` and no stream being read.
  bool idle_for(int ms) const {
    const auto since = idle_since();
    return since && Clock::now() - *since > std::chrono::milliseconds(ms);
  }

  // When it was last used, if nothing waits on it now (no request being
  // answered, no stream being read).
  std::optional<Clock::time_point> idle_since() const {
    std::lock_guard lock(mutex_);
    if (get_ && get_->reader) return std::nullopt;
    for (const auto& [sid, s] : streams_)
      if (!s->get && !s->pending.empty()) return std::nullopt;
    return last_used_;
  }

 private:
  void append(Stream& s, std::string message) {
    s.bytes += message.size();
    s.events.emplace_back(s.next++, std::move(message));
    // The newest event always stays: it may be a response not yet read.
    while (s.events.size() > 1 && (s.events.size() > kept_events_ || s.bytes > kept_bytes_)) {
      s.bytes -= s.events.front().second.size();
      s.events.pop_front();
    }
  }
  // Finished POST streams are kept for replay, the oldest dropped first,
  // at most 64 of them and kept_bytes_ of events together.
  void trim_streams() {
    std::size_t finished_bytes = 0;
    for (const auto& [sid, s] : streams_)
      if (s != get_ && s->pending.empty()) finished_bytes += s->bytes;
    while (streams_.size() > 64 || finished_bytes > kept_bytes_) {
      auto it = streams_.begin();
      while (it != streams_.end() && (it->second == get_ || !it->second->pending.empty())) ++it;
      if (it == streams_.end()) break;
      finished_bytes -= it->second->bytes;
      streams_.erase(it);
    }
  }
  void touch() { last_used_ = Clock::now(); }

  const std::string id_;
  const std::size_t kept_events_;
  const std::size_t kept_bytes_;
  std::shared_ptr<Peer> peer_;
  mutable std::mutex mutex_;
  std::mutex receive_mutex_;
  std::condition_variable cv_;
  std::map<std::uint64_t, std::shared_ptr<Stream>> streams_;
  std::shared_ptr<Stream> get_;
  std::deque<std::string> waiting_;
  std::size_t waiting_bytes_ = 0;
  std::uint64_t next_stream_ = 1;
  std::uint64_t next_ticket_ = 1;
  bool closed_ = false;
  Clock::time_point last_used_ = Clock::now();
};

std::string sse_event(std::uint64_t stream, std::uint64_t n, const std::string& message) {
  return "id: " + std::to_string(stream) + "-" + std::to_string(n) + "\nevent: message\ndata: " + message + "\n\n";
}

// What the request handlers know of the connection they run on: they run on
// its worker thread, inside DoorServer::serve_request.
struct ConnState {
  Conn* conn = nullptr;
  bool close = false;  // end the connection after this response
};
thread_local ConnState* t_conn = nullptr;

// Marks the current connection to close after its response: a refused
// request's body is never read, so nothing after it can be parsed.
void close_connection() {
  if (t_conn) t_conn->close = true;
}

// getpeername/getsockname as text, for cpp-httplib's REMOTE_ADDR headers.
void socket_address(int fd, bool peer, std::string& ip, int& port) {
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

// A header's whole value. cpp-httplib URL-decodes header values and its
// get_header_value() returns them through a C string, so `%00` would cut
// "127.0.0.1%00.evil.com" to "127.0.0.1" there.
std::string header(const httplib::Request& req, const char* name) {
  const auto it = req.headers.find(name);
  return it == req.headers.end() ? std::string() : it->second;
}

// A client's requests reuse its connection.
constexpr std::size_t kRequestsPerConnection = 100000;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

class McpHttpServer final : public Server {
 public:
  McpHttpServer(Backend& backend, Options options) : backend_(backend), options_(std::move(options)) {
    limits_.max_head_bytes = options_.max_head_bytes;
    // Chunk framing on top of the body limit, with room for small chunks.
    limits_.max_body_raw_bytes = options_.max_body_bytes + options_.max_body_bytes / 8 + (64 << 10);
    limits_.head_timeout = std::chrono::milliseconds(options_.head_timeout_ms);
    limits_.request_timeout = std::chrono::milliseconds(options_.request_timeout_ms);
    limits_.io_timeout = std::chrono::milliseconds(options_.io_timeout_ms);
  }
  ~McpHttpServer() override { stop(); }

  bool bind(std::string* error) {
    GateOptions g;
    g.workers = options_.threads;
    g.max_pending = options_.max_pending;
    g.max_head_bytes = options_.max_head_bytes;
    g.head_timeout = std::chrono::milliseconds(options_.head_timeout_ms);
    g.max_kept = options_.max_kept;
    g.keep_alive = std::chrono::seconds(options_.keep_alive_timeout_s);
    try {
      gate_ = std::make_unique<Gate>(
          g, [this](int fd, std::string bytes, Clock::time_point start) { return serve(fd, std::move(bytes), start); });
    } catch (const std::system_error& e) {
      *error = e.what();
      return false;
    }
    server_.on_accept = [this](int fd) { gate_->admit(fd); };
    server_.new_task_queue = [] { return new InlineQueue; };
    // For the Keep-Alive response header; serve() keeps the connection.
    server_.set_keep_alive_timeout(options_.keep_alive_timeout_s);
    server_.set_keep_alive_max_count(kRequestsPerConnection);
    // Without it every small reply waits for the client's delayed ACK
    // (Nagle): 44 ms a request, measured.
    server_.set_tcp_nodelay(true);
    server_.set_payload_max_length(options_.max_body_bytes);
    server_.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return check(req, res); });
    // "Expect: 100-continue" is answered before routing: refused requests
    // get their refusal instead of an invitation to send the body.
    server_.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
      return check(req, res) == httplib::Server::HandlerResponse::Handled ? res.status : 100;
    });
    server_.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) { finish(res); });
    server_.Post("/mcp", [this](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) { post(req, res, reader); });
    server_.Get("/mcp", [this](const httplib::Request& req, httplib::Response& res) { get(req, res); });
    server_.Delete("/mcp", [this](const httplib::Request& req, httplib::Response& res) { del(req, res); });
    if (options_.port == 0) {
      const int p = server_.bind_to_any_port(options_.host);
      if (p <= 0) {
        *error = "cannot bind " + options_.host + ": " + std::strerror(errno);
        return false;
      }
      port_ = static_cast<std::uint16_t>(p);
    } else {
      if (!server_.bind_to_port(options_.host, options_.port)) {
        *error = "cannot bind " + options_.host + ":" + std::to_string(options_.port) + ": " + std::strerror(errno);
        return false;
      }
      port_ = options_.port;
    }
    server_.widen_backlog(1024);
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    janitor_ = std::thread([this] { expire_sessions(); });
    return true;
  }

  std::uint16_t port() const override { return port_; }

  std::size_t session_count() const override {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    stopping_ = true;
    janitor_cv_.notify_all();
    // Ending the sessions first wakes every stream waiting for events, so
    // the workers can finish.
    std::map<std::string, std::shared_ptr<Session>> sessions;
    {
      std::lock_guard lock(mutex_);
      sessions.swap(sessions_);
    }
    for (auto& [id, s] : sessions) s->close();
    server_.close_listener();
    if (listener_.joinable()) listener_.join();
    if (gate_) gate_->stop();
    if (janitor_.joinable()) janitor_.join();
  }

 private:
  // One connection, on a gate worker: its requests in turn, while the
  // client keeps it alive and every request is accepted.
  // Returns true to have the gate keep the connection for the next request.
  bool serve(int fd, std::string bytes, Clock::time_point start) {
    Conn conn(fd, std::move(bytes), limits_);
    ConnStream stream(conn);
    ConnState state;
    state.conn = &conn;
    t_conn = &state;
    // A client's next request usually follows at once; an idle connection
    // waits in the gate, without this thread.
    constexpr auto kLinger = std::chrono::milliseconds(50);
    bool keep = false;
    for (std::size_t n = 0; n < kRequestsPerConnection && !stopping_; ++n) {
      if (n > 0) {
        if (!conn.wait_readable(kLinger)) {
          keep = true;
          break;
        }
        start = Clock::now();
      }
      conn.begin_request(start);
      bool client_closes = false;
      const bool ok = server_.serve_request(stream, n + 1 == kRequestsPerConnection, client_closes);
      if (!ok || client_closes || state.close) break;
    }
    t_conn = nullptr;
    return keep && !stopping_;
  }

  // Every response, just before its head is written: why reading stopped
  // becomes the status, and a refusal or a failed read ends the connection.
  static void finish(httplib::Response& res) {
    ConnState* state = t_conn;
    if (!state) return;
    switch (state->conn->stop()) {
      case Conn::Stop::HeadTooLarge:
        res.status = 431;
        break;
      case Conn::Stop::BodyTooLarge:
        res.status = 413;
        break;
      case Conn::Stop::HeadTimeout:
      case Conn::Stop::RequestTimeout:
      case Conn::Stop::Idle:
        res.status = 408;
        break;
      default:
        break;
    }
    if (state->conn->stop() != Conn::Stop::None || res.status >= 400) state->close = true;
    if (state->close) {
      res.headers.erase("Keep-Alive");
      if (!res.has_header("Connection")) res.set_header("Connection", "close");
    }
  }

  httplib::Server::HandlerResponse check(const httplib::Request& req, httplib::Response& res) {
    auto refuse = [&](int status, int code, const std::string& message) {
      res.status = status;
      res.set_content(error_body(code, message), "application/json");
      close_connection();
      return httplib::Server::HandlerResponse::Handled;
    };
    if (req.path != "/mcp") return refuse(404, -32601, "not found: the MCP endpoint is /mcp");
    for (const char* h : {"Host", "Origin", "Authorization", "Content-Length", "Transfer-Encoding"})
      if (req.get_header_value_count(h) > 1)
        return refuse(400, -32600, std::string("bad request: more than one ") + h + " header");
    // An empty header is no header to cpp-httplib's parser: absent, as from
    // a client without a browser.
    if (req.has_header("Origin") && !loopback_origin(header(req, "Origin")))
      return refuse(
          403, -32600,
          "forbidden: Origin " + req.get_header_value("Origin") + " is not this machine (DNS rebinding is refused)");
    if (req.has_header("Host") && loopback_host(options_.host) && !loopback_authority(header(req, "Host")))
      return refuse(403, -32600, "forbidden: Host " + req.get_header_value("Host") + " is not a loopback name");
    const std::string auth = req.get_header_value("Authorization");
    const std::string expected = "Bearer " + options_.token;
    // Equal length first, then every byte: the time does not tell where a
    // guess went wrong.
    bool ok = auth.size() == expected.size();
    unsigned char diff = 0;
    for (std::size_t i = 0; ok && i < auth.size(); ++i) diff |= static_cast<unsigned char>(auth[i] ^ expected[i]);
    if (!ok || diff != 0) {
      res.set_header("WWW-Authenticate", "Bearer");
      return refuse(
          401, -32600,
          "unauthorized: send Authorization: Bearer <token>; the token is in the file icotes printed at start");
    }
    if (req.method != "GET" && req.method != "POST" && req.method != "DELETE") {
      res.set_header("Allow", "GET, POST, DELETE");
      return refuse(405, -32600, "method not allowed: /mcp takes GET, POST and DELETE");
    }
    // One answer per request: no multi-range copies of it.
    if (req.has_header("Range")) return refuse(416, -32600, "range requests are not served");
    // The body's framing (RFC 9112 section 6), judged before a byte of it
    // is read.
    const bool chunked = req.has_header("Transfer-Encoding");
    const bool sized = req.has_header("Content-Length");
    if (chunked && sized) return refuse(400, -32600, "bad request: both Content-Length and Transfer-Encoding");
    if (chunked && !iequals(req.get_header_value("Transfer-Encoding"), "chunked"))
      return refuse(501, -32600,
                    "transfer coding " + req.get_header_value("Transfer-Encoding") + " is not served (only chunked)");
    std::uint64_t length = 0;
    if (sized) {
      const std::string v = req.get_header_value("Content-Length");
      if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
        return refuse(400, -32600, "bad request: Content-Length " + v);
      length = std::stoull(v);
    }
    if (req.method == "POST") {
      if (!chunked && !sized) return refuse(411, -32600, "length required: POST a body with Content-Length or chunked");
      if (length > options_.max_body_bytes) return refuse(413, -32600, too_large());
    } else if (chunked || length > 0) {
      return refuse(400, -32600, "bad request: " + req.method + " /mcp takes no body");
    }
    const std::string version = req.get_header_value("MCP-Protocol-Version");
    if (!version.empty() && std::find(options_.protocol_versions.begin(), options_.protocol_versions.end(), version) ==
                                options_.protocol_versions.end())
      return refuse(400, -32600, "unsupported MCP-Protocol-Version " + version);
    return httplib::Server::HandlerResponse::Unhandled;
  }

  std::string too_large() const {
    return "payload too large: the body exceeds " + std::to_string(options_.max_body_bytes) +
           " bytes (icotes serve --max-frame-bytes)";
  }

  std::shared_ptr<Session> session_of(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.get_header_value("Mcp-Session-Id");
    if (id.empty()) {
      res.status = 400;
      res.set_content(error_body(-32600, "bad request: Mcp-Session-Id header required (initialize first)"),
                      "application/json");
      return nullptr;
    }
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->closed()) {
      res.status = 404;
      res.set_content(error_body(-32001, "session not found: it ended or never existed; initialize again"),
                      "application/json");
      return nullptr;
    }
    return it->second;
  }

  // The body, up to the limit after any content coding is undone, counted
  // as it arrives: nothing past the limit is kept. False with the response
  // set when it cannot be had.
  bool read_body(httplib::Response& res, const httplib::ContentReader& reader, std::string& body) {
    bool over = false;
    const std::size_t max = options_.max_body_bytes;
    const bool ok = reader([&](const char* data, std::size_t n) {
      if (n > max - body.size()) {
        over = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    const Conn::Stop stopped = t_conn ? t_conn->conn->stop() : Conn::Stop::None;
    if (ok && !over && stopped == Conn::Stop::None) return true;
    close_connection();
    if (over || stopped == Conn::Stop::BodyTooLarge) {
      res.status = 413;
      res.set_content(error_body(-32600, too_large()), "application/json");
    } else if (res.status == 415) {
      res.set_content(error_body(-32600, "unsupported Content-Encoding"), "application/json");
    } else {
      res.status = 400;
      res.set_content(error_body(-32600, "bad request: the body could not be read whole"), "application/json");
    }
    return false;
  }

  void post(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    const std::string type = req.get_header_value("Content-Type");
    if (type.find("application/json") == std::string::npos) {
      res.status = 415;
      res.set_content(error_body(-32600, "unsupported media type: POST application/json"), "application/json");
      close_connection();
      return;
    }
    std::string text;
    if (!read_body(res, reader, text)) return;
    // Depth-bounded: dump() and copies below recurse once per level.
    JsonParse parsed = parse_json(text);
    if (!parsed) {
      res.status = 400;
      res.set_content(error_body(-32700, "parse error: " + parsed.message), "application/json");
      return;
    }
    json body = std::move(parsed.value);
    std::vector<const json*> messages;
    if (body.is_array())
      for (const auto& m : body) messages.push_back(&m);
    else
      messages.push_back(&body);
    std::set<std::string> ids;
    bool initialize = false;
    std::string meta_version;  // MCP 2026-07-28: the revision each message names in _meta
    for (const json* message : messages) {
      const json& m = *message;
      if (!m.is_object()) continue;
      if (const auto id = m.find("id"); id != m.end() && !is_request_id(*id)) {
        // The answer would carry id null (JSON-RPC 2.0 section 5): a POST
        // waiting for this id would wait forever and hold its worker.
        res.status = 400;
        res.set_content(error_body(-32600, "invalid request: \"id\" must be a string, an integer or null"),
                        "application/json");
        return;
      }
      if (m.contains("method") && m.contains("id")) ids.insert(m["id"].dump());
      if (const auto mt = m.find("method"); mt != m.end() && *mt == "initialize") initialize = true;
      const json* meta = m.contains("params") && m["params"].is_object() && m["params"].contains("_meta")
                             ? &m["params"]["_meta"]
                             : nullptr;
      if (meta && meta->is_object() && meta->contains("io.modelcontextprotocol/protocolVersion") &&
          (*meta)["io.modelcontextprotocol/protocolVersion"].is_string())
        meta_version = (*meta)["io.modelcontextprotocol/protocolVersion"].get<std::string>();
    }
    std::shared_ptr<Session> session;
    // A stateless request (MCP 2026-07-28: no initialize, no session) gets
    // a session of its own that ends with its answer.
    const bool stateless = !initialize && !meta_version.empty() && !req.has_header("Mcp-Session-Id");
    if (stateless) {
      const std::string header = req.get_header_value("MCP-Protocol-Version");
      if (header != meta_version) {
        res.status = 400;
        res.set_content(error_body(-32020, "header mismatch: MCP-Protocol-Version is '" + header +
                                               "' but the request's _meta names '" + meta_version + "'"),
                        "application/json");
        return;
      }
      session = std::make_shared<Session>(random_hex(16), options_.kept_events, options_.kept_bytes);
      session->attach(backend_.open(session));
    } else if (initialize && !req.has_header("Mcp-Session-Id")) {
      std::shared_ptr<Session> evicted;
      {
        std::lock_guard lock(mutex_);
        if (stopped_) {
          res.status = 503;
          return;
        }
        // Each session is a Session of the workspace with its own state:
        // clients that never end their sessions must not pile them up. At
        // the cap, the session idle the longest makes room; when every one
        // is busy, the new one is refused.
        if (sessions_.size() + opening_ >= options_.max_sessions) evicted = evict_idle_session(lock);
        if (sessions_.size() + opening_ >= options_.max_sessions) {
          res.status = 503;
          res.set_content(error_body(-32000, "too many sessions: " + std::to_string(options_.max_sessions) +
                                                 " are open and busy; end one with DELETE /mcp, or retry"),
                          "application/json");
          return;
        }
        ++opening_;
      }
      if (evicted) {
        backend_.log(1, "http: session " + evicted->id() + " ended to make room (" +
                            std::to_string(options_.max_sessions) + " sessions at most)");
        evicted->close();
      }
      session = std::make_shared<Session>(random_hex(16), options_.kept_events, options_.kept_bytes);
      session->attach(backend_.open(session));
      std::lock_guard lock(mutex_);
      --opening_;
      if (stopped_) {
        res.status = 503;
        return;
      }
      sessions_[session->id()] = session;
    } else {
      session = session_of(req, res);
      if (!session) return;
    }
    if (!stateless) res.set_header("Mcp-Session-Id", session->id());
    // One line for the session's line framing: the body as sent when it is
    // one already (the usual case), else re-written compactly.
    const std::string compact = text.find_first_of("\r\n") == std::string::npos ? text : body.dump();
    if (ids.empty()) {
      session->receive(compact);
      if (stateless) session->close();
      res.status = 202;
      return;
    }
    const bool sse_ok = accepts(req, "text/event-stream");
    std::uint64_t ticket = 0;
    auto stream = session->open_post(ids, !sse_ok, ticket);
    session->receive(compact);
    // JSON when the answer is the first thing sent for this POST (or the
    // client takes no SSE); an SSE stream otherwise.
    constexpr auto kLong = std::chrono::hours(24);
    bool finished = false;
    auto first = session->next_events(*stream, 0, ticket, kLong, finished);
    while (first.empty() && !finished) first = session->next_events(*stream, 0, ticket, kLong, finished);
    if (!sse_ok || (finished && first.size() == 1)) {
      while (!finished) first = session->next_events(*stream, 0, ticket, kLong, finished);
      session->detach_reader(*stream, ticket);
      session->forget(*stream);
      if (stateless) session->close();
      if (first.empty()) {
        res.status = 503;
        res.set_content(error_body(-32603, "the session ended before answering"), "application/json");
        return;
      }
      res.set_content(first.back().second, "application/json");
      return;
    }
    serve_sse(res, session, stream, 0, ticket, stateless);
  }

  void get(const httplib::Request& req, httplib::Response& res) {
    if (!accepts(req, "text/event-stream")) {
      res.status = 406;
      res.set_content(error_body(-32600, "not acceptable: GET /mcp opens an SSE stream (Accept: text/event-stream)"),
                      "application/json");
      return;
    }
    auto session = session_of(req, res);
    if (!session) return;
    std::uint64_t after = 0;
    std::shared_ptr<Stream> stream;
    if (const std::string last = req.get_header_value("Last-Event-ID"); !last.empty())
      stream = session->find_stream(last, after);
    if (!stream) stream = session->open_get();
    serve_sse(res, session, stream, after, session->attach_reader(*stream), false);
  }

  // With mutex_ held (as `lock`): removes the session idle the longest, if
  // any, and returns it for the caller to close once the lock is released
  // (closing ends its requests through the executable).
  std::shared_ptr<Session> evict_idle_session(std::lock_guard<std::mutex>&) {
    auto oldest = sessions_.end();
    Clock::time_point oldest_use = Clock::time_point::max();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      const auto since = it->second->idle_since();
      if (since && *since < oldest_use) {
        oldest_use = *since;
        oldest = it;
      }
    }
    if (oldest == sessions_.end()) return nullptr;
    auto session = oldest->second;
    sessions_.erase(oldest);
    return session;
  }

  void del(const httplib::Request& req, httplib::Response& res) {
    auto session = session_of(req, res);
    if (!session) return;
    {
      std::lock_guard lock(mutex_);
      sessions_.erase(session->id());
    }
    session->close();
    res.status = 200;
  }

  // Streams the events of `stream` after `after` until this reader is done
  // or the client goes; a comment every 15 s finds clients that went
  // silently.
  // A stateless request's session ends with its stream (`ephemeral`).
  void serve_sse(httplib::Response& res, const std::shared_ptr<Session>& session, const std::shared_ptr<Stream>& stream,
                 std::uint64_t after, std::uint64_t ticket, bool ephemeral = false) {
    res.set_header("Cache-Control", "no-cache");
    auto last = std::make_shared<std::uint64_t>(after);
    res.set_chunked_content_provider(
        "text/event-stream",
        [session, stream, last, ticket](std::size_t, httplib::DataSink& sink) {
          bool finished = false;
          auto events = session->next_events(*stream, *last, ticket, std::chrono::seconds(15), finished);
          if (events.empty() && !finished) {
            static constexpr char ping[] = ": keep-alive\n\n";
            return sink.write(ping, sizeof ping - 1);
          }
          for (const auto& [n, message] : events) {
            const std::string e = sse_event(stream->id, n, message);
            if (!sink.write(e.data(), e.size())) return false;  // kept for Last-Event-ID
            *last = n;
          }
          if (finished) sink.done();
          return true;
        },
        [session, stream, ticket, ephemeral](bool) {
          session->detach_reader(*stream, ticket);
          if (ephemeral) session->close();
        });
  }

  void expire_sessions() {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      janitor_cv_.wait_for(lock, std::chrono::seconds(30));
      std::vector<std::shared_ptr<Session>> ended;
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->second->idle_for(options_.session_idle_ms)) {
          ended.push_back(it->second);
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
      lock.unlock();
      for (auto& s : ended) {
        backend_.log(1, "http: session " + s->id() + " ended after being idle");
        s->close();
      }
      lock.lock();
    }
  }

  Backend& backend_;
  Options options_;
  DoorServer server_;
  std::uint16_t port_ = 0;
  std::thread listener_;
  std::thread janitor_;
  std::condition_variable janitor_cv_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  std::size_t opening_ = 0;  // sessions being created, counted against max_sessions
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};  // stopped_, read by workers without the lock
  ConnLimits limits_;
  std::unique_ptr<Gate> gate_;
};

std::unique_ptr<Server> listen(Backend& backend, const Options& options, std::string* error) {
  auto server = std::make_unique<McpHttpServer>(backend, options);
  if (!server->bind(error)) return nullptr;
  return server;
}

constexpr ModuleApi kApi{ModuleApi::kAbiVersion, &listen};

}  // namespace
}  // namespace icotes::http

extern "C" __attribute__((visibility("default"))) const icotes::http::ModuleApi* icotes_http_module() {
  return &icotes::http::kApi;
}
