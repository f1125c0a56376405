// Cancellation of one call: the connection sets it ($/cancelRequest,
// notifications/cancelled, a client gone: rpc.hpp), long work polls it.
// Services take it by pointer or reference and include only this header.
#pragma once

#include <atomic>
#include <memory>

namespace icotes {

/// Set when a request is cancelled. Copies share one flag; any thread may
/// cancel or poll (relaxed: a poll may see the cancellation a little late).
class CancellationToken {
 public:
  bool cancelled() const noexcept { return flag_->load(std::memory_order_relaxed); }
  void cancel() const noexcept { flag_->store(true, std::memory_order_relaxed); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace icotes
