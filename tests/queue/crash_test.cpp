// Crash recovery with real processes: a child runs a random queue workload under
// Durability::Fsync and is SIGKILLed at random acknowledgements; after each kill the journal is
// reopened and the queue invariants are checked against what the child acknowledged.
#include <doctest/doctest.h>

#include "tests/support/process.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tests/support/queue_invariants.hpp"

#include <cstdio>
#include <random>

namespace queue_crash_test {

using namespace hugo;

TEST_SUITE("queue.crash") {

TEST_CASE("SIGKILL at random moments never loses, duplicates or resurrects work") {
  const unsigned seed = test::crash_seed();
  const int kills = test::crash_kills(50);
  std::printf("queue crash test: seed %u (replay with HUGO_CRASH_SEED=%u)\n", seed, seed);
  std::mt19937 rng(seed);

  test::TempDir dir;
  const std::string journal_path = (dir / "crash.journal").string();
  const std::string acks_path = (dir / "acks.log").string();
  test::InvariantReport report;
  int performed = 0;
  for (int k = 0; k < kills; ++k) {
    {
      test::Child child({test::child_binary(), "queue-workload", journal_path, acks_path, std::to_string(rng())});
      const int acks_before_kill = 1 + static_cast<int>(rng() % 40);
      for (int a = 0; a < acks_before_kill; ++a) {
        auto line = child.read_line();
        REQUIRE_MESSAGE(line == std::optional<std::string>("ack"), "child stopped early: " << line.value_or("<eof>"));
      }
      child.kill_hard();
      CHECK(child.wait() == 128 + SIGKILL);
      ++performed;
    }
    auto journal = Journal::open(journal_path, {});
    REQUIRE_MESSAGE(journal.ok(), (journal.ok() ? "" : journal.error().to_string()));
    std::shared_ptr<Journal> shared(std::move(journal).value().release());
    TaskQueueOptions options;
    options.name = "crash";
    options.run_sweeper = false;
    options.max_delivery_attempts = 3;
    options.capacity = 100000;
    auto queue = TaskQueue::open(shared, options);
    REQUIRE_MESSAGE(queue.ok(), (queue.ok() ? "" : queue.error().to_string()));
    std::vector<Event> rows;
    for (std::int64_t after = 0;;) {
      auto batch = shared->read(after, 4096);
      REQUIRE(batch.ok());
      if (batch->empty()) break;
      after = batch->back().seq;
      rows.insert(rows.end(), batch->begin(), batch->end());
    }
    test::check_queue_invariants(test::read_acks(acks_path), rows, **queue, report);
    if (!report.violations.empty()) break;
  }
  std::printf("chaos: %d kills, %zu invariant checks, %zu violations (seed %u)\n", performed, report.checks,
              report.violations.size(), seed);
  for (const auto& v : report.violations) std::printf("violation: %s\n", v.c_str());
  CHECK(performed == kills);
  CHECK(report.checks > 0);
  CHECK(report.violations.empty());
}

}  // TEST_SUITE

}  // namespace queue_crash_test
