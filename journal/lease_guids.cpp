#include "journal/lease_guids.hpp"

#include "schema/optional_table.hpp"

namespace hugo::lease_guids {

Status create(sql::Db& db) {
  return db.exec("CREATE TABLE IF NOT EXISTS lease_guids (lease INTEGER PRIMARY KEY, guid TEXT NOT NULL UNIQUE) STRICT");
}

Result<bool> Lookup::ready() {
  if (checked_) return present_;
  // Checked once: only an import writes the table, and it creates it before its first lookup.
  HUGO_ASSIGN_OR_RETURN(bool exists, optional_table::exists(*db_, "lease_guids"));
  if (!exists) {
    checked_ = true;
    return false;
  }
  HUGO_ASSIGN_OR_RETURN(lease_of_, db_->prepare("SELECT lease FROM lease_guids WHERE guid = ?1"));
  HUGO_ASSIGN_OR_RETURN(guid_of_, db_->prepare("SELECT guid FROM lease_guids WHERE lease = ?1"));
  checked_ = present_ = true;
  return true;
}

Result<std::optional<std::int64_t>> Lookup::lease_of(const std::string& guid) {
  HUGO_ASSIGN_OR_RETURN(bool present, ready());
  if (!present) return std::optional<std::int64_t>();
  lease_of_.bind(1, std::string_view(guid));
  return optional_table::first_row(lease_of_, [](const sql::Stmt& row) { return row.column_int(0); });
}

Result<std::optional<std::string>> Lookup::guid_of(std::int64_t lease_id) {
  HUGO_ASSIGN_OR_RETURN(bool present, ready());
  if (!present) return std::optional<std::string>();
  guid_of_.bind(1, lease_id);
  return optional_table::first_row(guid_of_, [](const sql::Stmt& row) { return std::string(row.column_text(0)); });
}

Status Lookup::add(std::int64_t lease_id, const std::string& guid) {
  if (!insert_ready_) {
    HUGO_ASSIGN_OR_RETURN(insert_, db_->prepare("INSERT INTO lease_guids (lease, guid) VALUES (?1, ?2)"));
    insert_ready_ = true;
  }
  return insert_.bind(1, lease_id).bind(2, std::string_view(guid)).run();
}

}  // namespace hugo::lease_guids
