// `icotes call`: one operation, through the daemon serving the root when one
// runs (it has the editors' unsaved buffers and the session's answers),
// else in this process. Also the client the other commands use to ask a
// daemon something (call_daemon).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/daemon.hpp"
#include "icotes/json_parse.hpp"
#include "icotes/log.hpp"
#include "icotes/operation.hpp"
#include "icotes/rpc.hpp"
#include "icotes/stdio.hpp"
#include "icotes/workspace.hpp"

namespace icotes::cli {

std::optional<Result<json>> call_on(int fd, const std::string& method, const json& params,
                                    const ClientProfile* profile) {
  auto transport = std::make_shared<FdTransport>(fd, fd);
  if (profile) {
    AttachRequest attach;
    attach.profile = *profile;
    if (!transport->write(attach_line(attach))) return std::nullopt;
  }
  std::optional<Result<json>> answer;
  // A reply is as large as the daemon makes it: no frame limit here.
  auto connection = std::make_shared<Connection>(transport, std::size_t{1} << 40);
  connection->call(method, params, [&answer](Result<json> r) { answer = std::move(r); });
  char buf[64 * 1024];
  while (!answer && !connection->closed()) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    connection->on_bytes(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  return answer;
}

std::optional<Result<json>> call_daemon(const std::string& socket, const std::string& method, const json& params,
                                        const ClientProfile* profile) {
  auto fd = connect_unix(socket);
  if (!fd && fd.error().code == error_code::kNotFound) return std::nullopt;
  if (!fd) return Result<json>(std::move(fd).error());
  auto answer = call_on(*fd, method, params, profile);
  ::close(*fd);
  if (answer) return answer;
  // It died (or was killed) mid-call: its log, beside the socket
  // (daemon.hpp), may say why; the next `icotes serve` starts a new one.
  const std::string log =
      socket.size() > 5 && socket.ends_with(".sock") ? socket.substr(0, socket.size() - 5) + ".log" : "";
  return Result<json>(make_error(error_code::kIoError,
                                 "no answer from the daemon at " + socket +
                                     (log.empty() ? std::string() : " (it exited or was killed? see " + log + ")")));
}

namespace {

constexpr std::string_view kWho = "icotes call";

// `method` as an operation id ("files/read", "icotes/files/read") or an MCP
// tool name ("read_file").
const Operation& find_operation(const Registry& registry, std::string method) {
  if (method.rfind("icotes/", 0) == 0) method = method.substr(7);
  const Operation* op = registry.find(method);
  if (!op) op = registry.find_by_mcp_name(method);
  if (!op)
    die(make_error(error_code::kMethodNotFound, "unknown operation '" + method + "' (icotes call --list shows them)"),
        2, kWho);
  return *op;
}

json parse_params(const std::string& text) {
  if (text.empty()) return json::object();
  JsonParse parsed = parse_json(text);  // bounded depth, as from a peer
  if (!parsed) die(make_error(error_code::kParseError, "params are not valid JSON: " + parsed.message), 2, kWho);
  return std::move(parsed.value);
}

// Through the daemon serving `root`, with these flags for this call: nullopt
// when none runs (or --in-process).
std::optional<Result<json>> call_through_daemon(const CallOptions& o, const Operation& op, const json& params) {
  std::error_code ec;
  auto address = daemon_address(std::filesystem::canonical(o.root, ec).string());
  if (ec || !address || o.in_process) return std::nullopt;
  ClientProfile profile;
  o.permissions.fill(profile);
  return call_daemon(address->socket_path, "icotes/" + op.id, params, &profile);
}

// In this process: the result's text (its raw_json() parts spliced while
// the workspace they may read from is open). Nobody to ask from a script:
// what needs asking is denied with the rule or flag that allows it.
std::string call_here(const CallOptions& o, const permissions::Settings& settings, const Operation& op,
                      const json& params) {
  const Registry& registry = builtin_registry();
  auto ws = Workspace::open(o.root, 1, settings);
  if (!ws) die(ws.error());
  for (const auto& w : (*ws)->gate().warnings()) std::fprintf(stderr, "icotes: permissions: %s\n", w.c_str());
  if (auto st = registry.validate(op, params); !st) die_json(st.error());
  auto cli = std::make_shared<permissions::ClientState>();
  cli->name = "cli";
  permissions::Gate& gate = (*ws)->gate();
  if (auto st = gate.check_now(*cli, op.id, gate.needs(op, params)); !st) die_json(st.error());
  CancellationToken token;
  NullProgress progress;
  Context ctx{**ws, token, progress, nullptr};
  ctx.read_denied = gate.read_filter(cli);
  if (permissions::is_write_kind(op.kind)) ctx.may_write = gate.write_check(cli, op.kind, gate.needs(op, params));
  auto result = registry.run(op, ctx, params);
  if (!result) die_json(result.error());
  return to_json_string(*result);
}

}  // namespace

int call(const CallOptions& o) {
  setup_logging("warn", "");
  const Registry& registry = builtin_registry();
  if (o.list) {
    for (const Operation* op : registry.all())
      std::printf("%-22s %-18s %s\n", op->id.c_str(), op->mcp_name.c_str(), op->title.c_str());
    return 0;
  }
  const Operation& op = find_operation(registry, o.method);
  const json params = parse_params(o.params);
  auto settings = o.permissions.settings();
  if (!settings) die(settings.error(), 2, kWho);
  if (auto r = call_through_daemon(o, op, params)) {
    if (!*r) die_json(r->error());
    std::printf("%s\n", o.compact ? (*r)->dump().c_str() : (*r)->dump(2).c_str());
    return 0;
  }
  const std::string text = call_here(o, *settings, op, params);
  const json pretty = o.compact ? json() : parse_json_or_discarded(text);
  std::printf("%s\n", o.compact || pretty.is_discarded() ? text.c_str() : pretty.dump(2).c_str());
  return 0;
}

}  // namespace icotes::cli
