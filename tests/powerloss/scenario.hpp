// The power-loss scenario (docs/TESTING.md, "Power loss, simulated"). One cut:
//   1. in a fresh folder, through the power-loss VFS: a journal, a TaskQueue (ManualClock, no
//      sweeper) doing a random single-threaded workload of enqueue, lease, heartbeat, complete,
//      fail, requeue, expiry (single calls and batches), two sinks and a follower (consumers.hpp)
//      catching up now and then, and an occasional clean close and reopen of everything; every
//      acknowledged mutation is kept in memory with the rows the journal committed for it;
//   2. the power is cut after a random number of writes and syncs (or at the end), everything is
//      closed, and the VFS throws the unsynced state away (power_loss_vfs.hpp);
//   3. with the plain VFS: verify, reopen the journal, the queue and the consumers, append, and
//      check (scenario_checks.cpp).
#pragma once

#include "tests/powerloss/power_loss_vfs.hpp"
#include "tests/support/queue_invariants.hpp"

#include <hugo/durability.hpp>
#include <hugo/event.hpp>
#include <hugo/task_queue.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace hugo::test::powerloss {

using Report = test::InvariantReport;

// The error code a consumer whose checkpoint is ahead of the journal must fail with
// (docs/REPLICATION.md, "Power loss"); a follower may also say replication.diverged, which
// already covers an owner whose last seq is behind the replica or whose history differs.
inline constexpr std::string_view kCheckpointAhead = "replication.checkpoint_ahead";
inline constexpr std::string_view kDiverged = "replication.diverged";
inline constexpr std::string_view kFollower = "follower";

struct CutOptions {
  Durability durability = Durability::Fsync;
  CutMode mode = CutMode::Clean;
};

// Sums over the cuts, printed once so that a log shows what the runs covered.
struct Coverage {
  std::size_t cuts_midway = 0;       // cuts that fell inside the workload (the rest: at its end)
  std::size_t acked = 0;             // acknowledged mutations
  std::size_t acked_lost = 0;        // of them, lost by a cut (Process only)
  std::size_t cuts_losing = 0;       // cuts that lost an acknowledged mutation
  std::size_t writes_undone = 0;
  std::size_t writes_kept = 0;       // of them, redone by a Subset cut
  std::size_t torn = 0;
  std::size_t files_dropped = 0;
  std::size_t consumers_ahead = 0;   // consumers whose position was past the journal after a cut
  std::size_t ahead_detected = 0;    // of them, those that failed with kCheckpointAhead
  std::size_t reopens = 0;           // clean closes and reopens inside a workload
  std::string text() const;
};

// One acknowledged call and the rows it committed, as read_recent() returned them.
struct Acked {
  char op = 'E';  // E enqueue, L lease, H heartbeat, C complete, F fail, R requeue, S sweep
  std::vector<Event> rows;
};

// What the workload was told before the cut.
struct History {
  std::vector<Acked> acked;
  std::string journal_id;                       // of the journal the workload wrote
  Durability sink_durability = Durability::Fsync;  // of the consumers' databases
  std::map<std::string, std::int64_t> seen;     // consumer name -> highest seq it processed
  std::vector<std::string> early_errors;        // errors before the power was cut
};

struct CutFiles {
  std::filesystem::path journal, tx_db, coord_db, effects_db, replica;
  explicit CutFiles(const std::filesystem::path& dir)
      : journal(dir / "journal.db"), tx_db(dir / "tx.db"), coord_db(dir / "coord.db"), effects_db(dir / "effects.db"),
        replica(dir / "replica.db") {}
};

TaskQueueOptions queue_options(const std::shared_ptr<Clock>& clock);

// Steps 1 and 2 (the VFS must be installed and the default).
History run_until_cut(PowerLossVfs& vfs, const CutFiles& files, const CutOptions& options, std::uint64_t seed,
                      Coverage& coverage);

// Step 3: the checks after the restore, with the plain VFS.
void check_after_cut(const CutFiles& files, const CutOptions& options, const History& history, std::uint64_t seed,
                     Report& report, Coverage& coverage);

}  // namespace hugo::test::powerloss
