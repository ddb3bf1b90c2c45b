// tail --follow in one process streams the events another process commits, like `tail -f`.
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"
#include "tests/support/process.hpp"

namespace tools_follow_test {

using namespace hugo;
using namespace hugo::test::cli;
using hugo::test::Child;

TEST_SUITE("cli.follow") {

TEST_CASE("tail --follow shows the events another process appends, then keeps waiting") {
  FixtureJournal f;
  Child follower({cli_binary(), "tail", "--follow", "--json", f.path.string()});
  for (int seq = 1; seq <= 24; ++seq) {
    const auto line = follower.read_line();
    REQUIRE(line.has_value());
    CHECK(line->rfind("{\"sequenceNumber\":" + std::to_string(seq) + ",", 0) == 0);
  }
  Child writer({hugo::test::child_binary(), "append", f.path.string(), "5"});
  while (writer.read_line()) {
  }
  CHECK(writer.wait() == 0);
  for (int seq = 25; seq <= 29; ++seq) {
    const auto line = follower.read_line();
    REQUIRE(line.has_value());
    CHECK(line->rfind("{\"sequenceNumber\":" + std::to_string(seq) + ",", 0) == 0);
    CHECK(line->find("\"queueName\":\"child\"") != std::string::npos);
    CHECK(line->find("\"value\":\"" ) != std::string::npos);
  }
  CHECK_FALSE(follower.read_line(300).has_value());  // caught up: waiting, not exiting
  follower.kill_hard();
  CHECK(follower.wait() == 128 + SIGKILL);
}

TEST_CASE("tail --follow applies its filters to new commits, and prints text rows as they come") {
  FixtureJournal f;
  Child follower({cli_binary(), "tail", "--follow", "--from", "20", "--queue", "emails", "--kind", "Enqueued",
                  f.path.string()});
  CHECK(follower.read_line() == std::optional<std::string>(
                                    "seq\tat\tqueue\tkind\ttask\tattempt\towner\tlease\tflags\terror\tpayload"));
  {
    auto journal = ok_or_throw(Journal::open(f.path, {}));
    Event e;
    e.occurred_at = Timestamp{std::chrono::seconds{1'704'070'800}};
    e.queue = "orders";
    e.payload = "not shown";
    ok_or_throw(journal->append(e));
    e.queue = "emails";
    e.payload = "shown";
    ok_or_throw(journal->append(e));
  }
  const auto line = follower.read_line();
  REQUIRE(line.has_value());
  CHECK(*line == "26\t2024-01-01T01:00:00+00:00\temails\tEnqueued\t26\t1\t\t\t\t\tshown");
  follower.kill_hard();
  follower.wait();
}

}  // TEST_SUITE

}  // namespace tools_follow_test
