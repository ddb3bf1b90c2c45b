// Migration sample: OmniRelay's ResourceLeaseReplicationMetrics and Hugo's GoDiagnostics
// replication instruments become a MetricsRegistry shared by the source and the sinks. With
// emit_omnirelay_names, the omnirelay.resourcelease.replication.* series keep existing dashboards
// working; a MetricsListener forwards every observation to the host's own telemetry.
#include <hugo/metrics.hpp>
#include <hugo/replication.hpp>
#include <hugo/task_queue.hpp>

#include "sample_support.hpp"

using sample::must;

class CountingListener final : public hugo::MetricsListener {
 public:
  int observations = 0;
  void observe(hugo::MetricKind, const std::string&, const std::string&, const hugo::MetricTags&, double) override {
    ++observations;  // forward to OpenTelemetry, StatsD, ... here
  }
};

int main() {
  sample::Scratch dir;
  hugo::MetricsOptions metric_options;
  metric_options.emit_omnirelay_names = true;
  auto metrics = std::make_shared<hugo::MetricsRegistry>(metric_options);
  auto listener = std::make_shared<CountingListener>();
  metrics->add_listener(listener);

  auto journal = std::shared_ptr<hugo::Journal>(must(hugo::Journal::open(dir.path / "j.journal")).release());
  hugo::TaskQueueOptions options;
  options.name = "resourcelease";
  options.metrics = metrics;
  auto queue = must(hugo::TaskQueue::open(journal, options));
  must(queue->enqueue("work"));

  hugo::ReplicationSourceOptions source_options;
  source_options.metrics = metrics;
  auto source = must(hugo::TaskQueueReplicationSource::attach(journal, 0, source_options));
  (void)must(source->next(10));

  const std::string text = metrics->prometheus_text();
  std::printf("%s", text.c_str());
  const bool ok = text.find("omnirelay_resourcelease_replication_events_total{lease_event_type=\"Enqueue\"} 1") != std::string::npos &&
                  text.find("taskqueue_enqueued_total{taskqueue_name=\"resourcelease\"} 1") != std::string::npos &&
                  listener->observations > 0;
  return ok ? 0 : 1;
}
