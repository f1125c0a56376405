// The providers/* operations' params as JSON (schemas/providers/*.json).
// Absent members keep the struct's defaults, which are the schemas'
// defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bind.hpp"
#include "icotes/json.hpp"
#include "icotes/provider.hpp"

namespace icotes::providers {

/// A call's or a run's usage as the results give it (providers/chat,
/// agent/run): {inputTokens, outputTokens, costUsd?}, costUsd only where
/// known (Usage::cost_usd).
inline json usage_json(const Usage& u) {
  json out = {{"inputTokens", u.input_tokens}, {"outputTokens", u.output_tokens}};
  if (u.cost_usd) out["costUsd"] = *u.cost_usd;
  return out;
}

/// The partial-result event for usage: usage_json with "type": "usage".
inline json usage_event(const Usage& u) {
  json event = usage_json(u);
  event["type"] = "usage";
  return event;
}

/// One message of providers/chat: role "system", "user" or "assistant".
struct ChatMessageParam {
  std::string role;
  std::string content;
};

inline void from_json(const json& j, ChatMessageParam& p) {
  bind::required(j, "role", p.role);
  bind::required(j, "content", p.content);
}

/// providers/chat.
struct ChatParams {
  std::vector<ChatMessageParam> messages;
  std::string provider;  // empty: the configuration's default
  std::string model;     // empty: the provider's configured model
  std::string system;    // empty: none
  std::optional<std::int64_t> max_tokens;
};

inline void from_json(const json& j, ChatParams& p) {
  bind::required(j, "messages", p.messages);
  bind::member(j, "provider", p.provider);
  bind::member(j, "model", p.model);
  bind::member(j, "system", p.system);
  bind::member(j, "maxTokens", p.max_tokens);
}

}  // namespace icotes::providers
