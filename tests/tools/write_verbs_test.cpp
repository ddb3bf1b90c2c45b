// The verbs that write: requeue, cancel, compact and import, and the export -> import -> export round trip.
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"

#include <hugo/checkpoint.hpp>
#include <hugo/sink_database.hpp>

#include <functional>

namespace tools_write_verbs_test {

using namespace hugo;
using namespace hugo::test::cli;
using namespace std::chrono_literals;
using hugo::test::TempDir;

namespace {

// Digests of both fixture queues, as a reopened TaskQueue folds them.
std::map<std::string, std::string> digests(const std::filesystem::path& path) {
  auto clock = std::make_shared<ManualClock>();
  auto journal = open_fixture_journal(path, clock);
  std::map<std::string, std::string> out;
  for (const char* name : {"orders", "emails"}) {
    auto queue = ok_or_throw(TaskQueue::open(journal, fixture_queue(name, clock)));
    out[name] = queue->snapshot().digest;
  }
  return out;
}

// A sink database holding one checkpoint per (stream, journal id, position).
void make_sink(const std::filesystem::path& path,
               const std::vector<std::tuple<std::string, std::string, std::int64_t>>& checkpoints) {
  auto db = ok_or_throw(SinkDatabase::open(path));
  auto store = ok_or_throw(SqliteCheckpointStore::open(db));
  const Timestamp at{std::chrono::seconds{1'704'070'800}};  // 2024-01-01T01:00:00Z
  for (const auto& [stream, journal_id, position] : checkpoints) {
    ok_or_throw(store->persist(TaskQueueReplicationCheckpoint::empty(stream, journal_id).advance("default", position, at)));
  }
}

// Opens a new fixture journal at `path`, runs `count` tasks of queue "q" (payload_of(i)) to
// completion, and gives the queue back for the caller to add more before it closes.
std::unique_ptr<TaskQueue> finished_tasks(const std::filesystem::path& path, int count,
                                          const std::function<std::string(int)>& payload_of) {
  auto clock = std::make_shared<ManualClock>();
  auto journal = open_fixture_journal(path, clock);
  auto q = ok_or_throw(TaskQueue::open(journal, fixture_queue("q", clock)));
  for (int i = 0; i < count; ++i) {
    ok_or_throw(q->enqueue(payload_of(i)));
    const Lease l = ok_or_throw(q->lease("w", Wait::none()));
    ok_or_throw(q->complete(l.token));
  }
  return q;
}

std::int64_t append_one(const std::filesystem::path& path) {
  auto journal = ok_or_throw(Journal::open(path, {}));
  Event e;
  e.queue = "later";
  e.payload = "after compaction";
  e.occurred_at = Timestamp{std::chrono::seconds{1'704'070'800}};
  return ok_or_throw(journal->append(e));
}

}  // namespace

TEST_SUITE("cli.write") {

TEST_CASE("export, import, export is byte-identical, and the copy is the same journal") {
  FixtureJournal f;
  const Run exported = f.cli({"export", "f.journal"});
  REQUIRE(exported.code == 0);
  const Run imported = f.cli({"import", "copy.journal"}, exported.out);
  CAPTURE(imported.err);
  REQUIRE(imported.code == 0);
  CHECK(imported.out == "path\tevents\ncopy.journal\t24\n");
  const Run again = f.cli({"export", "copy.journal"});
  REQUIRE(again.code == 0);
  CHECK(again.out == exported.out);
  CHECK(f.ok({"verify", "copy.journal"}) == "ok: 24 rows, last seq 24\n");
  CHECK(f.ok({"tasks", "--json", "copy.journal"}) == f.ok({"tasks", "--json", "f.journal"}));
  CHECK(digests(f.dir / "copy.journal") == digests(f.path));
}

TEST_CASE("import refuses an existing file and bad input, and leaves nothing behind") {
  FixtureJournal f;
  const std::string exported = f.ok({"export", "f.journal"});
  CHECK(f.cli({"import", "f.journal"}, exported).code == 2);
  auto lines = lines_of(exported);
  lines[5] = "{\"sequenceNumber\":6,\"kind\":\"not a number\"}";
  std::string damaged;
  for (const auto& line : lines) damaged += line + "\n";
  const Run r = f.cli({"import", "bad.journal"}, damaged);
  CAPTURE(r.err);
  CHECK(r.code == 3);
  CHECK(is_one_error_line(r.err));
  CHECK(r.err.find("line 6") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir / "bad.journal"));
  CHECK(f.cli({"import", "bad.journal"}, "not json at all\n").code == 3);
  CHECK_FALSE(std::filesystem::exists(f.dir / "bad.journal"));
}

TEST_CASE("requeue puts a dead letter back at the tail of its queue, keeping its last error") {
  FixtureJournal f;
  const Run r = f.cli({"requeue", "f.journal", "3"});
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "task\tqueue\tresult\n3\torders\trequeued\n");
  CHECK(f.ok({"dead-letters", "f.journal"}) == "queue\ttask\tseq\tattempt\tenqueued_at\tdead_lettered_at\terror\tpayload\n");
  const auto history = lines_of(f.ok({"history", "f.journal", "3"}));
  REQUIRE(history.size() == 6);
  CHECK(history.back().find("\tRequeued\t3\t2\t") != std::string::npos);
  CHECK(f.ok({"verify", "f.journal"}) == "ok: 25 rows, last seq 25\n");

  auto clock = std::make_shared<ManualClock>(SystemClock().now() + 1h);  // after the requeue's time
  auto journal = open_fixture_journal(f.path, clock);
  auto orders = ok_or_throw(TaskQueue::open(journal, fixture_queue("orders", clock)));
  CHECK(ok_or_throw(orders->lease("w", Wait::none())).task_id() == 4);  // pending before the requeue
  const Lease again = ok_or_throw(orders->lease("w", Wait::none()));
  CHECK(again.task_id() == 3);
  CHECK(again.attempt == 2);
  CHECK(again.payload == std::string("\x00\x01\xff", 3));
  REQUIRE(again.last_error.has_value());
  CHECK(again.last_error->code() == "app.fatal");
}

TEST_CASE("cancel ends a pending and a leased task for good, journaling the reason") {
  FixtureJournal f;
  const Run r = f.cli({"cancel", "--reason", "order withdrawn", "f.journal", "4", "2"});
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out == "task\tqueue\twas\n2\torders\tleased\n4\torders\tpending\n");
  CHECK(f.ok({"verify", "f.journal"}) == "ok: 26 rows, last seq 26\n");
  const auto history = lines_of(f.ok({"history", "f.journal", "2"}));
  CHECK(history.back().find("\tCanceled\t2\t2\t") != std::string::npos);
  CHECK(history.back().find("order withdrawn") != std::string::npos);
  const auto json = lines_of(f.ok({"cancel", "--json", "f.journal", "19"}));
  REQUIRE(json.size() == 1);
  CHECK(json[0] == R"({"task":19,"queue":"emails","canceled":true,"was":"pending"})");

  auto clock = std::make_shared<ManualClock>(SystemClock().now() + 1h);
  auto journal = open_fixture_journal(f.path, clock);
  auto orders = ok_or_throw(TaskQueue::open(journal, fixture_queue("orders", clock)));
  CHECK(orders->pending_count() == 0);
  CHECK(orders->active_lease_count() == 0);
  CHECK(orders->lease("w", Wait::none()).error().code() == "queue.timeout");
}

TEST_CASE("compact deletes only finished tasks below the lowest checkpoint of the named sinks") {
  FixtureJournal f;
  const auto before = digests(f.path);
  const std::string export_before = f.ok({"export", "f.journal"});
  // Sink a: two streams (20 and 12) plus another journal's checkpoint (ignored); sink b at 7.
  make_sink(f.dir / "a.db", {{"projection", f.id, 20}, {"audit", f.id, 12}, {"projection", "zzz-other", 1}});
  make_sink(f.dir / "b.db", {{"archive", f.id, 7}});
  // Below 7, task 1 (rows 1, 5, 6, 7) is not wholly below: nothing may go.
  CHECK(f.ok({"compact", "--json", "f.journal", "--sinks", "a.db", "b.db"})
            .find("\"belowSeq\":7,\"rowsDeleted\":0,\"tasksRemoved\":0,") != std::string::npos);
  CHECK(f.ok({"export", "f.journal"}) == export_before);

  make_sink(f.dir / "b.db", {{"archive", f.id, 8}});
  const std::string result = f.ok({"compact", "--json", "--sinks", "a.db", "b.db", "--", "f.journal"});
  CHECK(result.find("\"belowSeq\":8,\"rowsDeleted\":4,\"tasksRemoved\":1,") != std::string::npos);
  // Every row at or above the checkpoint is untouched, and the rows that went are task 1's.
  std::string kept_above, all_after = f.ok({"export", "f.journal"});
  for (const auto& line : lines_of(export_before)) {
    const std::int64_t seq = std::stoll(line.substr(18, line.find(',') - 18));
    if (seq >= 8) kept_above += line + "\n";
    const bool gone = seq == 1 || seq == 5 || seq == 6 || seq == 7;
    CHECK((all_after.find(line + "\n") == std::string::npos) == gone);
  }
  CHECK(f.ok({"export", "--from", "8", "f.journal"}) == kept_above);
  CHECK(digests(f.path) == before);
  CHECK(f.ok({"verify", "f.journal"}) == "ok: 20 rows, last seq 24\n");
  CHECK(append_one(f.path) == 25);
}

TEST_CASE("compact --force keeps the task holding the newest row, and never reuses a seq") {
  TempDir dir;
  const auto path = dir / "done.journal";
  finished_tasks(path, 3, [](int) { return std::string(2000, 'x'); });
  const Run refused = run_cli({"compact", "done.journal"}, dir.path());
  CHECK(refused.code == 2);
  const Run r = run_cli({"compact", "--force", "--json", "done.journal"}, dir.path());
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  // The last task (rows 7-9) stays: the highest seq ever issued remains in the rows, so even an
  // export and re-import of this journal keeps numbering above it.
  CHECK(r.out.find("\"belowSeq\":10,\"rowsDeleted\":6,\"tasksRemoved\":2,") != std::string::npos);
  const Run info = run_cli({"info", "--json", "done.journal"}, dir.path());
  CHECK(info.out.find("\"firstSeq\":7,\"lastSeq\":9,\"rows\":3,") != std::string::npos);
  CHECK(append_one(path) == 10);
}

TEST_CASE("compact keeps a keyed task finished within --key-retention of the newest row") {
  TempDir dir;
  const auto path = dir / "keys.journal";
  {
    auto q = finished_tasks(path, 1, [](int) { return std::string("plain"); });  // task 1, rows 1-3
    ok_or_throw(q->close());
  }
  {
    auto clock = std::make_shared<ManualClock>(SystemClock().now());
    auto journal = open_fixture_journal(path, clock);
    auto q = ok_or_throw(TaskQueue::open(journal, fixture_queue("q", clock)));
    ok_or_throw(q->enqueue_keyed("order-7", "keyed"));  // task 4, rows 4-6
    ok_or_throw(q->complete(ok_or_throw(q->lease("w", Wait::none())).token));
    clock->advance(1h);
    ok_or_throw(q->enqueue("newest"));  // row 7, an hour after the keyed task finished
  }
  const Run kept = run_cli({"compact", "--force", "--json", "keys.journal"}, dir.path());  // 24 h by default
  CAPTURE(kept.err);
  REQUIRE(kept.code == 0);
  CHECK(kept.out.find("\"rowsDeleted\":3,\"tasksRemoved\":1,") != std::string::npos);  // task 1 only
  const Run gone = run_cli({"compact", "--force", "--json", "--key-retention", "3599", "keys.journal"}, dir.path());
  CAPTURE(gone.err);
  REQUIRE(gone.code == 0);
  CHECK(gone.out.find("\"rowsDeleted\":3,\"tasksRemoved\":1,") != std::string::npos);  // the keyed task
  CHECK(run_cli({"compact", "--force", "--key-retention", "-1", "keys.journal"}, dir.path()).code == 2);
}

TEST_CASE("compact reports the bytes it reclaimed") {
  TempDir dir;
  const auto path = dir / "big.journal";
  ok_or_throw(finished_tasks(path, 500, [](int i) { return std::string(1000, static_cast<char>('a' + i % 26)); })
                  ->enqueue("still pending"));
  const Run r = run_cli({"compact", "--force", "big.journal"}, dir.path());
  REQUIRE(r.code == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 7);
  CHECK(lines[2] == "rows_deleted\t1500");
  const std::int64_t before = std::stoll(lines[4].substr(lines[4].find('\t') + 1));
  const std::int64_t after = std::stoll(lines[5].substr(lines[5].find('\t') + 1));
  CHECK(lines[6] == "bytes_reclaimed\t" + std::to_string(before - after));
  CHECK(after < before / 4);
  CHECK(run_cli({"tasks", "big.journal"}, dir.path()).out.find("\tpending\t1\t") != std::string::npos);
}

TEST_CASE("a sink without a checkpoint for this journal keeps every row") {
  FixtureJournal f;
  make_sink(f.dir / "other.db", {{"projection", "zzz-other", 24}});
  const Run r = f.cli({"compact", "--sinks", "other.db", "--json", "f.journal"});
  CHECK(r.code == 0);
  CHECK(r.err.find("has no checkpoint for journal " + f.id) != std::string::npos);
  CHECK(r.out.find("\"rowsDeleted\":0,") != std::string::npos);
}

}  // TEST_SUITE

}  // namespace tools_write_verbs_test
