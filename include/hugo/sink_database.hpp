// hugo::SinkDatabase: the SQLite database a sink keeps its own state in: its tables, its
// checkpoints, its effect records. It is never the journal file, so sinks never contend with the
// journal's writer.
//
// SQL is always constant text written by the sink's author; values are bound as parameters. No
// SQL is ever built from event data. Not thread-safe: one sink (one thread) per database handle.
#pragma once

#include <hugo/error.hpp>
#include <hugo/export.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hugo {

struct SqlBlob {
  std::string bytes;
};

// A bound parameter or a result column.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string, SqlBlob>;
using SqlRow = std::vector<SqlValue>;

class HUGO_API SinkDatabase {
 public:
  // Creates or opens the database in WAL mode with synchronous=FULL.
  static Result<std::shared_ptr<SinkDatabase>> open(const std::filesystem::path& path);
  ~SinkDatabase();
  SinkDatabase(const SinkDatabase&) = delete;
  SinkDatabase& operator=(const SinkDatabase&) = delete;

  // Runs one statement with bound parameters (?1, ?2, ...). Statements are cached by text.
  Status execute(std::string_view sql, std::initializer_list<SqlValue> params = {});
  Status execute(std::string_view sql, const std::vector<SqlValue>& params);
  // Runs one query and returns every row.
  Result<std::vector<SqlRow>> query(std::string_view sql, std::initializer_list<SqlValue> params = {});
  // Runs several statements with no parameters (schema creation).
  Status execute_script(std::string_view sql);

  // Runs `body` inside BEGIN IMMEDIATE .. COMMIT; rolls back if it fails. Nested calls join the
  // outer transaction.
  Status transaction(const std::function<Status()>& body);
  bool in_transaction() const;

  const std::filesystem::path& path() const;

  struct Impl;

 private:
  explicit SinkDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Helpers to read result columns: the wrong type reads as the default.
HUGO_API std::int64_t sql_int(const SqlValue& v);
HUGO_API std::string sql_text(const SqlValue& v);
HUGO_API bool sql_is_null(const SqlValue& v);

}  // namespace hugo
