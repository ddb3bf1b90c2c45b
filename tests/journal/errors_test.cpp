// Bad files and failing disks: every case gives a stable error code and loses nothing committed.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "peers/replica.hpp"
#include "schema/sqlite.hpp"
#include "tests/support/events.hpp"
#include "tests/support/temp_dir.hpp"

#include <fstream>

namespace journal_errors_test {

using namespace hugo;
using hugo::test::enqueued;
using hugo::test::TempDir;

namespace {

// An owner's Enqueued row as a follower receives it: seq, task and source id all `seq`.
Event replica_event(std::int64_t seq, std::string queue = "q") {
  Event e = enqueued(std::move(queue), "x");
  e.seq = e.task_id = e.source_event_id = seq;
  e.journal_id = "j-owner";
  return e;
}

// Opening `path` as a journal and as a reader both fail with `code`; gives the writer's error.
Error refused_both_ways(const std::filesystem::path& path, std::string_view code) {
  auto journal = Journal::open(path, {});
  REQUIRE_FALSE(journal.ok());
  CHECK(journal.error().code() == code);
  auto reader = JournalReader::open(path);
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().code() == code);
  return journal.error();
}

}  // namespace

TEST_SUITE("journal.errors") {

TEST_CASE("a journal written by a newer schema version is refused with journal.schema_newer") {
  TempDir dir;
  const auto path = dir / "j.db";
  { REQUIRE(Journal::open(path, {}).ok()); }
  {
    auto db = sql::Db::open(path, sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    REQUIRE(db->exec("PRAGMA user_version = 99").ok());
  }
  const Error refused = refused_both_ways(path, errc::journal_schema_newer);
  CHECK(*refused.find("schema_version") == "99");
}

TEST_CASE("a file that is not a SQLite database gives journal.corrupt") {
  TempDir dir;
  const auto path = dir / "notes.txt";
  std::ofstream(path) << std::string(8192, 'x');
  refused_both_ways(path, errc::journal_corrupt);
}

TEST_CASE("a SQLite database that is not a journal gives journal.corrupt and is left untouched") {
  TempDir dir;
  const auto path = dir / "other.db";
  {
    auto db = sql::Db::open(path, sql::OpenMode::ReadWriteCreate, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    REQUIRE(db->exec("CREATE TABLE t(x); INSERT INTO t VALUES (1);").ok());
  }
  auto journal = Journal::open(path, {});
  REQUIRE_FALSE(journal.ok());
  CHECK(journal.error().code() == errc::journal_corrupt);
  auto db = sql::Db::open(path, sql::OpenMode::ReadOnly, std::chrono::milliseconds(1000));
  REQUIRE(db.ok());
  CHECK(db->query_int("SELECT count(*) FROM t").value_or(0) == 1);
}

TEST_CASE("opening a missing journal read-only gives journal.not_found") {
  TempDir dir;
  auto reader = JournalReader::open(dir / "missing.db");
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().code() == errc::journal_not_found);
}

TEST_CASE("disk full: journal.full for the failing and every later append, committed rows intact") {
  TempDir dir;
  const auto path = dir / "j.db";
  JournalOptions options;
  options.durability = Durability::Fsync;
  options.max_pages = 40;  // ~160 KiB
  std::int64_t last_ok = 0;
  {
    auto journal = Journal::open(path, options);
    REQUIRE(journal.ok());
    const std::string payload(1000, 'p');
    Status failure;
    for (int i = 0; i < 1000; ++i) {
      auto seq = (*journal)->append(enqueued("q", payload + std::to_string(i)));
      if (!seq.ok()) {
        failure = std::move(seq).error();
        break;
      }
      last_ok = *seq;
    }
    REQUIRE_FALSE(failure.ok());
    CHECK(failure.error().code() == errc::journal_full);
    CHECK(last_ok > 10);
    // Poisoned: later appends fail with the same code and are never reported as committed.
    auto later = (*journal)->append(enqueued("q", "small"));
    REQUIRE_FALSE(later.ok());
    CHECK(later.error().code() == errc::journal_full);
    CHECK((*journal)->health().error().code() == errc::journal_full);
    CHECK((*journal)->durable_seq() == last_ok);
  }
  // Reopening (without the cap) recovers every committed event and continues the numbering.
  auto reader = JournalReader::open(path);
  REQUIRE(reader.ok());
  auto events = (*reader)->read(0, 10000);
  REQUIRE(events.ok());
  REQUIRE(static_cast<std::int64_t>(events->size()) == last_ok);
  for (std::int64_t i = 0; i < last_ok; ++i) {
    CHECK((*events)[static_cast<std::size_t>(i)].payload ==
          std::optional<std::string>(std::string(1000, 'p') + std::to_string(i)));
  }
  auto journal = Journal::open(path, {});
  REQUIRE(journal.ok());
  auto seq = (*journal)->append(enqueued("q", "after"));
  REQUIRE(seq.ok());
  CHECK(*seq == last_ok + 1);
}

TEST_CASE("invalid events are refused with error.validation and do not consume a seq") {
  TempDir dir;
  auto journal = Journal::open(dir / "j.db", {});
  REQUIRE(journal.ok());
  Event no_queue = enqueued("", "x");
  auto refused = (*journal)->append(no_queue);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::validation);

  Event bad_json = enqueued("q", "{not json");
  bad_json.payload_format = PayloadFormat::Json;
  CHECK((*journal)->append(bad_json).error().code() == errc::validation);

  Event future_task = test::lease_granted("q", 99, 1, "w");
  CHECK((*journal)->append(future_task).error().code() == errc::validation);

  auto seq = (*journal)->append(enqueued("q", "fine"));
  REQUIRE(seq.ok());
  CHECK(*seq == 1);
}

TEST_CASE("append after close fails with journal.closed") {
  TempDir dir;
  auto journal = Journal::open(dir / "j.db", {});
  REQUIRE(journal.ok());
  REQUIRE((*journal)->close().ok());
  auto seq = (*journal)->append(enqueued("q", "x"));
  REQUIRE_FALSE(seq.ok());
  CHECK(seq.error().code() == errc::journal_closed);
}

TEST_CASE("invalid options are refused with error.validation") {
  TempDir dir;
  JournalOptions options;
  options.max_batch = 0;
  auto journal = Journal::open(dir / "j.db", options);
  REQUIRE_FALSE(journal.ok());
  CHECK(journal.error().code() == errc::validation);

  JournalOptions inverted;  // a cycle that starts above the hard limit
  inverted.wal_checkpoint_bytes = 2 << 20;
  inverted.wal_limit_bytes = 1 << 20;
  auto refused = Journal::open(dir / "j.db", inverted);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::validation);

  JournalOptions small_limit;  // the default cycle (48 MiB under Process) shrinks to fit
  small_limit.durability = Durability::Process;
  small_limit.wal_limit_bytes = 1 << 20;
  CHECK(Journal::open(dir / "j.db", small_limit).ok());
}

// A replica batch that fails rolls back the names it added; the retry must not reuse their
// cached ids (its rows would point at a name that does not exist).
TEST_CASE("a failed replica batch leaves no stale name ids: the retried rows read back with their queue") {
  TempDir dir;
  const auto path = dir / "replica.db";
  {
    auto store = replica::Store::open(path, kDefaultBusyTimeout);
    REQUIRE(store.ok());
    REQUIRE((*store)->adopt(replica::OwnerIdentity{"j-owner", 1, "1:0", 1}).ok());
    const Event first = replica_event(1, "fresh-queue");
    CHECK_FALSE((*store)->apply({first, first}, 7).ok());  // the same seq twice: the batch fails
    CHECK((*store)->position().seq == 0);
    REQUIRE((*store)->apply({first}, 7).ok());
  }
  auto reader = JournalReader::open(path);
  REQUIRE(reader.ok());
  auto events = (*reader)->read(0, 10);
  REQUIRE_MESSAGE(events.ok(), (events.ok() ? "" : events.error().to_string()));
  REQUIRE(events->size() == 1);
  CHECK(events->at(0).queue == "fresh-queue");
}

TEST_CASE("a batch that fails inside a multi-row INSERT writes nothing, and its retry reads back whole") {
  // 40 rows are written as a 32-row and an 8-row statement; every row has a new queue name, so
  // names are interned while a statement is bound. A duplicate seq inside the 32-row statement
  // fails the batch.
  TempDir dir;
  const auto path = dir / "replica.db";
  std::vector<Event> batch;
  for (std::int64_t seq = 1; seq <= 40; ++seq) batch.push_back(replica_event(seq, "queue-" + std::to_string(seq)));
  {
    auto store = replica::Store::open(path, kDefaultBusyTimeout);
    REQUIRE(store.ok());
    REQUIRE((*store)->adopt(replica::OwnerIdentity{"j-owner", 1, "1:0", 40}).ok());
    std::vector<Event> broken = batch;
    broken[20] = replica_event(20, "queue-20");  // seq 20 twice, the second at row 21
    CHECK_FALSE((*store)->apply(broken, 7).ok());
    CHECK((*store)->position().seq == 0);
    REQUIRE((*store)->apply(batch, 7).ok());
  }
  auto reader = JournalReader::open(path);
  REQUIRE(reader.ok());
  auto events = (*reader)->read(0, 100);
  REQUIRE_MESSAGE(events.ok(), (events.ok() ? "" : events.error().to_string()));
  REQUIRE(events->size() == 40);
  for (std::size_t i = 0; i < events->size(); ++i) {
    CAPTURE(i);
    CHECK(events->at(i).seq == static_cast<std::int64_t>(i + 1));
    CHECK(events->at(i).queue == "queue-" + std::to_string(i + 1));
  }
}

TEST_CASE("a replica whose -shm is deleted under its follower refuses the next batch with journal.shm_missing, unwritten") {
  TempDir dir;
  const auto path = dir / "replica.db";
  const Event first = replica_event(1);
  const Event second = replica_event(2);
  {
    auto store = replica::Store::open(path, kDefaultBusyTimeout);
    REQUIRE(store.ok());
    REQUIRE((*store)->adopt(replica::OwnerIdentity{"j-owner", 1, "1:0", 2}).ok());
    REQUIRE((*store)->apply({first}, 1).ok());
    REQUIRE(std::filesystem::remove(path.string() + "-shm"));
    const Status refused = (*store)->apply({second}, 2);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::journal_shm_missing);
    CHECK((*store)->position().seq == 1);
  }
  auto reader = JournalReader::open(path);
  REQUIRE(reader.ok());
  auto events = (*reader)->read(0, 10);
  REQUIRE(events.ok());
  CHECK(events->size() == 1);
}

}  // TEST_SUITE

}  // namespace journal_errors_test
