// The optional `lease_guids` table: the foreign lease GUIDs (Hugo's random per-grant lease ids)
// that an import mapped to lease ids of the journal (docs/FORMAT.md, docs/MIGRATION.md). Only the
// importer writes it; export reads it to give every token its original GUID back. A journal
// without the table holds no foreign GUIDs.
#pragma once

#include "schema/optional_table.hpp"
#include "schema/sqlite.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace hugo::lease_guids {

// Creates the table if it is missing (inside the caller's transaction, or alone).
Status create(sql::Db& db);

// Lookups on one connection; statements are prepared on first use. A connection to a journal
// without the table answers nullopt to everything.
class Lookup {
 public:
  explicit Lookup(sql::Db& db);
  // The lease id a GUID (canonical form) was mapped to.
  Result<std::optional<std::int64_t>> lease_of(const std::string& guid);
  // The GUID lease `lease_id` was imported with.
  Result<std::optional<std::string>> guid_of(std::int64_t lease_id);
  // Records lease_id -> guid; the table must exist.
  Status add(std::int64_t lease_id, const std::string& guid);

 private:
  optional_table::Statements statements_;  // lookups: lease_of, guid_of
};

}  // namespace hugo::lease_guids
