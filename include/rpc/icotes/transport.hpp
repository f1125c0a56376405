// Bytes out of a connection: what a door gives a Connection (rpc.hpp) to
// write its frames with. stdio.hpp's FdTransport writes to a descriptor,
// tcp.hpp's SocketTransport to a socket, http_door.cpp's OutboxTransport to
// an HTTP session's outbox.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace icotes {

/// Bytes out. Implementations are thread-safe: any thread may write whole
/// frames, and each frame is written contiguously.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Writes bytes; returns false once the peer is gone.
  virtual bool write(std::string_view bytes) = 0;
  /// Writes the pieces one after another as one frame (no other frame in
  /// between), so a large reply need not be copied into one buffer first.
  /// The default joins them and calls write().
  virtual bool write_pieces(std::span<const std::string_view> pieces);
  /// Writes one frame whose pieces are produced as it goes: `produce` runs
  /// under the transport's write lock and calls `emit` for each piece in
  /// order (a piece need only be valid during that call); `emit` returns
  /// false once the peer is gone. Returns false when the peer is gone. The
  /// default collects the pieces and calls write().
  using Emit = std::function<bool(std::string_view)>;
  virtual bool write_produced(const std::function<void(const Emit&)>& produce);
  /// A frame that carries the responses to the requests `answered` (each
  /// id's JSON text, as RequestLedger::opened() received it; a batch answers
  /// several, a dropped response none with an empty frame). A transport that
  /// keeps a ledger (daemon.hpp) marks them answered once the frame has been
  /// written whole; the default is write_pieces() (nothing for an empty frame).
  virtual bool write_answer(std::span<const std::string_view> pieces, std::span<const std::string> answered);
  /// The same for a produced frame of `bytes` bytes in all.
  virtual bool write_produced_answer(const std::function<void(const Emit&)>& produce, std::size_t bytes,
                                     std::span<const std::string> answered);
  /// Stops reading and closes the connection.
  virtual void close() = 0;
};

}  // namespace icotes
