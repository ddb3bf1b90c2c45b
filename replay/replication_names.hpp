// Metric names of the replication path, Hugo's and (optionally) OmniRelay's, in one place.
#pragma once

#include <hugo/event.hpp>
#include <hugo/metrics.hpp>

#include <string>

namespace hugo::replication_names {

inline constexpr const char* kEvents = "taskqueue.replication.events";
inline constexpr const char* kSequenceLag = "taskqueue.replication.sequence_lag";
inline constexpr const char* kWallClockLag = "taskqueue.replication.wall_clock_lag";
inline constexpr const char* kOmniEvents = "omnirelay.resourcelease.replication.events";
inline constexpr const char* kOmniLag = "omnirelay.resourcelease.replication.lag";

// OmniRelay's ResourceLeaseReplicationEventType name for a kind (docs/REPLICATION.md); kinds OmniRelay
// never replicated keep Hugo's name.
std::string omnirelay_event_type(EventKind kind);

// Counts one event a source delivered: Hugo's counter, plus OmniRelay's if enabled.
void count_event(MetricsRegistry& metrics, const Event& e);

// Records the lags a sink observes before applying `e` (Hugo's two histograms, plus OmniRelay's).
void record_lag(MetricsRegistry& metrics, const Event& e, std::int64_t sequence_lag, double wall_clock_lag_ms);

}  // namespace hugo::replication_names
