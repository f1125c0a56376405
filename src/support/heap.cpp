#include "icotes/heap.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <mutex>

namespace icotes {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitizerAllocator = true;
#else
constexpr bool kSanitizerAllocator = false;
#endif
#else
constexpr bool kSanitizerAllocator = false;
#endif

std::mutex g_trimming;

}  // namespace

bool freed_heap_releasable() noexcept {
  if constexpr (kSanitizerAllocator) return false;
  // jemalloc defines mallctl(3); glibc has no such symbol.
  static const bool glibc = ::dlsym(RTLD_DEFAULT, "mallctl") == nullptr;
  return glibc;
}

bool release_freed_heap() noexcept {
  if (!freed_heap_releasable()) return false;
  std::unique_lock lock(g_trimming, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  ::malloc_trim(0);
  return true;
}

}  // namespace icotes
