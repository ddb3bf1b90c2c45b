// The journal file replaced underneath an open reader or a tailing replication source. A
// reader must notice (journal.replaced) instead of silently mixing two histories: an old
// connection keeps reading the unlinked file, or reads another journal's rows stamped with
// the old journal id.
#include "tests/faults/fault_support.hpp"

#include <hugo/replication.hpp>

#include <cstdio>

namespace faults_replaced_test {

using namespace hugo;
using namespace hugo::faults;

namespace {

// Replaces `path` by `other` the way a restore script would: rename over it (a new inode).
void rename_over(const std::filesystem::path& other, const std::filesystem::path& path) {
  REQUIRE(std::rename(other.c_str(), path.c_str()) == 0);
}

// Overwrites `path` in place with the bytes of `other` (the same inode), like `cp other path`.
void copy_into(const std::filesystem::path& other, const std::filesystem::path& path) {
  const std::string bytes = read_bytes(other);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  REQUIRE(out.good());
}

void expect_replaced(const Status& status, std::string_view reason, const std::string& journal_id) {
  REQUIRE_FALSE(status.ok());
  INFO(status.error().to_string());
  CHECK(status.error().code() == errc::journal_replaced);
  REQUIRE(status.error().find("reason") != nullptr);
  CHECK(*status.error().find("reason") == reason);
  CHECK(*status.error().find("journal_id") == journal_id);
  CHECK(status.error().find("path") != nullptr);
}

template <class T>
Status status_of(const Result<T>& result) {
  return result.ok() ? ok_status() : Status(result.error());
}

// A journal of `count` marker events, and a reader that has read every one of them.
struct ReadJournal {
  test::TempDir dir;
  std::filesystem::path path = dir / "j.db";
  std::vector<Event> committed;
  std::unique_ptr<JournalReader> reader;
  std::string id;

  explicit ReadJournal(int count) {
    committed = write_history(path, count);
    auto opened = JournalReader::open(path);
    REQUIRE(opened.ok());
    reader = std::move(opened).value();
    id = reader->journal_id();
    read_all_so_far();
  }

  void read_all_so_far() {
    auto all = reader->read(0, 1000);
    REQUIRE_MESSAGE(all.ok(), describe(all));
    CHECK(all->size() >= committed.size());
  }
};

}  // namespace

TEST_SUITE("faults.replaced") {

TEST_CASE("renamed over an open reader: read, changed and last_seq give journal.replaced, never the other history") {
  ReadJournal j(40);
  const auto other = j.dir / "other.db";
  write_history(other, 60);
  rename_over(other, j.path);

  expect_replaced(status_of(j.reader->read(40, 1000)), "replaced", j.id);
  expect_replaced(status_of(j.reader->read(0, 1000)), "replaced", j.id);
  expect_replaced(status_of(j.reader->changed()), "replaced", j.id);
  expect_replaced(status_of(j.reader->last_seq()), "replaced", j.id);
  // A fresh reader reads the new journal, whole.
  auto fresh = read_all(j.path);
  REQUIRE(fresh.ok());
  CHECK(fresh->size() == 60);
  CHECK(fresh->front().journal_id != j.id);
}

TEST_CASE("overwritten in place under an open reader: journal.replaced names both journal ids") {
  ReadJournal j(40);
  const auto other = j.dir / "other.db";
  write_history(other, 60);
  copy_into(other, j.path);

  auto after = j.reader->read(0, 1000);
  expect_replaced(status_of(after), "journal_id", j.id);
  REQUIRE_FALSE(after.ok());
  REQUIRE(after.error().find("found_journal_id") != nullptr);
  CHECK(*after.error().find("found_journal_id") != j.id);
  CHECK_FALSE(after.error().find("found_journal_id")->empty());
}

TEST_CASE("an older copy of the same journal restored in place: journal.replaced (rewound or rewritten)") {
  ReadJournal j(30);
  const auto backup = j.dir / "backup.db";
  std::filesystem::copy_file(j.path, backup);
  {
    auto journal = Journal::open(j.path, {});
    REQUIRE(journal.ok());
    for (int i = 31; i <= 50; ++i) REQUIRE((*journal)->append(test::enqueued("faults", marker(i))).ok());
  }
  auto more = j.reader->read(30, 1000);
  REQUIRE(more.ok());
  REQUIRE(more->size() == 20);

  copy_into(backup, j.path);  // same journal id, history back at seq 30

  // Which of the two the reader sees depends on SQLite: if the old -shm still describes more
  // pages than the restored file has, the file no longer reads back ("rewritten"); otherwise it
  // reads as this journal at seq 30 ("rewound"). Never the restored rows as if nothing happened.
  auto after = j.reader->read(0, 1000);
  REQUIRE_FALSE(after.ok());
  INFO(after.error().to_string());
  CHECK(after.error().code() == errc::journal_replaced);
  REQUIRE(after.error().find("reason") != nullptr);
  CHECK(*after.error().find("journal_id") == j.id);
  const std::string reason = *after.error().find("reason");
  CHECK((reason == "rewound" || reason == "rewritten"));
  if (reason == "rewound") {
    CHECK(*after.error().find("last_seq") == "30");
    CHECK(*after.error().find("read_seq") == "50");
  }
}

TEST_CASE("removed under an open reader: journal.replaced (removed)") {
  ReadJournal j(10);
  REQUIRE(std::filesystem::remove(j.path));
  expect_replaced(status_of(j.reader->read(0, 100)), "removed", j.id);
}

TEST_CASE("replaced under a tailing replication source: next() fails with journal.replaced, no foreign event delivered") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = write_history(path, 25);
  auto source = TaskQueueReplicationSource::open(path, 0);
  REQUIRE(source.ok());
  const std::string id = (*source)->journal_id();
  std::vector<Event> delivered;
  while (delivered.size() < committed.size()) {
    auto batch = (*source)->next(10, std::chrono::milliseconds(100));
    REQUIRE_MESSAGE(batch.ok(), describe(batch));
    REQUIRE_FALSE(batch->empty());
    delivered.insert(delivered.end(), batch->begin(), batch->end());
  }
  // The tail is idle at seq 25; another journal (more rows, another id) takes the path.
  const auto other = dir / "other.db";
  write_history(other, 80);
  rename_over(other, path);

  auto next = (*source)->next(10, std::chrono::milliseconds(200));
  expect_replaced(status_of(next), "replaced", id);
  CHECK((*source)->position() == 25);
  for (std::size_t i = 0; i < committed.size(); ++i) CHECK(same_event(delivered[i], committed[i]));
}

TEST_CASE("replaced under a source attached to an idle writer: next() fails with journal.replaced") {
  // The attached source reads the writer's memory, not the file; it still checks the path.
  test::TempDir dir;
  const auto path = dir / "j.db";
  std::shared_ptr<Journal> journal(Journal::open(path, {}).value().release());
  for (int i = 1; i <= 10; ++i) REQUIRE(journal->append(test::enqueued("faults", marker(i))).ok());
  auto source = TaskQueueReplicationSource::attach(journal, 0);
  REQUIRE(source.ok());
  const std::string id = (*source)->journal_id();
  auto first = (*source)->next(100);
  REQUIRE_MESSAGE(first.ok(), describe(first));
  CHECK(first->size() == 10);
  const auto other = dir / "other.db";
  write_history(other, 30);
  rename_over(other, path);
  auto next = (*source)->next(10, std::chrono::milliseconds(500));  // no commit: only the check sees it
  expect_replaced(status_of(next), "replaced", id);
  CHECK((*source)->position() == 10);
}

TEST_CASE("a journal replaced under a live writer: its next commit fails with journal.replaced, not read_only") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  auto journal = Journal::open(path, {});
  REQUIRE(journal.ok());
  for (int i = 1; i <= 10; ++i) REQUIRE((*journal)->append(test::enqueued("faults", marker(i))).ok());
  const auto other = dir / "other.db";
  write_history(other, 5);
  rename_over(other, path);
  auto seq = (*journal)->append(test::enqueued("faults", marker(11)));
  REQUIRE_FALSE(seq.ok());
  INFO(seq.error().to_string());
  CHECK(seq.error().code() == errc::journal_replaced);
  CHECK((*journal)->health().error().code() == errc::journal_replaced);
}

}  // TEST_SUITE

}  // namespace faults_replaced_test
