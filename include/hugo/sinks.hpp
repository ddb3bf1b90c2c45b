// Replication sinks: consumers of a TaskQueueReplicationSource that remember, per source journal,
// how far they got.
//
//   CheckpointingTaskQueueReplicationSink  external side effects (HTTP calls, other systems):
//                                          at-least-once; the checkpoint is persisted after every
//                                          `checkpoint_every` events or `checkpoint_interval`.
//                                          Pair it with TaskQueueDeterministicCoordinator to make
//                                          the effects themselves run once.
//   TransactionalSink                      state in the sink's own SQLite database: apply() runs in
//                                          the transaction that also advances the checkpoint, so
//                                          every event is applied exactly once.
//   NdjsonFileSink, ProjectionSink         built-ins (exactly-once).
//
// run_sink() positions a source at the sink's checkpoint for that source's journal and pumps it.
// Each checkpoint keeps the fingerprint of the event at its position, so a resume against a journal
// that lost commits is replication.checkpoint_ahead, never a silent skip or a reused seq applied
// (docs/REPLICATION.md, "When the journal lost commits").
// A sink instance is driven by one thread at a time.
#pragma once

#include <hugo/checkpoint.hpp>
#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>
#include <hugo/metrics.hpp>
#include <hugo/replication.hpp>
#include <hugo/sink_database.hpp>
#include <hugo/time.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

namespace hugo {

struct SinkOptions {
  std::string stream_id;           // required: names this sink's checkpoints
  std::shared_ptr<Clock> clock;    // null: SystemClock; used for observed_at and lag
  std::shared_ptr<MetricsRegistry> metrics;  // sequence_lag / wall_clock_lag histograms
  // Checkpointing (at-least-once) sinks only: persist after this many applied events or this
  // much time, whichever comes first, and always on flush().
  std::size_t checkpoint_every = 64;
  Duration checkpoint_interval = std::chrono::milliseconds(100);
};

class HUGO_API ReplicationSink {
 public:
  virtual ~ReplicationSink() = default;
  // Applies the events of `batch` not yet seen, in order.
  virtual Status process(const std::vector<Event>& batch) = 0;
  // The seq a source of `journal_id` should start after.
  virtual Result<std::int64_t> resume_position(const std::string& journal_id) = 0;
  // That seq with the fingerprint of the event applied there, for TaskQueueReplicationSource::
  // resume(). The default has no fingerprint (only a journal that ends before it is detected).
  virtual Result<ReplicationAnchor> resume_anchor(const std::string& journal_id);
  virtual Status flush() { return ok_status(); }
};

// Resumes `source` at the sink's anchor for the source's journal (replication.checkpoint_ahead if
// the journal no longer holds it; nothing is applied then), then feeds it batches until `stop` is
// requested (returns ok) or a step fails (returns that error after flushing).
HUGO_API Status run_sink(TaskQueueReplicationSource& source, ReplicationSink& sink, std::stop_token stop,
                         std::size_t max_batch = 512);

// Base class for sinks with external side effects.
class HUGO_API CheckpointingTaskQueueReplicationSink : public ReplicationSink {
 public:
  CheckpointingTaskQueueReplicationSink(std::shared_ptr<CheckpointStore> store, SinkOptions options);
  ~CheckpointingTaskQueueReplicationSink() override;

  Status process(const std::vector<Event>& batch) override;
  Result<std::int64_t> resume_position(const std::string& journal_id) override;
  Result<ReplicationAnchor> resume_anchor(const std::string& journal_id) override;
  Status flush() override;  // persists every checkpoint that moved
  Result<TaskQueueReplicationCheckpoint> checkpoint(const std::string& journal_id);

 protected:
  // Applies one event. An error stops process(): events applied before it are checkpointed on
  // the next flush; this one is redelivered.
  virtual Status apply(const Event& event) = 0;
  // Hugo's default: the owner peer id if non-blank, else "default".
  virtual std::string resolve_peer_key(const Event& event) const;

 private:
  Result<TaskQueueReplicationCheckpoint*> checkpoint_for(const std::string& journal_id);
  std::shared_ptr<CheckpointStore> store_;
  SinkOptions options_;
  std::map<std::string, TaskQueueReplicationCheckpoint> checkpoints_;
  std::map<std::string, bool> dirty_;
  std::size_t unpersisted_ = 0;
  Timestamp last_persist_{};
};

// Base class for sinks whose state lives in their SinkDatabase.
class HUGO_API TransactionalSink : public ReplicationSink {
 public:
  TransactionalSink(std::shared_ptr<SinkDatabase> db, SinkOptions options);

  // One transaction per batch: apply() of every unseen event plus the checkpoint advance. On
  // failure nothing of the batch is kept (state and checkpoint roll back together).
  Status process(const std::vector<Event>& batch) override;
  Result<std::int64_t> resume_position(const std::string& journal_id) override;
  Result<ReplicationAnchor> resume_anchor(const std::string& journal_id) override;
  Result<TaskQueueReplicationCheckpoint> checkpoint(const std::string& journal_id);
  SinkDatabase& database() { return *db_; }

 protected:
  // Creates the sink's tables; called once, before the first batch.
  virtual Status initialize(SinkDatabase& db) = 0;
  virtual Status apply(SinkDatabase& db, const Event& event) = 0;
  virtual std::string resolve_peer_key(const Event& event) const;

 private:
  Status ensure_initialized();
  std::shared_ptr<SinkDatabase> db_;
  std::shared_ptr<SqliteCheckpointStore> store_;
  SinkOptions options_;
  bool initialized_ = false;
};

// Appends every event as one NDJSON line (Hugo's JSON layout) to a file. Exactly-once: the file
// size is recorded with the checkpoint, and opening truncates lines written after it.
class HUGO_API NdjsonFileSink final : public ReplicationSink {
 public:
  static Result<std::unique_ptr<NdjsonFileSink>> open(const std::filesystem::path& file, std::shared_ptr<SinkDatabase> db,
                                                      SinkOptions options);
  ~NdjsonFileSink() override;
  Status process(const std::vector<Event>& batch) override;
  Result<std::int64_t> resume_position(const std::string& journal_id) override;
  Result<ReplicationAnchor> resume_anchor(const std::string& journal_id) override;

 private:
  NdjsonFileSink() = default;
  // Writes `lines` at byte `start`, fsyncs, then records the new size with the checkpoints.
  Status append(const std::string& lines, const std::map<std::string, TaskQueueReplicationCheckpoint>& touched,
                std::int64_t start);
  std::filesystem::path file_;
  int fd_ = -1;
  std::shared_ptr<SinkDatabase> db_;
  std::shared_ptr<SqliteCheckpointStore> store_;
  SinkOptions options_;
};

// Maintains table hugo_projection: the live state of every task, exactly-once.
//   journal_id, queue, task_id (key) | state (pending, leased, completed, dead, drained)
//   attempt, owner, lease_id, lease_expires_us, last_error_code, updated_seq
class HUGO_API ProjectionSink final : public TransactionalSink {
 public:
  ProjectionSink(std::shared_ptr<SinkDatabase> db, SinkOptions options);

 protected:
  Status initialize(SinkDatabase& db) override;
  Status apply(SinkDatabase& db, const Event& event) override;
};

}  // namespace hugo
