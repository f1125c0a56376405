#include "icotes/worker_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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

// Tasks of one key run one at a time and in the order posted, however
// many workers there are and however long the first one takes; a task of
// that key that throws does not stop the ones after it.
TEST(WorkerPool, TasksOfOneKeyRunOneAtATimeInOrder) {
  WorkerPool pool(4);
  std::mutex mutex;
  std::vector<int> order;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  for (int i = 0; i < 200; ++i)
    pool.post("terminal/write\n1", [&, i] {
      const int now = ++running;
      most = std::max(most.load(), now);
      if (i == 0) std::this_thread::sleep_for(20ms);  // the others queue up behind it
      {
        std::lock_guard lock(mutex);
        order.push_back(i);
      }
      --running;
      if (i == 100) throw std::runtime_error("one write failed");
    });
  pool.shutdown();
  ASSERT_EQ(order.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(most.load(), 1);
}

// A key waits only for its own tasks: another key's, and unkeyed ones, run
// while it is busy.
TEST(WorkerPool, OtherKeysRunBesideABusyKey) {
  WorkerPool pool(2);
  std::promise<void> other_ran;
  std::shared_future<void> ran = other_ran.get_future().share();
  std::atomic<bool> first_saw_other{false};
  pool.post("a", [&] { first_saw_other = ran.wait_for(10s) == std::future_status::ready; });
  pool.post("a", [] {});
  pool.post("b", [&] { other_ran.set_value(); });
  pool.shutdown();
  EXPECT_TRUE(first_saw_other.load());
}

// Connections take turns: with one worker busy, a client that queued 20
// tasks delays another client's one task by one of them, not 20; each
// client's own tasks still start in the order it posted them.
TEST(WorkerPool, ClientsTakeTurns) {
  WorkerPool pool(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  int a = 0, b = 0;  // owners: their addresses
  std::mutex mutex;
  std::vector<std::string> order;
  pool.post([released] { released.wait(); }, &a);  // the worker is busy
  for (int i = 0; i < 20; ++i)
    pool.post(
        [&, i] {
          std::lock_guard lock(mutex);
          order.push_back("a" + std::to_string(i));
        },
        &a);
  pool.post(
      [&] {
        std::lock_guard lock(mutex);
        order.push_back("b");
      },
      &b);
  release.set_value();
  pool.shutdown();
  ASSERT_EQ(order.size(), 21u);
  const auto at = std::find(order.begin(), order.end(), "b") - order.begin();
  EXPECT_LE(at, 1) << "b waited behind " << at << " of a's tasks";
  std::erase(order, "b");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], "a" + std::to_string(i));
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
