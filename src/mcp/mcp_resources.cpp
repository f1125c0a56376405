// The MCP dialect's resources (MCP "Resources"): workspace files as file://
// URIs and the editors' context; resources/list, templates/list, read,
// subscribe and unsubscribe with their change notifications; completion of
// the file template's path (MCP "Completion").
#include <nettle/base64.h>
#include <spdlog/spdlog.h>

#include "mcp_dialect.hpp"

namespace icotes {
namespace mcp {
namespace {

std::string base64(std::string_view bytes) {
  // RFC 4648 section 4 (padded), as MCP BlobResourceContents.blob wants.
  std::string out(BASE64_ENCODE_RAW_LENGTH(bytes.size()), '\0');
  base64_encode_raw(reinterpret_cast<char*>(out.data()), bytes.size(),
                    reinterpret_cast<const std::uint8_t*>(bytes.data()));
  return out;
}

// The entries of `listing` (of directory `dir`) whose names begin with
// `stem`, as paths (a directory's with '/'), at most kCompletionMax; `total`
// counts them all.
json completions(const files::ListResult& listing, const std::string& dir, const std::string& stem,
                 std::size_t& total) {
  json values = json::array();
  for (const auto& e : listing.entries) {
    if (e.path.compare(0, stem.size(), stem) != 0) continue;
    ++total;
    if (values.size() >= kCompletionMax) continue;
    std::string path = dir.empty() ? std::string() : dir + "/";
    path += e.path;
    if (e.type == "directory") path += '/';
    values.push_back(std::move(path));
  }
  return values;
}

}  // namespace

json McpDialect::resource_json(const std::string& rel) const {
  const std::size_t slash = rel.rfind('/');
  json r = {{"uri", workspace_.uri_of(rel)},
            {"name", slash == std::string::npos ? rel : rel.substr(slash + 1)},
            {"mimeType", files::mime_type_for(rel, false)}};
  if (at_least("2025-06-18")) r["title"] = rel;
  r["description"] = rel;
  return r;
}

// resources/subscribe and resources/updated, resources/list_changed (MCP
// "Resources": subscriptions, list changed) come from the file watcher's
// files/changed events; this session listens once it has listed or
// subscribed to resources.
void McpDialect::listen_for_file_changes() {
  {
    // Not held while subscribing: the sink takes it under the broker's
    // delivery lock, the other way round.
    std::lock_guard lock(watch_->mutex);
    if (watch_->listening) return;
    watch_->listening = true;
  }
  if (auto st = workspace_.watcher().start(); !st) spdlog::warn("file watcher: {}", st.error().message);
  std::weak_ptr<Connection> weak = conn_;
  std::weak_ptr<WatchState> state = watch_;
  Workspace* ws = &workspace_;
  (void)workspace_.events().subscribe(conn_.get(), {"files/changed"},
                                      [weak, state, ws](std::uint64_t, const events::Event& e) {
                                        auto conn = weak.lock();
                                        auto st = state.lock();
                                        if (!conn || !st || conn->closed()) return;
                                        bool list_changed = e.data.value("rescan", false);
                                        std::vector<std::string> updated;
                                        {
                                          std::lock_guard held(st->mutex);
                                          for (const auto& c : e.data["changes"]) {
                                            const std::string& path = c["path"].get_ref<const std::string&>();
                                            if (c["type"] != "changed") list_changed = true;
                                            if (st->uris.count(path)) updated.push_back(path);
                                          }
                                        }
                                        for (const auto& path : updated)
                                          conn->notify("notifications/resources/updated", {{"uri", ws->uri_of(path)}});
                                        if (list_changed)
                                          conn->notify("notifications/resources/list_changed", json::object());
                                      });
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the method table's handler type takes the Request by value
void McpDialect::resources_subscribe(Request request) {
  const json& p = request.params();
  if (!p.contains("uri") || !p["uri"].is_string())
    return request.fail(make_error(error_code::kInvalidParams, request.method() + ": uri (string) is required"));
  auto rel = workspace_.rel_of_uri(p["uri"].get<std::string>());
  if (!rel) return request.fail(rel.error());
  if (request.method() == "resources/unsubscribe") {
    std::lock_guard lock(watch_->mutex);
    watch_->uris.erase(*rel);
    return reply(request, json::object());
  }
  // Updates tell what changed in a file: as much a read as reading it.
  if (auto st = workspace_.gate().check_now(*client_, "resources/subscribe",
                                            {{OperationKind::ReadFile, *rel, false, std::nullopt}});
      !st)
    return request.fail(st.error());
  {
    std::lock_guard lock(watch_->mutex);
    watch_->uris.insert(*rel);
  }
  listen_for_file_changes();
  reply(request, json::object());
}

void McpDialect::resources_list(Request request) {
  // 2026-07-28 clients opt in to notifications with subscriptions/listen.
  if (version_ != kStateless) listen_for_file_changes();
  // Cursor: the last path of the previous page.
  std::string after;
  if (auto c = request.params().find("cursor"); c != request.params().end() && !c->is_null()) {
    if (!c->is_string()) return request.fail(make_error(error_code::kInvalidParams, "resources/list: invalid cursor"));
    after = c->get<std::string>();
  }
  const void* owner = &request.connection();
  workspace_.workers().post(
      [this, self = shared_from_this(), request = std::move(request), after] {
        bool more = false;
        // Files the client may not read are left out.
        const files::Access access{workspace_.gate().read_filter(client_), nullptr};
        auto paths = workspace_.files().list_files(after, kResourcesPageSize, more, &request.token(), access);
        if (!paths) return request.fail(paths.error());
        json resources = json::array();
        for (const auto& p : *paths) resources.push_back(resource_json(p));
        // After the files, on the last page: the editors' context.
        if (!more) {
          json r = {
              {"uri", kEditorContextUri},
              {"name", "editor-context"},
              {"mimeType", "text/plain"},
              {"description", "What the user's editor shows now: active file, selection, open tabs, diagnostics"}};
          if (at_least("2025-06-18")) r["title"] = "Editor context";
          resources.push_back(std::move(r));
        }
        json result = {{"resources", std::move(resources)}};
        if (more && !paths->empty()) result["nextCursor"] = paths->back();
        reply(request, result);
      },
      owner);
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): the method table's handler type takes the Request by value
void McpDialect::templates_list(Request request) {
  json t = {{"uriTemplate", "file://" + percent_encode_path(workspace_.root().path()) +
                                (workspace_.root().path() == "/" ? "" : "/") + "{+path}"},
            {"name", "workspace-file"},
            {"description", "A file in the workspace at " + workspace_.root().path() + ", by path relative to it"}};
  if (at_least("2025-06-18")) t["title"] = "Workspace file";
  reply(request, {{"resourceTemplates", json::array({std::move(t)})}});
}

void McpDialect::resources_read(Request request) {
  const json& p = request.params();
  if (!p.contains("uri") || !p["uri"].is_string())
    return request.fail(make_error(error_code::kInvalidParams, "resources/read: uri (string) is required"));
  const void* owner = &request.connection();
  workspace_.workers().post(
      [this, self = shared_from_this(), request = std::move(request)] {
        const std::string uri = request.params()["uri"].get<std::string>();
        if (uri == kEditorContextUri) {
          const json editors = workspace_.editor_contexts().list(workspace_.gate().read_filter(client_));
          json item = {
              {"uri", uri}, {"mimeType", "text/plain"}, {"text", render_editor_context({{"editors", editors}})}};
          return reply(request, {{"contents", json::array({std::move(item)})}});
        }
        auto rel = workspace_.rel_of_uri(uri);
        if (!rel) return request.fail(rel.error());
        if (auto st = workspace_.gate().check_now(*client_, "resources/read",
                                                  {{OperationKind::ReadFile, *rel, false, std::nullopt}});
            !st)
          return request.fail(st.error());
        // Judged again where the file opened really is (a symlink may lead elsewhere).
        auto c = workspace_.files().read_resource(*rel, {workspace_.gate().read_filter(client_), nullptr});
        if (!c) {
          Error e = c.error();
          if (e.code == error_code::kNotFound) e.code = -32002;  // MCP "Resource not found"
          e.data = {{"uri", uri}};
          return request.fail(e);
        }
        json item = {{"uri", uri}, {"mimeType", c->mime_type}};
        if (c->binary)
          item["blob"] = base64(c->data);
        else
          item["text"] = std::move(c->data);
        reply(request, {{"contents", json::array({std::move(item)})}});
      },
      owner);
}

void McpDialect::complete(Request request) {
  const json& p = request.params();
  const json ref = p.value("ref", json::object());
  const json arg = p.value("argument", json::object());
  if (!ref.is_object() || !arg.is_object() || !arg.contains("value") || !arg["value"].is_string())
    return request.fail(
        make_error(error_code::kInvalidParams, "completion/complete: ref and argument {name, value} are required"));
  if (member_or(ref, "type", std::string()) != "ref/resource" || member_or(arg, "name", std::string()) != "path") {
    return reply(request, {{"completion", {{"values", json::array()}, {"total", 0}, {"hasMore", false}}}});
  }
  const void* owner = &request.connection();
  workspace_.workers().post(
      [this, self = shared_from_this(), request = std::move(request), value = arg["value"].get<std::string>()] {
        // Complete one path component: list the directory part, filter by the rest.
        const std::size_t slash = value.rfind('/');
        const std::string dir = slash == std::string::npos ? std::string() : value.substr(0, slash);
        const std::string stem = slash == std::string::npos ? value : value.substr(slash + 1);
        json values = json::array();
        std::size_t total = 0;
        auto listing = workspace_.files().list(dir.empty() ? "." : dir, 1, &request.token(), true,
                                               {workspace_.gate().read_filter(client_), nullptr});
        const bool allowed =
            workspace_.gate()
                .check_now(*client_, "completion/complete", {{OperationKind::ReadFile, dir, false, std::nullopt}})
                .ok();
        if (listing && allowed) values = completions(**listing, dir, stem, total);
        reply(request,
              {{"completion", {{"values", std::move(values)}, {"total", total}, {"hasMore", total > kCompletionMax}}}});
      },
      owner);
}

}  // namespace mcp
}  // namespace icotes
