// The replication sequence: durable, strictly increasing in acceptance order, never reused.
#include <doctest/doctest.h>

#include <hugo/journal.hpp>

#include "schema/sqlite.hpp"
#include "tests/support/events.hpp"
#include "tests/support/temp_dir.hpp"

#include <atomic>
#include <map>
#include <thread>
#include <vector>

namespace journal_sequence_test {

using namespace hugo;
using hugo::test::enqueued;
using hugo::test::TempDir;

namespace {

std::unique_ptr<Journal> open_journal(const std::filesystem::path& path, Durability d = Durability::Process) {
  JournalOptions options;
  options.durability = d;
  auto journal = Journal::open(path, options);
  REQUIRE_MESSAGE(journal.ok(), (journal.ok() ? "" : journal.error().to_string()));
  return std::move(journal).value();
}

std::vector<Event> read_all(const Journal& journal) {
  std::vector<Event> all;
  std::int64_t after = 0;
  while (true) {
    auto batch = journal.read(after, 1000);
    REQUIRE(batch.ok());
    if (batch->empty()) return all;
    after = batch->back().seq;
    for (auto& e : *batch) all.push_back(std::move(e));
  }
}

}  // namespace

TEST_SUITE("journal.sequence") {

TEST_CASE("first append gets seq 1 and the journal fills its derived fields") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db");
  auto seq = journal->append(enqueued("orders", "hello"));
  REQUIRE(seq.ok());
  CHECK(*seq == 1);
  auto events = journal->read(0, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  const Event& e = events->front();
  CHECK(e.seq == 1);
  CHECK(e.source_event_id == 1);
  CHECK(e.task_id == 1);
  CHECK(e.queue == "orders");
  CHECK(e.payload == std::optional<std::string>("hello"));
  CHECK(e.occurred_at == test::t0());
  CHECK(e.recorded_at == test::t0());
  CHECK(e.journal_id == std::optional<std::string>(journal->journal_id()));
  CHECK(journal->journal_id().size() == 32);
}

TEST_CASE("reopening keeps the last sequence number and the journal id") {
  TempDir dir;
  std::string id;
  {
    auto journal = open_journal(dir / "j.db");
    id = journal->journal_id();
    for (int i = 0; i < 5; ++i) REQUIRE(journal->append(enqueued("q", "x")).ok());
  }
  auto journal = open_journal(dir / "j.db");
  CHECK(journal->journal_id() == id);
  CHECK(journal->durable_seq() == 5);
  auto seq = journal->append(enqueued("q", "y"));
  REQUIRE(seq.ok());
  CHECK(*seq == 6);
}

TEST_CASE("deleting the newest rows never lets a sequence number be reused") {
  TempDir dir;
  const auto path = dir / "j.db";
  {
    auto journal = open_journal(path);
    for (int i = 0; i < 10; ++i) REQUIRE(journal->append(enqueued("q", "x")).ok());
  }
  {
    auto db = sql::Db::open(path, sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
    REQUIRE(db.ok());
    REQUIRE(db->exec("DELETE FROM events WHERE seq > 6").ok());
  }
  auto journal = open_journal(path);
  auto info = journal->info();
  REQUIRE(info.ok());
  CHECK(info->row_count == 6);
  CHECK(info->last_seq == 10);
  auto seq = journal->append(enqueued("q", "after-delete"));
  REQUIRE(seq.ok());
  CHECK(*seq == 11);
  auto events = journal->read(6, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK(events->front().seq == 11);
  CHECK(events->front().payload == std::optional<std::string>("after-delete"));
}

TEST_CASE("16 threads x 10000 appends: gap-free, strictly increasing, each seq holds its caller's data") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db", Durability::Process);
  constexpr int kThreads = 16;
  constexpr int kPerThread = 10000;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      seqs[static_cast<std::size_t>(t)].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        auto seq = journal->append(enqueued("q", std::to_string(t) + ":" + std::to_string(i)));
        if (!seq.ok()) {
          failures++;
          return;
        }
        seqs[static_cast<std::size_t>(t)].push_back(*seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failures.load() == 0);

  const auto all = read_all(*journal);
  REQUIRE(all.size() == kThreads * kPerThread);
  for (std::size_t i = 0; i < all.size(); ++i) {
    REQUIRE(all[i].seq == static_cast<std::int64_t>(i + 1));  // gap-free and strictly increasing
  }
  for (int t = 0; t < kThreads; ++t) {
    const auto& mine = seqs[static_cast<std::size_t>(t)];
    for (int i = 0; i < kPerThread; ++i) {
      const std::int64_t seq = mine[static_cast<std::size_t>(i)];
      if (i > 0) REQUIRE(seq > mine[static_cast<std::size_t>(i - 1)]);  // a caller's order is kept
      REQUIRE(all[static_cast<std::size_t>(seq - 1)].payload ==
              std::optional<std::string>(std::to_string(t) + ":" + std::to_string(i)));
    }
  }
}

TEST_CASE("append_async assigns seqs in acceptance order before they are durable") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db", Durability::Fsync);
  std::vector<AppendTicket> tickets;
  for (int i = 0; i < 100; ++i) tickets.push_back(journal->append_async(enqueued("q", std::to_string(i))));
  for (int i = 0; i < 100; ++i) CHECK(tickets[static_cast<std::size_t>(i)].seq == i + 1);
  for (auto& ticket : tickets) REQUIRE(ticket.wait().ok());
  CHECK(journal->durable_seq() == 100);
  auto events = journal->read(0, 1000);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 100);
  CHECK(events->at(42).payload == std::optional<std::string>("42"));
}

// The writer takes a batch off its queue before committing it; flush() must still wait for that
// batch. Each round appends and flushes at once, so some flushes land while the writer is mid-commit.
TEST_CASE("flush() returns only when every append accepted before it is durable") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db", Durability::Fsync);
  int early = 0;
  for (int i = 0; i < 1000; ++i) {
    const AppendTicket ticket = journal->append_async(enqueued("q", std::to_string(i)));
    REQUIRE(journal->flush().ok());
    if (journal->durable_seq() < ticket.seq) ++early;
  }
  CHECK(early == 0);
}

TEST_CASE("wait_for_commit wakes when a commit lands") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db");
  std::thread producer([&] { REQUIRE(journal->append(enqueued("q", "x")).ok()); });
  const auto seen = journal->wait_for_commit(0, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  producer.join();
  CHECK(seen >= 1);
  // With nothing new, it returns at the deadline with the same position.
  const auto again = journal->wait_for_commit(seen, std::chrono::steady_clock::now() + std::chrono::milliseconds(5));
  CHECK(again == seen);
}

TEST_CASE("read returns bounded batches in order after any cursor") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db");
  for (int i = 0; i < 25; ++i) REQUIRE(journal->append(enqueued("q", std::to_string(i))).ok());
  auto batch = journal->read(10, 7);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 7);
  CHECK(batch->front().seq == 11);
  CHECK(batch->back().seq == 17);
  auto tail = journal->read(25, 7);
  REQUIRE(tail.ok());
  CHECK(tail->empty());
}

}  // TEST_SUITE

}  // namespace journal_sequence_test
