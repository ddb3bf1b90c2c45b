// The chaos harness's child process: a randomized mixed workload on one folder of files, run
// until the parent SIGKILLs it, then started again on the same files.
//
//   hugo-chaos-child mixed DIR SEED
//
// DIR holds (see tests/chaos/mixed_scenario.hpp for what the parent checks):
//   journal.db   the journal, Durability::Fsync; queue "chaos" with 30 ms leases that a real
//                clock expires (the queue's own sweeper)
//   acks.log     one line per acknowledged queue operation, written and fsync'd after the
//                operation returned and before "ack" is printed
//   tx.db        a transactional sink (table `applied`, no unique key) following the journal
//   coord.db     the checkpoints of an at-least-once sink whose handler runs through
//   effects.db   TaskQueueDeterministicCoordinator and appends "run <seq>" to
//   runs.log     (fsync'd) each time it runs
//
// Two worker threads each enqueue (now or scheduled), lease, heartbeat, complete, fail (requeue or
// dead-letter), cancel (a task of its own, pending or leased), enqueue under shared idempotency
// keys or in a transaction with a row of their own table, and pause at random (pauses let
// leases expire); both sinks follow on their own threads.
#include "tests/chaos/mixed_files.hpp"
#include "tests/support/applied_log_sink.hpp"
#include "tests/support/run_logging_sink.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/replication.hpp>
#include <hugo/sinks.hpp>
#include <hugo/task_queue.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace hugo;
namespace files = hugo::chaos::mixed_files;

[[noreturn]] void die(const std::string& what) {
  std::printf("error %s\n", what.c_str());
  std::fflush(stdout);
  std::_Exit(3);
}

template <class T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) die(std::string(what) + ": " + r.error().to_string());
  return std::move(r).value();
}

// The fsync'd acknowledgement log, shared by the worker threads.
class AckLog {
 public:
  explicit AckLog(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ < 0) die("cannot open the acknowledgement log");
  }
  void acknowledge(const std::string& line) {
    std::lock_guard lock(mutex_);
    const std::string text = line + "\n";
    if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd_) != 0) {
      die("cannot write the acknowledgement log");
    }
    std::printf("ack\n");
    std::fflush(stdout);
  }

 private:
  int fd_;
  std::mutex mutex_;
};

std::string token_text(const OwnershipToken& t) {
  return std::to_string(t.task_id) + " " + std::to_string(t.attempt) + " " + std::to_string(t.lease_id);
}

// One worker: a random mix of every queue operation, acknowledging each one that succeeded.
void work(Journal& journal, TaskQueue& queue, AckLog& acks, unsigned seed, int worker) {
  std::mt19937 rng(seed);
  std::vector<OwnershipToken> held;
  std::vector<std::int64_t> mine;  // tasks this worker enqueued: cancel's candidates
  const std::string owner = "worker-" + std::to_string(worker);
  for (int counter = 0;; ++counter) {
    const unsigned r = rng() % 100;
    const std::size_t pick = held.empty() ? 0 : rng() % held.size();
    auto take = [&] {
      const OwnershipToken token = held[pick];
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(pick));
      return token;
    };
    if (r < 28) {
      // One enqueue in four is scheduled 1-50 ms ahead, and each gets a priority 0-3 (the parent
      // checks that none is leased early and that each lease took the best leasable task).
      EnqueueOptions options;
      if (rng() % 4 == 0) options.delay = std::chrono::milliseconds(1 + rng() % 50);
      options.priority = static_cast<std::int32_t>(rng() % 4);
      const std::string payload = owner + "-" + std::to_string(seed) + "-" + std::to_string(counter);
      if (rng() % 6 == 0) {
        // One enqueue in six commits with a row of the application's own table (Journal::
        // transaction): the parent checks that each such task has its row and each row its task.
        auto done = journal.transaction([&](Tx& tx) -> Status {
          HUGO_TRY(tx.execute(chaos::kOrdersTable));
          HUGO_TRY(tx.execute("INSERT INTO chaos_orders (payload) VALUES (?1)", {"tx-" + payload}));
          return queue.enqueue(tx, "tx-" + payload, options);
        });
        if (!done.ok()) die("transaction: " + done.error().to_string());
        acks.acknowledge("E " + std::to_string(done->task_ids.at(0)));
        mine.push_back(done->task_ids.at(0));
        continue;
      }
      if (rng() % 3 == 0) {
        // One enqueue in three is keyed, from eight keys shared by both workers: duplicates
        // happen, and the parent checks one live task per key.
        auto keyed = queue.enqueue_keyed("key-" + std::to_string(rng() % 8), payload, options);
        if (!keyed.ok()) die("enqueue_keyed: " + keyed.error().to_string());
        if (keyed->duplicate) continue;
        acks.acknowledge("E " + std::to_string(keyed->task_id));
        mine.push_back(keyed->task_id);
        continue;
      }
      auto id = queue.enqueue_with(payload, options);
      if (!id.ok()) die("enqueue: " + id.error().to_string());
      acks.acknowledge("E " + std::to_string(*id));
      mine.push_back(*id);
    } else if (r < 52) {
      auto lease = queue.lease(owner, Wait::none());
      if (lease.ok()) {
        held.push_back(lease->token);
        acks.acknowledge("L " + token_text(lease->token));
      } else if (lease.error().code() != errc::queue_timeout) {
        die("lease: " + lease.error().to_string());
      }
    } else if (r < 64 && !held.empty()) {
      auto beat = queue.heartbeat(held[pick]);
      if (beat.ok()) acks.acknowledge("H " + token_text(held[pick]));
      else take();  // expired under us: the sweeper got there first
    } else if (r < 80 && !held.empty()) {
      const OwnershipToken token = take();
      if (queue.complete(token).ok()) acks.acknowledge("C " + token_text(token));
    } else if (r < 88 && !held.empty()) {
      const OwnershipToken token = take();
      // One failure in three picks its own retry delay (fail_and_retry_after), the rest follow the
      // queue's retry policy or dead-letter.
      auto outcome = rng() % 3 == 0
                         ? queue.fail_and_retry_after(token, Error("app.chaos", "snoozed"),
                                                      std::chrono::milliseconds(rng() % 20))
                         : queue.fail(token, Error("app.chaos", "random failure"), rng() % 4 != 0);
      if (outcome.ok()) acks.acknowledge("F " + token_text(token) + (*outcome == FailOutcome::Requeued ? " R" : " D"));
    } else if (r < 92 && !mine.empty()) {
      // Cancel one of this worker's tasks: pending, scheduled or leased (by either worker, whose
      // next call on it is then fenced); one that already finished is refused.
      const std::size_t i = rng() % mine.size();
      const std::int64_t task = mine[i];
      mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(i));
      auto canceled = queue.cancel(task, "chaos");
      if (canceled.ok()) acks.acknowledge("X " + std::to_string(task));
      else if (canceled.error().code() != errc::validation) die("cancel: " + canceled.error().to_string());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % 40));  // let leases expire
    }
  }
}

int mixed(const std::filesystem::path& dir, unsigned seed) {
  JournalOptions journal_options;
  journal_options.durability = Durability::Fsync;
  std::shared_ptr<Journal> journal(must(Journal::open(dir / files::journal, journal_options), "journal").release());

  TaskQueueOptions options = chaos::mixed_queue_options();
  options.lease_duration = std::chrono::milliseconds(30);
  options.heartbeat_interval = Duration::zero();
  options.sweep_interval = std::chrono::milliseconds(5);
  options.run_sweeper = true;
  auto queue = must(TaskQueue::open(journal, options), "queue");

  // The transactional sink: every event exactly once in table `applied`.
  auto tx_db = must(SinkDatabase::open(dir / files::tx_sink), "tx sink");
  SinkOptions tx_options;
  tx_options.stream_id = std::string(files::tx_stream);
  test::AppliedLogSink tx_sink(tx_db, tx_options);
  auto tx_source = must(TaskQueueReplicationSource::attach(journal, 0), "tx source");

  // The coordinator-driven sink: at-least-once delivery, handlers run once per recorded effect.
  auto coord_db = must(SinkDatabase::open(dir / files::coord_sink), "coordinated sink");
  auto store = must(SqliteCheckpointStore::open(coord_db), "checkpoint store");
  std::shared_ptr<DeterministicEffectStore> effects(must(DeterministicEffectStore::open(dir / files::effects), "effects").release());
  const int run_log = ::open((dir / files::run_log).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (run_log < 0) die("cannot open the run log");
  SinkOptions coord_options;
  coord_options.stream_id = std::string(files::coord_stream);
  coord_options.checkpoint_every = 5;
  coord_options.checkpoint_interval = std::chrono::milliseconds(20);
  test::RunLoggingSink coord_sink(store, coord_options, effects, run_log);
  auto coord_source = must(TaskQueueReplicationSource::attach(journal, 0), "coordinated source");

  AckLog acks(dir / files::acks);
  std::mt19937 rng(seed);
  const std::size_t tx_batch = 1 + rng() % 16;
  const std::size_t coord_batch = 1 + rng() % 8;
  std::jthread tx_thread([&](std::stop_token stop) {
    if (Status s = run_sink(*tx_source, tx_sink, stop, tx_batch); !s.ok()) die("tx sink: " + s.error().to_string());
  });
  std::jthread coord_thread([&](std::stop_token stop) {
    if (Status s = run_sink(*coord_source, coord_sink, stop, coord_batch); !s.ok()) {
      die("coordinated sink: " + s.error().to_string());
    }
  });
  std::jthread second_worker([&, worker_seed = static_cast<unsigned>(rng())] { work(*journal, *queue, acks, worker_seed, 2); });
  work(*journal, *queue, acks, static_cast<unsigned>(rng()), 1);  // never returns: the parent kills us
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || std::string(argv[1]) != "mixed") {
    std::fprintf(stderr, "usage: %s mixed DIR SEED\n", argv[0]);
    return 2;
  }
  return mixed(argv[2], static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)));
}
