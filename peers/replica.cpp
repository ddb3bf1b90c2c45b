// Replica storage, the rolling hash and promotion (docs/PEERS.md).
#include "peers/replica.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/jetstream.hpp>
#include <hugo/replication.hpp>

#include "schema/wal_files.hpp"
#include "schema/schema.hpp"

#include <charconv>
#include <utility>

namespace hugo {


namespace replica {
namespace {

std::uint64_t parse_hash(std::string_view text) {
  std::uint64_t value = kEmptyHistoryHash;
  if (text.empty()) return value;
  std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return value;
}

Error not_a_replica(const std::filesystem::path& path) {
  return Error::validation(path.string() + " is a journal with its own history, not a replica (follow into a new file)")
      .with("path", path.string());
}

}  // namespace

std::optional<std::int64_t> epoch_start(std::string_view history, std::int64_t epoch) {
  while (!history.empty()) {
    const std::size_t comma = history.find(',');
    const std::string_view entry = history.substr(0, comma);
    const std::size_t colon = entry.find(':');
    if (colon != std::string_view::npos) {
      std::int64_t e = 0;
      std::int64_t seq = 0;
      std::from_chars(entry.data(), entry.data() + colon, e);
      std::from_chars(entry.data() + colon + 1, entry.data() + entry.size(), seq);
      if (e == epoch) return seq;
    }
    if (comma == std::string_view::npos) break;
    history.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

Error diverged(std::string why, const ReplicaPosition& position) {
  return Error::replication_diverged("refusing to follow: " + why +
                   " (the replica is a history this owner does not share; rebuild it from a fresh file)")
      .with("journal_id", position.journal_id)
      .with("replica_epoch", std::to_string(position.epoch))
      .with("replica_seq", std::to_string(position.seq))
      .with("replica_hash", format_hash(position.hash));
}

Error owner_lost_commits(const ReplicaPosition& position, const std::string& replica, std::int64_t owner_last_seq,
                         std::string_view reason) {
  return checkpoint_ahead(ReplicationAnchor{replica, position.seq, std::nullopt}, position.journal_id, owner_last_seq,
                          reason)
      .with("replica_epoch", std::to_string(position.epoch))
      .with("replica_hash", format_hash(position.hash));
}

Status check_lineage(const ReplicaPosition& position, const OwnerIdentity& owner, const std::string& replica) {
  if (position.journal_id.empty()) return ok_status();  // a fresh replica follows anyone
  if (owner.journal_id != position.journal_id) {
    return diverged("the owner serves journal " + owner.journal_id + ", the replica is of " + position.journal_id,
                    position);
  }
  if (owner.epoch < position.epoch) {
    return diverged("the owner is in epoch " + std::to_string(owner.epoch) + ", older than the replica's epoch " +
                        std::to_string(position.epoch) + " (a stale owner after a failover?)",
                    position);
  }
  if (owner.last_seq < position.seq && owner.epoch == position.epoch) {
    return owner_lost_commits(position, replica, owner.last_seq, "behind");
  }
  if (owner.last_seq < position.seq) {
    return diverged("the owner's last seq " + std::to_string(owner.last_seq) + " is behind the replica's " +
                        std::to_string(position.seq) + " (was the owner restored from an old backup?)",
                    position);
  }
  if (owner.epoch > position.epoch) {
    const auto start = epoch_start(owner.epoch_history, position.epoch + 1);
    if (!start) {
      return diverged("the owner's epoch history '" + owner.epoch_history + "' does not say where epoch " +
                          std::to_string(position.epoch + 1) + " began",
                      position);
    }
    if (position.seq > *start) {
      return diverged("epoch " + std::to_string(position.epoch + 1) + " began after seq " + std::to_string(*start) +
                          " but the replica holds events up to " + std::to_string(position.seq) +
                          " from the previous owner",
                      position);
    }
  }
  return ok_status();
}

ReplicaPosition position_of(const rows::Meta& meta) {
  ReplicaPosition p;
  p.journal_id = meta.journal_id;
  p.epoch = meta.epoch;
  p.epoch_history = meta.epoch_history;
  p.seq = meta.replica_seq;
  p.hash = parse_hash(meta.replica_hash);
  return p;
}

Result<std::optional<StreamPoint>> load_stream_point(sql::Db& db) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt get,
                        db.prepare("SELECT key, value FROM meta WHERE key IN ('replica_stream', 'replica_stream_seq')"));
  StreamPoint point;
  bool named = false;
  while (true) {
    HUGO_ASSIGN_OR_RETURN(bool row, get.step());
    if (!row) break;
    if (get.column_text(0) == "replica_stream") {
      point.stream = std::string(get.column_text(1));
      named = true;
    } else {
      point.stream_seq = static_cast<std::uint64_t>(get.column_int(1));
    }
  }
  if (!named) return std::optional<StreamPoint>();
  return std::optional<StreamPoint>(std::move(point));
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  std::unique_ptr<Store> owned(new Store());
  Store& store = *owned;
  store.path_ = path;
  store.busy_timeout_ = busy_timeout;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    HUGO_ASSIGN_OR_RETURN(store.lock_, WriterLock::acquire(path));
  } else {
    HUGO_ASSIGN_OR_RETURN(auto staged, staged::StagedFile::begin(path, "follow"));
    store.staging_.emplace(std::move(staged));
  }
  HUGO_TRY(store.connect());
  HUGO_ASSIGN_OR_RETURN(std::int64_t has_id, store.db_.query_int("SELECT count(*) FROM meta WHERE key = 'journal_id'"));
  if (has_id != 0) HUGO_TRY(store.load());
  return owned;
}

Status Store::connect() {
  HUGO_TRY(wal_files::check_wal_not_truncated(file()));
  HUGO_ASSIGN_OR_RETURN(db_, sql::Db::open(file(), sql::OpenMode::ReadWriteCreate, busy_timeout_));
  HUGO_TRY(db_.exec("PRAGMA journal_mode = WAL"));
  HUGO_TRY(db_.exec(synchronous_pragma(Durability::Process)));
  {
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(db_, true));
    HUGO_TRY(schema::migrate(db_));
    HUGO_TRY(txn.commit());
  }
  HUGO_ASSIGN_OR_RETURN(const std::int64_t page_size, db_.query_int("PRAGMA page_size"));
  WalCheckpointOptions checkpoints;
  checkpoints.durability = Durability::Process;
  checkpoints.busy_timeout = busy_timeout_;
  checkpointer_ = std::make_unique<WalCheckpointer>(db_, page_size, std::move(checkpoints));
  shm_opened_as_ = wal_files::shm_identity(file()).value_or(FileIdentity{});
  return ok_status();
}

// Renames a new replica into place, holding path_'s lock from before the file appears there, and
// reopens it at path_.
Status Store::publish() {
  inserter_.reset();
  checkpointer_.reset();
  HUGO_ASSIGN_OR_RETURN(lock_, WriterLock::acquire(path_));
  if (Status published = staging_->publish(std::exchange(db_, sql::Db())); !published.ok()) {
    lock_.release();
    return published;
  }
  staging_.reset();
  return connect();
}

Status Store::load() {
  HUGO_ASSIGN_OR_RETURN(rows::Meta meta, rows::load_meta(db_, schema::kCurrentVersion));
  if (meta.role != "replica") return not_a_replica(path_);
  HUGO_ASSIGN_OR_RETURN(auto inserter, rows::EventInserter::create(db_, meta));
  inserter_.emplace(std::move(inserter));
  position_ = position_of(meta);
  HUGO_ASSIGN_OR_RETURN(stream_, load_stream_point(db_));
  meta_ = std::move(meta);
  return ok_status();
}

Status Store::adopt(const OwnerIdentity& owner) {
  HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(db_, true));
  if (fresh()) {
    HUGO_TRY(rows::init_meta(db_, SystemClock().now(), owner.journal_id));
    HUGO_TRY(rows::put_meta(db_, "role", "replica"));
    HUGO_TRY(rows::record_durability(db_, "process"));
  }
  HUGO_TRY(rows::put_meta(db_, "epoch", owner.epoch));
  HUGO_TRY(rows::put_meta(db_, "epoch_history", owner.epoch_history));
  HUGO_TRY(txn.commit());
  if (staging_) HUGO_TRY(publish());
  return load();
}

Status Store::apply(const std::vector<Event>& events, std::uint64_t hash_after,
                    const std::optional<StreamPoint>& stream) {
  if (events.empty()) return ok_status();
  HUGO_TRY(wal_files::check_shm_unchanged(file(), shm_opened_as_, meta_ ? meta_->journal_id : std::string(),
                                          "follower"));
  HUGO_TRY(inserter_->insert_all(events, [&]() -> Status {
    HUGO_TRY(rows::put_meta(db_, "replica_seq", events.back().seq));
    HUGO_TRY(rows::put_meta(db_, "replica_hash", format_hash(hash_after)));
    if (stream) {
      HUGO_TRY(rows::put_meta(db_, "replica_stream", stream->stream));
      return rows::put_meta(db_, "replica_stream_seq", static_cast<std::int64_t>(stream->stream_seq));
    }
    if (stream_) return db_.exec("DELETE FROM meta WHERE key IN ('replica_stream', 'replica_stream_seq')");
    return ok_status();
  }));
  position_.seq = events.back().seq;
  position_.hash = hash_after;
  stream_ = stream;
  return ok_status();
}

}  // namespace replica

namespace {

struct ReadOnlyReplica {
  sql::Db db;
  rows::Meta meta;
};

// A read-only connection to a replica and its meta, without its lock.
Result<ReadOnlyReplica> open_read_only(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  HUGO_TRY(rows::check_journal_file(path, busy_timeout));
  ReadOnlyReplica r;
  HUGO_ASSIGN_OR_RETURN(r.db, sql::Db::open(path, sql::OpenMode::ReadOnly, busy_timeout));
  HUGO_ASSIGN_OR_RETURN(int version, schema::check_readable(r.db));
  HUGO_ASSIGN_OR_RETURN(r.meta, rows::load_meta(r.db, version));
  if (r.meta.role != "replica") return replica::not_a_replica(path);
  return r;
}

}  // namespace

Result<ReplicaPosition> read_replica_position(const std::filesystem::path& path,
                                              std::chrono::milliseconds busy_timeout) {
  HUGO_ASSIGN_OR_RETURN(ReadOnlyReplica r, open_read_only(path, busy_timeout));
  return replica::position_of(r.meta);
}

Result<std::optional<JetStreamPosition>> read_stream_replica_position(const std::filesystem::path& path,
                                                                     std::chrono::milliseconds busy_timeout) {
  HUGO_ASSIGN_OR_RETURN(ReadOnlyReplica r, open_read_only(path, busy_timeout));
  HUGO_ASSIGN_OR_RETURN(auto point, replica::load_stream_point(r.db));
  if (!point) return std::optional<JetStreamPosition>();
  return std::optional<JetStreamPosition>(
      JetStreamPosition{point->stream, r.meta.journal_id, r.meta.replica_seq, point->stream_seq});
}

Result<PromoteReport> promote_replica(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  HUGO_TRY(rows::check_journal_file(path, busy_timeout));
  HUGO_ASSIGN_OR_RETURN(WriterLock lock, WriterLock::acquire(path));
  HUGO_ASSIGN_OR_RETURN(sql::Db db, sql::Db::open(path, sql::OpenMode::ReadWrite, busy_timeout));
  HUGO_ASSIGN_OR_RETURN(int version, schema::check_readable(db));
  HUGO_ASSIGN_OR_RETURN(rows::Meta meta, rows::load_meta(db, version));
  if (meta.role != "replica") return replica::not_a_replica(path);
  PromoteReport report;
  report.journal_id = meta.journal_id;
  report.epoch = meta.epoch + 1;
  HUGO_ASSIGN_OR_RETURN(report.last_seq, rows::last_issued_seq(db));
  report.epoch_history = meta.epoch_history + "," + std::to_string(report.epoch) + ":" + std::to_string(report.last_seq);
  HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(db, true));
  HUGO_TRY(db.exec("DELETE FROM meta WHERE key IN ('role', 'replica_seq', 'replica_hash', 'replica_stream', "
                   "'replica_stream_seq')"));
  HUGO_TRY(rows::put_meta(db, "epoch", report.epoch));
  HUGO_TRY(rows::put_meta(db, "epoch_history", report.epoch_history));
  HUGO_TRY(txn.commit());
  return report;
}

}  // namespace hugo
