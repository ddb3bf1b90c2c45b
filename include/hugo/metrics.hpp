// Metrics: counters, gauges and histograms with tags, a Prometheus text exposition, and a
// listener interface through which a host forwards every observation to its own telemetry.
//
// Names follow Hugo (`taskqueue.replication.events`, `taskqueue.enqueued`, ...). With
// `emit_omnirelay_names`, replication metrics are also emitted under OmniRelay's names
// (`omnirelay.resourcelease.replication.events` / `.lag`) so existing dashboards keep working.
// Thread-safe.
#pragma once

#include <hugo/export.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace hugo {

// Tag pairs; order does not matter (they are sorted on use).
using MetricTags = std::vector<std::pair<std::string, std::string>>;

// UpDownCounter: a sum that goes up and down (OpenTelemetry's UpDownCounter); observed as the
// delta, exposed to Prometheus as a gauge holding the running sum.
enum class MetricKind { Counter, Gauge, Histogram, UpDownCounter };

// Receives every observation as it happens (OpenTelemetry, StatsD, logs, ...). Called on the
// observing thread; must be cheap and must not throw.
class HUGO_API MetricsListener {
 public:
  virtual ~MetricsListener() = default;
  virtual void observe(MetricKind kind, const std::string& name, const std::string& unit, const MetricTags& tags,
                       double value) = 0;
};

struct MetricsOptions {
  bool emit_omnirelay_names = false;
  // Histogram bucket upper bounds (values are in the metric's unit).
  std::vector<double> buckets = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
};

class HUGO_API MetricsRegistry {
 public:
  explicit MetricsRegistry(MetricsOptions options = {});

  void add(const std::string& name, const std::string& unit, MetricTags tags, double delta = 1);
  void add_up_down(const std::string& name, const std::string& unit, MetricTags tags, double delta);
  void set(const std::string& name, const std::string& unit, MetricTags tags, double value);
  void record(const std::string& name, const std::string& unit, MetricTags tags, double value);
  void add_listener(std::shared_ptr<MetricsListener> listener);
  const MetricsOptions& options() const { return options_; }

  // Current value of a counter or gauge (0 if never observed); for tests and the CLI.
  double value(const std::string& name, MetricTags tags = {}) const;
  // Number of observations of a histogram.
  std::uint64_t count(const std::string& name, MetricTags tags = {}) const;

  // Prometheus text exposition format 0.0.4: '.' becomes '_', counters get `_total`,
  // histograms `_bucket`/`_sum`/`_count`. Deterministic order.
  std::string prometheus_text() const;

 private:
  struct Series {
    MetricKind kind = MetricKind::Counter;
    std::string unit;
    double value = 0;
    std::vector<std::uint64_t> buckets;
    std::uint64_t count = 0;
    double sum = 0;
  };
  using Key = std::pair<std::string, MetricTags>;
  void observe(MetricKind kind, const std::string& name, const std::string& unit, MetricTags tags, double value);

  MetricsOptions options_;
  mutable std::mutex mutex_;
  std::map<Key, Series> series_;
  std::vector<std::shared_ptr<MetricsListener>> listeners_;
};

}  // namespace hugo
