// The pool of threads running operation handlers (docs/ARCHITECTURE.md#threads): the
// I/O thread never runs a handler that may block. Its size is fixed, except
// that a handler about to wait a long time for something outside the
// process (a command to finish, a terminal to print) declares it with a
// Blocking guard: when no other worker is idle, the pool grows by one so
// that the wait does not stall every other request (as Go's runtime does for
// blocking system calls).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace icotes {

class WorkerPool {
 public:
  /// `threads` == 0 picks min(4, std::thread::hardware_concurrency()).
  explicit WorkerPool(std::size_t threads = 0);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task` in the lane of `owner` (a connection; null: the lane of
  /// tasks nobody owns). Lanes take turns: each worker takes the next task
  /// of the next lane that has one, so a client that queued 60 large greps
  /// delays another client's request by one task at most, not 60. Within a
  /// lane, tasks start in the order posted.
  void post(std::function<void()> task, const void* owner = nullptr);
  /// As post, but tasks posted with the same `key` run one at a time, in
  /// the order they were posted (a strand): keystrokes sent to one
  /// terminal as separate requests reach it in the order they came.
  /// Tasks of other keys, and unkeyed ones, still run beside them.
  void post(std::string key, std::function<void()> task, const void* owner = nullptr);

  /// Held by a task while it waits on something outside the process. Cheap
  /// when a worker is idle; else it starts one more (up to size + 64).
  class Blocking {
   public:
    explicit Blocking(WorkerPool& pool);
    // No destructor: the extra thread stays, and the next long wait finds it idle.
    Blocking(const Blocking&) = delete;
    Blocking& operator=(const Blocking&) = delete;

   private:
    WorkerPool& pool_;
  };

  /// Runs queued tasks to the end, then joins the threads.
  void shutdown();
  /// Threads now (grows with Blocking guards, never shrinks).
  std::size_t size() const;
  /// Threads waiting for a task now.
  std::size_t idle() const;

 private:
  static constexpr std::size_t kMaxExtra = 64;
  void run();
  void run_serial(const std::string& key, std::function<void()> task, const void* owner);
  void enqueue(std::function<void()> task, const void* owner);  // mutex_ held
  std::size_t base_ = 0;
  std::size_t idle_ = 0;  // threads waiting for a task
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  // The lanes with tasks, each with its queue; `turns` holds each of them
  // once, in the order they get their next turn.
  std::unordered_map<const void*, std::deque<std::function<void()>>> lanes_;
  std::deque<const void*> turns_;
  // A key is here while a task of it is queued or running; its later tasks
  // wait in the deque until that one ends.
  std::unordered_map<std::string, std::deque<std::function<void()>>> serial_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace icotes
