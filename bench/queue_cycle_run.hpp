// bench/queue_cycle, the queue side: one timed run of producers and workers through a TaskQueue
// (QueueResult, run_queue) and the constants the benchmark shares. The method, the ceiling and the
// output are described at the top of bench/queue_cycle.cpp.
#pragma once

#include "bench/support/cpu.hpp"
#include "bench/support/hog.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <sys/resource.h>

// Under valgrind --tool=callgrind the timed window is dumped apart (callgrind.out.<pid>.1), so
// that instructions per cycle leave out the set-up and the close; natively these are no-ops.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HUGO_BENCH_WINDOW_START() CALLGRIND_ZERO_STATS
#define HUGO_BENCH_WINDOW_END() CALLGRIND_DUMP_STATS_AT("queue_cycle window")
#else
#define HUGO_BENCH_WINDOW_START() ((void)0)
#define HUGO_BENCH_WINDOW_END() ((void)0)
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace hugo_bench::queue_cycle {

inline constexpr const char* kProgram = "queue_cycle";
inline constexpr std::size_t kPayloadBytes = 32;
inline constexpr int kProducers = 4;
inline constexpr int kWorkers = 4;
// Tasks per call in the batched runs (enqueue_batch, lease_batch, complete_batch); --batch.
inline constexpr std::size_t kDefaultBatch = 64;
inline constexpr std::int64_t kThreads = kProducers + kWorkers;  // each has at most one call in flight

// ---- the queue ---------------------------------------------------------------------------------

struct QueueResult {
  hugo::Durability durability = hugo::Durability::Process;
  std::size_t batch = 1;      // tasks per call (1: enqueue/lease/complete; else the _batch forms)
  std::int64_t cycles = 0;    // complete() calls that returned inside the timed window
  std::int64_t enqueued = 0;  // enqueue() calls that returned inside the timed window
  std::int64_t rows = 0;      // durable_seq() advance over the window
  double seconds = 0;
  std::int64_t wakeups = 0;       // sampler: commits seen (durable_seq jumps)
  std::int64_t late_wakeups = 0;  // jumps > max_in_flight() (several commits in one jump)
  std::int64_t commits = 0;       // sum of ceil(jump / max_in_flight())
  std::int64_t max_jump = 0;
  std::size_t pending_at_end = 0;
  hugo_bench::Summary enqueue_us;
  hugo_bench::Summary lease_us;
  hugo_bench::Summary complete_us;
  bool sampled = true;
  // CPU time over the window of the threads doing the queue's work: the process's CPU time
  // (CLOCK_PROCESS_CPUTIME_ID: producers, workers, the journal's own threads) less that of the
  // hogs and of the sampler, which is given apart.
  double cpu_s = 0;
  double sampler_cpu_s = 0;
  // getrusage(RUSAGE_SELF) over the window: context switches of the whole process, hogs included.
  std::int64_t voluntary_switches = 0;
  std::int64_t involuntary_switches = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(cycles) / seconds : 0; }
  double cpu_us_per_cycle() const { return cycles > 0 ? cpu_s * 1e6 / static_cast<double>(cycles) : 0; }
  // Rows accepted but not yet durable, at most: every thread's call journals <= batch rows.
  std::int64_t max_in_flight() const { return kThreads * static_cast<std::int64_t>(batch); }
  double rows_per_commit() const { return commits > 0 ? static_cast<double>(rows) / static_cast<double>(commits) : 0; }
};

// `keyed` (single calls only): every enqueue is enqueue_keyed under a key of its own, as an
// application that de-duplicates every request would (bench/queue_cycle_keys).
inline QueueResult run_queue(hugo::Durability durability, std::size_t batch, double budget, std::size_t capacity,
                             bool sample, const Hogs& hogs, bool keyed = false) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-queue");
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
  const std::vector<std::string> payloads(batch, payload);
  std::vector<std::vector<double>> enqueue_us(kProducers), lease_us(kWorkers), complete_us(kWorkers);

  auto producer = [&](int index) {
    auto& lat = enqueue_us[static_cast<std::size_t>(index)];
    lat.reserve(1 << 16);
    std::int64_t done = 0;
    std::int64_t sent = 0;  // keyed: the next key's number
    ready.arrive_and_wait();
    while (!stop.stop_requested()) {
      const auto t0 = SteadyClock::now();
      std::optional<hugo::Error> error;
      if (batch == 1 && keyed) {
        auto id = queue->enqueue_keyed("request-" + std::to_string(index) + "-" + std::to_string(sent++), payload, {},
                                       hugo::Wait::forever(stop.get_token()));
        if (!id.ok()) error = id.error();
        else if (id->duplicate) record_failure("enqueue_keyed: a fresh key was taken as a duplicate");
      } else if (batch == 1) {
        auto id = queue->enqueue(payload, hugo::Wait::forever(stop.get_token()));
        if (!id.ok()) error = id.error();
      } else {
        auto ids = queue->enqueue_batch(payloads, hugo::Wait::forever(stop.get_token()));
        if (!ids.ok()) error = ids.error();
      }
      const auto t1 = SteadyClock::now();
      if (error) {
        if (error->code() != hugo::errc::canceled) record_failure("enqueue: " + error->to_string());
        break;
      }
      if (counting.load(std::memory_order_relaxed)) {
        done += static_cast<std::int64_t>(batch);
        lat.push_back(hugo_bench::micros_between(t0, t1));
      }
    }
    enqueued[static_cast<std::size_t>(index)] = done;
  };

  auto worker = [&](int index) {
    const std::string owner = "worker-" + std::to_string(index);
    std::vector<hugo::OwnershipToken> tokens;
    auto& lease_lat = lease_us[static_cast<std::size_t>(index)];
    auto& complete_lat = complete_us[static_cast<std::size_t>(index)];
    lease_lat.reserve(1 << 16);
    complete_lat.reserve(1 << 16);
    std::int64_t done = 0;
    ready.arrive_and_wait();
    while (!stop.stop_requested()) {
      const auto t0 = SteadyClock::now();
      tokens.clear();
      if (batch == 1) {
        auto lease = queue->lease(owner, hugo::Wait::forever(stop.get_token()));
        if (!lease.ok()) {
          if (lease.error().code() != hugo::errc::canceled) record_failure("lease: " + lease.error().to_string());
          break;
        }
        tokens.push_back(lease->token);
      } else {
        auto leases = queue->lease_batch(owner, batch, hugo::Wait::forever(stop.get_token()));
        if (!leases.ok()) {
          if (leases.error().code() != hugo::errc::canceled) record_failure("lease: " + leases.error().to_string());
          break;
        }
        for (const hugo::Lease& lease : *leases) tokens.push_back(lease.token);
      }
      const auto t1 = SteadyClock::now();
      const hugo::Status completed = batch == 1 ? queue->complete(tokens.front()) : queue->complete_batch(tokens);
      const auto t2 = SteadyClock::now();
      if (!completed.ok()) {
        record_failure("complete: " + completed.error().to_string());
        break;
      }
      if (counting.load(std::memory_order_relaxed)) {
        done += static_cast<std::int64_t>(tokens.size());
        lease_lat.push_back(hugo_bench::micros_between(t0, t1));
        complete_lat.push_back(hugo_bench::micros_between(t1, t2));
      }
    }
    cycles[static_cast<std::size_t>(index)] = done;
  };

  QueueResult result;
  result.durability = durability;
  result.batch = batch;
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
      if (jump > result.max_in_flight()) ++result.late_wakeups;
      result.commits += (jump + result.max_in_flight() - 1) / result.max_in_flight();
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < kProducers; ++i) threads.emplace_back(producer, i);
  for (int i = 0; i < kWorkers; ++i) threads.emplace_back(worker, i);
  std::thread sampler_thread;
  if (sample) sampler_thread = std::thread(sampler);
  ready.arrive_and_wait();
  const clockid_t sampler_clock = sample ? cpu_clock_of(kProgram, sampler_thread) : clockid_t{};
  auto sampler_cpu = [&] { return sample ? cpu_clock_seconds(kProgram, sampler_clock) : 0.0; };
  rusage usage0{}, usage1{};
  ::getrusage(RUSAGE_SELF, &usage0);
  const double process_cpu0 = process_cpu_seconds(kProgram), hogs_cpu0 = hogs.cpu_seconds();
  const double sampler_cpu0 = sampler_cpu();
  const std::int64_t seq0 = journal->durable_seq();
  const auto start = SteadyClock::now();
  HUGO_BENCH_WINDOW_START();
  std::this_thread::sleep_for(std::chrono::duration<double>(budget));
  counting.store(false);
  HUGO_BENCH_WINDOW_END();
  const std::int64_t seq1 = journal->durable_seq();
  const auto end = SteadyClock::now();
  const double process_cpu1 = process_cpu_seconds(kProgram), hogs_cpu1 = hogs.cpu_seconds();
  const double sampler_cpu1 = sampler_cpu();
  ::getrusage(RUSAGE_SELF, &usage1);
  result.sampler_cpu_s = sampler_cpu1 - sampler_cpu0;
  result.cpu_s = (process_cpu1 - process_cpu0) - (hogs_cpu1 - hogs_cpu0) - result.sampler_cpu_s;
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

}  // namespace hugo_bench::queue_cycle
