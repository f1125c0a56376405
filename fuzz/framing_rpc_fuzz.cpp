// libFuzzer target: arbitrary bytes through the framing reader and the
// JSON-RPC connection (in-memory transport, a handler that answers every
// request), and through the patch parser/applier and path confinement.
//
// Oracles besides the sanitizers: every frame the server writes is valid
// JSON; diff → parse → apply gives the new text back; a confined relative
// path never has "..", "." or empty components.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "icotes/confine.hpp"
#include "icotes/files.hpp"
#include "icotes/framing.hpp"
#include "icotes/rpc.hpp"

namespace {

using icotes::json;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "oracle failed: %s\n", what);
  std::abort();
}

// Checks each frame as it is written: headers (when LSP) then one JSON value.
class CheckingTransport final : public icotes::Transport {
 public:
  bool write(std::string_view bytes) override {
    std::lock_guard lock(mutex_);
    std::string_view body = bytes;
    if (body.substr(0, 16) == "Content-Length: ") {
      const std::size_t sep = body.find("\r\n\r\n");
      if (sep == std::string_view::npos) fail("LSP frame without header end");
      const std::size_t len = std::strtoul(std::string(body.substr(16, sep - 16)).c_str(), nullptr, 10);
      body.remove_prefix(sep + 4);
      if (body.size() != len) fail("Content-Length does not match the body");
    } else {
      if (body.empty() || body.back() != '\n') fail("newline frame without '\\n'");
      body.remove_suffix(1);
      if (body.find('\n') != std::string_view::npos) fail("newline frame with an inner '\\n'");
    }
    if (!json::accept(body)) fail("server wrote invalid JSON");
    return true;
  }
  void close() override {}

 private:
  std::mutex mutex_;
};

class EchoHandler final : public icotes::MessageHandler {
 public:
  void on_request(icotes::Request request) override {
    if (request.method() == "fail") {
      request.fail(icotes::make_error(icotes::error_code::kInvalidParams, "failing as asked", request.params()));
    } else if (request.method() == "drop") {
      // Left unanswered: the Request's destructor answers -32603.
    } else {
      request.reply(json{{"method", request.method()}, {"params", request.params()}});
    }
  }
  void on_notification(const std::string&, const json&) override {}
};

void fuzz_connection(std::string_view data) {
  auto transport = std::make_shared<CheckingTransport>();
  // A small frame limit so the refusal paths run too.
  auto conn = std::make_shared<icotes::Connection>(transport, 4096);
  EchoHandler handler;
  conn->set_handler(&handler);
  conn->call("workspace/applyEdit", json::object(), [](icotes::Result<json>) {});
  // Split the input in chunks whose sizes come from the input itself.
  std::size_t i = 0;
  std::size_t step = data.empty() ? 1 : 1 + static_cast<unsigned char>(data[0]) % 97;
  while (i < data.size()) {
    const std::size_t n = std::min(step, data.size() - i);
    conn->on_bytes(data.substr(i, n));
    i += n;
    step = 1 + (step * 31 + n) % 211;
  }
  conn->on_eof();
}

void fuzz_frame_reader(std::string_view data) {
  icotes::FrameReader reader(1024);
  std::size_t total = 0;
  reader.feed(
      data, [&](std::string&& body) { total += body.size(); }, [](const icotes::FrameError&) {});
  if (reader.buffered() > data.size()) fail("FrameReader buffered more than it was fed");
  if (total > data.size()) fail("FrameReader produced more bytes than it was fed");
}

// EnvelopeScanner (what the launcher reads of each message): the same
// envelopes however the stream is cut, and never more than it was fed.
void fuzz_envelope_scanner(std::string_view data) {
  const auto scan = [&](std::size_t step) {
    icotes::EnvelopeScanner scanner;
    std::string seen;
    const auto on = [&](const icotes::Envelope& e) {
      seen += e.has_method ? 'm' : '-';
      seen += e.has_id ? 'i' : '-';
      seen += e.has_result_or_error ? 'r' : '-';
      seen += e.method + '\0' + e.id.dump() + '\0' + e.params.dump() + '\n';
    };
    for (std::size_t i = 0; i < data.size(); i += step) scanner.feed(data.substr(i, step), on);
    // The filler ends the frame in progress, whatever length its header
    // declared (a Content-Length of 99999999999 needs that many bytes, so
    // they are counted, not built), and is the spaces of a body or one
    // newline.
    const icotes::FrameFiller filler = scanner.frame_filler();
    if (!(filler.text.empty() || (filler.text == "\n" && filler.spaces == 0)))
      fail("EnvelopeScanner's filler holds more than spaces or one newline");
    if (filler.spaces <= (std::uint64_t{64} << 10)) {
      scanner.feed(filler.text + std::string(static_cast<std::size_t>(filler.spaces), ' '),
                   [](const icotes::Envelope&) {});
      if (!scanner.frame_filler().empty()) fail("EnvelopeScanner's filler does not end the frame");
    }
    return seen;
  };
  const std::size_t step = data.empty() ? 1 : 1 + static_cast<unsigned char>(data[data.size() - 1]) % 13;
  if (scan(data.size() + 1) != scan(step)) fail("EnvelopeScanner's envelopes depend on how the stream is cut");
}

void fuzz_patch(std::string_view data) {
  auto parsed = icotes::files::parse_patch(data);
  if (parsed) {
    for (const auto& fp : *parsed) {
      (void)icotes::files::apply_hunks("", fp, "f");
      (void)icotes::files::apply_hunks(data, fp, "f");
      // The hunks' own old side: applying to it must not crash either.
      std::string old_text;
      for (const auto& h : fp.hunks) {
        for (const auto& l : h.lines) {
          if (!l.empty() && (l[0] == ' ' || l[0] == '-')) old_text.append(l, 1).push_back('\n');
        }
      }
      (void)icotes::files::apply_hunks(old_text, fp, "f");
    }
  }
  // Round trip: the first part of the input against the rest.
  if (data.size() > 4096) return;  // keeps the quadratic diff cheap per input
  const std::size_t cut = data.empty() ? 0 : static_cast<unsigned char>(data[0]) * data.size() / 256;
  const std::string_view a = data.substr(0, cut);
  const std::string_view b = data.substr(cut);
  if (a == b) return;
  const std::string d = icotes::files::unified_diff(a, b, "f.txt");
  auto rt = icotes::files::parse_patch(d);
  if (!rt || rt->size() != 1) fail("parse_patch refused a diff unified_diff wrote");
  auto applied = icotes::files::apply_hunks(a, (*rt)[0], "f.txt");
  if (!applied) fail("a diff does not apply to its own old text");
  if (*applied != b) fail("diff round trip changed the text");
}

const icotes::ConfinedRoot& fuzz_root() {
  static const icotes::ConfinedRoot root = [] {
    auto r = icotes::ConfinedRoot::open("/tmp");
    if (!r) fail("cannot open /tmp");
    return std::move(*r);
  }();
  return root;
}

void fuzz_confine(std::string_view data) {
  const auto& root = fuzz_root();
  for (std::string_view candidate : {data, data.substr(0, data.find('\n'))}) {
    auto rel = root.relative(candidate);
    if (!rel) continue;
    const std::string& r = *rel;
    if (!r.empty() && (r.front() == '/' || r.back() == '/')) fail("relative path starts or ends with '/'");
    std::size_t start = 0;
    while (start <= r.size() && !r.empty()) {
      std::size_t slash = r.find('/', start);
      if (slash == std::string::npos) slash = r.size();
      const std::string_view part(r.data() + start, slash - start);
      if (part.empty() || part == "." || part == "..") fail("relative path has an empty, '.' or '..' component");
      start = slash + 1;
    }
    if (r.find('\0') != std::string::npos) fail("relative path has a NUL byte");
    // Mapping the absolute form back gives the same relative path.
    auto again = root.relative(root.absolute(r));
    if (!again || *again != r) fail("relative(absolute(rel)) != rel");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // refused frames log a warning each
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  fuzz_frame_reader(data);
  fuzz_envelope_scanner(data);
  fuzz_connection(data);
  fuzz_patch(data);
  fuzz_confine(data);
  return 0;
}
