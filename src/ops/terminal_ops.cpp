// The terminal operations (schemas/terminal/*.json): create, write, read,
// resize, kill, list. Params arrive schema-checked and typed
// (terminal_json.hpp); each handler calls the service with them.
#include "icotes/builtin_ops.hpp"
#include "icotes/operation.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/terminal.hpp"
#include "icotes/utf8.hpp"
#include "icotes/workspace.hpp"
#include "terminal_json.hpp"

namespace icotes {
namespace {

Result<json> create(Context& ctx, terminal::CreateOptions&& p) {
  auto r = ctx.workspace.terminals().create(p);
  if (!r) return std::move(r).error();
  return json(*r);
}

Result<json> write(Context& ctx, terminal::WriteParams&& p) {
  auto r = ctx.workspace.terminals().write(p.id, p.data, ctx.cancel);
  if (!r) return std::move(r).error();
  return json{{"id", p.id}, {"bytes", p.data.size()}, {"offset", *r}};
}

// terminal/read's scrollback mode: the last lines that fit the client's text budget, into `out`.
Status read_scrollback(Context& ctx, const terminal::ReadParams& p, json& out) {
  auto h = ctx.workspace.terminals().history(p.id, p.max_lines.value_or(1000));
  if (!h) return std::move(h).error();
  // The last lines that fit the client's text budget (asked: maxLines).
  const std::size_t budget = ctx.text_budget(p.max_lines.has_value());
  std::size_t bytes = 512, keep = 0;  // 512: the note and the state lines
  while (keep < h->lines.size() && (bytes += h->lines[h->lines.size() - 1 - keep].size() + 1) <= budget) ++keep;
  if (keep < h->lines.size()) {
    h->first_line += h->lines.size() - keep;
    h->lines.erase(h->lines.begin(), h->lines.end() - static_cast<std::ptrdiff_t>(keep));
  }
  out["lines"] = h->lines;
  out["firstLine"] = h->first_line;
  out["totalLines"] = h->total_lines;
  if (h->first_line > 0)
    out["note"] = std::to_string(h->first_line) + " earlier lines are not shown" +
                  " (older than the scrollback bound, beyond maxLines, or past the result's size budget)";
  return ok_status();
}

// terminal/read's raw mode: the bytes after `since` as UTF-8 text within the client's text budget, into `out`.
Status read_raw(Context& ctx, const terminal::ReadParams& p, json& out) {
  const std::size_t budget = ctx.text_budget(p.max_bytes.has_value());
  const std::size_t room = budget == SIZE_MAX ? budget : budget - std::min(budget / 2, std::size_t{512});
  auto raw = ctx.workspace.terminals().raw(p.id, p.since, std::min(p.max_bytes.value_or(65536), room));
  if (!raw) return std::move(raw).error();
  std::string data = repair_utf8(raw->bytes);
  if (data.size() > room) {
    // Bytes that are not UTF-8 become U+FFFD, three bytes each: read a
    // third as many so the text stays within the budget.
    raw = ctx.workspace.terminals().raw(p.id, p.since, room / 3);
    if (!raw) return std::move(raw).error();
    data = repair_utf8(raw->bytes);
  }
  out["data"] = std::move(data);
  out["start"] = raw->start;
  out["end"] = raw->end;
  out["truncated"] = raw->truncated;
  std::string note;
  if (raw->dropped > 0)
    note = std::to_string(raw->dropped) + " bytes after since are no longer kept (the last " +
           std::to_string(ctx.workspace.terminals().limits().raw_bytes) + " bytes are); data starts at " +
           std::to_string(raw->start) + ". ";
  if (raw->truncated) note += "More output follows: read again with since=" + std::to_string(raw->end) + ".";
  if (!note.empty()) out["note"] = note;
  return ok_status();
}

Result<json> read(Context& ctx, terminal::ReadParams&& p) {
  auto& terminals = ctx.workspace.terminals();
  const std::string& id = p.id;
  const std::string& mode = p.mode;
  const std::optional<std::uint64_t> since = p.since;
  json out = {{"id", id}, {"mode", mode}};
  if (p.wait_for) {
    // A wait can last minutes: the pool keeps a worker free for others.
    WorkerPool::Blocking waiting(ctx.workspace.workers());
    auto waited = terminals.wait(id, *p.wait_for, since, ctx.cancel);
    if (!waited) return std::move(waited).error();
    json wait = {{"result", std::string(terminal::to_string(waited->result))}, {"waitedMs", waited->waited_ms}};
    if (waited->result == terminal::WaitResult::Matched) wait["match"] = waited->match;
    out["wait"] = std::move(wait);
  }
  if (mode == "screen") {
    auto s = terminals.screen(id);
    if (!s) return std::move(s).error();
    out["lines"] = s->lines;
    out["cursor"] = {{"row", s->cursor_row}, {"col", s->cursor_col}, {"visible", s->cursor_visible}};
    out["title"] = s->title;
    out["cols"] = s->cols;
    out["rows"] = s->rows;
    out["altScreen"] = s->alt_screen;
  } else if (mode == "scrollback") {
    if (auto st = read_scrollback(ctx, p, out); !st) return std::move(st).error();
  } else {
    if (auto st = read_raw(ctx, p, out); !st) return std::move(st).error();
  }
  // Last, so the state matches (or postdates) the content above.
  auto info = terminals.info(id);
  if (!info) return std::move(info).error();
  out["alive"] = info->alive;
  out["exitCode"] = info->exit_code ? json(*info->exit_code) : json(nullptr);
  out["signal"] = info->signal ? json(terminal::signal_name(*info->signal)) : json(nullptr);
  out["offset"] = mode == "raw" ? out["end"].get<std::uint64_t>() : info->offset;
  return out;
}

Result<json> resize(Context& ctx, terminal::ResizeParams&& p) {
  auto r = ctx.workspace.terminals().resize(p.id, p.cols, p.rows);
  if (!r) return std::move(r).error();
  return json(*r);
}

Result<json> kill(Context& ctx, terminal::KillParams&& p) {
  std::optional<int> sig;
  if (const auto& it = p.signal) {
    const std::string name = it->is_string() ? it->get<std::string>() : std::to_string(it->get<std::int64_t>());
    sig = terminal::parse_signal(name);
    if (!sig)
      return make_error(
          error_code::kInvalidParams,
          "terminal_kill: unknown signal '" + name + "'; use a name such as SIGINT, INT, SIGTERM, SIGKILL or a number");
  }
  auto r = ctx.workspace.terminals().kill(p.id, sig);
  if (!r) return std::move(r).error();
  return json(*r);
}

Result<json> list(Context& ctx, bind::NoParams&&) { return json{{"terminals", ctx.workspace.terminals().list()}}; }

// The program the terminal starts, as the line a user would type for it
// (the client's environment as `env NAME=value ...`): a grant to open a
// shell is a grant to type in it (the other terminal operations ask nothing).
std::vector<std::string> create_needs(const json& p) {
  std::vector<std::string> argv{terminal::default_shell()};
  if (auto it = p.find("shell"); it != p.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
    argv[0] = it->get<std::string>();
  if (auto it = p.find("args"); it != p.end() && it->is_array())
    for (const auto& a : *it)
      if (a.is_string()) argv.push_back(a.get<std::string>());
  return {permissions::env_words(p) + permissions::program_line(argv)};
}

}  // namespace

void register_terminal_ops(Registry& r) {
  r.add<terminal::CreateOptions>("terminal/create", create);
  r.add<terminal::WriteParams>("terminal/write", write);
  r.add<terminal::ReadParams>("terminal/read", read);
  r.add<terminal::ResizeParams>("terminal/resize", resize);
  r.add<terminal::KillParams>("terminal/kill", kill);
  r.add<bind::NoParams>("terminal/list", list);
  r.needs("terminal/create", create_needs);
  r.precheck("terminal/create", [](const json& p) -> Status {
    if (auto it = p.find("env"); it != p.end())
      for (const auto& [name, value] : it->items())
        if (auto st = exec::check_client_variable(name, value.get_ref<const std::string&>()); !st) {
          Error e = std::move(st).error();
          e.message = "terminal_create: " + e.message;
          return e;
        }
    return ok_status();
  });
}

}  // namespace icotes
