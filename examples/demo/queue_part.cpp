// Demo part 2: the queue survives kill -9.
//
// A worker process runs a small pool that leases tasks, fails some of them (they are retried
// with attempt + 1), and is SIGKILLed while it holds a lease. The restart rebuilds the queue from
// the journal: the interrupted lease is still there, with its owner and expiry; it expires on
// time, is requeued as attempt 2, and is completed. The task's audit trail is printed.
#include "child_process.hpp"
#include "demo.hpp"

#include <hugo/hugo.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace demo {
namespace {

constexpr int kTasks = 12;

int fail(const hugo::Error& error) {
  std::fprintf(stderr, "demo: %s\n", error.to_string().c_str());
  return 1;
}

hugo::TaskQueueOptions queue_options() {
  hugo::TaskQueueOptions o;
  o.name = "jobs";
  o.lease_duration = std::chrono::seconds(1);
  o.heartbeat_interval = hugo::Duration::zero();
  o.sweep_interval = std::chrono::milliseconds(100);
  o.max_delivery_attempts = 3;
  return o;
}

struct Opened {
  std::shared_ptr<hugo::Journal> journal;
  std::unique_ptr<hugo::TaskQueue> queue;
};

hugo::Result<Opened> open_queue(const std::string& path) {
  HUGO_ASSIGN_OR_RETURN(auto journal, hugo::Journal::open(path, {}));
  Opened opened;
  opened.journal = std::shared_ptr<hugo::Journal>(journal.release());
  HUGO_ASSIGN_OR_RETURN(opened.queue, hugo::TaskQueue::open(opened.journal, queue_options()));
  return opened;
}

long long ms_until(hugo::Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - hugo::SystemClock().now()).count();
}

}  // namespace

int queue_worker(const std::string& path) {
  auto opened = open_queue(path);
  if (!opened.ok()) return fail(opened.error());
  hugo::TaskQueue& queue = *opened->queue;
  std::atomic<int> completed{0};
  std::vector<std::thread> pool;
  for (int w = 1; w <= 3; ++w) {
    pool.emplace_back([&, w] {
      const std::string me = "worker-" + std::to_string(w);
      while (true) {
        if (completed.load() >= 6 && w != 1) return;  // leave work for after the crash
        auto lease = queue.lease(me, hugo::Wait::for_duration(std::chrono::seconds(2)));
        if (!lease.ok()) return;
        if (completed.load() >= 6) {
          std::printf("holding lease on task %lld (%s, attempt %d) ... and then the process dies\n",
                      static_cast<long long>(lease->task_id()), lease->payload.c_str(), lease->attempt);
          std::fflush(stdout);
          std::this_thread::sleep_for(std::chrono::hours(1));
        }
        const int n = std::stoi(lease->payload.substr(4));
        if (n % 4 == 0 && lease->attempt == 1) {
          (void)queue.fail(lease->token, hugo::Error("app.flaky", "upstream hiccup"));
          std::printf("%s failed %s (attempt %d): retry scheduled\n", me.c_str(), lease->payload.c_str(), lease->attempt);
        } else if (queue.complete(lease->token).ok()) {
          ++completed;
          std::printf("%s completed %s (attempt %d)\n", me.c_str(), lease->payload.c_str(), lease->attempt);
        }
        std::fflush(stdout);
      }
    });
  }
  for (auto& t : pool) t.join();
  return 0;
}

int queue_part(const std::filesystem::path& dir, const std::string& self, long long& interrupted_task) {
  const std::string path = (dir / "part2.journal").string();
  std::printf("== part 2: the queue survives kill -9 ==\njournal: %s\n\n", path.c_str());
  {
    auto opened = open_queue(path);
    if (!opened.ok()) return fail(opened.error());
    for (int i = 1; i <= kTasks; ++i) {
      if (auto id = opened->queue->enqueue("job-" + std::to_string(i)); !id.ok()) return fail(id.error());
    }
    std::printf("1. enqueued %d tasks on queue 'jobs' (lease 1 s, 3 attempts)\n", kTasks);
  }

  std::printf("2. a worker process with 3 workers starts:\n");
  ChildProcess worker(self, {"--worker", path});
  if (worker.pid() == 0) return 1;
  const pid_t worker_pid = worker.pid();
  char buffer[512];
  long long interrupted = 0;
  while (worker.read_line(buffer, sizeof(buffer))) {
    std::printf("   | %s", buffer);
    if (std::strncmp(buffer, "holding lease on task ", 22) == 0) {
      interrupted = std::atoll(buffer + 22);
      break;
    }
  }
  worker.kill_hard();
  if (interrupted == 0) return 1;
  interrupted_task = interrupted;
  std::printf("3. SIGKILL sent to the worker process (pid %d) while it held task %lld\n\n", static_cast<int>(worker_pid),
              interrupted);

  auto opened = open_queue(path);
  if (!opened.ok()) return fail(opened.error());
  hugo::TaskQueue& queue = *opened->queue;
  const auto rebuilt = queue.snapshot();
  std::printf("4. restart: the queue was rebuilt from the journal: %zu pending, %zu leased, %zu dead\n",
              rebuilt.pending.size(), rebuilt.leased.size(), rebuilt.dead.size());
  for (const auto& l : rebuilt.leased) {
    std::printf("   lease %s owned by %s, attempt %d, expires in %lld ms\n", l.token.to_string().c_str(), l.owner.c_str(),
                l.token.attempt, ms_until(l.expires_at));
  }

  std::printf("5. a new worker finishes the work; the dead worker's lease expires and is retried:\n");
  while (queue.pending_count() > 0 || queue.active_lease_count() > 0) {
    auto lease = queue.lease("worker-after-restart", hugo::Wait::for_duration(std::chrono::seconds(3)));
    if (!lease.ok()) {
      if (lease.error().code() == hugo::errc::queue_timeout) continue;
      return fail(lease.error());
    }
    if (auto done = queue.complete(lease->token); !done.ok()) return fail(done.error());
    if (lease->task_id() == interrupted || lease->attempt > 1) {
      std::printf("   completed %s (task %lld, attempt %d, previous error: %s)\n", lease->payload.c_str(),
                  static_cast<long long>(lease->task_id()), lease->attempt,
                  lease->last_error ? lease->last_error->code().c_str() : "none");
    }
  }

  std::printf("\n6. final state: %zu pending, %zu leased, %zu dead letters\n", queue.pending_count(),
              queue.active_lease_count(), queue.dead_letter_count());
  std::printf("   audit trail of task %lld:\n", interrupted);
  for (std::int64_t after = 0;;) {
    auto batch = opened->journal->read(after, 1024);
    if (!batch.ok()) return fail(batch.error());
    if (batch->empty()) break;
    for (const auto& e : *batch) {
      if (e.task_id != interrupted) continue;
      std::printf("     seq %-4lld %-13s attempt %d%s%s\n", static_cast<long long>(e.seq),
                  std::string(hugo::to_string(e.kind)).c_str(), e.attempt,
                  e.owner_peer_id ? (" owner " + *e.owner_peer_id).c_str() : "",
                  e.error ? (" error " + e.error->code()).c_str() : "");
    }
    after = batch->back().seq;
  }
  std::printf("\n");
  return 0;
}

}  // namespace demo
