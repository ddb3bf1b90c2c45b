// Benchmark support for bench/peers: a bare SQLite jobs table, the queue a user writes in an
// afternoon. A fresh database per run in a fresh scratch folder, WAL, SQLite's default
// checkpointing, synchronous FULL (the Fsync tier) or NORMAL (the Process tier: a commit is in
// the WAL file, written but not synced). One connection per thread, busy_timeout 5 s:
//   CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload BLOB NOT NULL, owner TEXT, leased_until INTEGER)
//   enqueue  INSERT INTO jobs (payload) VALUES (?1)       (a batch: n INSERTs in BEGIN IMMEDIATE..COMMIT)
//   lease    UPDATE jobs SET owner = ?1, leased_until = ?2 WHERE id IN
//              (SELECT id FROM jobs WHERE owner IS NULL ORDER BY id LIMIT ?3) RETURNING id
//   complete DELETE FROM jobs WHERE id = ?1                (a batch: n DELETEs in one transaction)
// A lease that finds no row sleeps 1 ms before the next poll.
#pragma once

#include "bench/support/journal.hpp"
#include "bench/support/peer_cycle.hpp"
#include "bench/support/raw_sqlite.hpp"

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace hugo_bench {

class SqliteSession {
 public:
  SqliteSession(std::string_view program, const std::string& path, bool full, std::string owner,
                std::size_t payload_bytes)
      : db_(std::string(program), path, SQLITE_OPEN_READWRITE),
        owner_(std::move(owner)),
        payload_(alphabet_payload(payload_bytes)) {
    db_.exec(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    begin_ = db_.prepare("BEGIN IMMEDIATE");
    commit_ = db_.prepare("COMMIT");
    insert_ = db_.prepare("INSERT INTO jobs (payload) VALUES (?1)");
    lease_ = db_.prepare(
        "UPDATE jobs SET owner = ?1, leased_until = ?2 WHERE id IN "
        "(SELECT id FROM jobs WHERE owner IS NULL ORDER BY id LIMIT ?3) RETURNING id");
    delete_ = db_.prepare("DELETE FROM jobs WHERE id = ?1");
    sqlite3_bind_blob64(insert_, 1, payload_.data(), payload_.size(), SQLITE_STATIC);
    sqlite3_bind_text(lease_, 1, owner_.c_str(), -1, SQLITE_STATIC);
  }

  bool enqueue(std::size_t n, const std::stop_token&) {
    if (n > 1) db_.step_done(begin_, "BEGIN IMMEDIATE");
    for (std::size_t i = 0; i < n; ++i) db_.step_done(insert_, "INSERT");
    if (n > 1) db_.step_done(commit_, "COMMIT");
    return true;
  }
  std::size_t lease(std::size_t n, const std::stop_token&) {
    ids_.clear();
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    sqlite3_bind_int64(lease_, 2, std::chrono::duration_cast<std::chrono::microseconds>(now).count() + 30'000'000);
    sqlite3_bind_int64(lease_, 3, static_cast<sqlite3_int64>(n));
    int rc;
    while ((rc = sqlite3_step(lease_)) == SQLITE_ROW) ids_.push_back(sqlite3_column_int64(lease_, 0));
    sqlite3_reset(lease_);
    if (rc != SQLITE_DONE) db_.die("UPDATE ... RETURNING");
    if (ids_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return ids_.size();
  }
  void complete() {
    if (ids_.size() > 1) db_.step_done(begin_, "BEGIN IMMEDIATE");
    for (const std::int64_t id : ids_) {
      sqlite3_bind_int64(delete_, 1, id);
      db_.step_done(delete_, "DELETE");
    }
    if (ids_.size() > 1) db_.step_done(commit_, "COMMIT");
  }

 private:
  RawDb db_;
  std::string owner_;
  std::string payload_;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* lease_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  std::vector<std::int64_t> ids_;
};

// One run of the cycle on a fresh jobs table at synchronous FULL (fsync) or NORMAL.
inline CycleResult run_sqlite(std::string_view program, bool fsync, CycleSetup setup, std::size_t payload_bytes) {
  PeerDir dir(program, "hugo-bench-peers-sqlite");
  const std::string path = (dir / "jobs.db").string();
  {
    RawDb db(std::string(program), path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload BLOB NOT NULL, owner TEXT, leased_until INTEGER)");
  }
  setup.bounded_by_system = false;
  setup.server = -1;
  return run_cycle<SqliteSession>(
      program, std::string("sqlite synchronous ") + (fsync ? "FULL" : "NORMAL"), setup, [&](bool producer, int index) {
        return std::make_unique<SqliteSession>(program, path, fsync,
                                               session_name(producer, index),
                                               payload_bytes);
      });
}

}  // namespace hugo_bench
