// What a path holds, decided from its bytes before SQLite or the writer lock touches it, and the
// one read-only way into a journal. SQLite creates -wal, -shm and (through the writer lock)
// -lock files, and a writable open switches a database to WAL, before it can tell that the file
// is not a journal; these checks run first so that a refused open changes no byte and no name in
// the folder (docs/ERRORS.md, journal.corrupt).
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>

#include "schema/sqlite.hpp"

#include <chrono>
#include <filesystem>

namespace hugo::file_probe {

// What Journal::open may do with the path.
enum class Intent {
  Read,    // the file must be a journal
  Create,  // a missing path, an empty (0-byte) file or an empty SQLite database becomes one
};

// Reads at most the first page of `path` (never through SQLite) and refuses what cannot be a
// journal: journal.not_found (missing, Read only), journal.corrupt for a directory or other
// non-file, an empty file (Read only), bytes that are not an SQLite database, or an SQLite
// database whose application id is not a hugo journal's (metadata path, reason `directory`,
// `empty`, `not_sqlite`, `application_id`; `application_id` for the last). Also the -wal
// check of wal_files::check_wal_not_truncated. Changes nothing. `busy_timeout` bounds the wait of
// the read-only connection that reads a header still in the -wal.
Status check(const std::filesystem::path& path, Intent intent,
             std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

// Opens a journal for reading after check(path, Read): a read-only connection, or, in a folder
// this process cannot write (where SQLite cannot create the -shm), an `immutable` one when
// the journal was closed cleanly (no commits left in its -wal); `immutable` reports which.
// Never creates a file in a read-only folder. The connection waits up to `busy_timeout` for locks.
Result<sql::Db> open_read_only(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout,
                               bool& immutable);
// The same, for callers that do not need to know.
Result<sql::Db> open_read_only(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout);

}  // namespace hugo::file_probe
