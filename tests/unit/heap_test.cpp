#include "icotes/heap.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace icotes {
namespace {

// Many threads giving the heap back at once, as the worker pool's threads do
// after a burst of work, as the first heap trim of a fresh process. glibc's
// malloc_trim() called that way when glibc's malloc was never used (ASan or
// jemalloc in its place) crashed 2 runs in 5 here. Each round runs in a
// child forked before any trim, so that each is the process's first; under
// ASan (the CI's second run) every round tests the crash.
TEST(Heap, ManyThreadsReleasingAtOnceAsTheFirstTrimOfAProcess) {
  constexpr int kRounds = 20;
  constexpr int kThreads = 16;
  for (int round = 0; round < kRounds; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::atomic<bool> go{false};
      std::vector<std::thread> threads;
      threads.reserve(kThreads);
      for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&go] {
          while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
          (void)release_freed_heap();
        });
      go.store(true, std::memory_order_release);
      for (auto& t : threads) t.join();
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "round " << round << ": the child died of signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0) << "round " << round;
  }
}

// In this test program glibc's malloc is the process's (no jemalloc linked),
// so a call trims, unless a sanitizer's allocator replaced it.
TEST(Heap, TrimsGlibcsHeapAndSkipsASanitizersAllocator) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  EXPECT_FALSE(freed_heap_releasable());
  EXPECT_FALSE(release_freed_heap());
#else
  EXPECT_TRUE(freed_heap_releasable());
  EXPECT_TRUE(release_freed_heap());
#endif
}

}  // namespace
}  // namespace icotes
