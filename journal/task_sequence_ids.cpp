#include "journal/task_sequence_ids.hpp"

#include "schema/optional_table.hpp"

namespace hugo::task_sequence_ids {
namespace {

Result<std::optional<std::int64_t>> first_int(sql::Stmt& stmt) {
  return optional_table::first_row(stmt, [](const sql::Stmt& row) { return row.column_int(0); });
}

std::string hugo_task(const std::string& queue, std::int64_t hugo_id) {
  return "Hugo task id " + std::to_string(hugo_id) + " of queue '" + queue + "'";
}

}  // namespace

Status create(sql::Db& db) {
  return db.exec(
      "CREATE TABLE IF NOT EXISTS task_sequence_ids (task INTEGER PRIMARY KEY, queue TEXT NOT NULL, "
      "sequence_id INTEGER NOT NULL, UNIQUE (queue, sequence_id)) STRICT");
}

Lookup::Lookup(sql::Db& db)
    : statements_(db, "task_sequence_ids",
                  {"SELECT task FROM task_sequence_ids WHERE queue = ?1 AND sequence_id = ?2",
                   "SELECT sequence_id FROM task_sequence_ids WHERE task = ?1"},
                  "INSERT INTO task_sequence_ids (task, queue, sequence_id) VALUES (?1, ?2, ?3)") {}

Result<std::optional<std::int64_t>> Lookup::task_of(const std::string& queue, std::int64_t sequence_id) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt* stmt, statements_.lookup(0));
  if (stmt == nullptr) return std::optional<std::int64_t>();
  stmt->bind(1, std::string_view(queue)).bind(2, sequence_id);
  return first_int(*stmt);
}

Result<std::optional<std::int64_t>> Lookup::sequence_id_of(std::int64_t task_id) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt* stmt, statements_.lookup(1));
  if (stmt == nullptr) return std::optional<std::int64_t>();
  stmt->bind(1, task_id);
  return first_int(*stmt);
}

Status Lookup::add(std::int64_t task_id, const std::string& queue, std::int64_t sequence_id) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt* insert, statements_.insert());
  return insert->bind(1, task_id).bind(2, std::string_view(queue)).bind(3, sequence_id).run();
}

// ---- ImportMap ------------------------------------------------------------------------------

Status ImportMap::open() {
  if (table_) return ok_status();
  HUGO_TRY(create(*db_));
  table_.emplace(*db_);
  return ok_status();
}

Result<std::optional<std::int64_t>> ImportMap::task_of(const std::string& queue, std::int64_t hugo_id) {
  if (auto it = unflushed_.find({queue, hugo_id}); it != unflushed_.end()) return std::optional(it->second);
  if (!table_) return std::optional<std::int64_t>();
  return table_->task_of(queue, hugo_id);
}

Result<bool> ImportMap::is_mapped_task(std::int64_t task_id) {
  if (unflushed_tasks_.contains(task_id)) return true;
  if (!table_) return false;
  HUGO_ASSIGN_OR_RETURN(auto hugo_id, table_->sequence_id_of(task_id));
  return hugo_id.has_value();
}

// A Hugo id that no mapping names is the journal's id too, unless it cannot be: an id above the
// event's seq names no row before it, and the id of a task that came in under another Hugo id
// is not this one's. Whether such a task exists is the queue fold's to check.
Result<std::pair<std::int64_t, std::string>> ImportMap::resolve(const std::string& queue, std::int64_t hugo_id,
                                                                std::int64_t seq) {
  HUGO_ASSIGN_OR_RETURN(auto task, task_of(queue, hugo_id));
  if (task) return std::pair(*task, std::string());
  HUGO_ASSIGN_OR_RETURN(bool shadowed, is_mapped_task(hugo_id));
  if (hugo_id > seq || shadowed) {
    return std::pair(hugo_id, hugo_task(queue, hugo_id) + " was never enqueued in the imported stream");
  }
  return std::pair(hugo_id, std::string());
}

Result<std::optional<std::string>> ImportMap::map(Event& e) {
  held_.reset();
  std::int64_t task = e.task_id;
  if (e.original_task_id) return std::optional<std::string>();  // a Restored row that starts its own task
  if (e.kind == EventKind::Enqueued) {
    HUGO_ASSIGN_OR_RETURN(auto earlier, task_of(e.queue, e.task_id));
    if (earlier) {
      return std::optional(hugo_task(e.queue, e.task_id) + " was enqueued before, as task " +
                           std::to_string(*earlier) + " (one Hugo id names one task)");
    }
    task = e.seq;
    if (e.task_id != e.seq) held_ = Held{e.queue, e.task_id, e.seq};
  } else {
    HUGO_ASSIGN_OR_RETURN(auto resolved, resolve(e.queue, e.task_id, e.seq));
    if (!resolved.second.empty()) return std::optional(std::move(resolved.second));
    task = resolved.first;
  }
  std::optional<std::int64_t> token_task;
  if (e.token) {
    if (e.token->task_id == e.task_id) {
      token_task = task;
    } else {  // a token of another task: validate_for_append refuses the event in either naming
      HUGO_ASSIGN_OR_RETURN(auto resolved, resolve(e.queue, e.token->task_id, e.seq));
      token_task = resolved.first;
    }
  }
  e.task_id = task;
  if (token_task) e.token->task_id = *token_task;
  return std::optional<std::string>();
}

void ImportMap::keep() {
  if (!held_) return;
  unflushed_tasks_.insert(held_->task);
  unflushed_.emplace(std::pair(std::move(held_->queue), held_->hugo_id), held_->task);
  held_.reset();
}

Status ImportMap::flush() {
  if (unflushed_.empty()) return ok_status();
  HUGO_TRY(open());
  for (const auto& [key, task] : unflushed_) HUGO_TRY(table_->add(task, key.first, key.second));
  unflushed_.clear();
  unflushed_tasks_.clear();
  return ok_status();
}

}  // namespace hugo::task_sequence_ids
