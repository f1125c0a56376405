// files/* operations: params (already schema-validated) → typed service
// calls → results shaped as schemas/files/*.json say.
#include "icotes/files.hpp"
#include "icotes/operation.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

// What the asking client may read and change, judged by the service where
// each path really lands.
files::Access access(const Context& ctx) { return {ctx.read_denied, ctx.may_write}; }

template <typename T>
std::optional<T> opt(const json& p, const char* key) {
  auto it = p.find(key);
  if (it == p.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

json to_json(files::ReadResult&& r) {
  // The content is moved, not copied: it can be megabytes.
  json j = {{"path", r.path},       {"content", std::move(r.content)},       {"startLine", r.start_line},
            {"endLine", r.end_line}, {"totalLines", r.total_lines}, {"truncated", r.truncated},
            {"sha256", r.sha256},    {"encoding", r.encoding},      {"binary", r.binary},
            {"size", r.size},        {"mimeType", r.mime_type},     {"source", r.source}};
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

files::ReadParams read_params(const json& p, std::string path) {
  files::ReadParams rp;
  rp.path = std::move(path);
  rp.offset = opt<std::int64_t>(p, "offset");
  rp.limit = opt<std::int64_t>(p, "limit");
  rp.max_bytes = opt<std::size_t>(p, "maxBytes");
  return rp;
}

Result<json> read(Context& ctx, const json& p) {
  auto r = ctx.workspace.files().read(read_params(p, p.at("path").get<std::string>()), access(ctx));
  if (!r) return std::move(r).error();
  return to_json(std::move(*r));
}

Result<json> read_many(Context& ctx, const json& p) {
  json out = json::array();
  const auto total = static_cast<double>(p.at("paths").size());
  const files::Access a = access(ctx);
  for (const auto& path : p.at("paths")) {
    if (ctx.cancel.cancelled()) return make_error(error_code::kRequestCancelled, "read_many_files: cancelled");
    ctx.progress.report(path.get<std::string>(), static_cast<double>(out.size()) + 1, total);
    auto r = ctx.workspace.files().read(read_params(p, path.get<std::string>()), a);
    if (!r) {
      out.push_back({{"path", path}, {"error", r.error().message}});
      continue;
    }
    out.push_back({{"path", path},
                   {"content", r->content},
                   {"totalLines", r->total_lines},
                   {"truncated", r->truncated},
                   {"sha256", r->sha256},
                   {"encoding", r->encoding},
                   {"binary", r->binary}});
  }
  return json{{"files", std::move(out)}};
}

Result<json> write(Context& ctx, const json& p) {
  files::WriteParams wp;
  wp.path = p.at("path").get<std::string>();
  wp.content = p.at("content").get<std::string>();
  wp.expected_sha256 = opt<std::string>(p, "expectedSha256");
  auto r = ctx.workspace.files().write(wp, access(ctx));
  if (!r) return std::move(r).error();
  return json{{"path", r->path}, {"bytes", r->bytes}, {"sha256", r->sha256}, {"created", r->created}, {"via", r->via}};
}

Result<json> edit(Context& ctx, const json& p) {
  files::EditParams ep;
  ep.path = p.at("path").get<std::string>();
  for (const auto& e : p.at("edits")) {
    ep.edits.push_back({e.at("oldString").get<std::string>(), e.at("newString").get<std::string>(), e.value("replaceAll", false)});
  }
  ep.expected_sha256 = opt<std::string>(p, "expectedSha256");
  ep.dry_run = p.value("dryRun", false);
  auto r = ctx.workspace.files().edit(ep, access(ctx));
  if (!r) return std::move(r).error();
  json j = {{"path", r->path}, {"diff", r->diff}, {"sha256", r->sha256}, {"replacements", r->replacements}, {"applied", r->applied}};
  if (!r->via.empty()) j["via"] = r->via;
  return j;
}

Result<json> apply_patch(Context& ctx, const json& p) {
  auto r = ctx.workspace.files().apply_patch(p.at("patch").get_ref<const std::string&>(), access(ctx));
  if (!r) return std::move(r).error();
  json files = json::array();
  for (const auto& f : r->files) files.push_back({{"path", f.path}, {"action", f.action}, {"sha256", f.sha256}});
  return json{{"files", std::move(files)}};
}

Result<json> list(Context& ctx, const json& p) {
  auto r = ctx.workspace.files().list(p.at("path").get<std::string>(), p.value("depth", 1), &ctx.cancel, true,
                                      access(ctx));
  if (!r) return std::move(r).error();
  const files::ListResult& l = **r;
  // Rendered once by the service (and kept with a cached listing).
  json j = {{"path", l.path}, {"entries", raw_json(l.entries_json)}, {"truncated", l.truncated},
            {"listing", hidden_text(l.text)}};
  if (!l.note.empty()) j["note"] = l.note;
  return j;
}

Result<json> stat(Context& ctx, const json& p) {
  auto r = ctx.workspace.files().stat(p.at("path").get<std::string>(), access(ctx));
  if (!r) return std::move(r).error();
  json j = {{"path", r->path},       {"type", r->type},         {"size", r->size},
            {"mode", r->mode},       {"mtime", r->mtime_ms},    {"ctime", r->ctime_ms},
            {"atime", r->atime_ms},  {"openInEditor", r->open_in_editor}};
  if (!r->symlink_target.empty()) j["symlinkTarget"] = r->symlink_target;
  return j;
}

Result<json> move(Context& ctx, const json& p) {
  auto& files = ctx.workspace.files();
  const auto source = p.at("source").get<std::string>();
  const auto destination = p.at("destination").get<std::string>();
  if (auto s = files.move(source, destination, p.value("overwrite", false), access(ctx)); !s) return s.error();
  return json{{"source", *files.root().relative(source)}, {"destination", *files.root().relative(destination)}};
}

Result<json> mkdir(Context& ctx, const json& p) {
  const auto path = p.at("path").get<std::string>();
  auto r = ctx.workspace.files().mkdir(path, access(ctx));
  if (!r) return std::move(r).error();
  return json{{"path", *ctx.workspace.root().relative(path)}, {"created", *r}};
}

Result<json> remove(Context& ctx, const json& p) {
  const auto path = p.at("path").get<std::string>();
  if (auto s = ctx.workspace.files().remove(path, p.value("recursive", false), access(ctx)); !s) return s.error();
  return json{{"path", *ctx.workspace.root().relative(path)}, {"deleted", true}};
}

// MCP text of list_directory: one entry per line, as people read listings
// (rendered by the service, handed over as a hidden member).
std::string list_text(const json& result) {
  if (auto it = result.find("listing"); it != result.end())
    if (auto text = hidden_text_of(*it)) return std::string(*text);
  return to_json_string(result);
}

}  // namespace

void register_files_ops(Registry& r) {
  r.add("files/read", read);
  r.add("files/readMany", read_many);
  r.add("files/write", write);
  r.add("files/edit", edit);
  r.add("files/applyPatch", apply_patch);
  r.add("files/list", list, list_text);
  r.add("files/stat", stat);
  r.add("files/move", move);
  r.add("files/mkdir", mkdir);
  r.add("files/delete", remove);
}

}  // namespace icotes
