// ListingCache: directory listings kept valid by inotify(7). See files.hpp.
#include <linux/magic.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "icotes/files.hpp"

namespace icotes::files {
namespace {

constexpr std::uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB |
                                     IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// File systems whose contents may change without a local inotify event
// (another client of the same share); statfs(2) f_type values.
bool remote_file_system(long type) {
  switch (static_cast<unsigned long>(type)) {
    case 0x6969UL:      // NFS_SUPER_MAGIC
    case 0x517BUL:      // SMB_SUPER_MAGIC
    case 0xFF534D42UL:  // CIFS_SUPER_MAGIC
    case 0xFE534D42UL:  // SMB2_SUPER_MAGIC
    case 0x65735546UL:  // FUSE_SUPER_MAGIC
    case 0x01021997UL:  // V9FS_MAGIC
    case 0x00C36400UL:  // CEPH_SUPER_MAGIC
    case 0x5346414FUL:  // AFS_FS_MAGIC
    case 0x73757245UL:  // CODA_SUPER_MAGIC
    case 0x47504653UL:  // GPFS
    case 0x0BD00BD0UL:  // LUSTRE
      return true;
    default:
      return false;
  }
}

}  // namespace

std::size_t ListingCache::KeyHash::operator()(const Key& k) const noexcept {
  return (std::hash<std::string>()(k.rel) * 31 + static_cast<std::size_t>(k.depth)) * 2 + (k.include_ignored ? 1 : 0);
}

ListingCache::ListingCache() {
  if (const char* v = std::getenv("ICOTES_LIST_CACHE"); v && std::string_view(v) == "0") return;
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);  // -1: no cache, listings still work
}

ListingCache::~ListingCache() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

void ListingCache::drain_locked() {
  alignas(struct inotify_event) char buf[16384];
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) return;  // EAGAIN: nothing pending (EINTR: the next lookup reads on)
    for (const char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      ++sequence_;
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were lost: nothing cached can be trusted.
        while (!listings_.empty()) drop_locked(listings_.begin()->first);
        for (auto& [wd, w] : watches_) w.last_event = sequence_;
        continue;
      }
      auto it = watches_.find(ev->wd);
      if (it == watches_.end()) continue;  // a watch released earlier
      it->second.last_event = sequence_;
      const std::vector<Key> users = it->second.users;
      for (const auto& key : users) drop_locked(key);
      if (ev->mask & IN_IGNORED) watches_.erase(ev->wd);  // the kernel removed it
    }
  }
}

// `key` is a copy: it may be the key of the entry erased here, and is used after.
// NOLINTNEXTLINE(performance-unnecessary-value-param): a copy on purpose (above)
std::vector<int> ListingCache::unlink_locked(Key key) {
  auto it = listings_.find(key);
  if (it == listings_.end()) return {};
  std::vector<int> wds = std::move(it->second.wds);
  listings_.erase(it);
  for (int wd : wds) {
    auto w = watches_.find(wd);
    if (w == watches_.end()) continue;
    auto& users = w->second.users;
    users.erase(std::remove(users.begin(), users.end(), key), users.end());
  }
  return wds;
}

// `key` is a copy: callers may pass the key stored in the entry erased here.
void ListingCache::drop_locked(Key key) { release_unused_locked(unlink_locked(std::move(key))); }

void ListingCache::release_unused_locked(const std::vector<int>& wds) {
  for (int wd : wds) {
    auto w = watches_.find(wd);
    // Kept while a build may still depend on it: a build's watch has no
    // users until stored; its last_event tells the build what happened.
    if (w == watches_.end() || !w->second.users.empty()) continue;
    ::inotify_rm_watch(inotify_fd_, wd);
    watches_.erase(w);
  }
}

std::shared_ptr<const ListResult> ListingCache::find(const std::string& rel, int depth, bool include_ignored, dev_t dev,
                                                     ino_t ino) {
  if (inotify_fd_ < 0) return nullptr;
  std::lock_guard lock(mutex_);
  drain_locked();
  auto it = listings_.find(Key{rel, depth, include_ignored});
  if (it == listings_.end()) return nullptr;
  if (it->second.dev != dev || it->second.ino != ino) {  // another directory now has that path
    drop_locked(it->first);
    return nullptr;
  }
  it->second.last_used = ++sequence_;
  return it->second.listing;
}

ListingCache::Build ListingCache::begin(int dir_fd) {
  Build b;
  if (inotify_fd_ < 0) {
    b.cacheable = false;
    return b;
  }
  struct statfs sfs {};
  if (::fstatfs(dir_fd, &sfs) != 0 || remote_file_system(static_cast<long>(sfs.f_type))) b.cacheable = false;
  std::lock_guard lock(mutex_);
  drain_locked();
  b.started = sequence_;
  return b;
}

void ListingCache::watch(Build& build, int fd) {
  if (!build.cacheable) return;
  // inotify_add_watch takes a path; the fd's /proc link names exactly the
  // directory already opened beneath the root (no second lookup by name).
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  std::lock_guard lock(mutex_);
  const int wd = ::inotify_add_watch(inotify_fd_, path, kWatchMask);
  if (wd < 0) {  // ENOSPC (max_user_watches), no /proc: this listing is not cached
    build.cacheable = false;
    return;
  }
  watches_.try_emplace(wd);
  build.wds.push_back(wd);
}

void ListingCache::store(const std::string& rel, int depth, bool include_ignored, dev_t dev, ino_t ino, Build build,
                         std::shared_ptr<const ListResult> listing) {
  if (inotify_fd_ < 0) return;
  std::lock_guard lock(mutex_);
  drain_locked();
  std::sort(build.wds.begin(), build.wds.end());
  build.wds.erase(std::unique(build.wds.begin(), build.wds.end()), build.wds.end());
  bool fresh = build.cacheable;
  for (int wd : build.wds) {
    auto w = watches_.find(wd);
    if (w == watches_.end() || w->second.last_event > build.started) fresh = false;
  }
  if (!fresh) {
    release_unused_locked(build.wds);
    return;
  }
  // Unlink what this replaces or evicts before releasing watches, so a
  // watch the new listing shares with them is kept.
  Key key{rel, depth, include_ignored};
  std::vector<int> unlinked = unlink_locked(key);
  if (listings_.size() >= kMaxListings) {
    auto oldest = std::min_element(listings_.begin(), listings_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    auto more = unlink_locked(oldest->first);
    unlinked.insert(unlinked.end(), more.begin(), more.end());
  }
  for (int wd : build.wds) watches_[wd].users.push_back(key);
  listings_.emplace(key, Cached{dev, ino, std::move(build.wds), std::move(listing), ++sequence_});
  release_unused_locked(unlinked);
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): taken by value like store()'s: the caller gives the build up
void ListingCache::abandon(Build build) {
  if (inotify_fd_ < 0) return;
  std::lock_guard lock(mutex_);
  release_unused_locked(build.wds);
}

std::size_t ListingCache::size() {
  std::lock_guard lock(mutex_);
  drain_locked();
  return listings_.size();
}

}  // namespace icotes::files
