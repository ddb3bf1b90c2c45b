// WAL checkpoints off the committing thread (schema/wal_checkpointer.hpp): the WAL stays bounded
// and is restarted while commits go on, nothing committed is lost, and a process killed in the
// middle of them reopens with every acknowledged append.
#include <doctest/doctest.h>

#include <hugo/journal.hpp>

#include "schema/sqlite.hpp"
#include "schema/wal_checkpointer.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <algorithm>
#include <filesystem>
#include <string>

namespace journal_checkpoint_test {

using namespace hugo;
using hugo::test::Child;
using hugo::test::TempDir;

namespace {

std::uintmax_t size_or_zero(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

struct ChurnResult {
  std::uintmax_t largest_wal = 0;
  int restarts = 0;  // times the WAL's frame count fell: SQLite started it over
  int background_passes = 0;
};

// Commits `commits` one-row transactions of 2 KB through `db` with a checkpointer attached.
ChurnResult churn(sql::Db& db, WalCheckpointOptions options, int commits) {
  REQUIRE(db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
              .ok());
  auto page_size = db.query_int("PRAGMA page_size");
  REQUIRE(page_size.ok());
  WalCheckpointer checkpointer(db, *page_size, std::move(options));
  auto insert = db.prepare("INSERT INTO t (body) VALUES (?1)");
  REQUIRE(insert.ok());
  const std::string body(2000, 'b');
  ChurnResult result;
  int frames_before = 0;
  for (int i = 0; i < commits; ++i) {
    insert->bind_blob(1, body);
    REQUIRE(insert->run().ok());
    const int frames = checkpointer.wal_frames();
    if (frames < frames_before) ++result.restarts;
    frames_before = frames;
    result.largest_wal = std::max(result.largest_wal, size_or_zero(db.path().string() + "-wal"));
  }
  result.background_passes = checkpointer.background_passes();
  return result;
}

sql::Db open_database(const TempDir& dir) {
  auto db = sql::Db::open(dir / "w.db", sql::OpenMode::ReadWriteCreate, std::chrono::milliseconds(5000));
  REQUIRE(db.ok());
  return std::move(*db);
}

// A cycle every 256 KB of WAL, the hard bound at 1 MB.
WalCheckpointOptions small_wal() {
  WalCheckpointOptions options;
  options.start_bytes = 256 * 1024;
  options.limit_bytes = 1024 * 1024;
  options.writeback_bytes = 64 * 1024;
  options.durability = Durability::Process;
  return options;
}

constexpr std::uintmax_t kBound = 1024 * 1024 + 64 * 1024;  // the limit plus one commit's frames

void check_rows(sql::Db& db, int expected) {
  auto count = db.query_int("SELECT count(*) FROM t");
  REQUIRE(count.ok());
  CHECK(*count == expected);
  auto check = db.prepare("PRAGMA integrity_check");
  REQUIRE(check.ok());
  REQUIRE(check->step().ok());
  CHECK(check->column_text(0) == "ok");
}

}  // namespace

TEST_SUITE("journal.checkpoint") {

TEST_CASE("background passes keep the WAL bounded and let SQLite restart it while commits go on") {
  TempDir dir;
  sql::Db db = open_database(dir);
  const ChurnResult r = churn(db, small_wal(), 4000);  // ~8 MB of rows: many WAL cycles
  MESSAGE("largest WAL " << r.largest_wal << " bytes, " << r.restarts << " restarts, " << r.background_passes
                         << " background passes");
  CHECK(r.background_passes > 0);
  CHECK(r.restarts > 0);
  CHECK(r.largest_wal <= kBound);
  check_rows(db, 4000);
}

TEST_CASE("with background passes off, every pass runs on the committing thread and the WAL stays bounded") {
  TempDir dir;
  sql::Db db = open_database(dir);
  WalCheckpointOptions options = small_wal();
  options.background = false;
  const ChurnResult r = churn(db, options, 2000);
  CHECK(r.background_passes == 0);
  CHECK(r.restarts > 0);
  CHECK(r.largest_wal <= kBound);
  check_rows(db, 2000);
}

TEST_CASE("closing a journal after background checkpoints leaves no WAL behind") {
  TempDir dir;
  const auto path = dir / "j.db";
  JournalOptions options;
  options.durability = Durability::Process;
  options.wal_checkpoint_bytes = 64 * 1024;
  options.wal_limit_bytes = 1024 * 1024;
  auto journal = Journal::open(path, options);
  REQUIRE(journal.ok());
  Event e;
  e.kind = EventKind::Enqueued;
  e.queue = "q";
  e.payload = std::string(2000, 'p');
  for (int i = 0; i < 1000; ++i) REQUIRE((*journal)->append(e).ok());
  REQUIRE((*journal)->close().ok());
  CHECK(size_or_zero(path.string() + "-wal") == 0);  // TRUNCATE at close; SQLite then deletes it
  auto reopened = Journal::open(path, options);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->durable_seq() == 1000);
}

TEST_CASE("a writer killed while its WAL is being checkpointed reopens with every acknowledged append") {
  TempDir dir;
  const auto path = dir / "j.db";
  std::int64_t acknowledged = 0;
  for (const int kill_after : {700, 1500, 2600}) {
    Child child({test::child_binary(), "append-churn", path.string()});
    while (true) {
      const auto line = child.read_line();
      REQUIRE(line.has_value());
      REQUIRE(line->rfind("error", 0) != 0);
      const std::int64_t seq = std::stoll(*line);
      CHECK(seq == acknowledged + 1);  // every round continues right after the last acknowledged seq
      acknowledged = seq;
      if (seq >= kill_after) break;
    }
    child.kill_hard();
    child.wait();

    auto reader = JournalReader::open(path);
    REQUIRE(reader.ok());
    std::int64_t seen = 0;
    while (true) {
      auto batch = (*reader)->read(seen, 512);
      REQUIRE(batch.ok());
      if (batch->empty()) break;
      for (const Event& event : *batch) {
        REQUIRE(event.seq == seen + 1);
        seen = event.seq;
        // "payload-<i>" then 2000 copies of 'a' + i % 26, i counting from 0 in each child.
        REQUIRE(event.payload.has_value());
        const std::string& payload = *event.payload;
        REQUIRE(payload.size() > 2000);
        const int i = std::stoi(payload.substr(std::string("payload-").size()));
        CHECK(payload.back() == static_cast<char>('a' + i % 26));
      }
    }
    CHECK(seen >= acknowledged);  // a commit may land after the last line we read: never fewer
    acknowledged = seen;
    auto db = sql::Db::open(path, sql::OpenMode::ReadOnly, std::chrono::milliseconds(5000));
    REQUIRE(db.ok());
    auto check = db->prepare("PRAGMA integrity_check");
    REQUIRE(check.ok());
    REQUIRE(check->step().ok());
    CHECK(check->column_text(0) == "ok");
  }
}

}  // TEST_SUITE

}  // namespace journal_checkpoint_test
