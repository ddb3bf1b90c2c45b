// The queue is a projection of the journal: reopening rebuilds the exact state, deterministically.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>

#include "journal/sqlite.hpp"
#include "tests/support/queue_fixture.hpp"

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

TEST_SUITE("queue.recovery") {

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
