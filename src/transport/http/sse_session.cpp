// One MCP session of the HTTP door and its SSE streams (sse_session.hpp).
#include "sse_session.hpp"

#include "envelope.hpp"

namespace icotes::http {

void Session::send(std::string message) {
  const Envelope envelope = envelope_of(message);
  if (!envelope.valid) return;
  std::lock_guard lock(mutex_);
  if (closed_) return;
  std::shared_ptr<Stream> target;
  if (envelope.response) {
    const std::string& key = envelope.ids.front();
    for (auto& [sid, s] : streams_)
      if (s->pending.count(key)) target = s;
    // A batch answers every id it holds at once.
    if (target)
      for (const auto& id : envelope.ids) target->pending.erase(id);
  } else {
    // Kept even while nobody reads it: a client that comes back with
    // Last-Event-ID gets it.
    for (auto it = streams_.rbegin(); it != streams_.rend() && !target; ++it)
      if (!it->second->get && !it->second->pending.empty() && !it->second->json_only) target = it->second;
    if (!target && get_) target = get_;
  }
  if (!target) {
    // Undelivered until a GET stream opens, up to kept_events_ messages
    // and kept_bytes_ bytes.
    if (waiting_.size() < kept_events_ && message.size() <= kept_bytes_ - waiting_bytes_) {
      waiting_bytes_ += message.size();
      waiting_.push_back(std::move(message));
    }
    return;
  }
  append(*target, std::move(message));
  cv_.notify_all();
}

std::shared_ptr<Stream> Session::open_post(std::set<std::string> ids, bool json_only, std::uint64_t& ticket) {
  std::lock_guard lock(mutex_);
  auto s = std::make_shared<Stream>();
  s->id = next_stream_++;
  s->pending = std::move(ids);
  s->json_only = json_only;
  s->reader = ticket = next_ticket_++;
  streams_[s->id] = s;
  trim_streams();
  touch();
  return s;
}

std::uint64_t Session::attach_reader(Stream& s) {
  std::lock_guard lock(mutex_);
  s.reader = next_ticket_++;
  cv_.notify_all();
  return s.reader;
}

std::shared_ptr<Stream> Session::open_get() {
  std::lock_guard lock(mutex_);
  if (get_) get_->reader = 0;
  auto s = std::make_shared<Stream>();
  s->id = next_stream_++;
  s->get = true;
  streams_[s->id] = s;
  get_ = s;
  while (!waiting_.empty()) {
    append(*s, std::move(waiting_.front()));
    waiting_.pop_front();
  }
  waiting_bytes_ = 0;
  trim_streams();
  touch();
  cv_.notify_all();
  return s;
}

std::shared_ptr<Stream> Session::find_stream(const std::string& last_event_id, std::uint64_t& after) {
  const auto dash = last_event_id.find('-');
  if (dash == std::string::npos) return nullptr;
  try {
    const std::uint64_t sid = std::stoull(last_event_id.substr(0, dash));
    after = std::stoull(last_event_id.substr(dash + 1));
    std::lock_guard lock(mutex_);
    auto it = streams_.find(sid);
    return it == streams_.end() ? nullptr : it->second;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::vector<std::pair<std::uint64_t, std::string>> Session::next_events(Stream& s, std::uint64_t after,
                                                                        std::uint64_t ticket,
                                                                        std::chrono::milliseconds wait,
                                                                        bool& finished) {
  std::unique_lock lock(mutex_);
  auto done = [&] { return closed_ || s.reader != ticket || (!s.get && s.pending.empty()); };
  cv_.wait_for(lock, wait, [&] { return done() || (!s.events.empty() && s.events.back().first > after); });
  std::vector<std::pair<std::uint64_t, std::string>> out;
  if (s.reader == ticket)
    for (const auto& e : s.events)
      if (e.first > after) out.push_back(e);
  finished = done();
  touch();
  return out;
}

void Session::detach_reader(Stream& s, std::uint64_t ticket) {
  std::lock_guard lock(mutex_);
  if (s.reader == ticket) s.reader = 0;
}

void Session::forget(const Stream& s) {
  std::lock_guard lock(mutex_);
  if (s.reader == 0 && s.pending.empty()) streams_.erase(s.id);
}

void Session::receive(std::string message) {
  std::lock_guard lock(receive_mutex_);  // one reader: messages in order
  {
    std::lock_guard l(mutex_);
    touch();
  }
  if (auto p = peer_) p->receive(std::move(message));
}

void Session::close() {
  std::shared_ptr<Peer> peer;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    peer = std::move(peer_);
    cv_.notify_all();
  }
  if (peer) peer->close();
}

bool Session::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

bool Session::idle_for(int ms) const {
  const auto since = idle_since();
  return since && Clock::now() - *since > std::chrono::milliseconds(ms);
}

std::optional<Clock::time_point> Session::idle_since() const {
  std::lock_guard lock(mutex_);
  if (get_ && get_->reader) return std::nullopt;
  for (const auto& [sid, s] : streams_)
    if (!s->get && !s->pending.empty()) return std::nullopt;
  return last_used_;
}

void Session::append(Stream& s, std::string message) {
  s.bytes += message.size();
  s.events.emplace_back(s.next++, std::move(message));
  // The newest event always stays: it may be a response not yet read.
  while (s.events.size() > 1 && (s.events.size() > kept_events_ || s.bytes > kept_bytes_)) {
    s.bytes -= s.events.front().second.size();
    s.events.pop_front();
  }
}

void Session::trim_streams() {
  std::size_t finished_bytes = 0;
  for (const auto& [sid, s] : streams_)
    if (s != get_ && s->pending.empty()) finished_bytes += s->bytes;
  while (streams_.size() > 64 || finished_bytes > kept_bytes_) {
    auto it = streams_.begin();
    while (it != streams_.end() && (it->second == get_ || !it->second->pending.empty())) ++it;
    if (it == streams_.end()) break;
    finished_bytes -= it->second->bytes;
    streams_.erase(it);
  }
}

std::string sse_event(std::uint64_t stream, std::uint64_t n, const std::string& message) {
  return "id: " + std::to_string(stream) + "-" + std::to_string(n) + "\nevent: message\ndata: " + message + "\n\n";
}

}  // namespace icotes::http
