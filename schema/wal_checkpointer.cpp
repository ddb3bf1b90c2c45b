#include "schema/wal_checkpointer.hpp"

#include "schema/wal_files.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace hugo {
namespace {

int frames_of(std::uint64_t bytes, std::int64_t page_size) {
  const auto frames = bytes / static_cast<std::uint64_t>(std::max<std::int64_t>(page_size, 512));
  return static_cast<int>(std::clamp<std::uint64_t>(frames, 1, 1u << 30));
}

// The -wal, opened only to hint the kernel; closed with the thread.
class WalFile {
 public:
  explicit WalFile(const std::filesystem::path& database) : path_(wal_files::wal_of(database)) {}
  ~WalFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  WalFile(const WalFile&) = delete;
  WalFile& operator=(const WalFile&) = delete;

  // Starts writing the file's dirty pages out without waiting for them or flushing the device
  // cache: it only moves work that the next checkpoint's sync would do anyway out of its way.
  void start_writeback() {
    if (fd_ < 0) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;
#ifdef __linux__
    (void)::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

std::uint64_t start_bytes_of(const WalCheckpointOptions& o) {
  if (o.start_bytes != 0) return o.start_bytes;
  return std::max<std::uint64_t>(1, std::min(default_wal_checkpoint_bytes(o.durability), o.limit_bytes / 4 * 3));
}

}  // namespace

WalCheckpointer::WalCheckpointer(sql::Db& owner, std::int64_t page_size, WalCheckpointOptions options)
    : owner_(owner),
      options_(std::move(options)),
      start_frames_(frames_of(start_bytes_of(options_), page_size)),
      limit_frames_(std::max(frames_of(options_.limit_bytes, page_size), start_frames_)),
      writeback_frames_(frames_of(options_.writeback_bytes, page_size)),
      next_trigger_frames_(start_frames_),
      next_writeback_frames_(writeback_frames_) {
  // Opened now, on the file the owner has just opened: opened later, the path could name another
  // file by then (a replaced journal), and the thread must never checkpoint someone else's file.
  if (options_.background) {
    auto db = sql::Db::open(owner_.path(), sql::OpenMode::ReadWrite, options_.busy_timeout);
    if (db.ok() && db->exec(synchronous_pragma(options_.durability)).ok()) {
      background_db_ = std::move(*db);
    } else {
      background_failed_ = true;  // the owner's final passes do all the work
    }
  }
  owner_.set_wal_hook(&WalCheckpointer::on_commit, this);
}

WalCheckpointer::~WalCheckpointer() {
  owner_.set_wal_hook(nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int WalCheckpointer::on_commit(void* self, sqlite3*, const char*, int frames) {
  static_cast<WalCheckpointer*>(self)->after_commit(frames);
  return SQLITE_OK;  // a checkpoint's trouble never fails the commit, which is already durable
}

void WalCheckpointer::after_commit(int frames) {
  const int before = wal_frames_.exchange(frames, std::memory_order_relaxed);
  if (frames < before) restarted();
  if (frames >= limit_frames_) {
    hard_limit_pass();
    return;
  }
  const bool writeback_due =
      options_.background && options_.durability == Durability::Process && frames >= next_writeback_frames_;
  if (writeback_due) next_writeback_frames_ = frames + writeback_frames_;
  if (frames < start_frames_) {  // small, or just restarted: a new cycle starts from scratch
    next_trigger_frames_ = start_frames_;
  }
  const bool cycle_due = frames >= next_trigger_frames_;
  if (!cycle_due && !writeback_due) return;
  if (!options_.background) {
    final_pass(frames);
    return;
  }

  std::unique_lock lock(mutex_);
  if (writeback_due && !background_failed_) writeback_requested_ = true;
  if (cycle_due && pass_ != Pass::Requested && pass_ != Pass::Running) {
    const bool remainder_large = frames - backfilled_frames_ > kSmallRemainder;
    const bool another_pass = pass_ == Pass::Idle || (remainder_large && background_passes_ < kMaxBackgroundPasses);
    if (!another_pass || background_failed_) {
      pass_ = Pass::Idle;
      lock.unlock();
      final_pass(frames);
      return;
    }
    pass_ = Pass::Requested;
    ++background_passes_;
  }
  if (writeback_requested_ || pass_ == Pass::Requested) wake_background(lock);
}

// SQLite started the WAL over (the owner's commit found it fully copied): what the background
// passes of the old WAL found says nothing about the new one. A pass still running counts for
// nothing either; its result is dropped when it lands.
void WalCheckpointer::restarted() {
  next_writeback_frames_ = writeback_frames_;
  background_passes_ = 0;
  std::lock_guard lock(mutex_);
  if (pass_ == Pass::Done) pass_ = Pass::Idle;
  drop_result_ = pass_ != Pass::Idle;
  backfilled_frames_ = 0;
}

// The frames the background passes left (all of them when there is no background thread).
// SQLite restarts the WAL at the owner's next commit unless a reader still uses it; then the
// next cycle waits for a quarter of start_bytes more.
void WalCheckpointer::final_pass(int frames) {
  (void)owner_.checkpoint(sql::CheckpointMode::Passive);
  background_passes_ = 0;
  next_trigger_frames_ = frames + start_frames_ / 4;
}

// The hard bound. A background pass holds SQLite's checkpoint lock, so a RESTART now would only
// be refused as busy while the WAL kept growing: cancel a pass not yet started, wait for a running
// one (it is copying frames this pass needs not copy again), then RESTART here, waiting for
// readers as long as busy_timeout allows. A RESTART still refused is retried after the next commit.
void WalCheckpointer::hard_limit_pass() {
  {
    std::unique_lock lock(mutex_);
    if (pass_ == Pass::Requested) pass_ = Pass::Idle;
    pass_finished_.wait(lock, [&] { return pass_ != Pass::Running; });
    pass_ = Pass::Idle;
  }
  (void)owner_.checkpoint(sql::CheckpointMode::Restart);
  background_passes_ = 0;
  next_trigger_frames_ = start_frames_;
}

void WalCheckpointer::wake_background(std::unique_lock<std::mutex>& lock) {
  if (!thread_.joinable()) thread_ = std::thread([this] { background_loop(); });
  lock.unlock();
  wake_.notify_one();
}

void WalCheckpointer::background_loop() {
  WalFile wal(owner_.path());
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || writeback_requested_ || pass_ == Pass::Requested; });
    if (stopping_) return;
    if (std::exchange(writeback_requested_, false)) {
      lock.unlock();
      wal.start_writeback();
      lock.lock();
      continue;
    }
    pass_ = Pass::Running;
    lock.unlock();
    // A read first: it makes this connection look at the file's header and -wal afresh, without
    // which a checkpoint finds no WAL to copy (a connection opened on a still-empty database).
    int backfilled = 0;
    const bool ok = background_db_.query_int("PRAGMA user_version").ok() &&
                    background_db_.checkpoint(sql::CheckpointMode::Passive, nullptr, &backfilled).ok();
    lock.lock();
    pass_ = std::exchange(drop_result_, false) ? Pass::Idle : Pass::Done;
    backfilled_frames_ = ok ? backfilled : 0;
    passes_done_.fetch_add(1, std::memory_order_relaxed);
    pass_finished_.notify_all();
  }
}

}  // namespace hugo
