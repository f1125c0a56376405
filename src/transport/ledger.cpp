// The attached client's ledger. See include/doors/icotes/ledger.hpp.
#include "icotes/ledger.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "icotes/json_parse.hpp"

namespace icotes {
namespace {

constexpr char kMagic[8] = {'i', 'c', 'o', 't', 'e', 's', 'L', '1'};

struct LedgerHeader {
  char magic[8];
  std::uint32_t slots;        // slots after the header
  std::uint32_t framing;      // 0 unknown, 1 Content-Length, 2 one message per line
  std::uint64_t sent;         // bytes written to the client
  std::uint64_t frame_start;  // the frame being written: [start, end); start == end when none
  std::uint64_t frame_end;
  std::uint32_t frame_header;  // bytes of its Content-Length header
  std::uint32_t flags;
  char reserved[80];
};
static_assert(sizeof(LedgerHeader) == 128);

enum SlotState : std::uint32_t { kFree = 0, kWaiting = 1, kAnswerQueued = 2 };

struct LedgerSlot {
  std::uint32_t state;
  std::uint32_t id_bytes;    // the id's JSON text length; above kLedgerIdBytes only its start is kept
  std::uint64_t answer_end;  // kAnswerQueued: the answer is written whole once sent >= answer_end
  char id[kLedgerIdBytes];
};
static_assert(sizeof(LedgerSlot) == 128);

constexpr std::uint32_t kNoSlot = UINT32_MAX;
constexpr std::uint32_t kFirstSlots = 256;

std::size_t file_bytes(std::uint32_t slots) { return sizeof(LedgerHeader) + std::size_t{slots} * sizeof(LedgerSlot); }

std::uint32_t framing_code(Framing f) {
  return f == Framing::ContentLength ? 1 : f == Framing::NewlineDelimited ? 2 : 0;
}

void fill_slot(LedgerSlot& s, std::string_view id) {
  s.state = kWaiting;
  s.id_bytes = static_cast<std::uint32_t>(id.size());
  s.answer_end = 0;
  std::memcpy(s.id, id.data(), std::min(id.size(), kLedgerIdBytes));
}

}  // namespace

std::size_t content_length_header_bytes(std::string_view frame) {
  if (frame.size() < 15 || (frame.substr(0, 15) != "Content-Length:" && frame.substr(0, 15) != "content-length:"))
    return 0;
  const auto end = frame.find("\r\n\r\n");
  return end == std::string_view::npos ? 0 : end + 4;
}

SharedLedger::SharedLedger(int fd, void* map, std::size_t size) : fd_(fd), map_(map), size_(size) {}

SharedLedger::~SharedLedger() {
  ::munmap(map_, size_);
  ::close(fd_);
}

Result<std::shared_ptr<SharedLedger>> SharedLedger::map(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(error_code::kIoError, std::string("ledger: fstat: ") + std::strerror(err));
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  // Only a ledger nobody can shrink is mapped (create_ledger() seals it).
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
    ::close(fd);
    return make_error(error_code::kInvalidParams, "ledger: not sealed against shrinking (another version of icotes?)");
  }
  LedgerHeader h{};
  if (size < sizeof h || ::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
      std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || file_bytes(h.slots) != size) {
    ::close(fd);
    return make_error(error_code::kInvalidParams, "ledger: not an icotes ledger (another version of icotes?)");
  }
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    return make_error(error_code::kIoError, std::string("ledger: mmap: ") + std::strerror(err));
  }
  std::shared_ptr<SharedLedger> l(new SharedLedger(fd, map, size));
  auto* slots = reinterpret_cast<LedgerSlot*>(static_cast<char*>(map) + sizeof(LedgerHeader));
  for (std::uint32_t i = h.slots; i-- > 0;) {
    if (slots[i].state == kWaiting && slots[i].id_bytes <= kLedgerIdBytes)
      l->adopt_.emplace(std::string(slots[i].id, slots[i].id_bytes), i);
    else {
      slots[i].state = kFree;
      l->free_.push_back(i);
    }
  }
  return l;
}

bool SharedLedger::grow_locked() {
  auto* h = static_cast<LedgerHeader*>(map_);
  const std::uint32_t old_slots = h->slots;
  if (old_slots >= (1u << 24)) return false;  // 2 GiB of requests waiting: something else is wrong
  const std::uint32_t slots = old_slots * 2;
  const std::size_t size = file_bytes(slots);
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return false;
  void* map = ::mremap(map_, size_, size, MREMAP_MAYMOVE);
  if (map == MAP_FAILED) return false;
  map_ = map;
  size_ = size;
  h = static_cast<LedgerHeader*>(map_);
  h->slots = slots;  // after the file has grown: a reader never sees slots beyond its end
  for (std::uint32_t i = slots; i-- > old_slots;) free_.push_back(i);
  return true;
}

std::uint32_t SharedLedger::take_slot_locked() {
  if (free_.empty() && !grow_locked()) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
      spdlog::warn("ledger: cannot grow ({}); requests past this many are not answered should the daemon die",
                   std::strerror(errno));
    return kNoSlot;
  }
  const std::uint32_t s = free_.back();
  free_.pop_back();
  return s;
}

void SharedLedger::free_slot_locked(std::uint32_t slot) {
  if (slot == kNoSlot) return;
  auto* slots = reinterpret_cast<LedgerSlot*>(static_cast<char*>(map_) + sizeof(LedgerHeader));
  slots[slot].state = kFree;
  free_.push_back(slot);
}

void SharedLedger::opened(std::string_view id_json, Framing framing) {
  std::lock_guard lock(mutex_);
  if (frozen_) return;
  auto* h = static_cast<LedgerHeader*>(map_);
  if (h->framing == 0) h->framing = framing_code(framing);
  std::string key(id_json);
  if (auto it = adopt_.find(key); it != adopt_.end()) {
    ids_.emplace(std::move(key), it->second);
    adopt_.erase(it);
    return;
  }
  const std::uint32_t s = take_slot_locked();
  if (s == kNoSlot) return;
  auto* slots = reinterpret_cast<LedgerSlot*>(static_cast<char*>(map_) + sizeof(LedgerHeader));
  fill_slot(slots[s], id_json);
  ids_.emplace(std::move(key), s);
}

void SharedLedger::dropped(std::string_view id_json) {
  std::lock_guard lock(mutex_);
  if (frozen_) return;
  const std::string key(id_json);
  for (auto* map : {&ids_, &adopt_}) {
    if (auto it = map->find(key); it != map->end()) {
      free_slot_locked(it->second);
      map->erase(it);
      return;
    }
  }
}

void SharedLedger::set_current_frame_locked() {
  auto* h = static_cast<LedgerHeader*>(map_);
  if (frames_.empty()) {
    h->frame_start = h->frame_end = sent_;
    h->frame_header = 0;
  } else {
    h->frame_start = frames_.front().start;
    h->frame_end = frames_.front().end;
    h->frame_header = frames_.front().header;
  }
}

void SharedLedger::frame(std::size_t bytes, std::size_t header_bytes, std::span<const std::string> answered) {
  std::lock_guard lock(mutex_);
  if (frozen_) return;
  Frame f;
  f.start = queued_;
  f.end = queued_ + bytes;
  f.header = static_cast<std::uint32_t>(header_bytes);
  queued_ = f.end;
  auto* slots = reinterpret_cast<LedgerSlot*>(static_cast<char*>(map_) + sizeof(LedgerHeader));
  for (const std::string& id : answered) {
    auto it = ids_.find(id);
    if (it == ids_.end()) continue;  // not recorded (no slot was free)
    const std::uint32_t s = it->second;
    ids_.erase(it);
    slots[s].state = kAnswerQueued;
    slots[s].answer_end = f.end;
    f.slots.push_back(s);
  }
  if (f.end <= sent_) {  // an empty frame with nothing queued before it
    for (std::uint32_t s : f.slots) free_slot_locked(s);
    return;
  }
  frames_.push_back(std::move(f));
  if (frames_.size() == 1) set_current_frame_locked();
}

void SharedLedger::sent(std::uint64_t total) {
  std::lock_guard lock(mutex_);
  if (frozen_) return;
  sent_ = total;
  static_cast<LedgerHeader*>(map_)->sent = total;
  while (!frames_.empty() && frames_.front().end <= total) {
    for (std::uint32_t s : frames_.front().slots) free_slot_locked(s);
    frames_.pop_front();
  }
  set_current_frame_locked();
}

void SharedLedger::end_adoption() {
  std::lock_guard lock(mutex_);
  if (frozen_) return;
  for (const auto& [id, s] : adopt_) free_slot_locked(s);
  adopt_.clear();
}

void SharedLedger::freeze() {
  std::lock_guard lock(mutex_);
  frozen_ = true;
}

std::size_t SharedLedger::waiting() const {
  std::lock_guard lock(mutex_);
  std::size_t n = ids_.size() + adopt_.size();
  for (const auto& f : frames_) n += f.slots.size();
  return n;
}

Result<int> create_ledger(std::span<const std::string> ids) {
  const int fd = ::memfd_create("icotes-ledger", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return make_error(error_code::kIoError, std::string("memfd_create: ") + std::strerror(errno));
  std::uint32_t slots = kFirstSlots;
  while (slots < 2 * ids.size()) slots *= 2;
  std::string bytes(file_bytes(slots), '\0');
  auto* h = reinterpret_cast<LedgerHeader*>(bytes.data());
  std::memcpy(h->magic, kMagic, sizeof kMagic);
  h->slots = slots;
  auto* slot = reinterpret_cast<LedgerSlot*>(bytes.data() + sizeof(LedgerHeader));
  for (const std::string& id : ids) fill_slot(*slot++, id);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return make_error(error_code::kIoError, std::string("writing the ledger: ") + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  // It may grow (the daemon doubles it) but never shrink: the daemon maps it
  // shared, and a page cut from under its mapping would kill it (SIGBUS).
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(error_code::kIoError, std::string("sealing the ledger: ") + std::strerror(err));
  }
  return fd;
}

namespace {

// The daemon died in the middle of a frame (h.frame_start < h.sent <
// h.frame_end): the client has its first bytes and waits for the rest,
// which this completes.
FrameFiller frame_filler(const LedgerHeader& h, Framing framing) {
  const std::uint64_t written = h.sent - h.frame_start;
  if (h.frame_header > 0) {
    const std::uint64_t body = h.frame_end - h.frame_start - h.frame_header;
    const std::string header = "Content-Length: " + std::to_string(body) + "\r\n\r\n";
    if (header.size() == h.frame_header && written < header.size())
      return {header.substr(static_cast<std::size_t>(written)), body};
    return {{}, h.frame_end - h.sent};
  }
  if (framing == Framing::ContentLength) return {{}, h.frame_end - h.sent};
  return {"\n", 0};
}

}  // namespace

Result<LedgerContents> read_ledger(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return make_error(error_code::kIoError, std::string("ledger: fstat: ") + std::strerror(errno));
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  LedgerHeader h{};
  if (done < sizeof h) return make_error(error_code::kInvalidParams, "ledger: too short");
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
    return make_error(error_code::kInvalidParams, "ledger: not an icotes ledger");
  LedgerContents out;
  out.framing = h.framing == 1 ? Framing::ContentLength : h.framing == 2 ? Framing::NewlineDelimited : Framing::Unknown;
  // The slot count is written after the file grows: slots beyond what was
  // read are not there.
  const std::size_t slots = std::min<std::size_t>(h.slots, (done - sizeof h) / sizeof(LedgerSlot));
  for (std::size_t i = 0; i < slots; ++i) {
    LedgerSlot s{};
    std::memcpy(&s, bytes.data() + sizeof h + i * sizeof s, sizeof s);
    if (s.state != kWaiting && !(s.state == kAnswerQueued && s.answer_end > h.sent)) continue;
    json id = nullptr;
    if (s.id_bytes <= kLedgerIdBytes) {
      id = parse_json_or_discarded(std::string_view(s.id, s.id_bytes));
      if (id.is_discarded() || !(id.is_string() || id.is_number_integer())) id = nullptr;
    }
    out.waiting.push_back(std::move(id));
  }
  if (h.frame_start < h.sent && h.sent < h.frame_end) out.filler = frame_filler(h, out.framing);
  return out;
}

}  // namespace icotes
