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

struct SqlBlob {
  std::string bytes;
};

// A bound parameter or a result column.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string, SqlBlob>;
using SqlRow = std::vector<SqlValue>;

struct SinkDatabaseOptions {
  // Fsync (synchronous=FULL) makes every committed transaction survive power loss; Process
  // (synchronous=NORMAL) saves the fsync per commit, and a power loss can then undo the last
  // commits. Either way a sink's own rows and its checkpoint commit or vanish together, so a sink
  // stays exactly-once and simply re-applies the undone events from the journal. Match the
  // journal's level: a Process journal can itself lose the last events on power loss, and a
  // sink that keeps them past its journal would then be ahead of it. Process is also unsafe for a
  // sink whose apply() acts on the outside world after its commit (the record of the act could
  // vanish while the act happened).
  Durability durability = Durability::Fsync;
  // SQLite's auto-checkpoint is replaced, as in the journal: once the WAL holds
  // wal_checkpoint_bytes (0: default_wal_checkpoint_bytes(durability), at most three quarters of
  // wal_limit_bytes), a background thread checkpoints it while commits go on; past
  // wal_limit_bytes the committing thread runs a blocking one (see JournalOptions).
  std::uint64_t wal_checkpoint_bytes = 0;
  std::uint64_t wal_limit_bytes = 64u << 20;
  // How long its connections wait for another connection's SQLite lock before journal.busy.
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;
  // Opens an existing database to read it, as a tool inspecting a sink does: never creates the
  // file, never switches it to WAL, runs no checkpoints, and writes fail (journal.read_only). A
  // missing file is journal.not_found; in a folder this process cannot write, a database closed
  // cleanly is still read.
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
