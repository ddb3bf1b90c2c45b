// Benchmark support: the paced producer of the latency benchmarks (tail_latency, follow), which
// appends one event per fixed interval without waiting for durability, like steady live traffic.
#pragma once

#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/prctl.h>

namespace hugo_bench {

struct PacedRun {
  std::vector<std::int64_t> append_ns;  // steady_ns() just before each append_async, by seq
  double lateness_p99_us = 0;           // how late the producer woke for its slots, p99
};

// Appends make_event(seq) for seq = first .. first + count - 1, one per `interval` from 1 ms from
// now (sleeping until each slot, with a 1 us timer slack), with Journal::append_async, and hands
// each ticket to on_ticket. The journal's next seq must be `first`: this is its only writer; any
// other seq ends the program.
template <class MakeEvent, class OnTicket>
PacedRun paced_appends(std::string_view program, hugo::Journal& journal, std::int64_t first, std::int64_t count,
                       std::chrono::microseconds interval, MakeEvent&& make_event, OnTicket&& on_ticket) {
  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);  // 1 us: wake close to each slot
  PacedRun run;
  run.append_ns.assign(static_cast<std::size_t>(first + count), 0);
  std::vector<double> lateness;
  lateness.reserve(static_cast<std::size_t>(count));
  const auto start = SteadyClock::now() + std::chrono::milliseconds(1);
  for (std::int64_t i = 0; i < count; ++i) {
    const auto slot = start + i * interval;
    std::this_thread::sleep_until(slot);
    lateness.push_back(micros_between(slot, SteadyClock::now()));
    const std::int64_t seq = first + i;
    const std::int64_t t = steady_ns();
    hugo::AppendTicket ticket = journal.append_async(make_event(seq));
    if (ticket.seq != seq) {
      const hugo::Result<std::int64_t> why = ticket.wait();
      fail(program, "append_async gave seq " + std::to_string(ticket.seq) + ", expected " + std::to_string(seq) +
                        (why.ok() ? "" : ": " + why.error().to_string()));
    }
    run.append_ns[static_cast<std::size_t>(seq)] = t;
    on_ticket(std::move(ticket));
  }
  run.lateness_p99_us = summarize(lateness).p99;
  return run;
}

}  // namespace hugo_bench
