// The event broker (docs/ARCHITECTURE.md#events): services publish events
// on topics; clients subscribe with patterns and get them as `icotes/event`
// notifications (src/ops/events_ops.cpp).
//
// Topics are '/'-separated segments: "files/changed", "git/head",
// "terminal/3/output", "permissions/asked". In a pattern, "*" matches exactly
// one segment and "**" any number of segments, none included
// ("terminal/*/output", "terminal/**", "**").
//
// Each topic numbers its events 1, 2, 3, ... (per-topic sequence numbers);
// the broker keeps a bounded history per topic, so a subscriber can ask for
// the events after a sequence number it has seen (replay).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes::events {

struct Event {
  std::string topic;
  std::uint64_t seq = 0;     // per topic, from 1
  std::int64_t time_ms = 0;  // Unix time in milliseconds (CLOCK_REALTIME)
  json data;
};

/// True when `topic` matches `pattern` (segments; "*" one, "**" any number).
bool topic_matches(std::string_view pattern, std::string_view topic);

/// Checks a pattern: non-empty segments, no empty segment, "*"/"**" only as
/// whole segments, at most 256 bytes. Errors: kInvalidParams naming the fault.
Result<bool> check_pattern(std::string_view pattern);

struct Limits {
  std::size_t history_events = 1000;        // kept per topic
  std::size_t history_bytes = 1024 * 1024;  // kept per topic (sum of the publishers' size hints)
  std::size_t max_topics = 4096;            // beyond: the idlest topic is forgotten (its numbering restarts)
};

class Broker {
 public:
  /// Receives the subscription's id and the event.
  using Sink = std::function<void(std::uint64_t subscription, const Event&)>;

  explicit Broker(Limits limits = {});

  /// Publishes `data` on `topic` and returns its sequence number. Sinks run
  /// on the caller's thread, in sequence order per topic, outside the
  /// broker's lock; a sink must not block for long (it writes a
  /// notification). `bytes` is the publisher's estimate of the event's size
  /// for the history bound (0: a small event).
  std::uint64_t publish(std::string topic, json data, std::size_t bytes = 0);

  /// Subscribes `sink` to the topics matching any of `patterns` (checked
  /// first) for `owner` (a connection: unsubscribe_owner ends its
  /// subscriptions when it closes; null for in-process subscribers). With `since` (per-topic sequence number), first
  /// replays the kept events of matching topics with seq > since, oldest first per topic; `replayed` (when given)
  /// receives how many, and `gaps` the topics whose history no longer reaches back to since+1. Returns the subscription
  /// id (> 0).
  Result<std::uint64_t> subscribe(const void* owner, std::vector<std::string> patterns, Sink sink,
                                  std::optional<std::uint64_t> since = std::nullopt, std::size_t* replayed = nullptr,
                                  std::vector<std::string>* gaps = nullptr);
  /// Ends subscription `id` of `owner`; false when it has no such one. A
  /// delivery already under way may still reach the sink once.
  bool unsubscribe(const void* owner, std::uint64_t id);
  /// Ends every subscription of `owner`; returns how many.
  std::size_t unsubscribe_owner(const void* owner);

  /// The last sequence number of `topic` (0: none yet).
  std::uint64_t last_seq(std::string_view topic) const;
  /// Kept events of topics matching `pattern` with seq > since.
  std::vector<Event> history(std::string_view pattern, std::uint64_t since = 0) const;
  std::size_t subscription_count() const;

 private:
  struct Topic {
    std::uint64_t seq = 0;
    std::deque<std::pair<Event, std::size_t>> kept;  // event, size hint
    std::size_t kept_bytes = 0;
    std::int64_t last_time = 0;  // of the newest event, for forgetting idle topics
  };
  struct Subscription {
    const void* owner;
    std::vector<std::string> patterns;
    std::shared_ptr<Sink> sink;
  };
  Limits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, Topic, std::less<>> topics_;
  std::map<std::uint64_t, Subscription> subs_;
  std::uint64_t next_id_ = 1;
  // Held while a topic's event is assigned its number and delivered, so
  // sinks see each topic in order.
  std::mutex deliver_mutex_;
};

}  // namespace icotes::events
