// What no client may change, and where an opened path really lands.
//
// Every operation that writes (the files tools, patches, git checkouts,
// stash pops, resets) asks protected_path_reason() about each path it is
// about to change, on the path it resolved through descriptors
// (landing_path()), not on the name the client gave: a symlink or a rename
// racing the write cannot turn `d/config.toml` into `.icotes/config.toml`.
// The permission gate asks the same function, so the rule is written once.
//
// README "Safety" lists the protected paths for users.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "icotes/confine.hpp"
#include "icotes/result.hpp"

namespace icotes {

/// Why no operation may create, change, rename or delete `rel` (a
/// workspace-relative, normalised path as ConfinedRoot::relative() gives),
/// or nullopt when it is not protected. Protected, at any depth (a nested
/// repository or a folder later opened as a workspace of its own):
///  - `.icotes` and everything beneath it (icotes' settings and grants: an
///    AI that could write them could allow itself anything on the next start);
///  - in a `.git` directory: `config`, `config.worktree`, `hooks/**`,
///    `info/attributes`, `commondir` (names the directory whose config and
///    hooks git uses), and the same beneath `modules/**/` and
///    `worktrees/<name>/` (git runs `core.fsmonitor`, hooks and filter
///    drivers named there at the user's next git command);
///  - `.git` itself, a directory or a `gitdir:` file, and `.git/modules`,
///    `.git/worktrees` (renaming one away would let a new one take its place).
/// Comparison is byte-wise and case-sensitive, as Linux file names are.
std::optional<std::string> protected_path_reason(std::string_view rel);

/// The workspace-relative path `fd` names now (readlink(2) of
/// /proc/self/fd/N, made relative to the root): where a write through that
/// descriptor lands, whatever the names the client gave. Errors:
/// kOutsideWorkspace when the descriptor is outside the root (it was moved
/// out), kIoError when /proc is unavailable or the file was deleted.
Result<std::string> landing_path(const ConfinedRoot& root, int fd);

/// The landing path of `name` inside the directory `dir_fd`:
/// landing_path(dir_fd) + "/" + name ("" + name at the root).
Result<std::string> landing_path_in(const ConfinedRoot& root, int dir_fd, std::string_view name);

/// A client's read restrictions over workspace-relative paths: true when the
/// client may not read `rel` (a `Read(...)` deny rule or a saved deny covers
/// it). A null filter denies nothing (the common case: no Read deny at all).
/// Multi-file results (grep, glob, listings, git patches, blame) leave such
/// files out and say so in a note.
using ReadFilter = std::function<bool(std::string_view rel)>;

/// Whether the asking client may change `rel`, the path a write really lands
/// on (landing_path()), judged after the permission gate approved the call's
/// named paths: ok, or kPermissionDenied saying why. A protected path
/// (protected_path_reason()) and a path a deny rule covers are refused; a
/// path the approval covers (the approved path itself, or beneath an
/// approved directory: the whole workspace for a git checkout) is allowed;
/// anything else only when the client's settings allow it without asking.
/// Null (unit tests, internal callers): only protected_path_reason() applies.
using WriteCheck = std::function<Status(std::string_view rel)>;

}  // namespace icotes
