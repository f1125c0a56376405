// The streamed HTTP call shared by back ends: see stream_call.hpp.
#include "stream_call.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include "icotes/file_uri.hpp"

namespace icotes::providers::stream {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxErrorBody = 64 * 1024;
constexpr milliseconds kWatchPeriod{20};

// retry-after-ms (milliseconds) or retry-after (delay seconds or an HTTP date).
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

// Waits until `until` or a cancellation (false).
bool sleep_until(Clock::time_point until, const CancellationToken& cancel) {
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

struct Attempt {
  long verify_result = 0;  // OpenSSL's X509_V_* after a failed certificate verification
  int status = 0;
  httplib::Headers headers;
  httplib::Error transport = httplib::Error::Success;
  std::string error_body;
  std::string first_bytes;  // of a 200 body, for "not an event stream" messages
  bool cancelled = false;
  bool timed_out = false;
};

// A client for one attempt: timeouts from what is left of the call, no
// redirects, certificates verified (against ca_file when given), the proxy.
void configure(httplib::Client& cli, const ProviderConfig& config, const Call& call, std::chrono::microseconds left) {
  const auto connect = std::min<std::chrono::microseconds>(left, config.connect_timeout);
  cli.set_connection_timeout(connect.count() / 1000000, connect.count() % 1000000);
  // The socket's own timeouts run a little past the deadline: the watcher
  // ends the call at the deadline, so a timeout reads as one.
  const auto io = left + std::chrono::microseconds(kWatchPeriod * 5);
  cli.set_read_timeout(io.count() / 1000000, io.count() % 1000000);
  cli.set_write_timeout(io.count() / 1000000, io.count() % 1000000);
  cli.set_follow_location(false);  // the key goes to base_url only
  cli.set_keep_alive(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  cli.enable_server_certificate_verification(true);
  if (!config.ca_file.empty()) cli.set_ca_cert_path(config.ca_file);
#endif
  if (call.proxy) {
    cli.set_proxy(call.proxy->host, call.proxy->port);
    if (!call.proxy->user.empty()) cli.set_proxy_basic_auth(call.proxy->user, call.proxy->password);
  }
}

// Sends `req` while a watcher ends a request blocked in a read at the
// deadline or on a cancellation (Client::stop() shuts the socket down).
httplib::Result send_watched(httplib::Client& cli, httplib::Request& req, Clock::time_point deadline,
                             const CancellationToken& cancel, Attempt& a) {
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
  return res;
}

void send(const ProviderConfig& config, const Call& call, Clock::time_point deadline, const CancellationToken& cancel,
          ChatSink& sink, ChatResult& result, Decoder& decoder, Attempt& a) {
  if (cancel.cancelled()) {
    a.cancelled = true;
    return;
  }
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() <= 0) {
    a.timed_out = true;
    return;
  }
  httplib::Client cli(call.origin);
  configure(cli, config, call, left);

  sse::Parser parser;
  httplib::Request req;
  req.method = "POST";
  // Through a proxy cpp-httplib asks for the absolute URI (plain HTTP, RFC
  // 9112 section 3.2.2) or tunnels (HTTPS, CONNECT) by itself.
  req.path = call.path;
  req.body = call.body;
  req.headers = call.headers;
  req.headers.emplace("Content-Type", "application/json");
  req.headers.emplace("Accept", "text/event-stream");
  req.response_handler = [&](const httplib::Response& res) {
    a.status = res.status;
    a.headers = res.headers;
    return true;
  };
  auto on_event = [&](sse::Event&& e) {
    if (decoder.failure.empty()) decoder.on_event(std::move(e), result, sink);
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (cancel.cancelled() || Clock::now() >= deadline) {
      (cancel.cancelled() ? a.cancelled : a.timed_out) = true;
      return false;
    }
    if (a.status != 200) {
      a.error_body.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, a.error_body.size())));
      return true;
    }
    if (a.first_bytes.size() < 500) a.first_bytes.append(data, std::min<std::size_t>(n, 500));
    if (Status s = parser.feed(std::string_view(data, n), on_event); !s) decoder.failure = s.error().message;
    // After the end event nothing is read: a server keeping the connection
    // open must not hold a whole answer back until the timeout.
    return decoder.failure.empty() && !(decoder.complete && call.end_is_event);
  };
  httplib::Result res = send_watched(cli, req, deadline, cancel, a);
  a.transport = res.error();
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (a.transport == httplib::Error::SSLServerVerification) a.verify_result = cli.get_openssl_verify_result();
#endif
  if (a.status == 0 && res) a.status = res->status;
  parser.finish();
  if (a.timed_out || a.cancelled) return;
  if (a.transport == httplib::Error::Read && Clock::now() >= deadline) a.timed_out = true;
}

// What went wrong with an attempt that did not give a whole answer.
std::string describe_failure(const Call& call, const Attempt& a, const Decoder& decoder) {
  if (a.status != 0 && a.status != 200)
    return "HTTP " + std::to_string(a.status) + ": " + provider_message(a.error_body, call.error_type);
  if (!decoder.failure.empty()) return decoder.failure;
  if (a.transport == httplib::Error::SSLServerVerification) {
    std::string why;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (a.verify_result != X509_V_OK) why = std::string(" (") + X509_verify_cert_error_string(a.verify_result) + ")";
#endif
    return "cannot reach " + call.origin + ": the server's certificate failed verification" + why +
           "; for a private CA set ca_file";
  }
  if (a.status != 200) {
    return "cannot reach " + call.origin + (call.proxy ? " through the proxy " + call.proxy->host : std::string()) +
           ": " + httplib::to_string(a.transport);
  }
  if (a.transport != httplib::Error::Success) {
    return "the stream broke off before " + call.end_name + " (" + httplib::to_string(a.transport) + ")";
  }
  return "the stream ended before " + call.end_name +
         (a.first_bytes.empty() ? std::string() : "; it began: " + provider_message(a.first_bytes, call.error_type));
}

// A whole answer: HTTP 200, no failure, the stream's end seen (and, without
// an end event, the connection closed cleanly).
bool is_whole(const Call& call, const Attempt& a, const Decoder& decoder) {
  return a.status == 200 && decoder.failure.empty() && decoder.complete &&
         (a.transport == httplib::Error::Success || call.end_is_event);
}

// Another attempt may follow: nothing reached the sink, and the refusal or
// the stream's failure is passing trouble.
bool may_retry(const Attempt& a, const Decoder& decoder) {
  if (decoder.streamed) return false;
  // The same certificate fails the same way again.
  if (a.transport == httplib::Error::SSLServerVerification || a.transport == httplib::Error::SSLLoadingCerts) {
    return false;
  }
  return decoder.failure.empty() ? retryable_status(a.status) || a.status == 0 : decoder.retryable;
}

// The wait before the next attempt, or why there is none.
Result<milliseconds> retry_wait(const ProviderConfig& config, const Attempt& a, int attempt, Clock::time_point deadline,
                                milliseconds timeout) {
  milliseconds wait = backoff(config, attempt);
  if (const auto after = retry_after(a.headers)) {
    if (*after > config.max_retry_wait) {
      return make_error(error_code::kRequestFailed, "retry-after " + std::to_string(after->count()) +
                                                        " ms is longer than max_retry_wait_ms " +
                                                        std::to_string(config.max_retry_wait.count()));
    }
    wait = *after;
  }
  if (Clock::now() + wait >= deadline) {
    return make_error(error_code::kRequestFailed,
                      "no time left to retry within " + std::to_string(timeout.count()) + " ms");
  }
  return wait;
}

std::string error_object_message(const json& e, bool with_type) {
  std::string message = string_or_empty(e, "message");
  if (!with_type) return message;
  const std::string type = string_or_empty(e, "type");
  std::string kind = !type.empty() ? type : string_or_empty(e, "status");  // status: Google's code name
  if (message.empty()) return kind;
  return kind.empty() ? message : kind + ": " + message;
}

std::string body_excerpt(std::string_view body) {
  std::string text(body.substr(0, 500));
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? "(empty body)" : text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The first of `names` set to a non-empty value, with its name.
std::pair<std::string, std::string> first_env(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (const char* v = std::getenv(n); v != nullptr && *v != '\0') return {n, v};
  }
  return {};
}

Result<Proxy> parse_proxy(const std::string& variable, std::string_view url) {
  auto bad = [&](const std::string& why) {
    return make_error(error_code::kInvalidParams, "the proxy in " + variable + " " + why);
  };
  std::string_view rest = trim(url);
  if (const auto scheme = rest.find("://"); scheme != std::string_view::npos) {
    if (lower(rest.substr(0, scheme)) != "http") {
      return bad("is not an http:// proxy (" + std::string(rest.substr(0, scheme)) + ":// is not supported)");
    }
    rest.remove_prefix(scheme + 3);
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash).find_first_not_of('/') != std::string_view::npos) return bad("has a path");
    rest = rest.substr(0, slash);
  }
  Proxy p;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1));
    if (!user || !password) return bad("has a malformed %-escape in its user or password");
    p.user = std::move(*user);
    p.password = std::move(*password);
    rest.remove_prefix(at + 1);
  }
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [");
    p.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return bad("has text after ]");
      port = rest.substr(close + 2);
    }
  } else {
    const auto colon = rest.find(':');
    p.host = rest.substr(0, colon);
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (p.host.empty()) return bad("has no host");
  if (!port.empty()) {
    int n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || n > 65535) return bad("has a bad port");
      n = n * 10 + (c - '0');
    }
    if (n < 1 || n > 65535) return bad("has a bad port");
    p.port = n;
  }
  return p;
}

}  // namespace

std::string origin_host(std::string_view origin) {
  if (const auto scheme = origin.find("://"); scheme != std::string_view::npos) origin.remove_prefix(scheme + 3);
  if (!origin.empty() && origin.front() == '[') return lower(origin.substr(1, origin.find(']') - 1));
  return lower(origin.substr(0, origin.find(':')));
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host_in) {
  const std::string host = lower(host_in);
  while (!no_proxy.empty()) {
    const auto comma = no_proxy.find(',');
    std::string name = lower(trim(no_proxy.substr(0, comma)));
    no_proxy = comma == std::string_view::npos ? std::string_view() : no_proxy.substr(comma + 1);
    if (name == "*") return true;
    if (!name.empty() && name.front() == '.') name.erase(0, 1);
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    if (name.empty()) continue;
    if (host == name) return true;
    if (host.size() > name.size() && host.compare(host.size() - name.size(), name.size(), name) == 0 &&
        host[host.size() - name.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

Result<std::optional<Proxy>> proxy_for(std::string_view origin) {
  const bool https = origin.rfind("https://", 0) == 0;
  auto [variable, url] = https ? first_env({"https_proxy", "HTTPS_PROXY"}) : first_env({"http_proxy", "HTTP_PROXY"});
  if (url.empty()) std::tie(variable, url) = first_env({"all_proxy", "ALL_PROXY"});
  if (url.empty()) return std::optional<Proxy>();
  const std::string no_proxy = first_env({"no_proxy", "NO_PROXY"}).second;
  if (no_proxy_matches(no_proxy, origin_host(origin))) return std::optional<Proxy>();
  auto proxy = parse_proxy(variable, url);
  if (!proxy) return std::move(proxy).error();
  return std::optional<Proxy>(std::move(*proxy));
}

Result<BaseUrl> parse_base_url(const ProviderConfig& c) {
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
  BaseUrl b;
  b.origin = u.substr(0, slash);
  const std::string host = b.origin.substr(scheme_end);
  if (host.empty() || host.find_first_of("@?# ") != std::string::npos) {
    return make_error(error_code::kInvalidParams, who + "needs a host and no user, query or fragment");
  }
  b.path = slash == std::string::npos ? std::string() : u.substr(slash);
  if (b.path.find_first_of("?# ") != std::string::npos) {
    return make_error(error_code::kInvalidParams, who + "has a query or fragment");
  }
  while (!b.path.empty() && b.path.back() == '/') b.path.pop_back();
  return b;
}

Result<Setup> setup(const ProviderConfig& config, std::string_view kind, std::string_view default_base_url) {
  if (config.model.empty()) {
    return make_error(error_code::kInvalidParams,
                      "provider \"" + config.name + "\" (" + std::string(kind) + ") needs a model");
  }
  Setup s{config, {}, {}, std::nullopt};
  if (s.config.base_url.empty()) s.config.base_url = default_base_url;
  auto base = parse_base_url(s.config);
  if (!base) return std::move(base).error();
  s.base = std::move(*base);
  if (!s.config.ca_file.empty() && ::access(s.config.ca_file.c_str(), R_OK) != 0) {
    return make_error(error_code::kInvalidParams, "provider \"" + config.name + "\": ca_file " + s.config.ca_file +
                                                      " cannot be read: " + std::strerror(errno));
  }
  auto proxy = proxy_for(s.base.origin);
  if (!proxy) {
    return make_error(error_code::kInvalidParams, "provider \"" + config.name + "\": " + proxy.error().message);
  }
  s.proxy = std::move(*proxy);
  auto key = read_api_key(s.config);
  if (!key) return std::move(key).error();
  s.key = std::move(*key);
  return s;
}

Result<ChatResult> HttpProvider::chat(const ChatRequest& request, ChatSink& sink, const CancellationToken& cancel) {
  Call call;
  call.model = request.model.empty() ? config_.model : request.model;
  call.origin = base_.origin;
  call.path = base_.path;
  call.secret = key_;
  call.proxy = proxy_;
  auto body = prepare(request, call);
  if (!body) return std::move(body).error();
  call.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
  const auto timeout = request.timeout.count() > 0 ? request.timeout : config_.timeout;
  return run(config_, call, timeout, sink, cancel);
}

std::string provider_message(std::string_view body, bool with_type) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return body_excerpt(body);
  if (const auto e = j.find("error"); e != j.end()) {
    if (e->is_string()) return e->get<std::string>();
    if (e->is_object()) {
      if (std::string m = error_object_message(*e, with_type); !m.empty()) return m;
    }
  }
  if (std::string m = string_or_empty(j, "message"); !m.empty()) return m;
  return body_excerpt(body);
}

std::int64_t integer_or(const json& object, const char* key, std::int64_t fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

std::string string_or_empty(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<ChatResult> run(const ProviderConfig& config, const Call& call, milliseconds timeout, ChatSink& sink,
                       const CancellationToken& cancel) {
  const auto deadline = Clock::now() + timeout;
  for (int attempt = 0;; ++attempt) {
    ChatResult result;
    Attempt a;
    const std::unique_ptr<Decoder> decoder = call.make_decoder();
    send(config, call, deadline, cancel, sink, result, *decoder, a);
    result.attempts = attempt + 1;
    auto fail = [&](const std::string& what, int code = error_code::kRequestFailed) {
      json data = {{"provider", config.name}, {"model", call.model}, {"attempts", attempt + 1}};
      if (a.status != 0) data["status"] = a.status;
      return make_error(code,
                        redact("provider \"" + config.name + "\" (model " + call.model + "): " + what, call.secret),
                        std::move(data));
    };
    if (a.cancelled || cancel.cancelled()) return fail("cancelled", error_code::kRequestCancelled);
    if (a.timed_out) return fail("timed out after " + std::to_string(timeout.count()) + " ms");
    if (is_whole(call, a, *decoder)) {
      // A stream with an end event is whole once it came, whatever happened
      // to the connection after it.
      decoder->finish(result, sink);
      if (result.model.empty()) result.model = call.model;
      return result;
    }
    const std::string what = describe_failure(call, a, *decoder);
    if (!may_retry(a, *decoder) || attempt >= config.max_retries) return fail(what);
    auto wait = retry_wait(config, a, attempt, deadline, timeout);
    if (!wait) return fail(what + " (" + wait.error().message + ")");
    if (!sleep_until(Clock::now() + *wait, cancel)) return fail("cancelled", error_code::kRequestCancelled);
  }
}

}  // namespace icotes::providers::stream
