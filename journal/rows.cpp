// The `meta` table of a journal (docs/FORMAT.md): its identity (journal_id, the time base that
// `at` is stored against, created_at), the last writer's durability and a replica's role and
// position. Written inside the caller's transaction; load_meta refuses a table that lacks the
// identity. The row codec itself is in rows_decode.cpp and rows_encode.cpp.
#include "journal/rows.hpp"
#include "schema/file_probe.hpp"

#include "core/hex.hpp"

#include <hugo/error_codes.hpp>

#include <random>

namespace hugo::rows {
namespace {

std::string random_journal_id() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> nibble(0, 15);
  std::string id(32, '0');
  for (char& c : id) c = hex::kLower[nibble(device)];
  return id;
}

}  // namespace

Status init_meta(sql::Db& db, Timestamp now, const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t existing, db.query_int("SELECT count(*) FROM meta WHERE key = 'journal_id'"));
  if (existing != 0) return ok_status();
  HUGO_ASSIGN_OR_RETURN(sql::Stmt put, db.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)"));
  HUGO_TRY(put.bind(1, std::string_view("journal_id")).bind(2, journal_id.empty() ? random_journal_id() : journal_id).run());
  HUGO_TRY(put.bind(1, std::string_view("time_base_us")).bind(2, now.time_since_epoch().count()).run());
  HUGO_TRY(put.bind(1, std::string_view("created_at")).bind(2, format_iso8601(now)).run());
  return ok_status();
}

Status check_journal_file(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  return file_probe::check(path, file_probe::Intent::Read, busy_timeout);
}

Status record_durability(sql::Db& db, std::string_view durability) { return put_meta(db, "durability", durability); }

Status put_meta(sql::Db& db, std::string_view key, std::string_view value) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt put, db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"));
  return put.bind(1, key).bind(2, value).run();
}

Status put_meta(sql::Db& db, std::string_view key, std::int64_t value) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt put, db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"));
  return put.bind(1, key).bind(2, value).run();
}

Status refuse_replica(sql::Db& db) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t replicas, db.query_int("SELECT count(*) FROM meta WHERE key = 'role' AND value = 'replica'"));
  if (replicas == 0) return ok_status();
  return Error::journal_replica(db.path().string() + " is a replica that a follower keeps in step with its owner; "
               "promote it first (hugo-journal promote) to write to it")
      .with("path", db.path().string());
}

Result<Meta> load_meta(sql::Db& db, int schema_version) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt get, db.prepare("SELECT key, value FROM meta"));
  Meta meta;
  meta.schema_version = schema_version;
  bool have_base = false;
  while (true) {
    HUGO_ASSIGN_OR_RETURN(bool row, get.step());
    if (!row) break;
    const std::string_view key = get.column_text(0);
    if (key == "journal_id") meta.journal_id = std::string(get.column_text(1));
    if (key == "durability") meta.durability = std::string(get.column_text(1));
    if (key == "created_at") meta.created_at = std::string(get.column_text(1));
    if (key == "role") meta.role = std::string(get.column_text(1));
    if (key == "epoch") meta.epoch = get.column_int(1);
    if (key == "epoch_history") meta.epoch_history = std::string(get.column_text(1));
    if (key == "replica_seq") meta.replica_seq = get.column_int(1);
    if (key == "replica_hash") meta.replica_hash = std::string(get.column_text(1));
    if (key == "time_base_us") {
      meta.time_base_us = get.column_int(1);
      have_base = true;
    }
  }
  if (meta.journal_id.empty() || !have_base) {
    return Error::journal_corrupt("journal meta table lacks journal_id or time_base_us (restore from a replica)")
        .with("path", db.path().string());
  }
  return meta;
}

Result<std::int64_t> last_issued_seq(sql::Db& db) {
  return db.query_int("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)");
}

}  // namespace hugo::rows
