// Mapping between hugo::Event and the `events` row format (docs/FORMAT.md). Shared by the
// writer (EventInserter) and every reader (EventSelector), so the format is defined once.
#pragma once

#include "schema/sqlite.hpp"

#include <hugo/event.hpp>
#include <hugo/journal.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace hugo::rows {

// Row flag bits above Hugo's lifecycle flags. PERSISTED; append only.
inline constexpr std::uint32_t kLifecycleMask = 0xff;
inline constexpr std::uint32_t kPayloadJson = 0x100;       // payload is UTF-8 JSON text
inline constexpr std::uint32_t kTokenPrevAttempt = 0x200;  // token.attempt == attempt - 1
// Restored rows only: the row started a new task (task = seq) and `lease` holds the task id the
// item had before (Event::original_task_id); the row has no token.
inline constexpr std::uint32_t kOriginalTask = 0x400;
// Enqueued rows only (schema version 5): the `error` column holds the task's idempotency key as
// text, not an error (Event::idempotency_key; such a row has no error).
inline constexpr std::uint32_t kTaskKey = 0x800;

// Per-journal constants from the `meta` table.
struct Meta {
  std::string journal_id;
  std::int64_t time_base_us = 0;  // `at` is stored relative to this
  int schema_version = 0;
  std::string durability;  // of the last writer
  std::string created_at;
  // Peers (docs/PEERS.md): "replica" while a follower applies an owner's events, else "" (owner).
  std::string role;
  std::int64_t epoch = 1;
  std::string epoch_history = "1:0";  // "<epoch>:<seq the epoch began after>", comma-separated
  std::int64_t replica_seq = 0;       // a replica's last applied seq
  std::string replica_hash;           // and its rolling hash there (16 hex digits; "" = empty history)
};

Result<Meta> load_meta(sql::Db& db, int schema_version);
// Before a read-only open: file_probe::check(path, Read), which refuses what is not a journal.
Status check_journal_file(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout);
Error corrupt_row(std::int64_t seq, std::string why);
// Creates the meta rows of a new journal (inside the caller's transaction). An empty
// `journal_id` draws a random one.
Status init_meta(sql::Db& db, Timestamp now, const std::string& journal_id = {});
// Sets one meta row (inside the caller's transaction).
Status put_meta(sql::Db& db, std::string_view key, std::string_view value);
Status put_meta(sql::Db& db, std::string_view key, std::int64_t value);
// journal.replica if the journal is a replica (a writable open must promote it first).
Status refuse_replica(sql::Db& db);
// Records the durability level of the writer that opened the journal.
Status record_durability(sql::Db& db, std::string_view durability);

// Highest seq ever issued: sqlite_sequence survives deletion of the tail.
Result<std::int64_t> last_issued_seq(sql::Db& db);

// The integer columns of one row (seq .. flags), decoded once for every reader. Names stay ids.
struct RowHeader {
  std::int64_t seq = 0;
  EventKind kind = EventKind::Enqueued;
  std::int64_t queue_id = 0;
  std::int64_t task = 0;
  std::int32_t attempt = 1;
  Timestamp at{};
  std::optional<OwnershipToken> token;
  std::int64_t owner_id = 0;  // 0: none
  std::optional<Timestamp> lease_expiration;
  std::optional<Timestamp> enqueued_at;
  std::optional<Timestamp> available_at;
  std::optional<std::int64_t> original_task_id;  // Restored under a new id (kOriginalTask)
  std::int32_t priority = 0;                     // Enqueued and Restored only
  bool has_key = false;                          // Enqueued only: `error` holds its key (kTaskKey)
  std::uint32_t flags = 0;      // lifecycle flags only
  std::uint32_t row_flags = 0;  // the column's low 32 bits (its high 32 hold `priority`)
};

// The first eleven columns every row query selects, in this order: column 10 is not_before,
// which a version-1 journal (opened read-only, so not migrated) lacks and reads as NULL. The text
// is one of two constants, never built from input.
std::string_view header_columns(int schema_version);

// Columns 0..10 of a row as stored: what decode_header needs, copied out of the statement so that
// the decoding can happen on another thread (the queue loader does).
struct RawHeader {
  static constexpr int kTask = 3, kLease = 6, kPeer = 7, kExpires = 8, kNotBefore = 10;  // the nullable columns
  static constexpr int kCount = 11;
  std::array<std::int64_t, kCount> columns{};
  std::uint16_t nulls = 0;  // bit c: column c is NULL

  static RawHeader read(const sql::Stmt& row);
  bool is_null(int column) const { return (nulls >> column) & 1u; }
};

// Decodes columns 0..10; journal.corrupt for an unknown kind, or a not_before or priority on a
// row of a kind that has none.
Result<RowHeader> decode_header(const RawHeader& raw, std::int64_t time_base_us);
inline Result<RowHeader> decode_header(const sql::Stmt& row, std::int64_t time_base_us) {
  return decode_header(RawHeader::read(row), time_base_us);
}

// The idempotency key of row `seq`, whose header has_key, from its error column (nullopt: NULL);
// journal.corrupt if it is missing or not a valid key. decode_task_key reads column 11 of `row`.
Result<std::string> stored_task_key(std::optional<std::string_view> column, std::int64_t seq);
Result<std::string> decode_task_key(const sql::Stmt& row, std::int64_t seq);

// Reads events and resolves interned names. One instance per connection.
class EventSelector {
 public:
  static Result<EventSelector> create(sql::Db& db, Meta meta);
  // Events with seq > after, ascending, at most max; one short read transaction.
  Result<std::vector<Event>> read(std::int64_t after, std::size_t max);
  Result<JournalInfo> info();
  const Meta& meta() const { return meta_; }

 private:
  EventSelector(sql::Db& db, Meta meta) : db_(&db), meta_(std::move(meta)) {}
  Status refresh_names();
  Result<std::string> name_of(std::int64_t id, std::int64_t seq);
  Result<Event> decode(const sql::Stmt& row);

  sql::Db* db_;
  Meta meta_;
  sql::Stmt select_;
  sql::Stmt names_;
  std::unordered_map<std::int64_t, std::string> by_id_;
  std::int64_t max_name_id_ = 0;
};

// Checks what the journal needs of an event before it is accepted (error.validation).
// `seq` is the seq it is about to get; fields the journal fills are already filled.
// validate_for_append = validate_content, then validate_numbering.
Status validate_for_append(const Event& event);
// The checks that do not depend on the seq or on any field the journal fills: names, kinds, the
// fields each kind may carry, the payload (its size, and its JSON when it claims to be JSON) and
// the error. The costly part, so the journal runs it before it takes its mutex.
Status validate_content(const Event& event);
// The checks of the ids against the seq the event is about to get (task id, the token's ids, a
// restored task's new id); cheap, run under the mutex once the journal filled its fields.
Status validate_numbering(const Event& event);

// Turns an accepted, committed event (one that passed validate_for_append and was written by
// EventInserter) into exactly what EventSelector::decode returns for its row: the fields the row
// does not store are dropped (source_peer_id, the format of an absent payload), the token a
// LeaseGranted row implies is made explicit, and an error goes through its JSON column's
// encoding. The journal's in-memory reads (Journal::read_recent) rely on this; a test compares
// the two for every kind and every optional field.
void as_read_back(Event& event);

// Writes events on the writer connection. Not thread-safe: only the committing caller uses it (journal_impl.hpp).
class EventInserter {
 public:
  static Result<EventInserter> create(sql::Db& db, Meta meta);
  // Inserts `events` in one transaction, running `also` (more writes of the caller's) inside it
  // before the commit. All or nothing; after a rollback the names the transaction added are
  // dropped from the cache too, so a later row never points at a name id that does not exist.
  Status insert_all(const std::vector<Event>& events, const std::function<Status()>& also = {});
  // The same in a transaction the caller holds open (Journal::transaction): begin_rows(), then
  // insert_rows() for each group, then end_rows(committed?), which forgets the names interned
  // since begin_rows() if the transaction rolled back.
  void begin_rows() { uncommitted_names_.clear(); }
  Status insert_rows(const std::vector<Event>& events);
  void end_rows(bool committed);

 private:
  // Rows per INSERT statement, largest first: a batch is written 32 rows per statement, the rest
  // 8 and then 1 at a time. A multi-row INSERT updates the AUTOINCREMENT counter once per statement
  // instead of once per row and about halves SQLite's cost per row (docs/BENCHMARKS.md, follow).
  static constexpr std::array<std::size_t, 3> kRowsPerStatement{32, 8, 1};
  static_assert(kRowsPerStatement.back() == 1, "the last statement must take any remainder");

  EventInserter(sql::Db& db, Meta meta) : db_(&db), meta_(std::move(meta)) {}
  // Binds `events` into `insert` (prepared for exactly events.size() rows) and runs it.
  Status insert(sql::Stmt& insert, std::span<const Event> events);
  // Binds one event to parameters base+1 .. base+12, interning its names.
  Status bind_row(sql::Stmt& insert, int base, const Event& event);
  Result<std::int64_t> intern(const std::string& name);

  sql::Db* db_;
  Meta meta_;
  std::vector<sql::Stmt> inserts_;  // one per kRowsPerStatement entry, same order
  sql::Stmt insert_name_;
  std::unordered_map<std::string, std::int64_t> ids_;
  std::vector<std::string> uncommitted_names_;  // interned by the running insert_all()
};

}  // namespace hugo::rows
