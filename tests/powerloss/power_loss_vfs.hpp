// A test VFS that simulates power loss (docs/TESTING.md, "Power loss, simulated").
//
// It wraps SQLite's default "unix" VFS through the VFS shim API and, once installed, is the
// process's default VFS, so the library under test opens every database through it unchanged.
// While recording it keeps, per file, an undo log of every write and truncation since that
// file's last xSync (the old bytes and the old size before each), and the names created in a
// folder since that folder was last synced. xSync clears the file's undo log instead of calling
// fsync: "synced" means "survives the cut", and cuts stay fast.
//
// A power cut (after a chosen number of writes, truncations and syncs, or on demand) refuses every
// later write, truncation, sync, read, open and delete with an SQLITE_IOERR code, so the writers
// see a failed commit. Once every connection is closed, restore() makes the files look as a
// machine would find them after the power came back:
//   - every unsynced write and truncation is undone (newest first);
//   - Torn mode: the last unsynced write is then partly redone: the sectors before its last
//     512-byte sector keep the new bytes, and that last sector keeps the new bytes up to a random
//     byte and the old ones after it;
//   - Subset mode: each unsynced write is then redone whole or not, at random (oldest first), so
//     later writes may survive where earlier ones did not;
//   - in both, a redone write never leaves a hole (one that starts past the end of the file as
//     restored keeps nothing) and past that end keeps only whole sectors (a file system such as
//     ext4 with data=ordered never grows a file over bytes that did not reach the disk; one that
//     does, with zeros or garbage, is not modelled);
//   - each file created since its folder's last sync is removed with probability 1/2;
//   - every -shm file is removed (shared memory does not survive a power loss).
//
// The folder model follows SQLite's unix VFS: the folder is synced by the first xSync of a
// rollback journal, super-journal or WAL that the VFS created, and by xDelete(dirSync = 1); the
// main database file's creation is never synced on its own. Not modelled: an unlink that the cut
// undoes (a deleted file stays deleted), writes to the -shm (it is only removed), metadata
// other than names and sizes, and a tear of any write but the last.
//
// Thread-safe: one mutex guards the state and is held across each recorded write, so the undo
// log's order is the order of the writes (SQLite's background checkpoint thread writes too).
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

namespace hugo::test::powerloss {

enum class CutMode {
  Clean,  // every unsynced write is lost
  Torn,   // every unsynced write is lost, but the last one is torn inside its last sector
  Subset, // each unsynced write survives or not, at random (in any order)
};

// What restore() did, for the test's coverage line.
struct RestoreReport {
  std::size_t writes_undone = 0;  // unsynced writes and truncations thrown away
  bool torn = false;              // a write was torn
  std::size_t writes_kept = 0;    // Subset: unsynced writes that survived
  std::size_t files_dropped = 0;  // files whose creation never reached their folder
};

class PowerLossVfs {
 public:
  // Registers the VFS once (the first call) and makes it the process's default.
  static PowerLossVfs& install();

  // Starts a new recording: forgets the undo logs and names, and cuts the power once `budget`
  // more writes, truncations and syncs have been asked for (that one is refused too).
  void arm(std::uint64_t budget);
  // Cuts the power now (a no-op if it is already cut).
  void cut_now();
  bool is_cut() const;
  // Writes, truncations and syncs seen since arm() (counted until the cut).
  std::uint64_t operations() const;

  // After every connection through this VFS is closed: throws the unsynced state away as described
  // above and stops recording. Every file lives on; only its bytes, size or name change.
  RestoreReport restore(CutMode mode, std::mt19937_64& rng);

  // Which VFS the next sqlite3_open picks by default: this one (true) or the plain "unix" VFS.
  void make_default(bool self);

  // The planted fault that proves the test can fail: with true, xSync no longer makes anything
  // durable (the undo logs keep every write since arm()), so a cut throws synced data away.
  void forget_syncs(bool forget);

 private:
  PowerLossVfs() = default;
};

}  // namespace hugo::test::powerloss
