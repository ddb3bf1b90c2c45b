// The queue is a projection of the journal: reopening rebuilds the exact state, deterministically.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>

#include "schema/sqlite.hpp"
#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"

namespace queue_recovery_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

namespace {

// Appends `tasks` task lifecycles to the fixture's "orders" queue straight through the journal,
// 64 tasks per group: Enqueued rows, then LeaseGranted, then Completed, except that every 100th
// task is left pending. Returns the pending task ids in FIFO order. Enough tasks make a history
// longer than the loader's read batch (65 536 rows) and many of its hand-over chunks.
std::vector<std::int64_t> append_long_history(Journal& journal, int tasks) {
  std::vector<std::int64_t> pending;
  std::vector<AppendTicket> tickets;
  for (int first = 0; first < tasks; first += 64) {
    const int count = std::min(64, tasks - first);
    std::vector<Event> enqueued;
    for (int i = 0; i < count; ++i) {
      enqueued.push_back(test::enqueued("orders", "p" + std::to_string(first + i)));
    }
    tickets.push_back(journal.append_group_async(enqueued));
    std::vector<Event> granted;
    for (int i = 0; i < count; ++i) {
      if ((first + i) % 100 == 0) pending.push_back(enqueued[static_cast<std::size_t>(i)].seq);
      else granted.push_back(test::lease_granted("orders", enqueued[static_cast<std::size_t>(i)].seq, 1, "w"));
    }
    tickets.push_back(journal.append_group_async(granted));
    std::vector<Event> completed;
    for (const Event& g : granted) {
      Event done;
      done.kind = EventKind::Completed;
      done.queue = "orders";
      done.task_id = g.task_id;
      done.occurred_at = g.occurred_at;
      done.token = g.token;
      completed.push_back(done);
    }
    tickets.push_back(journal.append_group_async(completed));
  }
  for (const AppendTicket& t : tickets) must(t.wait());
  return pending;
}

}  // namespace

TEST_SUITE("queue.recovery") {

TEST_CASE("a history longer than one read batch rebuilds every live task in FIFO order") {
  test::QueueFixture f;
  const std::vector<std::int64_t> pending = append_long_history(*f.journal, 30'000);  // ~89 000 rows
  auto q = f.open();
  CHECK(q->active_lease_count() == 0);
  const auto snap = q->snapshot();
  std::vector<std::int64_t> rebuilt;
  for (const auto& p : snap.pending) rebuilt.push_back(p.task_id);
  CHECK(rebuilt == pending);
  CHECK(must(q->lease("w", Wait::none())).token.task_id == pending.front());
}

TEST_CASE("a bad row deep in a long history fails the open with its seq, and nothing hangs") {
  // Early: the scanning thread is still chunks ahead when the fold fails. Late: past the first
  // read batch.
  std::int64_t after = 0;
  SUBCASE("early") { after = 5000; }
  SUBCASE("past the first read batch") { after = 70000; }
  test::QueueFixture f;
  (void)append_long_history(*f.journal, 30'000);
  f.journal.reset();
  std::int64_t expected = 0;
  {
    auto db = sql::Db::open(f.dir / "queue.journal", sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    // A Completed row becomes a LeaseGranted of a task that is leased.
    expected = db->query_int("SELECT min(seq) FROM events WHERE kind = 3 AND seq > " + std::to_string(after))
                   .value_or(0);
    REQUIRE(expected > after);
    REQUIRE(db->exec("UPDATE events SET kind = 1 WHERE seq = " + std::to_string(expected)).ok());
  }
  f.reopen_journal();
  auto q = TaskQueue::open(f.journal, f.options());
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().code() == errc::journal_corrupt);
  CHECK(*q.error().find("seq") == std::to_string(expected));
}

TEST_CASE("recovery finds each task's last error and payload from rows it did not read while scanning") {
  // Rows written straight to the journal, as an import of Hugo events could write them: a
  // Requeued row may carry its own error or none (then the Failed row's error stays), and an
  // Enqueued row may have no payload.
  test::QueueFixture f;
  Journal& j = *f.journal;
  auto lifecycle = [&](std::optional<std::string> payload, std::optional<Error> requeue_error,
                       bool dead_then_requeued) {
    Event enq = test::enqueued("orders", "");
    enq.payload = std::move(payload);
    const std::int64_t task = must(j.append(enq));
    const std::int64_t lease = must(j.append(test::lease_granted("orders", task, 1, "w")));
    const OwnershipToken token{task, 1, lease};
    Event failed;
    failed.kind = EventKind::Failed;
    failed.queue = "orders";
    failed.task_id = task;
    failed.occurred_at = test::t0();
    failed.token = token;
    failed.error = Error("app.first", "first failure");
    must(j.append(failed));
    Event next;
    next.queue = "orders";
    next.task_id = task;
    next.occurred_at = test::t0();
    next.token = token;
    if (dead_then_requeued) {
      next.kind = EventKind::DeadLettered;
      next.attempt = 1;
      next.flags = flags::DeadLetter;
      next.error = Error("app.dead", "dead letter");
      must(j.append(next));
      next.kind = EventKind::Requeued;  // an operator's requeue, without an error of its own
      next.flags = flags::None;
      next.error.reset();
    } else {
      next.kind = EventKind::Requeued;
      next.error = requeue_error;
    }
    next.attempt = 2;
    must(j.append(next));
    return task;
  };
  const std::int64_t keeps_failed = lifecycle(std::string("p1"), std::nullopt, false);
  const std::int64_t own_error = lifecycle(std::nullopt, Error("app.second", "requeue's own"), false);
  const std::int64_t was_dead = lifecycle(std::string("p3"), std::nullopt, true);

  auto q = f.open();
  const auto snap = q->snapshot();
  REQUIRE(snap.pending.size() == 3);
  CHECK(snap.pending[0].task_id == keeps_failed);
  REQUIRE(snap.pending[0].last_error);
  CHECK(snap.pending[0].last_error->code() == "app.first");
  CHECK(snap.pending[1].task_id == own_error);
  REQUIRE(snap.pending[1].last_error);
  CHECK(snap.pending[1].last_error->code() == "app.second");
  CHECK(snap.pending[2].task_id == was_dead);
  REQUIRE(snap.pending[2].last_error);
  CHECK(snap.pending[2].last_error->code() == "app.dead");
  const Lease first = must(q->lease("w2", Wait::none()));
  CHECK(first.payload == "p1");
  CHECK(first.last_error->code() == "app.first");
  const Lease second = must(q->lease("w2", Wait::none()));
  CHECK(second.payload.empty());
  CHECK(must(q->lease("w2", Wait::none())).payload == "p3");
}

TEST_CASE("reopening rebuilds pending order, attempts, last errors, leases and dead letters exactly") {
  test::QueueFixture f;
  std::string before;
  OwnershipToken live_token;
  {
    auto options = f.options();
    options.max_delivery_attempts = 2;
    auto q = f.open(options);
    for (const char* p : {"a", "b", "c", "d", "e"}) must(q->enqueue(p));
    const Lease a = must(q->lease("w1", Wait::none()));
    must(q->fail(a.token, Error("app.e", "a failed").with("why", "test")));
    const Lease b = must(q->lease("w2", Wait::none()));
    must(q->complete(b.token));
    const Lease c = must(q->lease("w3", Wait::none()));
    live_token = c.token;
    f.clock->advance(6s);
    (void)must(q->heartbeat(c.token));
    const Lease d = must(q->lease("w4", Wait::none()));
    must(q->fail(d.token, Error("app.fatal", "d is dead"), false));
    before = q->snapshot().digest;
    const auto snap = q->snapshot();
    CHECK(snap.pending.size() == 2);  // e, a
    CHECK(snap.leased.size() == 1);   // c
    CHECK(snap.dead.size() == 1);     // d
  }

  f.reopen_journal();
  auto options = f.options();
  options.max_delivery_attempts = 2;
  auto q = f.open(options);
  const auto snap = q->snapshot();
  CHECK(snap.digest == before);
  REQUIRE(snap.pending.size() == 2);
  CHECK(snap.pending[0].task_id == 5);  // e
  CHECK(snap.pending[1].task_id == 1);  // a, requeued to the tail
  CHECK(snap.pending[1].attempt == 2);
  CHECK(snap.pending[1].last_error->code() == "app.e");
  CHECK(*snap.pending[1].last_error->find("why") == "test");
  REQUIRE(snap.leased.size() == 1);
  CHECK(snap.leased[0].token == live_token);
  CHECK(snap.leased[0].owner == "w3");
  CHECK(snap.leased[0].expires_at == f.clock->now() + 30s);
  REQUIRE(snap.dead.size() == 1);
  CHECK(snap.dead[0].payload == "d");
  CHECK(snap.dead[0].error.code() == "app.fatal");

  // The lease granted before the restart still works with its token ...
  CHECK(must(q->heartbeat(live_token)).outcome == HeartbeatResult::Outcome::Throttled);
  // ... and FIFO continues where it stopped.
  CHECK(must(q->lease("w", Wait::none())).payload == "e");
  const Lease a2 = must(q->lease("w", Wait::none()));
  CHECK(a2.payload == "a");
  CHECK(a2.attempt == 2);
  CHECK(a2.last_error->message() == "a failed");
  must(q->complete(live_token));
}

TEST_CASE("a lease from before the restart expires on time and is retried with attempt + 1") {
  test::QueueFixture f;
  OwnershipToken token;
  {
    auto q = f.open();
    must(q->enqueue("job"));
    token = must(q->lease("crashed-worker", Wait::none())).token;
  }
  f.reopen_journal();
  auto q = f.open();
  CHECK(q->active_lease_count() == 1);
  f.clock->advance(29s);
  CHECK(must(q->sweep_expired()) == 0);
  f.clock->advance(1s);
  CHECK(must(q->sweep_expired()) == 1);
  CHECK(q->complete(token).error().code() == errc::lease_inactive);  // fenced
  const Lease retry = must(q->lease("new-worker", Wait::none()));
  CHECK(retry.attempt == 2);
  CHECK(retry.token.task_id == token.task_id);
  must(q->complete(retry.token));
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::LeaseGranted, K::LeaseExpired, K::Requeued, K::LeaseGranted,
                                    K::Completed});
}

TEST_CASE("restart keeps task ids and lease ids unique: numbering continues from the journal") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(q->enqueue("1"));
    must(q->complete(must(q->lease("w", Wait::none())).token));
  }
  f.reopen_journal();
  auto q = f.open();
  CHECK(must(q->enqueue("2")) == 4);
  CHECK(must(q->lease("w", Wait::none())).token.lease_id == 5);
}

TEST_CASE("folding the same journal twice yields identical state digests") {
  test::QueueFixture f;
  {
    auto options = f.options();
    options.max_delivery_attempts = 3;
    auto q = f.open(options);
    for (int i = 0; i < 200; ++i) must(q->enqueue("p" + std::to_string(i)));
    for (int i = 0; i < 150; ++i) {
      const Lease l = must(q->lease("w" + std::to_string(i % 7), Wait::none()));
      if (i % 3 == 0) must(q->complete(l.token));
      else if (i % 3 == 1) must(q->fail(l.token, Error("e", std::to_string(i))));
      if (i % 10 == 0) f.clock->advance(40s), (void)must(q->sweep_expired());
    }
  }
  f.reopen_journal();
  std::string first, second;
  {
    auto q = f.open();
    first = q->snapshot().digest;
  }
  {
    auto q = f.open();
    second = q->snapshot().digest;
  }
  CHECK(first == second);
  CHECK(first.size() == 16);
}

TEST_CASE("completed tasks cost no memory after recovery") {
  test::QueueFixture f;
  {
    auto q = f.open();
    for (int i = 0; i < 500; ++i) {
      must(q->enqueue("x"));
      must(q->complete(must(q->lease("w", Wait::none())).token));
    }
    must(q->enqueue("survivor"));
  }
  f.reopen_journal();
  auto q = f.open();
  const auto snap = q->snapshot();
  CHECK(snap.pending.size() == 1);
  CHECK(snap.leased.empty());
  CHECK(snap.dead.empty());
}

TEST_CASE("a row that is not a valid transition makes the open fail with journal.corrupt naming the seq") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(q->enqueue("x"));
    must(q->complete(must(q->lease("w", Wait::none())).token));
  }
  f.journal.reset();
  {
    auto db = sql::Db::open(f.dir / "queue.journal", sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    REQUIRE(db->exec("UPDATE events SET kind = 2 WHERE seq = 1").ok());  // Enqueued -> Heartbeat
  }
  f.reopen_journal();
  auto q = TaskQueue::open(f.journal, f.options());
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().code() == errc::journal_corrupt);
  CHECK(*q.error().find("seq") == "1");
  // The failed open released the queue's name: trying again gives the same error, not
  // "already open" (and a later journal at the same address inherits no stale claim).
  auto again = TaskQueue::open(f.journal, f.options());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == errc::journal_corrupt);
}

TEST_CASE("a Failed row without its follow-up is repaired on open by requeueing the task") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(q->enqueue("x"));
    must(q->fail(must(q->lease("w", Wait::none())).token, Error("e", "boom")));
  }
  f.journal.reset();
  {
    auto db = sql::Db::open(f.dir / "queue.journal", sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    REQUIRE(db->exec("DELETE FROM events WHERE kind = 5").ok());  // drop the Requeued row
  }
  f.reopen_journal();
  auto q = f.open();
  CHECK(q->pending_count() == 1);
  const Lease l = must(q->lease("w", Wait::none()));
  CHECK(l.attempt == 2);
  CHECK(l.last_error->message() == "boom");
}

}  // TEST_SUITE

}  // namespace queue_recovery_test
