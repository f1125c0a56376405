// icotes/thread_pool.hpp: the one short parallel loop (git's stat scan,
// the search walker).
#include "icotes/thread_pool.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace icotes {
namespace {

TEST(RunOnThreads, CallsEachIndexOnceEachOnItsOwnThread) {
  for (std::size_t n : {0u, 1u, 4u}) {
    std::mutex m;
    std::vector<std::size_t> calls;
    std::set<std::thread::id> threads;
    const auto caller = std::this_thread::get_id();
    std::thread::id first;
    run_on_threads(n, [&](std::size_t i) {
      std::lock_guard lock(m);
      calls.push_back(i);
      threads.insert(std::this_thread::get_id());
      if (i == 0) first = std::this_thread::get_id();
    });
    const std::size_t want = n == 0 ? 1 : n;
    ASSERT_EQ(calls.size(), want) << n;
    EXPECT_EQ(std::set<std::size_t>(calls.begin(), calls.end()).size(), want);
    EXPECT_EQ(threads.size(), want);
    EXPECT_EQ(first, caller);  // fn(0) runs on the calling thread
  }
}

TEST(RunOnThreads, HardwareThreadsIsClamped) {
  EXPECT_EQ(hardware_threads(1), 1u);
  EXPECT_GE(hardware_threads(8), 1u);
  EXPECT_LE(hardware_threads(8), 8u);
  EXPECT_EQ(hardware_threads(0), 1u);
}

}  // namespace
}  // namespace icotes
