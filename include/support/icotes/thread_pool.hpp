// Short parallel loops: one function run on a few threads at once.
//
// For work split up front and done within the call (lstat a slice of the
// git index, walk a directory tree from a shared queue). A long-lived queue
// of tasks is WorkerPool's (worker_pool.hpp), which serves requests.
#pragma once

#include <cstddef>
#include <functional>

namespace icotes {

/// std::thread::hardware_concurrency() clamped to [1, cap].
std::size_t hardware_threads(std::size_t cap);

/// Calls fn(0) .. fn(threads - 1) at the same time, fn(0) on the calling
/// thread and each other on a thread of its own, and returns when all have
/// returned (`threads` 0 is taken as 1). When a thread cannot be started
/// (std::system_error: out of threads or memory), its call runs on the
/// calling thread after fn(0) instead: the work is done either way, only
/// less of it at once. `fn` must not throw.
void run_on_threads(std::size_t threads, const std::function<void(std::size_t index)>& fn);

}  // namespace icotes
