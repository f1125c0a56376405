// Ignore rules as ripgrep applies them (the `ignore` crate, ripgrep 13):
// .gitignore files at every level (inside a git repository only),
// .git/info/exclude, core.excludesFile, .ignore and .rgignore (always), with
// gitignore(5) syntax: last matching line of a file wins, `!` re-includes,
// leading or middle `/` anchors to the file's directory, trailing `/`
// matches directories only. Between files, the deepest directory decides
// first, and per directory .rgignore > .ignore > .gitignore > exclude >
// global. Paths are '/'-separated and relative to the workspace root.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/glob.hpp"

namespace icotes {

enum class IgnoreMatch { None, Ignore, Whitelist };

/// One ignore file's patterns, relative to `base` (a directory relative to
/// the workspace root, "" for the root).
class IgnoreFile {
 public:
  IgnoreFile() = default;
  IgnoreFile(std::string base, std::string_view text);
  /// The decision of this file for `path` (relative to the workspace root).
  IgnoreMatch match(std::string_view path, bool is_dir) const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    Glob glob{""};
    bool negated = false;
    bool dir_only = false;
    bool anchored = false;  // matched against the whole relative path, else the base name
  };
  std::string base_;
  std::vector<Rule> rules_;
};

/// The ignore state of one directory during a walk: its own files plus a
/// link to its parent's state.
class IgnoreDir {
 public:
  struct Files {
    IgnoreFile rgignore, ignore, gitignore, exclude;
    bool has_git = false;  // the directory holds .git
  };
  IgnoreDir(std::shared_ptr<const IgnoreDir> parent, Files files, bool any_git);

  /// ripgrep's Ignore::matched_ignore for `path` in or below this directory.
  IgnoreMatch match(std::string_view path, bool is_dir, const IgnoreFile* global) const;
  bool any_git() const { return any_git_; }
  const std::shared_ptr<const IgnoreDir>& parent() const { return parent_; }

 private:
  std::shared_ptr<const IgnoreDir> parent_;
  Files files_;
  bool any_git_;  // this directory or an ancestor within the walk has .git
};

/// Up to 4 MiB of the file `name` in the directory `dirfd` (AT_FDCWD: a
/// path), not following a symlink as the last component; "" when it
/// cannot be read.
std::string read_ignore_file(int dirfd, const char* name);

/// The ignore files of the directory open as `dirfd`, whose path relative
/// to the workspace root is `rel`. The flags say which of .rgignore,
/// .ignore, .gitignore and .git it holds (as readdir saw them), so absent
/// files cost no open; .git/info/exclude is read when it holds .git.
IgnoreDir::Files read_ignore_files(int dirfd, const std::string& rel, bool has_rgignore, bool has_ignore,
                                   bool has_gitignore, bool has_git);

/// git's global excludes: core.excludesFile from $XDG_CONFIG_HOME/git/config
/// or ~/.gitconfig, else $XDG_CONFIG_HOME/git/ignore (git-config(1)); read
/// on each call.
IgnoreFile global_git_excludes();

/// The ignore state a walk starting at directory `rel` inherits: the ignore
/// files of each directory from the root down to rel's parent (opened
/// beneath `root`). Null when `rel` is the root.
std::shared_ptr<const IgnoreDir> ignore_ancestors(const ConfinedRoot& root, const std::string& rel);

}  // namespace icotes
