// icotes_bench_agent: what the provider layer and the agent loop cost on
// top of the model and the tools (issue 18, "Speed and memory"; results in
// bench/results/agent.md, written by bench/agent.sh). Google Benchmark; every
// server is cpp-httplib on 127.0.0.1, every file in a temporary directory.
//
//   Stream/raw/N, Stream/openai/N   one Chat Completions stream of N text
//       deltas (OpenAI's wire format, as Ollama or llama-server send it) from
//       a loopback server: read as bytes by a bare cpp-httplib client (the raw
//       HTTP stream), and through the `openai` provider (SSE parsing, chunk
//       decoding, the sink). Counters: wall and CPU microseconds per delta.
//   Stream/agent/N   the same stream as one agent::run turn: the loop
//       forwarding each delta and its progress event rendered to JSON.
//   Turn/<persist>/T   one agent::run of T turns (T-1 tool calls, then an
//       answer) with a model that answers at once and a tool that returns a
//       2 KB result at once: the loop's own cost per turn, with the 41 MCP
//       tools' specs in every request, the contract's progress events
//       rendered to JSON, and each message persisted (none, or the SQLite
//       Store as agent/run does).
//   OpsTurn/T   agent/run through the operation registry, the permission
//       gate and the mock provider, T-1 get_file_info calls; OpsTool is
//       get_file_info alone through the registry, to subtract.
//   Resume/load, Resume/open_load   a saved 100-turn conversation read back
//       (Store::load), and with the store opened first (a restarted daemon).
//   Resume/run   agent/resume of that conversation through the registry, up
//       to and including one model call (mock) that answers.
//   Memory/idle/N   heap and RSS per idle conversation: N conversations of
//       10 turns saved through a Store that stays open (the daemon's state
//       between runs); and the heap a loaded 100-turn history takes.
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "icotes/agent.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/model_text.hpp"
#include "icotes/permission_gate.hpp"
#include "icotes/provider.hpp"
#include "icotes/workspace.hpp"

namespace {

using icotes::json;
namespace agent = icotes::agent;
namespace providers = icotes::providers;
using Clock = std::chrono::steady_clock;

// --- helpers ---------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/icotes-bench-agent-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = std::filesystem::canonical(tmpl).string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// Bytes of the heap in use (glibc malloc; the bench is not linked with jemalloc).
double heap_bytes() { return static_cast<double>(mallinfo2().uordblks + mallinfo2().hblkhd); }

double rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// A tool result of about `bytes` bytes, as read_file renders a page.
std::string tool_text(std::size_t bytes) {
  std::string s;
  for (int i = 1; s.size() < bytes; ++i)
    s += std::to_string(i) + "\tint f" + std::to_string(i) + "(int x) { return x + 1; }\n";
  return s;
}

// --- 1. streaming ------------------------------------------------------------------------

// A Chat Completions server: the request's "model" is "n<N>", the number of
// text deltas to stream, each event its own HTTP chunk, as a model server
// flushes them.
class StreamServer {
 public:
  StreamServer() {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      const json body = json::parse(req.body, nullptr, false);
      const std::string model = body.is_object() ? body.value("model", std::string("n1")) : "n1";
      const auto events = std::make_shared<std::vector<std::string>>(events_for(std::stoi(model.substr(1))));
      res.set_chunked_content_provider("text/event-stream", [events](std::size_t, httplib::DataSink& sink) {
        for (const auto& e : *events)
          if (!sink.write(e.data(), e.size())) return false;
        sink.done();
        return true;
      });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~StreamServer() {
    server_.stop();
    thread_.join();
  }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static std::vector<std::string> events_for(int n) {
    const std::string head =
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1765000000,"model":"bench",)";
    std::vector<std::string> out;
    out.push_back("data: " + head +
                  R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})" +
                  "\n\n");
    for (int i = 0; i < n; ++i) {
      // A token's worth of text, as models stream it.
      out.push_back("data: " + head + R"("choices":[{"index":0,"delta":{"content":" word)" + std::to_string(i % 10) +
                    R"("},"finish_reason":null}]})" + "\n\n");
    }
    out.push_back("data: " + head + R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})" + "\n\n");
    out.push_back("data: " + head + R"("choices":[],"usage":{"prompt_tokens":10,"completion_tokens":)" +
                  std::to_string(n) + R"(,"total_tokens":)" + std::to_string(n + 10) + "}}\n\n");
    out.push_back("data: [DONE]\n\n");
    return out;
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

StreamServer& stream_server() {
  static StreamServer s;
  return s;
}

class CountingSink final : public providers::ChatSink {
 public:
  void on_text(std::string_view delta) override {
    ++deltas;
    bytes += delta.size();
  }
  std::size_t deltas = 0;
  std::size_t bytes = 0;
};

void report_per_delta(benchmark::State& state, double wall_us, double cpu_us, std::size_t deltas) {
  state.counters["wall_us_per_delta"] = wall_us / static_cast<double>(deltas);
  state.counters["cpu_us_per_delta"] = cpu_us / static_cast<double>(deltas);
}

// The raw HTTP stream: the same request, the body's bytes counted and dropped.
void BM_StreamRaw(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = json{{"model", "n" + std::to_string(n)},
                                {"stream", true},
                                {"stream_options", {{"include_usage", true}}},
                                {"messages", {{{"role", "user"}, {"content", "Say many words."}}}}}
                               .dump();
  double wall = 0, cpu = 0;
  std::size_t deltas = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_us();
    httplib::Client cli(stream_server().origin());
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = body;
    req.headers.emplace("Content-Type", "application/json");
    req.headers.emplace("Accept", "text/event-stream");
    std::size_t bytes = 0;
    req.content_receiver = [&](const char*, std::size_t len, std::uint64_t, std::uint64_t) {
      bytes += len;
      return true;
    };
    auto res = cli.send(req);
    if (!res || res->status != 200 || bytes == 0) state.SkipWithError("the raw request failed");
    benchmark::DoNotOptimize(bytes);
    cpu += thread_cpu_us() - c0;
    wall += us_between(t0, Clock::now());
    deltas += static_cast<std::size_t>(n);
  }
  report_per_delta(state, wall, cpu, deltas);
}

// The same stream through the openai provider.
void BM_StreamOpenAI(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  providers::ProviderConfig config;
  config.name = "bench";
  config.kind = "openai";
  config.base_url = stream_server().origin() + "/v1";
  config.model = "n" + std::to_string(n);
  config.max_retries = 0;
  auto provider = providers::make_provider(config);
  if (!provider) {
    state.SkipWithError(provider.error().message.c_str());
    return;
  }
  providers::ChatRequest request;
  request.messages.push_back({"user", "Say many words.", {}, {}});
  icotes::CancellationToken cancel;
  double wall = 0, cpu = 0;
  std::size_t deltas = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_us();
    CountingSink sink;
    auto r = (*provider)->chat(request, sink, cancel);
    if (!r || sink.deltas != static_cast<std::size_t>(n)) {
      state.SkipWithError(r ? "wrong number of deltas" : r.error().message.c_str());
      break;
    }
    cpu += thread_cpu_us() - c0;
    wall += us_between(t0, Clock::now());
    deltas += sink.deltas;
  }
  report_per_delta(state, wall, cpu, deltas);
}

BENCHMARK(BM_StreamRaw)
    ->Name("Stream/raw")
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StreamOpenAI)
    ->Name("Stream/openai")
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- 2. an agent turn ----------------------------------------------------------------------

// A model that answers at once: a tool call per turn, then text.
class InstantModel final : public providers::Provider {
 public:
  InstantModel() : Provider(make_config()) {}
  void start(int turns) { left_ = turns; }
  icotes::Result<providers::ChatResult> chat(const providers::ChatRequest& request, providers::ChatSink& sink,
                                             const icotes::CancellationToken&) override {
    benchmark::DoNotOptimize(request.messages.data());
    providers::ChatResult r;
    r.model = "instant";
    r.usage.input_tokens = 1000;
    r.usage.output_tokens = 20;
    if (--left_ > 0) {
      r.text = "Reading the next file.";
      sink.on_text(r.text);
      providers::ToolCall call{"call_" + std::to_string(left_), "read_file",
                               R"({"path":"src/file)" + std::to_string(left_) + R"(.c","limit":60})"};
      sink.on_tool_call(call);
      r.tool_calls.push_back(std::move(call));
      r.stop = providers::StopReason::kToolUse;
      r.stop_raw = "tool_use";
    } else {
      r.text = "Done: every file read.";
      sink.on_text(r.text);
      r.stop_raw = "end_turn";
    }
    sink.on_usage(r.usage);
    return r;
  }

 private:
  static providers::ProviderConfig make_config() {
    providers::ProviderConfig c;
    c.name = "instant";
    c.kind = "mock";
    c.model = "instant";
    return c;
  }
  int left_ = 0;
};

// The registry's MCP tools as the agent offers them; every call returns a
// 2 KB page at once.
class InstantTools final : public agent::ToolRunner {
 public:
  InstantTools() : text_(tool_text(2048)) {
    for (const icotes::Operation* op : icotes::builtin_registry().all()) {
      const std::string_view group = std::string_view(op->id).substr(0, op->id.find('/'));
      if (!op->mcp_tool || group == "events" || group == "agent" || group == "test") continue;
      specs_.push_back({op->mcp_name, op->description, icotes::mcp::listed_input_schema(*op)});
    }
  }
  std::vector<providers::ToolSpec> tools() const override { return specs_; }
  agent::ToolOutcome run(const providers::ToolCall& call, const icotes::CancellationToken&) override {
    return {true, text_, call.name + " src/file.c: 60 lines"};
  }
  std::size_t count() const { return specs_.size(); }

 private:
  std::string text_;
  std::vector<providers::ToolSpec> specs_;
};

// The contract's progress events, rendered as agent/run renders them for a
// client's partial results (the JSON text of each, then dropped).
class JsonEvents final : public agent::EventSink {
 public:
  void on_turn(int turn) override { emit({{"type", "turn"}, {"turn", turn}}); }
  void on_text(std::string_view d) override { emit({{"type", "text"}, {"text", std::string(d)}}); }
  void on_tool_call(const providers::ToolCall& c, const std::string& s) override {
    emit({{"type", "tool_call"}, {"id", c.id}, {"name", c.name}, {"arguments", c.arguments}, {"summary", s}});
  }
  void on_tool_result(const providers::ToolCall& c, const agent::ToolOutcome& o) override {
    emit({{"type", "tool_result"}, {"id", c.id}, {"name", c.name}, {"ok", o.ok}, {"summary", o.summary}});
  }
  void on_usage(const providers::Usage& u) override {
    emit({{"type", "usage"}, {"inputTokens", u.input_tokens}, {"outputTokens", u.output_tokens}});
  }
  std::size_t bytes = 0;

 private:
  void emit(json e) { bytes += json::array({std::move(e)}).dump().size(); }
};

// persist: 0 none, 1 the SQLite Store (a new conversation per run).
void BM_Turn(benchmark::State& state) {
  const bool store = state.range(0) != 0;
  const int turns = static_cast<int>(state.range(1));
  TempDir dir;
  std::unique_ptr<agent::Store> db;
  if (store) {
    auto opened = agent::Store::open(dir / "agent.sqlite");
    if (!opened) {
      state.SkipWithError(opened.error().message.c_str());
      return;
    }
    db = std::move(*opened);
  }
  InstantModel model;
  InstantTools tools;
  icotes::CancellationToken cancel;
  agent::RunOptions options;
  options.max_turns = turns;
  options.max_tokens = 1000000000;
  std::size_t total_turns = 0;
  for (auto _ : state) {
    JsonEvents events;
    std::string id;
    if (db) {
      auto created = db->create("Read every file.");
      if (!created) {
        state.SkipWithError(created.error().message.c_str());
        break;
      }
      id = *created;
    }
    model.start(turns);
    agent::Persist persist = [&](const providers::Message& m) -> icotes::Status {
      if (db) return db->append(id, m);
      benchmark::DoNotOptimize(m.content.data());
      return icotes::ok_status();
    };
    auto r = agent::run(model, tools, {}, "Read every file.", options, events, persist, cancel);
    if (r.stop != agent::Stop::kEndTurn || r.turns != turns) {
      state.SkipWithError(("the run stopped early: " + r.error).c_str());
      break;
    }
    total_turns += static_cast<std::size_t>(r.turns);
  }
  state.counters["us_per_turn"] =
      benchmark::Counter(static_cast<double>(total_turns), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["tools"] = static_cast<double>(tools.count());
  // kIsRate|kInvert gives seconds per turn; shown in µs by the report script.
}

// The same stream as one agent turn: the openai provider, the loop
// forwarding each delta, and the delta's progress event rendered to JSON as
// agent/run sends it to a client that asked for partial results.
void BM_StreamAgent(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  providers::ProviderConfig config;
  config.name = "bench";
  config.kind = "openai";
  config.base_url = stream_server().origin() + "/v1";
  config.model = "n" + std::to_string(n);
  config.max_retries = 0;
  auto provider = providers::make_provider(config);
  if (!provider) {
    state.SkipWithError(provider.error().message.c_str());
    return;
  }
  InstantTools tools;
  icotes::CancellationToken cancel;
  agent::RunOptions options;
  options.max_turns = 1;
  const agent::Persist persist = [](const providers::Message&) { return icotes::ok_status(); };
  double wall = 0, cpu = 0;
  std::size_t deltas = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_us();
    JsonEvents events;
    auto r = agent::run(**provider, tools, {}, "Say many words.", options, events, persist, cancel);
    if (r.stop != agent::Stop::kEndTurn) {
      state.SkipWithError(("the run failed: " + r.error).c_str());
      break;
    }
    cpu += thread_cpu_us() - c0;
    wall += us_between(t0, Clock::now());
    deltas += static_cast<std::size_t>(n);
  }
  report_per_delta(state, wall, cpu, deltas);
}

BENCHMARK(BM_StreamAgent)
    ->Name("Stream/agent")
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_Turn)
    ->Name("Turn")
    ->ArgNames({"store", "turns"})
    ->Args({0, 20})
    ->Args({1, 20})
    ->Args({1, 100})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- 3. through the registry: agent/run, get_file_info --------------------------------------

// A workspace with files, the user's config naming a mock provider, a
// client whose questions are answered "allow" (get_file_info asks none).
class OpsFixture {
 public:
  OpsFixture() {
    ::setenv("XDG_CONFIG_HOME", config_.path().c_str(), 1);
    ::setenv("XDG_STATE_HOME", state_.path().c_str(), 1);
    write_file(config_ / "icotes/config.toml",
               "[providers.mock]\nkind = \"mock\"\nscript = \"script.json\"\nmodel = \"m\"\n"
               "[agent]\nprovider = \"mock\"\n");
    for (int i = 0; i < 10; ++i) write_file(root_ / ("src/file" + std::to_string(i) + ".c"), tool_text(2048));
    auto ws = icotes::Workspace::open(root_.path(), 2);
    if (!ws) throw std::runtime_error(ws.error().message);
    ws_ = std::move(*ws);
    client_ = std::make_shared<icotes::permissions::ClientState>();
    client_->name = "bench";
  }
  ~OpsFixture() { ws_.reset(); }
  // The mock's script: turns-1 get_file_info calls, then an answer.
  void script(int turns) {
    json responses = json::array();
    for (int i = 1; i < turns; ++i) {
      responses.push_back({{"text", "Looking."},
                           {"tool_calls",
                            {{{"id", "call_" + std::to_string(i)},
                              {"name", "get_file_info"},
                              {"arguments", {{"path", "src/file" + std::to_string(i % 10) + ".c"}}}}}},
                           {"usage", {{"input_tokens", 1000}, {"output_tokens", 20}}}});
    }
    responses.push_back({{"text", "Done."}, {"usage", {{"input_tokens", 1000}, {"output_tokens", 5}}}});
    write_file(config_ / "icotes/script.json", responses.dump());
  }
  icotes::Result<json> invoke(const std::string& id, const json& params, icotes::Progress& progress) {
    const icotes::Operation* op = icotes::builtin_registry().find(id);
    if (!op) return icotes::make_error(icotes::error_code::kInvalidParams, "no operation " + id);
    icotes::Context ctx{*ws_, token_, progress, nullptr};
    ctx.client = client_;
    return icotes::builtin_registry().invoke(*op, ctx, params);
  }

 private:
  TempDir root_, config_, state_;
  std::unique_ptr<icotes::Workspace> ws_;
  std::shared_ptr<icotes::permissions::ClientState> client_;
  icotes::CancellationToken token_;
};

// Partial results wanted, as an editor asks: every event rendered.
class PartialProgress final : public icotes::Progress {
 public:
  void report(std::string_view, double, double) override {}
  bool wants_partial() const override { return true; }
  void partial(const json& items) override { bytes += items.dump().size(); }
  std::size_t bytes = 0;
};

void BM_OpsTurn(benchmark::State& state) {
  const int turns = static_cast<int>(state.range(0));
  OpsFixture fx;
  fx.script(turns);
  std::size_t total_turns = 0;
  for (auto _ : state) {
    PartialProgress progress;
    auto r = fx.invoke("agent/run", {{"prompt", "Look at the files."}, {"maxTurns", turns}}, progress);
    if (!r || (*r)["turns"] != turns || (*r)["stop"] != "end_turn") {
      state.SkipWithError(r ? r->dump().c_str() : r.error().message.c_str());
      break;
    }
    total_turns += static_cast<std::size_t>(turns);
  }
  state.counters["us_per_turn"] =
      benchmark::Counter(static_cast<double>(total_turns), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_OpsTool(benchmark::State& state) {
  OpsFixture fx;
  for (auto _ : state) {
    icotes::NullProgress progress;
    auto r = fx.invoke("files/stat", {{"path", "src/file1.c"}}, progress);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->size());
  }
}

BENCHMARK(BM_OpsTurn)->Name("OpsTurn")->Arg(20)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OpsTool)->Name("OpsTool/get_file_info")->UseRealTime()->Unit(benchmark::kMicrosecond);

// --- 4. resume ---------------------------------------------------------------------------

// A conversation of `turns` model calls: the prompt, then per turn an
// assistant message (text and a tool call) and a 2 KB tool result; the
// last turn answers.
std::string save_conversation(agent::Store& db, int turns) {
  auto id = db.create("Read every file and summarise them.");
  if (!id) throw std::runtime_error(id.error().message);
  const std::string page = tool_text(2048);
  auto must = [](icotes::Status s) {
    if (!s) throw std::runtime_error(s.error().message);
  };
  must(db.append(*id, {"user", "Read every file and summarise them.", {}, {}}));
  for (int i = 1; i < turns; ++i) {
    const std::string cid = "call_" + std::to_string(i);
    must(db.append(*id, {"assistant",
                         "Reading the next file.",
                         {{cid, "read_file", R"({"path":"src/file)" + std::to_string(i) + R"(.c"})"}},
                         {}}));
    must(db.append(*id, {"tool", page, {}, cid}));
  }
  must(db.append(*id, {"assistant", "Every file read; here is the summary.", {}, {}}));
  return *id;
}

void BM_ResumeLoad(benchmark::State& state) {
  TempDir dir;
  auto db = agent::Store::open(dir / "agent.sqlite");
  if (!db) {
    state.SkipWithError(db.error().message.c_str());
    return;
  }
  const std::string id = save_conversation(**db, 100);
  std::size_t messages = 0;
  for (auto _ : state) {
    auto loaded = (*db)->load(id);
    if (!loaded) {
      state.SkipWithError(loaded.error().message.c_str());
      break;
    }
    messages = loaded->size();
  }
  state.counters["messages"] = static_cast<double>(messages);
}

void BM_ResumeOpenLoad(benchmark::State& state) {
  TempDir dir;
  std::string id;
  {
    auto db = agent::Store::open(dir / "agent.sqlite");
    if (!db) {
      state.SkipWithError(db.error().message.c_str());
      return;
    }
    id = save_conversation(**db, 100);
  }
  for (auto _ : state) {
    auto db = agent::Store::open(dir / "agent.sqlite");
    auto loaded = db ? (*db)->load(id) : icotes::Result<std::vector<providers::Message>>(db.error());
    if (!loaded) {
      state.SkipWithError(loaded.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(loaded->size());
  }
}

// agent/resume of a saved 100-turn conversation through the registry: the
// store (kept open by the process), the load, one model call, the appends.
void BM_ResumeRun(benchmark::State& state) {
  OpsFixture fx;
  fx.script(100);
  PartialProgress first;
  auto r = fx.invoke("agent/run", {{"prompt", "Look at the files."}, {"maxTurns", 100}}, first);
  if (!r || (*r)["turns"] != 100) {
    state.SkipWithError(r ? r->dump().c_str() : r.error().message.c_str());
    return;
  }
  const std::string id = (*r)["conversation"];
  fx.script(1);
  for (auto _ : state) {
    PartialProgress progress;
    auto resumed = fx.invoke("agent/resume", {{"id", id}, {"prompt", "And now?"}}, progress);
    if (!resumed || (*resumed)["stop"] != "end_turn") {
      state.SkipWithError(resumed ? resumed->dump().c_str() : resumed.error().message.c_str());
      break;
    }
  }
}

BENCHMARK(BM_ResumeLoad)->Name("Resume/load/100_turns")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResumeOpenLoad)->Name("Resume/open_load/100_turns")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResumeRun)->Name("Resume/agent_resume/100_turns")->UseRealTime()->Unit(benchmark::kMillisecond);

// --- 5. memory -------------------------------------------------------------------------------

// range(0) conversations: the heap per conversation falling as their number
// grows says the cost is the store's bounded page cache, not per conversation.
void BM_MemoryIdle(benchmark::State& state) {
  const int conversations = static_cast<int>(state.range(0));
  for (auto _ : state) {
    TempDir dir;
    malloc_trim(0);
    const double heap0 = heap_bytes();
    const double rss0 = rss_bytes();
    auto db = agent::Store::open(dir / "agent.sqlite");
    if (!db) {
      state.SkipWithError(db.error().message.c_str());
      break;
    }
    for (int i = 0; i < conversations; ++i) save_conversation(**db, 10);
    malloc_trim(0);
    const double heap1 = heap_bytes();
    const double rss1 = rss_bytes();
    state.counters["heap_bytes_per_idle_conversation"] = (heap1 - heap0) / conversations;
    state.counters["rss_bytes_per_idle_conversation"] = (rss1 - rss0) / conversations;
    state.counters["store_heap_bytes"] = heap1 - heap0;
    // A 100-turn history loaded (what a run holds while it works).
    const std::string big = save_conversation(**db, 100);
    malloc_trim(0);
    const double heap2 = heap_bytes();
    {
      auto loaded = (*db)->load(big);
      if (!loaded) {
        state.SkipWithError(loaded.error().message.c_str());
        break;
      }
      state.counters["heap_bytes_loaded_100_turns"] = heap_bytes() - heap2;
    }
  }
}

BENCHMARK(BM_MemoryIdle)
    ->Name("Memory/idle")
    ->Arg(500)
    ->Arg(2000)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
