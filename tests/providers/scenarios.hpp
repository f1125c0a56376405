// The scenarios every HTTP back end is tested with, written once: tool-call
// arguments split at awkward points, a stream that stalls after its first
// bytes, one cut short, a server that sends no headers, refusals with
// retry-after, calls cancelled mid-way. Each back end's test brings its own
// wire format (path, event bytes, error bodies, headers); the expect_*
// helpers hold the expectations the back ends share, so a back end that
// behaves differently fails its own test.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "icotes/provider.hpp"
#include "loopback.hpp"

namespace icotes::providers::test_support {

using Clock = std::chrono::steady_clock;

// A tool call's arguments and the pieces a back end's test streams them in:
// cut inside a string, after a backslash and inside a \u escape.
inline const std::string kSplitArgs = R"({"path":"src/a \"quoted\".c","text":"one\ntwo \u00e9 \\ end"})";
inline const std::vector<std::string> kSplitPieces = {R"({"pa)",      R"(th":"src/a \)", R"("quoted\".c","te)",
                                                      R"(xt":"one\)", R"(ntwo \u00)",    R"(e9 \\ end"})"};

// What a stream of reasoning "Plan: read.", the text "Reading both." and two
// calls (read_file with kSplitArgs, then grep {"pattern": "main"}) gives:
// the arguments whole and unchanged, escapes and all.
inline void expect_split_calls(const Collect& sink, std::string_view read_id, std::string_view grep_id) {
  std::string joined;
  for (const auto& p : kSplitPieces) joined += p;
  ASSERT_EQ(joined, kSplitArgs);  // the pieces are the arguments, cut
  EXPECT_EQ(sink.text, "Reading both.");
  EXPECT_EQ(sink.reasoning, "Plan: read.");
  ASSERT_EQ(sink.calls.size(), 2u);
  EXPECT_EQ(sink.calls[0].id, read_id);
  EXPECT_EQ(sink.calls[0].name, "read_file");
  EXPECT_EQ(sink.calls[0].arguments, kSplitArgs);
  const json a0 = json::parse(sink.calls[0].arguments);
  EXPECT_EQ(a0["path"], "src/a \"quoted\".c");
  EXPECT_EQ(a0["text"], "one\ntwo \xC3\xA9 \\ end");
  EXPECT_EQ(sink.calls[1].id, grep_id);
  EXPECT_EQ(json::parse(sink.calls[1].arguments), (json{{"pattern", "main"}}));
}

// Sends `first` as the start of an event stream, then neither more nor the
// end until the test ends: the client sees a live connection go quiet.
inline void serve_stalled_stream(Loopback& server, const std::string& path, std::string first) {
  server.server.Post(path, [&server, first = std::move(first)](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_chunked_content_provider("text/event-stream", [&server, first](size_t offset, httplib::DataSink& sink) {
      if (offset == 0) {
        sink.write(first.data(), first.size());
        return true;
      }
      server.wait_released();
      return false;
    });
  });
}

// Sends `bytes`, then closes the connection with the chunked body unfinished.
inline void serve_cut_stream(Loopback& server, const std::string& path, std::string bytes) {
  server.server.Post(path, [&server, bytes = std::move(bytes)](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_chunked_content_provider("text/event-stream", [bytes](size_t, httplib::DataSink& sink) {
      sink.write(bytes.data(), bytes.size());
      return false;
    });
  });
}

// Sends not even the headers until the test ends. `arrived`, when given, is
// set once the first request is in (the moment to cancel it).
inline void serve_no_headers(Loopback& server, const std::string& path, std::promise<void>* arrived = nullptr) {
  server.server.Post(path, [&server, arrived](const httplib::Request& req, httplib::Response&) {
    server.record(req);
    if (arrived != nullptr && server.requests == 1) arrived->set_value();
    server.wait_released();
  });
}

// An HTTP error answer: the status, its headers (retry-after and the like)
// and the back end's JSON error body.
struct Refusal {
  int status = 0;
  std::string body;
  httplib::Headers headers = {};
  // How many requests are refused; the ones after are answered with the
  // stream given to serve_refusals.
  int times = 1 << 30;
};

inline void serve_refusals(Loopback& server, const std::string& path, Refusal refusal, std::string then = {}) {
  server.server.Post(path, [&server, refusal = std::move(refusal), then = std::move(then)](const httplib::Request& req,
                                                                                           httplib::Response& res) {
    server.record(req);
    if (server.requests > refusal.times) {
      stream(res, then);
      return;
    }
    res.status = refusal.status;
    for (const auto& [name, value] : refusal.headers) res.set_header(name, value);
    res.set_content(refusal.body, "application/json");
  });
}

struct TimedChat {
  Result<ChatResult> result;
  Clock::duration took;
};

inline TimedChat timed_chat(Provider& p, const ChatRequest& request, ChatSink& sink,
                            const CancellationToken& cancel = CancellationToken{}) {
  const auto start = Clock::now();
  auto r = p.chat(request, sink, cancel);
  return {std::move(r), Clock::now() - start};
}

// Cancelled from another thread once the first text arrived (the sink's
// callback runs on the calling thread, inside chat).
inline TimedChat chat_cancelled_on_first_text(Provider& p, const ChatRequest& request, Collect& sink) {
  CancellationToken cancel;
  std::thread canceller;
  sink.on_first_text = [&] { canceller = std::thread([cancel] { cancel.cancel(); }); };
  auto call = timed_chat(p, request, sink, cancel);
  if (canceller.joinable()) canceller.join();
  return call;
}

// Cancelled from another thread once `ready` is set (or after 5 s, so that a
// server that never answers does not hang the test).
inline TimedChat chat_cancelled_when(Provider& p, const ChatRequest& request, ChatSink& sink, std::future<void> ready) {
  CancellationToken cancel;
  std::thread canceller([&ready, cancel] {
    ready.wait_for(std::chrono::seconds(5));
    cancel.cancel();
  });
  const auto start = Clock::now();
  auto r = p.chat(request, sink, cancel);
  canceller.join();
  return {std::move(r), Clock::now() - start};
}

// The call ended as cancelled, and soon: the server would have held it for
// good (or for seconds).
inline void expect_cancelled(const TimedChat& call) {
  ASSERT_FALSE(call.result.ok());
  EXPECT_EQ(call.result.error().code, error_code::kRequestCancelled);
  EXPECT_LT(call.took, std::chrono::seconds(3));
}

// A provider whose key is in the environment variable `env` while it is
// made (the key is read then, not per call).
inline std::unique_ptr<Provider> make_with_key(ProviderConfig c, const char* env, const char* key) {
  c.api_key_env = env;
  ScopedEnv set(env, key);
  return make(c);
}

// `c` with a 300 ms timeout, to a server that stalls: the call fails naming
// the timeout, after it and well before the server would let go.
inline void expect_timeout(ProviderConfig c, const ChatRequest& request, Collect& sink) {
  c.timeout = std::chrono::milliseconds(300);
  auto p = make(c);
  ASSERT_TRUE(p);
  auto [r, took] = timed_chat(*p, request, sink);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("timed out after 300 ms"), std::string::npos) << r.error().message;
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(3));
}

// A stream that ended early, after `text`: the call fails naming `why`, and
// is not retried (text was streamed: a retry would repeat it).
inline void expect_broken_off(const ProviderConfig& c, const ChatRequest& request, const Loopback& server,
                              std::string_view text, std::string_view why) {
  auto p = make(c);
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(request, sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(sink.text, text);
  EXPECT_EQ(server.requests, 1);
  EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
}

// One refusal with a retry-after, then `text`: the call succeeds on its
// second attempt, no sooner than `wait` (the server's) after it began.
inline void expect_retried_once(const ProviderConfig& c, const ChatRequest& request, const Loopback& server,
                                std::string_view text, Clock::duration wait) {
  auto p = make(c);
  ASSERT_TRUE(p);
  Collect sink;
  auto [r, took] = timed_chat(*p, request, sink);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(sink.text, text);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(server.requests, 2);
  EXPECT_GE(took, wait) << "the retry waits as long as the server's retry-after says";
}

// Refused every time, with max_retries 2: the call fails after three
// attempts with `message` (provider, model, status, the server's message).
inline void expect_refused_three_times(ProviderConfig c, const ChatRequest& request, const Loopback& server, int status,
                                       std::string_view message) {
  c.max_retries = 2;
  auto p = make(c);
  ASSERT_TRUE(p);
  Collect sink;
  auto r = p->chat(request, sink, CancellationToken{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, error_code::kRequestFailed);
  EXPECT_EQ(r.error().message, message);
  EXPECT_EQ(r.error().data["status"], status);
  EXPECT_EQ(r.error().data["attempts"], 3);
  EXPECT_EQ(r.error().data["provider"], c.name);
  EXPECT_EQ(server.requests, 3);
}

}  // namespace icotes::providers::test_support
