// Benchmark support: the raw SQLite ceilings. A ceiling does what the journal does, with the
// sqlite3 C API and nothing else: the same tables (the library's own DDL, schema/schema.hpp), the
// same INSERT, the same pragmas. Every SQLite failure ends the program through fail().
#pragma once

#include "bench/support/cpu.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"
#include "schema/schema.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hugo_bench {

// The journal's insert statement (journal/rows_encode.cpp); seq is bound explicitly, as its writer does.
inline constexpr const char* kJournalInsert =
    "INSERT INTO events (seq, kind, queue, task, attempt, at, lease, peer, expires, flags, error, payload) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

// Every column of every row of the journal's events table, for raw_scan.
inline constexpr const char* kJournalFullScan =
    "SELECT seq, kind, queue, task, attempt, at, lease, peer, expires, flags, error, payload FROM events";

// One raw SQLite connection. Prepared statements are finalized with the connection.
class RawDb {
 public:
  RawDb(std::string program, const std::string& path, int flags) : program_(std::move(program)), path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) die("open");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() {
    for (sqlite3_stmt* s : stmts_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  sqlite3* handle() const { return db_; }

  [[noreturn]] void die(const std::string& what) const {
    fail(program_, "raw sqlite (" + path_ + "): " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "no connection"));
  }
  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string detail = message ? message : "";
      sqlite3_free(message);
      die(sql + " (" + detail + ")");
    }
  }
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      die("prepare " + sql);
    }
    stmts_.push_back(s);
    return s;
  }
  std::int64_t query_int(const std::string& sql) {
    sqlite3_stmt* s = prepare(sql);
    if (sqlite3_step(s) != SQLITE_ROW) die(sql);
    const std::int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return v;
  }
  void step_done(sqlite3_stmt* s, const char* what) {
    if (sqlite3_step(s) != SQLITE_DONE) die(what);
    sqlite3_reset(s);
  }

  // The journal's tables, empty: every migration of schema/schema.hpp, in order.
  void create_journal_schema() {
    for (const std::string_view ddl : hugo::schema::kMigrations) exec(std::string(ddl));
  }

  // Creates the journal's empty tables and interns `names_values` (the VALUES list of an INSERT
  // INTO names (id, name)) in one transaction.
  void create_journal_tables(const std::string& names_values) {
    exec("BEGIN IMMEDIATE");
    create_journal_schema();
    exec("INSERT INTO names (id, name) VALUES " + names_values);
    exec("COMMIT");
  }

  // WAL, synchronous FULL or NORMAL, and the journal's checkpoint policy with default
  // JournalOptions (auto-checkpoint off in the journal, which runs a PASSIVE checkpoint once the
  // WAL holds 16 MiB; here SQLite's auto-checkpoint at the same size), journal_size_limit 64 MiB.
  void configure_like_journal(bool full) {
    sqlite3_stmt* mode = prepare("PRAGMA journal_mode = WAL");
    const bool stepped = sqlite3_step(mode) == SQLITE_ROW;
    const auto* text = stepped ? reinterpret_cast<const char*>(sqlite3_column_text(mode, 0)) : nullptr;
    if (text == nullptr || std::string_view(text) != "wal") die("could not switch to WAL mode");
    sqlite3_reset(mode);
    exec(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    const std::int64_t page_size = query_int("PRAGMA page_size");
    exec("PRAGMA wal_autocheckpoint = " + std::to_string((std::int64_t{16} << 20) / page_size));
    exec("PRAGMA journal_size_limit = " + std::to_string(std::int64_t{64} << 20));
  }

 private:
  std::string program_;
  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> stmts_;
};

// The result of a raw full scan of a journal's events table.
struct RawScan {
  std::int64_t rows = 0;
  std::int64_t checksum = 0;  // folds every column read, so nothing is optimized away
  double seconds = 0;         // open + prepare + step every row + close
};

// Opens `path` read-only, steps `select` (columns: integers, then optionally text/blob) over every
// row reading each of its columns, and closes. Timed from before the open to after the close.
inline RawScan raw_scan(std::string_view program, const std::string& path, const std::string& select) {
  RawScan scan;
  const auto start = SteadyClock::now();
  {
    RawDb db(std::string(program), path, SQLITE_OPEN_READONLY);
    sqlite3_stmt* s = db.prepare(select);
    const int columns = sqlite3_column_count(s);
    while (true) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) db.die("step " + select);
      ++scan.rows;
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(s, c)) {
          case SQLITE_INTEGER: scan.checksum += sqlite3_column_int64(s, c); break;
          case SQLITE_TEXT:
          case SQLITE_BLOB: {
            const void* bytes = sqlite3_column_blob(s, c);
            const int n = sqlite3_column_bytes(s, c);
            scan.checksum += n + (n > 0 ? static_cast<const unsigned char*>(bytes)[0] : 0);
            break;
          }
          default: break;  // NULL
        }
      }
    }
    sqlite3_reset(s);
  }
  scan.seconds = seconds_since(start);
  return scan;
}

// The result of raw_insert_run.
struct RawInserts {
  bool full = true;
  std::size_t batch = 1;
  std::int64_t rows = 0;
  std::int64_t commits = 0;
  double seconds = 0;
  double cpu_s = 0;   // CPU time of the inserting thread over the same `seconds`
  Summary commit_us;  // BEGIN .. COMMIT of each transaction
  double rate() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

// The write ceiling: a fresh database at `path` with the journal's tables, pragmas
// (configure_like_journal(full)) and names (`names_values`, see create_journal_tables), then for
// `budget` seconds one thread inserting rows with the journal's INSERT, `batch` rows per
// transaction, BEGIN IMMEDIATE, INSERT and COMMIT each prepared once. bind_row(insert, seq, at)
// binds every parameter of row `seq` (1, 2, ...), `at` being microseconds since the start.
template <class BindRow>
RawInserts raw_insert_run(std::string_view program, const std::string& path, bool full, std::size_t batch,
                          double budget, const std::string& names_values, BindRow&& bind_row) {
  RawDb raw(std::string(program), path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  raw.configure_like_journal(full);
  raw.create_journal_tables(names_values);
  sqlite3_stmt* begin = raw.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* commit = raw.prepare("COMMIT");
  sqlite3_stmt* insert = raw.prepare(kJournalInsert);

  RawInserts result;
  result.full = full;
  result.batch = batch;
  std::vector<double> commit_us;
  commit_us.reserve(1 << 16);
  std::int64_t seq = 0;
  const double cpu_start = this_thread_cpu_seconds(program);
  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(budget));
  auto now = start;
  while (now < deadline) {
    const auto t0 = now;
    raw.step_done(begin, "BEGIN IMMEDIATE");
    for (std::size_t i = 0; i < batch; ++i) {
      ++seq;
      bind_row(insert, seq, std::chrono::duration_cast<std::chrono::microseconds>(now - start).count());
      raw.step_done(insert, "INSERT");
    }
    raw.step_done(commit, "COMMIT");
    now = SteadyClock::now();
    commit_us.push_back(micros_between(t0, now));
    result.rows += static_cast<std::int64_t>(batch);
    ++result.commits;
  }
  result.seconds = micros_between(start, now) / 1e6;
  result.cpu_s = this_thread_cpu_seconds(program) - cpu_start;
  result.commit_us = summarize(commit_us);
  return result;
}

}  // namespace hugo_bench
