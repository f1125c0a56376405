// The agent/* operations' params as JSON (schemas/agent/*.json). Absent
// members keep the struct's defaults, which are the schemas' defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bind.hpp"
#include "icotes/json.hpp"

namespace icotes::agent_ops {

/// agent/run, agent/resume (id required there: `conversation`), and
/// agent/delegate (`task` is its prompt; no tools, system or maxTokens).
struct RunParams {
  std::string prompt;
  std::string provider;  // empty: [agent] provider of the user's config
  std::string model;     // empty: the provider's
  int max_turns = 20;
  std::int64_t max_tokens = 200000;
  std::optional<std::vector<std::string>> tools;  // MCP tool names; absent: all but delegate
  std::string system;                             // empty: the default system prompt
  std::string conversation;                       // empty: a new conversation
};

inline void bind_common(const json& j, RunParams& p) {
  bind::member(j, "provider", p.provider);
  bind::member(j, "model", p.model);
  bind::member(j, "maxTurns", p.max_turns);
  bind::member(j, "maxTokens", p.max_tokens);
  bind::member(j, "tools", p.tools);
  bind::member(j, "system", p.system);
}

inline void from_json(const json& j, RunParams& p) {
  bind::required(j, "prompt", p.prompt);
  bind::member(j, "conversation", p.conversation);
  bind_common(j, p);
}

struct ResumeParams : RunParams {};

inline void from_json(const json& j, ResumeParams& p) {
  bind::required(j, "prompt", p.prompt);
  bind::required(j, "id", p.conversation);
  bind_common(j, p);
}

struct DelegateParams : RunParams {};

inline void from_json(const json& j, DelegateParams& p) {
  bind::required(j, "task", p.prompt);
  bind::member(j, "provider", p.provider);
  bind::member(j, "model", p.model);
  bind::member(j, "maxTurns", p.max_turns);
}

/// agent/list.
struct ListParams {
  std::uint32_t limit = 100;
};

inline void from_json(const json& j, ListParams& p) { bind::member(j, "limit", p.limit); }

}  // namespace icotes::agent_ops
