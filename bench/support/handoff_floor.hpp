// Benchmark support: the hand-off floor of a group commit. N producer threads each append one
// item and block until it is "committed", through a minimal leader/follower group commit (the
// shape of the journal's: a mutex-guarded queue of batches, the first waiter with no commit in
// progress commits every queued batch itself, the others sleep on their batch's futex word and
// are woken together), except that a commit does nothing: no SQLite, no event, no validation.
//
// What it measures is what N blocked producers cost on this machine by themselves: the CPU the
// kernel, the futexes and the one mutex take to put producers to sleep and wake them once their
// batch is done. A commit that takes no time lets many producers find their batch done without
// sleeping (the floor's context switches per event are printed); behind a real commit nearly
// every waiter sleeps. The run keeps every CPU busy, so its CPU per event is the CPUs over its
// rate: the price of this minimal design with small batches, not a lower bound for every design.
// journal_append prints it beside the journal's CPU per event and the raw ceiling's, as an
// estimate of what the hand-offs cost (docs/BENCHMARKS.md, "Where an append's CPU goes").
#pragma once

#include "bench/support/cpu.hpp"
#include "bench/support/hog.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"
#include "journal/wake_word.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <latch>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace hugo_bench {

struct HandoffFloor {
  int producers = 1;
  std::int64_t events = 0;
  std::int64_t commits = 0;
  double seconds = 0;
  double cpu_s = 0;     // every thread of the process over the window, less the hogs'
  double switches = 0;  // context switches of the process over the window, hogs' included
  double rate() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
  double cpu_us_per_event() const { return events > 0 ? cpu_s * 1e6 / static_cast<double>(events) : 0; }
  double switches_per_event() const { return events > 0 ? switches / static_cast<double>(events) : 0; }
  double avg_batch() const { return commits > 0 ? static_cast<double>(events) / static_cast<double>(commits) : 0; }
};

namespace handoff_detail {

// A batch of waiting producers: `done` is set under the mutex, then `wake` is bumped and woken
// (the journal's own WakeWord, so both sleep and wake alike).
struct Batch {
  bool done = false;
  hugo::detail::WakeWord wake;
};

class GroupCommit {
 public:
  // Blocks until this caller's item is committed, leading the commits when nobody else is.
  void append() {
    std::unique_lock lock(mutex_);
    if (queued_.empty()) queued_.push_back(std::make_shared<Batch>());
    const std::shared_ptr<Batch> mine = queued_.back();
    while (!mine->done) {
      if (!committing_) {
        lead(lock, *mine);
        continue;
      }
      const std::uint32_t seen = mine->wake.read();
      lock.unlock();
      mine->wake.sleep(seen);
      lock.lock();
    }
  }

  std::int64_t commits() {
    std::lock_guard lock(mutex_);
    return commits_;
  }

  // Ends the run: every queued and later batch is done at once.
  void release_all() {
    std::lock_guard lock(mutex_);
    for (const auto& batch : queued_) {
      batch->done = true;
      batch->wake.wake_all();
    }
  }

 private:
  void lead(std::unique_lock<std::mutex>& lock, const Batch& target) {
    committing_ = true;
    while (!target.done) {
      std::shared_ptr<Batch> front = queued_.front();
      queued_.pop_front();
      lock.unlock();
      // The commit: nothing to write.
      lock.lock();
      front->done = true;
      ++commits_;
      lock.unlock();
      front->wake.wake_all();
      lock.lock();
    }
    committing_ = false;
    if (!queued_.empty()) {  // hand the lead to a waiter of the next batch
      const std::shared_ptr<Batch> next = queued_.front();
      lock.unlock();
      next->wake.wake_all();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::deque<std::shared_ptr<Batch>> queued_;
  bool committing_ = false;
  std::int64_t commits_ = 0;
};

}  // namespace handoff_detail

// Runs `producers` threads through the empty group commit for `budget` seconds.
inline HandoffFloor handoff_floor_run(std::string_view program, int producers, double budget, const Hogs& hogs) {
  handoff_detail::GroupCommit group;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> acknowledged{0};
  std::latch ready(producers + 1);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(producers));
  for (int i = 0; i < producers; ++i) {
    threads.emplace_back([&] {
      ready.arrive_and_wait();
      while (!stop.load(std::memory_order_relaxed)) {
        group.append();
        acknowledged.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  ready.arrive_and_wait();
  const std::int64_t events0 = acknowledged.load();
  const std::int64_t commits0 = group.commits();
  const double cpu0 = process_cpu_seconds(program) - hogs.cpu_seconds();
  const double switches0 = process_switches(program);
  const auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(budget));
  const std::int64_t events1 = acknowledged.load();
  const std::int64_t commits1 = group.commits();
  const double cpu1 = process_cpu_seconds(program) - hogs.cpu_seconds();
  const double switches1 = process_switches(program);
  const auto end = SteadyClock::now();
  stop.store(true);
  group.release_all();
  for (auto& t : threads) t.join();

  HandoffFloor floor;
  floor.producers = producers;
  floor.events = events1 - events0;
  floor.commits = commits1 - commits0;
  floor.seconds = micros_between(start, end) / 1e6;
  floor.cpu_s = cpu1 - cpu0;
  floor.switches = switches1 - switches0;
  return floor;
}

}  // namespace hugo_bench
