// Benchmark support: the raw SQLite ceiling of replication (follow): a copy of the journal's tables
// into which batches of events are inserted as a replica would store them.
#pragma once

#include "bench/support/raw_sqlite.hpp"

#include <hugo/event.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace hugo_bench {

// A raw SQLite copy of the journal's tables (WAL, synchronous=NORMAL like a replica), into which
// batches of events are inserted with a position row, one transaction per batch: what a follower
// writes, without its checks. Names are not interned: queue ids are 1 + (name length % 4), owner 1.
class RawReplica {
 public:
  RawReplica(std::string_view program, const std::filesystem::path& path)
      : db_(std::string(program), path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    db_.configure_like_journal(false);
    db_.create_journal_schema();
    insert_ = db_.prepare(kJournalInsert);
    position_ = db_.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('replica_seq', ?1)");
    begin_ = db_.prepare("BEGIN IMMEDIATE");
    commit_ = db_.prepare("COMMIT");
  }

  void apply(const std::vector<hugo::Event>& events) {
    if (events.empty()) return;
    db_.step_done(begin_, "BEGIN");
    for (const hugo::Event& e : events) {
      sqlite3_bind_int64(insert_, 1, e.seq);
      sqlite3_bind_int64(insert_, 2, static_cast<std::int64_t>(e.kind));
      sqlite3_bind_int64(insert_, 3, 1 + static_cast<std::int64_t>(e.queue.size() % 4));
      bind_optional(4, e.task_id != 0, e.task_id);
      sqlite3_bind_int64(insert_, 5, e.attempt);
      sqlite3_bind_int64(insert_, 6, e.occurred_at.time_since_epoch().count());
      bind_optional(7, e.token.has_value(), e.token ? e.token->lease_id : 0);
      bind_optional(8, e.owner_peer_id.has_value(), 1);
      bind_optional(9, e.lease_expiration.has_value(),
                    e.lease_expiration ? e.lease_expiration->time_since_epoch().count() : 0);
      sqlite3_bind_int64(insert_, 10, e.flags);
      sqlite3_bind_null(insert_, 11);
      if (e.payload) {
        sqlite3_bind_blob(insert_, 12, e.payload->data(), static_cast<int>(e.payload->size()), SQLITE_STATIC);
      } else {
        sqlite3_bind_null(insert_, 12);
      }
      db_.step_done(insert_, "INSERT");
    }
    sqlite3_bind_int64(position_, 1, events.back().seq);
    db_.step_done(position_, "position");
    db_.step_done(commit_, "COMMIT");
  }
  std::int64_t rows() { return db_.query_int("SELECT count(*) FROM events"); }

 private:
  void bind_optional(int column, bool present, std::int64_t value) {
    if (present) {
      sqlite3_bind_int64(insert_, column, value);
    } else {
      sqlite3_bind_null(insert_, column);
    }
  }

  RawDb db_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* position_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
};

}  // namespace hugo_bench
