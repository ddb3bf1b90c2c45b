// hugo::Durability: what a commit acknowledged by the journal, or by a sink's database, survives;
// and the defaults that the options of every database the library opens share.
#pragma once

#include <chrono>
#include <cstdint>

namespace hugo {

// What an acknowledged append survives.
enum class Durability {
  // synchronous=FULL: the WAL is fsync'd at every commit, so an acknowledged append survives
  // power loss and kernel panics. Costs one fsync per group commit.
  Fsync,
  // synchronous=NORMAL: an acknowledged append is in the OS page cache, so it survives the crash
  // of this process (SIGKILL, abort) but the last commits may be lost on power loss.
  Process,
};

// The WAL size at which a database of this durability starts a checkpoint cycle when its options
// leave wal_checkpoint_bytes at 0 (JournalOptions, SinkDatabaseOptions).
// - Fsync: 4 MiB. Every commit syncs the WAL, and syncing a WAL file that is still growing also
//   commits the file system's metadata (on ext4, a journal commit: about twice the cost), so a
//   small WAL that is soon reused from its start keeps every commit's sync cheap.
// - Process: 48 MiB. Commits do not sync, so growing the file costs nothing per commit, and fewer
//   cycles mean fewer of the short stalls (two syncs) that end each one.
constexpr std::uint64_t default_wal_checkpoint_bytes(Durability durability) {
  return durability == Durability::Fsync ? std::uint64_t{4} << 20 : std::uint64_t{48} << 20;
}

// How long a connection waits for another connection's SQLite lock before the operation fails
// with journal.busy: the default busy_timeout of every options struct (JournalOptions,
// SinkDatabaseOptions, DeterministicOptions, ImportOptions, FollowerOptions) and of the functions
// that take one (JournalReader::open, compact_journal). 0 fails at once.
inline constexpr std::chrono::milliseconds kDefaultBusyTimeout{5000};

}  // namespace hugo
