#include "icotes/thread_pool.hpp"

#include <algorithm>
#include <system_error>
#include <thread>
#include <vector>

namespace icotes {

std::size_t hardware_threads(std::size_t cap) {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, std::max<std::size_t>(cap, 1));
}

void run_on_threads(std::size_t threads, const std::function<void(std::size_t index)>& fn) {
  std::vector<std::thread> pool;
  std::vector<std::size_t> inline_calls;
  for (std::size_t i = 1; i < threads; ++i) {
    try {
      pool.emplace_back(fn, i);
    } catch (const std::system_error&) {
      inline_calls.push_back(i);
    }
  }
  fn(0);
  for (const std::size_t i : inline_calls) fn(i);
  for (auto& t : pool) t.join();
}

}  // namespace icotes
