// One node of the sample cluster (examples/cluster/run.sh): a journal's owner that serves it to
// followers in-process and runs a worker load on a TaskQueue.
//
//   cluster-node owner JOURNAL [--tasks N] [--hold-after K] [--workers W] [--lease-ms MS]
//       Creates JOURNAL, serves it on a free loopback port, enqueues N tasks and lets W workers
//       lease and complete them (every 5th task fails its first attempt and is retried). Once K
//       tasks are completed the workers stop, one more task is leased, and the process prints
//       "leased TASK attempt N lease SEQ expires TIME" and hangs holding that lease, to be killed.
//   cluster-node resume JOURNAL [--workers W] [--lease-ms MS]
//       Opens JOURNAL (a promoted replica), serves it, and lets W workers finish every task left:
//       the dead owner's lease expires on time and its task comes back as attempt + 1. Prints
//       "finished: ..." and serves on until SIGINT/SIGTERM.
//
// stdout is line-buffered; its first line is always "serving JOURNAL on URL". Errors go to stderr
// with exit 1. Uses the public API only.
#include <hugo/hugo.hpp>
#include <hugo/peers.hpp>

#include "examples/support/must.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <unistd.h>

namespace {

struct Options {
  std::string mode;
  std::string journal;
  int tasks = 40;
  int hold_after = 24;
  int workers = 3;
  int lease_ms = 2000;
};

using example::die;
using example::must;

Options parse(int argc, char** argv) {
  if (argc < 3) die("usage: cluster-node owner|resume JOURNAL [--tasks N] [--hold-after K] [--workers W] [--lease-ms MS]");
  Options o;
  o.mode = argv[1];
  o.journal = argv[2];
  if (o.mode != "owner" && o.mode != "resume") die("unknown mode '" + o.mode + "' (owner or resume)");
  const std::map<std::string, int*> flags{
      {"--tasks", &o.tasks}, {"--hold-after", &o.hold_after}, {"--workers", &o.workers}, {"--lease-ms", &o.lease_ms}};
  for (int i = 3; i < argc; i += 2) {
    const auto flag = flags.find(argv[i]);
    if (flag == flags.end() || i + 1 >= argc) die(std::string("bad argument '") + argv[i] + "'");
    char* end = nullptr;
    const long value = std::strtol(argv[i + 1], &end, 10);
    if (*end != '\0' || value <= 0 || value > 1'000'000) die(std::string("bad value for ") + argv[i]);
    *flag->second = static_cast<int>(value);
  }
  // Workers may each finish one task past --hold-after; at least one must be left to hold.
  if (o.hold_after + o.workers >= o.tasks) die("--hold-after plus --workers must be below --tasks");
  return o;
}

hugo::TaskQueueOptions queue_options(const Options& o) {
  hugo::TaskQueueOptions q;
  q.name = "jobs";
  q.lease_duration = std::chrono::milliseconds(o.lease_ms);
  q.heartbeat_interval = hugo::Duration::zero();
  q.sweep_interval = std::chrono::milliseconds(100);
  q.max_delivery_attempts = 3;
  return q;
}

// The owner's journal and the server that streams it to followers, woken by its commits.
struct Served {
  std::shared_ptr<hugo::Journal> journal;
  std::unique_ptr<hugo::ReplicationServer> server;
};

Served open_and_serve(const Options& o) {
  hugo::JournalOptions journal_options;
  journal_options.durability = hugo::Durability::Fsync;
  Served served;
  served.journal = must(hugo::Journal::open(o.journal, journal_options));
  hugo::ReplicationServerOptions server_options;
  server_options.journal = o.journal;
  server_options.live = served.journal.get();
  server_options.port = 0;
  server_options.heartbeat = std::chrono::milliseconds(200);
  served.server = must(hugo::ReplicationServer::start(server_options));
  std::printf("serving %s on %s\n", o.journal.c_str(), served.server->url().c_str());
  return served;
}

// One unit of the worker load: a few milliseconds of "work", then complete, except that task
// job-N with N a multiple of 5 fails its first attempt (and is requeued as attempt 2).
// Returns true if the task was completed.
bool work_on(hugo::TaskQueue& queue, const hugo::Lease& lease) {
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  const int n = std::atoi(lease.payload.c_str() + 4);  // "job-N"
  if (n % 5 == 0 && lease.attempt == 1) {
    must(queue.fail(lease.token, hugo::Error("app.flaky", "upstream hiccup")));
    return false;
  }
  must(queue.complete(lease.token));
  return true;
}

// Runs `workers` threads named PREFIX-worker-I until `keep_going` says stop; each waits at most
// 200 ms for a lease before asking again. `on_done` sees every completed lease.
template <class KeepGoing, class OnDone>
void run_workers(hugo::TaskQueue& queue, const std::string& prefix, int workers, KeepGoing keep_going, OnDone on_done) {
  std::vector<std::thread> pool;
  for (int w = 1; w <= workers; ++w) {
    pool.emplace_back([&, w] {
      const std::string me = prefix + "-worker-" + std::to_string(w);
      while (keep_going()) {
        auto lease = queue.lease(me, hugo::Wait::for_duration(std::chrono::milliseconds(200)));
        if (!lease.ok()) {
          if (lease.error().code() == hugo::errc::queue_timeout) continue;
          die(lease.error().to_string());
        }
        if (work_on(queue, *lease)) on_done(*lease);
      }
    });
  }
  for (auto& t : pool) t.join();
}

int run_owner(const Options& o) {
  Served served = open_and_serve(o);
  hugo::TaskQueueOptions q = queue_options(o);
  // This owner never expires leases itself: the lease it dies holding must still be live when
  // it is killed, however slow the machine, so that the next owner is the one that expires it.
  q.run_sweeper = false;
  auto queue = must(hugo::TaskQueue::open(served.journal, q));
  for (int i = 1; i <= o.tasks; ++i) must(queue->enqueue("job-" + std::to_string(i)));
  std::printf("enqueued %d tasks on queue 'jobs' (lease %d ms, %d workers)\n", o.tasks, o.lease_ms, o.workers);

  std::atomic<int> completed{0};
  run_workers(
      *queue, "node-a", o.workers, [&] { return completed.load() < o.hold_after; },
      [&](const hugo::Lease&) { ++completed; });
  std::printf("completed %d tasks; %zu pending\n", completed.load(), queue->pending_count());

  // Every other worker has stopped, so this LeaseGranted is the journal's last row.
  auto held = must(queue->lease("node-a-worker-1", hugo::Wait::none()));
  std::printf("leased %lld attempt %d lease %lld expires %s\n", static_cast<long long>(held.task_id()), held.attempt,
              static_cast<long long>(held.token.lease_id), hugo::format_iso8601(held.expires_at).c_str());
  for (;;) ::pause();  // holds the lease until SIGKILL
}

int run_resume(const Options& o) {
  // Blocked in every thread (all start below) and taken by sigwait at the end.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Served served = open_and_serve(o);
  auto queue = must(hugo::TaskQueue::open(served.journal, queue_options(o)));
  const hugo::QueueSnapshot rebuilt = queue->snapshot();
  std::printf("rebuilt queue 'jobs': %zu pending, %zu leased\n", rebuilt.pending.size(), rebuilt.leased.size());
  for (const auto& l : rebuilt.leased) {
    std::printf("  task %lld held by %s (attempt %d) until %s\n", static_cast<long long>(l.token.task_id),
                l.owner.c_str(), l.token.attempt, hugo::format_iso8601(l.expires_at).c_str());
  }

  std::atomic<int> completed{0};
  run_workers(
      *queue, "node-b", o.workers,
      [&] { return queue->pending_count() > 0 || queue->active_lease_count() > 0; },
      [&](const hugo::Lease& lease) {
        ++completed;
        if (!lease.last_error || lease.last_error->code() == "app.flaky") return;
        std::printf("completed task %lld attempt %d (previous attempt: %s)\n", static_cast<long long>(lease.task_id()),
                    lease.attempt, lease.last_error->code().c_str());
      });
  std::printf("finished: %d tasks completed here; %zu pending, %zu leased, %zu dead\n", completed.load(),
              queue->pending_count(), queue->active_lease_count(), queue->dead_letter_count());

  int received = 0;
  sigwait(&stop_signals, &received);
  served.server->stop();
  must(queue->close());
  must(served.journal->close());
  std::printf("stopped\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  example::program = "cluster-node";
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Options o = parse(argc, argv);
  return o.mode == "owner" ? run_owner(o) : run_resume(o);
}
