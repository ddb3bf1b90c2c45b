#include "journal/queue_loader.hpp"

#include "journal/rows.hpp"
#include "journal/sqlite.hpp"
#include "schema/schema.hpp"

#include <hugo/event_json.hpp>

#include <unordered_map>

namespace hugo::detail {
namespace {

constexpr std::int64_t kBatch = 65536;

}  // namespace

Status load_queue(const std::filesystem::path& path, const std::string& queue, QueueState& state) {
  HUGO_ASSIGN_OR_RETURN(sql::Db db, sql::Db::open(path, sql::OpenMode::ReadOnly, std::chrono::milliseconds(5000)));
  HUGO_ASSIGN_OR_RETURN(int version, schema::check_readable(db));
  HUGO_ASSIGN_OR_RETURN(rows::Meta meta, rows::load_meta(db, version));

  std::unordered_map<std::int64_t, std::string> names;
  std::int64_t queue_id = 0;
  {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt all, db.prepare("SELECT id, name FROM names"));
    while (true) {
      HUGO_ASSIGN_OR_RETURN(bool row, all.step());
      if (!row) break;
      names.emplace(all.column_int(0), std::string(all.column_text(1)));
      if (all.column_text(1) == queue) queue_id = all.column_int(0);
    }
  }
  if (queue_id == 0) return ok_status();  // the queue has never been written

  HUGO_ASSIGN_OR_RETURN(sql::Stmt scan,
                        db.prepare("SELECT " + std::string(rows::kHeaderColumns) +
                                   ", error IS NOT NULL, payload IS NOT NULL FROM events "
                                   "WHERE seq > ?1 AND queue = ?2 ORDER BY seq LIMIT ?3"));
  std::int64_t after = 0;
  while (true) {
    scan.bind(1, after).bind(2, queue_id).bind(3, kBatch);
    std::int64_t rows_read = 0;
    while (true) {
      auto row = scan.step();
      if (!row.ok()) {
        scan.reset();
        return std::move(row).error();
      }
      if (!*row) break;
      auto header = rows::decode_header(scan, meta.time_base_us);
      if (!header.ok()) {
        scan.reset();
        return std::move(header).error();
      }
      RowFacts facts = facts_of(*header);
      if (header->owner_id != 0) {
        auto it = names.find(header->owner_id);
        if (it == names.end()) {
          scan.reset();
          return rows::corrupt_row(header->seq, "unknown owner name id");
        }
        facts.owner = &it->second;
      }
      facts.has_error = scan.column_int(10) != 0;
      facts.has_payload = scan.column_int(11) != 0;
      if (Status applied = state.apply(facts); !applied.ok()) {
        scan.reset();
        return applied;
      }
      after = header->seq;
      ++rows_read;
    }
    scan.reset();  // one short read transaction per batch
    if (rows_read < kBatch) break;
  }

  HUGO_ASSIGN_OR_RETURN(sql::Stmt payload_of, db.prepare("SELECT payload FROM events WHERE seq = ?1"));
  HUGO_ASSIGN_OR_RETURN(sql::Stmt error_of, db.prepare("SELECT error FROM events WHERE seq = ?1"));
  for (TaskState* t : state.needing_hydration()) {
    if (t->payload_seq != 0) {
      payload_of.bind(1, t->payload_seq);
      HUGO_ASSIGN_OR_RETURN(bool row, payload_of.step());
      if (!row) return rows::corrupt_row(t->payload_seq, "the payload row vanished during recovery");
      t->payload = std::string(payload_of.column_blob(0));
      payload_of.reset();
      t->payload_seq = 0;
    }
    if (t->error_seq != 0) {
      error_of.bind(1, t->error_seq);
      HUGO_ASSIGN_OR_RETURN(bool row, error_of.step());
      if (!row) return rows::corrupt_row(t->error_seq, "the error row vanished during recovery");
      Status decoded = decode_error_json(error_of.column_text(0), t->last_error);
      error_of.reset();
      if (!decoded.ok()) return rows::corrupt_row(t->error_seq, "error column: " + decoded.error().message());
      t->error_seq = 0;
    }
  }
  return ok_status();
}

}  // namespace hugo::detail
