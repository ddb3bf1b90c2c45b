// Demo part 3: replication that survives a crash.
//
// A queue's journal is followed by two sinks in a separate process: a transactional projection
// (exactly-once table of task states) and an "external" notifier whose side effect runs through
// the deterministic coordinator. The sink process is SIGKILLed mid-stream; the restart resumes
// each sink from its own checkpoint, and the notifier's redelivered events return their recorded
// outcome without running the effect again.
#include "child_process.hpp"
#include "demo.hpp"

#include <hugo/hugo.hpp>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

namespace demo {
namespace {

int fail(const hugo::Error& error) {
  std::fprintf(stderr, "demo: %s\n", error.to_string().c_str());
  return 1;
}

// The "external system": sends a notification per completed task, once.
class Notifier final : public hugo::CheckpointingTaskQueueReplicationSink {
 public:
  Notifier(std::shared_ptr<hugo::CheckpointStore> store, hugo::SinkOptions options,
           std::shared_ptr<hugo::DeterministicEffectStore> effects)
      : CheckpointingTaskQueueReplicationSink(std::move(store), std::move(options)), coordinator_(std::move(effects)) {}
  int effects_run = 0;
  int replays = 0;

 protected:
  hugo::Status apply(const hugo::Event& e) override {
    if (e.kind != hugo::EventKind::Completed) return hugo::ok_status();
    bool ran = false;
    auto receipt = coordinator_.execute<std::string>(e, [&](const hugo::Event& event) -> hugo::Result<std::string> {
      ran = true;
      return "notified customer of " + *event.payload;
    });
    if (!receipt.ok()) return std::move(receipt).error();
    if (ran) {
      ++effects_run;
      std::printf("effect   seq %lld: %s\n", static_cast<long long>(e.seq), receipt->c_str());
    } else {
      ++replays;
      std::printf("replayed seq %lld: recorded outcome \"%s\" returned, effect not run again\n",
                  static_cast<long long>(e.seq), receipt->c_str());
    }
    std::fflush(stdout);
    return hugo::ok_status();
  }

 private:
  hugo::TaskQueueDeterministicCoordinator coordinator_;
};

struct Sinks {
  std::shared_ptr<hugo::SinkDatabase> db;
  std::unique_ptr<hugo::ProjectionSink> projection;
  std::unique_ptr<Notifier> notifier;
};

hugo::Result<Sinks> open_sinks(const std::filesystem::path& dir) {
  Sinks s;
  HUGO_ASSIGN_OR_RETURN(s.db, hugo::SinkDatabase::open(dir / "sinks.db"));
  HUGO_ASSIGN_OR_RETURN(auto effects, hugo::DeterministicEffectStore::open(dir / "effects.db"));
  HUGO_ASSIGN_OR_RETURN(auto checkpoints, hugo::SqliteCheckpointStore::open(s.db));
  hugo::SinkOptions projection_options;
  projection_options.stream_id = "projection";
  s.projection = std::make_unique<hugo::ProjectionSink>(s.db, projection_options);
  hugo::SinkOptions notifier_options;
  notifier_options.stream_id = "notifier";
  notifier_options.checkpoint_every = 4;  // persisted every 4 events: a crash redelivers up to 3
  notifier_options.checkpoint_interval = std::chrono::hours(1);
  s.notifier = std::make_unique<Notifier>(checkpoints, notifier_options,
                                          std::shared_ptr<hugo::DeterministicEffectStore>(effects.release()));
  return s;
}

// Feeds both sinks, each from its own checkpoint, `batch` events at a time, until caught up.
hugo::Status follow(const std::filesystem::path& journal, Sinks& s, std::size_t batch) {
  for (hugo::ReplicationSink* sink : {static_cast<hugo::ReplicationSink*>(s.projection.get()),
                                      static_cast<hugo::ReplicationSink*>(s.notifier.get())}) {
    HUGO_ASSIGN_OR_RETURN(auto source, hugo::TaskQueueReplicationSource::open(journal, 0));
    HUGO_ASSIGN_OR_RETURN(std::int64_t position, sink->resume_position(source->journal_id()));
    source->seek(position);
    while (true) {
      HUGO_ASSIGN_OR_RETURN(auto events, source->next(batch));
      if (events.empty()) break;
      HUGO_TRY(sink->process(events));
    }
    HUGO_TRY(sink->flush());
  }
  return hugo::ok_status();
}

}  // namespace

int replication_sink_process(const std::string& journal, const std::string& dir) {
  auto sinks = open_sinks(dir);
  if (!sinks.ok()) return fail(sinks.error());
  // Small batches, so the parent can kill us in the middle of the stream.
  auto projection_source = hugo::TaskQueueReplicationSource::open(journal, 0);
  if (!projection_source.ok()) return fail(projection_source.error());
  auto notifier_source = hugo::TaskQueueReplicationSource::open(journal, 0);
  if (!notifier_source.ok()) return fail(notifier_source.error());
  for (auto& [source, sink] : {std::pair{projection_source->get(), static_cast<hugo::ReplicationSink*>(sinks->projection.get())},
                               std::pair{notifier_source->get(), static_cast<hugo::ReplicationSink*>(sinks->notifier.get())}}) {
    auto position = sink->resume_position(source->journal_id());
    if (!position.ok()) return fail(position.error());
    source->seek(*position);
  }
  while (true) {
    auto p = (*projection_source)->next(3);
    if (!p.ok()) return fail(p.error());
    if (!p->empty()) {
      if (auto s = sinks->projection->process(*p); !s.ok()) return fail(s.error());
    }
    auto n = (*notifier_source)->next(3, std::chrono::milliseconds(100));
    if (!n.ok()) return fail(n.error());
    if (!n->empty()) {
      if (auto s = sinks->notifier->process(*n); !s.ok()) return fail(s.error());
    }
  }
}

int replication_part(const std::filesystem::path& dir, const std::string& self) {
  const std::string journal_path = (dir / "part3.journal").string();
  std::printf("== part 3: sinks that survive a crash ==\njournal: %s\n\n", journal_path.c_str());
  {
    auto journal = hugo::Journal::open(journal_path, {});
    if (!journal.ok()) return fail(journal.error());
    std::shared_ptr<hugo::Journal> shared(std::move(journal).value().release());
    hugo::TaskQueueOptions options;
    options.name = "orders";
    auto queue = hugo::TaskQueue::open(shared, options);
    if (!queue.ok()) return fail(queue.error());
    for (int i = 1; i <= 8; ++i) {
      if (auto id = (*queue)->enqueue("order-" + std::to_string(i)); !id.ok()) return fail(id.error());
      auto lease = (*queue)->lease("worker", hugo::Wait::none());
      if (!lease.ok()) return fail(lease.error());
      if (auto done = (*queue)->complete(lease->token); !done.ok()) return fail(done.error());
    }
    std::printf("1. 8 orders processed: %lld journal rows\n", static_cast<long long>(shared->durable_seq()));
  }

  std::printf("2. a sink process follows the journal with a projection and a notifier:\n");
  ChildProcess sink_process(self, {"--sink", journal_path, dir.string()});
  if (sink_process.pid() == 0) return 1;
  char buffer[512];
  int effects_seen = 0;
  while (effects_seen < 5 && sink_process.read_line(buffer, sizeof(buffer))) {
    std::printf("   | %s", buffer);
    if (std::strncmp(buffer, "effect", 6) == 0) ++effects_seen;
  }
  sink_process.kill_hard();
  std::printf("3. SIGKILL sent to the sink process after %d notifications\n\n", effects_seen);

  auto sinks = open_sinks(dir);
  if (!sinks.ok()) return fail(sinks.error());
  auto reader = hugo::JournalReader::open(journal_path);
  if (!reader.ok()) return fail(reader.error());
  const std::string id = (*reader)->journal_id();
  std::printf("4. restart: the projection resumes after seq %lld, the notifier after seq %lld\n",
              static_cast<long long>(sinks->projection->resume_position(id).value_or(-1)),
              static_cast<long long>(sinks->notifier->resume_position(id).value_or(-1)));
  if (auto s = follow(journal_path, *sinks, 64); !s.ok()) return fail(s.error());
  std::printf("   notifier after the restart: %d effects run, %d redelivered events answered from the record\n",
              sinks->notifier->effects_run, sinks->notifier->replays);

  auto effects = hugo::DeterministicEffectStore::open(dir / "effects.db");
  if (!effects.ok()) return fail(effects.error());
  auto records = (*effects)->list();
  if (!records.ok()) return fail(records.error());
  auto states = sinks->db->query("SELECT state, count(*) FROM hugo_projection GROUP BY state");
  if (!states.ok()) return fail(states.error());
  std::printf("5. final: %zu notifications recorded for 8 completed orders (each exactly once); projection:",
              records->size());
  for (const auto& row : *states) {
    std::printf(" %s=%lld", hugo::sql_text(row[0]).c_str(), static_cast<long long>(hugo::sql_int(row[1])));
  }
  std::printf("\n\n");
  return records->size() == 8 ? 0 : 1;
}

}  // namespace demo
