// The queue's telemetry plumbing: metric observations buffered under the queue's lock and
// emitted after it is released, and one trace span per public operation. Internal: used by the
// task_queue*.cpp files only. Neither runs user code (MetricsListener, Tracer, TraceSpan) while
// the queue's lock is held: docs/QUEUE.md, "Callbacks and locks".
#pragma once

#include <hugo/event.hpp>
#include <hugo/metrics.hpp>
#include <hugo/tracing.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace hugo::detail {

// Observations made under the queue's lock; flush() sends them to the registry afterwards.
// Names, units and the optional extra tag are string literals (static storage).
class MetricBuffer {
 public:
  void add(const char* name, const char* unit, double delta = 1) { push(MetricKind::Counter, name, unit, delta); }
  void add_up_down(const char* name, const char* unit, double delta) {
    push(MetricKind::UpDownCounter, name, unit, delta);
  }
  void set(const char* name, const char* unit, double value) { push(MetricKind::Gauge, name, unit, value); }
  void record(const char* name, const char* unit, double value) { push(MetricKind::Histogram, name, unit, value); }
  // A counter with one more tag (key=value) beside the queue's tags.
  void add_tagged(const char* name, const char* unit, const char* key, const char* value, double delta = 1) {
    items_.push_back({MetricKind::Counter, name, unit, key, value, delta});
  }
  // Emits every observation in order, each with `tags` (plus its extra tag), and empties the
  // buffer. Call with no queue lock held.
  void flush(MetricsRegistry& registry, const MetricTags& tags);

 private:
  struct Observation {
    MetricKind kind;
    const char* name;
    const char* unit;
    const char* extra_key;
    const char* extra_value;
    double value;
  };
  void push(MetricKind kind, const char* name, const char* unit, double value) {
    items_.push_back({kind, name, unit, nullptr, nullptr, value});
  }
  std::vector<Observation> items_;
};

// One TaskQueue operation's span (include/hugo/tracing.hpp). Constructed before the queue's lock
// is taken; finish() ends it exactly once (the destructor ends an unfinished span as a success,
// which no caller relies on). Without a tracer every member is a no-op.
class OpSpan {
 public:
  OpSpan(Tracer* tracer, const char* operation, const MetricTags& queue_tags,
         const std::function<void(const Error&)>& report);
  ~OpSpan();
  OpSpan(const OpSpan&) = delete;
  OpSpan& operator=(const OpSpan&) = delete;

  bool active() const { return span_ != nullptr; }
  void task(std::int64_t task_id, std::int32_t attempt);
  void token(const OwnershipToken& token);
  void seq(std::int64_t seq) { end_.seq = seq; }
  void tag(const char* key, std::string value);
  // Ends the span with `error` (null: success).
  void finish(const Error* error);
  template <class T>
  void finish(const Result<T>& result) {
    finish(result.ok() ? nullptr : &result.error());
  }

 private:
  std::unique_ptr<TraceSpan> span_;
  const std::function<void(const Error&)>* report_ = nullptr;
  SpanEnd end_;
};

}  // namespace hugo::detail
