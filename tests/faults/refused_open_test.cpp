// A refused open changes nothing: for every kind of file that is not a journal (another
// application's SQLite database, an empty file, random bytes, a directory), each way in refuses
// it, and afterwards every byte of every file and the folder's list of names are as before. Also:
// an empty file or an empty SQLite database becomes a journal by Journal::open, as documented; and
// the sequence space ends with its own error.
#include "tests/faults/fault_support.hpp"

#include <hugo/verify.hpp>
#include <hugo/sink_database.hpp>

#include "schema/sqlite.hpp"

#include <limits>
#include <random>

namespace faults_refused_open_test {

using namespace hugo;
using namespace hugo::faults;

namespace {

using test::folder_snapshot;

// Another application's database, as that application left it: rollback journal mode, a table.
void make_foreign_database(const std::filesystem::path& path) {
  auto db = sql::Db::open(path, sql::OpenMode::ReadWriteCreate, std::chrono::milliseconds(1000));
  REQUIRE(db.ok());
  REQUIRE(db->exec("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada'), ('grace')").ok());
}

void make_random_bytes(const std::filesystem::path& path) {
  std::mt19937 random(42);
  std::string bytes(8192, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  std::ofstream(path, std::ios::binary) << bytes;
}

struct BadFile {
  const char* kind;
  void (*make)(const std::filesystem::path&);
  bool journal_open_creates;  // Journal::open makes a journal of it (documented), so is not refused
};

const BadFile kBadFiles[] = {
    {"another application's SQLite database", make_foreign_database, false},
    {"an empty file", [](const std::filesystem::path& p) { std::ofstream(p, std::ios::binary).close(); }, true},
    {"random bytes", make_random_bytes, false},
    {"a directory", [](const std::filesystem::path& p) { std::filesystem::create_directory(p); }, false},
};

// `open` is refused with `code` and leaves the folder exactly as it was.
template <class Open>
void expect_refused_unchanged(const std::filesystem::path& folder, const char* way, std::string_view code, Open open) {
  CAPTURE(way);
  const auto before = folder_snapshot(folder);
  const auto result = open();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code() == code);
  CHECK(result.error().find("path") != nullptr);
  CHECK(folder_snapshot(folder) == before);
}

}  // namespace

TEST_SUITE("faults.refused_open") {

TEST_CASE("every way in refuses a file that is not a journal, and changes no byte and no name") {
  for (const BadFile& bad : kBadFiles) {
    CAPTURE(bad.kind);
    test::TempDir dir;
    const auto path = dir / "x.db";
    bad.make(path);
    const auto corrupt = errc::journal_corrupt;
    if (!bad.journal_open_creates) {
      expect_refused_unchanged(dir.path(), "Journal::open", corrupt, [&] { return Journal::open(path, {}); });
    }
    expect_refused_unchanged(dir.path(), "JournalReader::open", corrupt, [&] { return JournalReader::open(path); });
    expect_refused_unchanged(dir.path(), "project_journal", corrupt, [&] { return project_journal(path); });
    expect_refused_unchanged(dir.path(), "verify_journal", corrupt, [&] { return verify_journal(path); });
    if (std::filesystem::is_regular_file(path) && std::filesystem::file_size(path) > 0) {
      // A read-only sink database open (what `hugo-journal checkpoints` uses) never switches a
      // file to WAL; its caller refuses what holds no checkpoints.
      const auto before = folder_snapshot(dir.path());
      SinkDatabaseOptions read_only;
      read_only.read_only = true;
      {
        auto sink = SinkDatabase::open(path, read_only);
        if (sink.ok()) {
          auto tables = (*sink)->query("SELECT count(*) FROM sqlite_master WHERE name = 'hugo_checkpoints'");
          REQUIRE(tables.ok());
          CHECK(sql_int((*tables)[0][0]) == 0);
        }
      }
      CHECK(folder_snapshot(dir.path()) == before);
    }
  }
}

TEST_CASE("the refusal says what the file is and that nothing changed") {
  test::TempDir dir;
  make_foreign_database(dir / "app.db");
  auto journal = Journal::open(dir / "app.db", {});
  REQUIRE_FALSE(journal.ok());
  const std::string* reason = journal.error().find("reason");
  REQUIRE(reason != nullptr);
  CHECK(*reason == "application_id");
  CHECK(journal.error().message().find("another application") != std::string::npos);
  CHECK(journal.error().message().find("nothing was opened or changed") != std::string::npos);
  // Its rollback journal mode is kept: header bytes 18 and 19 are 1 (legacy), not 2 (WAL).
  const std::string header = read_bytes(dir / "app.db").substr(18, 2);
  CHECK(header == std::string("\x01\x01", 2));
}

TEST_CASE("an empty file and an empty SQLite database become journals (they hold nothing to keep)") {
  test::TempDir dir;
  std::ofstream(dir / "empty.db", std::ios::binary).close();
  {
    auto db = sql::Db::open(dir / "blank.db", sql::OpenMode::ReadWriteCreate, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    REQUIRE(db->exec("PRAGMA user_version = 0; VACUUM").ok());
  }
  for (const char* name : {"empty.db", "blank.db"}) {
    CAPTURE(name);
    const auto committed = write_history(dir / name, 3);
    CHECK(committed.back().seq == 3);
  }
}

TEST_CASE("a live journal that was never checkpointed is still recognised through its WAL") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  JournalOptions options;
  options.background_checkpoints = false;
  auto journal = Journal::open(path, options);
  REQUIRE(journal.ok());
  REQUIRE((*journal)->append(test::enqueued("q", "x")).ok());
  // The main file's header still predates the schema: every way in reads it through the -wal.
  auto reader = JournalReader::open(path);
  REQUIRE_MESSAGE(reader.ok(), describe(reader));
  auto projected = project_journal(path);
  REQUIRE_MESSAGE(projected.ok(), (projected.ok() ? "" : projected.error().to_string()));
  CHECK(projected->at("q").pending.size() == 1);
}

TEST_CASE("seq 9223372036854775807 is the last: the next append fails with journal.seq_exhausted") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  write_history(path, 1);
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  {
    auto db = sql::Db::open(path, sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    REQUIRE(db->exec("UPDATE sqlite_sequence SET seq = 9223372036854775805 WHERE name = 'events'").ok());
  }
  auto journal = Journal::open(path, {});
  REQUIRE(journal.ok());
  // A group that does not fit is refused whole and consumes nothing.
  std::vector<Event> group{test::enqueued("q", "a"), test::enqueued("q", "b"), test::enqueued("q", "c")};
  auto refused = (*journal)->append_group_async(group).wait();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::journal_seq_exhausted);
  auto second_last = (*journal)->append(test::enqueued("q", "a"));
  REQUIRE(second_last.ok());
  CHECK(*second_last == kMax - 1);
  auto last = (*journal)->append(test::enqueued("q", "b"));
  REQUIRE(last.ok());
  CHECK(*last == kMax);
  auto next = (*journal)->append(test::enqueued("q", "c"));
  REQUIRE_FALSE(next.ok());
  CHECK(next.error().code() == errc::journal_seq_exhausted);
  CHECK(next.error().message().find("sequence space is used up") != std::string::npos);
  const std::string* last_seq = next.error().find("last_seq");
  REQUIRE(last_seq != nullptr);
  CHECK(*last_seq == std::to_string(kMax));
  // The refusal does not poison the journal: it stays readable and closes cleanly.
  CHECK((*journal)->health().ok());
  REQUIRE((*journal)->close().ok());
  auto all = read_all(path);
  REQUIRE(all.ok());
  CHECK(all->back().seq == kMax);
}

}  // TEST_SUITE

}  // namespace faults_refused_open_test
