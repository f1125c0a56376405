// What the user's editors show: the latest icotes/editor/context each
// attached editor sent (README "Editor context"), for AI clients of the same
// workspace (the editor_context tool and the icotes://editor/context
// resource). Positions are LSP positions: 0-based line, UTF-16 code units.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/json.hpp"
#include "icotes/path_policy.hpp"

namespace icotes {

class EditorContexts {
 public:
  /// Bounds on what one editor's context keeps (the rest is dropped).
  static constexpr std::size_t kSelectionBytes = 16 * 1024;  // selection text, cut at a UTF-8 boundary
  static constexpr std::size_t kSelections = 8;
  static constexpr std::size_t kVisibleRanges = 16;
  static constexpr std::size_t kTabs = 50;
  static constexpr std::size_t kDiagnostics = 50;
  static constexpr std::size_t kMessageBytes = 500;

  /// The workspace-relative path of a file:// URI, or nothing when it is not
  /// under the root.
  using RelOf = std::function<std::optional<std::string>(std::string_view uri)>;

  /// Stores `params` (the notification's: {uri, languageId?, selection,
  /// selections?, visibleRanges, openBuffers, diagnostics?}) as the latest
  /// context of `owner` (one per editor connection), bounded and with paths
  /// made workspace-relative; members of the wrong type are left out.
  void update(const void* owner, const std::string& client, const json& params, const RelOf& rel_of);
  /// Forgets `owner`'s context (its connection closed).
  void remove(const void* owner);
  /// The contexts, most recently updated first: [{client, updated (RFC 3339),
  /// file?, languageId?, selection?, selections?, visibleRanges, openTabs,
  /// diagnostics}]. Files `read_denied` covers are left out.
  json list(const ReadFilter& read_denied = nullptr) const;

 private:
  struct Entry {
    const void* owner;
    std::string client;
    std::int64_t updated_ms;
    json context;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

/// editor_context's result ({editors: list()}) as the few lines a person
/// reads: `src/a.c:13:6-15:3 (selected)`, the selected text, open tabs.
/// Positions shown 1-based.
std::string render_editor_context(const json& result);

}  // namespace icotes
