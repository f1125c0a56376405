// A cpp-httplib server on 127.0.0.1 (an ephemeral port) for the back ends'
// tests, stopped when the test ends, and the helpers the wire-format tests
// share (temporary directories, scoped environment variables). Handlers that stall wait on release(), which the
// destructor calls.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "icotes/provider.hpp"

namespace icotes::providers::test_support {

// A directory made with mkdtemp under /tmp, removed with what it holds.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/icotes-providers-XXXXXX";
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

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// Sets an environment variable for one test and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class Loopback {
 public:
  Loopback() {
    port_ = server.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server.listen_after_bind(); });
  }
  ~Loopback() {
    release();
    // stop() is a no-op until the accept loop runs: wait for it (bounded).
    for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server.stop();
    thread_.join();
  }
  Loopback(const Loopback&) = delete;
  Loopback& operator=(const Loopback&) = delete;

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string base_url() const { return origin() + "/v1"; }
  void release() {
    {
      std::lock_guard lock(m_);
      released_ = true;
    }
    cv_.notify_all();
  }
  // Waits for release() (at most 10 s: a test never hangs).
  void wait_released() {
    std::unique_lock lock(m_);
    cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
  }

  // Counts the request and keeps its body, path and headers.
  void record(const httplib::Request& req) {
    ++requests;
    std::lock_guard lock(seen_mutex);
    last_body = json::parse(req.body, nullptr, false);
    last_path = req.path;
    last_headers = req.headers;
    last_query = req.params;
    last_authorization = req.get_header_value("Authorization");
  }

  httplib::Server server;
  std::atomic<int> requests{0};
  std::mutex seen_mutex;
  json last_body;
  std::string last_path;
  httplib::Headers last_headers;
  httplib::Params last_query;
  std::string last_authorization;

 private:
  int port_ = 0;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool released_ = false;
};

// Streams `body` in pieces of `piece` bytes, each its own HTTP chunk, so
// events and lines arrive split (piece 1: the client reads every byte
// separately, so the stream is cut at every byte boundary).
inline void stream(httplib::Response& res, std::string body, std::size_t piece = 7) {
  res.set_chunked_content_provider("text/event-stream",
                                   [body = std::move(body), piece](size_t, httplib::DataSink& sink) {
                                     for (std::size_t at = 0; at < body.size(); at += piece) {
                                       const std::string part = body.substr(at, piece);
                                       if (!sink.write(part.data(), part.size())) return false;
                                     }
                                     sink.done();
                                     return true;
                                   });
}

class Collect : public ChatSink {
 public:
  void on_text(std::string_view d) override {
    text += d;
    ++text_deltas;
    if (on_first_text) std::exchange(on_first_text, nullptr)();
  }
  void on_reasoning(std::string_view d) override { reasoning += d; }
  void on_tool_call(const ToolCall& c) override { calls.push_back(c); }
  void on_usage(const Usage& u) override {
    usage = u;
    ++usage_reports;
  }
  std::string text, reasoning;
  int text_deltas = 0, usage_reports = 0;
  std::vector<ToolCall> calls;
  Usage usage;
  std::function<void()> on_first_text;
};

inline std::unique_ptr<Provider> make(const ProviderConfig& c) {
  auto p = make_provider(c);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? std::move(*p) : nullptr;
}

// A back end's configuration for a loopback server: a timeout no test meets
// unless it sets a shorter one, and retries after a millisecond, so that a
// retried test waits only as long as its server asks.
inline ProviderConfig loopback_config(std::string name, std::string kind, std::string base_url, std::string model) {
  ProviderConfig c;
  c.name = std::move(name);
  c.kind = std::move(kind);
  c.base_url = std::move(base_url);
  c.model = std::move(model);
  c.timeout = std::chrono::milliseconds(10000);
  c.retry_base = std::chrono::milliseconds(1);
  return c;
}

}  // namespace icotes::providers::test_support
