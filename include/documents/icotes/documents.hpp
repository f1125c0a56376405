// The documents overlay: the editor's open buffers (LSP textDocument/didOpen,
// didChange, didClose), keyed by the file's path relative to the workspace
// root. What is open here is the truth for reads; writes to an open document
// go to the editor that owns it as `workspace/applyEdit`
// (LSP 3.17 section "Text Document Synchronization"), like clangd's DraftStore.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "icotes/result.hpp"

namespace icotes {

/// Which unit Position.character counts (LSP 3.17 PositionEncodingKind).
enum class PositionEncoding { Utf16, Utf8, Utf32 };

/// An LSP Position: zero-based line, and character in `PositionEncoding` units.
struct Position {
  std::uint32_t line = 0;
  std::uint32_t character = 0;
};
struct Range {
  Position start;
  Position end;
};

/// Byte offset of `pos` in `text`, clamped to the line's end and the text's
/// end as LSP requires for out-of-range characters.
std::size_t offset_of(std::string_view text, Position pos, PositionEncoding encoding);
/// Position of byte offset `offset` in `text`.
Position position_of(std::string_view text, std::size_t offset, PositionEncoding encoding);

/// An editor that can apply edits to its buffers (implemented by the LSP
/// session). apply_edit blocks until the editor answers or `timeout` passes.
class EditorLink {
 public:
  virtual ~EditorLink() = default;
  /// Replaces bytes [begin, end) of the open document `uri` (whose text is
  /// `old_text`, version `version`) with `new_text`. Result: true when the
  /// editor applied it, false when it refused (with its reason in the error).
  virtual Result<bool> apply_edit(const std::string& uri, std::int64_t version, std::string_view old_text,
                                  std::size_t begin, std::size_t end, std::string_view replacement,
                                  std::chrono::milliseconds timeout) = 0;
  virtual std::string editor_name() const = 0;
  /// Asks the editor to show `uri` with the cursor at `at` (LSP 3.16
  /// `window/showDocument`, takeFocus). Result: whether it did. Errors:
  /// kRequestFailed when the editor lacks the capability, fails or does not
  /// answer within `timeout`.
  virtual Result<bool> show_document(const std::string& uri, std::optional<Position> at,
                                     std::chrono::milliseconds timeout) = 0;
  /// It declared `window/showDocument` (LSP 3.16).
  virtual bool can_show_document() const { return true; }
};

struct OpenDocument {
  std::string uri;
  std::string language_id;
  std::int64_t version = 0;
  std::string text;
  std::weak_ptr<EditorLink> owner;
};

class Documents {
 public:
  /// didOpen: a new buffer replaces any earlier one for the same path.
  void open(const std::string& rel, OpenDocument doc);
  /// didChange, full text.
  Status replace(const std::string& rel, std::int64_t version, std::string text);
  /// didChange, incremental: replace `range` (in `encoding` units).
  Status change(const std::string& rel, std::int64_t version, const Range& range, std::string_view text,
                PositionEncoding encoding);
  void close(const std::string& rel);
  /// Closes every document owned by `owner` (the editor disconnected).
  void close_owned_by(const EditorLink* owner);

  /// A copy of the open document, or nullopt.
  std::optional<OpenDocument> get(const std::string& rel) const;
  std::vector<std::string> open_paths() const;

  /// Editors attached to this workspace (LSP sessions), for `icotes open`.
  void add_editor(std::weak_ptr<EditorLink> editor);
  /// The editor attached last that is still there, or null.
  std::shared_ptr<EditorLink> editor() const;
  /// Every editor still there, the one attached last first.
  std::vector<std::shared_ptr<EditorLink>> editors() const;

  /// Waits until the version of `rel` differs from `version` or the document
  /// is closed; false on timeout.
  bool wait_for_change(const std::string& rel, std::int64_t version, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, OpenDocument, std::less<>> docs_;
  std::vector<std::weak_ptr<EditorLink>> editors_;
};

}  // namespace icotes
