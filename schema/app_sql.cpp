#include "schema/app_sql.hpp"

#include <hugo/error_codes.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace hugo::sql {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// SQLite's authorizer callback (sqlite3_set_authorizer): `a` and `b` are the action's arguments,
// whose meaning depends on the action.
int authorize(void*, int action, const char* a, const char* b, const char*, const char*) {
  const auto journal_table = [](const char* name) { return name != nullptr && is_journal_table(name); };
  switch (action) {
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_PRAGMA:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      return SQLITE_DENY;
    case SQLITE_READ:
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_ANALYZE:
      return journal_table(a) ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TEMP_INDEX:
      return journal_table(a) || journal_table(b) ? SQLITE_DENY : SQLITE_OK;  // the index, its table
    case SQLITE_ALTER_TABLE:
      return journal_table(b) ? SQLITE_DENY : SQLITE_OK;  // a: the database, b: the table
    default:
      return SQLITE_OK;
  }
}

// Removes the authorizer however the statement ends.
struct Authorized {
  sqlite3* db;
  explicit Authorized(sqlite3* handle) : db(handle) { sqlite3_set_authorizer(db, authorize, nullptr); }
  ~Authorized() { sqlite3_set_authorizer(db, nullptr, nullptr); }
  Authorized(const Authorized&) = delete;
  Authorized& operator=(const Authorized&) = delete;
};

SqlRow row_of(sqlite3_stmt* stmt) {
  SqlRow row;
  const int columns = sqlite3_column_count(stmt);
  for (int c = 0; c < columns; ++c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER: row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c))); break;
      case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(stmt, c)); break;
      case SQLITE_TEXT:
        row.emplace_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, c)),
                                     static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
        break;
      case SQLITE_BLOB: {
        const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt, c));
        row.emplace_back(SqlBlob{std::string(bytes ? bytes : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, c)))});
        break;
      }
      default: row.emplace_back(nullptr); break;
    }
  }
  return row;
}

Error refused(std::string_view sql, std::string why) {
  return Error::validation("Tx::execute refused the statement: " + why).with("sql", std::string(sql.substr(0, 200)));
}

// Releases a raw statement on every path.
struct Finalized {
  sqlite3_stmt* stmt = nullptr;
  ~Finalized() { sqlite3_finalize(stmt); }
};

}  // namespace

bool is_journal_table(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kTables = {"events", "names", "meta", "lease_guids",
                                                              "task_sequence_ids"};
  for (std::string_view table : kTables) {
    if (iequals(name, table)) return true;
  }
  return name.size() >= 5 && iequals(name.substr(0, 5), "hugo_");
}

Status run_application_statement(Db& db, std::string_view sql, const std::vector<SqlValue>& params,
                                 std::vector<SqlRow>* rows) {
  Finalized stmt;
  const char* tail = nullptr;
  {
    Authorized guard(db.handle());
    const int rc = sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt.stmt, &tail);
    if (rc == SQLITE_AUTH) {
      return refused(sql, "it touches the journal's own tables (events, names, meta, lease_guids, task_sequence_ids, "
                          "hugo_*) or runs PRAGMA, ATTACH, DETACH, transaction control or CREATE TRIGGER");
    }
    if (rc != SQLITE_OK) return refused(sql, std::string("it does not prepare: ") + sqlite3_errmsg(db.handle()));
  }
  if (stmt.stmt == nullptr) return refused(sql, "it holds no statement");
  const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
  if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) return refused(sql, "it holds more than one statement");
  const int expected = sqlite3_bind_parameter_count(stmt.stmt);
  if (expected != static_cast<int>(params.size())) {
    return refused(sql, "it takes " + std::to_string(expected) + " parameters, " + std::to_string(params.size()) +
                            " were given");
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i) + 1;
    const SqlValue& v = params[i];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(stmt.stmt, at);
    else if (const auto* n = std::get_if<std::int64_t>(&v)) rc = sqlite3_bind_int64(stmt.stmt, at, *n);
    else if (const auto* d = std::get_if<double>(&v)) rc = sqlite3_bind_double(stmt.stmt, at, *d);
    else if (const auto* s = std::get_if<std::string>(&v)) {
      rc = sqlite3_bind_text64(stmt.stmt, at, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } else {
      const std::string& bytes = std::get<SqlBlob>(v).bytes;
      rc = sqlite3_bind_blob64(stmt.stmt, at, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return db.last_error("bind").with("sql", std::string(sql.substr(0, 200)));
  }
  while (true) {
    const int rc = sqlite3_step(stmt.stmt);
    if (rc == SQLITE_ROW) {
      if (rows) rows->push_back(row_of(stmt.stmt));
      continue;
    }
    if (rc == SQLITE_DONE) return ok_status();
    const int primary = sqlite3_extended_errcode(db.handle()) & 0xff;
    if (primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH || primary == SQLITE_TOOBIG || primary == SQLITE_RANGE) {
      // The application's data broke its own schema's rule: its error, not the journal's.
      return Error::validation(std::string("Tx::execute: the statement failed: ") + sqlite3_errmsg(db.handle()))
          .with("sql", std::string(sql.substr(0, 200)));
    }
    return db.last_error("Tx::execute").with("sql", std::string(sql.substr(0, 200)));
  }
}

}  // namespace hugo::sql
