// icotes_bench_micro: Google Benchmark microbenchmarks of the hot paths a
// file read goes through (docs/ARCHITECTURE.md#hot-paths): serialising a reply that holds
// a 616 KB C header (icotes::write_json vs nlohmann::json::dump and
// RapidJSON's Writer), and
// FrameReader throughput for many small requests and for one large line.
//
//   icotes_bench_micro [--benchmark_filter=...]   (ICOTES_BENCH_FILE picks the text, default /usr/include/sqlite3.h)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "icotes/framing.hpp"
#include "icotes/json.hpp"
#include "icotes/permissions.hpp"

#if ICOTES_HAVE_RAPIDJSON
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#endif

namespace {

using icotes::json;

// The text of a real C header (sqlite3.h, 616 KB, from libsqlite3-dev); a
// generated C-like text of the same size when it is missing.
const std::string& header_text() {
  static const std::string text = [] {
    const char* env = std::getenv("ICOTES_BENCH_FILE");
    std::ifstream f(env ? env : "/usr/include/sqlite3.h", std::ios::binary);
    if (f) {
      std::ostringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
    std::string s;
    for (int i = 0; s.size() < 616357; ++i)
      s += "SQLITE_API int sqlite3_fn" + std::to_string(i) + "(sqlite3*, const char *zSql, \"quoted\"\t);\n";
    return s;
  }();
  return text;
}

// An MCP tools/call reply as icotes builds it for read_file.
json read_reply(const std::string& text) {
  json structured = {{"path", "sqlite3.h"},    {"startLine", 1},     {"endLine", 13000},
                     {"totalLines", 13000},    {"truncated", false}, {"sha256", std::string(64, 'a')},
                     {"encoding", "utf-8"},    {"binary", false},    {"size", text.size()},
                     {"mimeType", "text/x-c"}, {"source", "disk"}};
  json content = json::array({{{"type", "text"}, {"text", text}}, {{"type", "text"}, {"text", structured.dump()}}});
  return {{"content", std::move(content)}, {"structuredContent", std::move(structured)}};
}

void BM_WriteJson_Reply616K(benchmark::State& state) {
  const json reply = read_reply(header_text());
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    icotes::write_json(out, reply);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["out_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_WriteJson_Reply616K)->Unit(benchmark::kMicrosecond);

void BM_NlohmannDump_Reply616K(benchmark::State& state) {
  const json reply = read_reply(header_text());
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out = reply.dump();
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["out_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_NlohmannDump_Reply616K)->Unit(benchmark::kMicrosecond);

#if ICOTES_HAVE_RAPIDJSON
// RapidJSON's Writer, the fast well-kept writer icotes could use instead of
// its own: the same reply written from the same values (its best case: no
// DOM to build). If it came close to write_json, write_json would go.
void BM_RapidJsonWriter_Reply616K(benchmark::State& state) {
  const json reply = read_reply(header_text());
  const json& s = reply["structuredContent"];
  const std::string& text = reply["content"][0]["text"].get_ref<const std::string&>();
  const std::string& second = reply["content"][1]["text"].get_ref<const std::string&>();
  std::size_t bytes = 0;
  for (auto _ : state) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](const std::string& v) { w.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); };
    w.StartObject();
    w.Key("content");
    w.StartArray();
    for (const std::string* t : {&text, &second}) {
      w.StartObject();
      w.Key("type");
      w.String("text");
      w.Key("text");
      str(*t);
      w.EndObject();
    }
    w.EndArray();
    w.Key("structuredContent");
    w.StartObject();
    for (const auto& [key, value] : s.items()) {
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      if (value.is_string())
        str(value.get_ref<const std::string&>());
      else if (value.is_boolean())
        w.Bool(value.get<bool>());
      else
        w.Uint64(value.get<std::uint64_t>());
    }
    w.EndObject();
    w.EndObject();
    bytes = buf.GetSize();
    benchmark::DoNotOptimize(buf.GetString());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["out_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RapidJsonWriter_Reply616K)->Unit(benchmark::kMicrosecond);
#endif

void BM_AppendJsonString616K(benchmark::State& state) {
  const std::string& text = header_text();
  for (auto _ : state) {
    std::string out;
    icotes::append_json_string(out, text);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_AppendJsonString616K)->Unit(benchmark::kMicrosecond);

// Building the json value itself (copying the text into it) is part of a reply's cost too.
void BM_BuildReplyValue616K(benchmark::State& state) {
  const std::string& text = header_text();
  for (auto _ : state) {
    json reply = read_reply(text);
    benchmark::DoNotOptimize(&reply);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_BuildReplyValue616K)->Unit(benchmark::kMicrosecond);

// FrameReader: a stream of ~130-byte newline-delimited requests, fed in 64 KiB reads.
void BM_FrameReader_SmallLines(benchmark::State& state) {
  const std::string request =
      R"({"jsonrpc":"2.0","id":12345,"method":"tools/call","params":{"name":"get_file_info","arguments":{"path":"evp.h"}}})"
      "\n";
  std::string stream;
  while (stream.size() < (1u << 20)) stream += request;
  const std::size_t chunk = 64 * 1024;
  std::size_t messages = 0;
  const icotes::FrameReader::OnMessage on_message = [&](std::string&& body) {
    ++messages;
    benchmark::DoNotOptimize(body.data());
  };
  const icotes::FrameReader::OnError on_error = [](const icotes::FrameError&) {};
  for (auto _ : state) {
    icotes::FrameReader reader;
    for (std::size_t off = 0; off < stream.size(); off += chunk)
      reader.feed(std::string_view(stream).substr(off, chunk), on_message, on_error);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(messages));
}
BENCHMARK(BM_FrameReader_SmallLines)->Unit(benchmark::kMicrosecond);

// FrameReader: one large request line (a write_file of the 616 KB header,
// escaped), fed in 256 KiB reads as the stdio loop does.
void BM_FrameReader_LargeLine(benchmark::State& state) {
  std::string line =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"x.h","content":)";
  icotes::append_json_string(line, header_text());
  line += "}}}\n";
  const std::size_t chunk = 256 * 1024;
  const icotes::FrameReader::OnMessage on_message = [](std::string&& body) { benchmark::DoNotOptimize(body.data()); };
  const icotes::FrameReader::OnError on_error = [](const icotes::FrameError&) {};
  for (auto _ : state) {
    icotes::FrameReader reader;
    for (std::size_t off = 0; off < line.size(); off += chunk)
      reader.feed(std::string_view(line).substr(off, chunk), on_message, on_error);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * line.size()));
}
BENCHMARK(BM_FrameReader_LargeLine)->Unit(benchmark::kMicrosecond);

// FrameReader with LSP Content-Length framing, same small requests.
void BM_FrameReader_ContentLength(benchmark::State& state) {
  const std::string body = R"({"jsonrpc":"2.0","id":12345,"method":"icotes/files/stat","params":{"path":"evp.h"}})";
  const std::string frame = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string stream;
  while (stream.size() < (1u << 20)) stream += frame;
  const std::size_t chunk = 64 * 1024;
  const icotes::FrameReader::OnMessage on_message = [](std::string&& b) { benchmark::DoNotOptimize(b.data()); };
  const icotes::FrameReader::OnError on_error = [](const icotes::FrameError&) {};
  for (auto _ : state) {
    icotes::FrameReader reader;
    for (std::size_t off = 0; off < stream.size(); off += chunk)
      reader.feed(std::string_view(stream).substr(off, chunk), on_message, on_error);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_FrameReader_ContentLength)->Unit(benchmark::kMicrosecond);

// Parsing a small request with nlohmann (every request goes through it).
void BM_ParseSmallRequest(benchmark::State& state) {
  const std::string request =
      R"({"jsonrpc":"2.0","id":12345,"method":"tools/call","params":{"name":"get_file_info","arguments":{"path":"evp.h"}}})";
  for (auto _ : state) {
    json j = json::parse(request);
    benchmark::DoNotOptimize(&j);
  }
}
BENCHMARK(BM_ParseSmallRequest);

// Permission decisions (issue 7: a cache hit costs <= 1 us). A write under a
// remembered directory grant, with rules and grants around it as a real
// workspace has them; and a read decided by the mode (the common case).
struct PermissionFixture {
  icotes::permissions::Settings settings;
  icotes::permissions::Cache session, saved;
  PermissionFixture() {
    using namespace icotes::permissions;
    for (const char* r : {"Read(.env)", "Edit(vendor/**)", "Read(**/*.pem)"})
      settings.deny.push_back(*Rule::parse(r, Answer::Deny));
    for (const char* r : {"Bash(make test)", "Bash(git diff:*)", "Edit(docs/*.md)"})
      settings.allow.push_back(*Rule::parse(r, Answer::Allow));
    for (int i = 0; i < 200; ++i)
      saved.put(
          {icotes::OperationKind::EditFile, Scope::Specific, "lib/file" + std::to_string(i) + ".c", Answer::Allow});
    saved.put({icotes::OperationKind::WriteFile, Scope::Directory, "src", Answer::Allow});
  }
};

// Arg 0: a write under the saved directory grant; arg 1: a read decided by the mode.
void BM_PermissionDecide(benchmark::State& state) {
  PermissionFixture f;
  const auto kind = state.range(0) == 0 ? icotes::OperationKind::WriteFile : icotes::OperationKind::ReadFile;
  const std::vector<icotes::permissions::Need> needs = {{kind, "src/net/http/client.c", false, std::nullopt}};
  for (auto _ : state) {
    auto d = icotes::permissions::decide(needs, f.settings, f.session, &f.saved, nullptr);
    benchmark::DoNotOptimize(&d);
  }
  state.SetLabel(state.range(0) == 0 ? "write, saved grant" : "read, mode default");
}
BENCHMARK(BM_PermissionDecide)->Arg(0)->Arg(1);

void BM_PermissionCacheLookup(benchmark::State& state) {
  PermissionFixture f;
  const icotes::permissions::Need need{icotes::OperationKind::WriteFile, "src/net/http/client.c", false, std::nullopt};
  for (auto _ : state) {
    auto g = f.saved.lookup(need);
    benchmark::DoNotOptimize(&g);
  }
}
BENCHMARK(BM_PermissionCacheLookup);

}  // namespace

BENCHMARK_MAIN();
