#include "journal/lease_guids.hpp"

namespace hugo::lease_guids {

Status create(sql::Db& db) {
  return db.exec("CREATE TABLE IF NOT EXISTS lease_guids (lease INTEGER PRIMARY KEY, guid TEXT NOT NULL UNIQUE) STRICT");
}

Lookup::Lookup(sql::Db& db)
    : statements_(db, "lease_guids",
                  {"SELECT lease FROM lease_guids WHERE guid = ?1", "SELECT guid FROM lease_guids WHERE lease = ?1"},
                  "INSERT INTO lease_guids (lease, guid) VALUES (?1, ?2)") {}

Result<std::optional<std::int64_t>> Lookup::lease_of(const std::string& guid) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt* stmt, statements_.lookup(0));
  if (stmt == nullptr) return std::optional<std::int64_t>();
  stmt->bind(1, std::string_view(guid));
  return optional_table::first_row(*stmt, [](const sql::Stmt& row) { return row.column_int(0); });
}

Result<std::optional<std::string>> Lookup::guid_of(std::int64_t lease_id) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt* stmt, statements_.lookup(1));
  if (stmt == nullptr) return std::optional<std::string>();
  stmt->bind(1, lease_id);
  return optional_table::first_row(*stmt, [](const sql::Stmt& row) { return std::string(row.column_text(0)); });
}

Status Lookup::add(std::int64_t lease_id, const std::string& guid) {
  HUGO_ASSIGN_OR_RETURN(sql::Stmt* insert, statements_.insert());
  return insert->bind(1, lease_id).bind(2, std::string_view(guid)).run();
}

}  // namespace hugo::lease_guids
