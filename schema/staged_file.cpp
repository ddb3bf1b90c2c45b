#include "schema/staged_file.hpp"

#include <hugo/error_codes.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace hugo::staged {
namespace {

constexpr const char* kCompanions[] = {"-wal", "-shm", "-journal"};

std::filesystem::path with_suffix(const std::filesystem::path& path, std::string_view suffix) {
  return std::filesystem::path(path.string() + std::string(suffix));
}

std::string prefix_of(const std::filesystem::path& target, std::string_view purpose) {
  return target.filename().string() + "." + std::string(purpose) + "-";
}

// The temp file `name` belongs to ("<prefix><digits>.tmp", possibly with a companion suffix), or
// "" if `name` is not one of them.
std::string temp_name_of(std::string name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return {};
  for (std::string_view suffix : {"-wal", "-shm", "-journal", "-lock"}) {
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      name.resize(name.size() - suffix.size());
      break;
    }
  }
  constexpr std::string_view kTmp = ".tmp";
  if (name.size() <= prefix.size() + kTmp.size() || name.compare(name.size() - kTmp.size(), kTmp.size(), kTmp) != 0) {
    return {};
  }
  const std::string_view pid(name.data() + prefix.size(), name.size() - prefix.size() - kTmp.size());
  if (pid.find_first_not_of("0123456789") != std::string_view::npos) return {};
  return name;
}

// Removes the temp's database files; the caller holds its writer lock, and removes the -lock last.
void remove_database(const std::filesystem::path& temp) {
  std::error_code ec;
  std::filesystem::remove(temp, ec);
  for (const char* suffix : kCompanions) std::filesystem::remove(with_suffix(temp, suffix), ec);
}

// Removes every temp of `prefix` beside `target` whose writer lock is free: its builder died.
void sweep_stale(const std::filesystem::path& folder, const std::string& prefix, const std::filesystem::path& own) {
  std::error_code ec;
  std::vector<std::string> temps;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = temp_name_of(it->path().filename().string(), prefix);
    if (!name.empty() && folder / name != own) temps.push_back(std::move(name));
  }
  std::sort(temps.begin(), temps.end());  // a temp and its companions name it several times
  temps.erase(std::unique(temps.begin(), temps.end()), temps.end());
  for (const std::string& name : temps) {
    const auto temp = folder / name;
    auto lock = WriterLock::acquire(temp);
    if (!lock.ok()) continue;  // a live builder, or a folder this process cannot write
    remove_database(temp);
    std::filesystem::remove(WriterLock::lock_path(temp), ec);
  }
}

Error io_error(const std::filesystem::path& path, const std::string& what, int err) {
  return Error::journal_io(what + " " + path.string() + " failed: " + std::strerror(err) +
                                                  " (check the disk and the folder's permissions, then retry)")
      .with("path", path.string());
}

Status fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return io_error(path, "opening", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(path, "fsync of", err);
  return ok_status();
}

// Renames `from` to `to` unless `to` exists: renameat2(RENAME_NOREPLACE), or link() and unlink()
// on a file system without it. EEXIST when `to` exists.
int rename_no_replace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());
  return 0;
}

Error target_exists(const std::filesystem::path& target) {
  return Error::validation(target.string() + " was created by another process meanwhile; it is left as it is (pick another path)")
      .with("path", target.string());
}

}  // namespace

Result<StagedFile> StagedFile::begin(const std::filesystem::path& target, std::string_view purpose) {
  StagedFile file;
  file.target_ = target;
  const std::string prefix = prefix_of(target, purpose);
  file.temp_ = target.parent_path() / (prefix + std::to_string(::getpid()) + ".tmp");
  const std::filesystem::path folder = target.parent_path().empty() ? "." : target.parent_path();
  sweep_stale(folder, prefix, file.temp_);
  HUGO_ASSIGN_OR_RETURN(file.lock_, WriterLock::acquire(file.temp_));
  remove_database(file.temp_);  // left by a dead process that had this pid
  return file;
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : target_(std::move(other.target_)), temp_(std::exchange(other.temp_, {})), lock_(std::move(other.lock_)) {}

StagedFile& StagedFile::operator=(StagedFile&& other) noexcept {
  if (this != &other) {
    discard();
    target_ = std::move(other.target_);
    temp_ = std::exchange(other.temp_, {});
    lock_ = std::move(other.lock_);
  }
  return *this;
}

StagedFile::~StagedFile() { discard(); }

void StagedFile::discard() {
  if (temp_.empty()) return;
  remove_database(temp_);
  std::error_code ec;
  std::filesystem::remove(WriterLock::lock_path(temp_), ec);
  lock_.release();
  temp_.clear();
}

Status StagedFile::publish(sql::Db db) {
  Status done = [&]() -> Status {
    HUGO_TRY(db.checkpoint(sql::CheckpointMode::Truncate));
    db = sql::Db();  // the last connection: SQLite removes the (empty) -wal and the -shm
    std::error_code ec;
    const auto wal = with_suffix(temp_, "-wal");
    if (std::filesystem::file_size(wal, ec) > 0 && !ec) {
      return Error::journal_io("the WAL of " + temp_.string() +
                                                      " was not checkpointed into it (check the disk, then retry)")
          .with("path", temp_.string());
    }
    for (const char* suffix : kCompanions) std::filesystem::remove(with_suffix(temp_, suffix), ec);
    HUGO_TRY(fsync_path(temp_, 0));
    if (const int err = rename_no_replace(temp_, target_); err != 0) {
      if (err == EEXIST) return target_exists(target_);
      return io_error(target_, "renaming " + temp_.string() + " to", err);
    }
    return fsync_path(target_.parent_path().empty() ? "." : target_.parent_path(), O_DIRECTORY);
  }();
  discard();  // after the rename only the lock is left (and a second link, if unlink() failed)
  return done;
}

}  // namespace hugo::staged
