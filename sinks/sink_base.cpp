// run_sink, CheckpointingTaskQueueReplicationSink and TransactionalSink.
#include <hugo/error_codes.hpp>
#include <hugo/sinks.hpp>

#include "core/fault_points.hpp"
#include "replay/replication_names.hpp"

#include <map>
#include <set>

namespace hugo {
namespace {

std::string owner_or_default(const Event& e) {
  if (e.owner_peer_id && !e.owner_peer_id->empty()) return *e.owner_peer_id;
  return std::string(kDefaultPeerKey);
}

std::string journal_of(const Event& e) { return e.journal_id.value_or(std::string()); }

void record_lag(const SinkOptions& options, const Event& e, const TaskQueueReplicationCheckpoint& cp, Timestamp now) {
  if (!options.metrics) return;
  const double wall_ms = std::chrono::duration<double, std::milli>(now - e.occurred_at).count();
  replication_names::record_lag(*options.metrics, e, e.seq - cp.global_position(), wall_ms);
}

// Whether a transactional sink takes `e`.
bool unseen(const TaskQueueReplicationCheckpoint& cp, const std::string& peer, const Event& e) {
#ifdef HUGO_FAULT_POINTS
  if (e.seq == cp.global_position() && fault_fires(FaultPoint::sink_retake_checkpoint)) return true;
#endif
  return cp.should_process(peer, e.seq);
}

Status validate(const SinkOptions& options) {
  if (options.stream_id.find_first_not_of(" \t") == std::string::npos) {
    return Error::validation("SinkOptions.stream_id must be non-blank").with("option", "stream_id");
  }
  if (options.checkpoint_every == 0) {
    return Error::validation("SinkOptions.checkpoint_every must be > 0").with("option", "checkpoint_every");
  }
  return ok_status();
}

}  // namespace

Result<ReplicationAnchor> ReplicationSink::resume_anchor(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t position, resume_position(journal_id));
  return ReplicationAnchor{"", position, std::nullopt};
}

Status run_sink(TaskQueueReplicationSource& source, ReplicationSink& sink, std::stop_token stop, std::size_t max_batch) {
  HUGO_ASSIGN_OR_RETURN(ReplicationAnchor anchor, sink.resume_anchor(source.journal_id()));
  HUGO_TRY(source.resume(anchor));
  Status status = source.pump([&](const std::vector<Event>& batch) { return sink.process(batch); }, stop, max_batch);
  Status flushed = sink.flush();
  if (!status.ok()) return status;
  return flushed;
}

// ---- CheckpointingTaskQueueReplicationSink ------------------------------------------------------

CheckpointingTaskQueueReplicationSink::CheckpointingTaskQueueReplicationSink(std::shared_ptr<CheckpointStore> store,
                                                                             SinkOptions options)
    : store_(std::move(store)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClock::shared();
  last_persist_ = options_.clock->now();
}

CheckpointingTaskQueueReplicationSink::~CheckpointingTaskQueueReplicationSink() = default;

std::string CheckpointingTaskQueueReplicationSink::resolve_peer_key(const Event& e) const { return owner_or_default(e); }

Result<TaskQueueReplicationCheckpoint*> CheckpointingTaskQueueReplicationSink::checkpoint_for(const std::string& journal_id) {
  auto it = checkpoints_.find(journal_id);
  if (it != checkpoints_.end()) return &it->second;
  HUGO_TRY(validate(options_));
  if (!store_) return Error::validation("the checkpoint store is null");
  HUGO_ASSIGN_OR_RETURN(auto stored, store_->read(options_.stream_id, journal_id));
  auto cp = stored ? std::move(*stored) : TaskQueueReplicationCheckpoint::empty(options_.stream_id, journal_id);
  return &checkpoints_.emplace(journal_id, std::move(cp)).first->second;
}

Result<TaskQueueReplicationCheckpoint> CheckpointingTaskQueueReplicationSink::checkpoint(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto* cp, checkpoint_for(journal_id));
  return *cp;
}

Result<std::int64_t> CheckpointingTaskQueueReplicationSink::resume_position(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto* cp, checkpoint_for(journal_id));
  return cp->global_position();
}

Result<ReplicationAnchor> CheckpointingTaskQueueReplicationSink::resume_anchor(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto* cp, checkpoint_for(journal_id));
  return cp->anchor();
}

Status CheckpointingTaskQueueReplicationSink::process(const std::vector<Event>& batch) {
  for (const Event& e : batch) {
    const std::string journal_id = journal_of(e);
    HUGO_ASSIGN_OR_RETURN(auto* cp, checkpoint_for(journal_id));
    const std::string peer = resolve_peer_key(e);
    if (!cp->should_process(peer, e.seq)) continue;
    const Timestamp now = options_.clock->now();
    record_lag(options_, e, *cp, now);
    if (Status applied = apply(e); !applied.ok()) {
      (void)flush();  // keep what was applied before the failure
      return Error(applied.error()).with("seq", std::to_string(e.seq)).with("stage", "sink.apply");
    }
    *cp = cp->advance(peer, e, now);
    dirty_[journal_id] = true;
    ++unpersisted_;
    if (unpersisted_ >= options_.checkpoint_every || now - last_persist_ >= options_.checkpoint_interval) {
      HUGO_TRY(flush());
    }
  }
  return ok_status();
}

Status CheckpointingTaskQueueReplicationSink::flush() {
  for (auto& [journal_id, dirty] : dirty_) {
    if (!dirty) continue;
    HUGO_TRY(store_->persist(checkpoints_.at(journal_id)));
    dirty = false;
  }
  unpersisted_ = 0;
  last_persist_ = options_.clock->now();
  return ok_status();
}

// ---- TransactionalSink ---------------------------------------------------------------------------

TransactionalSink::TransactionalSink(std::shared_ptr<SinkDatabase> db, SinkOptions options)
    : db_(std::move(db)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClock::shared();
}

std::string TransactionalSink::resolve_peer_key(const Event& e) const { return owner_or_default(e); }

Status TransactionalSink::ensure_initialized() {
  if (initialized_) return ok_status();
  HUGO_TRY(validate(options_));
  if (!db_) return Error::validation("the sink database is null");
  HUGO_ASSIGN_OR_RETURN(store_, SqliteCheckpointStore::open(db_));
  HUGO_TRY(db_->transaction([&] { return initialize(*db_); }));
  initialized_ = true;
  return ok_status();
}

Result<TaskQueueReplicationCheckpoint> TransactionalSink::checkpoint(const std::string& journal_id) {
  HUGO_TRY(ensure_initialized());
  HUGO_ASSIGN_OR_RETURN(auto stored, store_->read(options_.stream_id, journal_id));
  return stored ? std::move(*stored) : TaskQueueReplicationCheckpoint::empty(options_.stream_id, journal_id);
}

Result<std::int64_t> TransactionalSink::resume_position(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto cp, checkpoint(journal_id));
#ifdef HUGO_FAULT_POINTS
  if (cp.global_position() > 0 && fault_fires(FaultPoint::sink_resume_one_early)) return cp.global_position() - 1;
#endif
  return cp.global_position();
}

Result<ReplicationAnchor> TransactionalSink::resume_anchor(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto cp, checkpoint(journal_id));
#ifdef HUGO_FAULT_POINTS
  if (cp.global_position() > 0 && fault_fires(FaultPoint::sink_resume_one_early)) {
    return ReplicationAnchor{options_.stream_id, cp.global_position() - 1, std::nullopt};
  }
#endif
  return cp.anchor();
}

Status TransactionalSink::process(const std::vector<Event>& batch) {
  HUGO_TRY(ensure_initialized());
  return db_->transaction([&]() -> Status {
    // Checkpoints are read inside the transaction, so what is skipped and what is advanced is
    // decided against exactly the state this transaction commits on top of.
    struct Touched {
      TaskQueueReplicationCheckpoint checkpoint;
      std::set<std::string, CaseInsensitiveLess> moved;  // the peers this batch advanced
      const Event* last = nullptr;  // the last event applied (and its peer): its fingerprint goes
      std::string last_peer;        // with the checkpoint
    };
    std::map<std::string, Touched> touched;
    for (const Event& e : batch) {
      const std::string journal_id = journal_of(e);
      auto it = touched.find(journal_id);
      if (it == touched.end()) {
        HUGO_ASSIGN_OR_RETURN(auto cp, checkpoint(journal_id));
        it = touched.emplace(journal_id, Touched{std::move(cp), {}, nullptr, {}}).first;
      }
      TaskQueueReplicationCheckpoint& cp = it->second.checkpoint;
      std::string peer = resolve_peer_key(e);
      if (!unseen(cp, peer, e)) continue;
      const Timestamp now = options_.clock->now();
      record_lag(options_, e, cp, now);
      if (Status applied = apply(*db_, e); !applied.ok()) {
        return Error(applied.error()).with("seq", std::to_string(e.seq)).with("stage", "sink.apply");
      }
      cp = cp.advance(peer, e.seq, now);
      it->second.last = &e;
      it->second.last_peer = peer;
      it->second.moved.insert(std::move(peer));
    }
    for (auto& [journal_id, t] : touched) {
      if (t.moved.empty()) continue;
      // Fingerprinted once per batch: advancing again to the same event only records it.
      t.checkpoint = t.checkpoint.advance(t.last_peer, *t.last, t.checkpoint.updated_at());
      HUGO_TRY(store_->persist_moved(t.checkpoint, t.moved));
    }
    return ok_status();
  });
}

}  // namespace hugo
