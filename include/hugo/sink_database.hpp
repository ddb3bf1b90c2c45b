// hugo::SinkDatabase: the SQLite database a sink keeps its own state in: its tables, its
// checkpoints, its effect records. It is never the journal file, so sinks never contend with the
// journal's writer.
//
// SQL is always constant text written by the sink's author; values are bound as parameters. No
// SQL is ever built from event data. Not thread-safe: one sink (one thread) per database handle.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/sql_value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hugo {

struct SinkDatabaseOptions {
  // What a commit survives; a sink stays exactly-once at either level. Match the journal's level,
  // and keep Fsync for a database whose commits stand for acts on the outside world
  // (docs/REPLICATION.md, "The sink database's durability").
  Durability durability = Durability::Fsync;
  // WAL checkpoints, as in the journal: in the background once the WAL holds wal_checkpoint_bytes
  // (0: default_wal_checkpoint_bytes(durability)), blocking on the committing thread past
  // wal_limit_bytes (docs/REPLICATION.md, "The sink database's durability").
  std::uint64_t wal_checkpoint_bytes = 0;
  std::uint64_t wal_limit_bytes = 64u << 20;
  // How long its connections wait for another connection's SQLite lock before journal.busy.
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;
  // Only read an existing database: never creates it or switches it to WAL, runs no checkpoints,
  // and writes fail (journal.read_only); a missing file is journal.not_found
  // (docs/REPLICATION.md, "The sink database's durability").
  bool read_only = false;
};

class HUGO_API SinkDatabase {
 public:
  // Creates or opens the database in WAL mode at the options' durability (or only reads it:
  // SinkDatabaseOptions::read_only).
  static Result<std::shared_ptr<SinkDatabase>> open(const std::filesystem::path& path,
                                                    SinkDatabaseOptions options = {});
  ~SinkDatabase();
  SinkDatabase(const SinkDatabase&) = delete;
  SinkDatabase& operator=(const SinkDatabase&) = delete;

  // Runs one statement with bound parameters (?1, ?2, ...). Statements are cached by text.
  Status execute(std::string_view sql, std::initializer_list<SqlValue> params = {});
  Status execute(std::string_view sql, const std::vector<SqlValue>& params);
  // Runs one query and returns every row.
  Result<std::vector<SqlRow>> query(std::string_view sql, std::initializer_list<SqlValue> params = {});
  // Runs several statements with no parameters (schema creation).
  Status execute_script(std::string_view sql);

  // Runs `body` inside BEGIN IMMEDIATE .. COMMIT; rolls back if it fails. Nested calls join the
  // outer transaction.
  Status transaction(const std::function<Status()>& body);
  bool in_transaction() const;

  const std::filesystem::path& path() const;

  struct Impl;

 private:
  explicit SinkDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Helpers to read result columns: the wrong type reads as the default.
HUGO_API std::int64_t sql_int(const SqlValue& v);
HUGO_API std::string sql_text(const SqlValue& v);
HUGO_API bool sql_is_null(const SqlValue& v);

}  // namespace hugo
