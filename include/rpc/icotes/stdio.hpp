// The stdio transport: the protocol on stdin/stdout (LSP and MCP "stdio").
// A reading thread blocks in read(2) and feeds the Connection; writes from any
// thread go out whole under a mutex. Logs never go to stdout.
#pragma once

#include <memory>
#include <mutex>

#include "icotes/rpc.hpp"

namespace icotes {

class FdTransport final : public Transport {
 public:
  /// Does not own the descriptors.
  FdTransport(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}
  bool write(std::string_view bytes) override;
  bool write_pieces(std::span<const std::string_view> pieces) override;  // writev(2)
  bool write_produced(const std::function<void(const Emit&)>& produce) override;
  void close() override;
  int in_fd() const { return in_; }

 private:
  int in_;
  int out_;
  bool write_all_locked(std::string_view bytes);
  std::mutex write_mutex_;
  bool broken_ = false;
};

/// Reads `in_fd` until EOF or close, feeding `connection`; then calls
/// connection->on_eof(). Returns when input ends.
void run_read_loop(int in_fd, Connection& connection);

}  // namespace icotes
