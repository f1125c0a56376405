#include "icotes/client_hello.hpp"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "icotes/fd_io.hpp"
#include "icotes/file_uri.hpp"
#include "icotes/json_parse.hpp"

namespace icotes {
namespace {

using Clock = std::chrono::steady_clock;

// Reads what is there within `deadline`: false on EOF, error or timeout.
bool read_some(int fd, Clock::time_point deadline, std::string& out) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[64 * 1024];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out.assign(buf, static_cast<std::size_t>(n));
    return true;
  }
}

bool is_mcp_initialize_with_roots(const json& m) {
  if (!m.is_object() || m.value("method", json()) != "initialize" || !m.contains("id")) return false;
  const json p = m.value("params", json::object());
  if (!p.is_object() || !p.contains("protocolVersion") || !p["protocolVersion"].is_string()) return false;
  const json caps = p.value("capabilities", json::object());
  return caps.is_object() && caps.contains("roots") && caps["roots"].is_object();
}

std::optional<std::string> first_local_root(const json& result) {
  if (!result.is_object() || !result.contains("roots") || !result["roots"].is_array()) return std::nullopt;
  for (const auto& r : result["roots"]) {
    if (!r.is_object() || !r.contains("uri") || !r["uri"].is_string()) continue;
    auto path = path_of_file_uri(r["uri"].get<std::string>());
    std::error_code ec;
    if (path && std::filesystem::is_directory(*path, ec)) return *path;
  }
  return std::nullopt;
}

// The MCP handshake ahead of the server (see the header). `first` is the
// client's initialize, `frames` the reader that produced it, `raw` the bytes
// read so far (whole frames after `first` are in `later`).
ClientHello roots_handshake(int in_fd, int out_fd, std::string first_body, const json& first, json initialize_result,
                            std::vector<std::string> later, FrameReader& frames, const std::string& raw,
                            int timeout_ms) {
  const Framing framing = frames.framing();
  ClientHello hello;
  hello.drop_response_id = first["id"];
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "icotes: the MCP client declared roots, but %s; serving the current directory\n", why.c_str());
  };
  const json answer = {{"jsonrpc", "2.0"}, {"id", first["id"]}, {"result", std::move(initialize_result)}};
  bool alive = write_fully(out_fd, frame_message(framing, answer.dump())) == 0;
  // Everything the client sends from here on is the server's, but the
  // answer to our roots/list, which is ours.
  std::vector<std::string> bodies;
  bodies.push_back(std::move(first_body));
  bool initialized = false, asked = false, answered = false;
  std::optional<std::string> root;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto take = [&](std::string&& body) {
    const json m = parse_json_or_discarded(body);
    if (asked && !answered && m.is_object() && m.value("id", json()) == std::string(kRootsRequestId) &&
        !m.contains("method")) {
      answered = true;
      if (m.contains("result")) root = first_local_root(m["result"]);
      return;
    }
    if (m.is_object() && m.value("method", json()) == "notifications/initialized") initialized = true;
    bodies.push_back(std::move(body));
  };
  for (auto& b : later) take(std::move(b));
  std::string chunk;
  std::string tail = raw.substr(raw.size() - frames.buffered());
  while (alive && !answered) {
    if (initialized && !asked) {
      asked = true;
      const json ask = {{"jsonrpc", "2.0"}, {"id", std::string(kRootsRequestId)}, {"method", "roots/list"}};
      alive = write_fully(out_fd, frame_message(framing, ask.dump())) == 0;
      continue;
    }
    if (!read_some(in_fd, deadline, chunk)) break;
    tail += chunk;
    frames.feed(chunk, take, [](const FrameError&) {});
    tail.erase(0, tail.size() - frames.buffered());
  }
  if (!alive)
    fail("it is gone");
  else if (!initialized)
    fail("sent no notifications/initialized within " + std::to_string(timeout_ms) + " ms");
  else if (!answered)
    fail("did not answer roots/list within " + std::to_string(timeout_ms) + " ms");
  else if (!root)
    fail("none of its roots is a local directory");
  hello.root = root;
  if (root) hello.source = "MCP roots/list";
  for (auto& b : bodies) hello.bytes += frame_message(framing, std::move(b));
  hello.bytes += tail;
  return hello;
}

class DroppingTransport final : public Transport {
 public:
  DroppingTransport(std::shared_ptr<Transport> inner, json id) : inner_(std::move(inner)), id_(std::move(id)) {}
  bool write(std::string_view bytes) override {
    if (!dropped_.load() && is_response_to(bytes, id_) && !dropped_.exchange(true)) return true;
    return inner_->write(bytes);
  }
  bool write_pieces(std::span<const std::string_view> pieces) override {
    if (dropped_.load()) return inner_->write_pieces(pieces);
    return Transport::write_pieces(pieces);  // joined, then write()
  }
  bool write_produced(const std::function<void(const Emit&)>& produce) override {
    if (dropped_.load()) return inner_->write_produced(produce);
    return Transport::write_produced(produce);
  }
  // The dropped response still answers its request: the inner transport
  // (a ledger's, daemon.hpp) is told with an empty frame.
  bool write_answer(std::span<const std::string_view> pieces, std::span<const std::string> answered) override {
    if (dropped_.load()) return inner_->write_answer(pieces, answered);
    std::string joined;
    for (std::string_view p : pieces) joined += p;
    if (is_response_to(joined, id_) && !dropped_.exchange(true)) return inner_->write_answer({}, answered);
    const std::string_view whole = joined;
    return inner_->write_answer(std::span<const std::string_view>(&whole, 1), answered);
  }
  bool write_produced_answer(const std::function<void(const Emit&)>& produce, std::size_t bytes,
                             std::span<const std::string> answered) override {
    if (dropped_.load()) return inner_->write_produced_answer(produce, bytes, answered);
    std::string joined;
    produce([&](std::string_view piece) {
      joined.append(piece);
      return true;
    });
    const std::string_view whole = joined;
    return write_answer(std::span<const std::string_view>(&whole, 1), answered);
  }
  void close() override { inner_->close(); }

 private:
  std::shared_ptr<Transport> inner_;
  json id_;
  std::atomic<bool> dropped_{false};
};

}  // namespace

ClientHello read_client_hello(int in_fd, int out_fd, std::size_t max_frame_bytes, int roots_timeout_ms,
                              const McpInitializeAnswer& mcp_initialize) {
  ClientHello hello;
  if (::isatty(in_fd)) return hello;
  FrameReader frames(max_frame_bytes);
  std::optional<std::string> first;
  std::vector<std::string> later;  // whole messages after the first, read with it
  bool refused = false;
  char buf[64 * 1024];
  while (!first && !refused) {
    const ssize_t n = ::read(in_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    hello.bytes.append(buf, static_cast<std::size_t>(n));
    frames.feed(
        std::string_view(buf, static_cast<std::size_t>(n)),
        [&](std::string&& body) {
          if (!first)
            first = std::move(body);
          else
            later.push_back(std::move(body));
        },
        [&](const FrameError&) { refused = true; });
  }
  if (!first) return hello;
  const json m = parse_json_or_discarded(*first);
  if (is_mcp_initialize_with_roots(m) && !refused && mcp_initialize)
    if (auto answer = mcp_initialize(m["params"]))
      return roots_handshake(in_fd, out_fd, std::move(*first), m, std::move(*answer), std::move(later), frames,
                             hello.bytes, roots_timeout_ms);
  hello.root = client_root_of_initialize(m);
  if (hello.root) hello.source = "LSP initialize";
  return hello;
}

bool is_response_to(std::string_view frame, const json& id) {
  if (frame.substr(0, 15) == "Content-Length:" || frame.substr(0, 15) == "content-length:") {
    const auto end = frame.find("\r\n\r\n");
    if (end == std::string_view::npos) return false;
    frame.remove_prefix(end + 4);
  }
  const json m = parse_json_or_discarded(frame);
  return m.is_object() && !m.contains("method") && (m.contains("result") || m.contains("error")) && m.contains("id") &&
         m["id"] == id;
}

std::string ResponseDropper::filter(std::string_view data) {
  if (done()) return std::string(data);
  std::string out;
  frames_.feed(
      data,
      [&](std::string&& body) {
        if (!dropped_ && is_response_to(body, id_)) {
          dropped_ = true;
          return;
        }
        out += frame_message(frames_.framing(), std::move(body));
      },
      [](const FrameError&) {});
  return out;
}

std::shared_ptr<Transport> drop_first_response(std::shared_ptr<Transport> inner, json id) {
  return std::make_shared<DroppingTransport>(std::move(inner), std::move(id));
}

}  // namespace icotes
