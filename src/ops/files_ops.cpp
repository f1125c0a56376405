// files/* operations: typed params (files_json.hpp, schema-checked first)
// → service calls → results shaped as schemas/files/*.json say, and each
// result's MCP text in the form people already read (a header line, then
// the file; a unified diff; one entry per line; key: value lines).
#include <nettle/base64.h>

#include <algorithm>
#include <ctime>
#include <numeric>

#include "files_json.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/files.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

// What the asking client may read and change, judged by the service where
// each path really lands.
files::Access access(const Context& ctx) { return {ctx.read_denied, ctx.may_write}; }

// Room kept beside a file's text for its header line and note (bytes).
constexpr std::size_t kHeaderRoom = 1024;
// Bytes "cat -n" numbering adds to a line ("%6d\t"; 8 up to 9,999,999 lines).
constexpr std::size_t kLineNumberBytes = 8;

// The text a result may hold: `wanted` (a default or what was asked for)
// within the client's cap (0: none).
std::size_t within_cap(const Context& ctx, std::size_t wanted) {
  return ctx.max_result_bytes > 0 ? std::min(wanted, ctx.max_result_bytes) : wanted;
}

std::string base64(std::string_view bytes) {
  // RFC 4648 section 4 (padded), as MCP ImageContent.data wants.
  std::string out(BASE64_ENCODE_RAW_LENGTH(bytes.size()), '\0');
  base64_encode_raw(reinterpret_cast<char*>(out.data()), bytes.size(),
                    reinterpret_cast<const std::uint8_t*>(bytes.data()));
  return out;
}

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

const std::string& str(const json& j, const char* key) {
  static const std::string empty;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ref<const std::string&>() : empty;
}

std::int64_t num(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

bool flag(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

// --- read_file -------------------------------------------------------------------------------

Result<json> read(Context& ctx, files::ReadFileParams&& rp) {
  if (rp.line_numbers) rp.per_line_bytes = kLineNumberBytes;
  rp.images = true;
  if (ctx.max_result_bytes > 0) {
    // Within the client's cap, header included (said in the note only when asked for).
    const std::size_t cap = ctx.max_result_bytes > 2 * kHeaderRoom ? ctx.max_result_bytes - kHeaderRoom : kHeaderRoom;
    if (rp.max_bytes || cap < files::kDefaultReadBytes) rp.max_bytes = std::min(rp.max_bytes.value_or(cap), cap);
  }
  auto r = ctx.workspace.files().read(rp, access(ctx));
  if (!r) return std::move(r).error();
  json j = to_json(std::move(*r), base64(r->image));
  if (rp.line_numbers) j["lineNumbers"] = true;
  return j;
}

// "path: lines 1-20 of 20, sha256 …" and, when paged, the call that continues.
std::string file_header(const json& f) {
  const std::string& path = str(f, "path");
  const std::string& note = str(f, "note");
  if (f.contains("error")) return path + ": error: " + str(f, "error");
  if (flag(f, "binary")) return note.empty() ? path + ": binary file, not shown" : note;
  std::string h = path + ": ";
  const std::int64_t total = num(f, "totalLines");
  if (total == 0) {
    h += "empty file";
  } else {
    const std::int64_t a = num(f, "startLine"), b = num(f, "endLine");
    h += (a == b ? "line " + std::to_string(a) : "lines " + std::to_string(a) + "-" + std::to_string(b)) + " of " +
         std::to_string(total);
  }
  if (str(f, "source") == "editor") h += ", unsaved editor buffer";
  if (const std::string& enc = str(f, "encoding"); !enc.empty() && enc != "utf-8") h += ", " + enc;
  if (const std::string& sha = str(f, "sha256"); !sha.empty()) h += ", sha256 " + sha;
  if (flag(f, "truncated") && !note.empty()) {
    const std::size_t call = note.find("read_file {");
    h += "; " + (note.starts_with("Showing") && call != std::string::npos ? "more: " + note.substr(call) : note);
  }
  return h;
}

// `content` as `cat -n` numbers it: "%6d\t" before each line.
void append_numbered(std::string& out, std::string_view content, std::int64_t first) {
  std::int64_t n = first;
  for (std::size_t pos = 0; pos < content.size(); ++n) {
    const std::size_t nl = content.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? content.size() : nl + 1;
    char num[24];
    std::snprintf(num, sizeof num, "%6lld\t", static_cast<long long>(n));
    out += num;
    out.append(content.substr(pos, end - pos));
    pos = end;
  }
}

std::string read_text(const json& r) {
  std::string text = file_header(r) + "\n";
  const std::string& content = str(r, "content");
  if (flag(r, "lineNumbers"))
    append_numbered(text, content, num(r, "startLine"));
  else
    text += content;
  return text;
}

// --- read_many_files -------------------------------------------------------------------------

// The share of `budget` each item gets, when item i needs needs[i]: as much
// as it needs while the rest is split evenly ("water-filling").
std::vector<std::size_t> fair_shares(const std::vector<std::size_t>& needs, std::size_t budget) {
  std::vector<std::size_t> order(needs.size()), give(needs.size(), 0);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return needs[a] < needs[b]; });
  std::size_t left = needs.size();
  for (std::size_t i : order) {
    const std::size_t share = budget / left;
    give[i] = std::min(needs[i], share);
    budget -= give[i];
    --left;
  }
  return give;
}

// The header line of one file in read_many_text() (its bytes, about).
std::size_t header_room(const std::string& path) { return 2 * path.size() + 180; }

std::string read_many_text(const json& r);

// The room each file's text gets (fair_shares of `room`), and in `shown` whether it is shown at all. A file cut
// shorter than kMinShare is left for a later call instead: each cut file costs a call to continue, each file
// left out none more.
std::vector<std::size_t> shares_shown(const std::vector<std::size_t>& needs, std::size_t room,
                                      std::vector<bool>& shown) {
  constexpr std::size_t kMinShare = 8 * 1024;
  std::vector<std::size_t> give = fair_shares(needs, room);
  shown.assign(needs.size(), true);
  std::vector<std::size_t> cut_files;
  std::size_t whole = 0;
  for (std::size_t i = 0; i < needs.size(); ++i) {
    if (give[i] < needs[i])
      cut_files.push_back(i);
    else
      whole += needs[i];
  }
  const std::size_t keep = std::max<std::size_t>(1, (room > whole ? room - whole : 0) / kMinShare);
  if (cut_files.size() > keep) {
    std::vector<std::size_t> wanted = needs;
    for (std::size_t j = keep; j < cut_files.size(); ++j) {
      shown[cut_files[j]] = false;
      wanted[cut_files[j]] = 0;
    }
    give = fair_shares(wanted, room);
  }
  return give;
}

// A cut file in read_many_files' note: its path, and the read_file call its own note gives to continue.
std::string cut_entry(const std::string& path, const std::string& note) {
  const std::size_t call = note.find("read_file {");
  return path + (call == std::string::npos ? std::string() : " (" + note.substr(call) + ")");
}

// read_many_files' note: the files cut (with the call that continues each) and those not shown (with the
// call that reads them).
std::string read_many_note(std::size_t budget, const std::vector<std::string>& cut,
                           const std::vector<std::string>& rest) {
  std::string note = "Within " + std::to_string(budget) + " bytes of text (maxBytes): ";
  if (!cut.empty()) {
    note += "cut: ";
    for (std::size_t i = 0; i < cut.size(); ++i) {
      if (i) note += ", ";
      note += cut[i];
    }
  }
  if (!rest.empty()) {
    if (!cut.empty()) note += "; ";
    note += "not shown: ";
    std::string call = "read_many_files {\"paths\":[";
    for (std::size_t i = 0; i < rest.size(); ++i) {
      if (i) {
        note += ", ";
        call += ',';
      }
      note += rest[i];
      call += json_quoted(rest[i]);
    }
    note += " (continue with " + call + "]})";
  }
  return note;
}

// The read_many_files result for `results` when their text may fill `room`
// bytes (headers included). Files that fit are shown whole, smallest
// first; the others share the rest evenly, as many of them (in the order
// asked) as get a useful share each; the remaining ones are named for the
// next call.
json read_many_result(const std::vector<std::string>& paths, const std::vector<Result<files::ReadResult>>& results,
                      std::size_t room, std::size_t budget) {
  std::vector<std::size_t> needs;
  for (std::size_t i = 0; i < results.size(); ++i)
    needs.push_back(header_room(paths[i]) + (results[i] ? results[i]->content.size() + results[i]->note.size() : 200));
  std::vector<bool> shown;
  const std::vector<std::size_t> give = shares_shown(needs, room, shown);
  json out = json::array();
  std::vector<std::string> cut, rest;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const std::string& path = paths[i];
    if (!shown[i]) {
      rest.push_back(path);
      continue;
    }
    if (!results[i]) {
      out.push_back({{"path", path}, {"error", results[i].error().message}});
      continue;
    }
    files::ReadResult r = *results[i];
    if (give[i] < needs[i]) {
      const std::size_t header = header_room(path);
      files::cut_page(r, give[i] > header ? give[i] - header : 1);
    }
    json f = {{"path", path},          {"content", std::move(r.content)}, {"startLine", r.start_line},
              {"endLine", r.end_line}, {"totalLines", r.total_lines},     {"truncated", r.truncated},
              {"sha256", r.sha256},    {"encoding", r.encoding},          {"binary", r.binary}};
    if (r.source == "editor") f["source"] = "editor";
    if (!r.note.empty()) f["note"] = r.note;
    if (r.truncated && !r.binary) cut.push_back(cut_entry(path, r.note));
    out.push_back(std::move(f));
  }
  json result = {{"files", std::move(out)}};
  if (!cut.empty() || !rest.empty()) {
    result["note"] = read_many_note(budget, cut, rest);
    if (!rest.empty()) result["notShown"] = rest;
  }
  return result;
}

Result<json> read_many(Context& ctx, files::ReadManyParams&& p) {
  // One budget for all the files' text (headers and note included).
  const std::size_t budget = std::max<std::size_t>(kHeaderRoom, within_cap(ctx, p.max_bytes));
  const auto& paths = p.paths;
  const auto total = static_cast<double>(paths.size());
  const files::Access a = access(ctx);
  std::vector<Result<files::ReadResult>> results;
  for (const auto& path : paths) {
    if (ctx.cancel.cancelled()) return make_error(error_code::kRequestCancelled, "read_many_files: cancelled");
    ctx.progress.report(path, static_cast<double>(results.size()) + 1, total);
    files::ReadParams rp;
    rp.path = path;
    rp.limit = p.limit;
    rp.max_bytes = budget;
    results.push_back(ctx.workspace.files().read(rp, a));
  }
  // Shares are estimated from header sizes; the text is then checked and
  // the room narrowed until it fits.
  std::size_t room = budget > 512 ? budget - 512 : budget / 2;
  json result;
  for (int attempt = 0; attempt < 8; ++attempt) {
    result = read_many_result(paths, results, room, budget);
    const std::size_t size = read_many_text(result).size();
    if (size <= budget || room < 64) break;
    room -= std::min(room - 32, size - budget + 64);
  }
  return result;
}

// "==> path <== header" per file (as head(1) separates files), its text,
// and the note first when something was cut or left out.
std::string read_many_text(const json& r) {
  std::string text;
  if (const std::string& note = str(r, "note"); !note.empty()) text += "read_many_files: " + note + "\n";
  for (const auto& f : r.value("files", json::array())) {
    std::string header = file_header(f);
    const std::string& path = str(f, "path");
    // file_header starts with "path: "; shown as "==> path <== ...".
    if (header.starts_with(path + ": ")) header = header.substr(path.size() + 2);
    text.append("==> ").append(path).append(" <== ").append(header).append("\n");
    const std::string& content = str(f, "content");
    text += content;
    if (!content.empty() && content.back() != '\n') text += '\n';
  }
  return text;
}

// --- write, edit, patch ----------------------------------------------------------------------

Result<json> write(Context& ctx, files::WriteParams&& p) {
  auto r = ctx.workspace.files().write(p, access(ctx));
  if (!r) return std::move(r).error();
  return json(*r);
}

std::string write_text(const json& r) {
  std::string t = (flag(r, "appended") ? "appended " : "wrote ") + std::to_string(num(r, "bytes")) + " bytes to " +
                  str(r, "path") + " (";
  if (flag(r, "created"))
    t += "new file, ";
  else if (flag(r, "appended"))
    t += "now " + std::to_string(num(r, "size")) + " bytes, ";
  if (str(r, "via") == "editor") t += "in the open editor buffer, ";
  return t + "sha256 " + str(r, "sha256") + ")\n";
}

// A diff of at most `budget` bytes, cut at a line with a note.
std::string bounded_diff(const std::string& diff, std::size_t budget) {
  if (diff.size() <= budget) return diff;
  const std::size_t cut = diff.rfind('\n', budget);
  std::string out = diff.substr(0, cut == std::string::npos ? budget : cut + 1);
  out += "(diff cut: " + std::to_string(diff.size() - out.size()) + " more bytes; read the file to see the rest)\n";
  return out;
}

// Bytes a diff may fill in the text of an edit or a patch.
std::size_t diff_budget(const Context& ctx) { return within_cap(ctx, kDefaultToolResultBytes) - 512; }

Result<json> edit(Context& ctx, files::EditParams&& p) {
  auto r = ctx.workspace.files().edit(p, access(ctx));
  if (!r) return std::move(r).error();
  json j = *r;
  // The MCP text holds at most the budget of the diff (programs get it whole).
  if (r->diff.size() > diff_budget(ctx)) j["diffText"] = hidden_text(bounded_diff(r->diff, diff_budget(ctx)));
  return j;
}

std::string edit_text(const json& r) {
  const auto n = num(r, "replacements");
  std::string t =
      flag(r, "applied") ? "edited " + str(r, "path") + ": " : "dry run, nothing written: " + str(r, "path") + ": ";
  t += std::to_string(n) + (n == 1 ? " replacement" : " replacements");
  if (str(r, "via") == "editor") t += " in the open editor buffer";
  t += ", sha256 " + str(r, "sha256") + (flag(r, "applied") ? "" : " after") + "\n";
  std::optional<std::string_view> cut;
  if (auto it = r.find("diffText"); it != r.end()) cut = hidden_text_of(*it);
  t += cut ? std::string(*cut) : str(r, "diff");
  return t;
}

Result<json> apply_patch(Context& ctx, files::PatchParams&& p) {
  auto r = ctx.workspace.files().apply_patch(p.patch, access(ctx));
  if (!r) return std::move(r).error();
  std::string diff;
  for (const auto& f : r->files)
    diff += f.action == "deleted" ? "--- a/" + f.path + "\n+++ /dev/null\n(deleted)\n" : f.diff;
  return json{{"files", r->files}, {"diffText", hidden_text(bounded_diff(diff, diff_budget(ctx)))}};
}

std::string patch_text(const json& r) {
  std::size_t n[3] = {0, 0, 0};
  const json files = r.value("files", json::array());
  for (const auto& f : files) {
    const std::string& a = str(f, "action");
    ++n[a == "modified" ? 0 : a == "created" ? 1 : 2];
  }
  std::string t = "applied the patch to " + std::to_string(files.size()) + (files.size() == 1 ? " file" : " files") +
                  " (" + std::to_string(n[0]) + " modified, " + std::to_string(n[1]) + " created, " +
                  std::to_string(n[2]) + " deleted)\n";
  if (auto it = r.find("diffText"); it != r.end())
    if (auto d = hidden_text_of(*it)) t += *d;
  return t;
}

// --- list, stat, move, mkdir, delete ---------------------------------------------------------

Result<json> list(Context& ctx, files::ListDirectoryParams&& p) {
  // Text: within 32 KiB by default, within the client's cap whatever is asked.
  p.max_text_bytes = ctx.max_result_bytes == 0 ? 0
                     : p.limit_given           ? ctx.max_result_bytes
                                               : within_cap(ctx, files::kDefaultListTextBytes);
  auto r = ctx.workspace.files().list_page(p, &ctx.cancel, access(ctx));
  if (!r) return std::move(r).error();
  return json(*r);
}

// MCP text of list_directory: rendered by the service, handed over as a
// hidden member.
std::string list_text(const json& result) {
  if (auto it = result.find("listing"); it != result.end())
    if (auto text = hidden_text_of(*it)) return std::string(*text);
  return to_json_string(result);
}

Result<json> stat(Context& ctx, files::PathParams&& p) {
  auto r = ctx.workspace.files().stat(p.path, access(ctx));
  if (!r) return std::move(r).error();
  return json(*r);
}

// Milliseconds since the epoch as ISO 8601 UTC ("2025-01-31T12:00:00.123Z").
std::string iso_time(std::int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms - static_cast<std::int64_t>(s) * 1000));
  return out;
}

std::string stat_text(const json& r) {
  std::string t = "path: " + str(r, "path") + "\ntype: " + str(r, "type") + "\n";
  if (auto it = r.find("symlinkTarget"); it != r.end()) t += "symlinkTarget: " + str(r, "symlinkTarget") + "\n";
  t += "size: " + std::to_string(num(r, "size")) + " bytes\nmode: " + str(r, "mode") + "\n";
  t += "mtime: " + iso_time(num(r, "mtime")) + "\nctime: " + iso_time(num(r, "ctime")) +
       "\natime: " + iso_time(num(r, "atime")) + "\n";
  t += std::string("openInEditor: ") + (flag(r, "openInEditor") ? "yes" : "no") + "\n";
  return t;
}

Result<json> move(Context& ctx, files::MoveParams&& p) {
  auto& files = ctx.workspace.files();
  if (auto s = files.move(p.source, p.destination, p.overwrite, access(ctx)); !s) return s.error();
  return json{{"source", *files.root().relative(p.source)}, {"destination", *files.root().relative(p.destination)}};
}

std::string move_text(const json& r) { return "moved " + str(r, "source") + " to " + str(r, "destination") + "\n"; }

Result<json> mkdir(Context& ctx, files::PathParams&& p) {
  auto r = ctx.workspace.files().mkdir(p.path, access(ctx));
  if (!r) return std::move(r).error();
  return json{{"path", *ctx.workspace.root().relative(p.path)}, {"created", *r}};
}

std::string mkdir_text(const json& r) {
  const std::string path = str(r, "path").empty() ? "." : str(r, "path");
  return flag(r, "created") ? "created directory " + path + "\n" : "directory " + path + " already exists\n";
}

Result<json> remove(Context& ctx, files::DeleteParams&& p) {
  if (auto s = ctx.workspace.files().remove(p.path, p.recursive, access(ctx)); !s) return s.error();
  return json{{"path", *ctx.workspace.root().relative(p.path)}, {"deleted", true}};
}

std::string remove_text(const json& r) { return "deleted " + str(r, "path") + "\n"; }

}  // namespace

void register_files_ops(Registry& r) {
  r.add<files::ReadFileParams>("files/read", read, read_text);
  r.add<files::ReadManyParams>("files/readMany", read_many, read_many_text);
  r.add<files::WriteParams>("files/write", write, write_text);
  r.add<files::EditParams>("files/edit", edit, edit_text);
  r.add<files::PatchParams>("files/applyPatch", apply_patch, patch_text);
  r.add<files::ListDirectoryParams>("files/list", list, list_text);
  r.add<files::PathParams>("files/stat", stat, stat_text);
  r.add<files::MoveParams>("files/move", move, move_text);
  r.add<files::PathParams>("files/mkdir", mkdir, mkdir_text);
  r.add<files::DeleteParams>("files/delete", remove, remove_text);
}

}  // namespace icotes
