// Where icotes keeps its state (XDG Base Directory Specification 0.8,
// "XDG_STATE_HOME"): the global permission store, the audit logs, the
// agent's conversations, the chat history.
#pragma once

#include <string>
#include <string_view>

namespace icotes {

/// $XDG_STATE_HOME/icotes (an absolute XDG_STATE_HOME; the spec ignores a
/// relative one), else $HOME/.local/state/icotes, else /tmp/icotes-<uid>.
/// Not created here.
std::string state_dir();

/// A file name stem for the workspace at `root` (a canonical path): a 64-bit
/// FNV-1a-style hash of its bytes (the FNV prime, but 1469598103934665603 as
/// the basis, not FNV's 14695981039346656037: kept, since it names existing
/// files) as 16 lowercase hex digits. Names the
/// per-workspace files under state_dir() (audit/<stem>.sqlite,
/// agent/<stem>.sqlite); stable across releases.
std::string root_file_stem(std::string_view root);

}  // namespace icotes
