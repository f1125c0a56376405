#pragma once
// Giving freed heap memory back to the system (malloc_trim(3)) from any
// thread, safely, whatever allocator the process ended up with.

namespace icotes {

/// Gives the free memory at the top of glibc's heap back to the system
/// (malloc_trim(3) with pad 0) and returns true; returns false and does
/// nothing when there is nothing glibc can give back or another thread is
/// already doing it:
/// - the process's malloc is not glibc's: the executable links jemalloc
///   (found by its `mallctl` symbol, jemalloc(3)), which returns pages on its
///   own, or a sanitizer (ASan, TSan, MSan) brings its own allocator;
/// - another thread is inside this call (its trim serves both).
///
/// Why not call malloc_trim(3) directly: when glibc's malloc was never used
/// (jemalloc or ASan took its place), glibc 2.36's malloc_trim marks the heap
/// initialized before it initializes it, so two threads calling it first at
/// once can crash the process (a NULL bin list in mtrim(), seen in CI).
/// Costs a few microseconds to milliseconds (walks the free lists); call it
/// after work that freed a lot, not per request.
bool release_freed_heap() noexcept;

/// True when release_freed_heap() can give anything back: the process's
/// malloc is glibc's (no jemalloc linked, no sanitizer allocator). Callers
/// that measure before trimming (the worker pool reads /proc/self/statm)
/// skip the measuring when it is false.
bool freed_heap_releasable() noexcept;

}  // namespace icotes
