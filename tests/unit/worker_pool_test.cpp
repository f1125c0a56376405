#include "icotes/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>

namespace icotes {
namespace {

using namespace std::chrono_literals;

TEST(WorkerPool, RunsEveryTaskAndFinishesTheQueueOnShutdown) {
  WorkerPool pool(2);
  EXPECT_EQ(pool.size(), 2u);
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) pool.post([&] { ++ran; });
  pool.shutdown();
  EXPECT_EQ(ran.load(), 100);
}

// A task that throws ends itself: the worker runs the next one (one worker,
// so the same thread that saw the throw), and the process lives.
TEST(WorkerPool, ATaskThatThrowsDoesNotEndTheWorker) {
  WorkerPool pool(1);
  std::atomic<int> ran{0};
  pool.post([] { throw std::runtime_error("a value of the wrong type"); });
  pool.post([&] { ++ran; });
  pool.shutdown();
  EXPECT_EQ(ran.load(), 1);
}

// One worker, busy waiting on something outside: without the Blocking
// guard the second request would wait behind it.
TEST(WorkerPool, ABlockingTaskDoesNotStallTheOthers) {
  WorkerPool pool(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> second_ran;
  pool.post([&pool, released] {
    WorkerPool::Blocking waiting(pool);
    released.wait_for(30s);
  });
  // Give the first task time to take the only worker.
  std::this_thread::sleep_for(50ms);
  pool.post([&second_ran] { second_ran.set_value(); });
  EXPECT_EQ(second_ran.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(pool.size(), 2u);
  release.set_value();
  pool.shutdown();
}

TEST(WorkerPool, AnIdleWorkerMakesTheGuardFree) {
  WorkerPool pool(2);
  // Both threads reach their wait for work (a thread that has not started
  // yet is not idle).
  for (int i = 0; i < 200 && pool.idle() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(pool.idle(), 2u);
  std::promise<void> done;
  pool.post([&pool, &done] {
    WorkerPool::Blocking waiting(pool);  // the other worker is idle
    done.set_value();
  });
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(pool.size(), 2u);
  pool.shutdown();
}

}  // namespace
}  // namespace icotes
