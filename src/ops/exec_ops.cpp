// The exec operations (schemas/exec/*.json): run_command, run_code and the
// background jobs. Params arrive schema-checked and typed (exec_json.hpp);
// each handler turns them into an exec::Spec once and the service does the
// rest.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "exec_json.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/exec.hpp"
#include "icotes/operation.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

using std::chrono::milliseconds;

// Bytes of a result's text kept for its header and notes (status, note,
// the stream separators), outside the output itself.
constexpr std::size_t kOutputHeaderRoom = 1024;

// The output a run's result may carry for this client (both streams
// together): its text budget less the header's room.
std::size_t output_room(const Context& ctx, bool asked) {
  const std::size_t budget = ctx.text_budget(asked);
  return budget == SIZE_MAX ? budget : budget - std::min(budget / 2, kOutputHeaderRoom);
}

// Options shared by run_command and run_code. Each stream keeps at most
// maxOutputBytes (head and tail), and no more than the client's room.
void read_common(const Context& ctx, const exec::CommonParams& p, exec::Spec& spec, milliseconds default_timeout) {
  spec.timeout = milliseconds(p.timeout_ms.value_or(default_timeout.count()));
  spec.idle_timeout = milliseconds(p.idle_timeout_ms);
  spec.max_output_bytes =
      std::min(p.max_output_bytes.value_or(std::size_t{30000}), output_room(ctx, p.max_output_bytes.has_value()));
  spec.stdin_data = p.stdin_data;
}

json outcome_json(const exec::Outcome& o) {
  json r = {{"status", std::string(exec::to_string(o.ending))},
            {"durationMs", o.duration.count()},
            {"sandboxed", o.sandboxed},
            {"pid", o.pid},
            {"note", o.note}};
  if (o.exit_code) r["exitCode"] = *o.exit_code;
  if (o.signal) r["signal"] = exec::signal_name(*o.signal);
  return r;
}

// Cuts `text` to at most `max` bytes by dropping its middle (on character
// boundaries) for a marker, as the capture does; returns the bytes dropped.
std::size_t drop_middle(std::string& text, std::size_t max) {
  if (text.size() <= max) return 0;
  const std::string probe = "\n[... 0000000000 bytes omitted ...]\n";
  const std::size_t keep = max > probe.size() ? max - probe.size() : 0;
  std::size_t head = keep / 2;
  while (head > 0 && (static_cast<unsigned char>(text[head]) & 0xC0) == 0x80) --head;
  std::size_t tail_from = text.size() - (keep - keep / 2);
  while (tail_from < text.size() && (static_cast<unsigned char>(text[tail_from]) & 0xC0) == 0x80) ++tail_from;
  const std::size_t dropped = tail_from - head;
  text = text.substr(0, head) + "\n[... " + std::to_string(dropped) + " bytes omitted ...]\n" + text.substr(tail_from);
  return dropped;
}

// `room`: the most output both streams may carry together (output_room);
// when they hold more, stderr keeps at least a quarter of it and stdout
// the rest.
json run_result(const exec::Outcome& o, std::size_t room = SIZE_MAX) {
  json r = outcome_json(o);
  std::string out = o.out.text, err = o.err.text;
  std::size_t out_omitted = o.out.omitted_bytes, err_omitted = o.err.omitted_bytes;
  if (room != SIZE_MAX && out.size() + err.size() > room) {
    const std::size_t err_room = std::min(err.size(), std::max(room / 4, room > out.size() ? room - out.size() : 0));
    err_omitted += drop_middle(err, err_room);
    out_omitted += drop_middle(out, room - err.size());
  }
  r["stdout"] = std::move(out);
  r["stderr"] = std::move(err);
  r["stdoutBytes"] = o.out.total_bytes;
  r["stderrBytes"] = o.err.total_bytes;
  r["stdoutOmittedBytes"] = out_omitted;
  r["stderrOmittedBytes"] = err_omitted;
  r["truncated"] = out_omitted > 0 || err_omitted > 0;
  return r;
}

json job_json(const exec::JobInfo& j) {
  json r = outcome_json(j.outcome);
  if (j.running) {
    r["status"] = "running";
    r["note"] = "running; job_output follows it, job_kill ends it";
  }
  r["id"] = j.id;
  r["command"] = j.command;
  r["startedAtMs"] = j.started_ms;
  r["stdoutBytes"] = j.outcome.out.total_bytes;
  r["stderrBytes"] = j.outcome.err.total_bytes;
  return r;
}

// The text block MCP clients show: the output, then how it ended.
std::string run_text(const json& r) {
  if (r.value("status", std::string()) == "running") return r.value("note", std::string());
  std::string text = r.value("stdout", std::string());
  if (!text.empty() && text.back() != '\n') text += '\n';
  if (const std::string err = r.value("stderr", std::string()); !err.empty()) {
    text += "--- stderr ---\n" + err;
    if (text.back() != '\n') text += '\n';
  }
  text += "--- " + r.value("note", std::string()) + " (" + std::to_string(r.value("durationMs", 0)) + " ms" +
          (r.value("sandboxed", false) ? ", sandboxed" : "") + ") ---\n";
  return text;
}

// Streams output as progress (docs/ARCHITECTURE.md#progress-and-cancellation: $/progress or
// notifications/progress; nothing when the client gave no token).
exec::OutputSink progress_sink(Context& ctx) {
  return
      [&ctx](std::string_view text, std::uint64_t total) { ctx.progress.report(text, static_cast<double>(total), 0); };
}

// The client's environment variables: a name is not empty and holds no '=' (execve(2) would read the rest as
// the value) and no NUL, a value no NUL (C strings end there). The permission gate judged them as `env
// NAME=value` words before the command.
Result<std::vector<std::pair<std::string, std::string>>> environment(const std::map<std::string, std::string>& vars,
                                                                     std::string_view op) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& [name, v] : vars) {
    if (auto st = exec::check_client_variable(name, v); !st) {
      Error e = std::move(st).error();
      e.message = std::string(op) + ": " + e.message;
      return e;
    }
    env.emplace_back(name, v);
  }
  return env;
}

// The working directory: inside the workspace, symlinks resolved.
Result<std::string> working_directory(Context& ctx, const std::string& cwd) {
  const ConfinedRoot& root = ctx.workspace.root();
  auto rel = root.relative(cwd);
  if (!rel) return std::move(rel).error();
  std::error_code ec;
  const auto real = std::filesystem::canonical(root.absolute(*rel), ec);
  if (ec) return make_error(error_code::kNotFound, "run_command: cwd '" + cwd + "' does not exist in the workspace");
  auto real_rel = root.relative(real.string());
  if (!real_rel)
    return make_error(error_code::kOutsideWorkspace, "run_command: cwd '" + cwd + "' leads outside the workspace (to " +
                                                         real.string() + "); commands run inside it");
  return real.string();
}

Result<json> run(Context& ctx, exec::RunParams&& p) {
  exec::Service& service = ctx.workspace.exec();
  const bool has_command = p.command.has_value(), has_argv = p.argv.has_value();
  if (has_command == has_argv)
    return make_error(error_code::kInvalidParams,
                      "run_command: give either command (a shell command line) or argv (a program and its arguments), "
                      "not both");
  exec::Spec spec;
  std::string command_line;
  if (has_command) {
    command_line = *p.command;
    spec.argv = {std::string(exec::kCommandShell), "-c", command_line};
  } else {
    spec.argv = std::move(*p.argv);
    command_line = exec::shell_join(spec.argv);
  }
  auto cwd = working_directory(ctx, p.cwd);
  if (!cwd) return std::move(cwd).error();
  spec.cwd = std::move(*cwd);
  auto env = environment(p.env, "run_command");
  if (!env) return std::move(env).error();
  spec.env = std::move(*env);
  const bool background = p.background;
  read_common(ctx, p, spec, background ? milliseconds(0) : milliseconds(120000));
  spec.sandbox = service.settings().sandbox;
  spec.network = service.settings().network;
  if (background) {
    auto job = service.start(std::move(spec), command_line);
    if (!job) return make_error(job.error().code, "run_command: " + job.error().message, job.error().data);
    json r = job_json(*job);
    r["note"] = "started as " + job->id + "; job_output {\"id\": \"" + job->id + "\"} follows it, job_kill ends it";
    r.erase("command");
    r.erase("startedAtMs");
    return r;
  }
  // A command can run for minutes: the pool keeps a worker free for others.
  WorkerPool::Blocking waiting(ctx.workspace.workers());
  auto outcome = service.run(spec, ctx.cancel, progress_sink(ctx));
  if (!outcome)
    return make_error(outcome.error().code, "run_command: " + outcome.error().message, outcome.error().data);
  return run_result(*outcome, output_room(ctx, p.max_output_bytes.has_value()));
}

// A private temporary directory holding the snippet, removed afterwards.
class SnippetFile {
 public:
  ~SnippetFile() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  Status write(std::string_view code, std::string_view extension) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp == '/' ? tmp : "/tmp") + "/icotes-code-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return errno_error(errno, "mkdtemp", tmpl);
    dir_ = tmpl;
    path_ = dir_ + "/snippet" + std::string(extension);
    std::ofstream f(path_, std::ios::binary);
    f << code;
    f.close();
    if (!f) return make_error(error_code::kIoError, "run_code: cannot write " + path_);
    return ok_status();
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

Result<json> run_code(Context& ctx, exec::RunCodeParams&& p) {
  exec::Service& service = ctx.workspace.exec();
  const std::string& language = p.language;
  const auto interpreter = exec::interpreter_of(language);
  if (!interpreter) return make_error(error_code::kInvalidParams, "run_code: language must be python, node or bash");
  SnippetFile file;
  const std::string_view extension = language == "python" ? ".py" : language == "node" ? ".js" : ".sh";
  if (auto st = file.write(p.code, extension); !st) return std::move(st).error();
  exec::Spec spec;
  spec.argv = {*interpreter, file.path()};
  spec.cwd = ctx.workspace.root().path();
  spec.sandbox = true;
  spec.network = service.settings().network;
  spec.ro_binds = {file.path()};
  // Output as it comes (progress), and no .pyc beside the snippet.
  spec.env = {{"PYTHONUNBUFFERED", "1"}, {"PYTHONDONTWRITEBYTECODE", "1"}};
  read_common(ctx, p, spec, milliseconds(120000));
  // A command can run for minutes: the pool keeps a worker free for others.
  WorkerPool::Blocking waiting(ctx.workspace.workers());
  auto outcome = service.run(spec, ctx.cancel, progress_sink(ctx));
  if (!outcome) return make_error(outcome.error().code, "run_code: " + outcome.error().message, outcome.error().data);
  return run_result(*outcome, output_room(ctx, p.max_output_bytes.has_value()));
}

Result<json> job_output(Context& ctx, exec::JobOutputParams&& p) {
  std::optional<WorkerPool::Blocking> waiting;
  if (p.wait_ms > 0) waiting.emplace(ctx.workspace.workers());
  auto r = ctx.workspace.exec().output(
      p.id, p.stdout_offset, p.stderr_offset,
      // per stream: both fit the client's room
      std::min(p.max_bytes.value_or(std::size_t{65536}), output_room(ctx, p.max_bytes.has_value()) / 2),
      milliseconds(p.wait_ms));
  if (!r) return make_error(r.error().code, "job_output: " + r.error().message);
  json j = job_json(r->info);
  j["stdout"] = r->out.text;
  j["stderr"] = r->err.text;
  j["stdoutNextOffset"] = r->out.next_offset;
  j["stderrNextOffset"] = r->err.next_offset;
  j["stdoutDroppedBytes"] = r->out.dropped_bytes;
  j["stderrDroppedBytes"] = r->err.dropped_bytes;
  return j;
}

Result<json> job_kill(Context& ctx, exec::JobParams&& p) {
  auto r = ctx.workspace.exec().kill(p.id);
  if (!r) return make_error(r.error().code, "job_kill: " + r.error().message);
  return job_json(*r);
}

Result<json> job_list(Context& ctx, bind::NoParams&&) {
  json jobs = json::array();
  for (const auto& j : ctx.workspace.exec().list()) jobs.push_back(job_json(j));
  return json{{"jobs", std::move(jobs)}};
}

// What run_command runs, as the line a user would type for it: `command`
// as it is (run by /bin/sh -c), `argv` as the program and its arguments;
// the client's environment as `env NAME=value ...`, its stdin as a
// here-document (permission_gate.hpp).
std::vector<std::string> run_needs(const json& p) {
  std::vector<std::string> lines;
  const std::string env = permissions::env_words(p);
  const std::string input = permissions::stdin_heredoc(p);
  if (auto it = p.find("command"); it != p.end() && it->is_string()) {
    const std::string& line = it->get_ref<const std::string&>();
    if (!env.empty())
      lines.push_back(env + "sh -c " + exec::shell_quote(line) + input);
    else if (!input.empty())
      lines.push_back("{ " + line + "\n}" + input);  // the whole line reads it
    else
      lines.push_back(line);
  }
  if (auto it = p.find("argv"); it != p.end() && it->is_array()) {
    std::vector<std::string> words;
    for (const auto& w : *it)
      if (w.is_string()) words.push_back(w.get<std::string>());
    lines.push_back(env + permissions::program_line(words) + input);
  }
  return lines;
}

// What run_code runs: the interpreter's command line for the code.
std::vector<std::string> run_code_needs(const json& p) {
  const auto language = p.find("language"), code = p.find("code");
  if (language == p.end() || !language->is_string() || code == p.end() || !code->is_string()) return {};
  return {exec::code_command_line(language->get<std::string>(), code->get<std::string>()) +
          permissions::stdin_heredoc(p)};
}

}  // namespace

void register_exec_ops(Registry& r) {
  r.add<exec::RunParams>("exec/run", run, run_text);
  r.add<exec::RunCodeParams>("exec/runCode", run_code, run_text);
  r.add<exec::JobOutputParams>("exec/jobOutput", job_output);
  r.add<exec::JobParams>("exec/jobKill", job_kill);
  r.add<bind::NoParams>("exec/jobList", job_list);
  r.needs("exec/run", run_needs);
  r.needs("exec/runCode", run_code_needs);
  r.precheck("exec/run", [](const json& p) -> Status {
    auto env = environment(bind_params<exec::RunParams>(p).env, "run_command");
    if (!env) return std::move(env).error();
    return ok_status();
  });
}

}  // namespace icotes
