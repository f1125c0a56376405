#include "icotes/file_watcher.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "icotes/log.hpp"
#include "icotes/walk.hpp"

namespace icotes::files {
namespace {

constexpr std::uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

// Merges a new change of `path` into what the window already holds:
// created then changed is created; created then deleted is nothing;
// deleted then created is changed.
void note(std::map<std::string, std::string>& changes, const std::string& path, const char* type) {
  auto [it, inserted] = changes.emplace(path, type);
  if (inserted) return;
  const std::string before = it->second;
  const std::string_view now = type;
  if (before == "created" && now == "deleted") {
    changes.erase(it);
  } else if (before == "created") {
    // stays created
  } else if (before == "deleted" && now == "created") {
    it->second = "changed";
  } else {
    it->second = type;
  }
}

// The rules of a default search: ignore files honoured, hidden entries out.
const search::Filter& default_filter() {
  static const search::Filter filter = [] {
    auto f = search::Filter::make(search::WalkOptions{});
    return f ? std::move(*f) : search::Filter{};
  }();
  return filter;
}

}  // namespace

Watcher::Watcher(const ConfinedRoot& root, events::Broker& broker, WatcherOptions options)
    : root_(root), broker_(broker), options_(options) {}

Watcher::~Watcher() {
  stopping_ = true;
  if (stop_pipe_[1] >= 0) {
    const char b = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_pipe_[1], &b, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : {inotify_fd_, stop_pipe_[0], stop_pipe_[1]})
    if (fd >= 0) ::close(fd);
}

std::string Watcher::mode() const {
  std::lock_guard lock(mutex_);
  return mode_;
}

std::size_t Watcher::watch_count() const {
  std::lock_guard lock(mutex_);
  return dirs_.size();
}

Status Watcher::start() {
  std::lock_guard start_lock(start_mutex_);
  if (started_) return start_status_;
  started_ = true;
  if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0)
    return start_status_ = make_error(error_code::kIoError, std::string("file watcher: pipe: ") + std::strerror(errno));
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ < 0) {
    // No inotify instance left (fs.inotify.max_user_instances): scan instead.
    switch_to_polling(std::string("inotify_init1: ") + std::strerror(errno));
  } else {
    {
      std::lock_guard lock(mutex_);
      mode_ = "inotify";
    }
    add_tree("", nullptr);
  }
  if (mode() == "polling") {
    last_scan_ = scan();
    scanned_ = true;
  }
  thread_ = std::thread([this] { run(); });
  return start_status_;
}

// Watches `rel` and every directory a default walk enters below it. With
// `created`, the files found are noted as created (they appeared with a new
// directory, before its watch existed). False when the watch limit was hit.
bool Watcher::add_tree(const std::string& rel, std::map<std::string, std::string>* created) {
  search::WalkOptions options;
  options.path = rel;
  auto filter = search::Filter::make(options);
  if (!filter) return true;
  std::mutex found_mutex;
  std::vector<std::string> files;
  std::size_t new_watches = 0;  // under mutex_
  bool limit_hit = false;
  std::string limit_reason;
  search::DirCallback on_dir = [&](const std::string& dir_rel, const std::shared_ptr<const IgnoreDir>& ignore) {
    std::lock_guard lock(mutex_);
    if (limit_hit || wds_.count(dir_rel)) return;
    if (options_.max_watches && dirs_.size() >= options_.max_watches) {
      limit_hit = true;
      limit_reason = "the configured limit of " + std::to_string(options_.max_watches) + " watches was reached";
      return;
    }
    const int wd = ::inotify_add_watch(inotify_fd_, root_.absolute(dir_rel).c_str(), kMask);
    if (wd < 0) {
      if (errno == ENOSPC) {
        limit_hit = true;
        limit_reason = "the inotify watch limit (/proc/sys/fs/inotify/max_user_watches) was reached";
      }
      return;  // vanished meanwhile, or not a directory any more
    }
    dirs_[wd] = Dir{dir_rel, ignore};
    wds_[dir_rel] = wd;
    ++new_watches;
  };
  // The walk lists a directory before on_dir watches it: a file or
  // directory made in between (`mkdir -p a/b && touch a/b/c`) raises no
  // event. So a new tree is walked again until a walk adds no watch: that
  // walk listed every directory after its watch was in place. At start
  // nothing is reported and one walk is kept (its cost on a large tree).
  for (bool again = true; again;) {
    new_watches = 0;
    files.clear();
    (void)search::walk(
        root_, options, *filter,
        [&](const std::string& file_rel, int, const char*) {
          if (!created) return;
          std::lock_guard lock(found_mutex);
          files.push_back(file_rel);
        },
        nullptr, &on_dir);
    again = created && new_watches > 0 && !limit_hit;
  }
  if (created)
    for (const auto& f : files) note(*created, f, "created");
  if (limit_hit) {
    switch_to_polling(limit_reason);
    return false;
  }
  return true;
}

void Watcher::switch_to_polling(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    if (mode_ == "polling") return;
    mode_ = "polling";
    polling_reason_ = reason;
    for (const auto& [wd, dir] : dirs_) ::inotify_rm_watch(inotify_fd_, wd);
    dirs_.clear();
    wds_.clear();
  }
  spdlog::warn("file watcher: {}; scanning the workspace every {} ms instead", reason, options_.poll_interval_ms);
  broker_.publish("files/watcher",
                  json{{"mode", "polling"}, {"reason", reason}, {"pollIntervalMs", options_.poll_interval_ms}});
}

std::map<std::string, std::pair<std::int64_t, std::int64_t>> Watcher::scan() const {
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> out;
  std::mutex m;
  search::WalkOptions options;
  auto filter = search::Filter::make(options);
  if (!filter) return out;
  (void)search::walk(
      root_, options, *filter,
      [&](const std::string& rel, int dirfd, const char* name) {
        struct stat st {};
        if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
        std::lock_guard lock(m);
        out[rel] = {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                    static_cast<std::int64_t>(st.st_size)};
      },
      nullptr);
  return out;
}

// A flat dispatch over one inotify buffer's events by mask (overflow, gone, created, deleted or moved, changed).
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void Watcher::handle_events(const char* buf, std::size_t len, std::map<std::string, std::string>& changes,
                            bool& rescan) {
  std::vector<std::string> new_dirs;
  for (std::size_t off = 0; off + sizeof(inotify_event) <= len;) {
    const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
    off += sizeof(inotify_event) + ev->len;
    if (ev->mask & IN_Q_OVERFLOW) {
      rescan = true;
      continue;
    }
    std::lock_guard lock(mutex_);
    auto it = dirs_.find(ev->wd);
    if (it == dirs_.end()) continue;
    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) {
      // The directory is gone (its entry in the parent reports the delete).
      if (ev->mask & IN_IGNORED) {
        wds_.erase(it->second.rel);
        dirs_.erase(it);
      }
      continue;
    }
    if (ev->len == 0) continue;
    const std::string_view name(ev->name);
    const bool is_dir = ev->mask & IN_ISDIR;
    const std::string path = join(it->second.rel, name);
    // The same rules as search: ignored and hidden entries raise nothing.
    if (it->second.ignore && default_filter().skip(*it->second.ignore, path, name, is_dir)) continue;
    if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
      if (is_dir)
        new_dirs.push_back(path);
      else
        note(changes, path, "created");
    } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
      if (!is_dir) {
        note(changes, path, "deleted");
      } else {
        // A directory moved away or deleted: its files are gone from here;
        // report the directory itself (its watch goes with IN_IGNORED or
        // stays on the moved tree, which is dropped below).
        note(changes, path, "deleted");
        if (ev->mask & IN_MOVED_FROM) {
          // The moved tree keeps its watches, which would report changes
          // under the old name: drop them (a move back in is a new tree).
          const std::string prefix = path + "/";
          for (auto w = wds_.begin(); w != wds_.end();) {
            if (w->first == path || w->first.compare(0, prefix.size(), prefix) == 0) {
              ::inotify_rm_watch(inotify_fd_, w->second);
              dirs_.erase(w->second);
              w = wds_.erase(w);
            } else {
              ++w;
            }
          }
        }
      }
    } else if (!is_dir && (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB))) {
      note(changes, path, "changed");
    }
  }
  for (const auto& d : new_dirs) {
    note(changes, d, "created");
    if (!add_tree(d, &changes)) return;
  }
}

void Watcher::publish(std::map<std::string, std::string>& changes, bool rescan) {
  if (changes.empty() && !rescan) return;
  json list = json::array();
  std::size_t bytes = 64;
  bool truncated = false;
  for (const auto& [path, type] : changes) {
    if (list.size() >= options_.max_changes) {
      truncated = true;
      break;
    }
    list.push_back(json{{"path", path}, {"type", type}});
    bytes += path.size() + 32;
  }
  json data{{"changes", std::move(list)}, {"mode", mode()}};
  if (truncated) data["truncated"] = true;
  if (rescan || truncated) data["rescan"] = true;
  broker_.publish("files/changed", std::move(data), bytes);
  changes.clear();
}

// The watcher thread's loop: polling or inotify, sharing the stop pipe and the coalescing window carried across
// iterations.
// NOLINTNEXTLINE(readability-function-cognitive-complexity): one piece, as said above
void Watcher::run() {
  using clock = std::chrono::steady_clock;
  std::map<std::string, std::string> changes;
  bool rescan = false;
  bool in_window = false;  // a burst is being collected until window_end
  clock::time_point window_end{};
  std::vector<char> buf(64 * 1024);
  while (!stopping_) {
    if (mode() == "polling") {
      if (!scanned_) {
        last_scan_ = scan();
        scanned_ = true;
      }
      pollfd p{stop_pipe_[0], POLLIN, 0};
      if (::poll(&p, 1, options_.poll_interval_ms) > 0) return;
      auto now = scan();
      for (const auto& [path, stamp] : now) {
        auto it = last_scan_.find(path);
        if (it == last_scan_.end())
          note(changes, path, "created");
        else if (it->second != stamp)
          note(changes, path, "changed");
      }
      for (const auto& [path, stamp] : last_scan_)
        if (!now.count(path)) note(changes, path, "deleted");
      last_scan_ = std::move(now);
      publish(changes, false);
      continue;
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int timeout = -1;
    if (in_window)
      timeout = static_cast<int>(std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(window_end - clock::now()).count()));
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents) return;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      for (;;) {
        const ssize_t got = ::read(inotify_fd_, buf.data(), buf.size());
        if (got <= 0) break;
        handle_events(buf.data(), static_cast<std::size_t>(got), changes, rescan);
      }
      if (!in_window && (!changes.empty() || rescan)) {
        in_window = true;
        window_end = clock::now() + std::chrono::milliseconds(options_.coalesce_ms);
      }
    }
    if (in_window && clock::now() >= window_end) {
      publish(changes, rescan);
      rescan = false;
      in_window = false;
    }
  }
}

}  // namespace icotes::files
