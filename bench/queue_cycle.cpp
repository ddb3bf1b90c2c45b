// bench/queue_cycle: enqueue -> lease -> complete cycles per second through hugo::TaskQueue,
// against the raw SQLite ceiling for the same rows.
//
// The queue: a fresh journal in a fresh mkdtemp folder, one TaskQueue ("bench", no sweeper,
// capacity --capacity, default TaskQueueOptions' 512), 4 producer threads and 4 worker threads,
// for --seconds, under Durability::Process and Durability::Fsync, in two forms:
//   - single calls: producers call enqueue(32-byte payload, Wait::forever) in a loop, workers
//     lease(owner, Wait::forever) then complete(token);
//   - batches of --batch (default 64): producers call enqueue_batch(64 payloads), workers
//     lease_batch(owner, 64) then complete_batch(the tokens they got).
// Figure: completed cycles per second (a cycle = one task enqueued, leased and completed; the
// tasks completed inside the window / its length). A bounded queue keeps producers from running
// ahead of the workers, so the journal carries ~3 rows per cycle.
//
// Rows per commit: every call blocks until its rows are durable, so at most 8 x batch rows (one
// call per thread) are ever accepted but not yet committed. A sampler thread waits on
// Journal::wait_for_commit and records how far durable_seq() jumped at each wake-up. A jump of
// more than that bound must span several commits (the sampler was late); it is counted as
// ceil(jump / bound) commits. rows/commit = rows committed / commits counted. When the sampler is
// never late this is exact; when it is late it overestimates the batch (so it errs towards a
// higher ceiling). --sampler 0 runs without it (to see what it costs).
//
// The ceiling: raw SQLite inserting the same three rows per cycle (an Enqueued row with the
// payload, a LeaseGranted row with owner and expiry, a Completed row with the lease), with the
// journal's table, INSERT and pragmas, one thread, prepared statements, one transaction per B
// rows, where B is the rows/commit the queue's writer just used (rounded), at synchronous=NORMAL
// (Process) or FULL (Fsync). Ceiling cycles/s = rows/s / 3.
//
// Every round runs each case once, the queue run and its ceiling back to back in alternating
// order (odd rounds: queue first, ceiling at the batch it used; even rounds: ceiling first, at the
// batch measured last), because fsync latency on a virtual disk drifts. Figures are medians over
// rounds.
//
// CPU per cycle: the process's CPU time over the window (CLOCK_PROCESS_CPUTIME_ID: producers,
// workers and the journal's own threads), less the sampler's and the hogs' threads (their
// CPU-time clocks), divided by the cycles; the ceiling's is its one thread's CPU time over its
// timed loop, divided by rows / 3.
//
// --batched 0 leaves out the batch cases, --ceiling 0 the raw SQLite runs (their RESULT lines then
// show ceiling=0): `--fsync 0 --batched 0 --ceiling 0` runs the single-call Process case alone,
// as a profile of its CPU wants (valgrind --tool=callgrind: the timed window is dumped apart).
//
// --hog N: N threads spin on the CPUs for the whole run, ceilings included (bench/support/hog.hpp).
//
// Usage: queue_cycle [--seconds S] [--rounds R] [--capacity N] [--batch N] [--sampler 0|1]
//        [--fsync 0|1] [--batched 0|1] [--ceiling 0|1] [--hog N] (or $HUGO_BENCH_SECONDS, $HUGO_BENCH_ROUNDS)
// RESULT lines: queue_cycle_fsync_single, queue_cycle_process_single (single calls),
// queue_cycle_process_single_cpu_us (CPU us per single-call Process cycle; ceiling = the raw
// ceiling's, ratio = ceiling / value), then queue_cycle_fsync and, last, queue_cycle_process
// (batches): value=<cycles/s> ceiling=<raw>. With --hog N every name ends in _hogN.
#include "bench/queue_cycle_run.hpp"
#include "bench/support/hog.hpp"
#include "bench/support/raw_sqlite.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace hugo_bench::queue_cycle;
using hugo_bench::durability_name;
using hugo_bench::join_values;

// ---- the ceiling: raw SQLite -------------------------------------------------------------------

using RawResult = hugo_bench::RawInserts;

double cycle_rate(const RawResult& r) { return r.rate() / 3.0; }
double cpu_us_per_cycle(const RawResult& r) { return r.rows > 0 ? r.cpu_s * 1e6 * 3.0 / static_cast<double>(r.rows) : 0; }

// The ceiling at `batch` rows per transaction: the three rows of a cycle as the queue's journal
// writes them, into the journal's own tables with its INSERT and pragmas.
RawResult run_raw(bool full, std::size_t batch, double budget) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-raw");
  const std::string payload = hugo_bench::alphabet_payload(kPayloadBytes);
  constexpr std::int64_t kLeaseMicros = 30'000'000;  // TaskQueueOptions' default lease_duration
  // Queue "bench" and the four owners, interned as the journal's writer would.
  return hugo_bench::raw_insert_run(
      kProgram, (dir / "raw.db").string(), full, batch, budget,
      "(1, 'bench'), (2, 'worker-0'), (3, 'worker-1'), (4, 'worker-2'), (5, 'worker-3')",
      [&](sqlite3_stmt* insert, std::int64_t seq, std::int64_t at) {
        // Rows cycle Enqueued, LeaseGranted, Completed, as journal/rows_encode.cpp writes them.
        const std::int64_t phase = (seq - 1) % 3;
        const std::int64_t task = seq - phase;  // the Enqueued row's seq
        for (int c = 1; c <= 12; ++c) sqlite3_bind_null(insert, c);
        sqlite3_bind_int64(insert, 1, seq);
        sqlite3_bind_int64(insert, 3, 1);
        sqlite3_bind_int64(insert, 5, 1);
        sqlite3_bind_int64(insert, 6, at);
        sqlite3_bind_int64(insert, 10, 0);
        if (phase == 0) {  // Enqueued: task NULL (= seq), the payload
          sqlite3_bind_int64(insert, 2, 0);
          sqlite3_bind_blob64(insert, 12, payload.data(), payload.size(), SQLITE_TRANSIENT);
        } else if (phase == 1) {  // LeaseGranted: task, owner, expires (lease NULL = own seq)
          sqlite3_bind_int64(insert, 2, 1);
          sqlite3_bind_int64(insert, 4, task);
          sqlite3_bind_int64(insert, 8, 2 + task % 4);
          sqlite3_bind_int64(insert, 9, kLeaseMicros);
        } else {  // Completed: task, the lease
          sqlite3_bind_int64(insert, 2, 3);
          sqlite3_bind_int64(insert, 4, task);
          sqlite3_bind_int64(insert, 7, task + 1);
        }
      });
}

std::string queue_line(const QueueResult& r) {
  char line[1024];
  std::snprintf(line, sizeof line,
                "queue durability=%-7s cycles=%-7lld secs=%.3f rate=%.1f cycles/s enqueued=%lld pending_at_end=%zu "
                "rows=%lld rows/cycle=%.2f",
                durability_name(r.durability), static_cast<long long>(r.cycles), r.seconds, r.rate(),
                static_cast<long long>(r.enqueued), r.pending_at_end, static_cast<long long>(r.rows),
                r.cycles > 0 ? static_cast<double>(r.rows) / static_cast<double>(r.cycles) : 0.0);
  std::string text = line;
  if (r.sampled) {
    std::snprintf(line, sizeof line, " commits~%lld rows/commit=%.2f (wakeups=%lld late=%lld max_jump=%lld)",
                  static_cast<long long>(r.commits), r.rows_per_commit(), static_cast<long long>(r.wakeups),
                  static_cast<long long>(r.late_wakeups), static_cast<long long>(r.max_jump));
    text += line;
  }
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const double per_cycle = r.cycles > 0 ? 1.0 / static_cast<double>(r.cycles) : 0.0;
  std::snprintf(line, sizeof line,
                " cpu_us/cycle=%.1f (cpu %.0f%% of %u CPUs; hogs and sampler left out) sampler_cpu_us/cycle=%.1f "
                "csw/cycle=%.2f voluntary + %.2f involuntary (whole process)",
                r.cpu_us_per_cycle(), r.seconds > 0 ? 100.0 * r.cpu_s / r.seconds / cpus : 0.0, cpus,
                r.sampler_cpu_s * 1e6 * per_cycle, static_cast<double>(r.voluntary_switches) * per_cycle,
                static_cast<double>(r.involuntary_switches) * per_cycle);
  text += line;
  text += " enqueue_us: " + hugo_bench::format_summary(r.enqueue_us, "");
  text += " lease_us: " + hugo_bench::format_summary(r.lease_us, "");
  text += " complete_us: " + hugo_bench::format_summary(r.complete_us, "");
  return text;
}

std::string raw_line(const RawResult& r) {
  char line[512];
  std::snprintf(line, sizeof line,
                "raw_sqlite sync=%-6s batch=%-2zu rows=%-8lld secs=%.3f rate=%.1f rows/s = %.1f cycles/s commits=%lld "
                "cpu_us/cycle=%.1f",
                r.full ? "FULL" : "NORMAL", r.batch, static_cast<long long>(r.rows), r.seconds, r.rate(),
                cycle_rate(r), static_cast<long long>(r.commits), cpu_us_per_cycle(r));
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  double rounds_option = 3;
  double capacity_option = static_cast<double>(hugo::TaskQueueOptions{}.capacity);
  double sampler_option = 1;
  double fsync_option = 1;
  double batch_option = kDefaultBatch;
  double hog_option = 0;
  double batched_option = 1;
  double ceiling_option = 1;
  hugo_bench::parse_options(argc, argv,
                            {{"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 600},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--capacity", nullptr, &capacity_option, 1, 1e9},
                             {"--sampler", nullptr, &sampler_option, 0, 1},
                             {"--fsync", nullptr, &fsync_option, 0, 1},
                             {"--batch", nullptr, &batch_option, 2, 4096},
                             {"--batched", nullptr, &batched_option, 0, 1},
                             {"--ceiling", nullptr, &ceiling_option, 0, 1},
                             {"--hog", nullptr, &hog_option, 0, 64}});
  const int rounds = static_cast<int>(rounds_option);
  const auto capacity = static_cast<std::size_t>(capacity_option);
  const auto batch_size = static_cast<std::size_t>(batch_option);
  const bool sample = sampler_option != 0;
  if (batch_size > capacity) hugo_bench::fail(kProgram, "--batch must not exceed --capacity (a batch must fit the queue)");
  char line[512];
  std::snprintf(line, sizeof line,
                "queue_cycle: sqlite %s, %d producers + %d workers, single calls and batches of %zu, %d rounds x "
                "%.2f s per case (medians over rounds), capacity %zu, %zu-byte payloads, sampler %s",
                sqlite3_libversion(), kProducers, kWorkers, batch_size, rounds, seconds, capacity, kPayloadBytes,
                sample ? "on" : "off");
  hugo_bench::print_line(line);
  hugo_bench::Hogs hogs(kProgram, static_cast<int>(hog_option));
  if (hogs.count() > 0) hugo_bench::print_line(hogs.started_line());

  // A case: (Fsync?, tasks per call).
  using Case = std::pair<bool, std::size_t>;
  std::vector<Case> cases;
  for (const bool fsync : {false, true}) {
    if (fsync && fsync_option == 0) continue;
    for (const std::size_t batch : {std::size_t{1}, batch_size}) {
      if (batch != 1 && batched_option == 0) continue;
      cases.emplace_back(fsync, batch);
    }
  }
  std::map<Case, std::vector<double>> queue_rates, raw_rates, batches;
  std::map<Case, std::vector<double>> queue_cpu_us, raw_cpu_us;  // CPU us per cycle
  std::map<Case, std::pair<std::int64_t, std::int64_t>> totals;  // rows, commits
  std::map<Case, double> last_batch;
  for (int round = 1; round <= rounds; ++round) {
    const bool queue_first = round % 2 == 1 || !sample;
    for (const Case& c : cases) {
      const auto [fsync, batch] = c;
      const hugo::Durability durability = fsync ? hugo::Durability::Fsync : hugo::Durability::Process;
      auto run_ceiling = [&] {
        if (ceiling_option == 0) return;
        // Without a sampler there is no batch measurement: use the in-flight bound.
        const double rows = last_batch[c] > 0 ? last_batch[c] : static_cast<double>(kThreads * static_cast<std::int64_t>(batch));
        const RawResult r = run_raw(fsync, static_cast<std::size_t>(std::max(1.0, std::round(rows))), seconds);
        raw_rates[c].push_back(cycle_rate(r));
        raw_cpu_us[c].push_back(cpu_us_per_cycle(r));
        hugo_bench::print_line("round=" + std::to_string(round) + " " + raw_line(r));
      };
      if (!queue_first) run_ceiling();
      const QueueResult q = run_queue(durability, batch, seconds, capacity, sample, hogs);
      queue_rates[c].push_back(q.rate());
      queue_cpu_us[c].push_back(q.cpu_us_per_cycle());
      if (q.sampled && q.commits > 0) {
        last_batch[c] = q.rows_per_commit();
        batches[c].push_back(q.rows_per_commit());
        totals[c].first += q.rows;
        totals[c].second += q.commits;
      }
      hugo_bench::print_line("round=" + std::to_string(round) + " " + queue_line(q));
      if (queue_first) run_ceiling();
    }
  }
  hogs.stop();
  if (hogs.count() > 0) hugo_bench::print_line(hogs.stopped_line());

  for (const Case& c : cases) {
    const auto [rows, commits] = totals[c];
    std::snprintf(line, sizeof line,
                  "summary durability=%-7s batch=%-4zu queue median=%.1f cycles/s rounds=[%s] rows/commit=%.2f "
                  "rounds=[%s] | raw %s median=%.1f cycles/s rounds=[%s]",
                  c.first ? "Fsync" : "Process", c.second, hugo_bench::median(queue_rates[c]),
                  join_values(queue_rates[c]).c_str(),
                  commits > 0 ? static_cast<double>(rows) / static_cast<double>(commits) : 0.0,
                  join_values(batches[c]).c_str(), c.first ? "FULL" : "NORMAL", hugo_bench::median(raw_rates[c]),
                  join_values(raw_rates[c]).c_str());
    hugo_bench::print_line(line);
    std::snprintf(line, sizeof line,
                  "summary durability=%-7s batch=%-4zu queue cpu_us/cycle median=%.1f rounds=[%s] | raw %s "
                  "cpu_us/cycle median=%.1f rounds=[%s]",
                  c.first ? "Fsync" : "Process", c.second, hugo_bench::median(queue_cpu_us[c]),
                  join_values(queue_cpu_us[c]).c_str(), c.first ? "FULL" : "NORMAL",
                  hugo_bench::median(raw_cpu_us[c]), join_values(raw_cpu_us[c]).c_str());
    hugo_bench::print_line(line);
  }
  // Headlines last: the single-call figures and the CPU per single-call Process cycle, then the
  // batched ones; the very last line is the batched Process figure (the goal). With
  // --hog N every name ends in _hogN.
  const std::string suffix = hugo_bench::hog_suffix(hogs.count());
  for (const std::size_t batch : {std::size_t{1}, batch_size}) {
    for (const bool fsync : {true, false}) {
      const Case c{fsync, batch};
      if (!queue_rates.count(c)) continue;
      const std::string name = std::string("queue_cycle_") + (fsync ? "fsync" : "process") + (batch == 1 ? "_single" : "");
      hugo_bench::print_result(name + suffix, hugo_bench::median(queue_rates[c]), "cycles/s",
                               hugo_bench::median(raw_rates[c]));
      if (fsync || batch != 1) continue;
      // A cost, lower is better: ceiling = the raw ceiling's CPU per cycle, ratio = ceiling / value.
      const double cpu = hugo_bench::median(queue_cpu_us[c]);
      const double raw_cpu = hugo_bench::median(raw_cpu_us[c]);
      hugo_bench::print_result_ratio(name + "_cpu_us" + suffix, cpu, "us", raw_cpu, cpu > 0 ? raw_cpu / cpu : 0.0, 1);
    }
  }
  return 0;
}