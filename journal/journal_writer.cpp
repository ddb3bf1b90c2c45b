// The journal's writer thread: group commit. It takes the oldest batch off the accept queue,
// writes its rows in one transaction, checks that the path still names the file it opened, then
// resolves the batch's future and keeps the committed events for read_recent(). The writer is the
// only user of `writer_db` and `inserter`; see journal_impl.hpp for the locking.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "journal/journal_impl.hpp"
#include "schema/wal_files.hpp"

#include <algorithm>

namespace hugo {
namespace {

// read_recent()'s memory cap besides JournalOptions::recent_events (see Committed::bytes).
constexpr std::size_t kRecentBytesLimit = 16u << 20;

}  // namespace

using detail::Batch;
using detail::Committed;

Status Journal::Impl::write_batch(const Batch& batch) {
  // Before the write, so that a batch refused for a deleted -shm is not in the WAL either.
  HUGO_TRY(wal_files::check_shm_unchanged(path, shm_opened_as, meta.journal_id, "writer"));
  HUGO_TRY(inserter->insert_all(batch.events));
  return check_file();
}

Status Journal::Impl::check_file() const {
  const auto now = FileIdentity::of(path);
  if (now && now->same_file(opened_as)) return ok_status();
  return Error::journal_replaced("the journal at " + path.string() + " was " + (now ? "replaced by another file" : "removed") +
                   " while this writer had it open; appends since then are lost with the old file "
                   "(reopen the journal at that path)")
      .with("path", path.string())
      .with("journal_id", meta.journal_id)
      .with("reason", now ? "replaced" : "removed");
}

void Journal::Impl::writer_loop() {
  std::unique_lock lock(mutex);
  while (true) {
    work_cv.wait(lock, [&] { return closing || !batches.empty(); });
    if (batches.empty()) break;  // closing and drained
    // Group commit: give companions up to commit_window to join the oldest batch, but stop
    // waiting once it is as large as the previous batch (the producers are all back).
    if (batches.size() == 1 && !closing && options.commit_window.count() > 0) {
      const std::size_t target = std::min(last_batch_size, options.max_batch);
      const auto deadline = batches.front()->opened_at + options.commit_window;
      work_cv.wait_until(lock, deadline, [&] {
        return closing || batches.size() > 1 || batches.front()->events.size() >= target;
      });
    }
    std::shared_ptr<Batch> batch = std::move(batches.front());
    batches.pop_front();
    writing = batch;
    lock.unlock();

    // The commit runs the checkpointer's hook: WAL checkpoints need no call here.
    Status status = failure ? Status(*failure) : write_batch(*batch);
    const std::int64_t last_seq = batch->events.back().seq;
    const std::size_t size = batch->events.size();
    std::optional<Committed> committed;
    if (status.ok() && options.recent_events > 0) committed = Committed::of(batch);

    lock.lock();
    writing.reset();
    std::vector<Committed> evicted;
    if (status.ok()) {
      durable = last_seq;
      last_batch_size = size;
      if (committed) evicted = remember(std::move(*committed));
    } else if (!failure) {
      failure = status.error();
    }
    batch->promise.set_value(status);
    commit_cv.notify_all();
    if (!evicted.empty()) {  // freed outside the mutex: appends wait on it
      lock.unlock();
      evicted.clear();
      lock.lock();
    }
  }
}

std::vector<Committed> Journal::Impl::remember(Committed c) {
  recent_events += c.events->size();
  recent_bytes += c.bytes;
  recent.push_back(std::move(c));
  std::vector<Committed> evicted;
  while (!recent.empty() && (recent_events > options.recent_events || recent_bytes > kRecentBytesLimit)) {
    recent_events -= recent.front().events->size();
    recent_bytes -= recent.front().bytes;
    evicted.push_back(std::move(recent.front()));
    recent.pop_front();
  }
  return evicted;
}

}  // namespace hugo
