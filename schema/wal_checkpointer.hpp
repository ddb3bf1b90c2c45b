// WalCheckpointer: keeps the -wal of one WAL-mode database bounded without putting the expensive
// part of a checkpoint on the committing thread.
//
// A checkpoint syncs the -wal, copies its pages into the database file and syncs that; the cost
// grows with the WAL written since the last one (tens of milliseconds for a few MB), and whoever
// runs it inline stalls every commit queued behind it. So the work is split:
//   - writeback (Process only: under Fsync each commit syncs the WAL already): each time the WAL
//     grows by `writeback_bytes`, a background thread asks the kernel
//     to start writing the new frames out (Linux sync_file_range, no wait, no flush), so a later
//     sync has little left to write;
//   - the heavy pass runs on that background thread, on a connection of its own, while the owner
//     keeps committing (a PASSIVE checkpoint never blocks a writer);
//   - SQLite restarts the WAL from its beginning only when every frame has been copied, and the
//     owner keeps appending during the background pass, so a final short pass over the frames
//     added meanwhile runs on the owner's thread, inside its commit hook. It starts only once the
//     remainder is small (kSmallRemainder frames, or after kMaxBackgroundPasses passes); it costs
//     two syncs, which is the one stall per WAL cycle that remains.
//   - past `limit_bytes` (readers pinning the WAL, a background pass slower than the appends) the
//     owner waits for a running background pass, then runs a RESTART checkpoint inline, which may
//     wait for readers: the hard bound, kept even when it stalls the owner.
//
// Invariants: at most one background pass runs at a time; only the owner's hook runs a checkpoint
// on the owner's connection; a failed or busy checkpoint is only retried later (the WAL still
// holds every committed frame, so nothing is lost, and no commit fails because of it). The
// background connection holds no read transaction between passes, so it never pins the WAL.
//
// Thread-safety: construct and destroy on the owner's thread; the hook runs on whichever thread
// commits on the owner connection (one at a time: a connection belongs to one thread).
#pragma once

#include <hugo/durability.hpp>

#include "schema/sqlite.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace hugo {

// The PRAGMA that gives a connection the durability's synchronous level (FULL or NORMAL).
inline const char* synchronous_pragma(Durability durability) {
  return durability == Durability::Fsync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
}

struct WalCheckpointOptions {
  // The owner's durability: the background connection's synchronous level, and whether writeback
  // is worth starting (under Fsync every commit already syncs the WAL, so it is not).
  Durability durability = Durability::Fsync;
  // A checkpoint cycle starts once the WAL holds this much. 0: the durability's default
  // (default_wal_checkpoint_bytes), at most three quarters of limit_bytes, so that a lowered
  // limit alone still leaves room for a cycle.
  std::uint64_t start_bytes = 0;
  std::uint64_t limit_bytes = 64u << 20;     // past this, a blocking RESTART checkpoint inline
  std::uint64_t writeback_bytes = 1u << 20;  // under Process, start writing the WAL out this often
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;
  bool background = true;  // false: no thread; every pass inline (each one stalls the owner)
};

class WalCheckpointer {
 public:
  static constexpr int kSmallRemainder = 64;      // frames the owner's final pass may copy
  static constexpr int kMaxBackgroundPasses = 4;  // then the final pass takes whatever remains

  // Installs the commit hook on `owner` (replacing SQLite's auto-checkpoint) and opens the
  // background connection on the same file; the thread starts on first need. `owner` must
  // outlive this object.
  WalCheckpointer(sql::Db& owner, std::int64_t page_size, WalCheckpointOptions options);
  ~WalCheckpointer();  // removes the hook, stops the thread
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // The WAL's size in frames after the owner's last commit.
  int wal_frames() const { return wal_frames_.load(std::memory_order_relaxed); }
  // Background passes completed so far (for tests and diagnostics).
  int background_passes() const { return passes_done_.load(std::memory_order_relaxed); }

 private:
  enum class Pass { Idle, Requested, Running, Done };

  static int on_commit(void* self, sqlite3* db, const char* name, int frames);
  void after_commit(int frames);
  void restarted();
  void final_pass(int frames);
  void hard_limit_pass();
  // Under mutex_: starts the thread if it is not running yet, then wakes it.
  void wake_background(std::unique_lock<std::mutex>& lock);
  void background_loop();

  sql::Db& owner_;
  const WalCheckpointOptions options_;
  const int start_frames_;
  const int limit_frames_;
  const int writeback_frames_;
  std::atomic<int> wal_frames_{0};
  std::atomic<int> passes_done_{0};

  // Owner-thread state.
  int next_trigger_frames_;
  int next_writeback_frames_;
  int background_passes_ = 0;  // in the current cycle

  // Shared with the background thread, under mutex_.
  std::mutex mutex_;
  std::condition_variable wake_;           // the background thread waits here for work
  std::condition_variable pass_finished_;  // the owner waits here at the hard limit
  Pass pass_ = Pass::Idle;
  bool writeback_requested_ = false;
  int backfilled_frames_ = 0;  // frames copied by the last background pass
  bool drop_result_ = false;   // the WAL restarted while a pass was pending
  bool background_failed_ = false;  // no background connection: every pass is the owner's
  sql::Db background_db_;           // used by the background thread only, once constructed
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hugo
