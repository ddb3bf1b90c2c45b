#include "schema/sqlite.hpp"

#include "core/hex.hpp"

#include <hugo/error_codes.hpp>

#include <sqlite3.h>

#include <cerrno>
#include <limits>
#include <string>
#include <utility>

namespace hugo::sql {

namespace {

bool out_of_space(int system_errno) {
  return system_errno == ENOSPC || system_errno == EDQUOT || system_errno == EFBIG;
}

// Percent-encodes the characters a `file:` URI gives a meaning to.
std::string uri_path(const std::string& path) {
  std::string out;
  for (const char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      out += '%';
      hex::append_byte(out, static_cast<unsigned char>(c), hex::kUpper);
    } else {
      out += c;
    }
  }
  return out;
}

int checkpoint_constant(CheckpointMode mode) {
  switch (mode) {
    case CheckpointMode::Passive: return SQLITE_CHECKPOINT_PASSIVE;
    case CheckpointMode::Full: return SQLITE_CHECKPOINT_FULL;
    case CheckpointMode::Restart: return SQLITE_CHECKPOINT_RESTART;
    case CheckpointMode::Truncate: return SQLITE_CHECKPOINT_TRUNCATE;
  }
  return SQLITE_CHECKPOINT_PASSIVE;
}

ColumnType column_type_of(int type) {
  switch (type) {
    case SQLITE_INTEGER: return ColumnType::Integer;
    case SQLITE_FLOAT: return ColumnType::Float;
    case SQLITE_TEXT: return ColumnType::Text;
    case SQLITE_BLOB: return ColumnType::Blob;
    default: return ColumnType::Null;
  }
}

}  // namespace

Error error_from_code(int rc, std::string_view what, std::string_view detail, int system_errno) {
  const int primary = rc & 0xff;
  std::string_view code = errc::journal_io;
  std::string advice;
  switch (primary) {
    case SQLITE_FULL:
      code = errc::journal_full;
      advice = "the disk or the journal's page cap is full; free space, then reopen the journal";
      break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
      code = errc::journal_corrupt;
      advice = "the file is not a hugo journal or is damaged; check the path, or restore it from a replica";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = errc::journal_busy;
      advice = "another connection held a lock for too long; retry";
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      code = errc::journal_read_only;
      advice = "the file or its folder is not writable by this process";
      break;
    case SQLITE_CANTOPEN:
      code = errc::journal_io;
      advice = "the file or its folder cannot be opened; check the path and permissions";
      break;
    default:
      code = errc::journal_io;
      advice = "an I/O error occurred; check the disk, then reopen the journal";
      break;
  }
  if (primary == SQLITE_IOERR && out_of_space(system_errno)) {
    code = errc::journal_full;
    advice = "the disk, or this process's file size limit, is full; free space, then reopen the journal";
  }
  if (rc == SQLITE_READONLY_DBMOVED) {
    code = errc::journal_replaced;
    advice = "the journal file was moved, deleted or replaced while open; reopen it";
  }
  std::string message(what);
  message += " failed: ";
  message += detail.empty() ? std::string(sqlite3_errstr(rc)) : std::string(detail);
  message += " (";
  message += advice;
  message += ")";
  Error error(std::string(code), std::move(message));
  error.with("sqlite_code", std::to_string(rc)).with("stage", std::string(what));
  if (primary == SQLITE_IOERR && system_errno != 0) error.with("errno", std::to_string(system_errno));
  return error;
}

Result<Db> Db::open(const std::filesystem::path& path, OpenMode mode,
                    std::chrono::milliseconds busy_timeout) {
  if (busy_timeout.count() < 0 || busy_timeout.count() > std::numeric_limits<int>::max()) {
    return Error::validation("busy_timeout must be between 0 and " + std::to_string(std::numeric_limits<int>::max()) +
                             " ms (the SQLite lock wait); nothing was opened")
        .with("busy_timeout_ms", std::to_string(busy_timeout.count()))
        .with("path", path.string());
  }
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case OpenMode::ReadWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case OpenMode::ReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case OpenMode::ReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case OpenMode::ReadOnlyImmutable: flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI; break;
  }
  Db db;
  db.path_ = path;
  const std::string name = mode == OpenMode::ReadOnlyImmutable ? "file:" + uri_path(path.string()) + "?immutable=1"
                                                               : path.string();
  const int rc = sqlite3_open_v2(name.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = db.db_ ? error_from_code(sqlite3_extended_errcode(db.db_), "open", sqlite3_errmsg(db.db_),
                                           sqlite3_system_errno(db.db_))
                         : error_from_code(rc, "open");
    return std::move(error).with("path", path.string());
  }
  sqlite3_extended_result_codes(db.db_, 1);
  sqlite3_busy_timeout(db.db_, static_cast<int>(busy_timeout.count()));
  return db;
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      begin_immediate_(std::exchange(other.begin_immediate_, nullptr)),
      commit_(std::exchange(other.commit_, nullptr)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    begin_immediate_ = std::exchange(other.begin_immediate_, nullptr);
    commit_ = std::exchange(other.commit_, nullptr);
  }
  return *this;
}

Db::~Db() { close(); }

void Db::close() {
  sqlite3_finalize(std::exchange(begin_immediate_, nullptr));  // a no-op on nullptr
  sqlite3_finalize(std::exchange(commit_, nullptr));
  if (db_) sqlite3_close_v2(std::exchange(db_, nullptr));
}

Status Db::begin_immediate() { return run_prepared(begin_immediate_, "BEGIN IMMEDIATE"); }
Status Db::commit() { return run_prepared(commit_, "COMMIT"); }

Status Db::run_prepared(sqlite3_stmt*& slot, const char* sql) {
  if (!slot && sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot, nullptr) != SQLITE_OK) {
    return last_error("prepare");
  }
  if (sqlite3_step(slot) == SQLITE_DONE) {
    sqlite3_reset(slot);
    return ok_status();
  }
  // Read before the reset, which may change what the connection reports.
  Error error = error_from_code(sqlite3_extended_errcode(db_), "exec", sqlite3_errmsg(db_), sqlite3_system_errno(db_))
                    .with("path", path_.string());
  sqlite3_reset(slot);
  return error;
}

Error Db::last_error(std::string_view what) const {
  return error_from_code(sqlite3_extended_errcode(db_), what, sqlite3_errmsg(db_), sqlite3_system_errno(db_))
      .with("path", path_.string());
}

Status Db::exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return error_from_code(sqlite3_extended_errcode(db_), "exec", detail, sqlite3_system_errno(db_))
        .with("path", path_.string());
  }
  return ok_status();
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return last_error("prepare");
  return Stmt(stmt, db_);
}

Result<std::int64_t> Db::query_int(std::string_view sql) {
  HUGO_ASSIGN_OR_RETURN(Stmt stmt, prepare(sql));
  HUGO_ASSIGN_OR_RETURN(bool row, stmt.step());
  if (!row) return std::int64_t{0};
  return stmt.column_int(0);
}

std::int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

void Db::set_wal_hook(int (*fn)(void*, sqlite3*, const char*, int), void* ctx) {
  sqlite3_wal_hook(db_, fn, ctx);
}

Status Db::checkpoint(CheckpointMode mode, int* log_frames, int* backfilled) {
  const int rc = sqlite3_wal_checkpoint_v2(db_, "main", checkpoint_constant(mode), log_frames, backfilled);
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) return last_error("wal checkpoint");
  return ok_status();
}

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(std::exchange(other.db_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Stmt& Stmt::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob must still be a blob, not NULL: sqlite3 treats a null pointer as NULL.
  static const char kEmpty = 0;
  sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind_blob_unowned(int index, std::string_view bytes) {
  static const char kEmpty = 0;  // as in bind_blob: a zero-length blob is still a blob
  sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(), SQLITE_STATIC);
  return *this;
}

Stmt& Stmt::bind_double(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error error = error_from_code(sqlite3_extended_errcode(db_), "step", sqlite3_errmsg(db_), sqlite3_system_errno(db_));
  sqlite3_reset(stmt_);
  return error;
}

Status Stmt::run() {
  auto stepped = step();
  reset();
  if (!stepped.ok()) return std::move(stepped).error();
  return ok_status();
}

Status Stmt::run_rebound() {
  auto stepped = step();
  sqlite3_reset(stmt_);
  if (!stepped.ok()) return std::move(stepped).error();
  return ok_status();
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Stmt::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Stmt::column_int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string_view Stmt::column_text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return text ? std::string_view(text, static_cast<std::size_t>(size)) : std::string_view();
}

std::string_view Stmt::column_blob(int column) const {
  const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return blob ? std::string_view(blob, static_cast<std::size_t>(size)) : std::string_view();
}

ColumnType Stmt::column_type(int column) const { return column_type_of(sqlite3_column_type(stmt_, column)); }

int Stmt::column_count() const { return sqlite3_column_count(stmt_); }

double Stmt::column_double(int column) const { return sqlite3_column_double(stmt_, column); }

Result<Transaction> Transaction::begin(Db& db, bool immediate) {
  HUGO_TRY(immediate ? db.begin_immediate() : db.exec("BEGIN DEFERRED"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Db* db = std::exchange(db_, nullptr);
  Status status = db->commit();
  if (!status.ok()) (void)db->exec("ROLLBACK");
  return status;
}

}  // namespace hugo::sql
