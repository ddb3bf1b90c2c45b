// Helpers for the optional tables only an import writes (docs/FORMAT.md: `lease_guids`,
// `task_sequence_ids`). A journal without such a table reads as one whose lookups find nothing.
#pragma once

#include "schema/sqlite.hpp"

#include <optional>
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

}  // namespace hugo::optional_table
