#include <algorithm>
#include <chrono>

#include "icotes/events.hpp"

namespace icotes::events {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Splits off the first segment of `s` (up to '/'); `s` keeps the rest.
std::string_view next_segment(std::string_view& s) {
  const auto slash = s.find('/');
  std::string_view seg = s.substr(0, slash);
  s = slash == std::string_view::npos ? std::string_view() : s.substr(slash + 1);
  return seg;
}

bool match_segments(std::string_view pattern, std::string_view topic) {
  while (!pattern.empty()) {
    std::string_view p = next_segment(pattern);
    if (p == "**") {
      if (pattern.empty()) return true;  // a trailing "**" takes everything left
      // Try every split point: "**" takes 0, 1, 2, ... segments.
      for (std::string_view t = topic;;) {
        if (match_segments(pattern, t)) return true;
        if (t.empty()) return false;
        next_segment(t);
      }
    }
    if (topic.empty()) return false;
    std::string_view t = next_segment(topic);
    if (p != "*" && p != t) return false;
  }
  return topic.empty();
}

}  // namespace

bool topic_matches(std::string_view pattern, std::string_view topic) { return match_segments(pattern, topic); }

namespace {

bool any_matches(const std::vector<std::string>& patterns, std::string_view topic) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return topic_matches(p, topic); });
}

}  // namespace

Result<bool> check_pattern(std::string_view pattern) {
  if (pattern.empty())
    return make_error(error_code::kInvalidParams,
                      "empty topic pattern: use e.g. \"files/changed\" or \"terminal/*/output\"");
  if (pattern.size() > 256) return make_error(error_code::kInvalidParams, "topic pattern longer than 256 bytes");
  if (pattern.front() == '/' || pattern.back() == '/' || pattern.find("//") != std::string_view::npos)
    return make_error(error_code::kInvalidParams, "topic pattern '" + std::string(pattern) +
                                                      "' has an empty segment (leading, trailing or doubled '/')");
  for (std::string_view rest = pattern; !rest.empty();) {
    std::string_view seg = next_segment(rest);
    if (seg != "*" && seg != "**" && seg.find('*') != std::string_view::npos)
      return make_error(error_code::kInvalidParams,
                        "topic pattern '" + std::string(pattern) +
                            "': '*' and '**' stand only as whole segments (e.g. terminal/*/output)");
  }
  return true;
}

Broker::Broker(Limits limits) : limits_(limits) {}

std::uint64_t Broker::publish(std::string topic, json data, std::size_t bytes) {
  std::lock_guard deliver(deliver_mutex_);
  Event event;
  std::vector<std::pair<std::uint64_t, std::shared_ptr<Sink>>> sinks;
  {
    std::lock_guard lock(mutex_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) {
      if (topics_.size() >= limits_.max_topics) {
        // Forget the topic whose newest event is the oldest (terminals come
        // and go; a daemon must not keep every topic it ever saw).
        auto victim = topics_.begin();
        for (auto t = topics_.begin(); t != topics_.end(); ++t)
          if (t->second.last_time < victim->second.last_time) victim = t;
        topics_.erase(victim);
      }
      it = topics_.emplace(topic, Topic{}).first;
    }
    Topic& t = it->second;
    event.topic = std::move(topic);
    event.seq = ++t.seq;
    event.time_ms = now_ms();
    t.last_time = event.time_ms;
    event.data = std::move(data);
    const std::size_t size = bytes ? bytes : 64;
    t.kept.emplace_back(event, size);
    t.kept_bytes += size;
    while (t.kept.size() > limits_.history_events || (t.kept_bytes > limits_.history_bytes && t.kept.size() > 1)) {
      t.kept_bytes -= t.kept.front().second;
      t.kept.pop_front();
    }
    for (const auto& [id, sub] : subs_)
      for (const auto& p : sub.patterns)
        if (topic_matches(p, event.topic)) {
          sinks.emplace_back(id, sub.sink);
          break;
        }
  }
  for (const auto& [id, sink] : sinks) (*sink)(id, event);
  return event.seq;
}

Result<std::uint64_t> Broker::subscribe(const void* owner, std::vector<std::string> patterns, Sink sink,
                                        std::optional<std::uint64_t> since, std::size_t* replayed,
                                        std::vector<std::string>* gaps) {
  if (patterns.empty())
    return make_error(error_code::kInvalidParams, "no topics given: pass at least one topic pattern");
  for (const auto& p : patterns)
    if (auto ok = check_pattern(p); !ok) return std::move(ok).error();
  // Under the delivery lock, replay and registration are one step: no event
  // is published between them, so none is missed or seen twice.
  std::lock_guard deliver(deliver_mutex_);
  std::vector<Event> replay;
  std::uint64_t id;
  auto shared_sink = std::make_shared<Sink>(std::move(sink));
  {
    std::lock_guard lock(mutex_);
    if (since) {
      for (const auto& [name, t] : topics_) {
        if (!any_matches(patterns, name)) continue;
        if (gaps && t.seq > *since && (t.kept.empty() || t.kept.front().first.seq > *since + 1)) gaps->push_back(name);
        for (const auto& [e, size] : t.kept)
          if (e.seq > *since) replay.push_back(e);
      }
    }
    id = next_id_++;
    subs_.emplace(id, Subscription{owner, std::move(patterns), shared_sink});
  }
  if (replayed) *replayed = replay.size();
  for (const auto& e : replay) (*shared_sink)(id, e);
  return id;
}

bool Broker::unsubscribe(const void* owner, std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = subs_.find(id);
  if (it == subs_.end() || it->second.owner != owner) return false;
  subs_.erase(it);
  return true;
}

std::size_t Broker::unsubscribe_owner(const void* owner) {
  std::lock_guard lock(mutex_);
  return std::erase_if(subs_, [&](const auto& entry) { return entry.second.owner == owner; });
}

std::uint64_t Broker::last_seq(std::string_view topic) const {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second.seq;
}

std::vector<Event> Broker::history(std::string_view pattern, std::uint64_t since) const {
  std::vector<Event> out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, t] : topics_) {
    if (!topic_matches(pattern, name)) continue;
    for (const auto& [e, size] : t.kept)
      if (e.seq > since) out.push_back(e);
  }
  return out;
}

std::size_t Broker::subscription_count() const {
  std::lock_guard lock(mutex_);
  return subs_.size();
}

}  // namespace icotes::events
