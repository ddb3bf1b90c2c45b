#include "replay/replication_names.hpp"

namespace hugo::replication_names {

std::string omnirelay_event_type(EventKind kind) {
  switch (kind) {
    case EventKind::Enqueued: return "Enqueue";
    case EventKind::Drained: return "DrainSnapshot";
    case EventKind::Restored: return "RestoreSnapshot";
    default: return std::string(to_string(kind));
  }
}

namespace {

MetricTags omni_tags(const Event& e) {
  MetricTags tags{{"lease.event_type", omnirelay_event_type(e.kind)}};
  if (e.owner_peer_id && !e.owner_peer_id->empty()) tags.emplace_back("rpc.peer", *e.owner_peer_id);
  return tags;
}

}  // namespace

void count_event(MetricsRegistry& metrics, const Event& e) {
  metrics.add(kEvents, "events", {{"taskqueue.name", e.queue}, {"taskqueue.replication.kind", std::string(to_string(e.kind))}});
  if (metrics.options().emit_omnirelay_names) metrics.add(kOmniEvents, "events", omni_tags(e));
}

void record_lag(MetricsRegistry& metrics, const Event& e, std::int64_t sequence_lag, double wall_clock_lag_ms) {
  const MetricTags tags{{"taskqueue.name", e.queue}};
  metrics.record(kSequenceLag, "events", tags, static_cast<double>(sequence_lag < 0 ? 0 : sequence_lag));
  metrics.record(kWallClockLag, "ms", tags, wall_clock_lag_ms < 0 ? 0 : wall_clock_lag_ms);
  if (metrics.options().emit_omnirelay_names && wall_clock_lag_ms >= 0) {
    metrics.record(kOmniLag, "ms", omni_tags(e), wall_clock_lag_ms);
  }
}

}  // namespace hugo::replication_names
