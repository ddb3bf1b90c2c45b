// Priorities (docs/QUEUE.md, "Priorities"): lease() takes the highest priority among the leasable
// tasks, FIFO within one priority; the priority is journaled on the task's Enqueued (or Restored)
// row and kept across retries, recovery, drain and restore. Driven by a ManualClock.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include "tests/support/queue_fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"

#include <climits>

namespace queue_priority_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using test::cli::sql_int;
using test::cli::sql_surgery;

EnqueueOptions priority(std::int32_t p) {
  EnqueueOptions o;
  o.priority = p;
  return o;
}

std::vector<std::string> lease_all(TaskQueue& q) {
  std::vector<std::string> order;
  while (true) {
    auto lease = q.lease("w", Wait::none());
    if (!lease.ok()) {
      CHECK(lease.error().code() == errc::queue_timeout);
      return order;
    }
    order.push_back(lease->payload);
  }
}

TEST_SUITE("queue.priority") {

TEST_CASE("lease takes the highest priority first and FIFO within one priority") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue_with("low-1", priority(-5)));
  must(q->enqueue("zero-1"));
  must(q->enqueue_with("high-1", priority(3)));
  must(q->enqueue_with("low-2", priority(-5)));
  must(q->enqueue_with("high-2", priority(3)));
  must(q->enqueue_with("max", priority(INT32_MAX)));
  must(q->enqueue_with("min", priority(INT32_MIN)));
  must(q->enqueue("zero-2"));
  CHECK(lease_all(*q) ==
        std::vector<std::string>{"max", "high-1", "high-2", "zero-1", "zero-2", "low-1", "low-2", "min"});
  const auto ev = f.events();
  CHECK(ev[0].priority == -5);
  CHECK(ev[1].priority == 0);
  CHECK(ev[5].priority == INT32_MAX);
}

TEST_CASE("lease_batch takes tasks in the same order") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue_batch_with({"a1", "a2"}, priority(1)));
  must(q->enqueue_batch_with({"b1", "b2"}, priority(2)));
  must(q->enqueue("c"));
  const auto leases = must(q->lease_batch("w", 4, Wait::none()));
  std::vector<std::string> order;
  for (const Lease& l : leases) order.push_back(l.payload);
  CHECK(order == std::vector<std::string>{"b1", "b2", "a1", "a2"});
}

TEST_CASE("a scheduled task joins its priority when it comes due; a retry keeps its priority") {
  test::QueueFixture f;
  auto q = f.open();
  const Timestamp t0 = f.clock->now();
  EnqueueOptions urgent_later = priority(9);
  urgent_later.not_before = t0 + 10s;
  must(q->enqueue_with("urgent-later", urgent_later));
  must(q->enqueue_with("normal", priority(1)));
  must(q->enqueue_with("normal-2", priority(1)));
  CHECK(must(q->lease("w", Wait::none())).payload == "normal");  // the urgent one is not due yet
  f.clock->advance(10s);
  const Lease urgent = must(q->lease("w", Wait::none()));
  CHECK(urgent.payload == "urgent-later");
  // Failed and requeued, it is again ahead of the lower priority.
  must(q->fail(urgent.token, Error("app.retry", "again")));
  CHECK(lease_all(*q) == std::vector<std::string>{"urgent-later", "normal-2"});
}

TEST_CASE("a reopened queue, drain and restore keep every priority") {
  test::QueueFixture f;
  std::string digest;
  {
    auto q = f.open();
    must(q->enqueue_with("p2", priority(2)));
    must(q->enqueue_with("p7", priority(7)));
    must(q->enqueue("p0"));
    digest = q->snapshot().digest;
  }
  f.reopen_journal();
  auto q = f.open();
  CHECK(q->snapshot().digest == digest);
  CHECK(q->snapshot().pending[1].priority == 7);
  auto items = must(q->drain());
  REQUIRE(items.size() == 3);
  CHECK(items[0].priority == 2);
  CHECK(items[1].priority == 7);
  auto other = f.open(f.options("other"));
  must(other->restore(items));
  CHECK(f.events().back().priority == 0);
  CHECK(lease_all(*other) == std::vector<std::string>{"p7", "p2", "p0"});
  f.journal.reset();
  q.reset();
  other.reset();
  CHECK(must(verify_journal(f.dir / "queue.journal")).ok());
}

TEST_CASE("the JSON codec carries a priority; a row of another kind may not") {
  Event e;
  e.seq = 5;
  e.queue = "orders";
  e.kind = EventKind::Enqueued;
  e.task_id = 5;
  e.payload = "x";
  e.priority = -42;
  const std::string json = encode_event_json(e);
  CHECK(json.find("\"priority\":-42") != std::string::npos);
  CHECK(must(decode_event_json(json)).priority == -42);
  e.priority = 0;
  CHECK(encode_event_json(e).find("priority") == std::string::npos);  // 0 is not written
  std::string too_big = json;
  too_big.replace(too_big.find("-42"), 3, "2147483648");
  CHECK(decode_event_json(too_big).error().code() == errc::codec_invalid);

  test::QueueFixture f;
  Event raw = f.completed_row_after_one_lease();
  raw.priority = 1;
  CHECK(f.journal->append(raw).error().code() == errc::validation);
  f.journal.reset();
  const auto path = f.dir / "queue.journal";
  sql_surgery(path, "UPDATE events SET flags = flags | (1 << 32) WHERE seq = 2");  // bits 32-63: priority
  auto reader = must(JournalReader::open(path));
  const auto read = reader->read(0, 10);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code() == errc::journal_corrupt);
  CHECK(read.error().message().find("priority") != std::string::npos);
  CHECK_FALSE(must(verify_journal(path)).ok());
  // On an Enqueued row the same bits read back as its priority.
  sql_surgery(path, "UPDATE events SET flags = flags & 4294967295 WHERE seq = 2; "
                    "UPDATE events SET flags = flags | (-7 << 32) WHERE seq = 1");
  const auto events = must(reader->read(0, 10));
  CHECK(events[0].priority == -7);
  CHECK(events[0].flags == 0);
}

TEST_CASE("a version-2 journal reads as it is and is brought to the current version by a writer") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(q->enqueue("one"));
    must(q->enqueue("two"));
  }
  f.journal.reset();
  const auto path = f.dir / "queue.journal";
  sql_surgery(path, "PRAGMA user_version = 2;");
  {
    auto reader = must(JournalReader::open(path));
    const auto events = must(reader->read(0, 10));
    REQUIRE(events.size() == 2);
    CHECK(events[0].priority == 0);
    CHECK(must(verify_journal(path)).ok());
  }
  f.reopen_journal();
  auto q = f.open();
  must(q->enqueue_with("three", priority(5)));
  CHECK(sql_int(path, "PRAGMA user_version") == 5);  // migrated to the newest version
  CHECK(sql_int(path, "SELECT flags >> 32 FROM events WHERE seq = 3") == 5);
  CHECK(lease_all(*q) == std::vector<std::string>{"three", "one", "two"});
}

}  // TEST_SUITE

}  // namespace queue_priority_test
