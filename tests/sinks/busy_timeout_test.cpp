// A sink database's busy timeout comes from SinkDatabaseOptions: with 0, a write that meets
// another connection's write lock fails at once with journal.busy and writes nothing.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/sink_database.hpp>

#include "tests/support/held_lock.hpp"
#include "tests/support/queue_fixture.hpp"

namespace sinks_busy_timeout_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

TEST_SUITE("busy_timeout") {

TEST_CASE("a sink database with busy_timeout 0 meets a held write lock with journal.busy and writes nothing") {
  test::TempDir dir;
  const auto path = dir / "sink.db";
  must(must(SinkDatabase::open(path))->execute_script("CREATE TABLE seen (n INTEGER)"));
  SinkDatabaseOptions options;
  options.busy_timeout = 0ms;
  auto db = must(SinkDatabase::open(path, options));
  const Status inserted = test::with_lock_held(path, test::HeldLock::Write,
                                               [&] { return db->execute("INSERT INTO seen (n) VALUES (1)"); });
  REQUIRE_FALSE(inserted.ok());
  CHECK(inserted.error().code() == errc::journal_busy);
  const auto rows = must(db->query("SELECT count(*) FROM seen"));
  REQUIRE(rows.size() == 1);
  CHECK(std::get<std::int64_t>(rows[0][0]) == 0);
}

TEST_CASE("a negative busy_timeout is refused with error.validation and creates nothing") {
  test::TempDir dir;
  SinkDatabaseOptions options;
  options.busy_timeout = -1ms;
  auto db = SinkDatabase::open(dir / "sink.db", options);
  REQUIRE_FALSE(db.ok());
  CHECK(db.error().code() == errc::validation);
  CHECK(std::filesystem::is_empty(dir.path()));
}

}  // TEST_SUITE

}  // namespace sinks_busy_timeout_test
