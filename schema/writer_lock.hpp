// The single-writer lock: an exclusive flock(2) on "<journal>-lock", holding the owner's pid.
// The kernel drops the lock when the owning process dies, even by SIGKILL, so a crashed writer
// never leaves a stale lock behind.
#pragma once

#include <hugo/error.hpp>

#include <filesystem>

namespace hugo {

class WriterLock {
 public:
  // Takes the lock or fails with journal.locked (metadata pid, lock_file) or journal.read_only.
  static Result<WriterLock> acquire(const std::filesystem::path& journal_path);
  static std::filesystem::path lock_path(const std::filesystem::path& journal_path);

  WriterLock() = default;
  WriterLock(WriterLock&& other) noexcept;
  WriterLock& operator=(WriterLock&& other) noexcept;
  ~WriterLock();
  void release();

 private:
  int fd_ = -1;
};

}  // namespace hugo
