#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "icotes/json_parse.hpp"
#include "icotes/rpc.hpp"

namespace icotes {

json error_object(const Error& error) {
  json e = {{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) e["data"] = error.data;
  return e;
}

// A batch answers once, as an array, when every request in it has answered
// (JSON-RPC 2.0 section 6). Notifications in a batch add nothing.
struct Request::Batch {
  std::mutex mutex;
  std::vector<std::string> replies;   // serialised response objects
  std::vector<std::string> answered;  // ids (JSON text) of the requests those replies answer
  std::size_t outstanding = 0;
  bool sealed = false;  // all members dispatched
};

struct Request::State {
  std::shared_ptr<Connection> conn;
  json id;
  std::string method;
  json params;
  CancellationToken token;
  std::shared_ptr<Batch> batch;
  std::atomic<bool> answered{false};

  ~State() {
    if (!answered.load() && conn) {
      const Error e = make_error(error_code::kInternalError, "internal error: request " + method + " was not answered");
      conn->send_response(id, nullptr, &e, batch, true);
      conn->finish_request(id);
    }
  }
};

Request::Request(std::shared_ptr<Connection> conn, json id, std::string method, json params,
                 std::shared_ptr<Batch> batch)
    : state_(std::make_shared<State>()) {
  state_->batch = std::move(batch);
  state_->conn = std::move(conn);
  state_->id = std::move(id);
  state_->method = std::move(method);
  state_->params = std::move(params);
}

const json& Request::id() const { return state_->id; }
const std::string& Request::method() const { return state_->method; }
const json& Request::params() const { return state_->params; }
const CancellationToken& Request::token() const { return state_->token; }
Connection& Request::connection() const { return *state_->conn; }

void Request::reply(const json& result) const {
  if (state_->answered.exchange(true)) return;
  state_->conn->send_response(state_->id, &result, nullptr, state_->batch, true);
  state_->conn->finish_request(state_->id);
}

void Request::fail(const Error& error) const {
  if (state_->answered.exchange(true)) return;
  state_->conn->send_response(state_->id, nullptr, &error, state_->batch, true);
  state_->conn->finish_request(state_->id);
}

void Request::drop() const {
  if (state_->answered.exchange(true)) return;
  state_->conn->send_response(state_->id, nullptr, nullptr, state_->batch, true);
  state_->conn->finish_request(state_->id);
}

bool Request::answered() const { return state_->answered.load(); }

Connection::Connection(std::shared_ptr<Transport> transport, std::size_t max_frame_bytes)
    : transport_(std::move(transport)), reader_(max_frame_bytes) {}

void Connection::on_bytes(std::string_view data) {
  reader_.feed(
      data, [this](std::string&& body) { handle_body(std::move(body)); },
      [this](const FrameError& err) {
        spdlog::warn("framing: {}", err.message);
        const int code = err.kind == FrameError::Kind::TooLarge ? error_code::kInvalidRequest : error_code::kParseError;
        const Error e = make_error(code, err.message);
        send_response(err.id, nullptr, &e, nullptr);
        if (handler_) handler_->on_refused(e);
      });
}

void Connection::on_eof() {
  // Input ended; replies to requests already read may still be written
  // (a script that closes stdin after its last request still gets answers).
  std::unordered_map<std::string, ResponseCallback> pending;
  {
    std::lock_guard lock(mutex_);
    pending.swap(pending_);
    eof_ = true;
  }
  for (auto& [id, cb] : pending)
    cb(make_error(error_code::kRequestCancelled, "connection closed before the client answered"));
  if (handler_) handler_->on_close();
}

std::size_t Connection::in_flight_count() const {
  std::lock_guard lock(mutex_);
  return in_flight_.size();
}

void Connection::cancel_all() {
  std::lock_guard lock(mutex_);
  for (auto& [id, token] : in_flight_) token.cancel();
}

void Connection::handle_body(std::string&& body) {
  // One pass builds the value and bounds its depth (json_parse.hpp): a
  // message nested deeper than kMaxJsonDepth would overflow the stack of
  // whatever copies or dumps it later. A number no double holds ("1e400")
  // is refused too (RFC 8259 sections 6 and 9 let a parser limit both);
  // either way the text is refused as a whole, never half-read.
  JsonParse parsed = parse_json(body);
  if (!parsed) {
    const Error err = make_error(error_code::kParseError, "parse error: " + parsed.message);
    send_response(sniff_request_id(body), nullptr, &err, nullptr);
    if (handler_) handler_->on_refused(err);
    return;
  }
  json& message = parsed.value;
  if (!message.is_array()) {
    handle_value(std::move(message), nullptr);
    return;
  }
  if (message.empty()) {
    const Error err = make_error(error_code::kInvalidRequest, "invalid request: empty batch");
    send_response(nullptr, nullptr, &err, nullptr);
    if (handler_) handler_->on_refused(err);
    return;
  }
  auto batch = std::make_shared<Batch>();
  for (auto& item : message) handle_value(std::move(item), batch);
  {
    std::lock_guard lock(batch->mutex);
    batch->sealed = true;
    if (batch->outstanding != 0) return;  // the last reply to land sends the batch
  }
  flush_batch(batch);
}

void Connection::flush_batch(const std::shared_ptr<Batch>& batch) {
  std::string out;
  std::vector<std::string> answered;
  {
    std::lock_guard lock(batch->mutex);
    if (batch->replies.empty()) return;  // only notifications: nothing is sent
    out = "[";
    for (std::size_t i = 0; i < batch->replies.size(); ++i) {
      if (i) out += ',';
      out += batch->replies[i];
    }
    out += ']';
    batch->replies.clear();
    answered.swap(batch->answered);
  }
  const std::string_view piece = out;
  send_frame(std::span<const std::string_view>(&piece, 1), answered);
}

// JSON-RPC 2.0's checks of a message (object, id, version, method, params) in order, each an early refusal, then the
// one hand-off to the handler.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
void Connection::handle_value(json&& message, const std::shared_ptr<Batch>& batch) {
  auto invalid = [&](const json& id, const std::string& why) {
    const Error err = make_error(error_code::kInvalidRequest, "invalid request: " + why);
    if (batch) {
      std::lock_guard lock(batch->mutex);
      ++batch->outstanding;
    }
    send_response(id, nullptr, &err, batch);
    if (handler_) handler_->on_refused(err);
  };
  if (!message.is_object()) return invalid(nullptr, "a message must be a JSON object");
  json id = nullptr;
  bool has_id = false;
  if (auto it = message.find("id"); it != message.end()) {
    if (!is_request_id(*it)) return invalid(nullptr, "\"id\" must be a string, an integer or null");
    id = *it;
    has_id = true;
  }
  auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0") return invalid(id, "\"jsonrpc\" must be \"2.0\"");
  auto method = message.find("method");
  if (method == message.end()) {
    if (has_id && (message.contains("result") || message.contains("error"))) return handle_response(message);
    return invalid(id, "missing \"method\"");
  }
  if (!method->is_string()) return invalid(id, "\"method\" must be a string");
  json params = json::object();
  if (auto p = message.find("params"); p != message.end()) {
    if (!p->is_object() && !p->is_array()) return invalid(id, "\"params\" must be an object or an array");
    params = std::move(*p);  // moved, not copied: a request's params can be megabytes
  }
  if (!has_id) {
    if (!handler_) return;
    try {
      handler_->on_notification(method->get<std::string>(), params);
    } catch (const std::exception& e) {
      // A member of the wrong type that no schema checked: the message is
      // dropped, the connection lives (a notification has no answer).
      spdlog::warn("notification {} dropped: {}", method->get<std::string>(), e.what());
    }
    return;
  }
  Request request(shared_from_this(), id, method->get<std::string>(), std::move(params), batch);
  if (batch) {
    std::lock_guard lock(batch->mutex);
    ++batch->outstanding;
  }
  {
    std::string key = id.dump();
    if (ledger_) ledger_->opened(key, reader_.framing());
    std::lock_guard lock(mutex_);
    in_flight_[std::move(key)] = request.token();
  }
  if (handler_) {
    const Request keep = request;  // shares the state: answers if the handler throws
    try {
      handler_->on_request(std::move(request));
    } catch (const json::exception& e) {
      keep.fail(make_error(error_code::kInvalidParams, keep.method() + ": " + e.what()));
    } catch (const std::exception& e) {
      keep.fail(make_error(error_code::kInternalError, keep.method() + ": " + e.what()));
    }
  } else {
    request.fail(make_error(error_code::kMethodNotFound, "no handler"));
  }
}

void Connection::handle_response(const json& message) {
  ResponseCallback cb;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(message["id"].dump());
    if (it == pending_.end()) {
      spdlog::debug("response to unknown request id {}", message["id"].dump());
      return;
    }
    cb = std::move(it->second);
    pending_.erase(it);
  }
  try {
    if (auto err = message.find("error"); err != message.end() && err->is_object()) {
      // Members of the wrong type are read as absent, never thrown on.
      cb(make_error(member_or(*err, "code", error_code::kInternalError),
                    member_or(*err, "message", std::string("error")), member_or(*err, "data", json())));
    } else {
      cb(member_or(message, "result", json()));
    }
  } catch (const std::exception& e) {
    // A callback that read the client's answer without checking its types.
    spdlog::warn("answer to request {} not taken: {}", message["id"].dump(), e.what());
  }
}

namespace {

// The JSON-RPC response to request `id` ("" when neither a result nor an error: no answer). With `splices`,
// raw_json() parts of the result (pages of search results, often megabytes) are left out of the body and
// listed there, to be written from the result itself; without, they are copied in.
std::string response_body(const json& id, const json* result, const Error* error, std::vector<RawSplice>* splices) {
  std::string body;
  if (!result && !error) return body;
  body = "{\"jsonrpc\":\"2.0\",\"id\":";
  write_json(body, id);
  if (result) {
    body += ",\"result\":";
    if (splices)
      write_json(body, *result, *splices);
    else
      write_json(body, *result);
  } else {
    body += ",\"error\":";
    write_json(body, error_object(*error));
  }
  body += '}';
  return body;
}

// The body with its splices' texts in place, as pieces to write in order (nothing copied).
std::vector<std::string_view> spliced_pieces(std::string_view body, const std::vector<RawSplice>& splices) {
  std::vector<std::string_view> pieces;
  pieces.reserve(2 * splices.size() + 1);
  std::size_t at = 0;
  for (const RawSplice& s : splices) {
    pieces.push_back(body.substr(at, s.offset - at));
    pieces.push_back(s.text);
    at = s.offset;
  }
  pieces.push_back(body.substr(at));
  return pieces;
}

}  // namespace

void Connection::send_response(const json& id, const json* result, const Error* error,
                               const std::shared_ptr<Batch>& batch, bool tracked) {
  std::vector<RawSplice> splices;
  std::string body = response_body(id, result, error, batch ? nullptr : &splices);
  // The id the ledger knows this request by (none for a message refused
  // before it became a request).
  std::string key;
  if (tracked && ledger_) {
    key = id.dump();
    if (body.empty()) ledger_->dropped(key);  // no answer will come
  }
  const std::span<const std::string> answered(&key, key.empty() || body.empty() ? 0 : 1);
  if (!batch) {
    if (body.empty()) return;
    if (splices.empty()) {
      const std::string_view piece = body;
      return send_frame(std::span<const std::string_view>(&piece, 1), answered);
    }
    if (std::any_of(splices.begin(), splices.end(), [](const RawSplice& s) { return s.source != nullptr; }))
      return send_produced(body, splices, answered);
    return send_frame(spliced_pieces(body, splices), answered);
  }
  {
    std::lock_guard lock(batch->mutex);
    if (!body.empty()) batch->replies.push_back(std::move(body));
    if (!answered.empty()) batch->answered.push_back(std::move(key));
    if (--batch->outstanding != 0 || !batch->sealed) return;
  }
  flush_batch(batch);
}

void Connection::finish_request(const json& id) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(id.dump());
}

void Connection::notify(std::string_view method, const json& params) {
  std::string body = "{\"jsonrpc\":\"2.0\",\"method\":";
  append_json_string(body, method);
  body += ",\"params\":";
  write_json(body, params);
  body += '}';
  send_raw(std::move(body));
}

json Connection::call(std::string_view method, const json& params, ResponseCallback callback) {
  std::string id;
  {
    std::lock_guard lock(mutex_);
    if (closed_.load() || eof_) {
      callback(make_error(error_code::kRequestCancelled, "connection closed"));
      return nullptr;
    }
    id = "icotes-" + std::to_string(next_id_++);
    pending_[json(id).dump()] = std::move(callback);
  }
  std::string body = "{\"jsonrpc\":\"2.0\",\"id\":";
  append_json_string(body, id);
  body += ",\"method\":";
  append_json_string(body, method);
  body += ",\"params\":";
  write_json(body, params);
  body += '}';
  send_raw(std::move(body));
  return id;
}

bool Connection::cancel_request(const json& id) {
  std::lock_guard lock(mutex_);
  auto it = in_flight_.find(id.dump());
  if (it == in_flight_.end()) return false;
  it->second.cancel();
  return true;
}

// The signature is in include/rpc/icotes/rpc.hpp, which most of the tree includes; callers move their body in, so the
// by-value copy is a move.
// NOLINTNEXTLINE(performance-unnecessary-value-param): by value, as said above
void Connection::send_raw(std::string body) {
  const std::string_view piece = body;
  send_pieces(std::span<const std::string_view>(&piece, 1));
}

// One frame written through one callback: the header, the body's text between splices and each splice streamed from its
// source, stopping at the first failed write.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): kept whole, as said above
void Connection::send_produced(std::string_view body, const std::vector<RawSplice>& splices,
                               std::span<const std::string> answered) {
  std::size_t size = body.size();
  for (const RawSplice& s : splices) size += s.source ? s.source->size() : s.text.size();
  const bool content_length = reader_.framing() == Framing::ContentLength;
  const std::string header = content_length ? "Content-Length: " + std::to_string(size) + "\r\n\r\n" : std::string();
  const std::size_t frame_bytes = header.size() + size + (content_length ? 0 : 1);
  const bool ok = transport_->write_produced_answer(
      [&](const Transport::Emit& emit) {
        if (!header.empty() && !emit(header)) return;
        std::size_t at = 0;
        for (const RawSplice& s : splices) {
          if (!emit(body.substr(at, s.offset - at))) return;
          at = s.offset;
          if (s.source) {
            bool alive = true;
            s.source->write([&](std::string_view piece) {
              if (alive) alive = emit(piece);
            });
            if (!alive) return;
          } else if (!emit(s.text)) {
            return;
          }
        }
        if (emit(body.substr(at)) && !content_length) emit("\n");
      },
      frame_bytes, answered);
  if (!ok && !closed_.exchange(true)) cancel_all();  // the peer is gone: stop its work
}

void Connection::send_pieces(std::span<const std::string_view> body) { send_frame(body, {}); }

void Connection::send_frame(std::span<const std::string_view> body, std::span<const std::string> answered) {
  // The frame is the header or the line break around the pieces, written
  // with them (no copy of a large body to add one byte).
  std::vector<std::string_view> frame;
  frame.reserve(body.size() + 1);
  std::string header;
  if (reader_.framing() == Framing::ContentLength) {
    std::size_t size = 0;
    for (std::string_view p : body) size += p.size();
    header = "Content-Length: " + std::to_string(size) + "\r\n\r\n";
    frame.push_back(header);
    frame.insert(frame.end(), body.begin(), body.end());
  } else {
    frame.insert(frame.end(), body.begin(), body.end());
    frame.push_back("\n");
  }
  if (answered.empty() ? transport_->write_pieces(frame) : transport_->write_answer(frame, answered)) return;
  if (!closed_.exchange(true)) cancel_all();  // the peer is gone: stop its work
}

}  // namespace icotes
