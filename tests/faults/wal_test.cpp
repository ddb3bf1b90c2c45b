// WAL surgery after a writer crash: a child appends (Durability::Process) and is SIGKILLed, so
// its commits sit in an un-checkpointed WAL with the -shm beside it. Then the -shm is deleted,
// or the WAL is cut short.
#include "tests/faults/fault_support.hpp"

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

}  // namespace

TEST_SUITE("faults.wal") {

TEST_CASE("deleted -shm: the index is rebuilt from the WAL, every committed event readable, appends continue") {
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

TEST_CASE("deleted -shm under an open reader: the reader keeps reading every committed event") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = crash_writer(path, 200);
  auto reader = JournalReader::open(path);
  REQUIRE(reader.ok());
  REQUIRE(std::filesystem::remove(shm_of(path)));
  auto all = (*reader)->read(0, 10'000);
  REQUIRE_MESSAGE(all.ok(), describe(all));
  REQUIRE(all->size() == committed.size());
  for (std::size_t i = 0; i < committed.size(); ++i) CHECK(same_event((*all)[i], committed[i]));
}

// Cutting the WAL inside a frame makes that frame, and the commit it belongs to, invalid: WAL
// recovery keeps the longest prefix of whole commits, exactly as if the writer had died while
// writing that commit. Every commit before the cut stays readable, unchanged, and a new writer
// continues from the last surviving seq. No error is raised: the WAL holds no record of how long
// it was, so a cut at a commit boundary is indistinguishable from a crash (docs/TESTING.md).
TEST_CASE("truncated WAL: recovery keeps every commit before the cut, unchanged, and numbering resumes from it") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = crash_writer(path, 200);
  const std::size_t wal_size = std::filesystem::file_size(wal_of(path));
  const std::size_t frames = (wal_size - kWalHeader) / kFrame;
  REQUIRE(frames > 20);
  // Keep the first half of the frames whole, then half a frame.
  const std::size_t cut = kWalHeader + (frames / 2) * kFrame + kFrame / 2;
  std::filesystem::resize_file(wal_of(path), cut);

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

TEST_CASE("WAL cut inside its header: the WAL is ignored, the checkpointed journal stays readable") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto before_crash = write_history(path, 30);  // checkpointed by the clean close
  const auto committed = crash_writer(path, 100);
  std::filesystem::resize_file(wal_of(path), 10);
  REQUIRE(std::filesystem::remove(shm_of(path)));
  CHECK(expect_all_readable(path, before_crash) >= before_crash.size());
  auto journal = Journal::open(path, {});
  REQUIRE_MESSAGE(journal.ok(), describe(journal));
  CHECK((*journal)->durable_seq() >= static_cast<std::int64_t>(before_crash.size()));
  CHECK((*journal)->durable_seq() < static_cast<std::int64_t>(committed.size()));
}

}  // TEST_SUITE
