// bench/remote: the queue API over HTTP (hugo::RemoteTaskQueue against a ReplicationServer serving
// a TaskQueue) against the same TaskQueue called in process, and what idle long polls cost the
// server.
//
// Cycles. A client runs enqueue -> lease -> complete in a loop (bench/support/remote_workers.hpp:
// one code path against hugo::TaskQueueApi), in two forms: single calls (one task per call), and
// batches of 64 (enqueue_batch of 64 payloads, lease_batch(owner, 64), complete_batch of what it
// got). Payloads are 32 bytes. Each run has a fresh journal (Durability::Process, default journal
// options) in a fresh scratch folder and one TaskQueue "bench" with default options.
//   - remote: the TaskQueue is served by a ReplicationServer in this process (4 server threads,
//     the default); 4 worker PROCESSES (this executable re-run with --worker) each open a
//     RemoteTaskQueue (kept-alive connections) and run the loop;
//   - in process, the ceiling: 4 threads of this process run the same loop on the TaskQueue.
// Figure: tasks whose complete returned inside the window, per second (for single calls, a task is
// a cycle). Clients warm up for kLead before the window (a shared CLOCK_MONOTONIC start time, so a
// worker's exec and connect are not timed), then count for --seconds. Every round runs each form
// remote and in process back to back, alternating which goes first; figures are medians over
// rounds, as in bench/queue_cycle. CPU per task: remote = this process (the server) over the
// window plus each worker's own; in process = this process over the window.
//
// Long polls. 1,000 (--polls) raw sockets each send one POST /v1/queues/bench/leases with
// waitMs 60000 on an empty queue and never read (bench/support/remote_http.hpp), against a server
// allowing 1,200 connections (in all and per address), io_timeout 120 s, max_long_poll 100 s.
// Measured: this process's VmRSS before opening them (server started and warm) and after all are
// parked (GET /healthz answers, then 2 s to settle); the process's CPU (getrusage user + sys) over
// --idle seconds with them parked, against a baseline of 2 idle seconds without them; /healthz
// latency while they are held; and, as checks, how many polls were answered or closed early and
// the server's rejected-connection count. The polls are this process's sockets too, but their
// kernel buffers are not in RSS; the client side holds only the descriptors.
//
// Usage: remote [--seconds S] [--rounds R] [--polls N] [--idle S] [--longpoll 0|1] [--cycles 0|1]
//        (or $HUGO_BENCH_SECONDS, $HUGO_BENCH_ROUNDS)
// RESULT lines: remote_longpoll_rss_mb first (its ceiling is the 50 MB budget, not a measured
// ceiling: lower is better, and its ratio is 50 / value, so >= 1 meets it), then
// remote_cycle_single and, last, remote_cycle_batch64: value = remote tasks/s, ceiling = in process,
// ratio = remote / in process (goal >= 0.5).
#include "bench/support/child.hpp"
#include "bench/support/cpu.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/remote_http.hpp"
#include "bench/support/remote_workers.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>
#include <hugo/peers.hpp>
#include <hugo/remote_queue.hpp>
#include <hugo/task_queue.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace {

constexpr const char* kProgram = "remote";
constexpr const char* kQueue = "bench";
constexpr std::size_t kPayloadBytes = 32;
constexpr std::size_t kBatch = 64;
constexpr int kClients = 4;
constexpr std::int64_t kLeadNs = 750'000'000;  // warm-up before the window
constexpr double kRssBudgetMb = 50;            // remote_longpoll_rss_mb's ceiling: a budget

using hugo_bench::SteadyClock;

SteadyClock::time_point at_ns(std::int64_t ns) { return SteadyClock::time_point(std::chrono::nanoseconds(ns)); }

std::string random_token() {
  std::random_device device;
  std::string token;
  char hex[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(device()));
    token += hex;
  }
  return token;
}

// A fresh journal (Durability::Process) and TaskQueue "bench" in a fresh scratch folder.
struct Fixture {
  hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-remote");
  std::shared_ptr<hugo::Journal> journal = hugo_bench::open_journal(kProgram, dir / "journal.db", hugo::Durability::Process);
  std::shared_ptr<hugo::TaskQueue> queue;
  std::unique_ptr<hugo::ReplicationServer> server;
  std::string token = random_token();

  Fixture() {
    hugo::TaskQueueOptions options;
    options.name = kQueue;
    auto opened = hugo::TaskQueue::open(journal, options);
    if (!opened.ok()) hugo_bench::fail(kProgram, "TaskQueue::open: " + opened.error().to_string());
    queue = std::move(opened).value();
  }
  void serve(hugo::ReplicationServerOptions options) {
    options.journal = dir / "journal.db";
    options.live = journal.get();
    options.port = 0;
    options.queues = {queue};
    options.write_token = token;
    auto started = hugo::ReplicationServer::start(std::move(options));
    if (!started.ok()) hugo_bench::fail(kProgram, "ReplicationServer::start: " + started.error().to_string());
    server = std::move(started).value();
  }
  void close() {
    if (server) server->stop();
    server.reset();
    if (const hugo::Status closed = queue->close(); !closed.ok()) {
      hugo_bench::fail(kProgram, "TaskQueue::close: " + closed.error().to_string());
    }
    if (const hugo::Status health = journal->health(); !health.ok()) {
      hugo_bench::fail(kProgram, "journal unhealthy after the run: " + health.error().to_string());
    }
    hugo_bench::close_journal(kProgram, *journal);
  }
};

// ---- worker process ---------------------------------------------------------------------------

// remote --worker URL TOKEN INDEX BATCH START_NS END_NS PARENT_PID: one remote client; prints
// loop_line() last. Exit status 1 on an error (on stderr).
int worker_main(int argc, char** argv) {
  if (argc != 9) hugo_bench::fail(kProgram, "--worker takes URL TOKEN INDEX BATCH START_NS END_NS PARENT_PID");
  const std::int64_t start_ns = std::stoll(argv[6]), end_ns = std::stoll(argv[7]);
  hugo_bench::bind_worker_to_parent(static_cast<pid_t>(std::stol(argv[8])),
                                    static_cast<unsigned>((end_ns - hugo_bench::steady_ns()) / 1'000'000'000 + 60));
  hugo::RemoteTaskQueueOptions options;
  options.url = argv[2];
  options.queue = kQueue;
  options.token = argv[3];
  auto opened = hugo::RemoteTaskQueue::open(options);
  if (!opened.ok()) hugo_bench::fail(kProgram, "RemoteTaskQueue::open: " + opened.error().to_string());
  const hugo_bench::LoopResult r =
      hugo_bench::cycle_loop(kProgram, **opened, "worker-" + std::string(argv[4]),
                             static_cast<std::size_t>(std::stoul(argv[5])), kPayloadBytes, start_ns, end_ns, true);
  if (!r.error.empty()) hugo_bench::fail(kProgram, "worker " + std::string(argv[4]) + ": " + r.error);
  hugo_bench::print_line(hugo_bench::loop_line(r));
  return 0;
}

// ---- cycles -----------------------------------------------------------------------------------

struct Run {
  double tasks = 0, seconds = 0, server_cpu_s = 0, client_cpu_s = 0;
  int late = 0;  // clients that began after the window opened
  double rate() const { return seconds > 0 ? tasks / seconds : 0; }
  double cpu_us() const { return tasks > 0 ? (server_cpu_s + client_cpu_s) * 1e6 / tasks : 0; }
};

// One timed run of `batch`-task cycles by kClients clients, remote (worker processes against a
// server in this process) or in process (threads on the TaskQueue).
Run run_cycles(bool remote, std::size_t batch, double seconds) {
  Fixture f;
  if (remote) f.serve({});
  const std::int64_t start_ns = hugo_bench::steady_ns() + kLeadNs;
  const std::int64_t end_ns = start_ns + static_cast<std::int64_t>(seconds * 1e9);
  std::vector<hugo_bench::Child> workers;
  std::vector<std::thread> threads;
  std::vector<hugo_bench::LoopResult> results(kClients);
  for (int i = 0; i < kClients; ++i) {
    if (remote) {
      workers.push_back(hugo_bench::spawn_worker(
          kProgram, {"--worker", f.server->url(), f.token, std::to_string(i), std::to_string(batch),
                     std::to_string(start_ns), std::to_string(end_ns), std::to_string(::getpid())}));
    } else {
      threads.emplace_back([&, i] {
        results[static_cast<std::size_t>(i)] = hugo_bench::cycle_loop(
            kProgram, *f.queue, "worker-" + std::to_string(i), batch, kPayloadBytes, start_ns, end_ns, false);
      });
    }
  }
  Run run;
  std::this_thread::sleep_until(at_ns(start_ns));
  const double cpu0 = hugo_bench::process_cpu_seconds(kProgram);
  std::this_thread::sleep_until(at_ns(end_ns));
  run.server_cpu_s = hugo_bench::process_cpu_seconds(kProgram) - cpu0;
  run.seconds = static_cast<double>(end_ns - start_ns) / 1e9;
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const std::string line = hugo_bench::read_line(workers[i]);
    const int status = hugo_bench::reap_worker(workers[i]);
    if (status != 0 || hugo_bench::field(line, "tasks") < 0) {
      hugo_bench::fail(kProgram, "worker " + std::to_string(i) + " exited with status " + std::to_string(status) +
                                     " after printing '" + line + "'");
    }
    results[i].tasks = static_cast<std::int64_t>(hugo_bench::field(line, "tasks"));
    results[i].cpu_s = hugo_bench::field(line, "cpu_s");
    results[i].late = hugo_bench::field(line, "late") > 0;
  }
  for (const auto& r : results) {
    if (!r.error.empty()) hugo_bench::fail(kProgram, "in-process client: " + r.error);
    run.tasks += static_cast<double>(r.tasks);
    run.client_cpu_s += r.cpu_s;
    run.late += r.late ? 1 : 0;
  }
  if (f.queue->active_lease_count() != 0) hugo_bench::fail(kProgram, "leases left after the run");
  f.close();
  return run;
}

// ---- long polls -------------------------------------------------------------------------------

double rss_mb() { return static_cast<double>(hugo_bench::proc_status_kb("VmRSS")) / 1024.0; }

double self_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// CPU ms per second this process uses over `seconds` of doing nothing itself.
double idle_cpu_ms_per_s(double seconds) {
  const double cpu0 = self_cpu_s();
  const auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return (self_cpu_s() - cpu0) * 1e3 / hugo_bench::seconds_since(t0);
}

hugo_bench::HttpReply healthz(int port) {
  hugo_bench::HttpReply r = hugo_bench::http_get(port, "/healthz");
  if (r.status != 200) hugo_bench::fail(kProgram, "GET /healthz: status " + std::to_string(r.status) + " " + r.error);
  return r;
}

// Returns the RSS increase in MB; prints the longpoll line.
double run_long_polls(int polls, double idle_seconds) {
  Fixture f;
  hugo::ReplicationServerOptions options;
  options.max_connections = options.max_connections_per_address = static_cast<std::size_t>(polls) + 200;
  options.io_timeout = std::chrono::seconds(120);
  options.max_long_poll = std::chrono::seconds(100);
  f.serve(options);
  const int port = f.server->port();
  healthz(port);  // warm: the server has answered once
  const double rss0 = rss_mb();
  const double idle_before = idle_cpu_ms_per_s(2.0);

  const auto t0 = SteadyClock::now();
  std::vector<int> fds = hugo_bench::open_idle_long_polls(kProgram, port, kQueue, f.token, polls, 60'000);
  const double open_ms = hugo_bench::seconds_since(t0) * 1e3;
  healthz(port);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // settle: the last polls parsed and parked
  const double rss1 = rss_mb();

  std::vector<double> healthz_ms;
  for (int i = 0; i < 20; ++i) healthz_ms.push_back(healthz(port).micros / 1e3);
  const hugo_bench::Summary latency = hugo_bench::summarize(healthz_ms);
  const double idle_with = idle_cpu_ms_per_s(idle_seconds);
  const int answered = hugo_bench::count_answered(fds);
  const hugo_bench::HttpReply metrics = hugo_bench::http_get(port, "/metrics");
  const double rejected = hugo_bench::metric_value(metrics.body, "hugo_peer_rejected_connections_total");
  const double rss2 = rss_mb();
  hugo_bench::close_all(fds);
  f.close();

  char line[768];
  std::snprintf(line, sizeof line,
                "longpoll: polls=%d open_ms=%.0f rss_mb=%.1f (before %.1f, parked %.1f, after idle %.1f; %.1f kB per "
                "poll) cpu_ms_per_s=%.2f (idle without polls %.2f over 2 s; with them over %.0f s) healthz_ms "
                "p50=%.2f max=%.2f (n=20) answered_or_closed_early=%d rejected_connections=%.0f",
                polls, open_ms, rss1 - rss0, rss0, rss1, rss2, (rss1 - rss0) * 1024.0 / polls, idle_with,
                idle_before, idle_seconds, latency.p50, latency.max, answered, rejected);
  hugo_bench::print_line(line);
  if (answered != 0 || rejected != 0) {
    hugo_bench::print_line("longpoll: WARNING: not every poll stayed parked; the figures above undercount");
  }
  return rss1 - rss0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--worker") == 0) return worker_main(argc, argv);
  double seconds = 3.0, rounds_option = 3, polls_option = 1000, idle_seconds = 5;
  double longpoll_option = 1, cycles_option = 1;
  hugo_bench::parse_options(argc, argv,
                            {{"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.2, 600},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--polls", nullptr, &polls_option, 1, 100000},
                             {"--idle", nullptr, &idle_seconds, 0.5, 600},
                             {"--longpoll", nullptr, &longpoll_option, 0, 1},
                             {"--cycles", nullptr, &cycles_option, 0, 1}});
  hugo_bench::install_worker_reaper();
  const rlim_t fd_limit = hugo_bench::raise_fd_limit(kProgram);
  const int rounds = static_cast<int>(rounds_option);
  const int polls = static_cast<int>(polls_option);
  if (longpoll_option != 0 && fd_limit < static_cast<rlim_t>(polls) + 256) {
    hugo_bench::fail(kProgram, "RLIMIT_NOFILE hard limit " + std::to_string(fd_limit) + " is too low for " +
                                   std::to_string(polls) + " long polls (and the server's side of them)");
  }
  char line[512];
  std::snprintf(line, sizeof line,
                "remote: %d clients (worker processes vs threads), single calls and batches of %zu, %d rounds x %.2f s "
                "per case (medians), %zu-byte payloads, Durability::Process; %d idle long polls; fd limit %llu",
                kClients, kBatch, rounds, seconds, kPayloadBytes, polls, static_cast<unsigned long long>(fd_limit));
  hugo_bench::print_line(line);

  // Long polls first, in a process that has not run the cycles yet (their heap would absorb some
  // of the polls' allocations and hide them from RSS).
  if (longpoll_option != 0) {
    const double mb = run_long_polls(polls, idle_seconds);
    // A cost: ratio = budget / value, higher is better like every ratio (>= 1 meets the budget).
    hugo_bench::print_result_ratio("remote_longpoll_rss_mb", mb, "MB", kRssBudgetMb, kRssBudgetMb / std::max(mb, 0.01), 1);
  }
  if (cycles_option == 0) return 0;

  std::map<std::pair<std::size_t, bool>, std::vector<double>> rates, cpu_us;  // (batch, remote)
  for (int round = 1; round <= rounds; ++round) {
    for (const std::size_t batch : {std::size_t{1}, kBatch}) {
      for (const bool remote : {round % 2 == 1, round % 2 == 0}) {
        const Run r = run_cycles(remote, batch, seconds);
        rates[{batch, remote}].push_back(r.rate());
        cpu_us[{batch, remote}].push_back(r.cpu_us());
        std::snprintf(line, sizeof line,
                      "round=%d batch=%-2zu side=%-10s tasks=%.0f secs=%.3f rate=%.1f tasks/s cpu_us/task=%.1f "
                      "(this process %.1f + workers %.1f) late_clients=%d",
                      round, batch, remote ? "remote" : "in-process", r.tasks, r.seconds, r.rate(), r.cpu_us(),
                      r.tasks > 0 ? r.server_cpu_s * 1e6 / r.tasks : 0.0,
                      r.tasks > 0 ? r.client_cpu_s * 1e6 / r.tasks : 0.0, r.late);
        hugo_bench::print_line(line);
      }
    }
  }
  for (const std::size_t batch : {std::size_t{1}, kBatch}) {
    for (const bool remote : {true, false}) {
      const auto key = std::make_pair(batch, remote);
      std::snprintf(line, sizeof line,
                    "summary batch=%-2zu side=%-10s median=%.1f tasks/s rounds=[%s] cpu_us/task median=%.1f rounds=[%s]",
                    batch, remote ? "remote" : "in-process", hugo_bench::median(rates[key]),
                    hugo_bench::join_values(rates[key]).c_str(), hugo_bench::median(cpu_us[key]),
                    hugo_bench::join_values(cpu_us[key]).c_str());
      hugo_bench::print_line(line);
    }
  }
  hugo_bench::print_result("remote_cycle_single", hugo_bench::median(rates[{1, true}]), "cycles/s",
                           hugo_bench::median(rates[{1, false}]));
  hugo_bench::print_result("remote_cycle_batch64", hugo_bench::median(rates[{kBatch, true}]), "tasks/s",
                           hugo_bench::median(rates[{kBatch, false}]));
  return 0;
}
