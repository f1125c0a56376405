// JSON-RPC 2.0 (https://www.jsonrpc.org/specification) over any byte
// transport: framing detection, requests, notifications, batches, responses
// to server→client requests, cancellation tokens and out-of-order replies.
// Nothing here knows LSP or MCP; a MessageHandler (a dialect session) does.
//
// Limits on what a peer sends (answered, and the connection lives on):
//  - a frame above max_frame_bytes (default kDefaultMaxFrameBytes, 64 MiB)
//    is skipped unbuffered and answered -32600 (framing.hpp);
//  - a text nested deeper than kMaxJsonDepth (512 levels, json_parse.hpp)
//    or that is not JSON is answered -32700, with the request's id when its
//    start names one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "icotes/cancellation.hpp"
#include "icotes/framing.hpp"
#include "icotes/json.hpp"
#include "icotes/result.hpp"
#include "icotes/transport.hpp"

namespace icotes {

class Connection;

/// One incoming request; answer it exactly once with reply() or fail().
/// Copies share the same request. Dropping every copy unanswered answers
/// -32603 so a client never waits forever.
class Request {
 public:
  struct Batch;
  Request(std::shared_ptr<Connection> conn, json id, std::string method, json params,
          std::shared_ptr<Batch> batch = nullptr);

  const json& id() const;
  const std::string& method() const;
  const json& params() const;
  const CancellationToken& token() const;
  Connection& connection() const;

  void reply(const json& result) const;
  void fail(const Error& error) const;
  /// Marks the request answered without sending anything (MCP: a cancelled
  /// request gets no response).
  void drop() const;
  bool answered() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

/// Receives decoded messages. Called on the connection's reading thread, in
/// arrival order; a handler that takes time moves the work elsewhere.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  virtual void on_request(Request request) = 0;
  virtual void on_notification(const std::string& method, const json& params) = 0;
  /// The peer closed the connection (EOF or error).
  virtual void on_close() {}
  /// A frame or message was refused (too large, not JSON, nested too deep,
  /// not a valid request) and answered with `error` (or, for a
  /// notification, dropped). A handler that wants a first message of a
  /// certain kind (tcp.hpp's authentication) closes the connection here.
  virtual void on_refused(const Error& /*error*/) {}
};

/// Told which requests of a connection wait for an answer, for a process
/// that must answer them should this one die (the launcher of a client
/// attached to the shared daemon: daemon.hpp). The answers themselves are
/// reported through Transport::write_answer(). Calls come from any thread.
class RequestLedger {
 public:
  virtual ~RequestLedger() = default;
  /// A request was read (`id_json`: its id's JSON text); `framing`: the
  /// connection's.
  virtual void opened(std::string_view id_json, Framing framing) = 0;
  /// It gets no answer (MCP: a cancelled request).
  virtual void dropped(std::string_view id_json) = 0;
};

/// Callback for the response to a server→client request.
using ResponseCallback = std::function<void(Result<json>)>;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Transport> transport, std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  void set_handler(MessageHandler* handler) { handler_ = handler; }
  /// Reports the requests read and dropped from now on (before the first
  /// bytes are fed).
  void set_ledger(std::shared_ptr<RequestLedger> ledger) { ledger_ = std::move(ledger); }

  /// Feeds bytes read from the transport. Not thread-safe: one reader.
  void on_bytes(std::string_view data);
  /// The transport reached end of input: fails pending server→client
  /// requests and tells the handler. In-flight requests still get answers.
  void on_eof();
  /// Cancels every in-flight request (the peer is gone). Also done when a
  /// write fails.
  void cancel_all();
  /// Incoming requests not answered yet.
  std::size_t in_flight_count() const;

  /// Sends a notification.
  void notify(std::string_view method, const json& params);
  /// Sends a server→client request; `callback` runs with the result, the
  /// error, or a -32800 error when the connection closes first. Returns the
  /// request's id (null when the connection is closed), e.g. to send
  /// `$/cancelRequest` for it.
  json call(std::string_view method, const json& params, ResponseCallback callback);
  /// Cancels the in-flight incoming request `id`; false when unknown.
  bool cancel_request(const json& id);

  /// Changes the size limit (bytes) for the frames read from now on. Only
  /// on the reading thread (from on_bytes() or a handler it calls).
  void set_max_frame_bytes(std::size_t max) { reader_.set_max_frame_bytes(max); }

  Framing framing() const { return reader_.framing(); }
  bool closed() const { return closed_.load(); }
  Transport& transport() { return *transport_; }

  /// Writes one message body (already serialised JSON) framed for the peer.
  void send_raw(std::string body);
  /// Writes one message body given as pieces (written in order, not joined)
  /// framed for the peer.
  void send_pieces(std::span<const std::string_view> body);

 private:
  friend class Request;
  using Batch = Request::Batch;
  /// Writes a response whose raw_json_source() parts are produced while it
  /// goes out (Transport::write_produced).
  void send_produced(std::string_view body, const std::vector<RawSplice>& splices,
                     std::span<const std::string> answered);
  void send_frame(std::span<const std::string_view> body, std::span<const std::string> answered);
  void handle_body(std::string&& body);
  void handle_value(json&& message, const std::shared_ptr<Batch>& batch);
  void handle_response(const json& message);
  /// `tracked`: the answer to a request read (and reported to the ledger),
  /// not to a message refused before it became one.
  void send_response(const json& id, const json* result, const Error* error, const std::shared_ptr<Batch>& batch,
                     bool tracked = false);
  void finish_request(const json& id);
  void flush_batch(const std::shared_ptr<Batch>& batch);

  std::shared_ptr<Transport> transport_;
  std::shared_ptr<RequestLedger> ledger_;
  MessageHandler* handler_ = nullptr;
  FrameReader reader_;
  std::atomic<bool> closed_{false};

  mutable std::mutex mutex_;                                      // guards the maps below
  std::unordered_map<std::string, CancellationToken> in_flight_;  // key: id dumped
  std::unordered_map<std::string, ResponseCallback> pending_;     // server→client
  std::uint64_t next_id_ = 1;
  bool eof_ = false;
};

/// JSON-RPC error object (section 5.1).
json error_object(const Error& error);

}  // namespace icotes
