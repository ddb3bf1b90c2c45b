#include "queue/queue_telemetry.hpp"

#include <hugo/error_codes.hpp>

#include <exception>
#include <string>

namespace hugo::detail {
namespace {

// A user hook that threw: reported through on_handler_error, never through the caller.
void report_throw(const std::function<void(const Error&)>* report, const char* what) {
  if (report && *report) (*report)(Error::exception(std::string("tracer threw: ") + what).with("stage", "tracer"));
}

}  // namespace

void MetricBuffer::flush(MetricsRegistry& registry, const MetricTags& tags) {
  for (const Observation& o : items_) {
    MetricTags t = tags;
    if (o.extra_key) t.emplace_back(o.extra_key, o.extra_value);
    switch (o.kind) {
      case MetricKind::Counter: registry.add(o.name, o.unit, std::move(t), o.value); break;
      case MetricKind::UpDownCounter: registry.add_up_down(o.name, o.unit, std::move(t), o.value); break;
      case MetricKind::Gauge: registry.set(o.name, o.unit, std::move(t), o.value); break;
      case MetricKind::Histogram: registry.record(o.name, o.unit, std::move(t), o.value); break;
    }
  }
  items_.clear();
}

OpSpan::OpSpan(Tracer* tracer, const char* operation, const MetricTags& queue_tags,
               const std::function<void(const Error&)>& report) {
  if (!tracer) return;
  report_ = &report;
  MetricTags tags;
  tags.reserve(queue_tags.size() + 1);
  tags.emplace_back("taskqueue.operation", operation);
  tags.insert(tags.end(), queue_tags.begin(), queue_tags.end());
  try {
    span_ = tracer->start_span(std::string("TaskQueue.") + operation, tags);
  } catch (const std::exception& e) {
    report_throw(report_, e.what());
  } catch (...) {
    report_throw(report_, "a non-standard exception");
  }
  if (span_) end_.tags = std::move(tags);
}

OpSpan::~OpSpan() {
  if (span_) finish(nullptr);
}

void OpSpan::task(std::int64_t task_id, std::int32_t attempt) {
  if (!span_) return;
  tag("taskqueue.sequence_id", std::to_string(task_id));
  tag("taskqueue.attempt", std::to_string(attempt));
}

void OpSpan::token(const OwnershipToken& token) {
  if (!span_) return;
  task(token.task_id, token.attempt);
  tag("taskqueue.token", token.to_string());
}

void OpSpan::tag(const char* key, std::string value) {
  if (!span_) return;
  for (auto& [k, v] : end_.tags) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  end_.tags.emplace_back(key, std::move(value));
}

void OpSpan::finish(const Error* error) {
  if (!span_) return;
  if (error) tag("taskqueue.error.code", error->code());
  end_.error = error;
  std::unique_ptr<TraceSpan> span = std::move(span_);
  try {
    span->end(end_);
  } catch (const std::exception& e) {
    report_throw(report_, e.what());
  } catch (...) {
    report_throw(report_, "a non-standard exception");
  }
}

}  // namespace hugo::detail
