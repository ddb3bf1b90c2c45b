// Migration sample: OmniRelay's SqliteResourceLeaseReplicator + InMemoryResourceLeaseReplicator +
// CheckpointingResourceLeaseReplicationSink, and Hugo's TaskQueueReplicationSource +
// CheckpointingTaskQueueReplicationSink, become: a TaskQueue on a Journal (the journal *is* the
// durable, sequenced replication log) and a TransactionalSink that tails it by checkpoint.
#include <hugo/replication.hpp>
#include <hugo/sinks.hpp>
#include <hugo/task_queue.hpp>

#include "sample_support.hpp"

using sample::must;

// Replaces an IResourceLeaseReplicationSink that wrote to a database: apply() runs in the same
// SQLite transaction that advances the checkpoint, so each event lands exactly once.
class LeaseAuditSink final : public hugo::TransactionalSink {
 public:
  using TransactionalSink::TransactionalSink;

 protected:
  hugo::Status initialize(hugo::SinkDatabase& db) override {
    return db.execute_script("CREATE TABLE IF NOT EXISTS lease_audit (seq INTEGER PRIMARY KEY, kind TEXT, task INTEGER)");
  }
  hugo::Status apply(hugo::SinkDatabase& db, const hugo::Event& e) override {
    return db.execute("INSERT INTO lease_audit (seq, kind, task) VALUES (?1, ?2, ?3)",
                      {e.seq, std::string(hugo::to_string(e.kind)), e.task_id});
  }
};

int main() {
  sample::Scratch dir;
  // The writer side: every queue mutation is appended to the journal before it is visible.
  auto journal = std::shared_ptr<hugo::Journal>(must(hugo::Journal::open(dir.path / "leases.journal")).release());
  hugo::TaskQueueOptions options;
  options.name = "resourcelease";
  auto queue = must(hugo::TaskQueue::open(journal, options));
  must(queue->enqueue(R"({"resourceId":"db-7"})", {}, hugo::PayloadFormat::Json));
  auto lease = must(queue->lease("peer-a", hugo::Wait::none()));
  must(queue->complete(lease.token));

  // The replica side: a source from the sink's checkpoint (0 the first time: backfill).
  auto db = must(hugo::SinkDatabase::open(dir.path / "audit.db"));
  hugo::SinkOptions sink_options;
  sink_options.stream_id = "lease-audit";
  LeaseAuditSink sink(db, sink_options);
  auto source = must(hugo::TaskQueueReplicationSource::attach(journal, must(sink.resume_position(journal->journal_id()))));
  must(sink.process(must(source->next(100))));

  const auto rows = must(db->query("SELECT count(*) FROM lease_audit"));
  std::printf("replicated %lld events exactly once\n", static_cast<long long>(hugo::sql_int(rows[0][0])));
  return hugo::sql_int(rows[0][0]) == 3 ? 0 : 1;
}
