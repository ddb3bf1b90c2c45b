// Writing `events` rows (docs/FORMAT.md): validate_for_append checks what the format needs of
// an event before the journal accepts it; EventInserter writes accepted events on the writer
// connection, 32, 8 or 1 rows per INSERT, all or nothing; as_read_back gives an accepted event
// exactly the form its row reads back as (rows_decode.cpp).
#include "journal/rows.hpp"

#include "core/json_util.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

namespace hugo::rows {
namespace {

constexpr int kInsertColumns = 13;

// One INSERT statement for `rows` rows; parameter 13*i + c + 1 is column c of row i.
std::string insert_sql(std::size_t rows) {
  std::string sql =
      "INSERT INTO events (seq, kind, queue, task, attempt, at, lease, peer, expires, flags, error, payload, not_before) "
      "VALUES ";
  for (std::size_t i = 0; i < rows; ++i) sql += i == 0 ? "(?,?,?,?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?,?,?,?)";
  return sql;
}

// `error` as its JSON column reads it back, or why it would not read back (invalid UTF-8, JSON
// over 16 MiB: error_json_problem, which validate_for_append applies). as_read_back takes the first.
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

}  // namespace

void as_read_back(Event& e) {
  e.source_peer_id.reset();
  e.flags &= kLifecycleMask;
  if (!e.payload) e.payload_format = PayloadFormat::Bytes;
  if (e.kind == EventKind::LeaseGranted && !e.token) e.token = OwnershipToken{e.task_id, e.attempt, e.seq};
  if (e.error) {  // validate_for_append refused any error that does not read back
    if (auto stored = error_as_stored(*e.error); stored.ok()) e.error = std::move(stored).value();
  }
}

Status validate_content(const Event& e) {
  if (e.queue.empty()) return invalid_event("queue name is empty");
  if (e.queue.size() > 1024) return invalid_event("queue name is longer than 1024 bytes");
  if (has_nul(e.queue)) return invalid_event("queue name holds a NUL byte");
  if (!is_valid_event_kind(static_cast<std::int64_t>(e.kind))) return invalid_event("unknown kind");
  if (e.attempt < 1) return invalid_event("attempt must be >= 1");
  if ((e.flags & ~flags::All) != 0) return invalid_event("unknown flag bits");
  if (e.owner_peer_id && e.owner_peer_id->size() > 1024) return invalid_event("owner peer id is longer than 1024 bytes");
  if ((e.owner_peer_id && has_nul(*e.owner_peer_id)) || (e.source_peer_id && has_nul(*e.source_peer_id))) {
    return invalid_event("a peer id holds a NUL byte");
  }
  if (e.token && e.token->attempt != e.attempt && e.token->attempt != e.attempt - 1) {
    return invalid_event("token attempt must be the event's attempt or the one before it");
  }
  if (e.lease_guid) {
    return invalid_event("its token's lease id is a foreign GUID (" + *e.lease_guid +
                         "), which names no lease of this journal; `hugo-journal import` maps such streams");
  }
  if (e.original_task_id) {
    if (e.kind != EventKind::Restored) return invalid_event("only Restored carries an original task id");
    if (*e.original_task_id < 1) return invalid_event("an original task id must be >= 1");
    if (e.token) return invalid_event("a Restored row under a new task id carries no token");
  }
  const bool leases = e.kind == EventKind::LeaseGranted || e.kind == EventKind::Heartbeat;
  if (e.lease_expiration && !leases) return invalid_event("only LeaseGranted and Heartbeat carry a lease expiration");
  if (e.enqueued_at && e.kind != EventKind::Restored) return invalid_event("only Restored carries enqueued_at");
  if (e.priority != 0 && e.kind != EventKind::Enqueued && e.kind != EventKind::Restored) {
    return invalid_event("only Enqueued and Restored carry a priority");
  }
  if (e.available_at && e.kind != EventKind::Requeued && e.kind != EventKind::Enqueued && e.kind != EventKind::Restored) {
    return invalid_event("only Enqueued, Restored and Requeued carry available_at");
  }
  if (e.payload && e.kind != EventKind::Enqueued && e.kind != EventKind::Restored) {
    return invalid_event("only Enqueued and Restored rows store a payload");
  }
  if (e.idempotency_key) {
    if (e.kind != EventKind::Enqueued) return invalid_event("only Enqueued carries an idempotency key");
    if (e.error) return invalid_event("an Enqueued row with an idempotency key carries no error");
    if (std::string why = task_key_problem(*e.idempotency_key); !why.empty()) {
      return invalid_event("its idempotency key " + why);
    }
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
    // Checked without encoding it: the writer encodes it once, when it binds the row.
    if (std::string why = error_json_problem(*e.error); !why.empty()) {
      return invalid_event("its error would not read back from the journal (the error's " + why +
                           "); error codes, messages, metadata and causes must be valid UTF-8");
    }
  }
  return ok_status();
}

Status validate_numbering(const Event& e) {
  if (e.task_id < 1 || e.task_id > e.seq) return invalid_event("task id must name an earlier or this row");
  if (e.token) {
    if (e.token->task_id != e.task_id) return invalid_event("token task id differs from the event's task id");
    if (e.token->lease_id < 1 || e.token->lease_id > e.seq) return invalid_event("token lease id must name an earlier or this row");
  }
  if (e.original_task_id && e.task_id != e.seq) {
    return invalid_event("a Restored row with an original task id starts a new task (task id = seq)");
  }
  return ok_status();
}

Status validate_for_append(const Event& e) {
  HUGO_TRY(validate_content(e));
  return validate_numbering(e);
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
  begin_rows();
  const Status written = [&]() -> Status {
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(*db_, true));
    HUGO_TRY(insert_rows(events));
    if (also) HUGO_TRY(also());
    return txn.commit();
  }();
  end_rows(written.ok());
  return written;
}

Status EventInserter::insert_rows(const std::vector<Event>& events) {
  std::span<const Event> rest(events);
  for (std::size_t k = 0; k < kRowsPerStatement.size(); ++k) {
    const std::size_t rows = kRowsPerStatement[k];
    for (; rest.size() >= rows; rest = rest.subspan(rows)) HUGO_TRY(insert(inserts_[k], rest.first(rows)));
  }
  return ok_status();
}

void EventInserter::end_rows(bool committed) {
  if (!committed) {
    for (const std::string& name : uncommitted_names_) ids_.erase(name);
  }
  uncommitted_names_.clear();
}

Status EventInserter::insert(sql::Stmt& insert, std::span<const Event> events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (Status bound = bind_row(insert, static_cast<int>(i) * kInsertColumns, events[i]); !bound.ok()) {
      insert.reset();
      return bound;
    }
  }
  return insert.run_rebound();  // bind_row binds all 13 columns of every row
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
  // expires: one column, three meanings by kind (docs/FORMAT.md); not_before: Enqueued and
  // Restored rows' available_at (a Requeued row keeps it in expires, as schema version 1 did).
  const bool starts_task = e.kind == EventKind::Enqueued || e.kind == EventKind::Restored;
  const auto& expires = e.lease_expiration ? e.lease_expiration
                        : e.enqueued_at    ? e.enqueued_at
                        : starts_task      ? std::optional<Timestamp>()
                                           : e.available_at;
  if (expires) insert.bind(base + 9, (*expires - e.occurred_at).count());
  else insert.bind_null(base + 9);
  if (starts_task && e.available_at) insert.bind(base + 13, (*e.available_at - e.occurred_at).count());
  else insert.bind_null(base + 13);
  if (e.payload && e.payload_format == PayloadFormat::Json) row_flags |= kPayloadJson;
  if (e.idempotency_key) row_flags |= kTaskKey;
  // Bits 32-63: the priority (schema version 3; 0 for every row but some Enqueued and Restored).
  insert.bind(base + 10, static_cast<std::int64_t>(row_flags) | (static_cast<std::int64_t>(e.priority) << 32));
  if (e.idempotency_key) {
    // validate_content refused an error on such a row: the column is free for the key.
    insert.bind(base + 11, std::string_view(*e.idempotency_key));
  } else if (e.error) {
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
