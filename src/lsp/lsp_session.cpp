// The LSP dialect (LSP 3.17/3.18): lifecycle, text document sync into the
// documents overlay, positionEncoding negotiation, workspace/executeCommand,
// $/progress, $/cancelRequest, and every operation as icotes/<id>.
#include <spdlog/spdlog.h>

#include <future>

#include "icotes/permission_admin.hpp"
#include "icotes/session.hpp"

namespace icotes {
namespace {

enum class State { Uninitialized, Initializing, Running, ShutDown };

std::string_view encoding_name(PositionEncoding e) {
  switch (e) {
    case PositionEncoding::Utf8:
      return "utf-8";
    case PositionEncoding::Utf16:
      return "utf-16";
    case PositionEncoding::Utf32:
      return "utf-32";
  }
  return "utf-16";
}

json to_json(Position p) { return json{{"line", p.line}, {"character", p.character}}; }

Result<Position> position_from(const json& j) {
  if (!j.is_object() || !j.contains("line") || !j.contains("character") || !j["line"].is_number_unsigned() ||
      !j["character"].is_number_unsigned())
    return make_error(error_code::kInvalidParams, "Position must be {line, character} with unsigned integers");
  return Position{j["line"].get<std::uint32_t>(), j["character"].get<std::uint32_t>()};
}

class LspDialect final : public Dialect, public EditorLink, public std::enable_shared_from_this<LspDialect> {
 public:
  LspDialect(Workspace& workspace, std::shared_ptr<Connection> connection, const SessionOptions& options)
      : workspace_(workspace), conn_(std::move(connection)), options_(options), registry_(*options.registry) {}

  std::string_view name() const override { return "lsp"; }

  void on_request(Request request) override {
    const std::string& method = request.method();
    if (method == "initialize") return initialize(request);
    if (state_ == State::Uninitialized)
      return request.fail(
          make_error(error_code::kServerNotInitialized, "server not initialized: send initialize first"));
    if (state_ == State::ShutDown)
      return request.fail(make_error(error_code::kInvalidRequest, method + ": the server is shut down; send exit"));
    if (method == "shutdown") {
      state_ = State::ShutDown;
      return request.reply(nullptr);
    }
    if (method == "icotes/operations") return request.reply(describe_operations(registry_));
    if (method == "workspace/executeCommand") return execute_command(std::move(request));
    if (permissions::is_admin_method(method)) {
      // The user's editor may administer permissions; on a worker (SQLite).
      const void* owner = &request.connection();
      return workspace_.workers().post(
          [this, self = shared_from_this(), request = std::move(request)] {
            auto r = permissions::admin(workspace_.gate(), workspace_.root(), request.method(), request.params(),
                                        client_->name);
            if (r)
              request.reply(*r);
            else
              request.fail(r.error());
          },
          owner);
    }
    if (method.rfind("icotes/", 0) == 0) {
      if (const Operation* op = registry_.find(std::string_view(method).substr(7))) {
        if (!request.params().is_object())
          return request.fail(make_error(error_code::kInvalidParams, method + ": params must be an object"));
        json params = request.params();
        return run(std::move(request), *op, std::move(params));
      }
    }
    request.fail(make_error(error_code::kMethodNotFound, "method not found: " + method));
  }

  void on_notification(const std::string& method, const json& params) override {
    if (method == "exit") {
      workspace_.editor_contexts().remove(this);
      if (options_.on_exit) options_.on_exit(state_ == State::ShutDown ? 0 : 1);
      return;
    }
    if (state_ == State::Uninitialized) return;  // dropped, as the spec says
    try {
      if (method == "initialized") {
        state_ = State::Running;
      } else if (method == "$/cancelRequest") {
        conn_->cancel_request(params.at("id"));
      } else if (method == "textDocument/didOpen") {
        did_open(params.at("textDocument"));
      } else if (method == "textDocument/didChange") {
        did_change(params);
      } else if (method == "textDocument/didClose") {
        if (auto rel = workspace_.rel_of_uri(params.at("textDocument").at("uri").get<std::string>()))
          workspace_.documents().close(*rel);
      } else if (method == "icotes/editor/context") {
        workspace_.editor_contexts().update(this, editor_name(), params,
                                            [this](std::string_view uri) -> std::optional<std::string> {
                                              auto rel = workspace_.rel_of_uri(uri);
                                              if (!rel) return std::nullopt;
                                              return *rel;
                                            });
      } else if (method == "$/setTrace") {
        trace_ = member_or(params, "value", std::string("off"));
      }
      // didSave, didChangeWatchedFiles, didChangeConfiguration: the overlay
      // already holds the text; nothing to do until the watcher lands.
    } catch (const json::exception& e) {
      log_message(1, method + ": malformed params: " + e.what());
    }
  }

  void on_close() override {
    workspace_.documents().close_owned_by(this);
    workspace_.editor_contexts().remove(this);
  }

  // EditorLink: send workspace/applyEdit and wait for the answer.
  Result<bool> apply_edit(const std::string& uri, std::int64_t version, std::string_view old_text, std::size_t begin,
                          std::size_t end, std::string_view replacement, std::chrono::milliseconds timeout) override {
    const json range = {{"start", to_json(position_of(old_text, begin, encoding_))},
                        {"end", to_json(position_of(old_text, end, encoding_))}};
    const json text_edit = {{"range", range}, {"newText", std::string(replacement)}};
    json edit;
    if (document_changes_) {
      edit["documentChanges"] =
          json::array({{{"textDocument", {{"uri", uri}, {"version", version}}}, {"edits", json::array({text_edit})}}});
    } else {
      edit["changes"] = {{uri, json::array({text_edit})}};
    }
    auto promise = std::make_shared<std::promise<Result<json>>>();
    auto future = promise->get_future();
    conn_->call("workspace/applyEdit", {{"label", "icotes"}, {"edit", std::move(edit)}},
                [promise](Result<json> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(timeout) != std::future_status::ready)
      return make_error(error_code::kRequestFailed, "the editor did not answer workspace/applyEdit within " +
                                                        std::to_string(timeout.count()) + " ms");
    Result<json> r = future.get();
    if (!r)
      return make_error(error_code::kRequestFailed, "the editor failed workspace/applyEdit: " + r.error().message);
    if (!member_or(*r, "applied", false)) {  // ApplyWorkspaceEditResult; other types are a refusal
      const std::string reason = member_or(*r, "failureReason", std::string());
      return make_error(error_code::kConflict,
                        "the editor refused the edit" + (reason.empty() ? std::string() : ": " + reason));
    }
    return true;
  }
  std::string editor_name() const override { return client_name_.empty() ? "LSP client" : client_name_; }
  bool can_show_document() const override { return show_document_; }

  Result<bool> show_document(const std::string& uri, std::optional<Position> at,
                             std::chrono::milliseconds timeout) override {
    if (!show_document_)
      return make_error(
          error_code::kRequestFailed,
          editor_name() + " does not support window/showDocument (LSP 3.16); open " + uri + " there by hand");
    json params = {{"uri", uri}, {"takeFocus", true}};
    if (at) {
      // The position in the editor's encoding: the caller's column counts
      // characters, which is the same for ASCII lines.
      const json pos = to_json(*at);
      params["selection"] = {{"start", pos}, {"end", pos}};
    }
    auto promise = std::make_shared<std::promise<Result<json>>>();
    auto future = promise->get_future();
    conn_->call("window/showDocument", params, [promise](Result<json> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(timeout) != std::future_status::ready)
      return make_error(error_code::kRequestFailed, editor_name() + " did not answer window/showDocument within " +
                                                        std::to_string(timeout.count()) + " ms");
    Result<json> r = future.get();
    if (!r)
      return make_error(error_code::kRequestFailed,
                        editor_name() + " failed window/showDocument: " + r.error().message);
    return member_or(*r, "success", false);
  }

 private:
  // The editor's folders (rootUri, workspaceFolders) must lie in the tree
  // this server serves: an editor opened on /src/other talking to a server
  // of /src/proj would otherwise be served the wrong tree without a word.
  Status check_client_roots(const json& p) {
    std::vector<std::string> uris;
    if (auto r = p.find("rootUri"); r != p.end() && r->is_string()) uris.push_back(r->get<std::string>());
    if (auto f = p.find("workspaceFolders"); f != p.end() && f->is_array())
      for (const auto& folder : *f)
        if (folder.is_object() && folder.contains("uri") && folder["uri"].is_string())
          uris.push_back(folder["uri"].get<std::string>());
    for (const auto& uri : uris) {
      if (uri.rfind("file://", 0) != 0) continue;  // other schemes are not this server's business
      auto rel = workspace_.rel_of_uri(uri);
      if (!rel && rel.error().code == error_code::kOutsideWorkspace)
        return make_error(error_code::kInvalidParams,
                          "the editor's folder " + uri + " lies outside the workspace this icotes serves (" +
                              workspace_.root().path() +
                              "); start icotes with --root set to that folder (or a directory above it)");
    }
    return ok_status();
  }

  void initialize(const Request& request) {
    if (state_ != State::Uninitialized)
      return request.fail(make_error(error_code::kInvalidRequest, "initialize may be sent only once"));
    const json& p = request.params();
    if (!p.is_object())
      return request.fail(make_error(error_code::kInvalidParams, "initialize: params must be an object"));
    if (auto st = check_client_roots(p); !st) return request.fail(st.error());
    if (auto info = p.find("clientInfo"); info != p.end() && info->is_object())
      client_name_ = info->value("name", std::string());
    client_->name = "lsp:" + (client_name_.empty() ? std::string("LSP client") : client_name_);
    client_->settings = connection_settings(workspace_, options_.profile);
    // initializationOptions.permissions: {mode?, allow?: [rule], deny?: [rule]}
    if (const json* perm = find_path(p, {"initializationOptions", "permissions"}); perm && perm->is_object()) {
      if (auto st = apply_permission_options(*perm); !st) return request.fail(st.error());
    }
    client_->ask = [weak = weak_from_this()](
                       const permissions::Question& q,
                       std::function<void(std::optional<permissions::Choice>)> answer) -> std::function<void()> {
      auto self = weak.lock();
      if (!self) {
        answer(std::nullopt);
        return nullptr;
      }
      return self->ask(q, std::move(answer));
    };
    workspace_.gate().attach_editor(client_);
    workspace_.documents().add_editor(std::static_pointer_cast<EditorLink>(shared_from_this()));
    // The client's capabilities: position encoding, documentChanges, showDocument.
    read_capabilities(p.value("capabilities", json::object()));
    json commands = json::array();
    for (const Operation* op : registry_.all()) commands.push_back(op->command());
    json result = {{"capabilities",
                    {{"positionEncoding", encoding_name(encoding_)},
                     {"textDocumentSync", {{"openClose", true}, {"change", 2}, {"save", {{"includeText", false}}}}},
                     {"executeCommandProvider", {{"commands", std::move(commands)}}},
                     {"workspace", {{"workspaceFolders", {{"supported", true}, {"changeNotifications", false}}}}},
                     {"experimental",
                      {{"icotes", {{"operations", true}, {"root", workspace_.root().path()}, {"editorContext", true}}},
                       {"icotesEditorContext", true}}}}},
                   {"serverInfo", {{"name", "icotes"}, {"version", ICOTES_VERSION}}}};
    state_ = State::Initializing;
    request.reply(result);
  }

  // What the client's capabilities say for this session: the position
  // encoding (utf-16 unless the client offers utf-8, LSP 3.17),
  // workspaceEdit.documentChanges and window.showDocument.support.
  void read_capabilities(const json& caps) {
    encoding_ = PositionEncoding::Utf16;
    if (caps.is_object()) {
      if (auto general = caps.find("general"); general != caps.end() && general->is_object()) {
        if (auto encs = general->find("positionEncodings"); encs != general->end() && encs->is_array()) {
          for (const auto& e : *encs) {
            if (e == "utf-8") encoding_ = PositionEncoding::Utf8;
          }
        }
      }
      // json::value(pointer, default) throws when the member is there with
      // another type: each level is read with member_or instead.
      const json workspace_edit = member_or(member_or(caps, "workspace", json()), "workspaceEdit", json());
      document_changes_ = member_or(workspace_edit, "documentChanges", false);
      show_document_ =
          member_or(member_or(member_or(caps, "window", json()), "showDocument", json()), "support", false);
    }
  }

  void did_open(const json& td) {
    auto rel = workspace_.rel_of_uri(td.at("uri").get<std::string>());
    if (!rel) return log_message(2, "didOpen: " + rel.error().message + "; the document is not tracked");
    OpenDocument doc;
    doc.uri = td.at("uri").get<std::string>();
    doc.language_id = member_or(td, "languageId", std::string());
    doc.version = member_or(td, "version", 0);
    doc.text = td.at("text").get<std::string>();
    doc.owner = std::static_pointer_cast<EditorLink>(shared_from_this());
    workspace_.documents().open(*rel, std::move(doc));
  }

  void did_change(const json& params) {
    const json& td = params.at("textDocument");
    auto rel = workspace_.rel_of_uri(td.at("uri").get<std::string>());
    if (!rel) return;
    const std::int64_t version = member_or<std::int64_t>(td, "version", 0);
    for (const auto& change : params.at("contentChanges")) {
      Status s = ok_status();
      if (auto range = change.find("range"); range != change.end()) {
        auto start = position_from(range->at("start"));
        auto end = position_from(range->at("end"));
        if (!start || !end) return log_message(1, "didChange: " + (start ? end.error() : start.error()).message);
        s = workspace_.documents().change(*rel, version, Range{*start, *end}, change.at("text").get<std::string>(),
                                          encoding_);
      } else {
        s = workspace_.documents().replace(*rel, version, change.at("text").get<std::string>());
      }
      if (!s) return log_message(2, s.error().message);
    }
  }

  void execute_command(Request request) {
    const json& p = request.params();
    if (!p.is_object() || !p.contains("command") || !p["command"].is_string())
      return request.fail(
          make_error(error_code::kInvalidParams, "workspace/executeCommand: command (string) is required"));
    const std::string command = p["command"].get<std::string>();
    const Operation* op = registry_.find_by_command(command);
    if (!op)
      return request.fail(
          make_error(error_code::kInvalidParams, "workspace/executeCommand: unknown command '" + command + "'"));
    // Arguments: one object holding the operation's params (or none).
    json args = json::object();
    if (auto a = p.find("arguments"); a != p.end() && a->is_array() && !a->empty()) {
      if (a->size() != 1 || !(*a)[0].is_object())
        return request.fail(make_error(error_code::kInvalidParams, command + ": arguments must be [ {params} ]"));
      args = (*a)[0];
    }
    if (p.contains("workDoneToken")) args["workDoneToken"] = p["workDoneToken"];
    run(std::move(request), *op, args);
  }

  void run(Request request, const Operation& op, json params) {
    run_operation(workspace_, registry_, std::move(request), jsonrpc_call(op, std::move(params), conn_, client_));
  }

  static const json* find_path(const json& j, std::initializer_list<const char*> keys) {
    const json* cur = &j;
    for (const char* k : keys) {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(k);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    }
    return cur;
  }

  Status apply_permission_options(const json& perm) {
    if (auto m = perm.find("mode"); m != perm.end()) {
      auto mode = m->is_string() ? permissions::mode_from_string(m->get<std::string>()) : std::nullopt;
      if (!mode)
        return make_error(error_code::kInvalidParams,
                          "initializationOptions.permissions.mode must be default, acceptEdits or readOnly");
      if (*mode == permissions::Mode::Bypass)
        return make_error(error_code::kInvalidParams,
                          "initializationOptions.permissions.mode 'bypass' is refused: only the command-line flag "
                          "--permission-mode bypass sets it");
      client_->settings.mode = *mode;
      client_->settings.mode_given = true;
    }
    for (auto [name, answer] :
         {std::pair{"allow", permissions::Answer::Allow}, std::pair{"deny", permissions::Answer::Deny}}) {
      auto list = perm.find(name);
      if (list == perm.end()) continue;
      if (!list->is_array())
        return make_error(error_code::kInvalidParams,
                          std::string("initializationOptions.permissions.") + name + " must be an array of rules");
      for (const auto& text : *list) {
        if (!text.is_string())
          return make_error(error_code::kInvalidParams,
                            std::string("initializationOptions.permissions.") + name + " holds a non-string");
        auto rule = permissions::Rule::parse(text.get<std::string>(), answer);
        if (!rule) return rule.error();
        (answer == permissions::Answer::Allow ? client_->settings.allow : client_->settings.deny)
            .push_back(std::move(*rule));
      }
    }
    return ok_status();
  }

  // The question as window/showMessageRequest (LSP 3.17): one action per
  // choice; null (dismissed) or an error is no answer.
  std::function<void()> ask(const permissions::Question& q,
                            std::function<void(std::optional<permissions::Choice>)> answer) {
    json actions = json::array();
    for (const auto& [choice, label] : q.options) actions.push_back({{"title", label}});
    const json id = conn_->call("window/showMessageRequest",
                                {{"type", 2}, {"message", "icotes: " + q.message}, {"actions", std::move(actions)}},
                                [answer = std::move(answer), options = q.options](Result<json> r) {
                                  std::optional<permissions::Choice> choice;
                                  const std::string title = r ? member_or(*r, "title", std::string()) : std::string();
                                  for (const auto& [c, label] : options)
                                    if (!title.empty() && label == title) choice = c;
                                  answer(choice);
                                });
    if (id.is_null()) return nullptr;
    std::weak_ptr<Connection> conn = conn_;
    return [conn, id] {
      if (auto c = conn.lock()) c->notify("$/cancelRequest", {{"id", id}});
    };
  }

  // window/logMessage; type 1 error, 2 warning, 3 info, 4 log.
  void log_message(int type, const std::string& message) {
    spdlog::warn("{}", message);
    conn_->notify("window/logMessage", {{"type", type}, {"message", message}});
  }

  Workspace& workspace_;
  std::shared_ptr<Connection> conn_;
  SessionOptions options_;
  const Registry& registry_;
  std::atomic<State> state_{State::Uninitialized};
  PositionEncoding encoding_ = PositionEncoding::Utf16;
  bool document_changes_ = false;
  std::atomic<bool> show_document_{false};  // window/showDocument support (LSP 3.16)
  std::string client_name_;
  std::string trace_ = "off";
  std::shared_ptr<permissions::ClientState> client_ = std::make_shared<permissions::ClientState>();
};

}  // namespace

std::shared_ptr<Dialect> make_lsp_dialect(Workspace& workspace, std::shared_ptr<Connection> connection,
                                          const SessionOptions& options) {
  return std::make_shared<LspDialect>(workspace, std::move(connection), options);
}

}  // namespace icotes
