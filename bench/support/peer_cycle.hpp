// Benchmark support for bench/peers: the cycle every system runs, enqueue -> lease -> complete,
// with 4 producer threads and 4 worker threads, timed over a window, with its CPU cost.
//
// A system provides one session per thread (made before the window opens, so connecting is not
// timed), with three calls that return only once the system acknowledged them at the durability
// under test:
//   bool enqueue(std::size_t n, std::stop_token)      n tasks; false: stopped before it was done
//   std::size_t lease(std::size_t n, std::stop_token) up to n tasks for this worker; 0: none now
//                                                     (the session waits a little itself) or stopped
//   void complete()                                   every task of the last lease
// A failure throws (std::exception): the run stops and the benchmark fails with its message.
//
// Bound: at most `capacity` tasks enqueued and not yet leased, as TaskQueueOptions::capacity bounds
// hugo-journal's queue (which bounds itself: `bounded_by_system`); a producer waits for room. So no
// system runs its producers ahead of its workers into an ever longer table.
//
// Figures: cycles = tasks whose complete() returned inside the window, / the window's length.
// CPU: getrusage(RUSAGE_SELF) over the window (the benchmark's process: its client threads, and
// for an embedded system all of it) plus, for a server, its CPU from /proc over the same window.
#pragma once

#include "bench/support/peer_server.hpp"
#include "bench/support/stats.hpp"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace hugo_bench {

inline constexpr int kPeerProducers = 4;
inline constexpr int kPeerWorkers = 4;

struct CycleSetup {
  std::size_t batch = 1;       // tasks per call
  double seconds = 1;          // the window
  std::size_t capacity = 512;  // tasks enqueued and not yet leased, at most
  bool bounded_by_system = false;
  pid_t server = -1;                // a server whose CPU counts (-1: none)
  bool server_children = false;     // and its child processes' (postgres' backends)
};

struct CycleResult {
  std::int64_t cycles = 0;
  double seconds = 0;
  double client_cpu_s = 0;  // this process
  double server_cpu_s = 0;  // the server's processes
  double rate() const { return seconds > 0 ? static_cast<double>(cycles) / seconds : 0; }
  double cpu_us_per_cycle() const {
    return cycles > 0 ? (client_cpu_s + server_cpu_s) * 1e6 / static_cast<double>(cycles) : 0;
  }
};

// A session's name, its owner or consumer name: "producer-<index>" or "worker-<index>".
inline std::string session_name(bool producer, int index) {
  return (producer ? "producer-" : "worker-") + std::to_string(index);
}

// Room for `capacity` tasks enqueued and not yet leased.
class CycleRoom {
 public:
  explicit CycleRoom(std::size_t capacity) : free_(static_cast<std::int64_t>(capacity)) {}
  // Waits for room for n tasks and takes it; false if stopped first.
  bool take(std::size_t n, const std::stop_token& stop) {
    std::unique_lock lock(mutex_);
    while (free_ < static_cast<std::int64_t>(n)) {
      if (stop.stop_requested()) return false;
      freed_.wait_for(lock, std::chrono::milliseconds(10));
    }
    free_ -= static_cast<std::int64_t>(n);
    return true;
  }
  void give_back(std::size_t n) {
    {
      std::lock_guard lock(mutex_);
      free_ += static_cast<std::int64_t>(n);
    }
    freed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  std::int64_t free_;
};

inline double process_cpu_self() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds_of = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
}

// One timed run. make_session(is_producer, index) returns a std::unique_ptr to a session.
template <class Session>
CycleResult run_cycle(std::string_view program, const std::string& what, const CycleSetup& setup,
                      const std::function<std::unique_ptr<Session>(bool, int)>& make_session) {
  std::vector<std::unique_ptr<Session>> producers, workers;
  for (int i = 0; i < kPeerProducers; ++i) producers.push_back(make_session(true, i));
  for (int i = 0; i < kPeerWorkers; ++i) workers.push_back(make_session(false, i));

  std::stop_source stop;
  std::atomic<bool> counting{true};
  CycleRoom room(setup.capacity);
  std::mutex failure_mutex;
  std::string failure;
  auto guarded = [&](auto&& body) {
    try {
      body();
    } catch (const std::exception& e) {
      {
        std::lock_guard lock(failure_mutex);
        if (failure.empty()) failure = e.what();
      }
      stop.request_stop();
    }
  };
  std::latch ready(kPeerProducers + kPeerWorkers + 1);
  std::vector<std::int64_t> completed(kPeerWorkers, 0);
  const bool bounded = !setup.bounded_by_system;

  std::vector<std::thread> threads;
  for (int i = 0; i < kPeerProducers; ++i) {
    threads.emplace_back([&, i] {
      Session& session = *producers[static_cast<std::size_t>(i)];
      ready.arrive_and_wait();
      guarded([&] {
        const std::stop_token token = stop.get_token();
        while (!token.stop_requested()) {
          if (bounded && !room.take(setup.batch, token)) break;
          if (!session.enqueue(setup.batch, token)) break;
        }
      });
    });
  }
  for (int i = 0; i < kPeerWorkers; ++i) {
    threads.emplace_back([&, i] {
      Session& session = *workers[static_cast<std::size_t>(i)];
      std::int64_t done = 0;
      ready.arrive_and_wait();
      guarded([&] {
        const std::stop_token token = stop.get_token();
        while (!token.stop_requested()) {
          const std::size_t got = session.lease(setup.batch, token);
          if (got == 0) continue;
          if (bounded) room.give_back(got);
          session.complete();
          if (counting.load(std::memory_order_relaxed)) done += static_cast<std::int64_t>(got);
        }
      });
      completed[static_cast<std::size_t>(i)] = done;
    });
  }

  ready.arrive_and_wait();
  // The /proc scan is outside the client's window: server first at the start, last at the end.
  const double server0 = setup.server > 0 ? process_cpu_seconds(setup.server, setup.server_children) : 0;
  const double client0 = process_cpu_self();
  const auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(setup.seconds));
  counting.store(false);
  const auto end = SteadyClock::now();
  const double client1 = process_cpu_self();
  const double server1 = setup.server > 0 ? process_cpu_seconds(setup.server, setup.server_children) : 0;
  stop.request_stop();
  for (auto& t : threads) t.join();
  if (!failure.empty()) peer_fail(program, what + ": " + failure);

  CycleResult result;
  result.seconds = micros_between(start, end) / 1e6;
  for (const std::int64_t n : completed) result.cycles += n;
  result.client_cpu_s = client1 - client0;
  result.server_cpu_s = server1 - server0;
  return result;
}

}  // namespace hugo_bench
