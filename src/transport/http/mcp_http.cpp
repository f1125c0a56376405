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
//
// Files: this one is the server (the listener, the gate, the routes and
// the session table); request_check.cpp judges each head (Origin, Host,
// token, framing), envelope.cpp reads JSON-RPC envelopes, sse_session.cpp
// is one session and its SSE streams, door_server.hpp puts cpp-httplib on
// the gate's connections.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "door_server.hpp"
#include "envelope.hpp"
#include "gate.hpp"
#include "icotes/http_module.hpp"
#include "icotes/json_parse.hpp"
#include "icotes/random_token.hpp"  // compiled into the module (CMakeLists.txt)
#include "request_check.hpp"
#include "sse_session.hpp"

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

// A header's whole value. cpp-httplib URL-decodes header values and its
// get_header_value() returns them through a C string, so `%00` would cut
// "127.0.0.1%00.evil.com" to "127.0.0.1" there.
std::string header(const httplib::Request& req, const char* name) {
  const auto it = req.headers.find(name);
  return it == req.headers.end() ? std::string() : it->second;
}

// A client's requests reuse its connection.
constexpr std::size_t kRequestsPerConnection = 100000;

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
    wire_routes();
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
  // cpp-httplib's settings and handlers: accepted sockets go to the gate,
  // every head is checked before routing (check), every response passes
  // finish, and /mcp takes POST, GET and DELETE.
  void wire_routes() {
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
  }

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

  // Before routing, and for "Expect: 100-continue": a refused request gets
  // its refusal and its connection closes unread (request_check.hpp).
  httplib::Server::HandlerResponse check(const httplib::Request& req, httplib::Response& res) {
    HeadView head;
    head.method = req.method;
    head.path = req.path;
    head.count = [&req](const char* name) { return req.get_header_value_count(name); };
    head.value = [&req](const char* name) { return header(req, name); };
    const auto refusal = check_head(head, options_);
    if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
    if (!refusal->header.empty()) res.set_header(refusal->header.c_str(), refusal->header_value);
    res.status = refusal->status;
    res.set_content(error_body(refusal->code, refusal->message), "application/json");
    close_connection();
    return httplib::Server::HandlerResponse::Handled;
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
      res.set_content(error_body(-32600, too_large_message(options_.max_body_bytes)), "application/json");
    } else if (res.status == 415) {
      res.set_content(error_body(-32600, "unsupported Content-Encoding"), "application/json");
    } else {
      res.status = 400;
      res.set_content(error_body(-32600, "bad request: the body could not be read whole"), "application/json");
    }
    return false;
  }

  // Long but flat: the POST route's steps in order (media type, body, parse,
  // session, answer), each a few lines.
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
    const json body = std::move(parsed.value);
    const PostMessages messages = read_post(body);
    if (messages.bad_id) {
      res.status = 400;
      res.set_content(error_body(-32600, "invalid request: \"id\" must be a string, an integer or null"),
                      "application/json");
      return;
    }
    // A stateless request (MCP 2026-07-28: no initialize, no session) gets
    // a session of its own that ends with its answer.
    const bool named = req.has_header("Mcp-Session-Id");
    const bool stateless = !messages.initialize && !messages.meta_version.empty() && !named;
    std::shared_ptr<Session> session;
    if (stateless)
      session = open_stateless(req, res, messages.meta_version);
    else if (messages.initialize && !named)
      session = open_session(res);
    else
      session = session_of(req, res);
    if (!session) return;
    if (!stateless) res.set_header("Mcp-Session-Id", session->id());
    // One line for the session's line framing: the body as sent when it is
    // one already (the usual case), else re-written compactly.
    const std::string compact = text.find_first_of("\r\n") == std::string::npos ? text : body.dump();
    if (messages.ids.empty()) {
      session->receive(compact);
      if (stateless) session->close();
      res.status = 202;
      return;
    }
    answer(req, res, session, messages.ids, compact, stateless);
  }

  // A 2026-07-28 request's own session, once its MCP-Protocol-Version
  // header agrees with the revision its _meta names (else 400, -32020).
  std::shared_ptr<Session> open_stateless(const httplib::Request& req, httplib::Response& res,
                                          const std::string& meta_version) {
    const std::string header = req.get_header_value("MCP-Protocol-Version");
    if (header != meta_version) {
      res.status = 400;
      res.set_content(error_body(-32020, "header mismatch: MCP-Protocol-Version is '" + header +
                                             "' but the request's _meta names '" + meta_version + "'"),
                      "application/json");
      return nullptr;
    }
    auto session = std::make_shared<Session>(random_hex(16), options_.kept_events, options_.kept_bytes);
    session->attach(backend_.open(session));
    return session;
  }

  // An initialize without a session: a new one in the table, or null with
  // 503 when stopping or when max_sessions are open and busy.
  std::shared_ptr<Session> open_session(httplib::Response& res) {
    std::shared_ptr<Session> evicted;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) {
        res.status = 503;
        return nullptr;
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
        return nullptr;
      }
      ++opening_;
    }
    if (evicted) {
      backend_.log(1, "http: session " + evicted->id() + " ended to make room (" +
                          std::to_string(options_.max_sessions) + " sessions at most)");
      evicted->close();
    }
    auto session = std::make_shared<Session>(random_hex(16), options_.kept_events, options_.kept_bytes);
    session->attach(backend_.open(session));
    std::lock_guard lock(mutex_);
    --opening_;
    if (stopped_) {
      res.status = 503;
      return nullptr;
    }
    sessions_[session->id()] = session;
    return session;
  }

  // A POST with requests: JSON when the answer is the first thing sent for
  // it (or the client takes no SSE), an SSE stream otherwise.
  void answer(const httplib::Request& req, httplib::Response& res, const std::shared_ptr<Session>& session,
              std::set<std::string> ids, const std::string& compact, bool stateless) {
    const bool sse_ok = accepts(req, "text/event-stream");
    std::uint64_t ticket = 0;
    auto stream = session->open_post(std::move(ids), !sse_ok, ticket);
    session->receive(compact);
    constexpr auto kLong = std::chrono::hours(24);
    bool finished = false;
    auto first = session->next_events(*stream, 0, ticket, kLong, finished);
    while (first.empty() && !finished) first = session->next_events(*stream, 0, ticket, kLong, finished);
    if (sse_ok && !(finished && first.size() == 1)) return serve_sse(res, session, stream, 0, ticket, stateless);
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
