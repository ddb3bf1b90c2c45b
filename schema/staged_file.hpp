// A new journal file built beside its target and renamed into place only when complete
// (docs/FORMAT.md, "New files"), so a process killed while building one leaves either no target or
// a complete one, never a half-made file at the target's path.
//
// The file under construction is "<target>.<purpose>-<pid>.tmp" (with its -wal, -shm and -lock).
// Its builder holds the temp's writer lock for as long as the temp exists, so a temp whose lock is
// free was left by a process that died: the next StagedFile::begin() for the same target and
// purpose removes it. Names of that shape beside a target are reserved for these temps.
#pragma once

#include <hugo/error.hpp>

#include "schema/sqlite.hpp"
#include "schema/writer_lock.hpp"

#include <filesystem>
#include <string_view>

namespace hugo::staged {

class StagedFile {
 public:
  // Removes the stale temps of `target` for `purpose`, then takes the writer lock of this
  // process's temp and removes whatever a dead process left at its name. Creates no database:
  // the caller opens temp() itself. Errors: journal.read_only, journal.io (the folder).
  static Result<StagedFile> begin(const std::filesystem::path& target, std::string_view purpose);

  StagedFile() = default;
  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  ~StagedFile();  // discard(), unless published

  const std::filesystem::path& temp() const { return temp_; }
  const std::filesystem::path& target() const { return target_; }

  // Takes the connection to temp() (every statement of it finalized): checkpoints its WAL into
  // the file, closes it, fsyncs the file, renames it to target() unless target() exists by then
  // (error.validation; a concurrent creator is never replaced), and fsyncs the folder. The temp
  // files are gone afterwards, whatever the outcome; an error before the rename leaves target()
  // as it was.
  Status publish(sql::Db db);
  // Removes the temp and its -wal, -shm, -journal and -lock. Idempotent.
  void discard();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  WriterLock lock_;
};

}  // namespace hugo::staged
