#include "tests/support/child_verbs.hpp"

#include "tests/support/applied_log_sink.hpp"
#include "tests/support/run_logging_sink.hpp"

#include <hugo/coordinator.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/replication.hpp>
#include <hugo/sinks.hpp>
#include <hugo/task_queue.hpp>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace hugo::test {
namespace {

int fail(const Error& error) {
  std::printf("error %s\n", error.to_string().c_str());
  std::fflush(stdout);
  return 3;
}

struct Workload {
  std::shared_ptr<Journal> journal;
  std::unique_ptr<TaskQueue> queue;
};

Result<Workload> open_workload(const std::string& path) {
  JournalOptions options;
  options.durability = Durability::Fsync;
  HUGO_ASSIGN_OR_RETURN(auto journal, Journal::open(path, options));
  Workload w;
  w.journal = std::shared_ptr<Journal>(journal.release());
  TaskQueueOptions q;
  q.name = "replicated";
  q.capacity = 1'000'000;
  q.run_sweeper = false;
  HUGO_ASSIGN_OR_RETURN(w.queue, TaskQueue::open(w.journal, q));
  return w;
}

// Random enqueue / lease / complete / fail until killed; prints "tick" after each operation.
int drive(TaskQueue& queue, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<OwnershipToken> held;
  for (int i = 0;; ++i) {
    const unsigned r = rng() % 10;
    if (r < 4 || held.empty()) {
      auto id = queue.enqueue("item-" + std::to_string(seed) + "-" + std::to_string(i));
      if (!id.ok()) return fail(id.error());
      auto lease = queue.lease("child", Wait::none());
      if (lease.ok()) held.push_back(lease->token);
    } else {
      const auto token = held.back();
      held.pop_back();
      if (r < 8) {
        Status done = queue.complete(token);
        if (!done.ok()) return fail(done.error());
      } else {
        auto failed = queue.fail(token, Error("app.e", "x"));
        if (!failed.ok()) return fail(failed.error());
      }
    }
    std::printf("tick\n");
    std::fflush(stdout);
  }
}

// drive() on the workload while a background thread applies its journal into `sink`, `batch`
// events at a time, from the start. Runs until killed.
int drive_followed(Workload& w, ReplicationSink& sink, std::size_t batch, unsigned seed) {
  auto source = TaskQueueReplicationSource::attach(w.journal, 0);
  if (!source.ok()) return fail(source.error());
  std::jthread follower([&](std::stop_token stop) {
    Status s = run_sink(**source, sink, stop, batch);
    if (!s.ok()) std::printf("error %s\n", s.error().to_string().c_str());
  });
  return drive(*w.queue, seed);
}

// What a coordinator child's RunLoggingSink stands on: the checkpoint store in the sink database,
// the effect store, and the run log opened for appending (-1 if it could not be).
struct Coordinated {
  std::shared_ptr<SqliteCheckpointStore> store;
  std::shared_ptr<DeterministicEffectStore> effects;
  int log = -1;
};

Result<Coordinated> open_coordinated(const std::string& sink_db, const std::string& effects_db,
                                     const std::string& run_log) {
  HUGO_ASSIGN_OR_RETURN(auto db, SinkDatabase::open(sink_db));
  Coordinated c;
  HUGO_ASSIGN_OR_RETURN(c.store, SqliteCheckpointStore::open(db));
  HUGO_ASSIGN_OR_RETURN(auto effects, DeterministicEffectStore::open(effects_db));
  c.effects = std::shared_ptr<DeterministicEffectStore>(effects.release());
  c.log = ::open(run_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  return c;
}

}  // namespace

int sink_workload(const std::string& journal, const std::string& sink_db, unsigned seed) {
  auto w = open_workload(journal);
  if (!w.ok()) return fail(w.error());
  auto db = SinkDatabase::open(sink_db);
  if (!db.ok()) return fail(db.error());
  SinkOptions options;
  options.stream_id = "crash-sink";
  AppliedLogSink sink(*db, options);
  return drive_followed(*w, sink, 16, seed);
}

int coordinator_replay(const std::string& journal, const std::string& sink_db, const std::string& effects_db,
                       const std::string& run_log) {
  auto c = open_coordinated(sink_db, effects_db, run_log);
  if (!c.ok()) return fail(c.error());
  if (c->log < 0) return 4;
  if (Status reset = c->store->reset("crash-coordinated"); !reset.ok()) return fail(reset.error());
  SinkOptions options;
  options.stream_id = "crash-coordinated";
  RunLoggingSink sink(c->store, options, c->effects, c->log);
  auto source = TaskQueueReplicationSource::open(journal, 0);
  if (!source.ok()) return fail(source.error());
  while (true) {
    auto batch = (*source)->next(256);
    if (!batch.ok()) return fail(batch.error());
    if (batch->empty()) break;
    if (Status s = sink.process(*batch); !s.ok()) return fail(s.error());
  }
  if (Status s = sink.flush(); !s.ok()) return fail(s.error());
  std::printf("replayed %lld\n", static_cast<long long>((*source)->position()));
  return 0;
}

int coordinator_workload(const std::string& journal, const std::string& sink_db, const std::string& effects_db,
                         const std::string& run_log, unsigned seed) {
  auto w = open_workload(journal);
  if (!w.ok()) return fail(w.error());
  auto c = open_coordinated(sink_db, effects_db, run_log);
  if (!c.ok()) return fail(c.error());
  if (c->log < 0) return 4;
  SinkOptions options;
  options.stream_id = "crash-coordinated";
  options.checkpoint_every = 7;
  options.checkpoint_interval = std::chrono::hours(1);
  RunLoggingSink sink(c->store, options, c->effects, c->log);
  return drive_followed(*w, sink, 5, seed);
}

}  // namespace hugo::test
