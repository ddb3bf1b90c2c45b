// Helpers for the optional tables only an import writes (docs/FORMAT.md: `lease_guids`,
// `task_sequence_ids`). A journal without such a table reads as one whose lookups find nothing.
#pragma once

#include "schema/sqlite.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace hugo::optional_table {

// True if table `name` exists on `db`.
inline Result<bool> exists(sql::Db& db, std::string_view name) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt stmt, db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1"));
  stmt.bind(1, name);
  HUGO_ASSIGN_OR_RETURN(bool row, stmt.step());
  return row && stmt.column_int(0) > 0;
}

// `read(stmt)` of the first row `stmt` (bound) yields, or nullopt if none; resets the statement.
template <class Read>
auto first_row(sql::Stmt& stmt, Read read) -> Result<std::optional<decltype(read(stmt))>> {
  auto row = stmt.step();
  std::optional<decltype(read(stmt))> value;
  if (row.ok() && *row) value = read(stmt);
  stmt.reset();
  if (!row.ok()) return std::move(row).error();
  return value;
}

// The statements of one optional table on one connection: two lookups and an insert, prepared on
// first use. Whether the table exists is checked once (only an import writes such a table, and it
// creates it before its first lookup); on a journal without it, lookup() yields null.
class Statements {
 public:
  Statements(sql::Db& db, std::string table, std::array<std::string, 2> lookups, std::string insert)
      : db_(&db), table_(std::move(table)), lookup_sql_(std::move(lookups)), insert_sql_(std::move(insert)) {}

  // Lookup statement `i` (0 or 1), reset and ready to bind, or null if the table does not exist.
  Result<sql::Stmt*> lookup(std::size_t i) {
    if (!checked_) {
      HUGO_ASSIGN_OR_RETURN(bool present, exists(*db_, table_));
      if (present) {
        for (std::size_t k = 0; k < lookups_.size(); ++k) {
          HUGO_ASSIGN_OR_RETURN(lookups_[k], db_->prepare(lookup_sql_[k]));
        }
      }
      present_ = present;
      checked_ = true;
    }
    return present_ ? &lookups_.at(i) : nullptr;
  }

  // The insert statement, ready to bind; the table must exist.
  Result<sql::Stmt*> insert() {
    if (!insert_ready_) {
      HUGO_ASSIGN_OR_RETURN(insert_, db_->prepare(insert_sql_));
      insert_ready_ = true;
    }
    return &insert_;
  }

 private:
  sql::Db* db_;
  std::string table_;
  std::array<std::string, 2> lookup_sql_;
  std::string insert_sql_;
  bool checked_ = false;
  bool present_ = false;
  bool insert_ready_ = false;
  std::array<sql::Stmt, 2> lookups_;
  sql::Stmt insert_;
};

}  // namespace hugo::optional_table
