// The optional `task_sequence_ids` table: Hugo's task ids (`taskSequenceId`) that an import mapped
// to task ids of the journal (docs/FORMAT.md; docs/MIGRATION.md, "Hugo task ids"). Only the
// importer writes it; export reads it to give every event its original task id back. A journal
// without the table holds no Hugo task ids.
#pragma once

#include "schema/optional_table.hpp"
#include "schema/sqlite.hpp"

#include <hugo/event.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace hugo::task_sequence_ids {

// Creates the table if it is missing (inside the caller's transaction, or alone).
Status create(sql::Db& db);

// Lookups on one connection; statements are prepared on first use. A connection to a journal
// without the table answers nullopt to everything.
class Lookup {
 public:
  explicit Lookup(sql::Db& db);
  // The task Hugo's task `sequence_id` of `queue` was mapped to.
  Result<std::optional<std::int64_t>> task_of(const std::string& queue, std::int64_t sequence_id);
  // The Hugo task id task `task_id` was imported with.
  Result<std::optional<std::int64_t>> sequence_id_of(std::int64_t task_id);
  // Records task_id -> (queue, sequence_id); the table must exist.
  Status add(std::int64_t task_id, const std::string& queue, std::int64_t sequence_id);

 private:
  optional_table::Statements statements_;  // lookups: task_of, sequence_id_of
};

// The importer's side (docs/MIGRATION.md, "Hugo task ids"): an Enqueued event whose task id is
// not its own seq starts the task whose id is that seq, and every later event naming the Hugo id
// in the same queue is renamed to it. Mappings of rows the importer has not flushed yet are held
// here, the flushed ones in the table. Not thread-safe; one per importer.
class ImportMap {
 public:
  explicit ImportMap(sql::Db& db) : db_(&db) {}

  // Renames `e`'s task id and its token's to the journal's. Returns the rule `e` breaks when it
  // names a Hugo task id that no accepted Enqueued event of its queue started, or enqueues one a
  // second time (the event is then left as it was). An Enqueued event's mapping is held back
  // until keep().
  Result<std::optional<std::string>> map(Event& e);
  // Records the mapping of the event map() last renamed: the importer accepted it.
  void keep();
  // Writes the held mappings into the table (inside the caller's transaction) and forgets them.
  Status flush();

 private:
  Status open();
  Result<std::optional<std::int64_t>> task_of(const std::string& queue, std::int64_t hugo_id);
  Result<bool> is_mapped_task(std::int64_t task_id);
  // The journal's id for `hugo_id` named by a non-Enqueued event at `seq`, or the broken rule.
  Result<std::pair<std::int64_t, std::string>> resolve(const std::string& queue, std::int64_t hugo_id,
                                                       std::int64_t seq);

  sql::Db* db_;
  std::optional<Lookup> table_;  // created with the table, at the first mapping
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> unflushed_;  // (queue, Hugo id) -> task
  std::set<std::int64_t> unflushed_tasks_;
  struct Held {
    std::string queue;
    std::int64_t hugo_id;
    std::int64_t task;
  };
  std::optional<Held> held_;
};

}  // namespace hugo::task_sequence_ids
