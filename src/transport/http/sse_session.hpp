// One MCP session of the HTTP door and its SSE streams: where each server
// message goes (the POST stream waiting for its id, the GET stream, or a
// bounded wait for one), what each stream keeps for Last-Event-ID, and the
// waiting of the HTTP responses that read them. Free of cpp-httplib.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gate.hpp"  // Clock
#include "icotes/http_module.hpp"

namespace icotes::http {

/// A run of SSE events: a POST's answer or the session's GET stream.
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
  /// `kept_events` and `kept_bytes` bound what each stream keeps for
  /// Last-Event-ID, and what finished streams and undelivered messages keep
  /// together.
  Session(std::string id, std::size_t kept_events, std::size_t kept_bytes)
      : id_(std::move(id)), kept_events_(kept_events), kept_bytes_(kept_bytes) {}

  const std::string& id() const { return id_; }
  void attach(std::shared_ptr<Peer> peer) { peer_ = std::move(peer); }

  /// Server → client: a response goes to the stream waiting for its id; any
  /// other message to the newest POST stream still waiting (it belongs to
  /// that exchange), else the GET stream, else it waits for one.
  void send(std::string message) override;

  /// A POST with requests: the stream their answers will go to, read by the
  /// caller (reader ticket in `ticket`).
  std::shared_ptr<Stream> open_post(std::set<std::string> ids, bool json_only, std::uint64_t& ticket);

  /// Makes the caller the reader of `s`; whoever read it before stops.
  std::uint64_t attach_reader(Stream& s);

  /// The GET stream (a new one replaces the old, whose reader stops).
  std::shared_ptr<Stream> open_get();

  /// Last-Event-ID "<stream>-<n>": that stream and the number after which
  /// to replay; null when the stream is no longer kept.
  std::shared_ptr<Stream> find_stream(const std::string& last_event_id, std::uint64_t& after);

  /// Waits for events of `s` after `after`, up to `wait`, for the reader
  /// `ticket`; returns them, and whether this reader is done (a POST
  /// answered, the session ended, another reader took the stream over).
  std::vector<std::pair<std::uint64_t, std::string>> next_events(Stream& s, std::uint64_t after, std::uint64_t ticket,
                                                                 std::chrono::milliseconds wait, bool& finished);

  /// The reader `ticket` went (finished, or its client dropped the
  /// connection); the stream stays for Last-Event-ID.
  void detach_reader(Stream& s, std::uint64_t ticket);

  /// A POST answered with plain JSON: its events carried no ids, so nothing
  /// can resume it and nothing of it is kept.
  void forget(const Stream& s);

  /// Client → server, in order.
  void receive(std::string message);

  void close();
  bool closed() const;

  /// Idle: no request for `ms` and no stream being read.
  bool idle_for(int ms) const;

  /// When it was last used, if nothing waits on it now (no request being
  /// answered, no stream being read).
  std::optional<Clock::time_point> idle_since() const;

 private:
  void append(Stream& s, std::string message);
  // Finished POST streams are kept for replay, the oldest dropped first,
  // at most 64 of them and kept_bytes_ of events together.
  void trim_streams();
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

/// One SSE event carrying `message`, with the id "<stream>-<n>" a client
/// sends back as Last-Event-ID.
std::string sse_event(std::uint64_t stream, std::uint64_t n, const std::string& message);

}  // namespace icotes::http
