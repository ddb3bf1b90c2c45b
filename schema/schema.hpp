// The journal's on-disk schema and its forward migrations. docs/FORMAT.md is the prose spec.
//
// PERSISTED: the schema version lives in PRAGMA user_version. Versions only go up; a migration
// from version N to N+1 is appended to kMigrations below and never edited afterwards.
#pragma once

#include "schema/sqlite.hpp"

#include <hugo/error.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace hugo::schema {

// The version this build writes. A journal with a higher user_version is refused
// (journal.schema_newer): an older binary must never write rows it does not understand.
inline constexpr int kCurrentVersion = 5;

// Application id stored in the database header (PRAGMA application_id): "HUGJ".
inline constexpr std::int64_t kApplicationId = 0x4855474A;

// The DDL: migration i takes a journal from version i to version i + 1. Append only. The raw SQLite
// ceilings of bench/ create their tables from this list too.
inline constexpr std::array<std::string_view, kCurrentVersion> kMigrations = {
    // 0 -> 1: the initial schema.
    R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE names (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE events (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  kind    INTEGER NOT NULL,
  queue   INTEGER NOT NULL,
  task    INTEGER,
  attempt INTEGER NOT NULL,
  at      INTEGER NOT NULL,
  lease   INTEGER,
  peer    INTEGER,
  expires INTEGER,
  flags   INTEGER NOT NULL,
  error   TEXT,
  payload BLOB
) STRICT;
)sql",
    // 1 -> 2: scheduled tasks (docs/QUEUE.md, "Scheduled tasks"). An Enqueued or Restored row may
    // say when its task becomes leasable: not_before, in microseconds relative to `at`. A
    // version-1 build must refuse such a journal (it would lease the tasks at once).
    R"sql(
ALTER TABLE events ADD COLUMN not_before INTEGER;
)sql",
    // 2 -> 3: priorities (docs/QUEUE.md, "Priorities"). An Enqueued or Restored row may carry its
    // task's priority in bits 32-63 of `flags` (no new column: a column costs every row a byte).
    // No DDL; the version alone makes a version-2 build refuse such a journal (it would read the
    // flags' low bits only and lease in FIFO order alone).
    R"sql(
-- priority: events.flags >> 32
)sql",
    // 3 -> 4: cancel (docs/QUEUE.md, "Cancel"). A row may be of kind 10, Canceled. No DDL; the
    // version alone makes a version-3 build refuse such a journal (it would refuse the row as an
    // unknown kind, or fold a canceled task back in).
    R"sql(
-- kind 10: Canceled
)sql",
    // 4 -> 5: idempotency keys (docs/QUEUE.md, "Idempotency keys"). An Enqueued row with flag
    // 0x800 holds its task's key in `error` (no new column: a column costs every row a byte). No
    // DDL; a version-4 build must refuse such a journal (it would read the key as a damaged error).
    R"sql(
-- flag 0x800: events.error holds an Enqueued row's idempotency key
)sql",
};

// Brings `db` (inside the caller's write transaction) to kCurrentVersion, creating the schema on
// an empty database. Returns journal.schema_newer or journal.corrupt when the file is not ours.
Status migrate(sql::Db& db);

// Checks that `db` is a journal this build can read: known application id and a version not
// above kCurrentVersion. Returns the version.
Result<int> check_readable(sql::Db& db);

}  // namespace hugo::schema
