// Scheduled tasks (docs/QUEUE.md, "Scheduled tasks"): a task enqueued with a not-before time is
// pending but not leasable before it; the time is journaled on its Enqueued (or Restored) row, so
// recovery, drain/restore and readers of the journal all see the same schedule. Driven by a
// ManualClock, except the one case about a sleeping lease call, which needs real time to pass.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include "tests/support/queue_fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"

#include <chrono>

namespace queue_schedule_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using test::cli::sql_int;
using test::cli::sql_surgery;

EnqueueOptions at(Timestamp when) {
  EnqueueOptions o;
  o.not_before = when;
  return o;
}

EnqueueOptions after(Duration delay) {
  EnqueueOptions o;
  o.delay = delay;
  return o;
}

std::vector<std::int64_t> pending_ids(const TaskQueue& q) {
  std::vector<std::int64_t> ids;
  for (const auto& p : q.snapshot().pending) ids.push_back(p.task_id);
  return ids;
}

TEST_SUITE("queue.schedule") {

TEST_CASE("a scheduled task is pending but not leasable before its time, and its row says when") {
  test::QueueFixture f;
  auto q = f.open();
  const Timestamp t0 = f.clock->now();
  const auto later = must(q->enqueue_with("later", at(t0 + 10s)));
  const auto now = must(q->enqueue("now"));
  CHECK(q->pending_count() == 2);
  // The task due now overtakes the scheduled one, which stays first in FIFO order.
  CHECK(must(q->lease("w", Wait::none())).token.task_id == now);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(10s - 1us);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(1us);
  const Lease lease = must(q->lease("w", Wait::none()));
  CHECK(lease.token.task_id == later);
  CHECK(lease.payload == "later");
  CHECK(lease.enqueued_at == t0);  // the enqueue time, not the due time
  const auto ev = f.events();
  REQUIRE(ev.size() == 4);
  CHECK(ev[0].kind == EventKind::Enqueued);
  CHECK(ev[0].available_at == std::optional<Timestamp>(t0 + 10s));
  CHECK_FALSE(ev[1].available_at.has_value());  // an unscheduled task records nothing
}

TEST_CASE("a delay counts from the row's time; a time already reached records nothing") {
  test::QueueFixture f;
  auto q = f.open();
  const Timestamp t0 = f.clock->now();
  const auto delayed = must(q->enqueue_with("d", after(5s)));
  const auto past = must(q->enqueue_with("p", at(t0 - 1h)));
  const auto exact = must(q->enqueue_with("e", at(t0)));
  const auto ev = f.events();
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].available_at == std::optional<Timestamp>(t0 + 5s));
  CHECK_FALSE(ev[1].available_at.has_value());
  CHECK_FALSE(ev[2].available_at.has_value());
  CHECK(must(q->lease("w", Wait::none())).token.task_id == past);
  CHECK(must(q->lease("w", Wait::none())).token.task_id == exact);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(5s);
  CHECK(must(q->lease("w", Wait::none())).token.task_id == delayed);
}

TEST_CASE("bad schedules are refused with error.validation and journal nothing") {
  test::QueueFixture f;
  auto q = f.open();
  CHECK(q->enqueue_with("x", after(-1us)).error().code() == errc::validation);
  EnqueueOptions both = at(f.clock->now() + 1s);
  both.delay = 1s;
  const auto refused = q->enqueue_with("x", both);
  CHECK(refused.error().code() == errc::validation);
  CHECK(refused.error().message().find("not_before") != std::string::npos);
  CHECK(q->enqueue_batch_with({"a", "b"}, after(-1s)).error().code() == errc::validation);
  CHECK(q->enqueue_with("x", after(Duration::max())).error().code() == errc::validation);
  CHECK(q->enqueue_with("x", at(Timestamp::max())).error().code() == errc::validation);
  CHECK(must(q->enqueue_with("x", after(std::chrono::days(365'000)))) > 0);  // 999 years is fine
  must(q->drain());
  CHECK(f.events().size() == 2);  // the one accepted enqueue and its drain
  CHECK(q->pending_count() == 0);
}

TEST_CASE("tasks come due in FIFO order among themselves, whatever order their times are in") {
  test::QueueFixture f;
  auto q = f.open();
  const Timestamp t0 = f.clock->now();
  const auto c = must(q->enqueue_with("c", at(t0 + 3s)));
  const auto a = must(q->enqueue_with("a", at(t0 + 1s)));
  const auto b = must(q->enqueue_with("b", at(t0 + 2s)));
  CHECK(pending_ids(*q) == std::vector<std::int64_t>{c, a, b});  // the snapshot stays FIFO
  f.clock->advance(2s);
  const auto two = must(q->lease_batch("w", 10, Wait::none()));
  REQUIRE(two.size() == 2);
  CHECK(two[0].token.task_id == a);
  CHECK(two[1].token.task_id == b);
  f.clock->advance(5s);
  CHECK(must(q->lease("w", Wait::none())).token.task_id == c);
}

TEST_CASE("the batch form schedules every task of the batch alike") {
  test::QueueFixture f;
  auto q = f.open();
  const Timestamp t0 = f.clock->now();
  const auto ids = must(q->enqueue_batch_with({"a", "b", "c"}, at(t0 + 1min)));
  REQUIRE(ids.size() == 3);
  for (const Event& e : f.events()) CHECK(e.available_at == std::optional<Timestamp>(t0 + 1min));
  CHECK(q->lease_batch("w", 3, Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(1min);
  CHECK(must(q->lease_batch("w", 3, Wait::none())).size() == 3);
}

TEST_CASE("scheduled tasks count against capacity") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.capacity = 2;
  auto q = f.open(o);
  must(q->enqueue_with("a", after(1h)));
  must(q->enqueue_with("b", after(1h)));
  CHECK(q->enqueue("c", Wait::none()).error().code() == errc::queue_full);
}

TEST_CASE("a reopened queue keeps every schedule exactly") {
  test::QueueFixture f;
  const Timestamp t0 = f.clock->now();
  std::string digest;
  std::int64_t soon = 0, late = 0;
  {
    auto q = f.open();
    late = must(q->enqueue_with("late", at(t0 + 20s)));
    soon = must(q->enqueue_with("soon", at(t0 + 10s)));
    must(q->enqueue("now"));
    CHECK(must(q->lease("w", Wait::none())).payload == "now");
    digest = q->snapshot().digest;
  }
  f.reopen_journal();
  auto q = f.open();
  CHECK(q->snapshot().digest == digest);
  CHECK(q->snapshot().pending.front().available_at == t0 + 20s);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(10s);
  CHECK(must(q->lease("w", Wait::none())).token.task_id == soon);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(10s);
  CHECK(must(q->lease("w", Wait::none())).token.task_id == late);
  f.journal.reset();
  q.reset();
  const VerifyReport report = must(verify_journal(f.dir / "queue.journal"));
  CHECK(report.ok());
}

TEST_CASE("drain hands out a task's schedule and restore keeps it while it is in the future") {
  test::QueueFixture f;
  auto q = f.open();
  const Timestamp t0 = f.clock->now();
  must(q->enqueue_with("scheduled", at(t0 + 30s)));
  must(q->enqueue_with("overdue", at(t0 + 1s)));
  must(q->enqueue("plain"));
  f.clock->advance(2s);
  auto items = must(q->drain());
  REQUIRE(items.size() == 3);
  CHECK(items[0].available_at == std::optional<Timestamp>(t0 + 30s));
  CHECK_FALSE(items[1].available_at.has_value());  // already leasable when drained
  CHECK_FALSE(items[2].available_at.has_value());
  items[1].available_at = t0;  // a time in the past is not kept
  auto other = f.open(f.options("other"));
  must(other->restore(items));
  const auto restored = f.events();
  CHECK(restored[restored.size() - 3].available_at == std::optional<Timestamp>(t0 + 30s));
  CHECK_FALSE(restored[restored.size() - 2].available_at.has_value());
  CHECK(must(other->lease("w", Wait::none())).payload == "overdue");
  CHECK(must(other->lease("w", Wait::none())).payload == "plain");
  CHECK(other->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(28s);
  CHECK(must(other->lease("w", Wait::none())).payload == "scheduled");
}

TEST_CASE("a clock that steps back does not lease a task before its time") {
  test::QueueFixture f;
  auto q = f.open();
  const Timestamp t0 = f.clock->now();
  must(q->enqueue("b"));
  must(q->enqueue_with("c", at(t0 + 15s)));
  f.clock->set(t0 + 20s);
  CHECK(must(q->lease("w", Wait::none())).payload == "b");  // this query found c due as well
  f.clock->set(t0 + 10s);  // back before c's time
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->set(t0 + 15s);
  CHECK(must(q->lease("w", Wait::none())).payload == "c");
}

TEST_CASE("thousands of tasks scheduled ahead do not hide the one that is due") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.capacity = 5000;
  auto q = f.open(o);
  const Timestamp t0 = f.clock->now();
  std::vector<std::string> payloads(4000, "x");
  must(q->enqueue_batch_with(payloads, at(t0 + 1h)));
  const auto due = must(q->enqueue("due"));
  CHECK(must(q->lease("w", Wait::none())).token.task_id == due);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(1h);
  CHECK(must(q->lease_batch("w", 5000, Wait::none())).size() == 4000);
}

TEST_CASE("a sleeping lease call wakes when a scheduled task comes due, not at its next re-check") {
  test::TempDir dir;
  auto journal = std::shared_ptr<Journal>(must(Journal::open(dir / "j.journal")).release());
  TaskQueueOptions o;
  o.name = "orders";
  o.run_sweeper = false;
  o.sweep_interval = std::chrono::hours(1);  // the re-check a sleeping lease call falls back on
  auto q = must(TaskQueue::open(journal, o));
  const auto started = std::chrono::steady_clock::now();
  must(q->enqueue_with("soon", after(200ms)));
  const Lease lease = must(q->lease("w", Wait::for_duration(std::chrono::minutes(2))));
  CHECK(lease.payload == "soon");
  CHECK(std::chrono::steady_clock::now() - started >= 200ms);
  // It woke for the task's time, long before an hour's re-check or the two-minute deadline.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::minutes(1));
}

TEST_CASE("a version-1 journal reads as it is and is brought to the current version by a writer") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(q->enqueue("one"));
    must(q->enqueue("two"));
    must(q->lease("w", Wait::none()));
  }
  f.journal.reset();
  const auto path = f.dir / "queue.journal";
  sql_surgery(path, "ALTER TABLE events DROP COLUMN not_before; PRAGMA user_version = 1;");
  {
    auto reader = must(JournalReader::open(path));
    const auto events = must(reader->read(0, 10));
    CHECK(events.size() == 3);
    CHECK(must(verify_journal(path)).ok());
  }
  CHECK(sql_int(path, "PRAGMA user_version") == 1);  // reading never migrates
  f.reopen_journal();
  auto q = f.open();
  CHECK(q->pending_count() == 1);
  CHECK(q->active_lease_count() == 1);
  must(q->enqueue_with("three", after(1s)));
  CHECK(sql_int(path, "PRAGMA user_version") == 5);  // migrated to the newest version
  CHECK(sql_int(path, "SELECT not_before FROM events WHERE seq = 4") == 1'000'000);
}

TEST_CASE("a not-before time on a row of another kind is damage, and appending one is refused") {
  test::QueueFixture f;
  Event raw = f.completed_row_after_one_lease();
  raw.available_at = f.clock->now();
  const auto appended = f.journal->append(raw);
  CHECK(appended.error().code() == errc::validation);
  f.journal.reset();
  const auto path = f.dir / "queue.journal";
  sql_surgery(path, "UPDATE events SET not_before = 5 WHERE seq = 2");
  auto reader = must(JournalReader::open(path));
  const auto read = reader->read(0, 10);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code() == errc::journal_corrupt);
  CHECK(read.error().message().find("not_before") != std::string::npos);
  CHECK_FALSE(must(verify_journal(path)).ok());
  // A not_before so large that the time would overflow is damage too, not undefined behaviour.
  sql_surgery(path, "UPDATE events SET not_before = NULL WHERE seq = 2; "
                    "UPDATE events SET not_before = 9223372036854775807 WHERE seq = 1");
  const auto overflow = reader->read(0, 10);
  REQUIRE_FALSE(overflow.ok());
  CHECK(overflow.error().code() == errc::journal_corrupt);
  CHECK(overflow.error().message().find("out of range") != std::string::npos);
}

}  // TEST_SUITE

}  // namespace queue_schedule_test
