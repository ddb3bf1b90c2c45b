#include <hugo/checkpoint.hpp>
#include <hugo/error_codes.hpp>

#include <algorithm>

namespace hugo {

TaskQueueReplicationCheckpoint TaskQueueReplicationCheckpoint::empty(std::string stream_id, std::string journal_id) {
  TaskQueueReplicationCheckpoint c;
  c.stream_id_ = std::move(stream_id);
  c.journal_id_ = std::move(journal_id);
  return c;
}

TaskQueueReplicationCheckpoint TaskQueueReplicationCheckpoint::restore(
    std::string stream_id, std::string journal_id, std::int64_t global, Timestamp updated_at,
    std::map<std::string, std::int64_t, CaseInsensitiveLess> peers, std::optional<std::uint64_t> last_fingerprint) {
  TaskQueueReplicationCheckpoint c = empty(std::move(stream_id), std::move(journal_id));
  c.global_ = global;
  c.updated_at_ = updated_at;
  c.peers_ = std::move(peers);
  c.fingerprint_ = last_fingerprint;
  return c;
}

bool TaskQueueReplicationCheckpoint::should_process(std::string_view peer, std::int64_t seq) const {
  if (seq <= global_) return false;
  auto it = peers_.find(peer);
  return it == peers_.end() || seq > it->second;
}

TaskQueueReplicationCheckpoint TaskQueueReplicationCheckpoint::advance(std::string_view peer, std::int64_t seq,
                                                                       Timestamp observed_at) const {
  TaskQueueReplicationCheckpoint next = *this;
  auto it = next.peers_.find(peer);
  if (it == next.peers_.end()) next.peers_.emplace(std::string(peer), seq);
  else it->second = std::max(it->second, seq);
  if (seq > next.global_) {
    next.global_ = seq;
    next.fingerprint_.reset();
  }
  next.updated_at_ = observed_at;
  return next;
}

TaskQueueReplicationCheckpoint TaskQueueReplicationCheckpoint::advance(std::string_view peer, const Event& event,
                                                                       Timestamp observed_at) const {
  TaskQueueReplicationCheckpoint next = advance(peer, event.seq, observed_at);
  if (next.global_ == event.seq) next.fingerprint_ = event_fingerprint(event);
  return next;
}

std::optional<std::int64_t> TaskQueueReplicationCheckpoint::peer_position(std::string_view peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS hugo_checkpoints (
  stream_id       TEXT NOT NULL,
  journal_id      TEXT NOT NULL,
  global_position INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  last_fingerprint INTEGER,
  PRIMARY KEY (stream_id, journal_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hugo_checkpoint_peers (
  stream_id  TEXT NOT NULL,
  journal_id TEXT NOT NULL,
  peer       TEXT NOT NULL COLLATE NOCASE,
  position   INTEGER NOT NULL,
  PRIMARY KEY (stream_id, journal_id, peer)
) STRICT, WITHOUT ROWID;
)sql";

Timestamp from_us(std::int64_t us) { return Timestamp{Duration{us}}; }
std::int64_t to_us(Timestamp t) { return t == Timestamp::min() ? 0 : t.time_since_epoch().count(); }

// Fingerprints are stored as the INTEGER with the same 64 bits.
SqlValue fingerprint_value(std::optional<std::uint64_t> f) {
  if (!f) return nullptr;
  return static_cast<std::int64_t>(*f);
}

Result<bool> has_fingerprint_column(SinkDatabase& db) {
  HUGO_ASSIGN_OR_RETURN(auto rows, db.query("SELECT count(*) FROM pragma_table_info('hugo_checkpoints') "
                                            "WHERE name = 'last_fingerprint'"));
  return !rows.empty() && sql_int(rows[0][0]) > 0;
}

}  // namespace

Result<std::shared_ptr<SqliteCheckpointStore>> SqliteCheckpointStore::open(std::shared_ptr<SinkDatabase> db) {
  if (!db) return Error::validation("checkpoint store: the database is null");
  HUGO_TRY(db->transaction([&]() -> Status {
    HUGO_TRY(db->execute_script(kSchema));
    HUGO_ASSIGN_OR_RETURN(bool migrated, has_fingerprint_column(*db));
    if (migrated) return ok_status();
    // A database written before fingerprints: its checkpoints keep NULL (checked "behind" only).
    return db->execute_script("ALTER TABLE hugo_checkpoints ADD COLUMN last_fingerprint INTEGER");
  }));
  return std::shared_ptr<SqliteCheckpointStore>(new SqliteCheckpointStore(std::move(db)));
}

Result<std::shared_ptr<SqliteCheckpointStore>> SqliteCheckpointStore::attach_existing(std::shared_ptr<SinkDatabase> db) {
  if (!db) return Error::validation("checkpoint store: the database is null");
  HUGO_ASSIGN_OR_RETURN(bool has_fingerprints, has_fingerprint_column(*db));
  std::shared_ptr<SqliteCheckpointStore> store(new SqliteCheckpointStore(std::move(db)));
  store->has_fingerprints_ = has_fingerprints;
  return store;
}

Result<std::optional<TaskQueueReplicationCheckpoint>> SqliteCheckpointStore::read(const std::string& stream_id,
                                                                                const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto rows, db_->query(has_fingerprints_
                                                  ? "SELECT global_position, updated_at, last_fingerprint "
                                                    "FROM hugo_checkpoints WHERE stream_id = ?1 AND journal_id = ?2"
                                                  : "SELECT global_position, updated_at, NULL "
                                                    "FROM hugo_checkpoints WHERE stream_id = ?1 AND journal_id = ?2",
                                              {stream_id, journal_id}));
  if (rows.empty()) return std::optional<TaskQueueReplicationCheckpoint>();
  HUGO_ASSIGN_OR_RETURN(auto peers, db_->query("SELECT peer, position FROM hugo_checkpoint_peers "
                                               "WHERE stream_id = ?1 AND journal_id = ?2",
                                               {stream_id, journal_id}));
  std::map<std::string, std::int64_t, CaseInsensitiveLess> positions;
  for (const auto& p : peers) positions[sql_text(p[0])] = sql_int(p[1]);
  std::optional<std::uint64_t> fingerprint;
  if (!sql_is_null(rows[0][2])) fingerprint = static_cast<std::uint64_t>(sql_int(rows[0][2]));
  return std::optional<TaskQueueReplicationCheckpoint>(TaskQueueReplicationCheckpoint::restore(
      stream_id, journal_id, sql_int(rows[0][0]), from_us(sql_int(rows[0][1])), std::move(positions), fingerprint));
}

Status SqliteCheckpointStore::persist(const TaskQueueReplicationCheckpoint& c) {
  std::set<std::string, CaseInsensitiveLess> every;
  for (const auto& [peer, position] : c.peer_positions()) every.insert(peer);
  return persist_moved(c, every);
}

Status SqliteCheckpointStore::persist_moved(const TaskQueueReplicationCheckpoint& c,
                                            const std::set<std::string, CaseInsensitiveLess>& moved) {
  return db_->transaction([&]() -> Status {
    // max(): a position already stored higher is kept, so a checkpoint never moves backwards; the
    // fingerprint goes with the position it describes (kept when an equal position brings none).
    HUGO_TRY(db_->execute(
        "INSERT INTO hugo_checkpoints (stream_id, journal_id, global_position, updated_at, last_fingerprint) "
        "VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (stream_id, journal_id) DO UPDATE SET "
        "global_position = max(global_position, excluded.global_position), updated_at = excluded.updated_at, "
        "last_fingerprint = CASE WHEN excluded.global_position > global_position THEN excluded.last_fingerprint "
        "WHEN excluded.global_position = global_position THEN coalesce(excluded.last_fingerprint, last_fingerprint) "
        "ELSE last_fingerprint END",
        {c.stream_id(), c.journal_id(), c.global_position(), to_us(c.updated_at()),
         fingerprint_value(c.last_fingerprint())}));
    for (const std::string& peer : moved) {
      const std::optional<std::int64_t> position = c.peer_position(peer);
      if (!position) continue;
      HUGO_TRY(db_->execute(
          "INSERT INTO hugo_checkpoint_peers (stream_id, journal_id, peer, position) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (stream_id, journal_id, peer) DO UPDATE SET position = max(position, excluded.position)",
          {c.stream_id(), c.journal_id(), peer, *position}));
    }
    return ok_status();
  });
}

Result<std::vector<TaskQueueReplicationCheckpoint>> SqliteCheckpointStore::list() {
  HUGO_ASSIGN_OR_RETURN(auto rows, db_->query("SELECT stream_id, journal_id FROM hugo_checkpoints "
                                              "ORDER BY stream_id, journal_id"));
  std::vector<TaskQueueReplicationCheckpoint> out;
  for (const auto& r : rows) {
    HUGO_ASSIGN_OR_RETURN(auto c, read(sql_text(r[0]), sql_text(r[1])));
    if (c) out.push_back(std::move(*c));
  }
  return out;
}

Status SqliteCheckpointStore::reset(const std::string& stream_id) {
  return db_->transaction([&]() -> Status {
    HUGO_TRY(db_->execute("DELETE FROM hugo_checkpoint_peers WHERE stream_id = ?1", {stream_id}));
    return db_->execute("DELETE FROM hugo_checkpoints WHERE stream_id = ?1", {stream_id});
  });
}

}  // namespace hugo
