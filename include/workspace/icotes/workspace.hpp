// One workspace root and the services that serve it. Every connection to the
// same root shares one Workspace (docs/ARCHITECTURE.md, "The workspace"): the documents
// overlay, the files service and, as they land, search, git, terminals and
// permissions.
#pragma once

#include <memory>
#include <string>

#include "icotes/client_registry.hpp"
#include "icotes/confine.hpp"
#include "icotes/documents.hpp"
#include "icotes/editor_context.hpp"
#include "icotes/events.hpp"
#include "icotes/exec.hpp"
#include "icotes/file_uri.hpp"
#include "icotes/file_watcher.hpp"
#include "icotes/files.hpp"
#include "icotes/git_module.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/result.hpp"
#include "icotes/sampler_registry.hpp"
#include "icotes/terminal.hpp"
#include "icotes/worker_pool.hpp"

namespace icotes {

class Workspace {
 public:
  /// Opens `root` (canonicalised) and its permission gate (settings from
  /// <root>/.icotes/config.toml plus `permissions`, e.g. from the command
  /// line). Errors: kNotFound when it is not a directory; a bad config file.
  static Result<std::unique_ptr<Workspace>> open(const std::string& root, std::size_t worker_threads = 0,
                                                 const permissions::Settings& permissions = {});

  const ConfinedRoot& root() const { return root_; }
  Documents& documents() { return documents_; }
  /// What the attached editors show (icotes/editor/context).
  EditorContexts& editor_contexts() { return editor_contexts_; }
  files::Service& files() { return files_; }
  git::Door& git() { return git_; }
  events::Broker& events() { return events_; }
  /// Publishes files/changed once started (events/subscribe starts it).
  files::Watcher& watcher() { return watcher_; }
  WorkerPool& workers() { return workers_; }
  permissions::Gate& gate() { return *gate_; }
  exec::Service& exec() { return *exec_; }
  terminal::Service& terminals() { return *terminals_; }
  /// The clients connected now (each Session adds and removes its own).
  ClientRegistry& clients() { return clients_; }
  /// The attached MCP clients that lend their model (MCP sampling): each
  /// MCP session that declared `sampling` adds itself while it lasts.
  SamplerRegistry& samplers() { return samplers_; }

  /// file:// URI of a path relative to the root (RFC 8089, percent-encoded).
  std::string uri_of(const std::string& rel) const;
  /// Relative path of a file:// URI; errors as ConfinedRoot::relative, or
  /// kInvalidParams for a URI that is not file://.
  Result<std::string> rel_of_uri(std::string_view uri) const;

 private:
  Workspace(ConfinedRoot root, std::size_t worker_threads);
  ConfinedRoot root_;
  ClientRegistry clients_;
  SamplerRegistry samplers_;
  Documents documents_;
  EditorContexts editor_contexts_;
  files::Service files_;
  git::Door git_;
  events::Broker events_;
  files::Watcher watcher_;  // after events_: it publishes there until it is gone
  std::unique_ptr<permissions::Gate> gate_;
  std::unique_ptr<exec::Service> exec_;
  std::unique_ptr<terminal::Service> terminals_;  // after events_: its readers publish until it is gone
  WorkerPool workers_;                            // last: stopped first, so no task outlives the gate
};

}  // namespace icotes
