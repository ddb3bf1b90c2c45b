// ProjectionSink: a table of live task state, maintained exactly-once from the event stream.
#include <hugo/sinks.hpp>

namespace hugo {
namespace {

constexpr std::string_view kProjectionSchema = R"sql(
CREATE TABLE IF NOT EXISTS hugo_projection (
  journal_id       TEXT NOT NULL,
  queue            TEXT NOT NULL,
  task_id          INTEGER NOT NULL,
  state            TEXT NOT NULL,
  attempt          INTEGER NOT NULL,
  owner            TEXT,
  lease_id         INTEGER,
  lease_expires_us INTEGER,
  last_error_code  TEXT,
  updated_seq      INTEGER NOT NULL,
  PRIMARY KEY (journal_id, queue, task_id)
) STRICT, WITHOUT ROWID;
)sql";

const char* state_after(EventKind kind) {
  switch (kind) {
    case EventKind::Enqueued:
    case EventKind::Requeued:
    case EventKind::Restored: return "pending";
    case EventKind::LeaseGranted:
    case EventKind::Heartbeat: return "leased";
    case EventKind::Completed: return "completed";
    case EventKind::Failed:
    case EventKind::LeaseExpired: return "awaiting_requeue";
    case EventKind::DeadLettered: return "dead";
    case EventKind::Drained: return "drained";
    case EventKind::Canceled: return "canceled";
  }
  return "unknown";
}

}  // namespace

ProjectionSink::ProjectionSink(std::shared_ptr<SinkDatabase> db, SinkOptions options)
    : TransactionalSink(std::move(db), std::move(options)) {}

Status ProjectionSink::initialize(SinkDatabase& db) { return db.execute_script(kProjectionSchema); }

Status ProjectionSink::apply(SinkDatabase& db, const Event& e) {
  const bool leased = e.kind == EventKind::LeaseGranted || e.kind == EventKind::Heartbeat;
  std::vector<SqlValue> params;
  params.reserve(10);
  params.emplace_back(e.journal_id.value_or(std::string()));
  params.emplace_back(e.queue);
  params.emplace_back(e.task_id);
  params.emplace_back(std::string(state_after(e.kind)));
  params.emplace_back(static_cast<std::int64_t>(e.attempt));
  if (leased && e.owner_peer_id) params.emplace_back(*e.owner_peer_id);
  else params.emplace_back(nullptr);
  if (leased && e.token) params.emplace_back(e.token->lease_id);
  else params.emplace_back(nullptr);
  if (leased && e.lease_expiration) params.emplace_back(e.lease_expiration->time_since_epoch().count());
  else params.emplace_back(nullptr);
  if (e.error) params.emplace_back(e.error->code());
  else params.emplace_back(nullptr);
  params.emplace_back(e.seq);
  // Rows without an error keep the last one (a lease after a failure still shows why it retried).
  return db.execute(
      "INSERT INTO hugo_projection (journal_id, queue, task_id, state, attempt, owner, lease_id, lease_expires_us, "
      "last_error_code, updated_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      "ON CONFLICT (journal_id, queue, task_id) DO UPDATE SET state = excluded.state, attempt = excluded.attempt, "
      "owner = excluded.owner, lease_id = excluded.lease_id, lease_expires_us = excluded.lease_expires_us, "
      "last_error_code = coalesce(excluded.last_error_code, last_error_code), updated_seq = excluded.updated_seq",
      params);
}

}  // namespace hugo
