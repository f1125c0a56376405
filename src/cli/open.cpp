// `icotes open FILE[:LINE[:COL]]`: asks the daemon serving the file's
// workspace to have its attached editor show the file (like `code -g`).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "icotes/daemon.hpp"

namespace icotes::cli {
namespace {

constexpr std::string_view kWho = "icotes open";

// FILE[:LINE[:COL]] as the open request's params (path absolute).
json open_params(const std::string& target) {
  std::string file = target;
  std::optional<long> line, column;
  auto take_number = [&](std::optional<long>& out) {
    const auto colon = file.rfind(':');
    if (colon == std::string::npos || colon + 1 == file.size() || colon + 10 < file.size()) return false;
    const std::string tail = file.substr(colon + 1);
    if (tail.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stol(tail);
    file.resize(colon);
    return true;
  };
  if (take_number(column) && !take_number(line)) std::swap(line, column);
  if ((line && *line < 1) || (column && *column < 1))
    die(make_error(error_code::kInvalidParams, "lines and columns count from 1"), 2, kWho);
  std::error_code ec;
  json params = {{"path", std::filesystem::absolute(file, ec).lexically_normal().string()}};
  if (line) params["line"] = *line;
  if (column) params["column"] = *column;
  return params;
}

// The roots whose daemons may show `path`: --root's, else every directory
// above the file, nearest first.
std::vector<std::string> candidate_roots(const std::filesystem::path& path, const std::string& root_option) {
  std::error_code ec;
  if (!root_option.empty()) return {std::filesystem::weakly_canonical(root_option, ec).string()};
  std::vector<std::string> roots;
  for (auto dir = std::filesystem::weakly_canonical(path, ec).parent_path();; dir = dir.parent_path()) {
    roots.push_back(dir.string());
    if (dir == dir.parent_path()) break;
  }
  return roots;
}

// Editors attached to the daemons not `asked`, which cannot show this file:
// "name (on root)", comma-separated.
std::string editors_elsewhere(const std::vector<std::string>& asked) {
  std::string others;
  for (const auto& socket : all_daemon_sockets()) {
    if (std::find(asked.begin(), asked.end(), socket) != asked.end()) continue;
    const auto status = call_daemon(socket, "icotes/daemon/status", json::object());
    if (!status || !*status) continue;
    const json& st = **status;
    for (const auto& c : member_or(st, "clients", json::array()))
      if (member_or(c, "dialect", std::string()) == "lsp")
        others += (others.empty() ? "" : ", ") + member_or(c, "name", std::string("an editor")) + " (on " +
                  member_or(st, "root", std::string("?")) + ")";
  }
  return others;
}

}  // namespace

int open_cli(const std::string& target, const std::string& root_option) {
  const json params = open_params(target);
  const std::filesystem::path path = params["path"].get<std::string>();
  const std::vector<std::string> roots = candidate_roots(path, root_option);
  std::string no_editor;  // the nearest daemon's root when none of them has an editor
  std::string lacking;    // why the editors there cannot show it
  std::vector<std::string> asked;
  for (const auto& root : roots) {
    auto address = daemon_address(root);
    if (!address) break;
    const auto answer = call_daemon(address->socket_path, "icotes/workspace/open", params);
    if (!answer) continue;  // none, or one that died (the next launch replaces it)
    const Result<json>& r = *answer;
    asked.push_back(address->socket_path);
    if (r) {
      std::printf("icotes open: %s shows %s\n", r->value("editor", std::string("the editor")).c_str(), path.c_str());
      return 0;
    }
    // A daemon above may have an editor that can.
    const std::string reason = member_or(r.error().data, "reason", std::string());
    if (reason == "noEditor") {
      if (no_editor.empty()) no_editor = root;
    } else if (reason == "noShowDocument") {
      if (lacking.empty()) lacking = r.error().message;
    } else {
      die(r.error(), 1, kWho);
    }
  }
  if (!lacking.empty()) die(make_error(error_code::kNotFound, lacking), 1, kWho);
  const std::string others = editors_elsewhere(asked);
  if (!no_editor.empty() && !others.empty())
    die(make_error(error_code::kNotFound,
                   "no editor is attached to the daemon serving " + no_editor +
                       ", but an editor is attached to another daemon: " + others + ", whose folder does not hold " +
                       path.string() +
                       ". Start your editor's icotes client (`icotes serve`) on a folder that holds it, or open it "
                       "there by hand"),
        1, kWho);
  if (!no_editor.empty())
    die(make_error(error_code::kNotFound,
                   "no editor is attached to the daemon serving " + no_editor +
                       ": start your editor's icotes client (an LSP client running `icotes serve` on stdio, which "
                       "attaches to the daemon) first"),
        1, kWho);
  die(make_error(error_code::kNotFound,
                 "no icotes daemon serves " + (root_option.empty() ? path.parent_path().string() : roots.front()) +
                     " or a directory above it; editors start one when they launch `icotes serve` (without "
                     "--standalone)" +
                     (others.empty() ? "" : "; an editor is attached to another daemon: " + others)),
      1, kWho);
}

}  // namespace icotes::cli
