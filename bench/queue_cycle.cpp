// bench/queue_cycle: enqueue -> lease -> complete cycles per second through hugo::TaskQueue,
// against the raw SQLite ceiling for the same rows.
//
// The queue: a fresh journal in a fresh mkdtemp folder, one TaskQueue ("bench", no sweeper,
// capacity --capacity, default 1M), 4 producer threads calling enqueue(32-byte payload,
// Wait::forever) in a loop and 4 worker threads calling lease(owner, Wait::forever) then
// complete(token) in a loop, for --seconds, under Durability::Process and Durability::Fsync.
// Figure: completed cycles per second (a cycle = one task enqueued, leased and completed).
//
// Rows per commit: every queue call appends one row and blocks until it is durable, so at most 8
// rows (one per thread) are ever accepted but not yet committed, and a group commit holds at most
// 8 rows. A sampler thread waits on Journal::wait_for_commit and records how far durable_seq()
// jumped at each wake-up. A jump of more than 8 rows must span several commits (the sampler was
// late); it is counted as ceil(jump / 8) commits. rows/commit = rows committed / commits counted.
// When the sampler is never late this is exact; when it is late it overestimates the batch (so it
// errs towards a higher ceiling). --sampler 0 runs without it (to see what it costs).
//
// The ceiling: raw SQLite inserting the same three rows per cycle (an Enqueued row with the
// payload, a LeaseGranted row with owner and expiry, a Completed row with the lease), with the
// journal's table, INSERT and pragmas, one thread, prepared statements, one transaction per B
// rows, where B is the rows/commit the queue's writer just used (rounded), at synchronous=NORMAL
// (Process) or FULL (Fsync). Ceiling cycles/s = rows/s / 3.
//
// Every round runs each durability once, the queue run and its ceiling back to back in
// alternating order (odd rounds: queue first, ceiling at the batch it used; even rounds: ceiling
// first, at the batch measured last), because fsync latency on a virtual disk drifts. Figures are
// medians over rounds.
//
// Usage: queue_cycle [--seconds S] [--rounds R] [--capacity N] [--sampler 0|1] [--fsync 0|1]
//        (or $HUGO_BENCH_SECONDS, $HUGO_BENCH_ROUNDS)
// The last line is `RESULT name=queue_cycle_process value=<cycles/s> unit=cycles/s ceiling=<raw>`.
#include "bench_util.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <sqlite3.h>
#include <sys/resource.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace {

using hugo_bench::join_values;
using hugo_bench::SteadyClock;

constexpr const char* kProgram = "queue_cycle";
constexpr std::size_t kPayloadBytes = 32;
constexpr int kProducers = 4;
constexpr int kWorkers = 4;
constexpr std::int64_t kMaxInFlight = kProducers + kWorkers;  // rows accepted but not yet durable

using hugo_bench::durability_name;

// ---- the queue ---------------------------------------------------------------------------------

struct QueueResult {
  hugo::Durability durability = hugo::Durability::Process;
  std::int64_t cycles = 0;    // complete() calls that returned inside the timed window
  std::int64_t enqueued = 0;  // enqueue() calls that returned inside the timed window
  std::int64_t rows = 0;      // durable_seq() advance over the window
  double seconds = 0;
  std::int64_t wakeups = 0;       // sampler: commits seen (durable_seq jumps)
  std::int64_t late_wakeups = 0;  // jumps > kMaxInFlight (several commits in one jump)
  std::int64_t commits = 0;       // sum of ceil(jump / kMaxInFlight)
  std::int64_t max_jump = 0;
  std::size_t pending_at_end = 0;
  hugo_bench::Summary enqueue_us;
  hugo_bench::Summary lease_us;
  hugo_bench::Summary complete_us;
  bool sampled = true;
  // getrusage(RUSAGE_SELF) over the window, the whole process: CPU time and context switches.
  double cpu_s = 0;
  std::int64_t voluntary_switches = 0;
  std::int64_t involuntary_switches = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(cycles) / seconds : 0; }
  double rows_per_commit() const { return commits > 0 ? static_cast<double>(rows) / static_cast<double>(commits) : 0; }
};

QueueResult run_queue(hugo::Durability durability, double budget, std::size_t capacity, bool sample) {
  hugo_bench::TempDir dir("hugo-bench-queue");
  if (!dir.ok()) hugo_bench::fail(kProgram, "mkdtemp failed for the journal");
  std::shared_ptr<hugo::Journal> journal = hugo_bench::open_journal(kProgram, dir / "journal.db", durability);

  hugo::TaskQueueOptions options;
  options.name = "bench";
  options.capacity = capacity;
  options.run_sweeper = false;
  auto queue_opened = hugo::TaskQueue::open(journal, options);
  if (!queue_opened.ok()) hugo_bench::fail(kProgram, "TaskQueue::open: " + queue_opened.error().to_string());
  std::unique_ptr<hugo::TaskQueue> queue = std::move(queue_opened).value();

  const std::string payload = hugo_bench::alphabet_payload(kPayloadBytes);
  std::stop_source stop;
  std::atomic<bool> counting{true};
  std::atomic<bool> sampler_stop{false};
  std::mutex failure_mutex;
  std::string failure;
  auto record_failure = [&](const std::string& what) {
    {
      std::lock_guard lock(failure_mutex);
      if (failure.empty()) failure = what;
    }
    stop.request_stop();
  };
  const int threads_total = kProducers + kWorkers + (sample ? 1 : 0);
  std::latch ready(threads_total + 1);
  std::vector<std::int64_t> enqueued(kProducers, 0), cycles(kWorkers, 0);
  std::vector<std::vector<double>> enqueue_us(kProducers), lease_us(kWorkers), complete_us(kWorkers);

  auto producer = [&](int index) {
    auto& lat = enqueue_us[static_cast<std::size_t>(index)];
    lat.reserve(1 << 16);
    std::int64_t done = 0;
    ready.arrive_and_wait();
    while (!stop.stop_requested()) {
      const auto t0 = SteadyClock::now();
      auto id = queue->enqueue(payload, hugo::Wait::forever(stop.get_token()));
      const auto t1 = SteadyClock::now();
      if (!id.ok()) {
        if (id.error().code() != hugo::errc::canceled) record_failure("enqueue: " + id.error().to_string());
        break;
      }
      if (counting.load(std::memory_order_relaxed)) {
        ++done;
        lat.push_back(hugo_bench::micros_between(t0, t1));
      }
    }
    enqueued[static_cast<std::size_t>(index)] = done;
  };

  auto worker = [&](int index) {
    const std::string owner = "worker-" + std::to_string(index);
    auto& lease_lat = lease_us[static_cast<std::size_t>(index)];
    auto& complete_lat = complete_us[static_cast<std::size_t>(index)];
    lease_lat.reserve(1 << 16);
    complete_lat.reserve(1 << 16);
    std::int64_t done = 0;
    ready.arrive_and_wait();
    while (!stop.stop_requested()) {
      const auto t0 = SteadyClock::now();
      auto lease = queue->lease(owner, hugo::Wait::forever(stop.get_token()));
      const auto t1 = SteadyClock::now();
      if (!lease.ok()) {
        if (lease.error().code() != hugo::errc::canceled) record_failure("lease: " + lease.error().to_string());
        break;
      }
      const hugo::Status completed = queue->complete(lease->token);
      const auto t2 = SteadyClock::now();
      if (!completed.ok()) {
        record_failure("complete: " + completed.error().to_string());
        break;
      }
      if (counting.load(std::memory_order_relaxed)) {
        ++done;
        lease_lat.push_back(hugo_bench::micros_between(t0, t1));
        complete_lat.push_back(hugo_bench::micros_between(t1, t2));
      }
    }
    cycles[static_cast<std::size_t>(index)] = done;
  };

  QueueResult result;
  result.durability = durability;
  result.sampled = sample;
  auto sampler = [&] {
    std::int64_t last = journal->durable_seq();
    ready.arrive_and_wait();
    while (!sampler_stop.load(std::memory_order_relaxed)) {
      const std::int64_t now = journal->wait_for_commit(last, SteadyClock::now() + std::chrono::milliseconds(20));
      if (now <= last) continue;
      const std::int64_t jump = now - last;
      last = now;
      if (!counting.load(std::memory_order_relaxed)) continue;
      ++result.wakeups;
      result.max_jump = std::max(result.max_jump, jump);
      if (jump > kMaxInFlight) ++result.late_wakeups;
      result.commits += (jump + kMaxInFlight - 1) / kMaxInFlight;
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < kProducers; ++i) threads.emplace_back(producer, i);
  for (int i = 0; i < kWorkers; ++i) threads.emplace_back(worker, i);
  std::thread sampler_thread;
  if (sample) sampler_thread = std::thread(sampler);
  ready.arrive_and_wait();
  rusage usage0{}, usage1{};
  ::getrusage(RUSAGE_SELF, &usage0);
  const std::int64_t seq0 = journal->durable_seq();
  const auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(budget));
  counting.store(false);
  const std::int64_t seq1 = journal->durable_seq();
  const auto end = SteadyClock::now();
  ::getrusage(RUSAGE_SELF, &usage1);
  auto seconds_of = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  result.cpu_s = seconds_of(usage1.ru_utime) - seconds_of(usage0.ru_utime) + seconds_of(usage1.ru_stime) -
                 seconds_of(usage0.ru_stime);
  result.voluntary_switches = usage1.ru_nvcsw - usage0.ru_nvcsw;
  result.involuntary_switches = usage1.ru_nivcsw - usage0.ru_nivcsw;
  stop.request_stop();
  for (auto& t : threads) t.join();
  sampler_stop.store(true);
  if (sampler_thread.joinable()) sampler_thread.join();
  if (!failure.empty()) hugo_bench::fail(kProgram, std::string(durability_name(durability)) + ": " + failure);

  result.seconds = hugo_bench::micros_between(start, end) / 1e6;
  result.rows = seq1 - seq0;
  for (auto n : enqueued) result.enqueued += n;
  for (auto n : cycles) result.cycles += n;
  auto merge = [](std::vector<std::vector<double>>& parts) {
    std::vector<double> all;
    for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    return hugo_bench::summarize(all);
  };
  result.enqueue_us = merge(enqueue_us);
  result.lease_us = merge(lease_us);
  result.complete_us = merge(complete_us);
  result.pending_at_end = queue->pending_count();

  // Cross-checks outside the timing: every row the queue wrote is committed and counted.
  if (const hugo::Status closed = queue->close(); !closed.ok()) {
    hugo_bench::fail(kProgram, "TaskQueue::close: " + closed.error().to_string());
  }
  if (const hugo::Status health = journal->health(); !health.ok()) {
    hugo_bench::fail(kProgram, "journal unhealthy after the run: " + health.error().to_string());
  }
  auto info = journal->info();
  if (!info.ok()) hugo_bench::fail(kProgram, "Journal::info: " + info.error().to_string());
  if (info->row_count != journal->durable_seq() || info->last_seq != journal->durable_seq()) {
    hugo_bench::fail(kProgram, "journal holds " + std::to_string(info->row_count) + " rows but durable_seq is " +
                                   std::to_string(journal->durable_seq()));
  }
  hugo_bench::close_journal(kProgram, *journal);
  return result;
}

// ---- the ceiling: raw SQLite -------------------------------------------------------------------

struct RawResult {
  bool full = false;
  std::size_t batch = 1;
  std::int64_t rows = 0;
  std::int64_t commits = 0;
  double seconds = 0;
  double rows_rate() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
  double cycle_rate() const { return rows_rate() / 3.0; }
};

RawResult run_raw(bool full, std::size_t batch, double budget) {
  hugo_bench::TempDir dir("hugo-bench-raw");
  if (!dir.ok()) hugo_bench::fail(kProgram, "mkdtemp failed for the raw SQLite database");
  hugo_bench::RawDb raw(kProgram, (dir / "raw.db").string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  raw.configure_like_journal(full);
  // Queue "bench" and the four owners, interned as the journal's writer would.
  raw.create_journal_tables("(1, 'bench'), (2, 'worker-0'), (3, 'worker-1'), (4, 'worker-2'), (5, 'worker-3')");
  sqlite3_stmt* begin = raw.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* commit = raw.prepare("COMMIT");
  sqlite3_stmt* insert = raw.prepare(hugo_bench::kJournalInsert);
  const std::string payload = hugo_bench::alphabet_payload(kPayloadBytes);
  constexpr std::int64_t kLeaseMicros = 30'000'000;  // TaskQueueOptions' default lease_duration

  RawResult result;
  result.full = full;
  result.batch = batch;
  std::int64_t seq = 0;
  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(budget));
  auto now = start;
  while (now < deadline) {
    raw.step_done(begin, "BEGIN IMMEDIATE");
    for (std::size_t i = 0; i < batch; ++i) {
      ++seq;
      const std::int64_t at = std::chrono::duration_cast<std::chrono::microseconds>(now - start).count();
      // Rows cycle Enqueued, LeaseGranted, Completed, as journal/rows.cpp writes them.
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
      raw.step_done(insert, "INSERT");
    }
    raw.step_done(commit, "COMMIT");
    now = SteadyClock::now();
    result.rows += static_cast<std::int64_t>(batch);
    ++result.commits;
  }
  result.seconds = hugo_bench::micros_between(start, now) / 1e6;
  return result;
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
  std::snprintf(line, sizeof line, " cpu_us/cycle=%.1f (cpu %.0f%% of %u CPUs) csw/cycle=%.1f voluntary + %.1f involuntary",
                r.cpu_s * 1e6 * per_cycle, r.seconds > 0 ? 100.0 * r.cpu_s / r.seconds / cpus : 0.0, cpus,
                static_cast<double>(r.voluntary_switches) * per_cycle,
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
                "raw_sqlite sync=%-6s batch=%-2zu rows=%-8lld secs=%.3f rate=%.1f rows/s = %.1f cycles/s commits=%lld",
                r.full ? "FULL" : "NORMAL", r.batch, static_cast<long long>(r.rows), r.seconds, r.rows_rate(),
                r.cycle_rate(), static_cast<long long>(r.commits));
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  double rounds_option = 3;
  double capacity_option = 1 << 20;
  double sampler_option = 1;
  double fsync_option = 1;
  hugo_bench::parse_options(argc, argv,
                            {{"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 600},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--capacity", nullptr, &capacity_option, 1, 1e9},
                             {"--sampler", nullptr, &sampler_option, 0, 1},
                             {"--fsync", nullptr, &fsync_option, 0, 1}});
  const int rounds = static_cast<int>(rounds_option);
  const auto capacity = static_cast<std::size_t>(capacity_option);
  const bool sample = sampler_option != 0;
  char line[512];
  std::snprintf(line, sizeof line,
                "queue_cycle: sqlite %s, %d producers + %d workers, %d rounds x %.2f s per case (medians over "
                "rounds), capacity %zu, %zu-byte payloads, sampler %s",
                sqlite3_libversion(), kProducers, kWorkers, rounds, seconds, capacity, kPayloadBytes,
                sample ? "on" : "off");
  hugo_bench::print_line(line);

  std::map<bool, std::vector<double>> queue_rates, raw_rates, batches;  // key: Fsync?
  std::map<bool, std::pair<std::int64_t, std::int64_t>> totals;         // rows, commits
  std::map<bool, double> last_batch{{false, 0}, {true, 0}};
  for (int round = 1; round <= rounds; ++round) {
    const bool queue_first = round % 2 == 1 || !sample;
    for (const bool fsync : {false, true}) {
      if (fsync && fsync_option == 0) continue;
      const hugo::Durability durability = fsync ? hugo::Durability::Fsync : hugo::Durability::Process;
      auto run_ceiling = [&] {
        // Without a sampler there is no batch measurement: use the in-flight bound (8).
        const double batch = last_batch[fsync] > 0 ? last_batch[fsync] : static_cast<double>(kMaxInFlight);
        const RawResult r = run_raw(fsync, static_cast<std::size_t>(std::max(1.0, std::round(batch))), seconds);
        raw_rates[fsync].push_back(r.cycle_rate());
        hugo_bench::print_line("round=" + std::to_string(round) + " " + raw_line(r));
      };
      if (!queue_first) run_ceiling();
      const QueueResult q = run_queue(durability, seconds, capacity, sample);
      queue_rates[fsync].push_back(q.rate());
      if (q.sampled && q.commits > 0) {
        last_batch[fsync] = q.rows_per_commit();
        batches[fsync].push_back(q.rows_per_commit());
        totals[fsync].first += q.rows;
        totals[fsync].second += q.commits;
      }
      hugo_bench::print_line("round=" + std::to_string(round) + " " + queue_line(q));
      if (queue_first) run_ceiling();
    }
  }

  for (const bool fsync : {false, true}) {
    if (fsync && fsync_option == 0) continue;
    const auto [rows, commits] = totals[fsync];
    std::snprintf(line, sizeof line,
                  "summary durability=%-7s queue median=%.1f cycles/s rounds=[%s] rows/commit=%.2f rounds=[%s] | raw "
                  "%s median=%.1f cycles/s rounds=[%s]",
                  fsync ? "Fsync" : "Process", hugo_bench::median(queue_rates[fsync]),
                  join_values(queue_rates[fsync]).c_str(),
                  commits > 0 ? static_cast<double>(rows) / static_cast<double>(commits) : 0.0,
                  join_values(batches[fsync]).c_str(), fsync ? "FULL" : "NORMAL", hugo_bench::median(raw_rates[fsync]),
                  join_values(raw_rates[fsync]).c_str());
    hugo_bench::print_line(line);
  }
  if (fsync_option != 0) hugo_bench::print_result("queue_cycle_fsync", hugo_bench::median(queue_rates[true]), "cycles/s",
                           hugo_bench::median(raw_rates[true]));
  hugo_bench::print_result("queue_cycle_process", hugo_bench::median(queue_rates[false]), "cycles/s",
                           hugo_bench::median(raw_rates[false]));
  return 0;
}
