// A second writer: while one process holds the writer lock, every other Journal::open fails with
// journal.locked naming the holder's pid; readers read every committed event meanwhile, and the
// lock dies with the holder.
#include "tests/faults/fault_support.hpp"

namespace faults_second_writer_test {

using namespace hugo;
using namespace hugo::faults;

TEST_SUITE("faults.second_writer") {

TEST_CASE("second writer: journal.locked with the holder's pid; readers unaffected; the lock dies with its holder") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = write_history(path, 40);
  {
    test::Child holder({test::child_binary(), "hold-writer", path.string()});
    REQUIRE(holder.read_line() == std::optional<std::string>("ready"));
    auto second = Journal::open(path, {});
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code() == errc::journal_locked);
    REQUIRE(second.error().find("pid") != nullptr);
    CHECK(*second.error().find("pid") == std::to_string(holder.pid()));
    CHECK(second.error().find("lock_file") != nullptr);
    CHECK(second.error().message().find(std::to_string(holder.pid())) != std::string::npos);
    CHECK(expect_all_readable(path, committed) == committed.size());
    holder.kill_hard();
    CHECK(holder.wait() == 128 + SIGKILL);
  }
  auto journal = Journal::open(path, {});
  REQUIRE_MESSAGE(journal.ok(), describe(journal));
  // In this process too, a second Journal on the same file is refused while one is open.
  auto again = Journal::open(path, {});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == errc::journal_locked);
  CHECK(*again.error().find("pid") == std::to_string(::getpid()));
  auto next = (*journal)->append(test::enqueued("faults", "after"));
  REQUIRE(next.ok());
  CHECK(*next == 41);
}

}  // TEST_SUITE

}  // namespace faults_second_writer_test
