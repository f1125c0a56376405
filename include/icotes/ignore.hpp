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

}  // namespace icotes
