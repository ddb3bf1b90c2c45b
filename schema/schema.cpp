#include "schema/schema.hpp"

#include <hugo/error_codes.hpp>

#include <string>
#include <string_view>

namespace hugo::schema {
namespace {

Error not_a_journal(const sql::Db& db, std::string detail) {
  return Error::journal_corrupt("not a hugo journal: " + detail +
                   " (point the command at a journal file, or restore it from a replica)")
      .with("path", db.path().string());
}

}  // namespace

Result<int> check_readable(sql::Db& db) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t version, db.query_int("PRAGMA user_version"));
  HUGO_ASSIGN_OR_RETURN(std::int64_t app_id, db.query_int("PRAGMA application_id"));
  if (version > kCurrentVersion) {
    return Error::journal_schema_newer("journal schema version " + std::to_string(version) +
                     " is newer than this build supports (" + std::to_string(kCurrentVersion) +
                     "); upgrade hugo-journal to open it")
        .with("path", db.path().string())
        .with("schema_version", std::to_string(version))
        .with("supported_version", std::to_string(kCurrentVersion));
  }
  if (app_id != kApplicationId) {
    return not_a_journal(db, "application id " + std::to_string(app_id) + " is not a hugo journal's");
  }
  if (version < 1) return not_a_journal(db, "schema version 0");
  return static_cast<int>(version);
}

Status migrate(sql::Db& db) {
  HUGO_ASSIGN_OR_RETURN(std::int64_t version, db.query_int("PRAGMA user_version"));
  HUGO_ASSIGN_OR_RETURN(std::int64_t app_id, db.query_int("PRAGMA application_id"));
  if (version == 0 && app_id == 0) {
    HUGO_ASSIGN_OR_RETURN(std::int64_t tables,
                          db.query_int("SELECT count(*) FROM sqlite_schema"));
    if (tables != 0) return not_a_journal(db, "the database already holds other tables");
    HUGO_TRY(db.exec("PRAGMA application_id = " + std::to_string(kApplicationId)));
  } else {
    HUGO_TRY(check_readable(db));
  }
  for (auto v = version; v < kCurrentVersion; ++v) {
    HUGO_TRY(db.exec(kMigrations[static_cast<std::size_t>(v)]));
  }
  if (version != kCurrentVersion) {
    HUGO_TRY(db.exec("PRAGMA user_version = " + std::to_string(kCurrentVersion)));
  }
  return ok_status();
}

}  // namespace hugo::schema
