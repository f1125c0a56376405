#include "icotes/workspace.hpp"

#include <filesystem>

#include "icotes/hex.hpp"
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

std::string percent_encode_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

std::string Workspace::uri_of(const std::string& rel) const {
  return "file://" + percent_encode_path(root_.absolute(rel));
}

Result<std::string> path_of_file_uri(std::string_view uri) {
  constexpr std::string_view scheme = "file://";
  if (uri.substr(0, scheme.size()) != scheme)
    return make_error(error_code::kInvalidParams, "'" + std::string(uri) + "' is not a file:// URI");
  std::string_view rest = uri.substr(scheme.size());
  if (rest.substr(0, 9) == "localhost") rest.remove_prefix(9);
  if (rest.empty() || rest.front() != '/')
    return make_error(error_code::kInvalidParams,
                      "'" + std::string(uri) + "' names a remote host; only local files are served");
  if (const std::size_t q = rest.find_first_of("?#"); q != std::string_view::npos) rest = rest.substr(0, q);
  auto path = percent_decode(rest);
  if (!path) return make_error(error_code::kInvalidParams, "'" + std::string(uri) + "' has a malformed %-escape");
  return *path;
}

Result<std::string> Workspace::rel_of_uri(std::string_view uri) const {
  auto path = path_of_file_uri(uri);
  if (!path) return std::move(path).error();
  return root_.relative(*path);
}

std::optional<std::string> client_root_of_initialize(const json& message) {
  if (!message.is_object() || message.value("method", json()) != "initialize") return std::nullopt;
  const json* p = message.contains("params") && message["params"].is_object() ? &message["params"] : nullptr;
  if (p == nullptr) return std::nullopt;
  std::vector<std::string> candidates;
  if (auto f = p->find("workspaceFolders"); f != p->end() && f->is_array() && !f->empty()) {
    const json& first = f->front();
    if (first.is_object() && first.contains("uri") && first["uri"].is_string()) {
      if (auto path = path_of_file_uri(first["uri"].get<std::string>())) candidates.push_back(*path);
    }
  }
  if (auto r = p->find("rootUri"); r != p->end() && r->is_string()) {
    if (auto path = path_of_file_uri(r->get<std::string>())) candidates.push_back(*path);
  }
  if (auto r = p->find("rootPath"); r != p->end() && r->is_string() && !r->get_ref<const std::string&>().empty())
    candidates.push_back(r->get<std::string>());
  for (const auto& c : candidates) {
    std::error_code ec;
    if (!c.empty() && c.front() == '/' && std::filesystem::is_directory(c, ec)) return c;
  }
  return std::nullopt;
}

}  // namespace icotes
