#include "icotes/worker_pool.hpp"

#include "icotes/heap.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace icotes {
namespace {

// Resident memory in bytes (proc(5): /proc/self/statm, second field), or 0.
std::size_t resident_bytes() {
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char* p = nullptr;
  std::strtoull(buf, &p, 10);  // size
  return static_cast<std::size_t>(std::strtoull(p, nullptr, 10)) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// What a finished task freed goes back to the system when the process has
// grown by more than this since the last time: `serve` raises glibc's trim
// threshold (src/cli/serve.cpp) so that megabyte replies reuse the heap, which
// would otherwise leave the 20 MB a big search used resident until exit
// (and spread over the arenas of the threads that allocated it).
constexpr std::size_t kTrimGrowth = 1u << 20;
std::atomic<std::size_t> g_resident_after_trim{0};

void release_freed_memory() {
  if (!freed_heap_releasable()) return;  // jemalloc gives pages back by itself: no statm read per task
  const std::size_t rss = resident_bytes();
  if (rss == 0 || rss < g_resident_after_trim.load(std::memory_order_relaxed) + kTrimGrowth) return;
  if (!release_freed_heap()) return;
  g_resident_after_trim.store(resident_bytes(), std::memory_order_relaxed);
}

}  // namespace

WorkerPool::WorkerPool(std::size_t threads) {
  if (threads == 0) threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
  base_ = threads;
  std::lock_guard lock(mutex_);
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

std::size_t WorkerPool::size() const {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

std::size_t WorkerPool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_;
}

WorkerPool::Blocking::Blocking(WorkerPool& pool) : pool_(pool) {
  std::lock_guard lock(pool_.mutex_);
  // Another idle worker takes the next request; without one, make one.
  if (pool_.idle_ == 0 && !pool_.stopping_ && pool_.threads_.size() < pool_.base_ + kMaxExtra)
    pool_.threads_.emplace_back([p = &pool_] { p->run(); });
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::enqueue(std::function<void()> task, const void* owner) {
  auto& lane = lanes_[owner];
  if (lane.empty()) turns_.push_back(owner);
  lane.push_back(std::move(task));
}

void WorkerPool::post(std::function<void()> task, const void* owner) {
  {
    std::lock_guard lock(mutex_);
    enqueue(std::move(task), owner);
  }
  cv_.notify_one();
}

void WorkerPool::post(std::string key, std::function<void()> task, const void* owner) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = serial_.find(key); it != serial_.end()) {
      it->second.push_back(std::move(task));  // runs when the one before it ends
      return;
    }
    serial_.emplace(key, std::deque<std::function<void()>>());
    enqueue([this, key = std::move(key), task = std::move(task),
             owner]() mutable { run_serial(key, std::move(task), owner); },
            owner);
  }
  cv_.notify_one();
}

// Runs `task`, then queues the next task of `key`, if any (also when `task`
// throws: the strand goes on), in `owner`'s lane.
void WorkerPool::run_serial(const std::string& key, std::function<void()> task, const void* owner) {
  struct Next {
    WorkerPool& pool;
    const std::string& key;
    const void* owner;
    ~Next() {
      {
        std::lock_guard lock(pool.mutex_);
        auto it = pool.serial_.find(key);
        if (it->second.empty()) {
          pool.serial_.erase(it);
          return;
        }
        pool.enqueue([p = &pool, k = key, t = std::move(it->second.front()),
                      o = owner]() mutable { p->run_serial(k, std::move(t), o); },
                     owner);
        it->second.pop_front();
      }
      pool.cv_.notify_one();
    }
  } next{*this, key, owner};
  task();
}

void WorkerPool::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  // No thread is added once stopping_ is set: the list is final.
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      ++idle_;
      cv_.wait(lock, [this] { return stopping_ || !turns_.empty(); });
      --idle_;
      if (turns_.empty()) return;
      // The next lane's first task; the lane goes to the back of the turns
      // while it has more.
      const void* owner = turns_.front();
      turns_.pop_front();
      auto lane = lanes_.find(owner);
      task = std::move(lane->second.front());
      lane->second.pop_front();
      if (lane->second.empty())
        lanes_.erase(lane);
      else
        turns_.push_back(owner);
    }
    try {
      task();
    } catch (const std::exception& e) {
      // A task that throws (a client's value of a type nobody checked) ends
      // itself, not the process; a Request it held answers -32603 as its
      // last copy goes.
      spdlog::error("worker task failed: {}", e.what());
    }
    task = nullptr;  // the request and its result are freed here
    release_freed_memory();
  }
}

}  // namespace icotes
