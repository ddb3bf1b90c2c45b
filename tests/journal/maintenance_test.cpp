// Maintenance: projections, verification, import and compaction keep the journal's promises.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal_admin.hpp>
#include <hugo/verify.hpp>

#include "schema/sqlite.hpp"

#include <algorithm>
#include <fstream>
#include "tests/support/queue_fixture.hpp"

namespace journal_maintenance_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

namespace {

// A journal with completed, failed-and-requeued, leased, pending and dead tasks on two queues.
void build_history(test::QueueFixture& f) {
  auto options = f.options();
  options.max_delivery_attempts = 2;
  auto orders = f.open(options);
  auto mail = f.open(f.options("mail"));
  for (int i = 0; i < 6; ++i) must(orders->enqueue("o" + std::to_string(i)));
  must(mail->enqueue("m0"));
  must(orders->complete(must(orders->lease("w", Wait::none())).token));              // o0 done
  must(orders->fail(must(orders->lease("w", Wait::none())).token, Error("e", "1")));  // o1 retry
  (void)must(orders->lease("w", Wait::none()));                                       // o2 leased
  const Lease o3 = must(orders->lease("w", Wait::none()));
  must(orders->fail(o3.token, Error("app.fatal", "bad"), false));                     // o3 dead
  must(orders->complete(must(orders->lease("w", Wait::none())).token));               // o4 done
  must(mail->complete(must(mail->lease("w", Wait::none())).token));                   // m0 done
}

std::string digest_of(test::QueueFixture& f, const std::string& queue) {
  auto q = f.open(f.options(queue));
  return q->snapshot().digest;
}

void surgery(const std::filesystem::path& path, const std::string& sql) {
  auto db = sql::Db::open(path, sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
  REQUIRE(db.ok());
  REQUIRE(db->exec(sql).ok());
}

}  // namespace

TEST_SUITE("maintenance") {

TEST_CASE("project_journal folds every queue read-only, exactly as the queue does") {
  test::QueueFixture f;
  build_history(f);
  const auto projection = must(project_journal(f.dir / "queue.journal"));
  REQUIRE(projection.size() == 2);
  CHECK(projection.at("orders").digest == digest_of(f, "orders"));
  CHECK(projection.at("mail").digest == digest_of(f, "mail"));
  CHECK(projection.at("orders").pending.size() == 2);  // o5, o1 (attempt 2)
  CHECK(projection.at("orders").leased.size() == 1);
  CHECK(projection.at("orders").dead.size() == 1);
}

TEST_CASE("verify passes a sound journal") {
  test::QueueFixture f;
  build_history(f);
  const auto report = must(verify_journal(f.dir / "queue.journal"));
  CHECK(report.ok());
  CHECK(report.rows == report.last_seq);
}

TEST_CASE("verify names the seq of each planted violation") {
  struct Plant {
    const char* name;
    std::string sql;
    std::int64_t seq;
    const char* check;
  };
  // Seqs of build_history: 1-6 orders Enqueued, 7 mail Enqueued, 8 LeaseGranted o0, 9 Completed,
  // 10 LeaseGranted o1, 11 Failed, 12 Requeued, 13-14 LeaseGranted o2 o3, 15 Failed, 16 DeadLettered,
  // 17 LeaseGranted o4, 18 Completed, 19 LeaseGranted m0, 20 Completed.
  const std::vector<Plant> plants = {
      {"a kind changed", "UPDATE events SET kind = 1 WHERE seq = 1", 1, "state_machine"},
      {"a grant deleted", "DELETE FROM events WHERE seq = 8", 9, "state_machine"},
      {"an unknown kind", "UPDATE events SET kind = 42 WHERE seq = 9", 9, "decode"},
      {"a broken error", "UPDATE events SET error = '{oops' WHERE seq = 11", 11, "decode"},
      {"a lost payload", "UPDATE events SET payload = NULL WHERE seq = 2", 2, "payload"},
      {"an unknown name", "UPDATE events SET queue = 99 WHERE seq = 3", 3, "decode"},
      {"a forged token attempt", "UPDATE events SET attempt = 3 WHERE seq = 9", 9, "state_machine"},
  };
  for (const Plant& plant : plants) {
    CAPTURE(plant.name);
    test::QueueFixture f;
    build_history(f);
    f.journal.reset();
    surgery(f.dir / "queue.journal", plant.sql);
    const auto report = must(verify_journal(f.dir / "queue.journal"));
    REQUIRE_FALSE(report.ok());
    CHECK(report.violations.front().seq == plant.seq);
    const bool named = std::any_of(report.violations.begin(), report.violations.end(), [&](const VerifyViolation& v) {
      return v.seq == plant.seq && v.check == plant.check;
    });
    CHECK(named);
  }
}

TEST_CASE("verify reports a damaged page instead of failing") {
  test::QueueFixture f;
  build_history(f);
  for (int i = 0; i < 200; ++i) {
    Event e;
    e.queue = "bulk";
    e.payload = std::string(200, 'x');
    e.occurred_at = f.clock->now();
    must(f.journal->append(e));
  }
  f.journal.reset();
  {
    std::fstream file(f.dir / "queue.journal", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096 * 3);  // the b-tree header of page 4
    const std::string garbage(64, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto report = verify_journal(f.dir / "queue.journal");
  if (report.ok()) {
    CHECK_FALSE(report->ok());
  } else {
    CHECK(report.error().code() == errc::journal_corrupt);
  }
}

TEST_CASE("import rebuilds a journal whose export is byte-identical, with the same id and seqs") {
  test::QueueFixture f;
  build_history(f);
  std::string exported;
  for (std::int64_t after = 0;;) {
    auto batch = must(f.journal->read(after, 3));
    if (batch.empty()) break;
    after = batch.back().seq;
    exported += encode_ndjson(batch);
  }
  auto importer = must(JournalImporter::create(f.dir / "copy.journal"));
  for (const Event& e : must(decode_ndjson(exported))) must(importer->add(e));
  CHECK(must(importer->finish()) == 20);
  auto reader = must(JournalReader::open(f.dir / "copy.journal"));
  CHECK(reader->journal_id() == f.journal->journal_id());
  CHECK(encode_ndjson(must(reader->read(0, 100))) == exported);
  CHECK(JournalImporter::create(f.dir / "copy.journal").error().code() == errc::validation);  // never overwrites
}

TEST_CASE("compaction drops finished tasks below the position, keeps the state and never reuses a seq") {
  test::QueueFixture f;
  build_history(f);
  const std::string orders_before = digest_of(f, "orders");
  const std::string mail_before = digest_of(f, "mail");
  const std::int64_t last = f.journal->durable_seq();
  f.journal.reset();
  const auto path = f.dir / "queue.journal";
  // Position 10: o0 (Enqueued 1, Granted 8, Completed 9) goes; o4 and m0 finished later, they stay.
  auto result = must(compact_journal(path, 10));
  CHECK(result.tasks_removed == 1);
  CHECK(result.rows_deleted == 3);
  {
    auto reader = must(JournalReader::open(path));
    const auto rows = must(reader->read(0, 100));
    CHECK(rows.size() == static_cast<std::size_t>(last - 3));
    for (const Event& e : rows) CHECK(e.task_id != 1);
    for (const Event& e : rows) {
      if (e.seq >= 10) continue;
      CHECK(e.seq != 8);
    }
  }
  // Past the end: every finished task goes but m0, which holds the newest row (seq 20), so the
  // highest seq survives even an export and re-import. Live state is untouched.
  result = must(compact_journal(path, last + 1));
  CHECK(result.tasks_removed == 1);  // o4
  CHECK(must(must(JournalReader::open(path))->read(last - 1, 10)).back().seq == last);
  f.reopen_journal();
  CHECK(digest_of(f, "orders") == orders_before);
  CHECK(digest_of(f, "mail") == mail_before);
  CHECK(must(verify_journal(path)).ok());
  Event e;
  e.queue = "orders";
  e.payload = "after";
  e.occurred_at = f.clock->now();
  CHECK(must(f.journal->append(e)) == last + 1);
}

TEST_CASE("compaction refuses a journal with a live writer") {
  test::QueueFixture f;
  build_history(f);
  auto r = compact_journal(f.dir / "queue.journal", 100);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == errc::journal_locked);
}

TEST_CASE("an operator can requeue a dead letter; it comes back with attempt + 1") {
  test::QueueFixture f;
  build_history(f);
  auto q = f.open();
  const auto dead = q->dead_letters();
  REQUIRE(dead.size() == 1);
  must(q->requeue_dead_letter(dead[0].task_id));
  CHECK(q->dead_letter_count() == 0);
  CHECK(f.events().back().kind == K::Requeued);
  CHECK(q->requeue_dead_letter(dead[0].task_id).error().code() == errc::validation);
  Lease l = must(q->lease("w", Wait::none()));
  while (l.token.task_id != dead[0].task_id) l = must(q->lease("w", Wait::none()));
  CHECK(l.attempt == dead[0].attempt + 1);
  CHECK(l.last_error->code() == "app.fatal");
}

TEST_CASE("info reports the writer's durability and creation time") {
  test::QueueFixture f(Durability::Fsync);
  auto info = must(must(JournalReader::open(f.dir / "queue.journal"))->info());
  CHECK(info.durability == "fsync");
  CHECK(info.created_at == format_iso8601(f.clock->now()));
}

}  // TEST_SUITE

}  // namespace journal_maintenance_test
