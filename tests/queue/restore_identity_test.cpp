// Restore keeps identities honest: one task id names one task forever (docs/QUEUE.md, "Restore
// and task identity"), on the queue, in the journal's readers and in verify.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal_admin.hpp>
#include <hugo/verify.hpp>

#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"

#include <algorithm>

namespace queue_restore_identity_test {

using namespace hugo;
using test::must;
using K = EventKind;

namespace {

const Event& last_restored(const std::vector<Event>& events) {
  auto it = std::find_if(events.rbegin(), events.rend(), [](const Event& e) { return e.kind == K::Restored; });
  REQUIRE(it != events.rend());
  return *it;
}

std::vector<std::string> checks_of(const VerifyReport& report) {
  std::vector<std::string> out;
  for (const auto& v : report.violations) out.push_back(v.check);
  return out;
}

bool has_check(const VerifyReport& report, const std::string& check) {
  const auto checks = checks_of(report);
  return std::find(checks.begin(), checks.end(), check) != checks.end();
}

}  // namespace

TEST_CASE("restoring an item whose id names a finished task starts a new task and records the original id") {
  test::QueueFixture f;
  auto q = f.open();
  const std::int64_t old_id = must(q->enqueue("old"));
  must(q->complete(must(q->lease("w", Wait::none())).token));

  PendingItem item;
  item.task_id = old_id;
  item.payload = "new";
  must(q->restore({item}));

  const Event restored = last_restored(f.events());
  CHECK(restored.task_id == restored.seq);
  CHECK(restored.task_id != old_id);
  CHECK(restored.original_task_id == std::optional<std::int64_t>(old_id));
  CHECK_FALSE(restored.token.has_value());

  // Each id names its own payload, in the queue and for every reader.
  const Lease lease = must(q->lease("w", Wait::none()));
  CHECK(lease.task_id() == restored.seq);
  CHECK(lease.payload == "new");
  auto reader = must(JournalReader::open(f.journal->path()));
  CHECK(must(reader->task_payload(old_id))->bytes == "old");
  CHECK(must(reader->task_payload(restored.seq))->bytes == "new");
  must(q->complete(lease.token));
  CHECK(must(verify_journal(f.journal->path())).ok());
}

TEST_CASE("drained items restore into a queue on a new journal, whatever their ids") {
  test::QueueFixture source;
  std::vector<PendingItem> items;
  {
    auto q = source.open();
    for (int i = 0; i < 6; ++i) must(q->enqueue("task-" + std::to_string(i)));
    for (int i = 0; i < 3; ++i) must(q->complete(must(q->lease("w", Wait::none())).token));
    items = must(q->drain());
  }
  REQUIRE(items.size() == 3);
  CHECK(items.back().task_id == 6);  // above the new journal's next seq

  test::QueueFixture target;
  auto q = target.open();
  must(q->restore(items));
  const auto events = target.events();
  REQUIRE(events.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(events[i].kind == K::Restored);
    CHECK(events[i].task_id == events[i].seq);
    CHECK(events[i].original_task_id == std::optional<std::int64_t>(items[i].task_id));
  }
  for (int i = 3; i < 6; ++i) CHECK(must(q->lease("w", Wait::none())).payload == "task-" + std::to_string(i));
}

TEST_CASE("a drained task restored into its own queue keeps its id, once") {
  test::QueueFixture f;
  auto q = f.open();
  const std::int64_t id = must(q->enqueue("a"));
  const auto items = must(q->drain());
  REQUIRE(items.size() == 1);

  must(q->restore(items));
  const Event kept = last_restored(f.events());
  CHECK(kept.task_id == id);
  CHECK_FALSE(kept.original_task_id.has_value());

  // The task is live again: the same items restored a second time are other tasks.
  must(q->restore(items));
  const Event again = last_restored(f.events());
  CHECK(again.task_id == again.seq);
  CHECK(again.original_task_id == std::optional<std::int64_t>(id));
  CHECK(q->pending_count() == 2);

  // Two copies of one drained item in one call: the first keeps the id, the second cannot.
  const auto both = must(q->drain());
  REQUIRE(both.size() == 2);
  must(q->restore({both[0], both[0]}));
  const auto events = f.events();
  CHECK(events[events.size() - 2].task_id == id);
  CHECK(events.back().original_task_id == std::optional<std::int64_t>(id));
  CHECK(must(verify_journal(f.journal->path())).ok());
}

TEST_CASE("an item keeps its id only in the queue it was drained from and with its own payload") {
  test::QueueFixture f;
  auto orders = f.open();
  auto billing = f.open(f.options("billing"));
  must(orders->enqueue("x"));
  must(orders->enqueue("y"));
  auto items = must(orders->drain());
  REQUIRE(items.size() == 2);

  must(billing->restore({items[0]}));
  const Event moved = last_restored(f.events());
  CHECK(moved.queue == "billing");
  CHECK(moved.original_task_id == std::optional<std::int64_t>(items[0].task_id));

  items[1].payload = "y, edited";
  must(orders->restore({items[1]}));
  const Event edited = last_restored(f.events());
  CHECK(edited.task_id == edited.seq);
  CHECK(edited.original_task_id == std::optional<std::int64_t>(items[1].task_id));
  CHECK(must(verify_journal(f.journal->path())).ok());
}

TEST_CASE("the original task id survives a reopen, the JSON codec and an import") {
  test::QueueFixture f;
  std::string digest;
  {
    auto q = f.open();
    const std::int64_t id = must(q->enqueue("a"));
    must(q->complete(must(q->lease("w", Wait::none())).token));
    PendingItem item;
    item.task_id = id;
    item.payload = "a again";
    must(q->restore({item}));
    digest = q->snapshot().digest;
  }
  auto q = f.open();
  CHECK(q->snapshot().digest == digest);
  const Event restored = last_restored(f.events());
  REQUIRE(restored.original_task_id.has_value());
  const std::string json = encode_event_json(restored);
  CHECK(json.find("\"originalTaskId\":1") != std::string::npos);
  CHECK(must(decode_event_json(json)) == restored);

  test::TempDir dir;
  auto importer = must(JournalImporter::create(dir / "copy.journal"));
  for (const Event& e : f.events()) must(importer->add(e));
  must(importer->finish());
  auto reader = must(JournalReader::open(dir / "copy.journal"));
  CHECK(last_restored(must(reader->read(0, 100))) == restored);
}

TEST_CASE("a raw Restored row under an original id must start a new task") {
  test::QueueFixture f;
  Event e;
  e.kind = K::Restored;
  e.queue = "orders";
  e.payload = "p";
  e.occurred_at = test::t0();
  e.original_task_id = 7;
  const std::int64_t seq = must(f.journal->append(e));
  CHECK(f.events().back().task_id == seq);
  e.task_id = seq;  // names an earlier row, not this one
  CHECK(f.journal->append(e).error().code() == errc::validation);
  e.task_id = 0;
  e.kind = K::Enqueued;
  CHECK(f.journal->append(e).error().code() == errc::validation);
}

TEST_CASE("verify reports a Restored row that reuses the id of a finished task or of another queue's task") {
  test::QueueFixture f;
  auto raw_restored = [&](const std::string& queue, std::int64_t task) {
    Event e;
    e.kind = K::Restored;
    e.queue = queue;
    e.task_id = task;
    e.payload = "reused";
    e.occurred_at = test::t0();
    return must(f.journal->append(e));
  };
  std::int64_t done = 0;
  std::int64_t drained = 0;
  {
    auto q = f.open();
    done = must(q->enqueue("done"));
    must(q->complete(must(q->lease("w", Wait::none())).token));
    drained = must(q->enqueue("drained"));
    (void)must(q->drain());
  }
  CHECK(must(verify_journal(f.journal->path())).ok());

  SUBCASE("a completed task") {
    const std::int64_t seq = raw_restored("orders", done);
    const auto report = must(verify_journal(f.journal->path()));
    REQUIRE(has_check(report, "task_identity"));
    CHECK(report.violations.front().seq == seq);
  }
  SUBCASE("another queue's task") {
    raw_restored("billing", drained);
    CHECK(has_check(must(verify_journal(f.journal->path())), "task_identity"));
  }
  SUBCASE("an id no row started") {
    raw_restored("orders", 2);  // row 2 is a LeaseGranted row
    CHECK(has_check(must(verify_journal(f.journal->path())), "task_identity"));
  }
  SUBCASE("the drained task itself, in its queue, is fine") {
    raw_restored("orders", drained);
    CHECK(must(verify_journal(f.journal->path())).ok());
  }
}

}  // namespace queue_restore_identity_test
