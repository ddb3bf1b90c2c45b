// Group commit without a writer thread (docs/FORMAT.md, "Group commit"): the caller that waits
// commits on its own thread, concurrent callers share commits in acceptance order, a failure
// poisons every queued batch, and the appends nobody waits for still commit.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>

#include "journal/journal_access.hpp"
#include "journal/wake_word.hpp"
#include "schema/sqlite.hpp"
#include "tests/support/events.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace journal_group_commit_test {

using namespace hugo;
using hugo::detail::JournalAccess;
using hugo::test::enqueued;
using hugo::test::eventually;
using hugo::test::far_deadline;
using hugo::test::TempDir;

namespace {

std::unique_ptr<Journal> open_journal(const std::filesystem::path& path, JournalOptions options = {}) {
  auto journal = Journal::open(path, options);
  REQUIRE_MESSAGE(journal.ok(), (journal.ok() ? "" : journal.error().to_string()));
  return std::move(journal).value();
}

}  // namespace

TEST_SUITE("journal.group_commit") {

// The flusher only takes a batch nobody waits for once it is commit_window old (1 s here), so
// every commit below is the appender's own.
TEST_CASE("a lone appender commits on its own thread") {
  TempDir dir;
  JournalOptions options;
  options.durability = Durability::Process;
  options.commit_window = std::chrono::seconds(1);
  auto journal = open_journal(dir / "j.db", options);
  const std::thread::id me = std::this_thread::get_id();
  for (int i = 0; i < 50; ++i) {
    REQUIRE(journal->append(enqueued("q", std::to_string(i))).ok());
    REQUIRE(JournalAccess::last_commit_thread(*journal) == me);
  }
  const AppendTicket ticket = journal->append_async(enqueued("q", "async"));
  REQUIRE(ticket.wait().ok());
  CHECK(JournalAccess::last_commit_thread(*journal) == me);
  const AppendTicket flushed = journal->append_async(enqueued("q", "flushed"));  // kept, not waited
  REQUIRE(journal->flush().ok());
  CHECK(journal->durable_seq() == 52);
  CHECK(JournalAccess::last_commit_thread(*journal) == me);
  // Nothing to commit: flush() neither blocks nor commits.
  REQUIRE(journal->flush().ok());
}

TEST_CASE("concurrent appenders share commits: consecutive seqs in acceptance order, every ticket resolves") {
  TempDir dir;
  JournalOptions options;
  options.durability = Durability::Process;
  options.max_batch = 16;  // several batches queue behind a commit
  auto journal = open_journal(dir / "j.db", options);
  constexpr int kThreads = 8;
  constexpr int kRounds = 60;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string tag = std::to_string(t) + ":" + std::to_string(i);
        if (i % 3 == 0) {  // an atomic group of three
          std::vector<Event> group{enqueued("q", tag + "a"), enqueued("q", tag + "b"), enqueued("q", tag + "c")};
          const AppendTicket ticket = journal->append_group_async(group);
          const auto seq = ticket.wait();
          REQUIRE(seq.ok());
          REQUIRE(ticket.count == 3);
          for (int k = 0; k < 3; ++k) seqs[static_cast<std::size_t>(t)].push_back(*seq + k);
        } else {
          const auto seq = journal->append(enqueued("q", tag));
          REQUIRE(seq.ok());
          seqs[static_cast<std::size_t>(t)].push_back(*seq);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::int64_t total = kThreads * (kRounds + 2 * (kRounds / 3));
  CHECK(journal->durable_seq() == total);
  CHECK(journal->last_accepted_seq() == total);
  std::set<std::int64_t> all;
  for (const auto& mine : seqs) {
    for (std::size_t i = 1; i < mine.size(); ++i) REQUIRE(mine[i] > mine[i - 1]);  // a caller's order is kept
    all.insert(mine.begin(), mine.end());
  }
  REQUIRE(all.size() == static_cast<std::size_t>(total));
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == total);
  // The rows hold what each seq was given, and each group's rows are consecutive.
  auto rows = journal->read(0, static_cast<std::size_t>(total) + 1);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == static_cast<std::size_t>(total));
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const std::string& payload = *(*rows)[i].payload;
    if (payload.back() == 'a') {
      const std::string tag = payload.substr(0, payload.size() - 1);
      REQUIRE(i + 2 < rows->size());
      CHECK(*(*rows)[i + 1].payload == tag + "b");
      CHECK(*(*rows)[i + 2].payload == tag + "c");
    }
  }
}

TEST_CASE("a failed commit poisons the failing batch, every queued batch and every later append") {
  TempDir dir;
  JournalOptions options;
  options.durability = Durability::Fsync;
  options.max_pages = 40;  // ~160 KiB: fills after about a hundred appends below
  options.max_batch = 1;   // one batch per append: they queue behind each other
  auto journal = open_journal(dir / "j.db", options);
  const std::string payload(1000, 'p');
  std::vector<AppendTicket> tickets;
  for (int i = 0; i < 400; ++i) tickets.push_back(journal->append_async(enqueued("q", payload + std::to_string(i))));
  std::int64_t last_ok = 0;
  int failed_after_acceptance = 0;
  for (const AppendTicket& ticket : tickets) {
    const auto seq = ticket.wait();  // every ticket resolves
    if (seq.ok()) {
      REQUIRE(failed_after_acceptance == 0);  // the committed ones are a prefix
      REQUIRE(*seq == last_ok + 1);
      last_ok = *seq;
      continue;
    }
    CHECK(seq.error().code() == errc::journal_full);
    if (ticket.seq != 0) ++failed_after_acceptance;
  }
  CHECK(last_ok > 10);
  CHECK(failed_after_acceptance >= 1);
  CHECK(journal->durable_seq() == last_ok);
  CHECK(journal->health().error().code() == errc::journal_full);
  const auto later = journal->append(enqueued("q", "small"));
  REQUIRE_FALSE(later.ok());
  CHECK(later.error().code() == errc::journal_full);
  CHECK(journal->flush().error().code() == errc::journal_full);
  auto rows = journal->read(0, 1000);
  REQUIRE(rows.ok());
  CHECK(static_cast<std::int64_t>(rows->size()) == last_ok);
}

TEST_CASE("an append whose ticket is dropped commits in the background and wakes wait_for_commit") {
  TempDir dir;
  const auto path = dir / "j.db";
  auto journal = open_journal(path);
  (void)journal->append_async(enqueued("q", "dropped"));
  CHECK(journal->wait_for_commit(0, far_deadline()) == 1);
  CHECK(JournalAccess::last_commit_thread(*journal) != std::this_thread::get_id());  // the flusher's
  // A kept ticket nobody waits for yet commits too, within about max(commit_window, 1 ms).
  const AppendTicket kept = journal->append_async(enqueued("q", "kept"));
  CHECK(journal->wait_for_commit(1, far_deadline()) == 2);
  CHECK(JournalAccess::last_commit_thread(*journal) != std::this_thread::get_id());
  REQUIRE(kept.wait().ok());
  // close() commits what nobody waited for.
  for (int i = 0; i < 20; ++i) (void)journal->append_async(enqueued("q", std::to_string(i)));
  REQUIRE(journal->close().ok());
  journal.reset();
  auto reopened = open_journal(path);
  CHECK(reopened->durable_seq() == 22);
  auto rows = reopened->read(0, 100);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 22);
}

TEST_CASE("a ticket outlives its journal, and an empty ticket is not waitable") {
  TempDir dir;
  AppendTicket ticket;
  CHECK_FALSE(ticket.valid());
  CHECK(ticket.batch_id() == nullptr);
  CHECK(ticket.wait().error().code() == errc::validation);
  {
    auto journal = open_journal(dir / "j.db");
    ticket = journal->append_async(enqueued("q", "x"));
  }  // the journal's destructor closes it, committing the append
  CHECK(ticket.valid());
  CHECK(ticket.wait().value() == 1);
  std::vector<Event> none;
  auto journal = open_journal(dir / "j.db");
  const AppendTicket empty = journal->append_group_async(none);
  CHECK(empty.seq == 0);
  CHECK(empty.wait().ok());
}

// A leader that finds batches queued behind its own with callers asleep on them commits those too,
// rather than waking one of them to do it (journal_writer.cpp, Impl::lead): a hand-off would put a
// wake-up and a context switch on the commit path. Another connection's write lock holds the
// leader inside its first commit until two callers sleep on batches of their own behind it.
TEST_CASE("a leader commits the following batches whose callers sleep, on its own thread") {
  TempDir dir;
  JournalOptions options;
  options.durability = Durability::Process;
  options.max_batch = 1;                             // one batch per append
  options.commit_window = std::chrono::seconds(1);  // the flusher leaves the waited-for batches alone
  options.busy_timeout = std::chrono::seconds(60);   // the leader waits for the held lock
  auto journal = open_journal(dir / "j.db", options);
  REQUIRE(journal->append(enqueued("q", "first")).ok());  // the table exists before the lock is taken

  auto holder = sql::Db::open(dir / "j.db", sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
  REQUIRE(holder.ok());
  REQUIRE(holder->exec("BEGIN IMMEDIATE").ok());

  std::int64_t leader_seq = 0, second_seq = 0, third_seq = 0;
  std::thread leader([&] { leader_seq = journal->append(enqueued("q", "leader")).value_or(-1); });
  const std::thread::id leader_id = leader.get_id();
  REQUIRE(eventually([&] {
    const auto seen = JournalAccess::commit_queue(*journal);
    return seen.committing && seen.queued_batches == 0;  // its batch is being written
  }));
  std::thread second([&] { second_seq = journal->append(enqueued("q", "second")).value_or(-1); });
  REQUIRE(eventually([&] { return JournalAccess::commit_queue(*journal).sleepers == 1; }));
  std::thread third([&] { third_seq = journal->append(enqueued("q", "third")).value_or(-1); });
  REQUIRE(eventually([&] { return JournalAccess::commit_queue(*journal).sleepers == 2; }));
  const auto queued = JournalAccess::commit_queue(*journal);
  CHECK(queued.committing);
  CHECK(queued.queued_batches == 2);

  *holder = sql::Db();  // releases the lock: the leader's commit goes through
  leader.join();
  second.join();
  third.join();
  CHECK(leader_seq == 2);
  CHECK(second_seq == 3);
  CHECK(third_seq == 4);
  CHECK(journal->durable_seq() == 4);
  // The last commit, the third caller's batch, was the leader's: neither sleeper was woken to lead.
  CHECK(JournalAccess::last_commit_thread(*journal) == leader_id);
}

// The word a waiter sleeps on (journal/wake_word.hpp): a wake sent between the waiter's read and
// its sleep is not lost, and a sleeper wakes when the word is bumped by another thread.
TEST_CASE("a WakeWord loses no wake-up sent between the read and the sleep") {
  detail::WakeWord word;
  const std::uint32_t seen = word.read();
  word.wake_all();   // nobody asleep yet: only bumps the word
  word.sleep(seen);  // returns at once: the word changed since `seen`
  CHECK(word.read() != seen);

  std::atomic<int> done{0};
  std::atomic<bool> met{false};
  std::thread sleeper([&] {
    while (!met.load()) {  // the condition, re-checked after every return, as Impl::await does
      const std::uint32_t now = word.read();
      if (met.load()) break;
      word.sleep(now);
    }
    done.store(1);
  });
  met.store(true);
  word.wake_one();
  sleeper.join();
  CHECK(done.load() == 1);
}

TEST_CASE("WakeWord::sleep_until returns by its deadline, and at once for a word that changed") {
  detail::WakeWord word;
  const std::uint32_t seen = word.read();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  int sleeps = 0;
  while (std::chrono::steady_clock::now() < deadline) {  // spurious returns sleep again
    word.sleep_until(seen, deadline);
    ++sleeps;
  }
  CHECK(std::chrono::steady_clock::now() >= deadline);
  CHECK(sleeps < 100);  // it slept: a wait that returned at once would spin here thousands of times
  CHECK(word.read() == seen);
  word.wake_all();
  word.sleep_until(seen, far_deadline());  // the word changed since `seen`: no sleep
  CHECK(word.read() != seen);
  word.sleep_until(word.read(), std::chrono::steady_clock::time_point::min());  // a deadline already past
}

// A caller asleep on a word of its own while another thread appended for it (a TaskQueue's
// enqueue served by a lease) is woken when that append's batch resolves, committed or failed.
TEST_CASE("wake_when_resolved wakes its word once the ticket's batch is resolved, or at once") {
  TempDir dir;
  JournalOptions options;
  options.commit_window = std::chrono::milliseconds(0);
  auto journal = open_journal(dir / "j.db", options);

  // Queued: the word moves only when the batch commits.
  {
    const AppendTicket ticket = journal->append_async(enqueued("q", "a"));
    auto word = std::make_shared<detail::WakeWord>();
    const std::uint32_t seen = word->read();
    JournalAccess::wake_when_resolved(ticket, word);
    CHECK(ticket.wait().ok());  // commits here (or the flusher did): either way it is resolved
    CHECK(eventually([&] { return word->read() != seen; }));
  }
  // Already committed, refused at once, or empty: woken before the call returns.
  {
    const AppendTicket committed = journal->append_async(enqueued("q", "b"));
    REQUIRE(committed.wait().ok());
    Event invalid = enqueued("q", "c");
    invalid.attempt = 0;
    const AppendTicket refused = journal->append_async(invalid);
    REQUIRE(refused.seq == 0);
    for (const AppendTicket* ticket : {&committed, &refused}) {
      auto word = std::make_shared<detail::WakeWord>();
      const std::uint32_t seen = word->read();
      JournalAccess::wake_when_resolved(*ticket, word);
      CHECK(word->read() != seen);
    }
    auto word = std::make_shared<detail::WakeWord>();
    const std::uint32_t seen = word->read();
    JournalAccess::wake_when_resolved(AppendTicket(), word);
    CHECK(word->read() != seen);
  }
}

TEST_CASE("wake_when_resolved wakes the words of batches a failed commit poisons") {
  TempDir dir;
  JournalOptions options;
  options.durability = Durability::Fsync;
  options.max_pages = 40;  // fills after about a hundred appends below
  options.max_batch = 1;   // one batch per append
  auto journal = open_journal(dir / "j.db", options);
  const std::string payload(1000, 'p');
  std::vector<AppendTicket> tickets;
  std::vector<std::pair<std::shared_ptr<detail::WakeWord>, std::uint32_t>> words;
  for (int i = 0; i < 400; ++i) {
    tickets.push_back(journal->append_async(enqueued("q", payload + std::to_string(i))));
    auto word = std::make_shared<detail::WakeWord>();
    words.emplace_back(word, word->read());
    JournalAccess::wake_when_resolved(tickets.back(), word);
  }
  int failed = 0;
  for (const AppendTicket& ticket : tickets) failed += ticket.wait().ok() ? 0 : 1;
  CHECK(failed > 0);
  for (const auto& [word, seen] : words) {
    const std::shared_ptr<detail::WakeWord> w = word;
    const std::uint32_t s = seen;
    CHECK(eventually([&] { return w->read() != s; }));
  }
}

// The unchecked path (a TaskQueue's) fills the caller's events in place but for journal_id, which
// the journal's copy does not keep either (Intake::CopyLean): read_recent() and read() show it.
TEST_CASE("append_group_unchecked fills the caller's events but journal_id, which the readers fill in") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db");
  std::vector<Event> group{enqueued("q", std::string(40, 'a')), enqueued("q", std::string(40, 'b'))};
  REQUIRE(JournalAccess::append_group_unchecked(*journal, group).wait().ok());
  CHECK(group[0].seq == 1);
  CHECK(group[1].seq == 2);
  CHECK(group[1].task_id == 2);
  CHECK_FALSE(group[0].journal_id.has_value());
  CHECK_FALSE(group[1].journal_id.has_value());
  const auto recent = journal->read_recent(0, 10);
  REQUIRE(recent.has_value());
  REQUIRE(recent->size() == 2);
  CHECK((*recent)[1].journal_id == journal->journal_id());
  CHECK((*recent)[1].payload == std::string(40, 'b'));
  const auto rows = journal->read(0, 10);
  REQUIRE(rows.ok());
  CHECK((*rows)[1].journal_id == journal->journal_id());
}

// An event's costly checks (its payload's JSON is parsed: up to kMaxPayloadBytes) run before the
// journal takes its mutex, so other callers' appends go on committing meanwhile. Observed, not
// timed: while one caller appends the largest JSON payload, another appends small events one at a
// time and counts those committed before the large one returns. Were the JSON parsed under the
// mutex, those appends would wait for it: at most the one in flight when it started could count
// (0-1 on the old code; 250-2700 since, by durability and machine).
TEST_CASE("a large JSON payload is checked without holding up other appends") {
  TempDir dir;
  JournalOptions options;
  options.durability = Durability::Process;  // the small appends wait for no fsync
  auto journal = open_journal(dir / "j.db", options);
  std::string json = "[";
  json.reserve(kMaxPayloadBytes);
  while (json.size() + 8 < kMaxPayloadBytes) json += "{\"a\":1},";
  json += "1]";
  Event big = enqueued("q", std::move(json));
  big.payload_format = PayloadFormat::Json;
  const std::size_t big_size = big.payload->size();
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  std::int64_t big_seq = 0;
  std::thread big_appender([&] {
    started = true;
    auto seq = journal->append(std::move(big));
    CHECK(seq.ok());
    big_seq = seq.ok() ? *seq : 0;
    finished = true;
  });
  CHECK(eventually([&] { return started.load(); }));
  // Until the large append returns; the far deadline only turns a stuck append into a failure.
  const auto deadline = far_deadline();
  int committed_meanwhile = 0;
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    const bool small_ok = journal->append(enqueued("q", "small")).ok();
    CHECK(small_ok);
    if (!small_ok) break;
    if (!finished) ++committed_meanwhile;
  }
  big_appender.join();
  MESSAGE("small appends committed while the large one was checked: " << committed_meanwhile);
  CHECK(committed_meanwhile >= 20);
  const auto rows = journal->read(big_seq - 1, 1);  // and the large event is whole in the journal
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().payload->size() == big_size);
  CHECK(rows->front().payload_format == PayloadFormat::Json);
}

// The content checks come first: an invalid event is refused as invalid even by a closed journal,
// which refuses a valid one as closed; neither takes a seq (docs/FORMAT.md, "Durability and the WAL").
TEST_CASE("a closed journal refuses an invalid event as invalid and a valid one as closed") {
  TempDir dir;
  auto journal = open_journal(dir / "j.db");
  REQUIRE(journal->append(enqueued("q", "a")).ok());
  REQUIRE(journal->close().ok());
  auto invalid = journal->append(enqueued("", "no queue name"));
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().code() == errc::validation);
  auto valid = journal->append(enqueued("q", "b"));
  REQUIRE_FALSE(valid.ok());
  CHECK(valid.error().code() == errc::journal_closed);
  CHECK(journal->last_accepted_seq() == 1);
}

// A leader that stops with a batch nobody waits for left queued wakes the flusher only when that
// batch is due at once (its tickets are gone, or a newer batch queued behind it); one due later
// the flusher's own timer meets, so waking it would only put it back to sleep (journal_writer.cpp,
// Impl::lead). Counted, not timed: JournalAccess::commit_queue reports the wake-ups sent.
TEST_CASE("a leader that stops wakes the flusher only for a batch due at once") {
  TempDir dir;
  JournalOptions options;
  options.durability = Durability::Process;
  options.max_batch = 1;                            // one batch per append
  options.commit_window = std::chrono::seconds(1);  // a kept batch is due 1 s after it opened
  options.busy_timeout = std::chrono::seconds(60);  // the leader waits for the held lock
  auto journal = open_journal(dir / "j.db", options);
  REQUIRE(journal->append(enqueued("q", "first")).ok());

  // The leader is held inside its commit while `queue_behind` queues a batch nobody waits for.
  const auto lead_with = [&](auto queue_behind) {
    auto holder = sql::Db::open(dir / "j.db", sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
    REQUIRE(holder.ok());
    REQUIRE(holder->exec("BEGIN IMMEDIATE").ok());
    std::thread leader([&] { CHECK(journal->append(enqueued("q", "leader")).ok()); });
    REQUIRE(eventually([&] {
      const auto seen = JournalAccess::commit_queue(*journal);
      return seen.committing && seen.queued_batches == 0;
    }));
    queue_behind();
    REQUIRE(JournalAccess::commit_queue(*journal).queued_batches == 1);
    const std::uint64_t sent = JournalAccess::commit_queue(*journal).flusher_wakeups_sent;
    *holder = sql::Db();
    leader.join();
    return JournalAccess::commit_queue(*journal).flusher_wakeups_sent - sent;
  };

  // Kept, not waited: due 1 s after it opened. The leader leaves it to the flusher's timer.
  std::optional<AppendTicket> kept;
  CHECK(lead_with([&] { kept = journal->append_async(enqueued("q", "kept")); }) == 0);
  REQUIRE(kept->wait().ok());  // committed by this caller, as a waiter
  CHECK(journal->durable_seq() == 3);

  // Its ticket dropped while the leader commits: due at once, so the leader wakes the flusher,
  // which commits it.
  CHECK(lead_with([&] { (void)journal->append_async(enqueued("q", "dropped")); }) == 1);
  CHECK(journal->wait_for_commit(4, far_deadline()) == 5);
}

}  // TEST_SUITE

}  // namespace journal_group_commit_test
