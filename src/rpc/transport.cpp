// Transport's default writes (include/rpc/icotes/transport.hpp): join the
// pieces, then write().
#include "icotes/transport.hpp"

namespace icotes {

bool Transport::write_produced(const std::function<void(const Emit&)>& produce) {
  std::string joined;
  produce([&](std::string_view piece) {
    joined.append(piece);
    return true;
  });
  return write(joined);
}

bool Transport::write_pieces(std::span<const std::string_view> pieces) {
  std::string joined;
  std::size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  joined.reserve(size);
  for (std::string_view p : pieces) joined += p;
  return write(joined);
}

bool Transport::write_answer(std::span<const std::string_view> pieces, std::span<const std::string> /*answered*/) {
  return pieces.empty() || write_pieces(pieces);
}

bool Transport::write_produced_answer(const std::function<void(const Emit&)>& produce, std::size_t /*bytes*/,
                                      std::span<const std::string> /*answered*/) {
  return write_produced(produce);
}

}  // namespace icotes
