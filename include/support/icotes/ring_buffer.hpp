// The newest bytes of an output stream (a terminal's raw output, a
// background job's stdout and stderr), addressed by stream offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace icotes {

/// Keeps the last `capacity` bytes appended. Offsets count bytes since the
/// stream began (0), so a reader that remembers end() reads on from there
/// and sees how much went by unkept (start() beyond its offset). Memory
/// grows with what is kept, up to `capacity` bytes (a job that prints
/// nothing costs nothing). Not synchronised: the owner locks.
class ByteRing {
 public:
  /// `capacity` in bytes; 0 is taken as 1.
  explicit ByteRing(std::size_t capacity);

  void append(std::string_view data);
  /// Offset of the oldest byte kept.
  std::uint64_t start() const { return written_ - buf_.size(); }
  /// Offset after the newest byte: every byte ever appended.
  std::uint64_t end() const { return written_; }
  /// Bytes [from, to); both must lie within [start(), end()].
  std::string copy(std::uint64_t from, std::uint64_t to) const;

 private:
  std::size_t capacity_;
  std::string buf_;  // grows to capacity_, then wraps: the byte at offset o is buf_[o % capacity_]
  std::uint64_t written_ = 0;
};

}  // namespace icotes
