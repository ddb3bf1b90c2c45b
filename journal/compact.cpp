// compact_journal: drops the rows of finished tasks below a position, never renumbering.
#include <hugo/error_codes.hpp>
#include <hugo/journal_admin.hpp>

#include "schema/sqlite.hpp"
#include "schema/wal_files.hpp"
#include "schema/writer_lock.hpp"
#include "schema/schema.hpp"

namespace hugo {
namespace {

std::uint64_t bytes_on_disk(const std::filesystem::path& journal) {
  std::error_code ec;
  std::uint64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    const auto size = std::filesystem::file_size(journal.string() + suffix, ec);
    if (!ec) total += size;
  }
  return total;
}

}  // namespace

Result<CompactResult> compact_journal(const std::filesystem::path& journal, std::int64_t below_seq, ProgressFn progress,
                                      std::chrono::milliseconds busy_timeout, Duration key_retention) {
  if (key_retention < Duration::zero()) {
    return Error::validation("compact_journal: key_retention is negative").with("key_retention_us", std::to_string(key_retention.count()));
  }
  std::error_code ec;
  if (!std::filesystem::exists(journal, ec)) {
    return Error::journal_not_found("no journal at " + journal.string() + " (check the path)")
        .with("path", journal.string());
  }
  HUGO_ASSIGN_OR_RETURN(WriterLock lock, WriterLock::acquire(journal));
  HUGO_TRY(wal_files::check_wal_not_truncated(journal));
  CompactResult result;
  result.below_seq = below_seq;
  result.bytes_before = bytes_on_disk(journal);
  HUGO_ASSIGN_OR_RETURN(sql::Db db, sql::Db::open(journal, sql::OpenMode::ReadWrite, busy_timeout));
  HUGO_TRY(schema::check_readable(db));
  if (progress) progress(0, 3);
  {
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(db, true));
    HUGO_TRY(db.exec("CREATE TEMP TABLE IF NOT EXISTS doomed (task INTEGER PRIMARY KEY); DELETE FROM doomed;"));
    // A task is finished when its last row is Completed (3), Drained (8) or Canceled (10); it goes only if that
    // last row, and so every row of it, lies below the position. The task holding the newest row
    // always stays, so the highest seq ever issued survives in the rows themselves (an export
    // and re-import then continues numbering above it, not from a lower maximum). A keyed task
    // (its Enqueued row has flag 0x800) stays while its last row is within `key_retention` of
    // the newest row's time (`at` shares one time base), so that its key is rebuilt on reopen.
    HUGO_ASSIGN_OR_RETURN(sql::Stmt pick, db.prepare(
        "INSERT INTO doomed (task) "
        "SELECT t.task FROM (SELECT coalesce(task, seq) AS task, max(seq) AS last FROM events "
        "GROUP BY coalesce(task, seq)) AS t JOIN events AS e ON e.seq = t.last "
        "LEFT JOIN events AS f ON f.seq = t.task "
        "WHERE t.last < ?1 AND t.last < (SELECT max(seq) FROM events) AND e.kind IN (3, 8, 10) "
        "AND NOT (coalesce(f.flags, 0) & 2048 AND e.at > (SELECT at FROM events ORDER BY seq DESC LIMIT 1) - ?2)"));
    HUGO_TRY(pick.bind(1, below_seq).bind(2, std::min<std::int64_t>(key_retention.count(), INT64_MAX / 4)).run());
    HUGO_ASSIGN_OR_RETURN(result.tasks_removed, db.query_int("SELECT count(*) FROM doomed"));
    HUGO_ASSIGN_OR_RETURN(sql::Stmt drop, db.prepare(
        "DELETE FROM events WHERE seq < ?1 AND coalesce(task, seq) IN (SELECT task FROM doomed)"));
    HUGO_TRY(drop.bind(1, below_seq).run());
    HUGO_ASSIGN_OR_RETURN(result.rows_deleted, db.query_int("SELECT changes()"));
    HUGO_TRY(txn.commit());
  }
  if (progress) progress(1, 3);
  HUGO_TRY(db.checkpoint(sql::CheckpointMode::Truncate));
  HUGO_TRY(db.exec("VACUUM"));  // rowids of an INTEGER PRIMARY KEY table and sqlite_sequence survive
  HUGO_TRY(db.checkpoint(sql::CheckpointMode::Truncate));
  if (progress) progress(3, 3);
  db = sql::Db();
  result.bytes_after = bytes_on_disk(journal);
  return result;
}

}  // namespace hugo
