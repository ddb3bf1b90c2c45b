// Values an application binds to its own SQL statements (SinkDatabase, Tx), never spliced into
// the SQL text.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace hugo {

// A BLOB parameter or column (a std::string binds as TEXT).
struct SqlBlob {
  std::string bytes;
};

// A bound parameter or a result column: NULL, INTEGER, REAL, TEXT or BLOB.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string, SqlBlob>;
using SqlRow = std::vector<SqlValue>;

}  // namespace hugo
