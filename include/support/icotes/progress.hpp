// Progress of one long call, as the service reports it; the dialect that
// started the call maps it to its protocol (LSP `$/progress`, MCP
// `notifications/progress`). Services include only this header.
#pragma once

#include <string_view>

#include "icotes/json.hpp"

namespace icotes {

/// Reports progress of a long operation. The dialect maps it to LSP
/// `$/progress` (WorkDoneProgress) or MCP `notifications/progress`; it is a
/// no-op when the client gave no token.
class Progress {
 public:
  virtual ~Progress() = default;
  /// `done` and `total` are in the operation's own units (files, bytes);
  /// total 0 means unknown.
  virtual void report(std::string_view message, double done, double total) = 0;
  /// True when the client asked for partial results (LSP partialResultToken):
  /// then the operation sends its items through partial() and its final
  /// result carries none of them (LSP 3.17 "Partial Result Progress").
  virtual bool wants_partial() const { return false; }
  /// Sends a batch of result items (same shape as the final result's).
  virtual void partial(const json& /*items*/) {}
};

class NullProgress final : public Progress {
 public:
  void report(std::string_view, double, double) override {}
};

}  // namespace icotes
