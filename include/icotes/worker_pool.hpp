// A fixed pool of threads running operation handlers (DESIGN.md section 2):
// the I/O thread never runs a handler that may block.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace icotes {

class WorkerPool {
 public:
  /// `threads` == 0 picks min(4, std::thread::hardware_concurrency()).
  explicit WorkerPool(std::size_t threads = 0);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void post(std::function<void()> task);
  /// Runs queued tasks to the end, then joins the threads.
  void shutdown();
  std::size_t size() const { return threads_.size(); }

 private:
  void run();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace icotes
