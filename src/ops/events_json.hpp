// The events/* operations' params as JSON (schemas/events/*.json). Absent
// members keep the struct's defaults, which are the schemas' defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bind.hpp"
#include "icotes/json.hpp"

namespace icotes::events {

/// events/subscribe.
struct SubscribeParams {
  std::vector<std::string> topics;     // topic patterns (events.hpp)
  std::optional<std::uint64_t> since;  // replay the kept events after this seq
};

inline void from_json(const json& j, SubscribeParams& p) {
  bind::required(j, "topics", p.topics);
  bind::member(j, "since", p.since);
}

/// events/unsubscribe.
struct UnsubscribeParams {
  std::uint64_t subscription = 0;  // from events/subscribe
};

inline void from_json(const json& j, UnsubscribeParams& p) { bind::required(j, "subscription", p.subscription); }

}  // namespace icotes::events
