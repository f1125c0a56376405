#include "icotes/workspace.hpp"

#include "icotes/permission_gate.hpp"

namespace icotes {

Workspace::Workspace(ConfinedRoot root, std::size_t worker_threads)
    : root_(std::move(root)),
      files_(root_, documents_),
      git_(root_),
      watcher_(root_, events_),
      workers_(worker_threads) {}

Result<std::unique_ptr<Workspace>> Workspace::open(const std::string& root, std::size_t worker_threads,
                                                   const permissions::Settings& permissions) {
  auto r = ConfinedRoot::open(root);
  if (!r) return std::move(r).error();
  std::unique_ptr<Workspace> ws(new Workspace(std::move(*r), worker_threads));
  auto gate = permissions::Gate::open(ws->root_, permissions);
  if (!gate) return std::move(gate).error();
  ws->gate_ = std::move(*gate);
  auto exec_service = exec::Service::open(ws->root_, ws->gate_->settings().mode == permissions::Mode::ReadOnly);
  if (!exec_service) return std::move(exec_service).error();
  ws->exec_ = std::move(*exec_service);
  auto terminal_limits = terminal::load_limits(ws->root_.path() + "/.icotes/config.toml");
  if (!terminal_limits) return std::move(terminal_limits).error();
  ws->terminals_ = std::make_unique<terminal::Service>(ws->root_, ws->events_, *terminal_limits);
  return ws;
}

std::string Workspace::uri_of(const std::string& rel) const {
  return "file://" + percent_encode_path(root_.absolute(rel));
}

Result<std::string> Workspace::rel_of_uri(std::string_view uri) const {
  auto path = path_of_file_uri(uri);
  if (!path) return std::move(path).error();
  return root_.relative(*path);
}

}  // namespace icotes
