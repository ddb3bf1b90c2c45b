// project_journal: the read-only fold of every queue, for tools.
#include <hugo/verify.hpp>

#include "schema/file_probe.hpp"
#include "queue/queue_loader.hpp"
#include "journal/rows.hpp"
#include "schema/sqlite.hpp"
#include "schema/schema.hpp"

namespace hugo {

Result<std::map<std::string, QueueSnapshot>> project_journal(const std::filesystem::path& journal, RecoveryMode mode,
                                                             std::chrono::milliseconds busy_timeout) {
  std::vector<std::string> queues;
  {
    HUGO_TRY(rows::check_journal_file(journal, busy_timeout));
    HUGO_ASSIGN_OR_RETURN(sql::Db db, file_probe::open_read_only(journal, busy_timeout));
    HUGO_TRY(schema::check_readable(db));
    HUGO_ASSIGN_OR_RETURN(sql::Stmt names, db.prepare("SELECT name FROM names WHERE id IN (SELECT DISTINCT queue FROM events) ORDER BY name"));
    while (true) {
      HUGO_ASSIGN_OR_RETURN(bool row, names.step());
      if (!row) break;
      queues.emplace_back(names.column_text(0));
    }
  }
  std::map<std::string, QueueSnapshot> out;
  for (const std::string& queue : queues) {
    detail::QueueState state;
    std::vector<SkippedRow> skipped;
    HUGO_TRY(detail::load_queue(journal, queue, state, mode, &skipped, busy_timeout));
    QueueSnapshot snapshot = state.snapshot(queue);
    snapshot.skipped = std::move(skipped);
    out.emplace(queue, std::move(snapshot));
  }
  return out;
}

}  // namespace hugo
