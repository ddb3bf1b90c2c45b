// Mapping between hugo::Event and the `events` row format (docs/FORMAT.md). Shared by the
// writer (EventInserter) and every reader (EventSelector), so the format is defined once.
#pragma once

#include "journal/sqlite.hpp"

#include <hugo/event.hpp>
#include <hugo/journal.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace hugo::rows {

// Row flag bits above Hugo's lifecycle flags. PERSISTED; append only.
inline constexpr std::uint32_t kLifecycleMask = 0xff;
inline constexpr std::uint32_t kPayloadJson = 0x100;       // payload is UTF-8 JSON text
inline constexpr std::uint32_t kTokenPrevAttempt = 0x200;  // token.attempt == attempt - 1

// Per-journal constants from the `meta` table.
struct Meta {
  std::string journal_id;
  std::int64_t time_base_us = 0;  // `at` is stored relative to this
  int schema_version = 0;
};

Result<Meta> load_meta(sql::Db& db, int schema_version);
// Creates the meta rows of a new journal (inside the caller's transaction).
Status init_meta(sql::Db& db, Timestamp now);

// Highest seq ever issued: sqlite_sequence survives deletion of the tail.
Result<std::int64_t> last_issued_seq(sql::Db& db);

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
Status validate_for_append(const Event& event);

// Writes events on the writer connection. Not thread-safe: the writer thread owns it.
class EventInserter {
 public:
  static Result<EventInserter> create(sql::Db& db, Meta meta);
  Status insert(const Event& event);

 private:
  EventInserter(sql::Db& db, Meta meta) : db_(&db), meta_(std::move(meta)) {}
  Result<std::int64_t> intern(const std::string& name);

  sql::Db* db_;
  Meta meta_;
  sql::Stmt insert_;
  sql::Stmt insert_name_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

}  // namespace hugo::rows
