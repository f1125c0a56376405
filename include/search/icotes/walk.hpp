// Internal pieces of the search service shared by walk.cpp and grep.cpp.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "icotes/glob.hpp"
#include "icotes/ignore.hpp"
#include "icotes/search.hpp"

namespace icotes::search {

/// Which files a walk yields: overrides (-g), ignore files, types, hidden.
struct Filter {
  IgnoreFile overrides;
  std::size_t override_whitelists = 0;
  std::vector<Glob> type_globs;
  IgnoreFile global;
  bool hidden = false;
  bool no_ignore = false;
  bool follow = false;
  ReadFilter read_denied;  // null: nothing denied
  // Which files the caller wants (glob's pattern on `rel`), asked before
  // read_denied, so a note counts only files the result would have held.
  std::function<bool(const std::string& rel)> wanted;

  static Result<Filter> make(const WalkOptions& options);
  /// True when `rel` (name `name`) is left out.
  bool skip(const IgnoreDir& dir, std::string_view rel, std::string_view name, bool is_dir) const;
};

/// Called for each selected file with its directory fd and name (valid
/// during the call): `rel` is where the walk found it (through followed
/// links), `dirfd`/`name` where it really is. Open it with O_NOFOLLOW: the
/// walk resolved any link itself, beneath the root.
using FileCallback = std::function<void(const std::string& rel, int dirfd, const char* name)>;

/// Called for each directory the walk enters (the start one included), from
/// any of the walk's threads, with the ignore state that applies below it.
using DirCallback = std::function<void(const std::string& rel, const std::shared_ptr<const IgnoreDir>& ignore)>;

/// Collects what could not be read, from any thread (WalkReport::unreadable).
class Unreadable {
 public:
  /// `path` could not be read (`err`: an errno value); `nameable` false
  /// counts it without its name.
  void add(std::string path, int err, bool nameable = true);
  /// Adds what was collected to `report`, keeping its names the first in path order.
  void into(WalkReport& report);

 private:
  std::mutex mutex_;
  std::uint64_t count_ = 0;
  std::vector<std::string> names_;
};

/// `report`, when given, receives what was left out (Read-denied files,
/// links leading outside).
Status walk(const ConfinedRoot& root, const WalkOptions& options, const Filter& filter, const FileCallback& on_file,
            const CancellationToken* cancel, const DirCallback* on_dir = nullptr, WalkReport* report = nullptr);

}  // namespace icotes::search
