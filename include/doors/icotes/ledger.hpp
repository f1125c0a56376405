// The ledger of a client attached to the shared daemon (daemon.hpp): which
// of its requests wait for an answer, kept by the daemon in memory shared
// with the launcher (`icotes serve`), so that the launcher, which hands the
// client's stdin and stdout to the daemon and sees none of the traffic, can
// still answer each of those requests with an error when the daemon dies.
//
// It is a memfd (memfd_create(2)) the launcher creates and passes with the
// client's descriptors; both map it. Only the daemon writes it, while it
// serves the client; the launcher reads it once the daemon is gone (or has
// said it stops and will write no more), so nothing in it needs atomics:
// a process killed with SIGKILL leaves every store it made in the pages.
//
// Layout (native byte order; the launcher and the daemon are one binary):
//   a 128-byte header (LedgerHeader), then slots of 128 bytes (LedgerSlot),
//   one per request waiting, found again by its id's JSON text. The daemon
//   grows the file (ftruncate(2), mremap(2)) when every slot is taken.
// Besides the requests it records how far the output to the client got:
// bytes written, and the frame being written then (its bounds and its
// Content-Length header), so that a frame the daemon died in the middle of
// can be completed before the launcher's answers follow it.
//
// What it cannot know: when the daemon is killed during a write(2) to the
// client, the bytes that call wrote are not counted (the process ends before
// it returns). The launcher then completes the frame as if none were
// written; a client reading that frame gets one garbled message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "icotes/framing.hpp"
#include "icotes/json.hpp"
#include "icotes/result.hpp"
#include "icotes/rpc.hpp"

namespace icotes {

/// What the transport writing to the client reports (tcp.hpp's
/// SocketTransport): every frame as it is queued, in order, and the bytes
/// written so far. Called with the transport's lock held.
class OutputLedger {
 public:
  virtual ~OutputLedger() = default;
  /// A frame of `bytes` bytes (its first `header_bytes` a Content-Length
  /// header) follows the frames before it; it answers `answered`.
  virtual void frame(std::size_t bytes, std::size_t header_bytes, std::span<const std::string> answered) = 0;
  /// `total` bytes have been written to the client since the start.
  virtual void sent(std::uint64_t total) = 0;
};

/// The bytes of the Content-Length header `frame` starts with (LSP base
/// protocol), 0 when it starts with none.
std::size_t content_length_header_bytes(std::string_view frame);

/// Longest id (JSON text, bytes) a slot holds. A longer one is answered with
/// id null.
inline constexpr std::size_t kLedgerIdBytes = 112;

/// The daemon's side. Thread-safe.
class SharedLedger final : public RequestLedger, public OutputLedger {
 public:
  /// Maps the ledger `fd` (taken over: closed by the destructor). Requests
  /// the launcher entered before passing it (those of bytes it had already
  /// read) are taken as read: opened() finds them again until
  /// end_adoption(). Errors: kInvalidParams (not a ledger), kIoError.
  static Result<std::shared_ptr<SharedLedger>> map(int fd);
  ~SharedLedger() override;
  SharedLedger(const SharedLedger&) = delete;
  SharedLedger& operator=(const SharedLedger&) = delete;

  void opened(std::string_view id_json, Framing framing) override;
  void dropped(std::string_view id_json) override;
  void frame(std::size_t bytes, std::size_t header_bytes, std::span<const std::string> answered) override;
  void sent(std::uint64_t total) override;
  /// The launcher's requests not read again by now are dropped (the bytes
  /// it passed have all been fed).
  void end_adoption();
  /// No more changes: the launcher reads it from now on.
  void freeze();
  /// Requests waiting (for tests and the log).
  std::size_t waiting() const;

 private:
  SharedLedger(int fd, void* map, std::size_t size);
  std::uint32_t take_slot_locked();
  void free_slot_locked(std::uint32_t slot);
  bool grow_locked();
  void set_current_frame_locked();

  int fd_;
  void* map_;
  std::size_t size_;
  mutable std::mutex mutex_;
  bool frozen_ = false;
  std::vector<std::uint32_t> free_;                            // free slots
  std::unordered_multimap<std::string, std::uint32_t> ids_;    // waiting: id JSON -> slot
  std::unordered_multimap<std::string, std::uint32_t> adopt_;  // entered by the launcher, not read again yet
  struct Frame {
    std::uint64_t start = 0, end = 0;
    std::uint32_t header = 0;
    std::vector<std::uint32_t> slots;  // the requests it answers
  };
  std::deque<Frame> frames_;  // queued and not wholly written, in order
  std::uint64_t queued_ = 0;  // bytes of every frame queued so far
  std::uint64_t sent_ = 0;
};

/// The launcher's side: creates the ledger (a memfd, mode 0600, close-on-
/// exec) with `ids` (the ids' JSON text of requests already read from the
/// client) entered. Errors: kIoError.
Result<int> create_ledger(std::span<const std::string> ids);

/// What the launcher finds in the ledger once the daemon is gone.
struct LedgerContents {
  Framing framing = Framing::Unknown;
  std::vector<json> waiting;  ///< ids of requests without an answer (null for one too long to keep)
  FrameFiller filler;         ///< bytes that complete the frame the daemon was writing, if any
};
/// Reads ledger `fd`. Errors: kInvalidParams (not a ledger), kIoError.
Result<LedgerContents> read_ledger(int fd);

}  // namespace icotes
