// bench/queue_cycle_keys: what an idempotency key on every enqueue costs the task cycle
// (docs/QUEUE.md, "Idempotency keys"). bench/queue_cycle's single-call Process case (4 producers,
// 4 workers, enqueue -> lease -> complete, 32-byte payloads, capacity 512) is run with
// enqueue_keyed under a fresh key per call, and as its own ceiling the same case with plain
// enqueue, alternating which goes first from round to round so that drift of the machine falls
// on both. The keys stay retained (TaskQueueOptions::key_retention's default, 24 hours), so the
// index grows through the run as it would in production.
//
// Usage: queue_cycle_keys [--seconds S] [--rounds R] (or $HUGO_BENCH_SECONDS, $HUGO_BENCH_ROUNDS)
// RESULT queue_cycle_keys value=<keyed cycles/s> ceiling=<plain cycles/s> ratio=<value/ceiling>
// (the goal: >= 0.9).
#include "bench/queue_cycle_run.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace hugo_bench::queue_cycle;
  double seconds = 2.0;
  double rounds_option = 5;
  hugo_bench::parse_options(argc, argv,
                            {{"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 600},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100}});
  const int rounds = static_cast<int>(rounds_option);
  const std::size_t capacity = hugo::TaskQueueOptions{}.capacity;
  char line[512];
  std::snprintf(line, sizeof line,
                "queue_cycle_keys: %d producers + %d workers, single calls, Durability::Process, %d rounds x %.2f s "
                "per case (medians over rounds), capacity %zu, %zu-byte payloads",
                kProducers, kWorkers, rounds, seconds, capacity, kPayloadBytes);
  hugo_bench::print_line(line);
  const hugo_bench::Hogs no_hogs(kProgram, 0);
  std::vector<double> keyed, plain;
  for (int round = 1; round <= rounds; ++round) {
    for (const bool with_keys : {round % 2 == 1, round % 2 == 0}) {
      const QueueResult r = run_queue(hugo::Durability::Process, 1, seconds, capacity, false, no_hogs, with_keys);
      (with_keys ? keyed : plain).push_back(r.rate());
      std::snprintf(line, sizeof line, "round=%d %s cycles=%lld secs=%.3f rate=%.1f cycles/s cpu_us/cycle=%.1f", round,
                    with_keys ? "keyed" : "plain", static_cast<long long>(r.cycles), r.seconds, r.rate(),
                    r.cpu_us_per_cycle());
      hugo_bench::print_line(line);
    }
  }
  std::snprintf(line, sizeof line, "summary keyed median=%.1f cycles/s rounds=[%s] | plain median=%.1f cycles/s rounds=[%s]",
                hugo_bench::median(keyed), hugo_bench::join_values(keyed).c_str(), hugo_bench::median(plain),
                hugo_bench::join_values(plain).c_str());
  hugo_bench::print_line(line);
  hugo_bench::print_result("queue_cycle_keys", hugo_bench::median(keyed), "cycles/s", hugo_bench::median(plain));
  return 0;
}
