// Benchmark support for bench/remote: the client loop both sides run (the same code against
// hugo::TaskQueueApi, in a worker process on a RemoteTaskQueue and in a thread on the TaskQueue),
// and the worker processes: re-executions of the benchmark that never outlive it.
//
// No leftovers: every worker the parent spawns is registered, and an atexit handler SIGKILLs and
// reaps those still registered (fail() ends the program through std::exit, so it runs then too).
// A worker sets PR_SET_PDEATHSIG (SIGKILL when the parent dies in any way, SIGKILL included: the
// parent spawns from its main thread) and alarm() (a worker stuck past its window + 60 s dies).
#pragma once

#include "bench/support/child.hpp"
#include "bench/support/cpu.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/task_queue_api.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo_bench {

struct LoopResult {
  std::int64_t tasks = 0;  // tasks whose complete returned inside the window
  double cpu_s = 0;        // this process's CPU over the window (when asked)
  bool late = false;       // the loop began more than 100 ms after the window opened
  std::string error;       // the first failed call; the loop stops there
};

// Cycles until end_ns (steady_ns() clock, shared by every process of the machine): enqueue one
// task (batch 1) or enqueue_batch of `batch`, then lease one or lease_batch(owner, batch), then
// complete or complete_batch what it leased. Before start_ns it warms up uncounted. Every call
// waits (up to 5 s; with 4 clients each enqueueing before it leases, a task is always pending).
inline LoopResult cycle_loop(std::string_view program, hugo::TaskQueueApi& queue, const std::string& owner,
                             std::size_t batch, std::size_t payload_bytes, std::int64_t start_ns, std::int64_t end_ns,
                             bool measure_cpu) {
  LoopResult r;
  const std::vector<std::string> payloads(batch, alphabet_payload(payload_bytes));
  std::vector<hugo::OwnershipToken> tokens;
  r.late = steady_ns() > start_ns + 100'000'000;
  bool open = false;
  double cpu0 = 0;
  for (std::int64_t now = steady_ns(); now < end_ns; now = steady_ns()) {
    if (!open && now >= start_ns) {
      open = true;
      if (measure_cpu) cpu0 = process_cpu_seconds(program);
    }
    const hugo::Wait wait = hugo::Wait::for_duration(std::chrono::seconds(5));
    tokens.clear();
    if (batch == 1) {
      if (auto id = queue.enqueue(payloads.front(), wait); !id.ok()) {
        r.error = "enqueue: " + id.error().to_string();
        break;
      }
      auto lease = queue.lease(owner, wait);
      if (!lease.ok()) {
        r.error = "lease: " + lease.error().to_string();
        break;
      }
      tokens.push_back(lease->token);
    } else {
      if (auto ids = queue.enqueue_batch(payloads, wait); !ids.ok()) {
        r.error = "enqueue_batch: " + ids.error().to_string();
        break;
      }
      auto leases = queue.lease_batch(owner, batch, wait);
      if (!leases.ok()) {
        r.error = "lease_batch: " + leases.error().to_string();
        break;
      }
      for (const hugo::Lease& lease : *leases) tokens.push_back(lease.token);
    }
    const hugo::Status done = batch == 1 ? queue.complete(tokens.front()) : queue.complete_batch(tokens);
    if (!done.ok()) {
      r.error = "complete: " + done.error().to_string();
      break;
    }
    const std::int64_t t = steady_ns();
    if (t >= start_ns && t < end_ns) r.tasks += static_cast<std::int64_t>(tokens.size());
  }
  if (measure_cpu && open) r.cpu_s = process_cpu_seconds(program) - cpu0;
  return r;
}

// The line a worker prints last, and the parent parses with field().
inline std::string loop_line(const LoopResult& r) {
  char line[128];
  std::snprintf(line, sizeof line, "worker tasks=%lld cpu_s=%.6f late=%d", static_cast<long long>(r.tasks), r.cpu_s,
                r.late ? 1 : 0);
  return line;
}

// In a worker, first thing: die with the parent (`parent`, as it passed its pid), and by itself
// `seconds` from now at the latest.
inline void bind_worker_to_parent(pid_t parent, unsigned seconds) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);  // the parent died before the prctl
  ::alarm(seconds);
}

// The worker processes still running, SIGKILLed and reaped at exit.
inline std::vector<pid_t>& live_workers() {
  static auto* pids = new std::vector<pid_t>();  // never destroyed: used from atexit
  return *pids;
}

inline void reap_live_workers() {
  for (const pid_t pid : live_workers()) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  live_workers().clear();
}

// spawn_self, registered for reaping at exit (call install_worker_reaper() once first).
inline Child spawn_worker(std::string_view program, const std::vector<std::string>& args) {
  Child child = spawn_self(program, args);
  live_workers().push_back(child.pid);
  return child;
}

// wait_child, and the worker leaves the registry.
inline int reap_worker(Child& child) {
  std::erase(live_workers(), child.pid);
  return wait_child(child);
}

inline void install_worker_reaper() { std::atexit(reap_live_workers); }

}  // namespace hugo_bench
