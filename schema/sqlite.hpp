// The SQLite adapter: the only code that includes sqlite3.h. It owns connections and statements
// (RAII) and turns every SQLite failure into a hugo::Error whose code says what an operator can
// do about it (journal.full, journal.corrupt, journal.io, journal.busy, journal.read_only).
#pragma once

#include <hugo/error.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace hugo::sql {

// ReadOnlyImmutable opens with `immutable=1`: no locks, no -wal or -shm; only for a file that
// nothing can write (a journal closed cleanly in a folder this process cannot write).
enum class OpenMode { ReadWriteCreate, ReadWrite, ReadOnly, ReadOnlyImmutable };

// The storage class of a result column (SQLite's fundamental datatypes).
enum class ColumnType { Integer, Float, Text, Blob, Null };

// How much a WAL checkpoint may wait for and do (sqlite3_wal_checkpoint_v2): Passive never waits
// and copies what it can; Full waits for writers, then copies everything; Restart also waits for
// readers so that the next writer starts the WAL over; Truncate also truncates the -wal to 0 bytes.
enum class CheckpointMode { Passive, Full, Restart, Truncate };

// Maps an SQLite result code to a hugo Error. `what` is the operation ("commit", "open", ...).
// `system_errno` (sqlite3_system_errno) refines I/O errors: a write refused for want of space
// (ENOSPC, EDQUOT, EFBIG) is journal.full like SQLITE_FULL.
Error error_from_code(int rc, std::string_view what, std::string_view detail = {}, int system_errno = 0);

class Stmt;

// One connection. Not thread-safe; owned by exactly one thread at a time.
class Db {
 public:
  // error.validation, with nothing opened, for a busy_timeout below 0 or above INT_MAX ms.
  static Result<Db> open(const std::filesystem::path& path, OpenMode mode,
                         std::chrono::milliseconds busy_timeout);
  Db() = default;
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  ~Db();

  // Runs one or more statements with no results.
  Status exec(std::string_view sql);
  // BEGIN IMMEDIATE and COMMIT, from statements prepared once per connection: exec() parses its
  // text at every call, and these two run once per transaction (Transaction uses them).
  Status begin_immediate();
  Status commit();
  Result<Stmt> prepare(std::string_view sql);
  // Runs a single-value query (e.g. a PRAGMA) and returns column 0 of the first row.
  Result<std::int64_t> query_int(std::string_view sql);

  std::int64_t last_insert_rowid() const;
  Error last_error(std::string_view what) const;
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Installs a WAL hook: after each commit `fn(ctx, wal_pages)` runs on the committing thread.
  void set_wal_hook(int (*fn)(void*, sqlite3*, const char*, int), void* ctx);
  // A checkpoint of "main" in `mode`. A busy checkpoint is not an error. The optional outputs get
  // the WAL's size in frames and how many of them are now copied into the database (both -1 if
  // the checkpoint could not run).
  Status checkpoint(CheckpointMode mode, int* log_frames = nullptr, int* backfilled = nullptr);

 private:
  Status run_prepared(sqlite3_stmt*& slot, const char* sql);
  void close();

  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  sqlite3_stmt* begin_immediate_ = nullptr;  // prepared on first use; finalized by close()
  sqlite3_stmt* commit_ = nullptr;
};

// A prepared statement. Bind indexes are 1-based, column indexes 0-based.
class Stmt {
 public:
  Stmt() = default;
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  ~Stmt();

  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, std::string_view text);
  Stmt& bind_blob(int index, std::string_view bytes);
  // Binds `bytes` without a copy: they must stay valid and unchanged until reset() (run() resets).
  Stmt& bind_blob_unowned(int index, std::string_view bytes);
  Stmt& bind_null(int index);
  Stmt& bind_double(int index, double value);

  // Advances: true if a row is available, false when done, or the Error.
  Result<bool> step();
  // Steps to completion, expecting no rows.
  Status run();
  // run() for a statement whose every parameter is bound again before each run: the bindings are
  // kept (an unowned blob then stays bound, unread, until it is replaced), which spares clearing
  // them per row.
  Status run_rebound();
  void reset();

  bool is_null(int column) const;
  std::int64_t column_int(int column) const;
  std::string_view column_text(int column) const;
  std::string_view column_blob(int column) const;
  ColumnType column_type(int column) const;
  int column_count() const;
  double column_double(int column) const;

 private:
  friend class Db;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// RAII transaction: BEGIN IMMEDIATE / DEFERRED on construction via begin(), ROLLBACK on
// destruction unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db, bool immediate);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_ = nullptr;
};

}  // namespace hugo::sql
