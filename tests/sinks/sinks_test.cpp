// Sinks: Hugo's checkpointing outcomes, exactly-once transactional apply, the built-ins, and the
// deterministic coordinator.
#include <doctest/doctest.h>

#include <hugo/coordinator.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/sinks.hpp>

#include "tests/support/eventually.hpp"
#include "tests/support/queue_fixture.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sinks_sinks_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

namespace {

Event event(std::int64_t seq, std::optional<std::string> owner, std::string journal = "j1") {
  Event e;
  e.seq = seq;
  e.queue = "q";
  e.task_id = seq;
  e.owner_peer_id = std::move(owner);
  e.journal_id = std::move(journal);
  e.occurred_at = Timestamp{std::chrono::seconds(100)};
  return e;
}

class RecordingSink final : public CheckpointingTaskQueueReplicationSink {
 public:
  using CheckpointingTaskQueueReplicationSink::CheckpointingTaskQueueReplicationSink;
  std::vector<std::int64_t> applied;
  std::int64_t fail_at = -1;

 protected:
  Status apply(const Event& e) override {
    if (e.seq == fail_at) return Error("app.sink", "downstream refused");
    applied.push_back(e.seq);
    return ok_status();
  }
};

// Counts reads so Hugo's "exactly one ReadAsync" outcome can be checked.
class CountingStore final : public CheckpointStore {
 public:
  explicit CountingStore(std::shared_ptr<CheckpointStore> inner) : inner_(std::move(inner)) {}
  int reads = 0;
  Result<std::optional<TaskQueueReplicationCheckpoint>> read(const std::string& s, const std::string& j) override {
    ++reads;
    return inner_->read(s, j);
  }
  Status persist(const TaskQueueReplicationCheckpoint& c) override { return inner_->persist(c); }
  Result<std::vector<TaskQueueReplicationCheckpoint>> list() override { return inner_->list(); }

 private:
  std::shared_ptr<CheckpointStore> inner_;
};

class EventLogSink final : public TransactionalSink {
 public:
  using TransactionalSink::TransactionalSink;
  std::int64_t fail_at = -1;

 protected:
  Status initialize(SinkDatabase& db) override {
    return db.execute_script("CREATE TABLE IF NOT EXISTS applied (journal_id TEXT, seq INTEGER)");
  }
  Status apply(SinkDatabase& db, const Event& e) override {
    HUGO_TRY(db.execute("INSERT INTO applied (journal_id, seq) VALUES (?1, ?2)", {*e.journal_id, e.seq}));
    if (e.seq == fail_at) return Error("app.sink", "constraint failed after the insert");
    return ok_status();
  }
};

SinkOptions sink_options(std::shared_ptr<ManualClock> clock, std::string stream = "stream-1") {
  SinkOptions o;
  o.stream_id = std::move(stream);
  o.clock = std::move(clock);
  return o;
}

}  // namespace

TEST_SUITE("replication.sinks") {

TEST_CASE("a sink database opens at the requested durability and refuses a checkpoint size above its limit") {
  test::TempDir dir;
  auto full = SinkDatabase::open(dir / "full.db");
  REQUIRE(full.ok());
  CHECK(sql_int(must((*full)->query("PRAGMA synchronous")).at(0).at(0)) == 2);  // FULL
  SinkDatabaseOptions process;
  process.durability = Durability::Process;
  auto normal = SinkDatabase::open(dir / "normal.db", process);
  REQUIRE(normal.ok());
  CHECK(sql_int(must((*normal)->query("PRAGMA synchronous")).at(0).at(0)) == 1);  // NORMAL
  CHECK(sql_text(must((*normal)->query("PRAGMA journal_mode")).at(0).at(0)) == "wal");

  SinkDatabaseOptions inverted;
  inverted.wal_checkpoint_bytes = 2 << 20;
  inverted.wal_limit_bytes = 1 << 20;
  SinkDatabaseOptions small_limit;  // the default cycle (4 MiB under Fsync) shrinks to fit
  small_limit.wal_limit_bytes = 1 << 20;
  CHECK(SinkDatabase::open(dir / "small-limit.db", small_limit).ok());
  auto inverted_refused = SinkDatabase::open(dir / "inverted.db", inverted);
  REQUIRE_FALSE(inverted_refused.ok());
  CHECK(inverted_refused.error().code() == errc::validation);
}

TEST_CASE("a sink database's WAL stays bounded under sustained transactions, and no row is lost") {
  test::TempDir dir;
  SinkDatabaseOptions options;
  options.durability = Durability::Process;
  options.wal_checkpoint_bytes = 128 * 1024;
  options.wal_limit_bytes = 512 * 1024;
  auto db = must(SinkDatabase::open(dir / "s.db", options));
  REQUIRE(db->execute_script("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").ok());
  const std::string body(2000, 's');
  std::uintmax_t largest = 0;
  for (int i = 0; i < 3000; ++i) {  // ~6 MB of rows, one transaction each
    REQUIRE(db->transaction([&] { return db->execute("INSERT INTO t (body) VALUES (?1)", {SqlBlob{body}}); }).ok());
    std::error_code ec;
    largest = std::max(largest, std::filesystem::file_size(dir / "s.db-wal", ec));
  }
  MESSAGE("largest sink WAL: " << largest);
  CHECK(largest > 0);
  CHECK(largest <= 512u * 1024 + 64 * 1024);  // the limit plus one commit's frames
  CHECK(sql_int(must(db->query("SELECT count(*) FROM t")).at(0).at(0)) == 3000);
}

TEST_CASE("Hugo's outcome: owner peer-a then no owner gives Global 2, peer-a 1, default 2, one read") {
  test::TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  auto store = std::make_shared<CountingStore>(must(SqliteCheckpointStore::open(db)));
  RecordingSink sink(store, sink_options(clock));
  must(sink.process({event(1, "peer-a")}));
  must(sink.process({event(2, std::nullopt)}));
  must(sink.flush());
  auto persisted = must(must(SqliteCheckpointStore::open(db))->read("stream-1", "j1"));
  REQUIRE(persisted.has_value());
  CHECK(persisted->global_position() == 2);
  CHECK(persisted->peer_position("peer-a") == std::optional<std::int64_t>(1));
  CHECK(persisted->peer_position("default") == std::optional<std::int64_t>(2));
  CHECK(store->reads == 1);
}

TEST_CASE("Hugo's outcome: owners null, blank and peer-x give {default: 2, peer-x: 3}, Global 3") {
  test::TempDir dir;
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  auto store = must(SqliteCheckpointStore::open(db));
  RecordingSink sink(store, sink_options(std::make_shared<ManualClock>()));
  must(sink.process({event(1, std::nullopt), event(2, ""), event(3, "peer-x")}));
  must(sink.flush());
  auto c = must(store->read("stream-1", "j1"));
  CHECK(c->global_position() == 3);
  CHECK(c->peer_position("default") == std::optional<std::int64_t>(2));
  CHECK(c->peer_position("peer-x") == std::optional<std::int64_t>(3));
  CHECK(c->peer_positions().size() == 2);
}

TEST_CASE("a checkpointing sink skips what it saw, stops at a failing event, and keeps earlier progress") {
  test::TempDir dir;
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  auto store = must(SqliteCheckpointStore::open(db));
  RecordingSink sink(store, sink_options(std::make_shared<ManualClock>()));
  sink.fail_at = 3;
  auto r = sink.process({event(1, std::nullopt), event(2, std::nullopt), event(3, std::nullopt), event(4, std::nullopt)});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == "app.sink");
  CHECK(*r.error().find("seq") == "3");
  CHECK(sink.applied == std::vector<std::int64_t>{1, 2});
  CHECK(must(store->read("stream-1", "j1"))->global_position() == 2);  // flushed on failure
  sink.fail_at = -1;
  must(sink.process({event(1, std::nullopt), event(2, std::nullopt), event(3, std::nullopt), event(4, std::nullopt)}));
  CHECK(sink.applied == std::vector<std::int64_t>{1, 2, 3, 4});
}

TEST_CASE("checkpoints persist every N events, and a restarted sink redelivers only what was not persisted") {
  test::TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  auto options = sink_options(clock);
  options.checkpoint_every = 3;
  options.checkpoint_interval = 1h;
  {
    auto db = must(SinkDatabase::open(dir / "sink.db"));
    RecordingSink sink(must(SqliteCheckpointStore::open(db)), options);
    for (int i = 1; i <= 5; ++i) must(sink.process({event(i, std::nullopt)}));
    // crash: no flush
  }
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  RecordingSink sink(must(SqliteCheckpointStore::open(db)), options);
  CHECK(must(sink.resume_position("j1")) == 3);
  for (int i = 1; i <= 5; ++i) must(sink.process({event(i, std::nullopt)}));
  CHECK(sink.applied == std::vector<std::int64_t>{4, 5});  // at-least-once: 4 and 5 again
}

TEST_CASE("positions are kept per source journal, so merging journals never drops the slower one") {
  test::TempDir dir;
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  RecordingSink sink(must(SqliteCheckpointStore::open(db)), sink_options(std::make_shared<ManualClock>()));
  must(sink.process({event(100, std::nullopt, "fast")}));
  must(sink.process({event(5, std::nullopt, "slow")}));  // Hugo's single Global would skip it (docs/REPLICATION.md)
  CHECK(sink.applied == std::vector<std::int64_t>{100, 5});
  CHECK(must(sink.resume_position("fast")) == 100);
  CHECK(must(sink.resume_position("slow")) == 5);
}

TEST_CASE("a transactional sink applies each event exactly once and rolls back a failed batch entirely") {
  test::TempDir dir;
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  EventLogSink sink(db, sink_options(std::make_shared<ManualClock>()));
  must(sink.process({event(1, std::nullopt), event(2, std::nullopt)}));
  sink.fail_at = 4;
  CHECK_FALSE(sink.process({event(3, std::nullopt), event(4, std::nullopt)}).ok());
  CHECK(must(sink.resume_position("j1")) == 2);
  CHECK(sql_int(must(db->query("SELECT count(*) FROM applied"))[0][0]) == 2);  // 3 rolled back with 4
  sink.fail_at = -1;
  must(sink.process({event(1, std::nullopt), event(2, std::nullopt), event(3, std::nullopt), event(4, std::nullopt)}));
  auto rows = must(db->query("SELECT seq, count(*) FROM applied GROUP BY seq ORDER BY seq"));
  REQUIRE(rows.size() == 4);
  for (const auto& r : rows) CHECK(sql_int(r[1]) == 1);
}

TEST_CASE("sink lag metrics: sequence and wall-clock lag before apply") {
  test::TempDir dir;
  auto clock = std::make_shared<ManualClock>(Timestamp{std::chrono::seconds(100)} + 250ms);
  auto metrics = std::make_shared<MetricsRegistry>();
  auto options = sink_options(clock);
  options.metrics = metrics;
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  RecordingSink sink(must(SqliteCheckpointStore::open(db)), options);
  must(sink.process({event(3, std::nullopt)}));
  CHECK(metrics->count("taskqueue.replication.sequence_lag", {{"taskqueue.name", "q"}}) == 1);
  CHECK(metrics->count("taskqueue.replication.wall_clock_lag", {{"taskqueue.name", "q"}}) == 1);
  CHECK(metrics->prometheus_text().find("taskqueue_replication_wall_clock_lag_sum{taskqueue_name=\"q\"} 250") != std::string::npos);
  CHECK(metrics->prometheus_text().find("taskqueue_replication_sequence_lag_sum{taskqueue_name=\"q\"} 3") != std::string::npos);
}

TEST_CASE("the projection sink follows a real queue, and run_sink resumes from its checkpoint") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("a"));
  must(q->enqueue("b"));
  const Lease a = must(q->lease("w1", Wait::none()));
  auto db = must(SinkDatabase::open(f.dir / "projection.db"));
  ProjectionSink projection(db, sink_options(f.clock, "projection"));
  {
    auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
    must(projection.process(must(source->next(100))));
  }
  must(q->fail(a.token, Error("app.e", "x")));
  const Lease b = must(q->lease("w2", Wait::none()));
  must(q->complete(b.token));
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  std::stop_source stop;
  std::atomic<bool> returned{false};  // run_sink gave up (a refused batch): the wait below ends
  std::thread runner([&] {
    CHECK(run_sink(*source, projection, stop.get_token()).ok());
    returned = true;
  });
  // Watch the checkpoint through a second connection: the sink's own handle belongs to its thread.
  auto watcher = must(SqliteCheckpointStore::attach_existing(must(SinkDatabase::open(f.dir / "projection.db"))));
  auto position = [&] {
    auto c = must(watcher->read("projection", f.journal->journal_id()));
    return c ? c->global_position() : 0;
  };
  // Waits for the sink's progress, not for time (tests/support/eventually.hpp).
  test::eventually([&] { return returned || position() >= f.journal->durable_seq(); });
  CHECK(position() == f.journal->durable_seq());
  stop.request_stop();
  runner.join();
  auto rows = must(db->query("SELECT task_id, state, attempt, owner, last_error_code FROM hugo_projection ORDER BY task_id"));
  REQUIRE(rows.size() == 2);
  CHECK(sql_text(rows[0][1]) == "pending");  // a: failed, requeued
  CHECK(sql_int(rows[0][2]) == 2);
  CHECK(sql_text(rows[0][4]) == "app.e");
  CHECK(sql_text(rows[1][1]) == "completed");  // b
}

TEST_CASE("the NDJSON sink writes Hugo's layout and drops lines written after the last commit on reopen") {
  test::QueueFixture f;
  auto q = f.open();
  for (int i = 0; i < 3; ++i) must(q->enqueue("p" + std::to_string(i)));
  const auto file = f.dir / "events.ndjson";
  {
    auto db = must(SinkDatabase::open(f.dir / "ndjson.db"));
    auto sink = must(NdjsonFileSink::open(file, db, sink_options(f.clock, "ndjson")));
    auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
    must(sink->process(must(source->next(2))));
    must(sink->process(must(source->next(10))));  // the same events again are skipped
  }
  std::ofstream(file, std::ios::app) << "{\"torn\":";  // a crash mid-append after the last commit
  auto db = must(SinkDatabase::open(f.dir / "ndjson.db"));
  auto sink = must(NdjsonFileSink::open(file, db, sink_options(f.clock, "ndjson")));
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  must(sink->process(must(source->next(10))));
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  auto decoded = decode_ndjson(text.str());
  REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().to_string()));
  REQUIRE(decoded->size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK((*decoded)[i].seq == static_cast<std::int64_t>(i + 1));
}

TEST_CASE("coordinator: the first handler's outcome is recorded; a second handler is never called") {
  test::TempDir dir;
  auto store = std::shared_ptr<DeterministicEffectStore>(must(DeterministicEffectStore::open(dir / "effects.db")).release());
  TaskQueueDeterministicCoordinator coordinator(store);
  const Event e = event(10, std::nullopt, "journal-x");
  CHECK(TaskQueueDeterministicCoordinator::effect_id(e) == "journal-x/taskqueue.replication::q::10");
  auto first = coordinator.execute<std::int64_t>(e, [](const Event&) { return Result<std::int64_t>(7); });
  bool called = false;
  auto second = coordinator.execute<std::int64_t>(e, [&](const Event&) {
    called = true;
    return Result<std::int64_t>(8);
  });
  CHECK(must(std::move(first)) == 7);
  CHECK(must(std::move(second)) == 7);
  CHECK_FALSE(called);
  // The same seq from another journal is another effect.
  CHECK(must(coordinator.execute<std::int64_t>(event(10, std::nullopt, "journal-y"),
                                               [](const Event&) { return Result<std::int64_t>(9); })) == 9);
  // capture_event records the event itself; a replay returns the stored copy.
  const Event other = event(11, "peer-q", "journal-x");
  CHECK(must(coordinator.capture_event(other)) == other);
  Event changed = other;
  changed.owner_peer_id = "someone-else";
  CHECK(must(coordinator.capture_event(changed)).owner_peer_id == std::optional<std::string>("peer-q"));
  // Using one effect id with two value types is refused, never silently mixed.
  CHECK(coordinator.capture_event(e).error().code() == errc::deterministic_replay);
}

TEST_CASE("Hugo's feature scenario: lose the checkpoint, reprocess from 0, and no handler runs again") {
  test::QueueFixture f;
  auto q = f.open();
  for (int i = 0; i < 5; ++i) must(q->enqueue("job-" + std::to_string(i)));
  auto effects = std::shared_ptr<DeterministicEffectStore>(must(DeterministicEffectStore::open(f.dir / "effects.db")).release());
  auto db = must(SinkDatabase::open(f.dir / "sink.db"));
  auto store = must(SqliteCheckpointStore::open(db));
  int handler_runs = 0;
  class CoordinatedSink final : public CheckpointingTaskQueueReplicationSink {
   public:
    CoordinatedSink(std::shared_ptr<CheckpointStore> s, SinkOptions o, std::shared_ptr<DeterministicEffectStore> e, int& runs)
        : CheckpointingTaskQueueReplicationSink(std::move(s), std::move(o)), coordinator_(std::move(e)), runs_(runs) {}

   protected:
    Status apply(const Event& event) override {
      auto r = coordinator_.execute<std::string>(event, [&](const Event& e) {
        ++runs_;
        return Result<std::string>("sent " + *e.payload);
      });
      if (!r.ok()) return std::move(r).error();
      return ok_status();
    }

   private:
    TaskQueueDeterministicCoordinator coordinator_;
    int& runs_;
  };
  {
    CoordinatedSink sink(store, sink_options(f.clock, "external"), effects, handler_runs);
    auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
    must(sink.process(must(source->next(100))));
    must(sink.flush());
  }
  CHECK(handler_runs == 5);
  must(store->reset("external"));  // the checkpoint is lost
  CoordinatedSink sink(store, sink_options(f.clock, "external"), effects, handler_runs);
  CHECK(must(sink.resume_position(f.journal->journal_id())) == 0);
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  must(sink.process(must(source->next(100))));
  CHECK(handler_runs == 5);  // zero handlers ran on the reprocess
}

}  // TEST_SUITE

}  // namespace sinks_sinks_test
