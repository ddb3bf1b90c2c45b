// Idempotency keys (docs/QUEUE.md, "Idempotency keys"): enqueue_keyed returns the task holding a
// key while it is live and for key_retention after it finished; the key index is rebuilt on
// recovery and kept through compaction. Driven by a ManualClock.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/journal_admin.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"

namespace queue_key_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using test::cli::sql_int;
using test::cli::sql_surgery;

TaskQueueOptions retaining(const test::QueueFixture& f, Duration retention) {
  TaskQueueOptions o = f.options();
  o.key_retention = retention;
  return o;
}

TEST_SUITE("queue.key") {

TEST_CASE("a second enqueue with a live task's key returns that task and journals nothing") {
  test::QueueFixture f;
  auto q = f.open();
  const KeyedEnqueue first = must(q->enqueue_keyed("order-7", "charge 7"));
  CHECK_FALSE(first.duplicate);
  const std::int64_t rows = f.journal->last_accepted_seq();
  const KeyedEnqueue again = must(q->enqueue_keyed("order-7", "charge 7 again"));
  CHECK(again.duplicate);
  CHECK(again.task_id == first.task_id);
  CHECK(f.journal->last_accepted_seq() == rows);
  CHECK(q->pending_count() == 1);
  CHECK_FALSE(must(q->enqueue_keyed("order-8", "charge 8")).duplicate);  // another key
  const auto ev = f.events();
  CHECK(ev[0].idempotency_key == std::optional<std::string>("order-7"));
  CHECK_FALSE(ev[0].error.has_value());
  CHECK(sql_int(f.dir / "queue.journal", "SELECT flags & 2048 FROM events WHERE seq = 1") == 2048);
  const QueueSnapshot s = q->snapshot();
  CHECK(s.pending[0].key == std::optional<std::string>("order-7"));

  const Lease l = must(q->lease("w", Wait::none()));
  CHECK(must(q->enqueue_keyed("order-7", "x")).task_id == first.task_id);  // leased: still live
  must(q->fail(l.token, Error("app.x", "retry")));
  CHECK(must(q->enqueue_keyed("order-7", "x")).task_id == first.task_id);  // requeued: still live
}

TEST_CASE("a finished task's key de-duplicates for key_retention, then a new task takes it") {
  test::QueueFixture f;
  auto q = f.open(retaining(f, 10min));
  const std::int64_t first = must(q->enqueue_keyed("k", "one")).task_id;
  must(q->complete(must(q->lease("w", Wait::none())).token));
  f.clock->advance(10min - 1us);
  const KeyedEnqueue within = must(q->enqueue_keyed("k", "two"));
  CHECK(within.duplicate);
  CHECK(within.task_id == first);
  f.clock->advance(1us);
  const KeyedEnqueue after = must(q->enqueue_keyed("k", "two"));
  CHECK_FALSE(after.duplicate);
  CHECK(after.task_id != first);
}

TEST_CASE("with key_retention 0 a key is free once its task finishes, however it finished") {
  test::QueueFixture f;
  TaskQueueOptions o = retaining(f, Duration::zero());
  o.max_delivery_attempts = 1;
  auto q = f.open(o);
  // Completed, canceled, dead-lettered, drained: each frees the key at once.
  const std::int64_t a = must(q->enqueue_keyed("k", "a")).task_id;
  must(q->complete(must(q->lease("w", Wait::none())).token));
  const std::int64_t b = must(q->enqueue_keyed("k", "b")).task_id;
  CHECK(b != a);
  must(q->cancel(b));
  const std::int64_t c = must(q->enqueue_keyed("k", "c")).task_id;
  CHECK(c != b);
  (void)must(q->fail(must(q->lease("w", Wait::none())).token, Error("app.x", "x")));
  const std::int64_t d = must(q->enqueue_keyed("k", "d")).task_id;
  CHECK(d != c);
  must(q->drain());
  CHECK_FALSE(must(q->enqueue_keyed("k", "e")).duplicate);
}

TEST_CASE("a duplicate on a full queue returns at once instead of waiting for room") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.capacity = 1;
  auto q = f.open(o);
  const std::int64_t held = must(q->enqueue_keyed("k", "a")).task_id;
  CHECK(q->enqueue_keyed("other", "b", {}, Wait::none()).error().code() == errc::queue_full);
  const KeyedEnqueue dup = must(q->enqueue_keyed("k", "c", {}, Wait::none()));
  CHECK(dup.duplicate);
  CHECK(dup.task_id == held);
}

TEST_CASE("the key index is rebuilt on reopen: live keys and finished ones within the retention") {
  test::QueueFixture f;
  std::int64_t live = 0;
  std::int64_t done = 0;
  {
    auto q = f.open(retaining(f, 1h));
    live = must(q->enqueue_keyed("live", "a")).task_id;
    done = must(q->enqueue_keyed("done", "b")).task_id;
    must(q->lease("w", Wait::none()));
    must(q->complete(must(q->lease("w", Wait::none())).token));
  }
  f.clock->advance(30min);
  {
    auto q = f.open(retaining(f, 1h));
    CHECK(must(q->enqueue_keyed("live", "x")).task_id == live);
    CHECK(must(q->enqueue_keyed("done", "x")).task_id == done);
    CHECK(q->snapshot().leased[0].key == std::optional<std::string>("live"));
  }
  f.clock->advance(31min);  // "done" finished 61 minutes ago
  auto q = f.open(retaining(f, 1h));
  CHECK(must(q->enqueue_keyed("live", "x")).task_id == live);
  CHECK_FALSE(must(q->enqueue_keyed("done", "x")).duplicate);
  CHECK(must(verify_journal(f.dir / "queue.journal")).ok());
}

TEST_CASE("an operator's requeue of a dead letter takes its key back, unless another task took it") {
  test::QueueFixture f;
  TaskQueueOptions o = retaining(f, Duration::zero());
  o.max_delivery_attempts = 1;
  auto q = f.open(o);
  const std::int64_t first = must(q->enqueue_keyed("k", "a")).task_id;
  (void)must(q->fail(must(q->lease("w", Wait::none())).token, Error("app.x", "x")));
  must(q->requeue_dead_letter(first));
  CHECK(must(q->enqueue_keyed("k", "b")).task_id == first);  // live again, with its key
  (void)must(q->fail(must(q->lease("w", Wait::none())).token, Error("app.x", "x")));
  const std::int64_t second = must(q->enqueue_keyed("k", "c")).task_id;  // the key is free: taken
  must(q->requeue_dead_letter(first));
  CHECK(must(q->enqueue_keyed("k", "d")).task_id == second);  // one live task per key
  const QueueSnapshot s = q->snapshot();
  REQUIRE(s.pending.size() == 2);
  CHECK(s.pending[0].key == std::optional<std::string>("k"));  // the second task
  CHECK(s.pending[0].task_id == second);
  CHECK_FALSE(s.pending[1].key.has_value());  // the requeued one went on without its key
  auto replica = f.open(f.options("orders-copy"));  // another queue: its own keys
  CHECK_FALSE(must(replica->enqueue_keyed("k", "e")).duplicate);
}

TEST_CASE("bad keys are refused with nothing journaled") {
  test::QueueFixture f;
  auto q = f.open();
  for (const std::string& key : {std::string(), std::string(1025, 'k'), std::string("a\0b", 3), std::string("\xff")}) {
    CAPTURE(key.size());
    CHECK(q->enqueue_keyed(key, "x").error().code() == errc::validation);
  }
  CHECK(f.journal->last_accepted_seq() == 0);
  CHECK_FALSE(must(q->enqueue_keyed(std::string(1024, 'k'), "x")).duplicate);
}

TEST_CASE("the raw append path refuses a second live task with a key, and keys on other rows") {
  test::QueueFixture f;
  Event first = test::enqueued("orders", "a");
  first.idempotency_key = "k";
  must(f.journal->append(first));
  Event second = test::enqueued("orders", "b");
  second.idempotency_key = "k";
  auto refused = f.journal->append(second);
  REQUIRE_FALSE(refused.ok());
  REQUIRE(refused.error().find("rule") != nullptr);
  CHECK(*refused.error().find("rule") == "idempotency key 'k' is held by live task 1");
  Event with_error = test::enqueued("orders", "c");
  with_error.idempotency_key = "other";
  with_error.error = Error("app.x", "x");
  CHECK(f.journal->append(with_error).error().code() == errc::validation);
  Event lease = test::lease_granted("orders", 1, 1, "w");
  lease.idempotency_key = "k";
  CHECK(f.journal->append(lease).error().code() == errc::validation);
  CHECK(f.journal->last_accepted_seq() == 1);
}

TEST_CASE("a damaged key is journal.corrupt on open and a verify violation") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(q->enqueue_keyed("k", "a"));
  }
  f.journal.reset();
  const auto path = f.dir / "queue.journal";
  sql_surgery(path, "UPDATE events SET error = NULL WHERE seq = 1");
  f.reopen_journal();
  auto opened = TaskQueue::open(f.journal, f.options());
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code() == errc::journal_corrupt);
  CHECK(opened.error().message().find("idempotency key is missing") != std::string::npos);
  CHECK_FALSE(must(verify_journal(path)).ok());
}

TEST_CASE("compaction keeps a keyed task while its key is retained, then removes it") {
  test::QueueFixture f;
  const auto path = f.dir / "queue.journal";
  {
    auto q = f.open(retaining(f, 1h));
    must(q->enqueue_keyed("k", "keyed"));
    must(q->complete(must(q->lease("w", Wait::none())).token));
    must(q->enqueue("plain"));
    must(q->complete(must(q->lease("w", Wait::none())).token));
    f.clock->advance(30min);
    must(q->enqueue("newest"));
  }
  f.journal.reset();
  CHECK(must(compact_journal(path, 100, {}, kDefaultBusyTimeout, 1h)).tasks_removed == 1);  // the plain one
  f.reopen_journal();
  {
    auto q = f.open(retaining(f, 1h));
    CHECK(must(q->enqueue_keyed("k", "again")).duplicate);  // the retained key survived compaction
  }
  f.journal.reset();
  CHECK(must(compact_journal(path, 100, {}, kDefaultBusyTimeout, 10min)).tasks_removed == 1);  // retention passed
  f.reopen_journal();
  auto q = f.open(retaining(f, 1h));
  CHECK_FALSE(must(q->enqueue_keyed("k", "again")).duplicate);
}

}  // TEST_SUITE

}  // namespace queue_key_test
