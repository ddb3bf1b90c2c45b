#include "schema/writer_lock.hpp"

#include <hugo/error_codes.hpp>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace hugo {

std::filesystem::path WriterLock::lock_path(const std::filesystem::path& journal_path) {
  return std::filesystem::path(journal_path.string() + "-lock");
}

Result<WriterLock> WriterLock::acquire(const std::filesystem::path& journal_path) {
  const auto path = lock_path(journal_path);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    const bool read_only = err == EACCES || err == EROFS || err == EPERM;
    return Error(std::string(read_only ? errc::journal_read_only : errc::journal_io),
                 "cannot create the writer lock file " + path.string() + ": " + std::strerror(err) +
                     (read_only ? " (open the journal read-only, or fix the folder's permissions)"
                                : " (check that the folder exists)"))
        .with("path", journal_path.string())
        .with("lock_file", path.string());
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buffer[32] = {};
    const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string("unknown");
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Error::journal_locked("journal " + journal_path.string() + " is being written by process " + pid +
                     " (stop that writer, or open the journal read-only)")
        .with("pid", pid)
        .with("path", journal_path.string())
        .with("lock_file", path.string());
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock itself is held; the pid is only a courtesy for error messages.
  }
  WriterLock lock;
  lock.fd_ = fd;
  return lock;
}

WriterLock::WriterLock(WriterLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

WriterLock& WriterLock::operator=(WriterLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

WriterLock::~WriterLock() { release(); }

void WriterLock::release() {
  if (fd_ >= 0) {
    ::close(fd_);  // closing the descriptor drops the flock
    fd_ = -1;
  }
}

}  // namespace hugo
