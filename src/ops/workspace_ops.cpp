// workspace/* operations: what concerns the workspace's attached clients.
#include "icotes/operation.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

Result<json> open_in_editor(Context& ctx, const json& p) {
  auto rel = ctx.workspace.root().relative(p.at("path").get<std::string>());
  if (!rel) return std::move(rel).error();
  // The editor attached last that can show a document.
  const auto editors = ctx.workspace.documents().editors();
  std::shared_ptr<EditorLink> editor;
  for (const auto& e : editors)
    if (!editor && e->can_show_document()) editor = e;
  if (editors.empty())
    return make_error(error_code::kRequestFailed,
                      "no editor is attached to the workspace at " + ctx.workspace.root().path() +
                          ": start your editor's icotes client (an LSP client running `icotes serve` on stdio, which attaches to the daemon) first",
                      json{{"reason", "noEditor"}});
  if (!editor) {
    json names = json::array();
    for (const auto& e : editors) names.push_back(e->editor_name());
    return make_error(error_code::kRequestFailed,
                      (editors.size() == 1 ? "the attached editor (" + editors.front()->editor_name() + ") lacks"
                                           : "none of the attached editors (" + names.dump() + ") has") +
                          " window/showDocument (LSP 3.16), which showing a file needs: open " + p.at("path").get<std::string>() +
                          " there by hand",
                      json{{"reason", "noShowDocument"}, {"editors", std::move(names)}});
  }
  std::optional<Position> at;
  if (auto line = p.find("line"); line != p.end()) {
    at = Position{static_cast<std::uint32_t>(line->get<std::int64_t>() - 1),
                  static_cast<std::uint32_t>(p.value("column", std::int64_t{1}) - 1)};
  }
  const std::string uri = ctx.workspace.uri_of(*rel);
  auto shown = editor->show_document(uri, at, std::chrono::seconds(10));
  if (!shown) return std::move(shown).error();
  return json{{"shown", *shown}, {"editor", editor->editor_name()}, {"uri", uri}};
}

}  // namespace

void register_workspace_ops(Registry& r) { r.add("workspace/open", open_in_editor); }

}  // namespace icotes
