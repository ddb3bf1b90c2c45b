// The busy timeout comes from the caller: with 0, an operation that meets another connection's
// lock fails at once with journal.busy and changes nothing; with a longer one it waits for the lock.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/maintenance.hpp>
#include <hugo/verify.hpp>

#include "tests/support/held_lock.hpp"
#include "tests/support/queue_fixture.hpp"

namespace journal_busy_timeout_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

namespace {

// A closed journal holding a completed task below its newest row: a compaction deletes rows.
std::filesystem::path finished_history(test::QueueFixture& f) {
  auto q = f.open();
  must(q->enqueue("done"));
  must(q->complete(must(q->lease("w", Wait::none())).token));
  must(q->enqueue("live"));
  q.reset();
  f.journal.reset();
  return f.dir / "queue.journal";
}

std::size_t rows_of(const std::filesystem::path& path) {
  auto reader = must(JournalReader::open(path));
  return must(reader->read(0, 1000)).size();
}

Status compact(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  HUGO_TRY(compact_journal(path, 1000, {}, busy_timeout));
  return ok_status();
}

}  // namespace

TEST_SUITE("busy_timeout") {

TEST_CASE("compact_journal with busy_timeout 0 meets a held write lock with journal.busy and changes nothing") {
  test::QueueFixture f;
  const auto path = finished_history(f);
  const std::size_t before = rows_of(path);
  const Status compacted = test::with_lock_held(path, test::HeldLock::Write, [&] { return compact(path, 0ms); });
  REQUIRE_FALSE(compacted.ok());
  CHECK(compacted.error().code() == errc::journal_busy);
  CHECK(rows_of(path) == before);
}

TEST_CASE("compact_journal with the default busy_timeout waits for a write lock released meanwhile") {
  test::QueueFixture f;
  const auto path = finished_history(f);
  const std::size_t before = rows_of(path);
  const Status compacted =
      test::with_lock_held(path, test::HeldLock::Write, [&] { return compact(path, kDefaultBusyTimeout); }, 50ms);
  must(compacted);
  CHECK(rows_of(path) < before);
}

TEST_CASE("Journal::open with busy_timeout 0 meets a held write lock with journal.busy") {
  test::QueueFixture f;
  const auto path = finished_history(f);
  JournalOptions options;
  options.busy_timeout = 0ms;
  const Status opened = test::with_lock_held(path, test::HeldLock::Write, [&]() -> Status {
    HUGO_TRY(Journal::open(path, options));
    return ok_status();
  });
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code() == errc::journal_busy);
}

TEST_CASE("JournalReader::open with busy_timeout 0 meets an exclusive lock with journal.busy") {
  test::QueueFixture f;
  const auto path = finished_history(f);
  const Status opened = test::with_lock_held(path, test::HeldLock::Exclusive, [&]() -> Status {
    HUGO_TRY(JournalReader::open(path, 0ms));
    return ok_status();
  });
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code() == errc::journal_busy);
}

TEST_CASE("verify_journal and project_journal with busy_timeout 0 meet an exclusive lock with journal.busy") {
  test::QueueFixture f;
  const auto path = finished_history(f);
  const Status verified = test::with_lock_held(path, test::HeldLock::Exclusive, [&]() -> Status {
    HUGO_TRY(verify_journal(path, {}, 0ms));
    return ok_status();
  });
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.error().code() == errc::journal_busy);
  const Status projected = test::with_lock_held(path, test::HeldLock::Exclusive, [&]() -> Status {
    HUGO_TRY(project_journal(path, RecoveryMode::Strict, 0ms));
    return ok_status();
  });
  REQUIRE_FALSE(projected.ok());
  CHECK(projected.error().code() == errc::journal_busy);
  // With the default they wait for the lock, released meanwhile, and read the file.
  const Status waited = test::with_lock_held(path, test::HeldLock::Exclusive, [&]() -> Status {
    HUGO_ASSIGN_OR_RETURN(VerifyReport report, verify_journal(path));
    CHECK(report.violations.empty());
    return ok_status();
  }, 50ms);
  must(waited);
}

}  // TEST_SUITE

}  // namespace journal_busy_timeout_test
