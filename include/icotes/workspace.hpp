// One workspace root and the services that serve it. Every connection to the
// same root shares one Workspace (DESIGN.md section 2): the documents
// overlay, the files service and, as they land, search, git, terminals and
// permissions.
#pragma once

#include <memory>
#include <string>

#include "icotes/confine.hpp"
#include "icotes/documents.hpp"
#include "icotes/files.hpp"
#include "icotes/result.hpp"
#include "icotes/worker_pool.hpp"

namespace icotes {

class Workspace {
 public:
  /// Opens `root` (canonicalised). Errors: kNotFound when it is not a directory.
  static Result<std::unique_ptr<Workspace>> open(const std::string& root, std::size_t worker_threads = 0);

  const ConfinedRoot& root() const { return root_; }
  Documents& documents() { return documents_; }
  files::Service& files() { return files_; }
  WorkerPool& workers() { return workers_; }

  /// file:// URI of a path relative to the root (RFC 8089, percent-encoded).
  std::string uri_of(const std::string& rel) const;
  /// Relative path of a file:// URI; errors as ConfinedRoot::relative, or
  /// kInvalidParams for a URI that is not file://.
  Result<std::string> rel_of_uri(std::string_view uri) const;

 private:
  Workspace(ConfinedRoot root, std::size_t worker_threads);
  ConfinedRoot root_;
  Documents documents_;
  files::Service files_;
  WorkerPool workers_;
};

/// Percent-encodes a path for a file:// URI (keeps unreserved and '/').
std::string percent_encode_path(std::string_view path);
/// Decodes %XX escapes; nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace icotes
