// WAL surgery after a writer crash: a child appends (Durability::Process) and is SIGKILLed, so
// its commits sit in an un-checkpointed WAL with the -shm beside it. Then the -shm is deleted,
// or the WAL is cut short (docs/ERRORS.md: journal.shm_missing, journal.wal_truncated).
#include "tests/faults/fault_support.hpp"

namespace faults_wal_test {

using namespace hugo;
using namespace hugo::faults;

namespace {

constexpr std::size_t kWalHeader = 32;
constexpr std::size_t kFrameHeader = 24;
constexpr std::size_t kPageSize = 4096;
constexpr std::size_t kFrame = kFrameHeader + kPageSize;

// The writer's crash, and what it committed, as a fresh reader sees it before any surgery.
std::vector<Event> crash_writer(const std::filesystem::path& path, int acks) {
  const std::int64_t acked = kill_writer_after(path, acks);
  REQUIRE(std::filesystem::file_size(wal_of(path)) > kWalHeader);
  REQUIRE(std::filesystem::exists(shm_of(path)));
  auto committed = read_all(path);
  REQUIRE_MESSAGE(committed.ok(), describe(committed));
  REQUIRE(static_cast<std::int64_t>(committed->size()) >= acked);
  return std::move(committed).value();
}

// The three files as bytes: a refused open must not change any of them.
struct Snapshot {
  std::string db, wal, shm;
  static Snapshot of(const std::filesystem::path& path) {
    return {read_bytes(path), read_bytes(wal_of(path)), read_bytes(shm_of(path))};
  }
  bool operator==(const Snapshot&) const = default;
};

// Both ways in refuse a cut WAL with journal.wal_truncated and the given reason, and change nothing.
void expect_refused_as_truncated(const std::filesystem::path& path, const std::string& reason) {
  const Snapshot before = Snapshot::of(path);
  auto reader = JournalReader::open(path);
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().code() == errc::journal_wal_truncated);
  REQUIRE(reader.error().find("reason") != nullptr);
  CHECK(*reader.error().find("reason") == reason);
  auto writer = Journal::open(path, {});
  REQUIRE_FALSE(writer.ok());
  CHECK(writer.error().code() == errc::journal_wal_truncated);
  CHECK(Snapshot::of(path) == before);
}

}  // namespace

TEST_SUITE("faults.wal") {

// With no process left holding the journal, the -shm is only a cache: the next open rebuilds it
// from the WAL, which is SQLite's ordinary crash recovery, and nothing is lost.
TEST_CASE("deleted -shm with no process open: the index is rebuilt from the WAL, every event readable, appends continue") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = crash_writer(path, 200);
  REQUIRE(std::filesystem::remove(shm_of(path)));

  CHECK(expect_all_readable(path, committed) == committed.size());
  auto journal = Journal::open(path, {});
  REQUIRE_MESSAGE(journal.ok(), describe(journal));
  auto next = (*journal)->append(test::enqueued("faults", "after"));
  REQUIRE(next.ok());
  CHECK(*next == committed.back().seq + 1);
}

// An open reader still maps the deleted index; whoever opens the journal next builds another one
// that this reader would not see, so its next call stops with journal.shm_missing.
TEST_CASE("deleted -shm under an open reader: its next read is journal.shm_missing; a reopened reader reads every event") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = crash_writer(path, 200);
  auto reader = JournalReader::open(path);
  REQUIRE(reader.ok());
  REQUIRE((*reader)->read(0, 10).ok());
  REQUIRE(std::filesystem::remove(shm_of(path)));

  auto next = (*reader)->read(10, 10'000);
  REQUIRE_FALSE(next.ok());
  CHECK(next.error().code() == errc::journal_shm_missing);
  REQUIRE(next.error().find("reason") != nullptr);
  CHECK(*next.error().find("reason") == "removed");
  CHECK_FALSE((*reader)->changed().ok());
  CHECK(expect_all_readable(path, committed) == committed.size());
}

// A live writer checks its -shm before each batch: a batch refused for a deleted index is not
// written, the journal is poisoned, and a reopen finds every acknowledged event.
TEST_CASE("deleted -shm under a live writer: the next append is journal.shm_missing and not written; a reopen finds every acknowledged event") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  std::int64_t acknowledged = 0;
  {
    auto journal = Journal::open(path, {});
    REQUIRE(journal.ok());
    for (int i = 1; i <= 50; ++i) {
      auto seq = (*journal)->append(test::enqueued("faults", marker(i)));
      REQUIRE(seq.ok());
      acknowledged = *seq;
    }
    REQUIRE(std::filesystem::remove(shm_of(path)));
    auto refused = (*journal)->append(test::enqueued("faults", "refused"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::journal_shm_missing);
    CHECK_FALSE((*journal)->append(test::enqueued("faults", "poisoned")).ok());
    (void)(*journal)->close();
  }
  auto all = read_all(path);
  REQUIRE_MESSAGE(all.ok(), describe(all));
  REQUIRE(static_cast<std::int64_t>(all->size()) == acknowledged);
  for (const Event& event : *all) CHECK(event.payload.value_or("").find("refused") == std::string::npos);
  auto reopened = Journal::open(path, {});
  REQUIRE_MESSAGE(reopened.ok(), describe(reopened));
  auto next = (*reopened)->append(test::enqueued("faults", "after"));
  REQUIRE(next.ok());
  CHECK(*next == acknowledged + 1);
}

// The crashed writer's -shm still records how many frames the WAL held at its last commit, so a
// WAL cut anywhere before that point is refused with journal.wal_truncated, and nothing is
// changed. Moving the -shm aside (the documented remedy) accepts the loss: SQLite then keeps the
// longest prefix of whole commits, every one of them unchanged.
TEST_CASE("truncated WAL: journal.wal_truncated from both opens, no byte changed; after the documented remedy every commit before the cut is readable") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = crash_writer(path, 200);
  const std::size_t wal_size = std::filesystem::file_size(wal_of(path));
  const std::size_t frames = (wal_size - kWalHeader) / kFrame;
  REQUIRE(frames > 20);
  std::size_t cut = 0;
  SUBCASE("cut inside a frame") { cut = kWalHeader + (frames / 2) * kFrame + kFrame / 2; }
  SUBCASE("cut at a frame boundary") { cut = kWalHeader + (frames / 2) * kFrame; }
  std::filesystem::resize_file(wal_of(path), cut);

  expect_refused_as_truncated(path, "frames_missing");
  auto refused = JournalReader::open(path);
  REQUIRE_FALSE(refused.ok());
  CHECK(*refused.error().find("wal_frames") == std::to_string(frames / 2));
  // The -shm's last commit lies past the cut; the WAL may also hold frames of a transaction the
  // kill interrupted, beyond that commit.
  const auto indexed_frames = std::stoull(*refused.error().find("indexed_frames"));
  CHECK(indexed_frames > frames / 2);
  CHECK(indexed_frames <= frames);

  std::filesystem::rename(shm_of(path), dir / "j.db-shm.lost");
  auto survived = read_all(path);
  REQUIRE_MESSAGE(survived.ok(), describe(survived));
  CHECK(survived->size() < committed.size());
  CHECK(survived->size() > 0);
  for (std::size_t i = 0; i < survived->size(); ++i) {
    INFO("seq " << i + 1);
    CHECK(same_event((*survived)[i], committed[i]));
  }
  auto journal = Journal::open(path, {});
  REQUIRE_MESSAGE(journal.ok(), describe(journal));
  auto next = (*journal)->append(test::enqueued("faults", "after"));
  REQUIRE(next.ok());
  CHECK(*next == static_cast<std::int64_t>(survived->size()) + 1);
}

// What a crash during a commit leaves: frames past the last indexed commit, the last one torn.
// That is not a cut (nothing committed is missing), so both opens succeed and lose nothing.
TEST_CASE("a torn frame past the last commit is a crash, not a cut: both opens succeed, every commit readable") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = crash_writer(path, 200);
  const std::size_t wal_size = std::filesystem::file_size(wal_of(path));
  write_bytes_at(wal_of(path), wal_size, std::string(kFrame / 2, '\x5a'));

  CHECK(expect_all_readable(path, committed) == committed.size());
  auto journal = Journal::open(path, {});
  REQUIRE_MESSAGE(journal.ok(), describe(journal));
  CHECK((*journal)->durable_seq() == committed.back().seq);
}

TEST_CASE("WAL cut inside its header: journal.wal_truncated; after the remedy the checkpointed journal is readable") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto before_crash = write_history(path, 30);  // checkpointed by the clean close
  const auto committed = crash_writer(path, 100);
  std::filesystem::resize_file(wal_of(path), 10);
  expect_refused_as_truncated(path, "header");

  std::filesystem::rename(wal_of(path), dir / "j.db-wal.lost");
  std::filesystem::rename(shm_of(path), dir / "j.db-shm.lost");
  CHECK(expect_all_readable(path, before_crash) >= before_crash.size());
  auto journal = Journal::open(path, {});
  REQUIRE_MESSAGE(journal.ok(), describe(journal));
  CHECK((*journal)->durable_seq() >= static_cast<std::int64_t>(before_crash.size()));
  CHECK((*journal)->durable_seq() < static_cast<std::int64_t>(committed.size()));
}

}  // TEST_SUITE

}  // namespace faults_wal_test
