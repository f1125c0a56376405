#include "icotes/ring_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace icotes {

ByteRing::ByteRing(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

void ByteRing::append(std::string_view data) {
  if (buf_.size() < capacity_) {  // still growing: nothing has wrapped
    const std::size_t take = std::min(data.size(), capacity_ - buf_.size());
    buf_.append(data.substr(0, take));
    written_ += take;
    data.remove_prefix(take);
    if (data.empty()) return;
  }
  if (data.size() >= capacity_) {
    written_ += data.size() - capacity_;  // bytes that went by unkept
    data = data.substr(data.size() - capacity_);
  }
  const std::size_t at = static_cast<std::size_t>(written_ % capacity_);
  const std::size_t first = std::min(data.size(), capacity_ - at);
  std::memcpy(buf_.data() + at, data.data(), first);
  std::memcpy(buf_.data(), data.data() + first, data.size() - first);
  written_ += data.size();
}

std::string ByteRing::copy(std::uint64_t from, std::uint64_t to) const {
  std::string out;
  out.reserve(static_cast<std::size_t>(to - from));
  while (from < to) {
    const std::size_t at = static_cast<std::size_t>(from % capacity_);
    const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(to - from), capacity_ - at);
    out.append(buf_.data() + at, n);
    from += n;
  }
  return out;
}

}  // namespace icotes
