// Checkpoint value semantics (docs/REPLICATION.md, with positions that never move backwards) and the
// SQLite checkpoint store.
#include <doctest/doctest.h>

#include <hugo/checkpoint.hpp>

#include <stdexcept>

#include "tests/support/queue_fixture.hpp"

namespace sinks_checkpoint_test {

using namespace hugo;
using test::must;

TEST_SUITE("replication.checkpoint") {

TEST_CASE("Hugo's worked example") {
  const Timestamp t{std::chrono::seconds(1)};
  auto c = TaskQueueReplicationCheckpoint::empty("stream");
  CHECK(c.global_position() == 0);
  CHECK(c.updated_at() == Timestamp::min());
  CHECK_FALSE(c.should_process("peer-a", 0));  // seq <= 0 is always skipped
  c = c.advance("peer-a", 5, t);
  CHECK(c.global_position() == 5);
  CHECK_FALSE(c.should_process("peer-a", 5));
  CHECK(c.should_process("peer-a", 6));
  CHECK_FALSE(c.should_process("peer-b", 3));  // 3 <= global
  c = c.advance("peer-b", 3, t);
  CHECK(c.peer_position("peer-b") == std::optional<std::int64_t>(3));
  CHECK(c.global_position() == 5);
  c = c.advance("peer-b", 12, t);
  CHECK(c.global_position() == 12);
  CHECK_FALSE(c.should_process("peer-b", 11));
}

TEST_CASE("peer keys are case-insensitive and advancing never moves a position backwards") {
  const Timestamp t{std::chrono::seconds(1)};
  auto c = TaskQueueReplicationCheckpoint::empty("s").advance("Peer-A", 9, t);
  CHECK(c.peer_position("peer-a") == std::optional<std::int64_t>(9));
  c = c.advance("PEER-A", 4, t);  // Hugo assigned 4 here
  CHECK(c.peer_position("peer-a") == std::optional<std::int64_t>(9));
  CHECK(c.global_position() == 9);
  CHECK(c.peer_positions().size() == 1);
}

TEST_CASE("the SQLite store round-trips checkpoints per journal and never stores a lower position") {
  test::TempDir dir;
  const Timestamp t{std::chrono::seconds(7)};
  {
    auto db = must(SinkDatabase::open(dir / "sink.db"));
    auto store = must(SqliteCheckpointStore::open(db));
    CHECK_FALSE(must(store->read("s", "journal-a")).has_value());
    must(store->persist(TaskQueueReplicationCheckpoint::empty("s", "journal-a").advance("default", 10, t).advance("Peer-X", 4, t)));
    must(store->persist(TaskQueueReplicationCheckpoint::empty("s", "journal-b").advance("default", 2, t)));
    must(store->persist(TaskQueueReplicationCheckpoint::empty("s", "journal-a").advance("default", 3, t)));  // stale writer
  }
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  auto store = must(SqliteCheckpointStore::open(db));
  auto a = must(store->read("s", "journal-a"));
  REQUIRE(a.has_value());
  CHECK(a->global_position() == 10);
  CHECK(a->peer_position("default") == std::optional<std::int64_t>(10));
  CHECK(a->peer_position("peer-x") == std::optional<std::int64_t>(4));
  CHECK(a->updated_at() == t);
  CHECK(must(store->read("s", "journal-b"))->global_position() == 2);
  CHECK(must(store->list()).size() == 2);
  must(store->reset("s"));
  CHECK(must(store->list()).empty());
}

TEST_CASE("persist_moved writes the global position and the named peers only") {
  test::TempDir dir;
  const Timestamp t{std::chrono::seconds(7)};
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  auto store = must(SqliteCheckpointStore::open(db));
  auto c = TaskQueueReplicationCheckpoint::empty("s", "j").advance("peer-a", 5, t).advance("peer-b", 7, t);
  must(store->persist(c));
  // peer-b's 20 is not named: its stored 7 stays. peer-a (named in another case) moves to 9.
  c = c.advance("Peer-A", 9, t).advance("peer-b", 20, t).advance("peer-c", 11, t);
  must(store->persist_moved(c, {"PEER-A", "peer-c"}));
  auto stored = must(store->read("s", "j"));
  REQUIRE(stored.has_value());
  CHECK(stored->global_position() == 20);
  CHECK(stored->peer_position("peer-a") == std::optional<std::int64_t>(9));
  CHECK(stored->peer_position("peer-b") == std::optional<std::int64_t>(7));
  CHECK(stored->peer_position("peer-c") == std::optional<std::int64_t>(11));
  must(store->persist_moved(c.advance("peer-a", 2, t), {"peer-a"}));  // never backwards
  CHECK(must(store->read("s", "j"))->peer_position("peer-a") == std::optional<std::int64_t>(9));
}

// A sink's apply() is user code and may throw: the database must not stay "inside" a
// transaction afterwards, or the next batch would run without BEGIN and lose its atomicity.
TEST_CASE("a transaction body that throws leaves the sink database outside any transaction") {
  test::TempDir dir;
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  must(db->execute_script("CREATE TABLE t (x INTEGER)"));
  CHECK_THROWS(db->transaction([&]() -> Status {
    must(db->execute("INSERT INTO t (x) VALUES (1)", {}));
    throw std::runtime_error("apply failed");
  }));
  CHECK_FALSE(db->in_transaction());
  CHECK(sql_int(must(db->query("SELECT count(*) FROM t", {}))[0][0]) == 0);  // rolled back
  const Status failed = db->transaction([&]() -> Status {
    must(db->execute("INSERT INTO t (x) VALUES (2)", {}));
    return Error("test.fail", "roll back");
  });
  CHECK_FALSE(failed.ok());
  CHECK(sql_int(must(db->query("SELECT count(*) FROM t", {}))[0][0]) == 0);
}

}  // TEST_SUITE

}  // namespace sinks_checkpoint_test
