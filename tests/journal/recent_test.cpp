// Journal::read_recent: the writer's memory of its latest commits serves the same events as the
// file, field for field, and only while it still holds them.
#include <doctest/doctest.h>

#include <hugo/journal.hpp>

#include "journal/batch_storage.hpp"
#include "journal/journal_access.hpp"
#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"

#include <vector>

namespace journal_recent_test {

using namespace hugo;
using namespace std::chrono_literals;
using hugo::test::must;
using K = EventKind;

namespace {

std::shared_ptr<Journal> open_journal(const std::filesystem::path& path, std::size_t recent_events) {
  JournalOptions options;
  options.durability = Durability::Process;
  options.recent_events = recent_events;
  return std::shared_ptr<Journal>(must(Journal::open(path, options)).release());
}

// These tests are about the row codec, not queue histories: their rows skip the raw path's
// transition check (docs/QUEUE.md, "Raw appends").
Result<std::int64_t> append_unchecked(Journal& journal, std::vector<Event> group) {
  return detail::JournalAccess::append_group_unchecked(journal, group).wait();
}

Event on_task(K kind, std::int64_t task, std::int32_t attempt) {
  Event e;
  e.kind = kind;
  e.queue = "orders";
  e.task_id = task;
  e.attempt = attempt;
  e.occurred_at = test::t0() + 1234567us;  // sub-second: microseconds survive the round trip
  return e;
}

// Every kind, and every optional field set and unset somewhere, including the fields a row does
// not store (source_peer_id, the format of an absent payload) and the token a grant implies.
std::vector<Event> every_shape() {
  std::vector<Event> events;
  events.push_back(test::enqueued("orders", "bytes \x01\x02"));              // 1
  Event json = test::enqueued("billing", R"({"amount":12})");                // 2
  json.payload_format = PayloadFormat::Json;
  json.source_peer_id = "not-stored";
  events.push_back(json);
  Event keyed = test::enqueued("orders", "");                                 // 3: empty payload, a key
  keyed.idempotency_key = "order-3";
  events.push_back(keyed);
  events.push_back(test::lease_granted("orders", 1, 1, "worker-a"));         // 4: token lease 0 -> seq
  Event bare_grant = on_task(K::LeaseGranted, 2, 1);                         // 5: no token, no owner
  events.push_back(bare_grant);
  Event beat = on_task(K::Heartbeat, 1, 1);                                  // 6
  beat.token = OwnershipToken{1, 1, 4};
  beat.lease_expiration = beat.occurred_at + 45s;
  beat.payload_format = PayloadFormat::Json;  // no payload: reads back as Bytes
  events.push_back(beat);
  Event failed = on_task(K::Failed, 1, 1);                                   // 7
  failed.token = OwnershipToken{1, 1, 4};
  failed.owner_peer_id = "worker-a";
  failed.error = Error("app.timeout", "the call timed out", {{"stage", "charge"}, {"try", "1"}})
                     .with_cause(ErrorCause{"System.TimeoutException", "inner", std::string("at Foo()")});
  events.push_back(failed);
  Event requeued = on_task(K::Requeued, 1, 2);                               // 8: token of attempt 1
  requeued.token = OwnershipToken{1, 1, 4};
  requeued.available_at = requeued.occurred_at + 2s;
  events.push_back(requeued);
  Event expired = on_task(K::LeaseExpired, 2, 1);                            // 9
  expired.token = OwnershipToken{2, 1, 5};
  expired.flags = flags::FromExpiration;
  events.push_back(expired);
  Event dead = on_task(K::DeadLettered, 2, 1);                               // 10
  dead.flags = flags::DeadLetter;
  dead.error = Error("", "no code, as Hugo's JSON may have it");
  events.push_back(dead);
  Event drained = on_task(K::Drained, 3, 1);                                 // 11
  drained.flags = flags::FromDrain;
  events.push_back(drained);
  Event restored = on_task(K::Restored, 0, 3);                               // 12: task id 0 -> seq
  restored.payload = "restored";
  restored.enqueued_at = test::t0() - 1h;
  restored.owner_peer_id = "";
  events.push_back(restored);
  Event completed = on_task(K::Completed, 1, 2);                             // 13
  completed.token = OwnershipToken{1, 2, 4};
  completed.owner_peer_id = "worker-b";
  events.push_back(completed);
  return events;
}

}  // namespace

TEST_SUITE("journal.recent") {

TEST_CASE("read_recent returns exactly what read returns, for every kind and every optional field") {
  test::TempDir dir;
  auto journal = open_journal(dir / "j.db", 4096);
  const std::vector<Event> shapes = every_shape();
  // Commits of 1, 2, 3, 4 and 3 events, so that `after` falls inside a commit as well as between.
  std::size_t next = 0;
  for (std::size_t size = 1; next < shapes.size(); ++size) {
    std::vector<Event> group(shapes.begin() + static_cast<std::ptrdiff_t>(next),
                             shapes.begin() + static_cast<std::ptrdiff_t>(std::min(shapes.size(), next + size)));
    next += group.size();
    REQUIRE(append_unchecked(*journal, group).ok());
  }
  const std::int64_t last = static_cast<std::int64_t>(shapes.size());
  REQUIRE(journal->durable_seq() == last);
  const std::vector<Event> from_file = must(journal->read(0, 100));
  REQUIRE(from_file.size() == shapes.size());
  for (std::int64_t after = 0; after <= last; ++after) {
    for (std::size_t max : {1u, 3u, 100u}) {
      CAPTURE(after);
      CAPTURE(max);
      const auto from_memory = journal->read_recent(after, max);
      REQUIRE(from_memory.has_value());
      const std::vector<Event> expected = must(journal->read(after, max));
      REQUIRE(from_memory->size() == expected.size());
      for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(expected[i].seq);
        CHECK((*from_memory)[i] == expected[i]);
      }
    }
  }
  // The cases above hold what they claim to: the row drops and adds what the comments say.
  CHECK_FALSE(from_file[1].source_peer_id.has_value());
  CHECK(from_file[5].payload_format == PayloadFormat::Bytes);
  CHECK(from_file[4].token == std::optional<OwnershipToken>(OwnershipToken{2, 1, 5}));
  CHECK(from_file[6].error->metadata().size() == 2);
  CHECK(from_file[11].task_id == 12);
}

TEST_CASE("read_recent serves only the commits memory still holds, and says so otherwise") {
  test::TempDir dir;
  auto journal = open_journal(dir / "j.db", 4);
  for (int i = 0; i < 10; ++i) REQUIRE(journal->append(test::enqueued("orders", "p" + std::to_string(i))).ok());

  CHECK_FALSE(journal->read_recent(0, 10).has_value());  // seqs 1..6 are only in the file
  CHECK_FALSE(journal->read_recent(5, 10).has_value());
  const auto tail = journal->read_recent(6, 10);
  REQUIRE(tail.has_value());
  REQUIRE(tail->size() == 4);
  CHECK(tail->front().seq == 7);
  CHECK(tail->back().seq == 10);
  CHECK(tail->back().payload == std::optional<std::string>("p9"));
  CHECK(journal->read_recent(8, 1)->size() == 1);
  CHECK(journal->read_recent(10, 10)->empty());  // nothing committed after 10 yet
  CHECK(journal->read_recent(99, 10)->empty());

  // A batch larger than the memory is not kept at all: the file serves it.
  std::vector<Event> group;
  for (int i = 0; i < 6; ++i) group.push_back(test::enqueued("orders", "g" + std::to_string(i)));
  REQUIRE(journal->append_group_async(group).wait().ok());
  CHECK_FALSE(journal->read_recent(10, 10).has_value());
  CHECK(journal->read_recent(16, 10)->empty());
  REQUIRE(journal->append(test::enqueued("orders", "after")).ok());
  CHECK(journal->read_recent(16, 10)->size() == 1);

  REQUIRE(journal->close().ok());
  CHECK_FALSE(journal->read_recent(16, 10).has_value());
}

TEST_CASE("memory is capped by bytes too: errors, stack traces and payloads count") {
  test::TempDir dir;
  auto journal = open_journal(dir / "j.db", 4096);
  REQUIRE(journal->append(test::enqueued("orders", "task")).ok());
  for (int i = 0; i < 3; ++i) {  // 6 MiB each, in the error's cause: 18 MiB > the 16 MiB cap
    Event failed = on_task(K::Failed, 1, 1);
    failed.error = Error("app.crash", "crashed").with_cause(ErrorCause{"Crash", "boom", std::string(6u << 20, 'x')});
    REQUIRE(append_unchecked(*journal, {failed}).ok());
  }
  CHECK_FALSE(journal->read_recent(0, 10).has_value());  // seq 1 and 2 gave way
  CHECK_FALSE(journal->read_recent(1, 10).has_value());
  const auto kept = journal->read_recent(2, 10);
  REQUIRE(kept.has_value());
  REQUIRE(kept->size() == 2);
  CHECK(*kept == must(journal->read(2, 10)));
}

TEST_CASE("an error that would not read back is refused at append, before it takes a seq") {
  test::TempDir dir;
  auto journal = open_journal(dir / "j.db", 4096);
  REQUIRE(journal->append(test::enqueued("orders", "task")).ok());
  REQUIRE(journal->append(test::lease_granted("orders", 1, 1, "w")).ok());
  Event failed = on_task(K::Failed, 1, 1);
  failed.token = OwnershipToken{1, 1, 2};
  failed.error = Error("app.error", std::string("cut in the middle of a character: \xc3"));
  const auto refused = journal->append(failed);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == "error.validation");
  CHECK(refused.error().message().find("UTF-8") != std::string::npos);
  failed.error = Error("app.error", "fine");
  CHECK(must(journal->append(failed)) == 3);  // the refused append used no seq
  CHECK(*journal->read_recent(0, 10) == must(journal->read(0, 10)));
}

TEST_CASE("recent_events = 0 keeps nothing in memory") {
  test::TempDir dir;
  auto journal = open_journal(dir / "j.db", 0);
  REQUIRE(journal->append(test::enqueued("orders", "x")).ok());
  CHECK_FALSE(journal->read_recent(0, 10).has_value());
  CHECK(journal->read_recent(1, 10)->empty());
}

TEST_CASE("a batch's memory is reused only by a batch it fits, and only so much of it is kept") {
  using detail::BatchStorage;
  BatchStorage storage;
  std::vector<Event> first = storage.take(8);
  first.push_back(test::enqueued("orders", "a payload longer than a short string"));
  const Event* memory = first.data();
  const std::size_t room = first.capacity();
  storage.give(std::move(first));

  std::vector<Event> reused = storage.take(room);
  CHECK(reused.empty());              // the old batch's events are gone
  CHECK(reused.data() == memory);     // in the same memory
  storage.give(std::move(reused));
  CHECK(storage.take(room * 2 + 1).data() != memory);  // too small for the new batch
  CHECK(storage.take(room / 4).data() != memory);      // more than twice what it needs
  CHECK(storage.take(room / 2).data() == memory);      // twice: kept for it

  std::vector<Event> large;
  large.reserve(BatchStorage::kMaxSpareEvents + 1);
  const Event* large_memory = large.data();
  storage.give(std::move(large));
  CHECK(storage.take(BatchStorage::kMaxSpareEvents + 1).data() != large_memory);  // not kept

  std::vector<const Event*> given;
  for (std::size_t i = 0; i < BatchStorage::kSpares + 1; ++i) {
    std::vector<Event> spare;
    spare.reserve(16);
    given.push_back(spare.data());
    storage.give(std::move(spare));
  }
  CHECK(storage.spares() == BatchStorage::kSpares);  // never more
  std::vector<const Event*> taken;
  for (std::size_t i = 0; i < BatchStorage::kSpares; ++i) taken.push_back(storage.take(16).data());
  // The newest kSpares come back, newest first: the oldest gave way.
  for (std::size_t i = 0; i < BatchStorage::kSpares; ++i) CHECK(taken[i] == given[BatchStorage::kSpares - i]);
  CHECK(storage.spares() == 0);
}

TEST_CASE("a journal's batches give their memory back, and a closed journal keeps none") {
  test::TempDir dir;
  auto journal = open_journal(dir / "j.db", 4);
  for (int i = 0; i < 4; ++i) REQUIRE(journal->append(test::enqueued("orders", "p" + std::to_string(i))).ok());
  CHECK(detail::JournalAccess::batch_spares(*journal) == 0);  // every batch still in the window
  for (int i = 4; i < 12; ++i) {
    REQUIRE(journal->append(test::enqueued("orders", "p" + std::to_string(i))).ok());
    // One left the window and the next took it. The batch that left gives its memory back when its
    // last holder drops it, which may be the thread that committed for this caller, just after
    // waking it: so the count reaches 1, rather than being 1 when append() returns.
    CHECK(test::eventually([&] { return detail::JournalAccess::batch_spares(*journal) == 1; }));
  }
  REQUIRE(journal->close().ok());
  CHECK(detail::JournalAccess::batch_spares(*journal) == 0);
}

TEST_CASE("batches in reused memory hold their own events only, and outlive the journal") {
  test::TempDir dir;
  auto journal = open_journal(dir / "j.db", 24);  // batches leave memory, and their storage is reused
  std::vector<Event> expected;
  // Groups that queue up behind each other grow one batch (Batch::make_room) before a commit.
  std::vector<AppendTicket> queued;
  for (int round = 0; round < 60; ++round) {
    std::vector<Event> group;
    for (int i = 0; i < 3; ++i) {
      group.push_back(test::enqueued("orders", "q" + std::to_string(round) + "." + std::to_string(i)));
    }
    expected.insert(expected.end(), group.begin(), group.end());
    queued.push_back(detail::JournalAccess::append_group_unchecked(*journal, group));
  }
  for (const AppendTicket& ticket : queued) REQUIRE(ticket.wait().ok());
  for (int round = 0; round < 200; ++round) {
    std::vector<Event> group;
    for (int i = 0; i <= round % 5; ++i) {
      group.push_back(test::enqueued("orders", "r" + std::to_string(round) + "." + std::to_string(i)));
    }
    expected.insert(expected.end(), group.begin(), group.end());
    REQUIRE(append_unchecked(*journal, group).ok());
  }
  const std::vector<Event> from_file = must(journal->read(0, 10'000));
  REQUIRE(from_file.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(from_file[i].seq == static_cast<std::int64_t>(i + 1));
    CHECK(from_file[i].payload == expected[i].payload);
  }
  const std::int64_t last = journal->durable_seq();
  const auto tail = journal->read_recent(last - 20, 100);
  REQUIRE(tail.has_value());
  CHECK(*tail == must(journal->read(last - 20, 100)));

  // A ticket kept past close and past the journal itself: its batch still gives its memory back.
  std::vector<Event> kept_group{test::enqueued("orders", "kept")};
  AppendTicket kept = detail::JournalAccess::append_group_unchecked(*journal, kept_group);
  REQUIRE(journal->close().ok());
  journal.reset();
  CHECK(kept.wait().ok());
}

}  // TEST_SUITE

}  // namespace journal_recent_test
