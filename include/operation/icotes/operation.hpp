// The operation registry (docs/ARCHITECTURE.md, "Operations"). Every capability is defined
// once — id, MCP tool name, input/output JSON Schema, annotations,
// permission kind, handler — and every door (LSP request icotes/<id>,
// workspace/executeCommand icotes.<id with dots>, MCP tool <mcpName>,
// `icotes call`) reaches it through here.
//
// Metadata and schemas live in schemas/<service>/<verb>.json, embedded in the
// binary at build time; a registry line only binds the id to its handler.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/cancellation.hpp"
#include "icotes/client_profile.hpp"
#include "icotes/json.hpp"
#include "icotes/path_policy.hpp"
#include "icotes/progress.hpp"
#include "icotes/result.hpp"

namespace icotes {

class Connection;
class Workspace;
namespace permissions {
struct ClientState;
}

/// What an operation needs permission for (docs/ARCHITECTURE.md, "Permissions").
enum class OperationKind { None, ReadFile, WriteFile, EditFile, Bash, GitWrite, Network };
std::string_view to_string(OperationKind kind);
std::optional<OperationKind> operation_kind_from_string(std::string_view name);

/// MCP ToolAnnotations (MCP 2025-03-26 and later, "ToolAnnotations").
struct Annotations {
  bool read_only = false;
  bool destructive = true;
  bool idempotent = false;
  bool open_world = false;
};

/// What a handler may use besides its params.
struct Context {
  Workspace& workspace;
  const CancellationToken& cancel;
  Progress& progress;
  /// The connection that asked, when there is one (not for `icotes call`).
  std::shared_ptr<Connection> connection;
  /// The asking client as the permission gate knows it (its name, mode and
  /// rules); null when a caller runs a handler without the gate.
  std::shared_ptr<const permissions::ClientState> client = nullptr;
  /// The raw_json_source()s the result points to, kept until the reply has
  /// been written (the Context outlives it).
  std::vector<std::shared_ptr<const RawJsonSource>> sources = {};
  /// What the asking client may not read (path_policy.hpp); null: nothing
  /// is denied. Services check the paths they really open and leave denied
  /// files out of multi-file results.
  ReadFilter read_denied = nullptr;
  /// Judges where a write really lands (path_policy.hpp); null: only the
  /// protected paths are refused.
  WriteCheck may_write = nullptr;
  /// The most text (bytes) the client takes in one result: an MCP client's
  /// --max-result-bytes (client_profile.hpp); 0 for LSP, JSON-RPC and
  /// `icotes call`, whose callers are programs. Operations clamp their
  /// byte and line limits to it and say how to continue.
  std::size_t max_result_bytes = 0;
  /// Whether the result's JSON reaches the client too (an MCP client that
  /// asked for structuredContent): then that JSON is held to
  /// max_result_bytes as well, not only the text.
  bool structured_output = false;
  /// The asking client's own model: sends MCP sampling/createMessage
  /// (`params`: CreateMessageRequest's params) to it and returns its
  /// CreateMessageResult or its error. Null unless an MCP client declared
  /// the `sampling` capability (what the `client` provider kind uses).
  std::function<Result<json>(const json& params, const CancellationToken& cancel)> sample = nullptr;
  /// The client declared `sampling.tools` (MCP 2025-11-25): tools may be sent.
  bool sampling_tools = false;
  /// The MCP tool groups offered to the asking client ("files", "search",
  /// ...: its --tools narrowed by the workspace's `[mcp] tools`); nullopt:
  /// every group. An agent run for this client (delegate, agent/run) calls
  /// only tools of these groups.
  std::optional<std::set<std::string>> tool_groups = std::nullopt;

  /// The bytes of text this call's result may hold: SIZE_MAX for programs
  /// (max_result_bytes 0); for an MCP client, max_result_bytes when the
  /// caller asked for a size (`asked`: an explicit limit, maxBytes, ...),
  /// else at most kDefaultToolResultBytes (client_profile.hpp).
  std::size_t text_budget(bool asked) const {
    if (max_result_bytes == 0) return SIZE_MAX;
    return asked ? max_result_bytes : std::min(max_result_bytes, kDefaultToolResultBytes);
  }
};

using Handler = std::function<Result<json>(Context&, const json& params)>;

/// A member of a call's params that passed the schema but cannot be read
/// into its typed field (a number beyond the field's range, say): thrown by
/// a Params' from_json (src/ops/bind.hpp), answered by Registry::run as
/// -32602 "invalid <tool> params: <pointer>: <expected>", as a schema miss
/// is, never with the JSON library's text.
struct ParamError : std::runtime_error {
  ParamError(std::string pointer_, std::string expected_)
      : std::runtime_error(pointer_ + ": " + expected_), pointer(std::move(pointer_)), expected(std::move(expected_)) {}
  std::string pointer;   // JSON Pointer (RFC 6901) of the member: "/offset", "/edits/0/oldString"
  std::string expected;  // what it should have been: "an integer from 0 to 4294967295"
};

/// `params` (schema-valid) as a Params, read by its from_json (found by
/// argument-dependent lookup, nlohmann's rule), absent members taking the
/// schema's documented defaults. Throws ParamError only.
template <class Params>
Params bind_params(const json& params) {
  Params p{};
  try {
    params.get_to(p);
  } catch (const ParamError&) {
    throw;
  } catch (const std::exception&) {
    throw ParamError("", "params of the schema's shape");
  }
  return p;
}
/// Checks of a call's params beyond its schema that must hold before the
/// permission gate asks anyone (a loader variable in `env`): nobody is ever
/// asked to approve a call that would be refused anyway. Errors:
/// kInvalidParams.
using Precheck = std::function<Status(const json& params)>;

/// What a call names for the permission gate, declared in the operation's
/// schema as `"x-permission": "<role>"` on a top-level input property (read
/// once, at registration). docs/ARCHITECTURE.md "How to add an operation".
enum class PathRole {
  Path,   // "path": judged with the operation's kind; a change where it lands (symlinks resolved)
  Name,   // "name": a path whose name itself changes (delete, move): its parent resolved, its last part as given
  Paths,  // "paths": an array of "path"s
  Patch,  // "patch": a unified diff; each file it names (old and new) is a "path"
  Cwd,    // "cwd": where a command runs: a read where it really leads (symlinks resolved); the root needs nothing
};
/// The schema's name of a role: "path", "name", "paths", "patch", "cwd".
std::string_view to_string(PathRole role);
struct PathParam {
  std::string name;  // the input property
  PathRole role = PathRole::Path;
};
/// The command lines a call runs, each as a user would type it for the same
/// effect (environment as `env NAME=value ...`, stdin as a here-document):
/// what Bash(...) rules judge and a question shows. Registered beside the
/// handler of a Bash-kind operation (Registry::needs).
using NeedsHook = std::function<std::vector<std::string>(const json& params)>;

class SchemaValidator;

struct Operation {
  std::string id;        // "files/read"
  std::string mcp_name;  // "read_file"
  std::string title;
  std::string description;
  OperationKind kind = OperationKind::None;
  Annotations annotations;
  json input_schema;
  json output_schema;
  /// The result member holding the operation's text (a file's, a diff's):
  /// schema "mcpText". Without a renderer (mcp_text), the MCP text block is
  /// the other members as `key: value` lines, then this text verbatim.
  std::string mcp_text_field;
  /// Schema "mcpHidden": input properties MCP's tools/list leaves out (rarely
  /// used; none of them required). Calls that send them are still accepted:
  /// every call is validated against input_schema (mcp::listed_input_schema).
  std::vector<std::string> mcp_hidden;
  /// Schema "mcpTool": false keeps the operation out of MCP's tools/list and
  /// tools/call (LSP, JSON-RPC and `icotes call` only): for operations whose
  /// caller is a person's client, not a model (agent/run).
  bool mcp_tool = true;
  /// Schema "inline": bounded work that never waits on a client or a lock
  /// held for long (stat, a read). Runs on the connection's reading thread,
  /// saving the hand-off to a worker (a wake-up and a context switch, about
  /// 10 us here), in order with the requests around it.
  bool run_inline = false;
  /// Schema "serialBy": an input property (a string) whose equal values
  /// make calls run one at a time, in the order they arrived on the
  /// workspace (terminal/write by `id`: keystrokes sent as separate
  /// requests reach the terminal in order). Empty: calls run side by side.
  std::string serial_by;
  /// MCP only: renders the COMPLETE result (every member, mcp_text_field's
  /// too, search pages expanded to plain JSON) as the WHOLE text block the
  /// model reads, in the form people read (a directory as lines, grep as
  /// `path:line:text`), with a short header first and how to continue. Null:
  /// mcp::render_text (include/dialects/icotes/mcp.hpp). A top-level "image" member
  /// {mimeType, data} is sent after the text as an image block; text past
  /// the client's cap is cut there with a note.
  std::function<std::string(const json& result)> mcp_text;
  Handler handler;
  Precheck precheck;  // may be null
  /// The properties naming paths (schema "x-permission"), in schema order.
  std::vector<PathParam> path_params;
  /// `{property, value}`: a call whose property equals the value only reads
  /// (its need is ReadFile): schema `"x-permission-read-when": value`, e.g.
  /// an edit's `dryRun: true`, a branch `action: "list"`.
  std::vector<std::pair<std::string, json>> read_when;
  NeedsHook needs;  // may be null
  std::shared_ptr<const SchemaValidator> input_validator;

  /// LSP method: "icotes/files/read".
  std::string lsp_method() const { return "icotes/" + id; }
  /// workspace/executeCommand command: "icotes.files.read".
  std::string command() const;
  /// Its group, the schema's folder: "files" for files/read. MCP clients
  /// are offered tools by group (--tools), and an agent run keeps to them.
  std::string_view group() const { return std::string_view(id).substr(0, id.find('/')); }
};

class Registry {
 public:
  /// Binds `id` to `handler`; metadata comes from the embedded schema
  /// schemas/<id>.json. Throws std::logic_error when the schema is missing or
  /// malformed: a build defect, caught by the unit tests.
  void add(std::string_view id, Handler handler, std::function<std::string(const json& result)> mcp_text = nullptr);
  /// Binds `id` to a typed handler, as clangd's LSPBinder does: the schema
  /// check runs first (validate()), then the params are read into a Params
  /// (bind_params), then the handler runs; a member the schema let through
  /// that does not fit its field is -32602 naming it. Registered as
  /// `r.add<files::ReadParams>("files/read", read, read_text)`.
  /// docs/ARCHITECTURE.md "Adding an operation".
  template <class Params>
  void add(std::string_view id, std::function<Result<json>(Context&, Params&&)> handler,
           std::function<std::string(const json& result)> mcp_text = nullptr) {
    add(id, Handler([h = std::move(handler)](Context& ctx, const json& params) -> Result<json> {
          return h(ctx, bind_params<Params>(params));
        }),
        std::move(mcp_text));
  }

  const Operation* find(std::string_view id) const;
  const Operation* find_by_mcp_name(std::string_view name) const;
  const Operation* find_by_command(std::string_view command) const;
  /// All operations in id order.
  std::vector<const Operation*> all() const;

  /// Adds a Precheck to the registered operation `id` (throws
  /// std::logic_error when there is none: a build defect).
  void precheck(std::string_view id, Precheck check);
  /// Adds the NeedsHook of the registered Bash-kind operation `id` (throws
  /// std::logic_error for another: a build defect).
  void needs(std::string_view id, NeedsHook hook);

  /// Validates params against the input schema, then the operation's
  /// Precheck: what runs before the permission gate. Errors: -32602 (with
  /// data.pointer and data.expected for a schema miss).
  Status validate(const Operation& op, const json& params) const;
  /// Runs the handler on params validate() accepted. Errors: the handler's.
  Result<json> run(const Operation& op, Context& ctx, const json& params) const;
  /// validate() then run().
  Result<json> invoke(const Operation& op, Context& ctx, const json& params) const;

 private:
  std::map<std::string, Operation, std::less<>> ops_;
};

/// The MCP tool name of operation `id` as its embedded schema gives it
/// ("files/read" -> "read_file"); empty when there is no such schema.
std::string mcp_name_of(std::string_view id);

/// Embedded schema texts keyed by path without ".json" (generated).
namespace ops {
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_schemas();
}

}  // namespace icotes
