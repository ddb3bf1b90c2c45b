// Cancel (docs/QUEUE.md, "Cancel"): one Canceled row ends a pending, scheduled or leased task for
// good; a canceled lease is fenced; recovery, the raw append path and compaction agree. Driven by a
// ManualClock.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/journal_admin.hpp>
#include <hugo/metrics.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include "journal/queue_state.hpp"
#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"

#include <thread>

namespace queue_cancel_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

EnqueueOptions after(Duration delay) {
  EnqueueOptions o;
  o.delay = delay;
  return o;
}

TEST_SUITE("queue.cancel") {

TEST_CASE("a canceled pending task leaves the queue, is journaled once and stays gone after a reopen") {
  test::QueueFixture f;
  {
    auto q = f.open();
    const std::int64_t first = must(q->enqueue("first"));
    must(q->enqueue("second"));
    CHECK(must(q->cancel(first)) == CancelOutcome::WasPending);
    CHECK(q->pending_count() == 1);
    CHECK(must(q->lease("w", Wait::none())).payload == "second");
    CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
    const auto ev = f.events();
    REQUIRE(ev.size() == 4);
    CHECK(ev[2].kind == EventKind::Canceled);
    CHECK(ev[2].task_id == first);
    CHECK(ev[2].attempt == 1);
    CHECK_FALSE(ev[2].token.has_value());  // no lease to fence
    CHECK_FALSE(ev[2].error.has_value());  // no reason given
  }
  auto q = f.open();
  CHECK(q->pending_count() == 0);
  CHECK(q->active_lease_count() == 1);
  CHECK(must(verify_journal(f.dir / "queue.journal")).ok());
}

TEST_CASE("a canceled scheduled task is never leased, even once its time has come") {
  test::QueueFixture f;
  auto q = f.open();
  const std::int64_t later = must(q->enqueue_with("later", after(10s)));
  must(q->enqueue_with("also later", after(10s)));
  CHECK(must(q->cancel(later)) == CancelOutcome::WasPending);
  f.clock->advance(11s);
  CHECK(must(q->lease("w", Wait::none())).payload == "also later");
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
}

TEST_CASE("canceling a leased task fences its lease: heartbeat, complete and fail get lease_inactive") {
  test::QueueFixture f;
  OwnershipToken token;
  {
    auto q = f.open();
    must(q->enqueue("job"));
    token = must(q->lease("w", Wait::none())).token;
    CHECK(must(q->cancel(token.task_id, "customer withdrew the order")) == CancelOutcome::WasLeased);
    CHECK(q->active_lease_count() == 0);
    CHECK(q->pending_count() == 0);
    CHECK(q->heartbeat(token).error().code() == errc::lease_inactive);
    CHECK(q->complete(token).error().code() == errc::lease_inactive);
    CHECK(q->fail(token, Error("app.x", "x")).error().code() == errc::lease_inactive);
    f.clock->advance(1h);  // the lease's expiry passes: nothing is left to expire or requeue
    CHECK(must(q->sweep_expired()) == 0);
    CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
    const auto ev = f.events();
    REQUIRE(ev.size() == 3);
    CHECK(ev[2].kind == EventKind::Canceled);
    CHECK(ev[2].token == std::optional<OwnershipToken>(token));
    REQUIRE(ev[2].error.has_value());
    CHECK(ev[2].error->code() == errc::canceled);
    CHECK(ev[2].error->message() == "customer withdrew the order");
  }
  auto q = f.open();  // recovery agrees: the lease is gone for good
  CHECK(q->active_lease_count() == 0);
  CHECK(q->complete(token).error().code() == errc::lease_inactive);
}

TEST_CASE("cancel refuses what is not pending or leased, and a bad reason, journaling nothing") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.max_delivery_attempts = 1;
  auto q = f.open(o);
  const std::int64_t done = must(q->enqueue("done"));
  must(q->complete(must(q->lease("w", Wait::none())).token));
  const std::int64_t dead = must(q->enqueue("dead"));
  (void)must(q->fail(must(q->lease("w", Wait::none())).token, Error("app.x", "x")));
  const std::int64_t live = must(q->enqueue("live"));
  const std::int64_t rows = f.journal->last_accepted_seq();
  for (const std::int64_t task : {done, dead, std::int64_t{999}, std::int64_t{0}, std::int64_t{-1}}) {
    CAPTURE(task);
    auto refused = q->cancel(task);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::validation);
    REQUIRE(refused.error().find("task_id") != nullptr);
    CHECK(*refused.error().find("task_id") == std::to_string(task));
  }
  CHECK(q->cancel(dead).error().message().find("dead-lettered") != std::string::npos);
  CHECK(q->cancel(live, std::string(4097, 'r')).error().code() == errc::validation);
  CHECK(q->cancel(live, "\xff\xfe").error().code() == errc::validation);
  CHECK(f.journal->last_accepted_seq() == rows);
  CHECK(q->pending_count() == 1);
  CHECK(must(q->cancel(live, std::string(4096, 'r'))) == CancelOutcome::WasPending);
  CHECK(q->cancel(live).error().code() == errc::validation);  // twice: it is gone
}

TEST_CASE("a cancel makes room in a full queue, for a call that waits and for one that does not") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.capacity = 1;
  auto q = f.open(o);
  const std::int64_t first = must(q->enqueue("first"));
  CHECK(q->enqueue("second", Wait::none()).error().code() == errc::queue_full);
  std::thread waiter([&] { must(q->enqueue("second", Wait::for_duration(60s))); });
  while (detail::queue_work().blocked.load() == 0) std::this_thread::yield();
  must(q->cancel(first));
  waiter.join();
  CHECK(q->pending_count() == 1);
}

TEST_CASE("the raw append path and recovery accept only Canceled rows that are valid transitions") {
  test::QueueFixture f;
  const std::int64_t task = must(f.journal->append(test::enqueued("orders", "x")));
  Event cancel;
  cancel.kind = EventKind::Canceled;
  cancel.queue = "orders";
  cancel.task_id = task;
  cancel.occurred_at = test::t0();
  Event with_lease = cancel;
  with_lease.token = OwnershipToken{task, 1, task};  // names no lease: the task is pending
  CHECK(f.journal->append(with_lease).error().code() == errc::validation);
  Event wrong_attempt = cancel;
  wrong_attempt.attempt = 2;
  CHECK(f.journal->append(wrong_attempt).error().code() == errc::validation);
  must(f.journal->append(cancel));
  auto again = f.journal->append(cancel);  // the task is gone
  REQUIRE_FALSE(again.ok());
  REQUIRE(again.error().find("rule") != nullptr);
  CHECK(*again.error().find("rule") == "task 1 does not exist; only a pending or leased task can be canceled");
  Event lease = test::lease_granted("orders", task, 1, "w");
  CHECK(f.journal->append(lease).error().code() == errc::validation);  // never leased again
  auto q = f.open();
  CHECK(q->pending_count() == 0);
}

TEST_CASE("taskqueue.canceled counts cancels, and a canceled lease records its duration") {
  test::QueueFixture f;
  auto metrics = std::make_shared<MetricsRegistry>();
  TaskQueueOptions o = f.options();
  o.metrics = metrics;
  auto q = f.open(o);
  const MetricTags tags{{"taskqueue.name", "orders"}};
  must(q->enqueue("a"));
  const std::int64_t b = must(q->enqueue("b"));
  const Lease l = must(q->lease("w", Wait::none()));
  must(q->cancel(l.task_id()));
  must(q->cancel(b));
  CHECK(metrics->value("taskqueue.canceled", tags) == 2);
  CHECK(metrics->value("taskqueue.pending", tags) == 0);
  CHECK(metrics->value("taskqueue.active", tags) == 0);
}

TEST_CASE("compaction removes a canceled task's rows like a completed one's") {
  test::QueueFixture f;
  {
    auto q = f.open();
    const std::int64_t canceled = must(q->enqueue("canceled"));
    must(q->cancel(canceled));
    must(q->enqueue("stays"));
    must(q->close());
  }
  f.journal.reset();
  const auto compacted = must(compact_journal(f.dir / "queue.journal", 100));
  CHECK(compacted.tasks_removed == 1);
  CHECK(compacted.rows_deleted == 2);
  f.reopen_journal();
  auto q = f.open();
  CHECK(must(q->lease("w", Wait::none())).payload == "stays");
}

}  // TEST_SUITE

}  // namespace queue_cancel_test
