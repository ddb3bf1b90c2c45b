// Benchmark support: contention on purpose (`--hog N`, docs/BENCHMARKS.md "How to run"). Hogs
// runs N threads that spin on the CPU from construction until stop(), scheduled like the
// benchmark's own threads: SCHED_OTHER at the benchmark's nice value (0 unless it was started
// under nice). A benchmark starts them before its first round and stops them after its last, so
// every figure and every ceiling is measured on CPUs shared with N more runnable threads.
#pragma once

#include "bench/support/cpu.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

namespace hugo_bench {

// "_hogN" for N > 0, "" for none: the suffix of every RESULT name of a run with --hog N.
inline std::string hog_suffix(int count) { return count > 0 ? "_hog" + std::to_string(count) : ""; }

// N spinning threads. Not thread-safe: one owner thread calls every member.
class Hogs {
 public:
  // Starts `count` (>= 0) threads; fails the program if one cannot be set to SCHED_OTHER.
  Hogs(std::string_view program, int count) : program_(program), start_(SteadyClock::now()) {
    errno = 0;
    nice_ = ::getpriority(PRIO_PROCESS, 0);  // this thread's nice value, which new threads inherit
    if (errno != 0) fail(program_, std::string("getpriority: ") + std::strerror(errno));
    threads_.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back([this] {
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
      const sched_param normal{};
      if (const int rc = ::pthread_setschedparam(threads_.back().native_handle(), SCHED_OTHER, &normal); rc != 0) {
        stop();
        fail(program_, std::string("pthread_setschedparam(SCHED_OTHER): ") + std::strerror(rc));
      }
      clocks_.push_back(cpu_clock_of(program_, threads_.back()));
    }
  }
  ~Hogs() { stop(); }
  Hogs(const Hogs&) = delete;
  Hogs& operator=(const Hogs&) = delete;

  int count() const { return static_cast<int>(clocks_.size()); }

  // CPU seconds the threads have used since they started; after stop(), their total.
  double cpu_seconds() const {
    if (stopped_) return cpu_at_stop_;
    double total = 0;
    for (const clockid_t clock : clocks_) total += cpu_clock_seconds(program_, clock);
    return total;
  }

  // Stops and joins the threads; idempotent.
  void stop() {
    if (stopped_) return;
    stop_.store(true);
    cpu_at_stop_ = cpu_seconds();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    wall_seconds_ = seconds_since(start_);
    stopped_ = true;
  }

  // What runs: "hogs: 2 spinning threads (SCHED_OTHER, nice 0) from before the first round to after the last".
  std::string started_line() const {
    char line[256];
    std::snprintf(line, sizeof line,
                  "hogs: %d spinning threads (SCHED_OTHER, nice %d) from before the first round to after the last",
                  count(), nice_);
    return line;
  }

  // After stop(): how long they ran and how much CPU they got.
  std::string stopped_line() const {
    char line[256];
    const double share = wall_seconds_ > 0 && count() > 0 ? 100.0 * cpu_at_stop_ / wall_seconds_ / count() : 0.0;
    std::snprintf(line, sizeof line, "hogs: %d threads ran %.1f s and used %.1f CPU-s (%.0f%% of a CPU each)",
                  count(), wall_seconds_, cpu_at_stop_, share);
    return line;
  }

 private:
  std::string program_;
  SteadyClock::time_point start_;
  int nice_ = 0;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::vector<std::thread> threads_;
  std::vector<clockid_t> clocks_;
  double cpu_at_stop_ = 0;
  double wall_seconds_ = 0;
};

}  // namespace hugo_bench
