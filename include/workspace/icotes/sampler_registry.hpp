// The MCP clients attached to one workspace that lend their model through
// MCP sampling (sampling/createMessage): each MCP session that declared the
// `sampling` capability adds itself, holding the Handle until it ends. A
// call from a client without sampling (an editor over LSP, `icotes chat`,
// `icotes call` through the daemon) borrows the most recently attached one,
// as the permission gate routes questions to the most recent editor
// (src/ops/provider_host.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "icotes/cancellation.hpp"
#include "icotes/json.hpp"
#include "icotes/result.hpp"

namespace icotes {

class SamplerRegistry {
  struct State;

 public:
  /// Sends sampling/createMessage (`params`: CreateMessageRequest's params)
  /// and waits for the CreateMessageResult or the client's error; `cancel`
  /// withdraws the request (notifications/cancelled).
  using SampleFn = std::function<Result<json>(const json& params, const CancellationToken& cancel)>;

  struct Sampler {
    std::string client;  // who lends it, for messages ("mcp:Claude Code")
    SampleFn sample;
    bool tools = false;  // declared sampling.tools (MCP 2025-11-25)
  };

  /// Keeps a sampler registered while it lives; move-only. Destroying or
  /// reset()ting it removes the sampler (nothing if the registry is gone).
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& other) noexcept : state_(std::move(other.state_)), id_(other.id_) { other.id_ = 0; }
    Handle& operator=(Handle&& other) noexcept {
      if (this != &other) {
        reset();
        state_ = std::move(other.state_);
        id_ = other.id_;
        other.id_ = 0;
      }
      return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    void reset() {
      if (auto s = state_.lock(); s && id_ != 0) {
        std::lock_guard lock(s->mutex);
        std::erase_if(s->entries, [this](const Entry& e) { return e.id == id_; });
      }
      state_.reset();
      id_ = 0;
    }
    explicit operator bool() const { return id_ != 0; }

   private:
    friend class SamplerRegistry;
    std::weak_ptr<State> state_;
    std::uint64_t id_ = 0;
  };

  /// Registers `sampler` (its sample must be set) as the most recent.
  [[nodiscard]] Handle add(Sampler sampler) {
    Handle h;
    std::lock_guard lock(state_->mutex);
    h.id_ = ++state_->last_id;
    h.state_ = state_;
    state_->entries.push_back({h.id_, std::move(sampler)});
    return h;
  }

  /// The most recently added sampler still registered, if any.
  std::optional<Sampler> latest() const {
    std::lock_guard lock(state_->mutex);
    if (state_->entries.empty()) return std::nullopt;
    return state_->entries.back().sampler;
  }

  /// How many are registered.
  std::size_t size() const {
    std::lock_guard lock(state_->mutex);
    return state_->entries.size();
  }

 private:
  struct Entry {
    std::uint64_t id;
    Sampler sampler;
  };
  struct State {
    std::mutex mutex;
    std::uint64_t last_id = 0;
    std::vector<Entry> entries;  // oldest first
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace icotes
