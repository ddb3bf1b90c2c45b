#include "journal/rows.hpp"
#include "schema/file_probe.hpp"

#include "core/json_util.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include <random>

namespace hugo::rows {
namespace {

const std::string kSelect = "SELECT " + std::string(kHeaderColumns) +
                           ", error, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";

constexpr int kInsertColumns = 12;

// One INSERT statement for `rows` rows; parameter 12*i + c + 1 is column c of row i.
std::string insert_sql(std::size_t rows) {
  std::string sql =
      "INSERT INTO events (seq, kind, queue, task, attempt, at, lease, peer, expires, flags, error, payload) VALUES ";
  for (std::size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?,?,?)";
  return sql;
}

}  // namespace

Error corrupt_row(std::int64_t seq, std::string why) {
  return Error::journal_corrupt("journal row " + std::to_string(seq) + " is damaged: " + why +
                   " (run `hugo-journal verify`, or restore from a replica)")
      .with("seq", std::to_string(seq));
}

namespace {

// `error` as its JSON column reads it back, or why it would not read back (invalid UTF-8, JSON
// over 16 MiB). validate_for_append refuses the second; as_read_back takes the first.
Result<std::optional<Error>> error_as_stored(const Error& error) {
  std::string json;
  encode_error_json(error, json);
  std::optional<Error> decoded;
  HUGO_TRY(decode_error_json(json, decoded));
  return decoded;
}

Error invalid_event(std::string why) {
  return Error::validation("event rejected: " + why);
}

std::string random_journal_id() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> nibble(0, 15);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (char& c : id) c = kHex[nibble(device)];
  return id;
}

}  // namespace

Status init_meta(sql::Db& db, Timestamp now, const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t existing, db.query_int("SELECT count(*) FROM meta WHERE key = 'journal_id'"));
  if (existing != 0) return ok_status();
  HUGO_ASSIGN_OR_RETURN(sql::Stmt put, db.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)"));
  HUGO_TRY(put.bind(1, std::string_view("journal_id")).bind(2, journal_id.empty() ? random_journal_id() : journal_id).run());
  HUGO_TRY(put.bind(1, std::string_view("time_base_us")).bind(2, now.time_since_epoch().count()).run());
  HUGO_TRY(put.bind(1, std::string_view("created_at")).bind(2, format_iso8601(now)).run());
  return ok_status();
}

Status check_journal_file(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  return file_probe::check(path, file_probe::Intent::Read, busy_timeout);
}

Status record_durability(sql::Db& db, std::string_view durability) { return put_meta(db, "durability", durability); }

Status put_meta(sql::Db& db, std::string_view key, std::string_view value) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt put, db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"));
  return put.bind(1, key).bind(2, value).run();
}

Status put_meta(sql::Db& db, std::string_view key, std::int64_t value) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt put, db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"));
  return put.bind(1, key).bind(2, value).run();
}

Status refuse_replica(sql::Db& db) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t replicas, db.query_int("SELECT count(*) FROM meta WHERE key = 'role' AND value = 'replica'"));
  if (replicas == 0) return ok_status();
  return Error::journal_replica(db.path().string() + " is a replica that a follower keeps in step with its owner; "
               "promote it first (hugo-journal promote) to write to it")
      .with("path", db.path().string());
}

Result<Meta> load_meta(sql::Db& db, int schema_version) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt get, db.prepare("SELECT key, value FROM meta"));
  Meta meta;
  meta.schema_version = schema_version;
  bool have_base = false;
  while (true) {
    HUGO_ASSIGN_OR_RETURN(bool row, get.step());
    if (!row) break;
    const std::string_view key = get.column_text(0);
    if (key == "journal_id") meta.journal_id = std::string(get.column_text(1));
    if (key == "durability") meta.durability = std::string(get.column_text(1));
    if (key == "created_at") meta.created_at = std::string(get.column_text(1));
    if (key == "role") meta.role = std::string(get.column_text(1));
    if (key == "epoch") meta.epoch = get.column_int(1);
    if (key == "epoch_history") meta.epoch_history = std::string(get.column_text(1));
    if (key == "replica_seq") meta.replica_seq = get.column_int(1);
    if (key == "replica_hash") meta.replica_hash = std::string(get.column_text(1));
    if (key == "time_base_us") {
      meta.time_base_us = get.column_int(1);
      have_base = true;
    }
  }
  if (meta.journal_id.empty() || !have_base) {
    return Error::journal_corrupt("journal meta table lacks journal_id or time_base_us (restore from a replica)")
        .with("path", db.path().string());
  }
  return meta;
}

Result<std::int64_t> last_issued_seq(sql::Db& db) {
  return db.query_int("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)");
}

// ---- reading ----------------------------------------------------------------------------------

Result<EventSelector> EventSelector::create(sql::Db& db, Meta meta) {
  EventSelector selector(db, std::move(meta));
  HUGO_ASSIGN_OR_RETURN(selector.select_, db.prepare(kSelect));
  HUGO_ASSIGN_OR_RETURN(selector.names_, db.prepare("SELECT id, name FROM names WHERE id > ?1"));
  return selector;
}

Status EventSelector::refresh_names() {
  names_.bind(1, max_name_id_);
  while (true) {
    auto row = names_.step();
    if (!row.ok()) {
      names_.reset();
      return std::move(row).error();
    }
    if (!*row) break;
    const std::int64_t id = names_.column_int(0);
    by_id_[id] = std::string(names_.column_text(1));
    max_name_id_ = std::max(max_name_id_, id);
  }
  names_.reset();
  return ok_status();
}

RawHeader RawHeader::read(const sql::Stmt& row) {
  RawHeader raw;
  for (int c = 0; c < static_cast<int>(raw.columns.size()); ++c) {
    if ((c == kTask || c == kLease || c == kPeer || c == kExpires) && row.is_null(c)) {
      raw.nulls = static_cast<std::uint16_t>(raw.nulls | (1u << c));
    } else {
      raw.columns[static_cast<std::size_t>(c)] = row.column_int(c);
    }
  }
  return raw;
}

Result<RowHeader> decode_header(const RawHeader& row, std::int64_t time_base_us) {
  const auto column = [&](int c) { return row.columns[static_cast<std::size_t>(c)]; };
  RowHeader h;
  h.seq = column(0);
  const std::int64_t kind = column(1);
  if (!is_valid_event_kind(kind)) return corrupt_row(h.seq, "unknown kind " + std::to_string(kind));
  h.kind = static_cast<EventKind>(kind);
  h.queue_id = column(2);
  h.task = row.is_null(RawHeader::kTask) ? h.seq : column(RawHeader::kTask);
  h.attempt = static_cast<std::int32_t>(column(4));
  h.at = Timestamp{Duration{time_base_us + column(5)}};
  h.row_flags = static_cast<std::uint32_t>(column(9));
  h.flags = h.row_flags & kLifecycleMask;
  if (h.kind == EventKind::Restored && (h.row_flags & kOriginalTask) && !row.is_null(RawHeader::kLease)) {
    h.original_task_id = column(RawHeader::kLease);
  } else if (!row.is_null(RawHeader::kLease) || h.kind == EventKind::LeaseGranted) {
    OwnershipToken token;
    token.task_id = h.task;
    token.attempt = (h.row_flags & kTokenPrevAttempt) ? h.attempt - 1 : h.attempt;
    token.lease_id = row.is_null(RawHeader::kLease) ? h.seq : column(RawHeader::kLease);
    h.token = token;
  }
  h.owner_id = row.is_null(RawHeader::kPeer) ? 0 : column(RawHeader::kPeer);
  if (!row.is_null(RawHeader::kExpires)) {
    // One column, three meanings by kind (docs/FORMAT.md): validate_for_append keeps them apart.
    const Timestamp value = h.at + Duration{column(RawHeader::kExpires)};
    if (h.kind == EventKind::Restored) h.enqueued_at = value;
    else if (h.kind == EventKind::Requeued) h.available_at = value;
    else h.lease_expiration = value;
  }
  return h;
}

Result<std::string> EventSelector::name_of(std::int64_t id, std::int64_t seq) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    HUGO_TRY(refresh_names());
    it = by_id_.find(id);
    if (it == by_id_.end()) return corrupt_row(seq, "unknown name id " + std::to_string(id));
  }
  return it->second;
}

void as_read_back(Event& e) {
  e.source_peer_id.reset();
  e.flags &= kLifecycleMask;
  if (!e.payload) e.payload_format = PayloadFormat::Bytes;
  if (e.kind == EventKind::LeaseGranted && !e.token) e.token = OwnershipToken{e.task_id, e.attempt, e.seq};
  if (e.error) {  // validate_for_append refused any error that does not read back
    if (auto stored = error_as_stored(*e.error); stored.ok()) e.error = std::move(stored).value();
  }
}

Result<Event> EventSelector::decode(const sql::Stmt& row) {
  HUGO_ASSIGN_OR_RETURN(RowHeader h, decode_header(row, meta_.time_base_us));
  Event e;
  e.seq = h.seq;
  e.source_event_id = h.seq;
  e.kind = h.kind;
  HUGO_ASSIGN_OR_RETURN(e.queue, name_of(h.queue_id, h.seq));
  e.task_id = h.task;
  e.attempt = h.attempt;
  e.occurred_at = h.at;
  e.recorded_at = h.at;
  e.flags = h.flags;
  e.token = h.token;
  if (h.owner_id != 0) {
    HUGO_ASSIGN_OR_RETURN(std::string owner, name_of(h.owner_id, h.seq));
    e.owner_peer_id = std::move(owner);
  }
  e.lease_expiration = h.lease_expiration;
  e.enqueued_at = h.enqueued_at;
  e.available_at = h.available_at;
  e.original_task_id = h.original_task_id;
  if (!row.is_null(10)) {
    Status decoded = decode_error_json(row.column_text(10), e.error);
    if (!decoded.ok()) return corrupt_row(e.seq, "error column: " + decoded.error().message());
  }
  if (!row.is_null(11)) {
    e.payload = std::string(row.column_blob(11));
    e.payload_format = (h.row_flags & kPayloadJson) ? PayloadFormat::Json : PayloadFormat::Bytes;
  }
  e.journal_id = meta_.journal_id;
  return e;
}

Result<std::vector<Event>> EventSelector::read(std::int64_t after, std::size_t max) {
  std::vector<Event> events;
  events.reserve(std::min<std::size_t>(max, 4096));
  select_.bind(1, after).bind(2, static_cast<std::int64_t>(max));
  while (true) {
    auto row = select_.step();
    if (!row.ok()) {
      select_.reset();
      // Where the damage starts, so a reader can resume past it (read(after = a later seq)).
      const std::int64_t last_good = events.empty() ? after : events.back().seq;
      return std::move(row).error().with("last_good_seq", std::to_string(last_good));
    }
    if (!*row) break;
    auto event = decode(select_);
    if (!event.ok()) {
      select_.reset();
      return std::move(event).error();
    }
    events.push_back(std::move(event).value());
  }
  select_.reset();  // ends the statement's read transaction: never pins the WAL
  return events;
}

Result<JournalInfo> EventSelector::info() {
  JournalInfo info;
  info.journal_id = meta_.journal_id;
  info.schema_version = meta_.schema_version;
  info.created_at = meta_.created_at;
  info.durability = meta_.durability;
  info.role = meta_.role == "replica" ? "replica" : "owner";
  info.epoch = meta_.epoch;
  info.epoch_history = meta_.epoch_history;
  HUGO_TRY(db_->exec("BEGIN"));
  auto finish = [&](Status status) -> Result<JournalInfo> {
    (void)db_->exec("COMMIT");
    if (!status.ok()) return std::move(status).error();
    return info;
  };
  auto first = db_->query_int("SELECT coalesce(min(seq), 0) FROM events");
  if (!first.ok()) return finish(std::move(first).error());
  info.first_seq = *first;
  auto count = db_->query_int("SELECT count(*) FROM events");
  if (!count.ok()) return finish(std::move(count).error());
  info.row_count = *count;
  auto last = last_issued_seq(*db_);
  if (!last.ok()) return finish(std::move(last).error());
  info.last_seq = *last;
  return finish(ok_status());
}

// ---- writing ----------------------------------------------------------------------------------

Status validate_for_append(const Event& e) {
  if (e.queue.empty()) return invalid_event("queue name is empty");
  if (e.queue.size() > 1024) return invalid_event("queue name is longer than 1024 bytes");
  if (has_nul(e.queue)) return invalid_event("queue name holds a NUL byte");
  if (!is_valid_event_kind(static_cast<std::int64_t>(e.kind))) return invalid_event("unknown kind");
  if (e.attempt < 1) return invalid_event("attempt must be >= 1");
  if ((e.flags & ~flags::All) != 0) return invalid_event("unknown flag bits");
  if (e.task_id < 1 || e.task_id > e.seq) return invalid_event("task id must name an earlier or this row");
  if (e.owner_peer_id && e.owner_peer_id->size() > 1024) return invalid_event("owner peer id is longer than 1024 bytes");
  if ((e.owner_peer_id && has_nul(*e.owner_peer_id)) || (e.source_peer_id && has_nul(*e.source_peer_id))) {
    return invalid_event("a peer id holds a NUL byte");
  }
  if (e.token) {
    if (e.token->task_id != e.task_id) return invalid_event("token task id differs from the event's task id");
    if (e.token->attempt != e.attempt && e.token->attempt != e.attempt - 1) {
      return invalid_event("token attempt must be the event's attempt or the one before it");
    }
    if (e.token->lease_id < 1 || e.token->lease_id > e.seq) return invalid_event("token lease id must name an earlier or this row");
  }
  if (e.lease_guid) {
    return invalid_event("its token's lease id is a foreign GUID (" + *e.lease_guid +
                         "), which names no lease of this journal; `hugo-journal import` maps such streams");
  }
  if (e.original_task_id) {
    if (e.kind != EventKind::Restored) return invalid_event("only Restored carries an original task id");
    if (e.task_id != e.seq) return invalid_event("a Restored row with an original task id starts a new task (task id = seq)");
    if (*e.original_task_id < 1) return invalid_event("an original task id must be >= 1");
    if (e.token) return invalid_event("a Restored row under a new task id carries no token");
  }
  const bool leases = e.kind == EventKind::LeaseGranted || e.kind == EventKind::Heartbeat;
  if (e.lease_expiration && !leases) return invalid_event("only LeaseGranted and Heartbeat carry a lease expiration");
  if (e.enqueued_at && e.kind != EventKind::Restored) return invalid_event("only Restored carries enqueued_at");
  if (e.available_at && e.kind != EventKind::Requeued) return invalid_event("only Requeued carries available_at");
  if (e.payload && e.kind != EventKind::Enqueued && e.kind != EventKind::Restored) {
    return invalid_event("only Enqueued and Restored rows store a payload");
  }
  if (e.payload) {
    HUGO_TRY(check_payload_size(e.payload->size()));
    if (e.payload_format == PayloadFormat::Json) {
      if (std::string why = json_payload_problem(*e.payload); !why.empty()) {
        return invalid_event("payload_format is Json but the payload " + why + " (docs/FORMAT.md)");
      }
    }
  }
  if (e.error) {
    for (const auto& [key, value] : e.error->metadata()) {
      if (has_nul(key)) return invalid_event("an error metadata key holds a NUL byte");
    }
    if (auto stored = error_as_stored(*e.error); !stored.ok()) {
      return invalid_event("its error would not read back from the journal (" + stored.error().message() +
                           "); error codes, messages, metadata and causes must be valid UTF-8");
    }
  }
  return ok_status();
}

Result<EventInserter> EventInserter::create(sql::Db& db, Meta meta) {
  EventInserter inserter(db, std::move(meta));
  for (std::size_t rows : kRowsPerStatement) {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt stmt, db.prepare(insert_sql(rows)));
    inserter.inserts_.push_back(std::move(stmt));
  }
  HUGO_ASSIGN_OR_RETURN(inserter.insert_name_, db.prepare("INSERT INTO names (name) VALUES (?1)"));
  HUGO_ASSIGN_OR_RETURN(sql::Stmt all, db.prepare("SELECT id, name FROM names"));
  while (true) {
    HUGO_ASSIGN_OR_RETURN(bool row, all.step());
    if (!row) break;
    inserter.ids_.emplace(std::string(all.column_text(1)), all.column_int(0));
  }
  return inserter;
}

Result<std::int64_t> EventInserter::intern(const std::string& name) {
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  HUGO_TRY(insert_name_.bind(1, std::string_view(name)).run());
  const std::int64_t id = db_->last_insert_rowid();
  ids_.emplace(name, id);
  uncommitted_names_.push_back(name);
  return id;
}

Status EventInserter::insert_all(const std::vector<Event>& events, const std::function<Status()>& also) {
  uncommitted_names_.clear();
  const Status written = [&]() -> Status {
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(*db_, true));
    std::span<const Event> rest(events);
    for (std::size_t k = 0; k < kRowsPerStatement.size(); ++k) {
      const std::size_t rows = kRowsPerStatement[k];
      for (; rest.size() >= rows; rest = rest.subspan(rows)) HUGO_TRY(insert(inserts_[k], rest.first(rows)));
    }
    if (also) HUGO_TRY(also());
    return txn.commit();
  }();
  if (!written.ok()) {
    for (const std::string& name : uncommitted_names_) ids_.erase(name);
  }
  uncommitted_names_.clear();
  return written;
}

Status EventInserter::insert(sql::Stmt& insert, std::span<const Event> events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (Status bound = bind_row(insert, static_cast<int>(i) * kInsertColumns, events[i]); !bound.ok()) {
      insert.reset();
      return bound;
    }
  }
  return insert.run();
}

Status EventInserter::bind_row(sql::Stmt& insert, int base, const Event& e) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t queue_id, intern(e.queue));
  std::int64_t peer_id = 0;
  if (e.owner_peer_id) {
    HUGO_ASSIGN_OR_RETURN(peer_id, intern(*e.owner_peer_id));
  }
  std::uint32_t row_flags = e.flags;
  insert.bind(base + 1, e.seq).bind(base + 2, static_cast<std::int64_t>(e.kind)).bind(base + 3, queue_id);
  if (e.kind == EventKind::Enqueued && e.task_id == e.seq) insert.bind_null(base + 4);
  else insert.bind(base + 4, e.task_id);
  insert.bind(base + 5, static_cast<std::int64_t>(e.attempt));
  insert.bind(base + 6, e.occurred_at.time_since_epoch().count() - meta_.time_base_us);
  if (e.original_task_id) {
    insert.bind(base + 7, *e.original_task_id);
    row_flags |= kOriginalTask;
  } else if (!e.token || (e.kind == EventKind::LeaseGranted && e.token->lease_id == e.seq)) {
    insert.bind_null(base + 7);
  } else {
    insert.bind(base + 7, e.token->lease_id);
  }
  if (e.token && e.token->attempt != e.attempt) row_flags |= kTokenPrevAttempt;
  if (e.owner_peer_id) insert.bind(base + 8, peer_id);
  else insert.bind_null(base + 8);
  if (const auto& relative = e.lease_expiration ? e.lease_expiration : e.enqueued_at ? e.enqueued_at : e.available_at) {
    insert.bind(base + 9, (*relative - e.occurred_at).count());
  } else {
    insert.bind_null(base + 9);
  }
  if (e.payload && e.payload_format == PayloadFormat::Json) row_flags |= kPayloadJson;
  insert.bind(base + 10, static_cast<std::int64_t>(row_flags));
  if (e.error) {
    std::string json;
    encode_error_json(*e.error, json);
    insert.bind(base + 11, std::string_view(json));  // copied by SQLite (SQLITE_TRANSIENT)
  } else {
    insert.bind_null(base + 11);
  }
  // Not copied: `e` outlives the statement's run(). A 32-row statement holding copies of 32
  // payloads of up to several MiB each would multiply the writer's peak memory.
  if (e.payload) insert.bind_blob_unowned(base + 12, *e.payload);
  else insert.bind_null(base + 12);
  return ok_status();
}

}  // namespace hugo::rows
