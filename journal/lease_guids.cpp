#include "journal/lease_guids.hpp"

namespace hugo::lease_guids {

Status create(sql::Db& db) {
  return db.exec("CREATE TABLE IF NOT EXISTS lease_guids (lease INTEGER PRIMARY KEY, guid TEXT NOT NULL UNIQUE) STRICT");
}

Result<bool> Lookup::ready() {
  if (checked_) return present_;
  // Checked once: only an import writes the table, and it creates it before its first lookup.
  HUGO_ASSIGN_OR_RETURN(std::int64_t tables,
                        db_->query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'lease_guids'"));
  if (tables == 0) {
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
  auto row = lease_of_.step();
  std::optional<std::int64_t> lease;
  if (row.ok() && *row) lease = lease_of_.column_int(0);
  lease_of_.reset();
  if (!row.ok()) return std::move(row).error();
  return lease;
}

Result<std::optional<std::string>> Lookup::guid_of(std::int64_t lease_id) {
  HUGO_ASSIGN_OR_RETURN(bool present, ready());
  if (!present) return std::optional<std::string>();
  guid_of_.bind(1, lease_id);
  auto row = guid_of_.step();
  std::optional<std::string> guid;
  if (row.ok() && *row) guid = std::string(guid_of_.column_text(0));
  guid_of_.reset();
  if (!row.ok()) return std::move(row).error();
  return guid;
}

Status Lookup::add(std::int64_t lease_id, const std::string& guid) {
  if (!insert_ready_) {
    HUGO_ASSIGN_OR_RETURN(insert_, db_->prepare("INSERT INTO lease_guids (lease, guid) VALUES (?1, ?2)"));
    insert_ready_ = true;
  }
  return insert_.bind(1, lease_id).bind(2, std::string_view(guid)).run();
}

}  // namespace hugo::lease_guids
