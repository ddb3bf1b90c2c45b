// Capacity and waiting, drain/restore, backpressure, options, shared journals, typed payloads.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/typed_task_queue.hpp>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "tests/support/queue_fixture.hpp"

#include <thread>

namespace queue_operations_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

namespace {

struct Order {
  std::string sku;
  std::vector<int> quantities;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(sku, quantities);
  }
  friend bool operator==(const Order&, const Order&) = default;
};

}  // namespace

TEST_SUITE("queue.operations") {

TEST_CASE("a full queue fails fast, times out, cancels, or waits for room") {
  test::QueueFixture f;
  auto options = f.options();
  options.capacity = 2;
  auto q = f.open(options);
  must(q->enqueue("1"));
  must(q->enqueue("2"));
  CHECK(q->enqueue("3", Wait::none()).error().code() == errc::queue_full);
  CHECK(q->enqueue("3", Wait::for_duration(5ms)).error().code() == errc::queue_timeout);
  std::stop_source stop;
  stop.request_stop();
  CHECK(q->enqueue("3", Wait::forever(stop.get_token())).error().code() == errc::canceled);
  CHECK(f.events().size() == 2);  // nothing journaled for refused enqueues

  std::thread producer([&] { CHECK(q->enqueue("3", Wait::for_duration(30s)).ok()); });
  const Lease lease = must(q->lease("w", Wait::none()));  // frees a slot: the blocked producer proceeds
  producer.join();
  CHECK(q->pending_count() == 2);
  must(q->complete(lease.token));
}

TEST_CASE("an already-canceled stop token fails even when the call could proceed at once") {
  test::QueueFixture f;
  auto q = f.open();
  std::stop_source stop;
  stop.request_stop();
  CHECK(q->enqueue("x", Wait::forever(stop.get_token())).error().code() == errc::canceled);
  must(q->enqueue("x"));
  CHECK(q->lease("w", Wait::forever(stop.get_token())).error().code() == errc::canceled);
  CHECK(q->pending_count() == 1);
}

TEST_CASE("lease waits for work, with a deadline and a stop token") {
  test::QueueFixture f;
  auto q = f.open();
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  CHECK(q->lease("w", Wait::for_duration(5ms)).error().code() == errc::queue_timeout);
  std::stop_source stop;
  std::thread canceller([&] { stop.request_stop(); });
  CHECK(q->lease("w", Wait::forever(stop.get_token())).error().code() == errc::canceled);
  canceller.join();
  std::thread producer([&] { CHECK(q->enqueue("late").ok()); });
  CHECK(must(q->lease("w", Wait::for_duration(30s))).payload == "late");
  producer.join();
}

TEST_CASE("close wakes blocked callers with error.taskqueue.disposed") {
  test::QueueFixture f;
  auto q = f.open();
  std::thread closer([&] { (void)q->close(); });  // before or during the wait: same outcome
  CHECK(q->lease("w", Wait::for_duration(30s)).error().code() == errc::disposed);
  closer.join();
}

TEST_CASE("drain hands out pending tasks in FIFO order and the queue stays usable; restore brings them back") {
  test::QueueFixture f;
  auto q = f.open();
  for (const char* p : {"a", "b", "c"}) must(q->enqueue(p));
  const Lease a = must(q->lease("w", Wait::none()));
  must(q->fail(a.token, Error("app.e", "first try")));  // a: attempt 2 at the tail
  const Lease b = must(q->lease("w", Wait::none()));                  // b stays leased: not drained
  auto items = must(q->drain());
  REQUIRE(items.size() == 2);
  CHECK(items[0].payload == "c");
  CHECK(items[1].payload == "a");
  CHECK(items[1].attempt == 2);
  CHECK(items[1].last_error->code() == "app.e");
  CHECK(items[1].last_token == std::optional<OwnershipToken>(a.token));
  CHECK(q->pending_count() == 0);
  CHECK(q->active_lease_count() == 1);
  auto ev = f.events();
  CHECK(ev[ev.size() - 2].kind == K::Drained);
  CHECK(ev.back().kind == K::Drained);
  CHECK(ev.back().flags == flags::FromDrain);
  CHECK(ev.back().error->code() == "app.e");

  must(q->enqueue("d"));  // still usable
  must(q->restore(items));
  ev = f.events();
  CHECK(ev[ev.size() - 2].kind == K::Restored);
  CHECK(ev.back().kind == K::Restored);
  CHECK(ev.back().task_id == a.token.task_id);  // original identity
  CHECK(ev.back().payload == std::optional<std::string>("a"));
  CHECK(ev.back().enqueued_at == std::optional<Timestamp>(a.enqueued_at));
  std::vector<std::string> order;
  std::vector<std::int32_t> attempts;
  for (int i = 0; i < 3; ++i) {
    const Lease l = must(q->lease("w", Wait::none()));
    order.push_back(l.payload);
    attempts.push_back(l.attempt);
  }
  CHECK(order == std::vector<std::string>{"d", "c", "a"});
  CHECK(attempts == std::vector<std::int32_t>{1, 1, 2});
  must(q->complete(b.token));
}

TEST_CASE("restore gives an item whose id names a live task, and a foreign item, a new id") {
  test::QueueFixture f;
  auto q = f.open();
  const auto id = must(q->enqueue("live"));
  PendingItem dup;
  dup.task_id = id;
  dup.payload = "dup";
  must(q->restore({dup}));
  CHECK(f.events().back().task_id == f.events().back().seq);
  CHECK(f.events().back().original_task_id == std::optional<std::int64_t>(id));
  PendingItem bad;
  bad.attempt = 0;
  CHECK(q->restore({bad}).error().code() == errc::validation);
  PendingItem foreign;
  foreign.payload = "from elsewhere";
  foreign.attempt = 3;
  must(q->restore({foreign}));
  auto ev = f.events();
  CHECK(ev.back().kind == K::Restored);
  CHECK(ev.back().task_id == ev.back().seq);
  CHECK(ev.back().attempt == 3);
}

TEST_CASE("backpressure notifies on the watermarks, and a cooldown delays but never drops a transition") {
  test::QueueFixture f;
  std::vector<BackpressureSignal> signals;
  auto options = f.options();
  BackpressureOptions bp;
  bp.high_watermark = 3;  // low defaults to max(1, 3/2) = 1
  bp.cooldown = 5s;
  bp.on_change = [&](const BackpressureSignal& s) { signals.push_back(s); };
  options.backpressure = bp;
  auto q = f.open(options);
  must(q->enqueue("1"));
  must(q->enqueue("2"));
  CHECK(signals.empty());
  must(q->enqueue("3"));
  REQUIRE(signals.size() == 1);
  CHECK(signals[0].active);
  CHECK(signals[0].pending == 3);
  CHECK(signals[0].high_watermark == 3);
  CHECK(signals[0].low_watermark == 1);
  // Drop to the low watermark inside the cooldown: the state flips, the signal waits.
  auto l1 = must(q->lease("w", Wait::none()));
  auto l2 = must(q->lease("w", Wait::none()));
  CHECK(signals.size() == 1);
  CHECK(q->backpressure().active);
  f.clock->advance(5s);
  (void)must(q->sweep_expired());  // the deferred transition is delivered, not lost (docs/QUEUE.md, "Backpressure")
  REQUIRE(signals.size() == 2);
  CHECK_FALSE(signals[1].active);
  CHECK(signals[1].pending == 1);
  CHECK_FALSE(q->backpressure().active);
  must(q->complete(l1.token));
  must(q->complete(l2.token));
}

TEST_CASE("a transition that flips back inside the cooldown is never announced") {
  test::QueueFixture f;
  std::vector<BackpressureSignal> signals;
  auto options = f.options();
  BackpressureOptions bp;
  bp.high_watermark = 2;
  bp.low_watermark = 1;
  bp.cooldown = 5s;
  bp.on_change = [&](const BackpressureSignal& s) { signals.push_back(s); };
  options.backpressure = bp;
  auto q = f.open(options);
  must(q->enqueue("1"));
  must(q->enqueue("2"));  // active, announced
  (void)must(q->lease("w", Wait::none()));  // pending 1 <= low: inactive, deferred
  must(q->enqueue("3"));      // pending 2 >= high: active again
  f.clock->advance(10s);
  (void)must(q->sweep_expired());
  REQUIRE(signals.size() == 1);  // listeners saw active, and active is the truth
  CHECK(signals[0].active);
  CHECK(q->backpressure().active);
}

TEST_CASE("invalid options give error.validation naming the option") {
  test::QueueFixture f;
  auto check = [&](auto mutate, const char* option) {
    auto o = f.options();
    mutate(o);
    auto q = TaskQueue::open(f.journal, o);
    REQUIRE_FALSE(q.ok());
    CHECK(q.error().code() == errc::validation);
    CHECK(*q.error().find("option") == option);
  };
  check([](TaskQueueOptions& o) { o.name = "   "; }, "name");
  check([](TaskQueueOptions& o) { o.capacity = 0; }, "capacity");
  check([](TaskQueueOptions& o) { o.lease_duration = Duration::zero(); }, "lease_duration");
  check([](TaskQueueOptions& o) { o.heartbeat_interval = -1s; }, "heartbeat_interval");
  check([](TaskQueueOptions& o) { o.sweep_interval = Duration::zero(); }, "sweep_interval");
  check([](TaskQueueOptions& o) { o.requeue_delay = -1s; }, "requeue_delay");
  check([](TaskQueueOptions& o) { o.max_delivery_attempts = 0; }, "max_delivery_attempts");
  check([](TaskQueueOptions& o) { o.backpressure = BackpressureOptions{0, -1, 5s, {}}; }, "backpressure.high_watermark");
  check([](TaskQueueOptions& o) { o.backpressure = BackpressureOptions{4, -1, Duration::zero(), {}}; }, "backpressure.cooldown");
}

TEST_CASE("Hugo's defaults") {
  const TaskQueueOptions o;
  CHECK(o.capacity == 512);
  CHECK(o.lease_duration == 30s);
  CHECK(o.heartbeat_interval == 5s);
  CHECK(o.sweep_interval == 1s);
  CHECK(o.requeue_delay == Duration::zero());
  CHECK(o.max_delivery_attempts == 5);
}

TEST_CASE("several named queues share one journal; one instance per name") {
  test::QueueFixture f;
  auto orders = f.open(f.options("orders"));
  auto emails = f.open(f.options("emails"));
  CHECK(TaskQueue::open(f.journal, f.options("orders")).error().code() == errc::validation);
  must(orders->enqueue("o1"));
  must(emails->enqueue("e1"));
  must(orders->enqueue("o2"));
  CHECK(must(emails->lease("w", Wait::none())).payload == "e1");
  CHECK(emails->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  CHECK(must(orders->lease("w", Wait::none())).payload == "o1");
  const auto ev = f.events();
  CHECK(ev[1].queue == "emails");
  must(orders->close());
  orders = f.open(f.options("orders"));  // the name is free again after close
  CHECK(orders->active_lease_count() == 1);
  CHECK(orders->pending_count() == 1);
}

TEST_CASE("a typed queue round-trips values and dead-letters payloads that do not decode") {
  test::QueueFixture f;
  auto typed = must(TypedTaskQueue<Order>::open(f.journal, f.options("typed")));
  const Order order{"A-1", {1, 2, 3}};
  must(typed->enqueue(order));
  auto lease = must(typed->lease("w", Wait::none()));
  CHECK(lease.value == order);
  must(typed->complete(lease.lease.token));
  must(typed->untyped().enqueue("\x01garbage"));
  auto bad = typed->lease("w", Wait::none());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == errc::codec_invalid);
  CHECK(typed->untyped().dead_letter_count() == 1);
  CHECK(typed->untyped().dead_letters()[0].error.code() == errc::codec_invalid);
}

TEST_CASE("a typed queue schedules, prioritizes, de-duplicates by key, snoozes and cancels") {
  test::QueueFixture f;
  auto typed = must(TypedTaskQueue<Order>::open(f.journal, f.options("typed")));
  EnqueueOptions later;
  later.delay = std::chrono::seconds(10);
  later.format = PayloadFormat::Json;  // ignored: a typed payload is bytes
  const std::int64_t scheduled = must(typed->enqueue_with(Order{"later", {1}}, later));
  EnqueueOptions urgent;
  urgent.priority = 5;
  must(typed->enqueue(Order{"plain", {2}}));
  const KeyedEnqueue keyed = must(typed->enqueue_keyed("order-3", Order{"keyed", {3}}, urgent));
  CHECK_FALSE(keyed.duplicate);
  CHECK(must(typed->enqueue_keyed("order-3", Order{"again", {3}})).task_id == keyed.task_id);
  const auto first = must(typed->lease("w", Wait::none()));
  CHECK(first.value.sku == "keyed");  // the highest priority first
  CHECK(must(typed->fail_and_retry_after(first.lease.token, Error("app.x", "x"), std::chrono::seconds(60))) ==
        FailOutcome::Requeued);
  CHECK(must(typed->lease("w", Wait::none())).value.sku == "plain");
  CHECK(typed->lease("w", Wait::none()).error().code() == errc::queue_timeout);  // both wait
  CHECK(must(typed->cancel(scheduled)) == CancelOutcome::WasPending);
  f.clock->advance(std::chrono::seconds(61));
  const auto retried = must(typed->lease("w", Wait::none()));
  CHECK(retried.value.sku == "keyed");
  CHECK(retried.lease.attempt == 2);
  CHECK(typed->lease("w", Wait::none()).error().code() == errc::queue_timeout);  // the canceled one is gone
}

TEST_CASE("a typed queue's batch forms round-trip values and leave undecodable tasks out") {
  test::QueueFixture f;
  auto typed = must(TypedTaskQueue<Order>::open(f.journal, f.options("typed")));
  const std::vector<Order> orders{{"A-1", {1}}, {"A-2", {2, 2}}};
  const auto ids = must(typed->enqueue_batch(orders));
  CHECK(ids.size() == 2);
  must(typed->untyped().enqueue("\x01garbage"));
  must(typed->enqueue(Order{"A-3", {3}}));

  const auto leases = must(typed->lease_batch("w", 10, Wait::none()));
  REQUIRE(leases.size() == 3);  // the garbage task was leased, dead-lettered and left out
  CHECK(leases[0].value == orders[0]);
  CHECK(leases[1].value == orders[1]);
  CHECK(leases[2].value == Order{"A-3", {3}});
  CHECK(typed->untyped().dead_letter_count() == 1);
  CHECK(typed->untyped().dead_letters()[0].error.code() == errc::codec_invalid);
  must(typed->complete_batch({leases[0].lease.token, leases[1].lease.token, leases[2].lease.token}));
  CHECK(typed->active_lease_count() == 0);

  must(typed->untyped().enqueue(std::string("\x01") + "bad"));  // too short for the string's 8-byte size
  const auto only_bad = typed->lease_batch("w", 10, Wait::none());
  REQUIRE_FALSE(only_bad.ok());
  CHECK(only_bad.error().code() == errc::codec_invalid);
  CHECK(typed->untyped().dead_letter_count() == 2);
}

TEST_CASE("Hugo's queue instruments count every operation, tagged with the queue name") {
  test::QueueFixture f;
  auto metrics = std::make_shared<MetricsRegistry>();
  auto options = f.options();
  options.metrics = metrics;
  options.max_delivery_attempts = 2;
  options.heartbeat_interval = Duration::zero();
  auto q = f.open(options);
  must(q->enqueue("a"));
  must(q->enqueue("b"));
  const Lease a = must(q->lease("w", Wait::none()));
  f.clock->advance(2s);
  (void)must(q->heartbeat(a.token));
  f.clock->advance(1s);
  must(q->complete(a.token));
  const Lease b = must(q->lease("w", Wait::none()));
  must(q->fail(b.token, Error("e", "x")));
  (void)must(q->lease("w", Wait::none()));
  f.clock->advance(1h);
  (void)must(q->sweep_expired());  // attempt 2 of 2 expires: dead-lettered
  const MetricTags tags{{"taskqueue.name", "orders"}};
  CHECK(metrics->value("taskqueue.enqueued", tags) == 2);
  CHECK(metrics->value("taskqueue.leased", tags) == 3);
  CHECK(metrics->value("taskqueue.heartbeats", tags) == 1);
  CHECK(metrics->value("taskqueue.completed", tags) == 1);
  CHECK(metrics->value("taskqueue.failed", tags) == 1);
  CHECK(metrics->value("taskqueue.requeued", tags) == 1);
  CHECK(metrics->value("taskqueue.expired", tags) == 1);
  CHECK(metrics->value("taskqueue.deadlettered", tags) == 1);
  CHECK(metrics->value("taskqueue.pending", tags) == 0);
  CHECK(metrics->value("taskqueue.active", tags) == 0);
  CHECK(metrics->count("taskqueue.lease.duration", tags) == 3);
  CHECK(metrics->count("taskqueue.heartbeat.extension", tags) == 1);
  CHECK(metrics->prometheus_text().find("taskqueue_lease_duration_sum{taskqueue_name=\"orders\"} 3603000") != std::string::npos);
}

TEST_CASE("oversized payloads are refused before they reach the journal") {
  test::QueueFixture f;
  auto q = f.open();
  CHECK(q->enqueue(std::string((8u << 20) + 1, 'x')).error().code() == errc::validation);
  CHECK(f.events().empty());
}

// The queue's state takes an enqueued payload out of the row it appended (no second copy), while
// the journal keeps its own: both the lease and the committed row hold it, and a requeue too.
TEST_CASE("an enqueued payload reaches both the lease and the journal's row") {
  test::QueueFixture f;
  auto q = f.open();
  const std::string payload(100, 'p');  // past the small-string buffer: a moved-from copy would be empty
  const std::int64_t id = must(q->enqueue(payload));
  const Lease lease = must(q->lease("w", Wait::none()));
  CHECK(lease.token.task_id == id);
  CHECK(lease.payload == payload);
  const auto recent = f.journal->read_recent(0, 10);
  REQUIRE(recent.has_value());
  REQUIRE(recent->size() == 2);
  CHECK((*recent)[0].payload == payload);
  CHECK((*recent)[0].journal_id == f.journal->journal_id());
  const auto rows = must(f.journal->read(0, 10));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].payload == payload);
  must(q->fail(lease.token, Error("app.retry", "again"), true));
  CHECK(must(q->lease("w", Wait::none())).payload == payload);
}

// fail() journals its error twice, on the Failed row and on the follow-up (Requeued, or
// DeadLettered once attempts run out), from one copy moved into the second row: both hold it whole.
TEST_CASE("fail() records the whole error on the Failed row and on its follow-up") {
  test::QueueFixture f;
  auto q = f.open();
  const Error error = Error("app.timeout", "the call timed out", {{"stage", "charge"}})
                          .with_cause(ErrorCause{"System.TimeoutException", "inner", std::string("at Foo()")});
  must(q->enqueue("task"));
  must(q->fail(must(q->lease("w", Wait::none())).token, error, true));
  must(q->fail(must(q->lease("w", Wait::none())).token, error, false));
  const auto rows = must(f.journal->read(0, 10));
  int with_error = 0;
  for (const Event& row : rows) {
    if (row.kind != K::Failed && row.kind != K::Requeued && row.kind != K::DeadLettered) continue;
    REQUIRE(row.error.has_value());
    CHECK(row.error->to_string() == error.to_string());
    ++with_error;
  }
  CHECK(with_error == 4);  // Failed, Requeued, Failed, DeadLettered
}

}  // TEST_SUITE

}  // namespace queue_operations_test
