// Hugo's queue instruments and traces: the backpressure instruments, constant tags on every
// instrument and span, one span per operation with Hugo's names and tags, user hooks that call
// back into the queue, and the enqueue origin journaled on Enqueued rows.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/replication.hpp>
#include <hugo/tracing.hpp>

#include "tests/support/queue_fixture.hpp"

#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace queue_telemetry_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

namespace {

// Calls `probe` on another thread and reports whether it returned within a generous bound: a
// hook that runs while the queue holds its lock makes every queue call on another thread wait
// until the hook returns, so the probe cannot finish.
// The probe thread is detached so that a blocked probe cannot block this thread in turn; it
// finishes as soon as the hook returns (the queue outlives it in every test).
bool queue_answers_while_hook_runs(const std::function<void()>& probe) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> answered = done->get_future();
  std::thread([probe, done] {
    probe();
    done->set_value();
  }).detach();
  return answered.wait_for(10s) == std::future_status::ready;
}

struct Observation {
  MetricKind kind;
  std::string name;
  MetricTags tags;
  double value;
};

class RecordingListener : public MetricsListener {
 public:
  std::function<void(const std::string&)> on_observe;
  void observe(MetricKind kind, const std::string& name, const std::string&, const MetricTags& tags,
               double value) override {
    {
      std::lock_guard lock(mutex);
      seen.push_back({kind, name, tags, value});
    }
    if (on_observe) on_observe(name);
  }
  std::vector<Observation> named(const std::string& name) {
    std::lock_guard lock(mutex);
    std::vector<Observation> out;
    for (const auto& o : seen) {
      if (o.name == name) out.push_back(o);
    }
    return out;
  }
  std::mutex mutex;
  std::vector<Observation> seen;
};

struct RecordedSpan {
  std::string name;
  MetricTags start_tags;
  std::map<std::string, std::string> end_tags;
  std::int64_t seq = -1;
  std::string error_code;
  bool ended = false;
};

class RecordingTracer : public Tracer {
 public:
  std::function<void()> on_start;
  std::function<void()> on_end;
  bool throw_on_start = false;

  std::unique_ptr<TraceSpan> start_span(std::string_view name, const MetricTags& tags) override {
    if (throw_on_start) throw std::runtime_error("tracer backend is down");
    if (on_start) on_start();
    std::lock_guard lock(mutex);
    spans.push_back(RecordedSpan{std::string(name), tags, {}, -1, {}, false});
    return std::make_unique<Span>(this, spans.size() - 1);
  }

  std::vector<RecordedSpan> all() {
    std::lock_guard lock(mutex);
    return spans;
  }

 private:
  struct Span : TraceSpan {
    Span(RecordingTracer* t, std::size_t i) : tracer(t), index(i) {}
    void end(const SpanEnd& end) override {
      if (tracer->on_end) tracer->on_end();
      std::lock_guard lock(tracer->mutex);
      RecordedSpan& s = tracer->spans[index];
      CHECK_FALSE(s.ended);  // exactly once
      s.ended = true;
      for (const auto& [k, v] : end.tags) s.end_tags[k] = v;
      s.seq = end.seq;
      if (end.error) s.error_code = end.error->code();
    }
    RecordingTracer* tracer;
    std::size_t index;
  };
  std::mutex mutex;
  std::vector<RecordedSpan> spans;
};

const MetricTags kEnrichers{{"service.name", "billing"}, {"taskqueue.shard", "3"}};

MetricTags queue_tags(MetricTags extra = {}) {
  MetricTags tags{{"taskqueue.name", "orders"}, {"service.name", "billing"}, {"taskqueue.shard", "3"}};
  tags.insert(tags.end(), extra.begin(), extra.end());
  return tags;
}

// A queue fixture whose options record into a registry with a recording listener.
struct InstrumentedQueue {
  test::QueueFixture f;
  std::shared_ptr<MetricsRegistry> metrics = std::make_shared<MetricsRegistry>();
  std::shared_ptr<RecordingListener> listener = std::make_shared<RecordingListener>();
  TaskQueueOptions options = f.options();
  InstrumentedQueue() {
    metrics->add_listener(listener);
    options.metrics = metrics;
  }
};

}  // namespace

TEST_SUITE("queue.telemetry") {

TEST_CASE("backpressure records Hugo's active, pending, duration and transitions instruments") {
  InstrumentedQueue iq;
  auto& [f, metrics, listener, options] = iq;
  options.metric_tags = kEnrichers;
  options.backpressure = BackpressureOptions{4, 2, 1s, [](const BackpressureSignal&) {}};
  auto q = f.open(options);

  f.clock->advance(3s);  // 3 s inactive since the queue opened
  for (int i = 0; i < 4; ++i) must(q->enqueue("t"));
  CHECK(metrics->value("hugo.taskqueue.backpressure.active", queue_tags()) == 1);
  CHECK(metrics->value("hugo.taskqueue.backpressure.transitions", queue_tags({{"state", "active"}})) == 1);
  CHECK(metrics->count("hugo.taskqueue.backpressure.pending", queue_tags()) == 1);
  auto durations = listener->named("hugo.taskqueue.backpressure.duration");
  REQUIRE(durations.size() == 1);
  CHECK(durations[0].value == doctest::Approx(3000));
  auto pending = listener->named("hugo.taskqueue.backpressure.pending");
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].value == 4);

  f.clock->advance(2s);  // 2 s active, then down to the low watermark
  for (int i = 0; i < 2; ++i) must(q->complete(must(q->lease("w")).token));
  CHECK(metrics->value("hugo.taskqueue.backpressure.active", queue_tags()) == 0);
  CHECK(metrics->value("hugo.taskqueue.backpressure.transitions", queue_tags({{"state", "inactive"}})) == 1);
  durations = listener->named("hugo.taskqueue.backpressure.duration");
  REQUIRE(durations.size() == 2);
  CHECK(durations[1].value == doctest::Approx(2000));
  pending = listener->named("hugo.taskqueue.backpressure.pending");
  REQUIRE(pending.size() == 2);
  CHECK(pending[1].value == 2);

  // The up-down counter is observed as deltas, and every observation carries the constant tags.
  auto active = listener->named("hugo.taskqueue.backpressure.active");
  REQUIRE(active.size() == 2);
  CHECK(active[0].kind == MetricKind::UpDownCounter);
  CHECK(active[0].value == 1);
  CHECK(active[1].value == -1);
  for (const auto& o : listener->seen) {
    auto sorted = o.tags;
    std::sort(sorted.begin(), sorted.end());
    CHECK_MESSAGE(std::count(sorted.begin(), sorted.end(), std::make_pair(std::string("service.name"), std::string("billing"))) == 1, o.name);
    CHECK_MESSAGE(std::count(sorted.begin(), sorted.end(), std::make_pair(std::string("taskqueue.shard"), std::string("3"))) == 1, o.name);
  }
  CHECK(metrics->prometheus_text().find("# TYPE hugo_taskqueue_backpressure_active gauge") != std::string::npos);
}

TEST_CASE("a queue that closes while under backpressure leaves the active queues") {
  test::QueueFixture f;
  auto metrics = std::make_shared<MetricsRegistry>();
  auto options = f.options();
  options.metrics = metrics;
  options.backpressure = BackpressureOptions{2, 1, 1s, [](const BackpressureSignal&) {}};
  auto q = f.open(options);
  must(q->enqueue("a"));
  must(q->enqueue("b"));
  const MetricTags tags{{"taskqueue.name", "orders"}};
  CHECK(metrics->value("hugo.taskqueue.backpressure.active", tags) == 1);
  must(q->close());
  CHECK(metrics->value("hugo.taskqueue.backpressure.active", tags) == 0);
  must(q->close());  // idempotent: no second decrement
  CHECK(metrics->value("hugo.taskqueue.backpressure.active", tags) == 0);
}

TEST_CASE("depth instruments emitted after the lock by racing threads still sum to the queue's depth") {
  InstrumentedQueue iq;
  auto& [f, metrics, listener, options] = iq;
  auto q = f.open(options);
  auto work = [&](int n) {
    for (int i = 0; i < n; ++i) {
      must(q->enqueue("t"));
      if (i % 3 == 0) must(q->complete(must(q->lease("w")).token));
    }
  };
  std::thread a(work, 300);
  std::thread b(work, 300);
  a.join();
  b.join();
  const MetricTags tags{{"taskqueue.name", "orders"}};
  CHECK(metrics->value("taskqueue.pending", tags) == static_cast<double>(q->pending_count()));
  CHECK(metrics->value("taskqueue.active", tags) == static_cast<double>(q->active_lease_count()));
  CHECK(listener->named("taskqueue.pending").front().kind == MetricKind::UpDownCounter);
  must(q->close());  // a closed queue takes its share back out
  CHECK(metrics->value("taskqueue.pending", tags) == 0);
}

TEST_CASE("constant tags are validated") {
  test::QueueFixture f;
  auto check = [&](MetricTags tags, const char* why) {
    auto options = f.options();
    options.metric_tags = std::move(tags);
    auto q = TaskQueue::open(f.journal, options);
    REQUIRE_FALSE(q.ok());
    CHECK(q.error().code() == errc::validation);
    CHECK_MESSAGE(q.error().message().find(why) != std::string::npos, q.error().message());
  };
  check({{"", "x"}}, "empty");
  check({{"taskqueue.name", "other"}}, "taskqueue.name");
  check({{"service.name", "a"}, {"service.name", "b"}}, "twice");
}

TEST_CASE("a metrics listener runs after the queue's lock is released and may call back into the queue") {
  InstrumentedQueue iq;
  auto& [f, metrics, listener, options] = iq;
  auto q = f.open(options);
  int blocked = 0;
  int reentered = 0;
  listener->on_observe = [&](const std::string& name) {
    if (name != "taskqueue.enqueued" && name != "taskqueue.completed") return;
    if (!queue_answers_while_hook_runs([&] { (void)q->snapshot(); })) {
      ++blocked;  // under the lock: calling in from this thread would deadlock
      return;
    }
    (void)q->pending_count();
    ++reentered;
  };
  must(q->enqueue("x"));
  must(q->complete(must(q->lease("w")).token));
  CHECK(blocked == 0);
  CHECK(reentered == 2);
}

TEST_CASE("every operation opens and ends exactly one span named and tagged like Hugo's") {
  test::QueueFixture f;
  auto tracer = std::make_shared<RecordingTracer>();
  auto options = f.options();
  options.tracer = tracer;
  options.metric_tags = kEnrichers;
  options.heartbeat_interval = Duration::zero();
  options.max_delivery_attempts = 5;
  auto q = f.open(options);

  const std::int64_t task = must(q->enqueue("a"));
  const Lease lease = must(q->lease("w"));
  must(q->heartbeat(lease.token));
  CHECK(must(q->fail(lease.token, Error("app.failed", "boom"), true)) == FailOutcome::Requeued);
  const Lease second = must(q->lease("w"));
  CHECK(must(q->fail(second.token, Error("app.failed", "give up"), false)) == FailOutcome::DeadLettered);
  const std::int64_t other = must(q->enqueue("b"));
  const Lease third = must(q->lease("w"));
  must(q->complete(third.token));
  CHECK(q->complete(third.token).error().code() == errc::lease_inactive);  // stale: still one span

  const auto spans = tracer->all();
  const std::vector<std::string> names{"TaskQueue.enqueue", "TaskQueue.lease", "TaskQueue.heartbeat",
                                       "TaskQueue.fail.requeue", "TaskQueue.lease", "TaskQueue.fail.deadletter",
                                       "TaskQueue.enqueue", "TaskQueue.lease", "TaskQueue.complete",
                                       "TaskQueue.complete"};
  REQUIRE(spans.size() == names.size());
  std::map<std::int64_t, Event> rows;
  for (const Event& e : f.events()) rows[e.seq] = e;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const RecordedSpan& s = spans[i];
    INFO("span " << i << " " << s.name);
    CHECK(s.name == names[i]);
    CHECK(s.ended);
    std::map<std::string, std::string> start(s.start_tags.begin(), s.start_tags.end());
    CHECK(start["taskqueue.operation"] == s.name.substr(std::string("TaskQueue.").size()));
    CHECK(start["taskqueue.name"] == "orders");
    CHECK(start["service.name"] == "billing");
    CHECK(start["taskqueue.shard"] == "3");
    CHECK(s.end_tags.at("taskqueue.name") == "orders");
    CHECK(s.end_tags.count("taskqueue.sequence_id") == 1);
    CHECK(s.end_tags.count("taskqueue.attempt") == 1);
    if (i == 9) {
      CHECK(s.error_code == errc::lease_inactive);
      CHECK(s.end_tags.at("taskqueue.error.code") == errc::lease_inactive);
      CHECK(s.seq == 0);  // nothing appended
      continue;
    }
    CHECK(s.error_code.empty());
    CHECK(s.end_tags.count("taskqueue.error.code") == 0);
    REQUIRE(rows.count(s.seq) == 1);  // the seq names the row the call appended
    const Event& row = rows[s.seq];
    CHECK(std::to_string(row.task_id) == s.end_tags.at("taskqueue.sequence_id"));
    CHECK(std::to_string(row.attempt) == s.end_tags.at("taskqueue.attempt"));
    if (row.token) CHECK(s.end_tags.at("taskqueue.token") == row.token->to_string());
  }
  CHECK(rows[spans[0].seq].kind == EventKind::Enqueued);
  CHECK(spans[0].seq == task);
  CHECK(rows[spans[1].seq].kind == EventKind::LeaseGranted);
  CHECK(rows[spans[2].seq].kind == EventKind::Heartbeat);
  CHECK(rows[spans[3].seq].kind == EventKind::Failed);
  CHECK(spans[4].end_tags.at("taskqueue.attempt") == "2");
  CHECK(rows[spans[5].seq].kind == EventKind::Failed);
  CHECK(spans[6].seq == other);
  CHECK(rows[spans[8].seq].kind == EventKind::Completed);
}

TEST_CASE("batch calls open one span each, and a throttled heartbeat reports no row") {
  test::QueueFixture f;
  auto tracer = std::make_shared<RecordingTracer>();
  auto options = f.options();
  options.tracer = tracer;
  options.heartbeat_interval = 5s;
  auto q = f.open(options);
  const auto ids = must(q->enqueue_batch({"a", "b", "c"}));
  const auto leases = must(q->lease_batch("w", 3));
  CHECK(must(q->heartbeat(leases[0].token)).outcome == HeartbeatResult::Outcome::Throttled);
  must(q->complete_batch({leases[0].token, leases[1].token, leases[2].token}));
  const auto spans = tracer->all();
  REQUIRE(spans.size() == 4);
  CHECK(spans[0].name == "TaskQueue.enqueue");
  CHECK(spans[0].end_tags.at("taskqueue.batch.size") == "3");
  CHECK(spans[0].seq == ids[0]);
  CHECK(spans[1].name == "TaskQueue.lease");
  CHECK(spans[1].end_tags.at("taskqueue.batch.size") == "3");
  CHECK(spans[1].seq == leases[0].token.lease_id);
  CHECK(spans[2].name == "TaskQueue.heartbeat");
  CHECK(spans[2].seq == 0);
  CHECK(spans[3].name == "TaskQueue.complete");
  CHECK(spans[3].end_tags.at("taskqueue.batch.size") == "3");
  for (const auto& s : spans) CHECK(s.ended);
}

TEST_CASE("a tracer may call back into the queue, and one that throws is reported, never fatal") {
  test::QueueFixture f;
  auto tracer = std::make_shared<RecordingTracer>();
  auto options = f.options();
  options.tracer = tracer;
  std::vector<Error> reported;
  options.on_handler_error = [&](const Error& e) { reported.push_back(e); };
  auto q = f.open(options);
  int blocked = 0;
  tracer->on_start = [&] { (void)q->pending_count(); };
  tracer->on_end = [&] {
    (void)q->snapshot();
    if (!queue_answers_while_hook_runs([&] { (void)q->active_lease_count(); })) ++blocked;
  };
  must(q->enqueue("x"));
  must(q->complete(must(q->lease("w")).token));
  CHECK(blocked == 0);
  CHECK(tracer->all().size() == 3);

  tracer->on_start = nullptr;
  tracer->on_end = nullptr;
  tracer->throw_on_start = true;
  CHECK(q->enqueue("y").ok());
  REQUIRE(reported.size() == 1);
  CHECK(reported[0].code() == errc::exception);
  CHECK(*reported[0].find("stage") == "tracer");
}

TEST_CASE("enqueue journals its origin on the Enqueued rows, and sources replicate it") {
  test::QueueFixture f;
  auto q = f.open();
  const std::int64_t a = must(q->enqueue("a", {}, PayloadFormat::Bytes, EnqueueOrigin{"peer-7"}));
  const auto batch = must(q->enqueue_batch({"b", "c"}, {}, PayloadFormat::Bytes, EnqueueOrigin{"req-42"}));
  const std::int64_t plain = must(q->enqueue("d"));

  CHECK(q->enqueue("e", {}, PayloadFormat::Bytes, EnqueueOrigin{std::string("x\0y", 3)}).error().code() ==
        errc::validation);
  CHECK(q->enqueue("e", {}, PayloadFormat::Bytes, EnqueueOrigin{std::string(1025, 'p')}).error().code() ==
        errc::validation);

  q.reset();
  f.reopen_journal();
  std::map<std::int64_t, Event> rows;
  for (const Event& e : f.events()) rows[e.seq] = e;
  REQUIRE(rows.size() == 4);  // the refused enqueues journaled nothing
  CHECK(rows[a].owner_peer_id == "peer-7");
  CHECK(rows[batch[0]].owner_peer_id == "req-42");
  CHECK(rows[batch[1]].owner_peer_id == "req-42");
  CHECK_FALSE(rows[plain].owner_peer_id.has_value());

  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  auto delivered = must(source->next(10));
  REQUIRE(delivered.size() == 4);
  CHECK(delivered[0].owner_peer_id == "peer-7");
  CHECK(delivered[1].owner_peer_id == "req-42");
}

}  // TEST_SUITE

}  // namespace queue_telemetry_test
