// Tracing hooks: one span per TaskQueue operation, shaped like Hugo's activities, for a host to
// bridge to OpenTelemetry (or a log). hugo-journal ships no tracing backend; it calls these
// interfaces, and examples/tracing/ shows a bridge that prints spans.
//
// Span names are Hugo's: TaskQueue.enqueue, TaskQueue.lease, TaskQueue.heartbeat,
// TaskQueue.complete, TaskQueue.fail.requeue, TaskQueue.fail.deadletter. Every call of the
// matching TaskQueue method opens exactly one span and ends it exactly once, also when the call
// fails; the batch forms open one span per call. Tags are in docs/QUEUE.md ("Traces").
#pragma once

#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/metrics.hpp>

#include <cstdint>
#include <memory>
#include <string_view>

namespace hugo {

// What an operation knew when it ended.
struct SpanEnd {
  // taskqueue.sequence_id, taskqueue.attempt, taskqueue.token (as known: a failed enqueue has no
  // task id), and taskqueue.error.code on failure; plus the constant tags the span started with.
  MetricTags tags;
  // The journal seq of the row the operation appended (the Enqueued, LeaseGranted, Heartbeat,
  // Completed or Failed row; for a batch, the first of its rows), or 0 when it appended none
  // (a refused call, a throttled heartbeat).
  std::int64_t seq = 0;
  const Error* error = nullptr;  // the call's error; null on success. Valid during end() only.
};

// One open span. end() is called exactly once, on the thread that made the call, with no lock
// of the queue held; it must not throw (an exception is caught and passed to on_handler_error).
class HUGO_API TraceSpan {
 public:
  virtual ~TraceSpan() = default;
  virtual void end(const SpanEnd& end) = 0;
};

// Opens spans. Thread-safe: called concurrently by every thread that uses a queue. Called
// before the queue takes its lock, so it may call back into the queue. Returning null means
// "not sampled": the operation then runs without a span.
class HUGO_API Tracer {
 public:
  virtual ~Tracer() = default;
  // `tags`: taskqueue.operation (enqueue, lease, ...), taskqueue.name and the queue's constant tags.
  virtual std::unique_ptr<TraceSpan> start_span(std::string_view name, const MetricTags& tags) = 0;
};

}  // namespace hugo
