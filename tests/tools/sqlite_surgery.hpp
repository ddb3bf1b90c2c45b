// Test support: edit a journal file behind the library's back, with the sqlite3 C API (rows) or
// raw bytes (pages, headers). Only tests do this; the CLI itself uses the public API alone.
#pragma once

#include <doctest/doctest.h>

#include <sqlite3.h>

#include "tests/support/file_bytes.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace hugo::test::cli {

// Runs `sql` on the database at `path` (no hugo code involved).
inline void sql_surgery(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string error = message ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  INFO(sql);
  REQUIRE_MESSAGE(rc == SQLITE_OK, error);
}

inline std::int64_t sql_int(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const std::int64_t value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// Overwrites `bytes` at `offset` of the file.
inline void byte_surgery(const std::filesystem::path& path, std::uint64_t offset, const std::string& bytes) {
  write_bytes_at(path, static_cast<std::size_t>(offset), bytes);
}

}  // namespace hugo::test::cli
