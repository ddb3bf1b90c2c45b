// bench/journal_append: what a blocking Journal::append costs, against the raw SQLite ceiling.
//
// Part 1, the ceiling: raw SQLite inserts of the rows the journal writes for an Enqueued event with
// a 32-byte payload, into a fresh database with the journal's own `events` table and pragmas, one
// transaction per batch, prepared statements reused, at batch sizes 1, 8, 16, 64 and 512, under
// synchronous=FULL and synchronous=NORMAL.
//
// Part 2, the journal: 1, 16 and 64 producer threads, each calling append (append_async + wait,
// which is exactly what Journal::append does) one event at a time in a loop, under
// Durability::Fsync and Durability::Process, each run on a fresh journal in a fresh mkdtemp folder
// for a fixed time budget, counting the events acknowledged. Every producer has at most one append
// in flight, so a group commit holds at most N events; the benchmark also measures the batch sizes
// the writer really used (see count_batches) and cross-checks seqs, durable_seq and the row count.
//
// Part 3, the hand-off floor: 16 and 64 producer threads through an empty group commit
// (bench/support/handoff_floor.hpp), once per round: what that many blocked producers cost in CPU
// on this machine with nothing to store. The summary splits the journal's CPU per event (the whole
// process over the window) into the raw ceiling's per row, the floor's per event and the rest, the
// journal's own; and it estimates what the CPUs allow with only the first two (docs/BENCHMARKS.md,
// "Where an append's CPU goes").
//
// Every case runs once per round (default 3 rounds x 1 s); the figures are medians over rounds. A
// journal case and its ceiling run back to back, in alternating order, because fsync latency on a
// virtual or shared disk drifts by an order of magnitude over minutes.
//
// Output: one line per run, a summary line per case, RESULT lines per headline, and last the
// headline `RESULT name=journal_append_fsync_16 ...` (journal events/s against raw FULL at batch 16).
// With --hog N, N threads spin on the CPUs for the whole run, ceilings included
// (bench/support/hog.hpp), and every RESULT name ends in _hogN (journal_append_fsync_16_hog2).
// Usage: journal_append [--seconds S] [--rounds R] [--hog N]  (or $HUGO_BENCH_SECONDS, $HUGO_BENCH_ROUNDS)
#include "bench/support/handoff_floor.hpp"
#include "bench/support/hog.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/raw_sqlite.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using hugo_bench::join_values;
using hugo_bench::SteadyClock;

constexpr const char* kProgram = "journal_append";
constexpr std::size_t kPayloadBytes = 32;

// ---- part 1: raw SQLite ------------------------------------------------------------------------

using RawResult = hugo_bench::RawInserts;

// The ceiling at `batch` rows per transaction: Enqueued rows as the journal writes them, into the
// journal's own tables with its INSERT and pragmas (bench/support/raw_sqlite.hpp).
RawResult run_raw(bool full, std::size_t batch, double budget) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-raw");
  const std::string payload = hugo_bench::alphabet_payload(kPayloadBytes);
  // Queue id 1, as the journal interns it.
  return hugo_bench::raw_insert_run(
      kProgram, (dir / "raw.db").string(), full, batch, budget, "(1, 'bench')",
      [&](sqlite3_stmt* insert, std::int64_t seq, std::int64_t at) {
        // An Enqueued row: kind 0, queue 1, task NULL (= seq), attempt 1, at = small offset from
        // the journal's time base, lease/peer/expires/error NULL, flags 0, 32-byte payload blob.
        sqlite3_bind_int64(insert, 1, seq);
        sqlite3_bind_int64(insert, 2, 0);
        sqlite3_bind_int64(insert, 3, 1);
        sqlite3_bind_null(insert, 4);
        sqlite3_bind_int64(insert, 5, 1);
        sqlite3_bind_int64(insert, 6, at);
        sqlite3_bind_null(insert, 7);
        sqlite3_bind_null(insert, 8);
        sqlite3_bind_null(insert, 9);
        sqlite3_bind_int64(insert, 10, 0);
        sqlite3_bind_null(insert, 11);
        sqlite3_bind_blob64(insert, 12, payload.data(), payload.size(), SQLITE_TRANSIENT);
      });
}

// ---- part 2: hugo::Journal::append -------------------------------------------------------------

// One completed append: its seq and the address of the Status stored in its batch's shared state.
// The journal resolves every ticket of one batch through the same std::shared_future, whose get()
// returns a reference into that shared state, so equal addresses mean "same batch".
struct Completion {
  std::int64_t seq;
  const void* batch_state;
};

struct JournalResult {
  hugo::Durability durability = hugo::Durability::Fsync;
  int producers = 1;
  std::int64_t events = 0;
  double seconds = 0;
  std::int64_t commits = 0;     // batches observed (see count_batches)
  std::int64_t max_batch = 0;   // largest batch observed
  double cpu_s = 0;             // the process's CPU over the window, less the hogs'
  double switches = 0;          // the process's context switches over the window
  hugo_bench::Summary append_us;
  double rate() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
  double avg_batch() const { return commits > 0 ? static_cast<double>(events) / static_cast<double>(commits) : 0; }
  double cpu_us_per_event() const { return events > 0 ? cpu_s * 1e6 / static_cast<double>(events) : 0; }
  double switches_per_event() const { return events > 0 ? switches / static_cast<double>(events) : 0; }
};

// Counts the group commits behind `completions`. A batch holds a contiguous seq range, so walking
// the appends in seq order, a new batch starts wherever the shared-state address changes. Two
// consecutive batches never share an address: each producer keeps its previous ticket alive until
// its next append is durable, so batch k's state is alive when batch k+1 is created.
void count_batches(std::vector<Completion>& completions, JournalResult& result) {
  std::sort(completions.begin(), completions.end(),
            [](const Completion& a, const Completion& b) { return a.seq < b.seq; });
  std::int64_t run = 0;
  const void* previous = nullptr;
  for (std::size_t i = 0; i < completions.size(); ++i) {
    if (completions[i].seq != static_cast<std::int64_t>(i) + 1) {
      hugo_bench::fail(kProgram, "journal handed out seq " + std::to_string(completions[i].seq) +
                                     " where " + std::to_string(i + 1) + " was expected (seqs not dense)");
    }
    if (completions[i].batch_state != previous) {
      ++result.commits;
      run = 0;
      previous = completions[i].batch_state;
    }
    result.max_batch = std::max(result.max_batch, ++run);
  }
}

JournalResult run_journal(hugo::Durability durability, int producers, double budget, const hugo_bench::Hogs& hogs) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-journal");
  std::unique_ptr<hugo::Journal> journal = hugo_bench::open_journal(kProgram, dir / "journal.db", durability);
  const std::shared_ptr<hugo::Clock> clock = hugo::SystemClock::shared();
  const std::string payload = hugo_bench::alphabet_payload(kPayloadBytes);

  std::atomic<bool> stop{false};
  std::mutex failure_mutex;
  std::string failure;
  std::vector<std::vector<Completion>> completions(static_cast<std::size_t>(producers));
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(producers));
  std::latch ready(producers + 1);

  auto producer = [&](std::size_t index) {
    auto& done = completions[index];
    auto& lat = latencies[index];
    done.reserve(1 << 15);
    lat.reserve(1 << 15);
    hugo::AppendTicket previous;  // kept alive until the next append is durable (count_batches)
    ready.arrive_and_wait();
    while (!stop.load(std::memory_order_relaxed)) {
      hugo::Event event;
      event.kind = hugo::EventKind::Enqueued;
      event.queue = "bench";
      event.occurred_at = clock->now();
      event.payload = payload;
      const auto t0 = SteadyClock::now();
      hugo::AppendTicket ticket = journal->append_async(std::move(event));
      const hugo::Result<std::int64_t> seq = ticket.wait();  // == Journal::append
      const auto t1 = SteadyClock::now();
      if (!seq.ok()) {
        std::lock_guard lock(failure_mutex);
        if (failure.empty()) failure = seq.error().to_string();
        stop.store(true);
        return;
      }
      lat.push_back(hugo_bench::micros_between(t0, t1));
      done.push_back({*seq, ticket.batch_id()});
      previous = std::move(ticket);
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(producers));
  for (int i = 0; i < producers; ++i) threads.emplace_back(producer, static_cast<std::size_t>(i));
  ready.arrive_and_wait();
  const double cpu0 = hugo_bench::process_cpu_seconds(kProgram) - hogs.cpu_seconds();
  const double switches0 = hugo_bench::process_switches(kProgram);
  const auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(budget));
  stop.store(true);
  for (auto& t : threads) t.join();
  const auto end = SteadyClock::now();
  const double cpu1 = hugo_bench::process_cpu_seconds(kProgram) - hogs.cpu_seconds();
  const double switches1 = hugo_bench::process_switches(kProgram);
  if (!failure.empty()) hugo_bench::fail(kProgram, "append failed: " + failure);

  JournalResult result;
  result.durability = durability;
  result.producers = producers;
  result.seconds = hugo_bench::micros_between(start, end) / 1e6;
  result.cpu_s = cpu1 - cpu0;
  result.switches = switches1 - switches0;
  std::vector<Completion> all;
  std::vector<double> all_lat;
  for (std::size_t i = 0; i < completions.size(); ++i) {
    all.insert(all.end(), completions[i].begin(), completions[i].end());
    all_lat.insert(all_lat.end(), latencies[i].begin(), latencies[i].end());
  }
  result.events = static_cast<std::int64_t>(all.size());
  result.append_us = hugo_bench::summarize(all_lat);
  count_batches(all, result);

  // Cross-check what the journal says it holds (outside the timed part).
  if (const hugo::Status health = journal->health(); !health.ok()) {
    hugo_bench::fail(kProgram, "journal unhealthy after the run: " + health.error().to_string());
  }
  if (journal->durable_seq() != result.events || journal->last_accepted_seq() != result.events) {
    hugo_bench::fail(kProgram, "journal durable_seq " + std::to_string(journal->durable_seq()) + " / last_accepted " +
                                   std::to_string(journal->last_accepted_seq()) + " != " +
                                   std::to_string(result.events) + " acknowledged appends");
  }
  auto info = journal->info();
  if (!info.ok()) hugo_bench::fail(kProgram, "Journal::info: " + info.error().to_string());
  if (info->row_count != result.events || info->last_seq != result.events) {
    hugo_bench::fail(kProgram, "journal holds " + std::to_string(info->row_count) + " rows (last seq " +
                                   std::to_string(info->last_seq) + ") but acknowledged " +
                                   std::to_string(result.events) + " appends");
  }
  hugo_bench::close_journal(kProgram, *journal);
  return result;
}

using hugo_bench::durability_name;
const char* sync_name(bool full) { return full ? "FULL" : "NORMAL"; }

std::string raw_line(const RawResult& r) {
  char line[512];
  std::snprintf(line, sizeof line,
                "raw_sqlite sync=%-6s batch=%-3zu rows=%-8lld secs=%.3f rate=%.1f rows/s commits=%lld commit_us: %s",
                sync_name(r.full), r.batch, static_cast<long long>(r.rows), r.seconds, r.rate(),
                static_cast<long long>(r.commits), hugo_bench::format_summary(r.commit_us, "").c_str());
  return line;
}

std::string journal_line(const JournalResult& r) {
  char line[768];
  std::snprintf(line, sizeof line,
                "journal_append durability=%-7s producers=%-2d events=%-8lld secs=%.3f rate=%.1f events/s batch~%d "
                "commits=%lld avg_batch=%.2f max_batch=%lld cpu_us/event=%.2f switches/event=%.2f append_us: %s",
                durability_name(r.durability), r.producers, static_cast<long long>(r.events), r.seconds, r.rate(),
                r.producers, static_cast<long long>(r.commits), r.avg_batch(), static_cast<long long>(r.max_batch),
                r.cpu_us_per_event(), r.switches_per_event(), hugo_bench::format_summary(r.append_us, "").c_str());
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  double rounds_option = 3;
  double hog_option = 0;
  hugo_bench::parse_options(argc, argv,
                            {{"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 600},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--hog", nullptr, &hog_option, 0, 64}});
  const int rounds = static_cast<int>(rounds_option);
  char line[512];
  std::snprintf(line, sizeof line,
                "journal_append: sqlite %s, %d rounds x %.2f s per case (figures are medians over rounds), "
                "%zu-byte payloads",
                sqlite3_libversion(), rounds, seconds, kPayloadBytes);
  hugo_bench::print_line(line);
  hugo_bench::Hogs hogs(kProgram, static_cast<int>(hog_option));
  if (hogs.count() > 0) hugo_bench::print_line(hogs.started_line());

  // Each round runs every case once. A journal case and its ceiling (raw SQLite at batch = its
  // producer count, same synchronous level) run back to back, in alternating order, because the
  // cost of an fsync on a shared or virtual disk drifts over seconds to minutes.
  std::map<std::pair<bool, std::size_t>, std::vector<double>> raw_rates;      // (FULL?, batch)
  std::map<std::pair<bool, int>, std::vector<double>> journal_rates;          // (Fsync?, producers)
  std::map<std::pair<bool, int>, std::pair<std::int64_t, std::int64_t>> journal_batches;  // events, commits
  std::map<std::pair<bool, int>, std::int64_t> journal_max_batch;
  std::map<std::pair<bool, int>, std::vector<double>> used_batch_ceiling;  // raw at the batch actually used
  // CPU µs per event: the journal's (whole process), the raw ceiling's per row (its one thread), and
  // the hand-off floor's (bench/support/handoff_floor.hpp) for the same producers.
  std::map<std::pair<bool, int>, std::vector<double>> journal_cpu, raw_cpu;
  std::map<int, std::vector<double>> floor_cpu;
  for (int round = 1; round <= rounds; ++round) {
    const bool raw_first = round % 2 == 1;
    for (const bool full : {true, false}) {
      const hugo::Durability durability = full ? hugo::Durability::Fsync : hugo::Durability::Process;
      auto run_raw_case = [&](std::size_t batch) {
        const RawResult r = run_raw(full, batch, seconds);
        raw_rates[{full, batch}].push_back(r.rate());
        hugo_bench::print_line("round=" + std::to_string(round) + " " + raw_line(r));
      };
      auto run_journal_case = [&](int producers) {
        const JournalResult r = run_journal(durability, producers, seconds, hogs);
        journal_cpu[{full, producers}].push_back(r.cpu_us_per_event());
        journal_rates[{full, producers}].push_back(r.rate());
        auto& [events, commits] = journal_batches[{full, producers}];
        events += r.events;
        commits += r.commits;
        journal_max_batch[{full, producers}] = std::max(journal_max_batch[{full, producers}], r.max_batch);
        hugo_bench::print_line("round=" + std::to_string(round) + " " + journal_line(r));
        // The ceiling: raw SQLite at the batch size this run's writer actually used, right after it.
        const auto used = static_cast<std::size_t>(std::max(1.0, std::round(r.avg_batch())));
        const RawResult raw = run_raw(full, used, seconds);
        used_batch_ceiling[{full, producers}].push_back(raw.rate());
        raw_cpu[{full, producers}].push_back(raw.rows > 0 ? raw.cpu_s * 1e6 / static_cast<double>(raw.rows) : 0);
        hugo_bench::print_line("round=" + std::to_string(round) + " ceiling_for_producers=" +
                               std::to_string(producers) + " " + raw_line(raw));
      };
      for (const int producers : {1, 16, 64}) {
        if (raw_first) run_raw_case(static_cast<std::size_t>(producers));
        run_journal_case(producers);
        if (!raw_first) run_raw_case(static_cast<std::size_t>(producers));
      }
      for (const std::size_t batch : {8u, 512u}) run_raw_case(batch);
    }
    for (const int producers : {16, 64}) {  // the same producers through an empty group commit
      const hugo_bench::HandoffFloor floor = hugo_bench::handoff_floor_run(kProgram, producers, seconds, hogs);
      floor_cpu[producers].push_back(floor.cpu_us_per_event());
      std::snprintf(line, sizeof line,
                    "round=%d handoff_floor producers=%-2d events=%-8lld secs=%.3f rate=%.1f events/s avg_batch=%.2f "
                    "cpu_us/event=%.2f switches/event=%.2f",
                    round, producers, static_cast<long long>(floor.events), floor.seconds, floor.rate(),
                    floor.avg_batch(), floor.cpu_us_per_event(), floor.switches_per_event());
      hugo_bench::print_line(line);
    }
  }
  hogs.stop();
  if (hogs.count() > 0) hugo_bench::print_line(hogs.stopped_line());

  // Summary: medians over rounds.
  for (const bool full : {true, false}) {
    for (const std::size_t batch : {1u, 8u, 16u, 64u, 512u}) {
      const auto& rates = raw_rates[{full, batch}];
      std::snprintf(line, sizeof line, "summary raw_sqlite sync=%-6s batch=%-3zu median=%.1f rows/s rounds=[%s]",
                    sync_name(full), batch, hugo_bench::median(rates), join_values(rates).c_str());
      hugo_bench::print_line(line);
    }
  }
  for (const bool full : {true, false}) {
    for (const int producers : {1, 16, 64}) {
      const auto& rates = journal_rates[{full, producers}];
      const auto [events, commits] = journal_batches[{full, producers}];
      std::snprintf(line, sizeof line,
                    "summary journal_append durability=%-7s producers=%-2d median=%.1f events/s rounds=[%s] batch~%d "
                    "avg_batch=%.2f max_batch=%lld",
                    durability_name(full ? hugo::Durability::Fsync : hugo::Durability::Process), producers,
                    hugo_bench::median(rates), join_values(rates).c_str(), producers,
                    commits > 0 ? static_cast<double>(events) / static_cast<double>(commits) : 0.0,
                    static_cast<long long>(journal_max_batch[{full, producers}]));
      hugo_bench::print_line(line);
    }
  }

  // Where an append's CPU goes (docs/BENCHMARKS.md): the raw ceiling's storage work per row, the
  // hand-off floor of as many blocked producers, and the rest, the journal's own.
  for (const bool full : {true, false}) {
    for (const int producers : {1, 16, 64}) {
      const double journal = hugo_bench::median(journal_cpu[{full, producers}]);
      const double raw = hugo_bench::median(raw_cpu[{full, producers}]);
      const double floor = producers > 1 ? hugo_bench::median(floor_cpu[producers]) : 0.0;
      // If the CPUs did nothing but the storage work and hand-offs as cheap as the floor's: an
      // estimate of the most a group commit with one append in flight per producer can reach here
      // (an estimate, not a proof: the floor's hand-offs are those of one minimal design).
      // The CPUs the hogs leave (--hog N takes about N of them).
      const double cpus = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - hogs.count());
      const double bound = raw + floor > 0 ? cpus * 1e6 / (raw + floor) : 0.0;
      const double ceiling = hugo_bench::median(used_batch_ceiling[{full, producers}]);
      int n = std::snprintf(line, sizeof line,
                            "summary cpu_us/event durability=%-7s producers=%-2d journal=%.2f = raw_insert %.2f + "
                            "handoff_floor %.2f + own %.2f",
                            durability_name(full ? hugo::Durability::Fsync : hugo::Durability::Process), producers,
                            journal, raw, floor, journal - raw - floor);
      if (producers > 1 && n > 0 && static_cast<std::size_t>(n) < sizeof line) {
        std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n),
                      " | %.0f CPUs / (raw_insert + handoff_floor) = %.0f events/s, %.2f of the ceiling", cpus, bound,
                      ceiling > 0 ? bound / ceiling : 0.0);
      }
      hugo_bench::print_line(line);
    }
  }

  // Headlines: each journal case against raw SQLite at the batch size its writer actually used
  // (measured right after each run, same synchronous level). fsync_16 comes last.
  struct Headline {
    const char* name;
    bool fsync;
    int producers;
  };
  const Headline headlines[] = {
      {"journal_append_fsync_1", true, 1},      {"journal_append_process_1", false, 1},
      {"journal_append_fsync_64", true, 64},    {"journal_append_process_64", false, 64},
      {"journal_append_process_16", false, 16}, {"journal_append_fsync_16", true, 16},
  };
  const std::string suffix = hugo_bench::hog_suffix(hogs.count());  // "_hogN" with --hog N
  for (const Headline& h : headlines) {
    hugo_bench::print_result(h.name + suffix, hugo_bench::median(journal_rates[{h.fsync, h.producers}]), "events/s",
                             hugo_bench::median(used_batch_ceiling[{h.fsync, h.producers}]));
  }
  return 0;
}
