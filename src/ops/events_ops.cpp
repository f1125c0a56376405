// events/* operations: a connection's subscriptions to the workspace's event
// broker (include/events/icotes/events.hpp), delivered as `icotes/event`
// notifications.
#include "events_json.hpp"
#include "icotes/builtin_ops.hpp"
#include "icotes/events.hpp"
#include "icotes/log.hpp"
#include "icotes/rpc.hpp"
#include "icotes/workspace.hpp"

namespace icotes {
namespace {

Result<json> subscribe(Context& ctx, events::SubscribeParams&& p) {
  if (!ctx.connection)
    return make_error(
        error_code::kInvalidRequest,
        "events/subscribe needs a connection to send events on; `icotes call` has none (use `icotes serve`)");
  std::vector<std::string> topics = std::move(p.topics);
  const std::optional<std::uint64_t> since = p.since;
  // The sink must not keep the connection alive: the subscription ends with
  // it (Session::on_close), and a closed connection drops what is sent.
  std::weak_ptr<Connection> weak = ctx.connection;
  auto sink = [weak](std::uint64_t subscription, const events::Event& e) {
    auto conn = weak.lock();
    if (!conn || conn->closed()) return;
    conn->notify(
        "icotes/event",
        json{
            {"subscription", subscription}, {"topic", e.topic}, {"seq", e.seq}, {"time", e.time_ms}, {"data", e.data}});
  };
  // The file watcher costs a walk and a watch per directory: it starts with
  // its first subscriber.
  for (const auto& t : topics)
    if (events::topic_matches(t, "files/changed")) {
      if (auto st = ctx.workspace.watcher().start(); !st) spdlog::warn("file watcher: {}", st.error().message);
      break;
    }
  std::size_t replayed = 0;
  std::vector<std::string> gaps;
  auto r = ctx.workspace.events().subscribe(ctx.connection.get(), std::move(topics), sink, since, &replayed, &gaps);
  if (!r) return std::move(r).error();
  json out{{"subscription", *r}, {"replayed", replayed}};
  if (!gaps.empty()) out["gaps"] = gaps;
  return out;
}

Result<json> unsubscribe(Context& ctx, events::UnsubscribeParams&& p) {
  const void* owner = ctx.connection ? ctx.connection.get() : nullptr;
  return json{{"removed", ctx.workspace.events().unsubscribe(owner, p.subscription)}};
}

}  // namespace

void register_events_ops(Registry& r) {
  r.add<events::SubscribeParams>("events/subscribe", subscribe);
  r.add<events::UnsubscribeParams>("events/unsubscribe", unsubscribe);
}

}  // namespace icotes
