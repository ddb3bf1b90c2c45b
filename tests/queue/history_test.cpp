// A queue's history can only be made of valid transitions: the raw append path refuses the
// others, and a journal damaged by other means opens in RecoveryMode::SkipInvalid (docs/QUEUE.md,
// "Raw appends" and "Recovery").
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/verify.hpp>
#include <hugo/metrics.hpp>

#include "journal/journal_access.hpp"
#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"

#include <atomic>
#include <thread>

namespace queue_history_test {

using namespace hugo;
using test::must;
using K = EventKind;

namespace {

Event on_lease(K kind, std::string queue, std::int64_t task, std::int32_t attempt, std::int64_t lease) {
  Event e;
  e.kind = kind;
  e.queue = std::move(queue);
  e.task_id = task;
  e.attempt = attempt;
  e.occurred_at = test::t0();
  e.token = OwnershipToken{task, attempt, lease};
  return e;
}

// Stores `events` without the raw path's check: a journal damaged by other means.
void store_unchecked(Journal& journal, std::vector<Event> events) {
  must(detail::JournalAccess::append_group_unchecked(journal, events).wait());
}

}  // namespace

TEST_SUITE("queue.history") {

TEST_CASE("a Completed for a lease that never existed is refused at append, and the queue still opens") {
  test::QueueFixture f;
  const std::int64_t task = must(f.journal->append(test::enqueued("orders", "x")));
  // Lease 1 names a row that exists (the Enqueued row) but granted nothing.
  const auto refused = f.journal->append(on_lease(K::Completed, "orders", task, 1, 1));
  REQUIRE_FALSE(refused.ok());
  CAPTURE(refused.error().to_string());
  CHECK(refused.error().code() == errc::validation);
  REQUIRE(refused.error().find("rule") != nullptr);
  CHECK(*refused.error().find("rule") == "lease 1 of task 1 is not active");
  CHECK(refused.error().message().find("Completed of task 1 in queue 'orders'") != std::string::npos);
  CHECK(f.journal->last_accepted_seq() == task);  // the refused event took no seq
  auto q = f.open();
  CHECK(q->pending_count() == 1);
}

TEST_CASE("valid lifecycles appended raw, one event at a time or in groups, are accepted") {
  test::QueueFixture f;
  const std::int64_t task = must(f.journal->append(test::enqueued("orders", "x")));
  const std::int64_t lease = must(f.journal->append(test::lease_granted("orders", task, 1, "w")));
  Event beat = on_lease(K::Heartbeat, "orders", task, 1, lease);
  beat.lease_expiration = test::t0() + std::chrono::seconds(60);
  must(f.journal->append(beat));
  Event failed = on_lease(K::Failed, "orders", task, 1, lease);
  failed.error = Error("app.boom", "boom");
  Event requeued = on_lease(K::Requeued, "orders", task, 2, lease);
  std::vector<Event> group{failed, requeued, test::enqueued("orders", "y")};
  must(f.journal->append_group_async(group).wait());
  const std::int64_t second = group[2].seq;
  std::vector<Event> whole{test::lease_granted("orders", second, 1, "w")};
  must(f.journal->append_group_async(whole).wait());
  must(f.journal->append(on_lease(K::Completed, "orders", second, 1, whole[0].seq)));
  auto q = f.open();
  const QueueSnapshot s = q->snapshot();
  REQUIRE(s.pending.size() == 1);
  CHECK(s.pending[0].task_id == task);
  CHECK(s.pending[0].attempt == 2);
  CHECK(s.skipped.empty());
}

TEST_CASE("a group with one invalid event is refused whole, and the next check starts from the rows") {
  test::QueueFixture f;
  const std::int64_t task = must(f.journal->append(test::enqueued("orders", "x")));
  std::vector<Event> group{test::lease_granted("orders", task, 1, "w"), on_lease(K::Completed, "orders", task, 1, 1)};
  const auto refused = f.journal->append_group_async(group).wait();
  REQUIRE_FALSE(refused.ok());
  CAPTURE(refused.error().to_string());
  CHECK(refused.error().code() == errc::validation);
  REQUIRE(refused.error().find("index") != nullptr);
  CHECK(*refused.error().find("index") == "1");
  CHECK(f.journal->last_accepted_seq() == task);
  CHECK(f.events().size() == 1);
  // The grant the refused group folded is forgotten: granting the task again is valid.
  const std::int64_t lease = must(f.journal->append(test::lease_granted("orders", task, 1, "w")));
  must(f.journal->append(on_lease(K::Completed, "orders", task, 1, lease)));
  auto q = f.open();
  CHECK(q->pending_count() == 0);
}

TEST_CASE("an Enqueued that names a task other than its own seq is refused") {
  test::QueueFixture f;
  must(f.journal->append(test::enqueued("orders", "x")));
  Event e = test::enqueued("orders", "y");
  e.task_id = 1;  // an earlier row: the row codec takes it, the queue could not
  const auto refused = f.journal->append(e);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::validation);
  CHECK(f.journal->last_accepted_seq() == 1);
  auto q = TaskQueue::open(f.journal, f.options());
  REQUIRE(q.ok());
  CHECK((*q)->pending_count() == 1);
}

TEST_CASE("the check sees the rows a TaskQueue wrote, and refuses lifecycle rows for a queue open here") {
  test::QueueFixture f;
  OwnershipToken token;
  {
    auto q = f.open();
    must(q->enqueue("x"));
    token = must(q->lease("w", Wait::none())).token;
    const auto refused = f.journal->append(on_lease(K::Completed, "orders", token.task_id, 1, token.lease_id));
    REQUIRE_FALSE(refused.ok());
    CAPTURE(refused.error().to_string());
    CHECK(refused.error().code() == errc::validation);
    REQUIRE(refused.error().find("rule") != nullptr);
    CHECK(refused.error().find("rule")->find("open as a TaskQueue") != std::string::npos);
    must(f.journal->append(test::enqueued("orders", "plain enqueues are fine")));
  }
  // Closed: the raw path may finish the lease the queue granted, but only once.
  must(f.journal->append(on_lease(K::Completed, "orders", token.task_id, 1, token.lease_id)));
  CHECK_FALSE(f.journal->append(on_lease(K::Completed, "orders", token.task_id, 1, token.lease_id)).ok());
  auto q = f.open();
  CHECK(q->pending_count() == 1);
  CHECK(q->active_lease_count() == 0);
}

TEST_CASE("raw lifecycles stay valid while a TaskQueue on another queue keeps appending") {
  test::QueueFixture f;
  auto busy = f.open(f.options("busy"));
  std::atomic<bool> stop{false};
  std::atomic<bool> worker_failed{false};
  std::thread worker([&] {
    while (!stop.load()) {
      auto lease = busy->enqueue("w").ok() ? busy->lease("w", Wait::none()) : Result<Lease>(Error("test", "enqueue"));
      if (!lease.ok() || !busy->complete(lease->token).ok()) {
        worker_failed = true;
        return;
      }
    }
  });
  int accepted = 0;
  for (int i = 0; i < 200; ++i) {
    // Every raw check must fold the busy queue's rows, committed or still in flight.
    const std::int64_t task = f.journal->append_async(test::enqueued("orders", "r")).seq;
    const std::int64_t lease = f.journal->append_async(test::lease_granted("orders", task, 1, "w")).seq;
    const auto done = f.journal->append_async(on_lease(K::Completed, "orders", task, 1, lease)).wait();
    if (done.ok()) ++accepted;
    else FAIL_CHECK(done.error().to_string());
  }
  stop = true;
  worker.join();
  CHECK(accepted == 200);
  CHECK_FALSE(worker_failed.load());
  busy.reset();
  f.reopen_journal();
  CHECK(f.open()->pending_count() == 0);
  CHECK(f.open(f.options("busy"))->pending_count() == 0);
}

TEST_CASE("with no recent events in memory the check catches up from the file") {
  test::TempDir dir;
  JournalOptions options;
  options.durability = Durability::Process;
  options.recent_events = 0;
  auto journal = std::shared_ptr<Journal>(must(Journal::open(dir / "j.db", options)).release());
  TaskQueueOptions qo;
  qo.name = "orders";
  qo.run_sweeper = false;
  OwnershipToken token;
  {
    auto q = must(TaskQueue::open(journal, qo));
    for (int i = 0; i < 50; ++i) must(q->enqueue("x"));
    token = must(q->lease("w", Wait::none())).token;
  }
  must(journal->append(on_lease(K::Completed, "orders", token.task_id, 1, token.lease_id)));
  const auto again = journal->append(on_lease(K::Completed, "orders", token.task_id, 1, token.lease_id));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == errc::validation);
  CHECK(must(TaskQueue::open(journal, qo))->pending_count() == 49);
}

TEST_CASE("a damaged history fails a strict open naming the seq and rule, and opens with SkipInvalid") {
  test::QueueFixture f;
  const std::int64_t task = must(f.journal->append(test::enqueued("orders", "x")));
  store_unchecked(*f.journal, {on_lease(K::Completed, "orders", task, 1, 1)});  // seq 2: no such lease
  must(f.journal->append(test::enqueued("orders", "y")));                        // seq 3
  auto strict = TaskQueue::open(f.journal, f.options());
  REQUIRE_FALSE(strict.ok());
  CHECK(strict.error().code() == errc::journal_corrupt);
  REQUIRE(strict.error().find("rule") != nullptr);
  CHECK(*strict.error().find("seq") == "2");
  CHECK(*strict.error().find("rule") == "lease 1 of task 1 is not active");

  auto metrics = std::make_shared<MetricsRegistry>();
  TaskQueueOptions o = f.options();
  o.recovery = RecoveryMode::SkipInvalid;
  o.metrics = metrics;
  auto q = f.open(o);
  const auto skipped = q->skipped_rows();
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0].seq == 2);
  CHECK(skipped[0].task_id == task);
  CHECK(skipped[0].kind == K::Completed);
  CHECK(skipped[0].rule == "lease 1 of task 1 is not active");
  CHECK(metrics->value("taskqueue.recovery.skipped", {{"taskqueue.name", "orders"}}) == 1);
  CHECK(q->pending_count() == 2);  // as if the bad row were not there
  CHECK(q->snapshot().skipped.size() == 1);
  // The queue works on, and its new rows are valid after the skipped one.
  auto lease = must(q->lease("w", Wait::none()));
  CHECK(lease.task_id() == task);
  must(q->complete(lease.token));

  const auto projected = must(project_journal(f.dir / "queue.journal", RecoveryMode::SkipInvalid));
  REQUIRE(projected.count("orders") == 1);
  CHECK(projected.at("orders").skipped.size() == 1);
  CHECK(projected.at("orders").pending.size() == 1);
  CHECK_FALSE(project_journal(f.dir / "queue.journal").ok());
}

TEST_CASE("a raw check skips stored rows that are not valid transitions, as SkipInvalid does") {
  test::QueueFixture f;
  const std::int64_t task = must(f.journal->append(test::enqueued("orders", "x")));
  store_unchecked(*f.journal, {on_lease(K::Completed, "orders", task, 1, 1)});
  const std::int64_t lease = must(f.journal->append(test::lease_granted("orders", task, 1, "w")));
  must(f.journal->append(on_lease(K::Completed, "orders", task, 1, lease)));
  TaskQueueOptions o = f.options();
  o.recovery = RecoveryMode::SkipInvalid;
  auto q = f.open(o);
  CHECK(q->pending_count() == 0);
  CHECK(q->skipped_rows().size() == 1);
}

}  // TEST_SUITE

}  // namespace queue_history_test
