// Replication checkpoints: where a sink stands in each source journal.
//
// TaskQueueReplicationCheckpoint keeps Hugo's value semantics (docs/REPLICATION.md) — should_process,
// advance, per-peer positions with the "default" key and case-insensitive peer keys — with one
// fix: advancing never moves a position backwards (Hugo assigned the peer position).
// A checkpoint belongs to one (stream id, journal id) pair: a sink that merges several journals
// keeps one per journal, so a slower journal's events are never dropped as "already seen".
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>
#include <hugo/replication.hpp>
#include <hugo/sink_database.hpp>
#include <hugo/time.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hugo {

inline constexpr std::string_view kDefaultPeerKey = "default";

class HUGO_API TaskQueueReplicationCheckpoint {
 public:
  static TaskQueueReplicationCheckpoint empty(std::string stream_id, std::string journal_id = {});

  // True iff seq > max(global position, the peer's position).
  bool should_process(std::string_view peer, std::int64_t seq) const;
  // A copy with the peer's position and the global position raised to seq (never lowered).
  // The seq-only form forgets the fingerprint when the global position moves (the event is not known).
  TaskQueueReplicationCheckpoint advance(std::string_view peer, std::int64_t seq, Timestamp observed_at) const;
  // advance() to `event.seq`, recording event_fingerprint(event) when it becomes the global position.
  TaskQueueReplicationCheckpoint advance(std::string_view peer, const Event& event, Timestamp observed_at) const;
  std::optional<std::int64_t> peer_position(std::string_view peer) const;

  const std::string& stream_id() const { return stream_id_; }
  const std::string& journal_id() const { return journal_id_; }
  std::int64_t global_position() const { return global_; }
  Timestamp updated_at() const { return updated_at_; }
  const std::map<std::string, std::int64_t, CaseInsensitiveLess>& peer_positions() const { return peers_; }
  // event_fingerprint() of the event at global_position(); nullopt when not recorded (a checkpoint
  // written before fingerprints, or advanced by seq only).
  std::optional<std::uint64_t> last_fingerprint() const { return fingerprint_; }
  // What a source checks on resume (TaskQueueReplicationSource::resume): stream id, global
  // position, fingerprint.
  ReplicationAnchor anchor() const { return ReplicationAnchor{stream_id_, global_, fingerprint_}; }

  // Rebuilds a checkpoint read from storage.
  static TaskQueueReplicationCheckpoint restore(std::string stream_id, std::string journal_id, std::int64_t global,
                                                Timestamp updated_at,
                                                std::map<std::string, std::int64_t, CaseInsensitiveLess> peers,
                                                std::optional<std::uint64_t> last_fingerprint = std::nullopt);
  friend bool operator==(const TaskQueueReplicationCheckpoint&, const TaskQueueReplicationCheckpoint&) = default;

 private:
  std::string stream_id_;
  std::string journal_id_;
  std::int64_t global_ = 0;
  Timestamp updated_at_ = Timestamp::min();
  std::map<std::string, std::int64_t, CaseInsensitiveLess> peers_;
  std::optional<std::uint64_t> fingerprint_;
};

// Where checkpoints are kept.
class HUGO_API CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  virtual Result<std::optional<TaskQueueReplicationCheckpoint>> read(const std::string& stream_id,
                                                                     const std::string& journal_id) = 0;
  // Persists; positions already stored higher are kept (never moves backwards).
  virtual Status persist(const TaskQueueReplicationCheckpoint& checkpoint) = 0;
  virtual Result<std::vector<TaskQueueReplicationCheckpoint>> list() = 0;
};

// Checkpoints in the sink's own SQLite database (tables hugo_checkpoints, hugo_checkpoint_peers;
// docs/FORMAT.md, "Consumer fingerprints"). persist() joins the database's current transaction,
// which is what makes TransactionalSink exactly-once. open() adds the last_fingerprint column to a
// database written before it; a checkpoint read from such a row has no fingerprint.
class HUGO_API SqliteCheckpointStore final : public CheckpointStore {
 public:
  static Result<std::shared_ptr<SqliteCheckpointStore>> open(std::shared_ptr<SinkDatabase> db);
  // Opens a checkpoint database for reading only (the CLI): no tables are created.
  static Result<std::shared_ptr<SqliteCheckpointStore>> attach_existing(std::shared_ptr<SinkDatabase> db);
  Result<std::optional<TaskQueueReplicationCheckpoint>> read(const std::string& stream_id,
                                                             const std::string& journal_id) override;
  Status persist(const TaskQueueReplicationCheckpoint& checkpoint) override;
  // persist(), writing only the peers in `moved` (besides the global position): for a checkpoint
  // read in the current transaction of which only those peers advanced, the others' rows already
  // hold what it holds. TransactionalSink uses it to write one or two rows per batch, not one
  // per peer ever seen.
  Status persist_moved(const TaskQueueReplicationCheckpoint& checkpoint,
                       const std::set<std::string, CaseInsensitiveLess>& moved);
  Result<std::vector<TaskQueueReplicationCheckpoint>> list() override;
  // Deletes every checkpoint of the stream (for "reprocess from 0" scenarios and tests).
  Status reset(const std::string& stream_id);
  SinkDatabase& database() { return *db_; }

 private:
  explicit SqliteCheckpointStore(std::shared_ptr<SinkDatabase> db) : db_(std::move(db)) {}
  std::shared_ptr<SinkDatabase> db_;
  bool has_fingerprints_ = true;  // false: a read-only database from before the column
};

}  // namespace hugo
