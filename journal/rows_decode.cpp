// Reading `events` rows (docs/FORMAT.md): RawHeader and decode_header turn a row's integer
// columns into a RowHeader; EventSelector reads whole events on one connection and resolves the
// interned names. Nothing read from the file is trusted: a row that does not decode is
// journal.corrupt naming its seq (corrupt_row), and a read never pins the WAL.
#include "journal/rows.hpp"

#include "core/json_util.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include <algorithm>

namespace hugo::rows {
namespace {

}  // namespace

std::string_view header_columns(int schema_version) {
  return schema_version >= 2 ? "seq, kind, queue, task, attempt, at, lease, peer, expires, flags, not_before"
                             : "seq, kind, queue, task, attempt, at, lease, peer, expires, flags, NULL";
}

Error corrupt_row(std::int64_t seq, std::string why) {
  return Error::journal_corrupt("journal row " + std::to_string(seq) + " is damaged: " + why +
                   " (run `hugo-journal verify`, or restore from a replica)")
      .with("seq", std::to_string(seq));
}

Result<EventSelector> EventSelector::create(sql::Db& db, Meta meta) {
  EventSelector selector(db, std::move(meta));
  const std::string select = "SELECT " + std::string(header_columns(selector.meta_.schema_version)) +
                             ", error, payload FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";
  HUGO_ASSIGN_OR_RETURN(selector.select_, db.prepare(select));
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
    if ((c == kTask || c == kLease || c == kPeer || c == kExpires || c == kNotBefore) && row.is_null(c)) {
      raw.nulls = static_cast<std::uint16_t>(raw.nulls | (1u << c));
    } else {
      raw.columns[static_cast<std::size_t>(c)] = row.column_int(c);
    }
  }
  return raw;
}

Result<std::string> stored_task_key(std::optional<std::string_view> column, std::int64_t seq) {
  if (!column) return corrupt_row(seq, "its idempotency key is missing (flag 0x800, NULL error column)");
  if (std::string why = task_key_problem(*column); !why.empty()) return corrupt_row(seq, "its idempotency key " + why);
  return std::string(*column);
}

Result<std::string> decode_task_key(const sql::Stmt& row, std::int64_t seq) {
  return stored_task_key(row.is_null(11) ? std::nullopt : std::optional<std::string_view>(row.column_text(11)), seq);
}

Result<RowHeader> decode_header(const RawHeader& row, std::int64_t time_base_us) {
  const auto column = [&](int c) { return row.columns[static_cast<std::size_t>(c)]; };
  // A time column is an offset in microseconds; a damaged one must not overflow the sum.
  std::int64_t sum = 0;
  const auto offset = [&](std::int64_t base, int c) { return !__builtin_add_overflow(base, column(c), &sum); };
  RowHeader h;
  h.seq = column(0);
  const std::int64_t kind = column(1);
  if (!is_valid_event_kind(kind)) return corrupt_row(h.seq, "unknown kind " + std::to_string(kind));
  h.kind = static_cast<EventKind>(kind);
  h.queue_id = column(2);
  h.task = row.is_null(RawHeader::kTask) ? h.seq : column(RawHeader::kTask);
  h.attempt = static_cast<std::int32_t>(column(4));
  if (!offset(time_base_us, 5)) return corrupt_row(h.seq, "its time is out of range");
  h.at = Timestamp{Duration{sum}};
  h.row_flags = static_cast<std::uint32_t>(column(9) & 0xffff'ffff);
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
    if (!offset(h.at.time_since_epoch().count(), RawHeader::kExpires)) return corrupt_row(h.seq, "its expires is out of range");
    const Timestamp value{Duration{sum}};
    if (h.kind == EventKind::Restored) h.enqueued_at = value;
    else if (h.kind == EventKind::Requeued) h.available_at = value;
    else h.lease_expiration = value;
  }
  if (!row.is_null(RawHeader::kNotBefore)) {
    if (h.kind != EventKind::Enqueued && h.kind != EventKind::Restored) {
      return corrupt_row(h.seq, "a " + std::string(to_string(h.kind)) + " row has a not_before");
    }
    if (!offset(h.at.time_since_epoch().count(), RawHeader::kNotBefore)) {
      return corrupt_row(h.seq, "its not_before is out of range");
    }
    h.available_at = Timestamp{Duration{sum}};
  }
  h.has_key = (h.row_flags & kTaskKey) != 0;  // schema version 5
  if (h.has_key && h.kind != EventKind::Enqueued) {
    return corrupt_row(h.seq, "a " + std::string(to_string(h.kind)) + " row has an idempotency key");
  }
  h.priority = static_cast<std::int32_t>(column(9) >> 32);  // schema version 3: flags' high bits
  if (h.priority != 0 && h.kind != EventKind::Enqueued && h.kind != EventKind::Restored) {
    return corrupt_row(h.seq, "a " + std::string(to_string(h.kind)) + " row has a priority");
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
  e.priority = h.priority;
  if (h.has_key) {
    HUGO_ASSIGN_OR_RETURN(e.idempotency_key, decode_task_key(row, e.seq));
  } else if (!row.is_null(11)) {
    Status decoded = decode_error_json(row.column_text(11), e.error);
    if (!decoded.ok()) return corrupt_row(e.seq, "error column: " + decoded.error().message());
  }
  if (!row.is_null(12)) {
    e.payload = std::string(row.column_blob(12));
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

}  // namespace hugo::rows
