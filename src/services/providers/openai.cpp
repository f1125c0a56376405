// kind = "openai": OpenAI-compatible Chat Completions (POST
// <base_url>/chat/completions), streamed: the request sets "stream": true and
// "stream_options": {"include_usage": true}; the response is an event stream
// (sse.hpp) of chat.completion.chunk objects whose choices[].delta carry
// content, reasoning (reasoning_content or reasoning, as DeepSeek, Ollama and
// OpenRouter send it) and tool_calls[] pieces keyed by index (id and
// function.name in the first piece, function.arguments in pieces), a
// finish_reason, a last chunk with empty choices and the usage, then
// "data: [DONE]". Error bodies are {"error": {"message": ...}}.
//
// Retries (before anything was streamed): HTTP 429, 500, 502, 503, 504, 529
// and failed connections, after retry-after-ms / retry-after (seconds or an
// HTTP date, RFC 9110 section 10.2.3) when the server sends one, else
// retry_base * 2^attempt with jitter; a retry-after longer than
// max_retry_wait fails the call at once. The whole call, retries included,
// ends at the timeout; cancellation stops it within ~20 ms (while a TCP or TLS
// connection is being set up, once that ends: connect_timeout at most).
// HTTPS verifies the server's certificate against the system's CAs; proxies
// (HTTPS_PROXY) are not used yet.
#include <httplib.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "backends.hpp"
#include "icotes/sse.hpp"

namespace icotes::providers {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr milliseconds kWatchPeriod{20};

struct Endpoint {
  std::string origin;  // scheme://host[:port]
  std::string path;    // the base URL's path + "/chat/completions"
};

Result<Endpoint> parse_base_url(const ProviderConfig& c) {
  const std::string who = "provider \"" + c.name + "\": base_url \"" + c.base_url + "\" ";
  const std::string& u = c.base_url;
  std::size_t scheme_end = 0;
  if (u.rfind("http://", 0) == 0) {
    scheme_end = 7;
  } else if (u.rfind("https://", 0) == 0) {
    scheme_end = 8;
  } else {
    return make_error(error_code::kInvalidParams, who + "must start with http:// or https://");
  }
  const std::size_t slash = u.find('/', scheme_end);
  Endpoint e;
  e.origin = u.substr(0, slash);
  const std::string host = e.origin.substr(scheme_end);
  if (host.empty() || host.find_first_of("@?# ") != std::string::npos) {
    return make_error(error_code::kInvalidParams, who + "needs a host and no user, query or fragment");
  }
  std::string path = slash == std::string::npos ? std::string() : u.substr(slash);
  if (path.find_first_of("?# ") != std::string::npos) {
    return make_error(error_code::kInvalidParams, who + "has a query or fragment");
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  e.path = path + "/chat/completions";
  return e;
}

json request_body(const ChatRequest& r, const std::string& model) {
  json messages = json::array();
  for (const Message& m : r.messages) {
    json j = {{"role", m.role}};
    if (m.role == "tool") {
      j["tool_call_id"] = m.tool_call_id;
      j["content"] = m.content;
    } else if (!m.tool_calls.empty()) {
      j["content"] = m.content.empty() ? json() : json(m.content);
      json calls = json::array();
      for (const ToolCall& t : m.tool_calls) {
        calls.push_back({{"id", t.id},
                         {"type", "function"},
                         {"function", {{"name", t.name}, {"arguments", t.arguments.empty() ? "{}" : t.arguments}}}});
      }
      j["tool_calls"] = std::move(calls);
    } else {
      j["content"] = m.content;
    }
    messages.push_back(std::move(j));
  }
  json body = {{"model", model},
               {"messages", std::move(messages)},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (!r.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : r.tools) {
      tools.push_back({{"type", "function"},
                       {"function", {{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}}}});
    }
    body["tools"] = std::move(tools);
  }
  if (r.max_tokens) body["max_tokens"] = *r.max_tokens;
  if (r.temperature) body["temperature"] = *r.temperature;
  return body;
}

StopReason stop_from(std::string_view finish) {
  if (finish == "stop") return StopReason::kEndTurn;
  if (finish == "tool_calls" || finish == "function_call") return StopReason::kToolUse;
  if (finish == "length") return StopReason::kMaxTokens;
  if (finish == "content_filter") return StopReason::kContentFilter;
  return StopReason::kOther;
}

// The provider's own message in an error body: {"error": {"message"}},
// {"error": "..."}, {"message": "..."}, else the body's first bytes.
std::string provider_message(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (const auto e = j.find("error"); e != j.end()) {
      if (e->is_string()) return e->get<std::string>();
      if (e->is_object()) {
        if (const auto m = e->find("message"); m != e->end() && m->is_string()) return m->get<std::string>();
      }
    }
    if (const auto m = j.find("message"); m != j.end() && m->is_string()) return m->get<std::string>();
  }
  std::string text(body.substr(0, 500));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? "(empty body)" : text;
}

// retry-after-ms (milliseconds, as OpenAI sends it) or retry-after (delay
// seconds or an HTTP date).
std::optional<milliseconds> retry_after(const httplib::Headers& headers) {
  if (const auto it = headers.find("retry-after-ms"); it != headers.end()) {
    char* end = nullptr;
    const double ms = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && ms >= 0 && ms < 1e10) return milliseconds(static_cast<std::int64_t>(ms));
  }
  const auto it = headers.find("retry-after");
  if (it == headers.end()) return std::nullopt;
  const std::string& v = it->second;
  char* end = nullptr;
  const double seconds = std::strtod(v.c_str(), &end);
  if (end != v.c_str() && *end == '\0' && seconds >= 0 && seconds < 1e7) {
    return milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }
  std::tm tm{};
  if (const char* rest = ::strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm); rest != nullptr && *rest == '\0') {
    const std::time_t when = ::timegm(&tm);
    const std::time_t now = std::time(nullptr);
    return milliseconds(when > now ? static_cast<std::int64_t>(when - now) * 1000 : 0);
  }
  return std::nullopt;
}

std::int64_t integer_or(const json& object, const char* key, std::int64_t fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

bool retryable_status(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504 || status == 529;
}

milliseconds backoff(const ProviderConfig& c, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::int64_t cap = std::max<std::int64_t>(c.max_retry_wait.count(), 1);
  std::int64_t d = c.retry_base.count();
  for (int i = 0; i < attempt && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  if (d <= 1) return milliseconds(d);
  std::uniform_int_distribution<std::int64_t> jitter(d / 2, d);
  return milliseconds(jitter(rng));
}

// One HTTP attempt's outcome and the stream's state.
struct Attempt {
  int status = 0;
  httplib::Headers headers;
  httplib::Error transport = httplib::Error::Success;
  std::string error_body;
  std::string first_bytes;  // of a 200 body, for "not an event stream" messages
  bool streamed = false;    // something reached the sink: no retry
  bool done = false;        // data: [DONE]
  bool finished = false;    // a finish_reason arrived
  std::string failure;      // a stream error, bad JSON, a parser limit
  bool cancelled = false;
  bool timed_out = false;
};

class OpenAiProvider final : public Provider {
 public:
  OpenAiProvider(ProviderConfig config, Endpoint endpoint, std::string key)
      : Provider(std::move(config)), endpoint_(std::move(endpoint)), key_(std::move(key)) {}

  Result<ChatResult> chat(const ChatRequest& request, ChatSink& sink, const CancellationToken& cancel) override {
    const std::string model = request.model.empty() ? config_.model : request.model;
    const milliseconds timeout = request.timeout.count() > 0 ? request.timeout : config_.timeout;
    const auto deadline = Clock::now() + timeout;
    const std::string body = request_body(request, model).dump(-1, ' ', false, json::error_handler_t::replace);
    for (int attempt = 0;; ++attempt) {
      ChatResult result;
      Attempt a;
      send(body, deadline, cancel, sink, result, a);
      result.attempts = attempt + 1;
      auto fail = [&](const std::string& what, int code = error_code::kRequestFailed) {
        json data = {{"provider", config_.name}, {"model", model}, {"attempts", attempt + 1}};
        if (a.status != 0) data["status"] = a.status;
        return make_error(code, redact("provider \"" + config_.name + "\" (model " + model + "): " + what, key_),
                          std::move(data));
      };
      if (a.cancelled || cancel.cancelled()) return fail("cancelled", error_code::kRequestCancelled);
      if (a.timed_out) return fail("timed out after " + std::to_string(timeout.count()) + " ms");
      if (a.status == 200 && a.failure.empty() && (a.done || a.finished) && a.transport == httplib::Error::Success) {
        if (result.model.empty()) result.model = model;
        return result;
      }
      std::string what;
      if (a.status != 0 && a.status != 200) {
        what = "HTTP " + std::to_string(a.status) + ": " + provider_message(a.error_body);
      } else if (!a.failure.empty()) {
        what = a.failure;
      } else if (a.status == 200) {
        what = a.transport != httplib::Error::Success
                   ? "the stream broke off before data: [DONE] (" + httplib::to_string(a.transport) + ")"
                   : "the stream ended before data: [DONE]" +
                         (a.first_bytes.empty() ? std::string() : "; it began: " + provider_message(a.first_bytes));
      } else {
        what = "cannot reach " + endpoint_.origin + ": " + httplib::to_string(a.transport);
      }
      const bool retryable = !a.streamed && a.failure.empty() && (retryable_status(a.status) || a.status == 0);
      if (!retryable || attempt >= config_.max_retries) return fail(what);
      milliseconds wait = backoff(config_, attempt);
      if (const auto after = retry_after(a.headers)) {
        if (*after > config_.max_retry_wait) {
          return fail(what + " (retry-after " + std::to_string(after->count()) +
                      " ms is longer than max_retry_wait_ms " + std::to_string(config_.max_retry_wait.count()) + ")");
        }
        wait = *after;
      }
      if (Clock::now() + wait >= deadline) {
        return fail(what + " (no time left to retry within " + std::to_string(timeout.count()) + " ms)");
      }
      if (!sleep_until(Clock::now() + wait, cancel)) return fail("cancelled", error_code::kRequestCancelled);
    }
  }

 private:
  // Waits until `until` or a cancellation (false).
  static bool sleep_until(Clock::time_point until, const CancellationToken& cancel) {
    std::mutex m;
    std::condition_variable cv;
    std::unique_lock lock(m);
    while (!cancel.cancelled()) {
      const auto now = Clock::now();
      if (now >= until) return true;
      cv.wait_for(lock, std::min<Clock::duration>(until - now, kWatchPeriod));
    }
    return false;
  }

  void send(const std::string& body, Clock::time_point deadline, const CancellationToken& cancel, ChatSink& sink,
            ChatResult& result, Attempt& a) {
    if (cancel.cancelled()) {
      a.cancelled = true;
      return;
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      a.timed_out = true;
      return;
    }
    httplib::Client cli(endpoint_.origin);
    const auto connect = std::min<std::chrono::microseconds>(left, config_.connect_timeout);
    cli.set_connection_timeout(connect.count() / 1000000, connect.count() % 1000000);
    // The socket's own timeouts run a little past the deadline: the watcher
    // below ends the call at the deadline, so a timeout reads as one.
    const auto io = left + std::chrono::microseconds(kWatchPeriod * 5);
    cli.set_read_timeout(io.count() / 1000000, io.count() % 1000000);
    cli.set_write_timeout(io.count() / 1000000, io.count() % 1000000);
    cli.set_follow_location(false);  // the key goes to base_url only
    cli.set_keep_alive(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    cli.enable_server_certificate_verification(true);
#endif

    sse::Parser parser;
    std::map<std::int64_t, ToolCall> calls;
    httplib::Request req;
    req.method = "POST";
    req.path = endpoint_.path;
    req.body = body;
    req.headers = {{"Content-Type", "application/json"}, {"Accept", "text/event-stream"}};
    if (!key_.empty()) req.headers.emplace("Authorization", "Bearer " + key_);
    req.response_handler = [&](const httplib::Response& res) {
      a.status = res.status;
      a.headers = res.headers;
      return true;
    };
    auto on_event = [&](sse::Event&& e) {
      if (!a.failure.empty() || a.done) return;
      if (e.data == "[DONE]") {
        a.done = true;
        return;
      }
      const json chunk = json::parse(e.data, nullptr, false);
      if (!chunk.is_object()) {
        a.failure = "a stream event is not a JSON object: " + provider_message(e.data);
        return;
      }
      if (const auto err = chunk.find("error"); err != chunk.end() && !err->is_null()) {
        a.failure = "error in the stream: " + provider_message(e.data);
        return;
      }
      handle_chunk(chunk, sink, result, calls, a);
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (cancel.cancelled()) {
        a.cancelled = true;
        return false;
      }
      if (Clock::now() >= deadline) {
        a.timed_out = true;
        return false;
      }
      if (a.status != 200) {
        a.error_body.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, a.error_body.size())));
        return true;
      }
      if (a.first_bytes.size() < 500) a.first_bytes.append(data, std::min<std::size_t>(n, 500));
      if (Status s = parser.feed(std::string_view(data, n), on_event); !s) a.failure = s.error().message;
      return a.failure.empty();
    };

    // The watcher ends a request blocked in a read at the deadline or on a
    // cancellation: Client::stop() shuts the socket down.
    std::mutex m;
    std::condition_variable cv;
    bool over = false;
    bool stopped_cancelled = false;  // written by the watcher, read after join
    bool stopped_late = false;
    std::thread watcher([&] {
      std::unique_lock lock(m);
      while (!over) {
        if (cancel.cancelled() || Clock::now() >= deadline) {
          (cancel.cancelled() ? stopped_cancelled : stopped_late) = true;
          // Again each period until send() returns: a stop() before the
          // request has its socket finds nothing to shut down.
          lock.unlock();
          cli.stop();
          lock.lock();
        }
        cv.wait_for(lock, kWatchPeriod);
      }
    });
    httplib::Result res = cli.send(req);
    {
      std::lock_guard lock(m);
      over = true;
    }
    cv.notify_all();
    watcher.join();
    a.cancelled = a.cancelled || stopped_cancelled;
    a.timed_out = a.timed_out || stopped_late;
    a.transport = res.error();
    if (a.status == 0 && res) a.status = res->status;
    parser.finish();
    if (a.timed_out || a.cancelled) return;
    if (a.transport == httplib::Error::Read && Clock::now() >= deadline) a.timed_out = true;
    if (a.status == 200 && a.failure.empty() && (a.done || a.finished)) {
      // Tool calls go out whole, in index order, once the stream is complete.
      for (auto& [_, call] : calls) {
        if (call.arguments.empty()) call.arguments = "{}";
        sink.on_tool_call(call);
        result.tool_calls.push_back(std::move(call));
      }
      if (result.stop_raw.empty()) result.stop = calls.empty() ? StopReason::kEndTurn : StopReason::kToolUse;
    }
  }

  static void handle_chunk(const json& chunk, ChatSink& sink, ChatResult& result,
                           std::map<std::int64_t, ToolCall>& calls, Attempt& a) {
    if (const auto m = chunk.find("model"); m != chunk.end() && m->is_string() && result.model.empty()) {
      result.model = m->get<std::string>();
    }
    if (const auto choices = chunk.find("choices"); choices != chunk.end() && choices->is_array()) {
      for (const json& choice : *choices) {
        if (!choice.is_object() || integer_or(choice, "index", 0) != 0) continue;  // n = 1: the first choice only
        if (const auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
          handle_delta(*d, sink, result, calls, a);
        }
        if (const auto f = choice.find("finish_reason"); f != choice.end() && f->is_string()) {
          result.stop_raw = f->get<std::string>();
          result.stop = stop_from(result.stop_raw);
          a.finished = true;
        }
      }
    }
    if (const auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) {
      auto count = [](const json& o, const char* k) { return integer_or(o, k, 0); };
      result.usage.input_tokens = count(*u, "prompt_tokens");
      result.usage.output_tokens = count(*u, "completion_tokens");
      if (const auto p = u->find("prompt_tokens_details"); p != u->end() && p->is_object()) {
        result.usage.cached_input_tokens = count(*p, "cached_tokens");
      }
      if (const auto c = u->find("completion_tokens_details"); c != u->end() && c->is_object()) {
        result.usage.reasoning_tokens = count(*c, "reasoning_tokens");
      }
      a.streamed = true;
      sink.on_usage(result.usage);
    }
  }

  static void handle_delta(const json& d, ChatSink& sink, ChatResult& result, std::map<std::int64_t, ToolCall>& calls,
                           Attempt& a) {
    for (const char* key : {"reasoning_content", "reasoning"}) {
      if (const auto r = d.find(key); r != d.end() && r->is_string() && !r->get_ref<const std::string&>().empty()) {
        result.reasoning += r->get_ref<const std::string&>();
        a.streamed = true;
        sink.on_reasoning(r->get_ref<const std::string&>());
        break;
      }
    }
    if (const auto c = d.find("content"); c != d.end() && c->is_string() && !c->get_ref<const std::string&>().empty()) {
      result.text += c->get_ref<const std::string&>();
      a.streamed = true;
      sink.on_text(c->get_ref<const std::string&>());
    }
    const auto tcs = d.find("tool_calls");
    if (tcs == d.end() || !tcs->is_array()) return;
    for (const json& t : *tcs) {
      if (!t.is_object()) continue;
      const std::int64_t index = integer_or(t, "index", 0);
      ToolCall& call = calls[index];
      a.streamed = true;
      if (const auto id = t.find("id"); id != t.end() && id->is_string() && call.id.empty()) {
        call.id = id->get<std::string>();
      }
      const auto f = t.find("function");
      if (f == t.end() || !f->is_object()) continue;
      if (const auto n = f->find("name"); n != f->end() && n->is_string() && call.name.empty()) {
        call.name = n->get<std::string>();
      }
      if (const auto args = f->find("arguments"); args != f->end() && args->is_string()) {
        call.arguments += args->get_ref<const std::string&>();
      }
    }
  }

  Endpoint endpoint_;
  std::string key_;
};

}  // namespace

Result<std::unique_ptr<Provider>> make_openai_provider(const ProviderConfig& config) {
  if (config.model.empty()) {
    return make_error(error_code::kInvalidParams, "provider \"" + config.name + "\" (openai) needs a model");
  }
  auto endpoint = parse_base_url(config);
  if (!endpoint) return std::move(endpoint).error();
  auto key = read_api_key(config);
  if (!key) return std::move(key).error();
  return std::unique_ptr<Provider>(new OpenAiProvider(config, std::move(*endpoint), std::move(*key)));
}

}  // namespace icotes::providers
