// Test support: runs an operation while another connection holds a lock on a database file, to
// show whether the operation honours its busy_timeout (docs/ERRORS.md, journal.busy).
#pragma once

#include <doctest/doctest.h>

#include <hugo/error.hpp>

#include "schema/sqlite.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>

namespace hugo::test {

enum class HeldLock {
  Write,      // BEGIN IMMEDIATE: other writers meet it, readers of a WAL database do not
  Exclusive,  // locking_mode EXCLUSIVE on a WAL database: readers meet it too
};

// Takes `lock` on `path` through a connection of its own, runs `op` on another thread, and
// releases the lock (closes the connection) once `op` returned or `release_after` passed, whichever
// comes first; returns what `op` returned. So an `op` whose busy_timeout is 0 fails with journal.busy
// while the lock is held, and an `op` that waits longer than `release_after` for the lock gets it and
// goes on. Nothing is timed: `release_after` only has to be long enough for `op` to reach the lock.
inline Status with_lock_held(const std::filesystem::path& path, HeldLock lock, std::function<Status()> op,
                             std::chrono::milliseconds release_after = std::chrono::seconds(2)) {
  auto holder = sql::Db::open(path, sql::OpenMode::ReadWrite, std::chrono::milliseconds(1000));
  REQUIRE(holder.ok());
  if (lock == HeldLock::Exclusive) REQUIRE(holder->exec("PRAGMA locking_mode = EXCLUSIVE").ok());
  REQUIRE(holder->exec("BEGIN IMMEDIATE").ok());
  REQUIRE(holder->query_int("SELECT count(*) FROM sqlite_schema").ok());  // under EXCLUSIVE, takes the lock
  auto outcome = std::async(std::launch::async, std::move(op));
  (void)outcome.wait_for(release_after);
  *holder = sql::Db();  // rolls the open transaction back and releases the lock
  return outcome.get();
}

}  // namespace hugo::test
