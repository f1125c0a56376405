// The file watcher: publishes `files/changed` events on the workspace's
// event broker when files under the root change on disk (inotify(7)).
//
// It watches what search sees: the directories a default walk enters
// (ripgrep's ignore rules, hidden entries left out), so `node_modules/`,
// `build/` and `.git/` cost no watches and raise no events. New directories
// are watched as they appear (and the files already inside them reported).
// Bursts are coalesced: the first change starts a window (default 50 ms)
// and one event carries every path changed in it:
//
//   files/changed {changes: [{path, type: "created" | "changed" | "deleted"}],
//                  truncated?: true, rescan?: true, mode: "inotify" | "polling"}
//
// `rescan: true` means events were lost (inotify queue overflow): clients
// should re-read what they cache. When the inotify watch limit
// (/proc/sys/fs/inotify/max_user_watches) is reached, the watcher falls back
// to scanning the tree every `poll_interval_ms`, says so once in a
// `files/watcher` event {mode: "polling", reason} and in the log.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "icotes/confine.hpp"
#include "icotes/events.hpp"
#include "icotes/result.hpp"

namespace icotes {

class IgnoreDir;

namespace files {

struct WatcherOptions {
  int coalesce_ms = 50;            // window after the first change of a burst
  int poll_interval_ms = 2000;     // scan period in polling mode
  std::size_t max_changes = 1000;  // per event; more: truncated + rescan
  std::size_t max_watches = 0;     // 0: as many as the kernel allows (tests lower it)
};

class Watcher {
 public:
  Watcher(const ConfinedRoot& root, events::Broker& broker, WatcherOptions options = {});
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  /// Starts watching (once; later calls return the first outcome). The
  /// initial walk runs on the caller's thread. Errors: kIoError when
  /// inotify cannot be set up at all (then nothing is watched).
  Status start();
  /// "inotify", "polling", or "" before start().
  std::string mode() const;
  std::size_t watch_count() const;

 private:
  struct Dir {
    std::string rel;
    std::shared_ptr<const IgnoreDir> ignore;
  };
  void run();
  bool add_tree(const std::string& rel, std::map<std::string, std::string>* created);
  void handle_events(const char* buf, std::size_t len, std::map<std::string, std::string>& changes, bool& rescan);
  void switch_to_polling(const std::string& reason);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> scan() const;  // path -> (mtime ns, size)
  void publish(std::map<std::string, std::string>& changes, bool rescan);

  const ConfinedRoot& root_;
  events::Broker& broker_;
  WatcherOptions options_;
  std::mutex start_mutex_;
  bool started_ = false;
  Status start_status_ = ok_status();
  int inotify_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  mutable std::mutex mutex_;                  // guards the maps and mode_
  std::unordered_map<int, Dir> dirs_;         // watch descriptor -> directory
  std::unordered_map<std::string, int> wds_;  // directory rel -> watch descriptor
  std::string mode_;
  std::string polling_reason_;
  std::atomic<bool> stopping_{false};
  // Polling mode's last scan: taken by start() when it falls back to
  // polling (so a change made after start() returns is seen), else by the
  // watcher thread on switching; then only that thread touches it.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> last_scan_;
  bool scanned_ = false;
};

}  // namespace files
}  // namespace icotes
