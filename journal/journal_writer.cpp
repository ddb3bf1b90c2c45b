// Group commit, led by the callers that wait (docs/FORMAT.md, "Group commit"). The leader takes the
// oldest batch off the accept queue, writes its rows in one transaction, checks that the path
// still names the file it opened, then resolves the batch and keeps the committed events for
// read_recent(), until its own batch is done. Leaders take turns on `writer_db` and `inserter`;
// the flusher thread leads for the batches nobody waits for. See journal_impl.hpp for the locking.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "core/fault_points.hpp"
#include "journal/journal_impl.hpp"
#include "schema/wal_files.hpp"

#include <algorithm>

namespace hugo {
namespace {

// read_recent()'s memory cap besides JournalOptions::recent_events (see Committed::bytes).
constexpr std::size_t kRecentBytesLimit = 16u << 20;

// The least time a batch nobody waits for may stay queued (see Impl::flush_delay): it bounds the
// flusher's wake-ups while waiting callers commit by themselves.
constexpr std::chrono::milliseconds kMinFlushDelay{1};

// How many batches past its own a leader commits for callers asleep on them (Impl::lead).
constexpr int kMaxExtraCommits = 8;

void resolve(detail::Batch& batch, const Status& status) {
  batch.status = status;
  batch.done = true;
  batch.resolved.store(true, std::memory_order_release);
}

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

void Journal::Impl::await(Batch& batch) {
  std::unique_lock lock(mutex);
  batch.waiters.fetch_add(1, std::memory_order_relaxed);
  while (!batch.done) {
    if (!committing) {
      lead(lock, batch);  // not done and not being written: queued
      continue;
    }
    // Read under `mutex`, where the batch is seen not done: its resolution bumps the word later.
    const std::uint32_t seen = batch.wake.read();
    lock.unlock();
    batch.wake.sleep(seen);
    if (batch.resolved.load(std::memory_order_acquire)) break;  // done: no need for `mutex`
    lock.lock();  // woken to lead, or spuriously
  }
  batch.waiters.fetch_sub(1, std::memory_order_relaxed);
}

void Journal::Impl::lead(std::unique_lock<std::mutex>& lock, const Batch& target) {
  committing = true;
  while (!target.done) commit_front(lock);
  // Then, while the next batch has callers asleep on it, commit it too: handing the lead to one
  // of them would put a wake-up on the commit path. Bounded, so this caller's own wait stays short.
  for (int extra = 0; extra < kMaxExtraCommits && !failure && !batches.empty() && batches.front()->waiters > 0; ++extra) {
    commit_front(lock);
  }
  hand_lead_on(lock);
}

void Journal::Impl::hand_lead_on(std::unique_lock<std::mutex>& lock) {
  committing = false;
  commit_cv.notify_all();  // close() and Journal::transaction wait for the leader to stop
  // The next leader: a caller waiting for a queued batch, else the flusher, if any is queued.
  std::shared_ptr<Batch> next;
  for (const auto& queued : batches) {
    if (queued->waiters.load(std::memory_order_relaxed) > 0) {
      next = queued;
      break;
    }
  }
  if (!next) {
    if (batches.empty()) return;
    // The flusher only needs waking for a batch due at once (flusher_loop). One due later it
    // meets anyway: every timer it sleeps on ends by then (each started before the batch
    // opened), and asleep without one it was woken when the batch opened (accept).
    if (!batches.front()->unwaited && batches.size() == 1) return;
    ++flusher_wakeups_sent;
  }
  lock.unlock();
  if (next) next->wake.wake_one();
  else flush_cv.notify_one();
  next.reset();
  lock.lock();
}

void Journal::Impl::commit_front(std::unique_lock<std::mutex>& lock) {
  // Group commit: give companions up to commit_window to join the oldest batch, but stop
  // waiting once it is as large as the previous batch (the producers are all back).
  if (batches.size() == 1 && !closing && options.commit_window.count() > 0) {
    const Batch& front = *batches.front();
    gather_target = std::min(last_batch_size, options.max_batch);
    gathering = true;
    gather_cv.wait_until(lock, front.opened_at + options.commit_window, [&] {
      return closing || batches.size() > 1 || front.events.size() >= gather_target;
    });
    gathering = false;
  }
  std::shared_ptr<Batch> batch = std::move(batches.front());
  batches.pop_front();
  writing = batch;
  const std::optional<Error> poisoned = failure;
  lock.unlock();

  // The commit runs the checkpointer's hook on this thread: WAL checkpoints need no call here.
  Status status = poisoned ? Status(*poisoned) : write_batch(*batch);
  const std::int64_t last_seq = batch->events.back().seq;
  const std::size_t size = batch->events.size();
  std::optional<Committed> committed;
  if (status.ok() && options.recent_events > 0) committed = Committed::of(batch);

  lock.lock();
  writing.reset();
  last_committer = std::this_thread::get_id();
  std::vector<Committed> evicted;
  std::deque<std::shared_ptr<Batch>> poisoned_queue;
  if (status.ok()) {
    durable = last_seq;
    last_batch_size = size;
    if (committed) evicted = remember(std::move(*committed));
  } else {
    if (!failure) failure = status.error();
    poisoned_queue.swap(batches);  // nothing queued may commit after a failure
    for (const auto& queued : poisoned_queue) resolve(*queued, status);
  }
  resolve(*batch, status);
  // Only callers that registered before the resolution may sleep on the word: the rest see it done.
  const bool sleepers = batch->waiters.load(std::memory_order_relaxed) > 0;
  std::vector<std::shared_ptr<detail::WakeWord>> also_wake = std::move(batch->also_wake);
  for (const auto& queued : poisoned_queue) {
    for (auto& word : queued->also_wake) also_wake.push_back(std::move(word));
  }
  // Woken and freed outside the mutex: the waiters and appends need it.
  lock.unlock();
  commit_cv.notify_all();
  if (sleepers) batch->wake.wake_all();
  for (const auto& queued : poisoned_queue) queued->wake.wake_all();
  for (const auto& word : also_wake) word->wake_all();
  also_wake.clear();
  evicted.clear();
  poisoned_queue.clear();
  batch.reset();
  lock.lock();
}

std::chrono::steady_clock::duration Journal::Impl::flush_delay() const {
#ifdef HUGO_FAULT_POINTS
  // The planted ack_before_commit bug (AppendTicket::wait) also lets the commits it skipped lag,
  // as a writer behind on its work would, so that a SIGKILL finds them acknowledged but lost.
  if (fault_fires(FaultPoint::ack_before_commit)) return std::chrono::milliseconds(100);
#endif
  return std::max<std::chrono::steady_clock::duration>(options.commit_window, kMinFlushDelay);
}

// Commits the batches nobody waits for: at once when their tickets are gone (unwaited) or a full
// batch waits behind a newer one, else once the oldest is flush_delay() old. While callers append
// and wait, it wakes about once per flush_delay(), never per append.
void Journal::Impl::flusher_loop() {
  std::unique_lock lock(mutex);
  bool lingered = false;
  while (!closing) {
    if (batches.empty()) {
      if (lingered) {
        flusher_idle = true;  // the next batch wakes it (accept)
        flush_cv.wait(lock);
        flusher_idle = false;
        lingered = false;
      } else {
        flush_cv.wait_for(lock, flush_delay());
        lingered = true;
      }
      continue;
    }
    lingered = false;
    const auto now = std::chrono::steady_clock::now();
    const std::shared_ptr<Batch> front = batches.front();
    const auto due = front->unwaited || batches.size() > 1 ? now : front->opened_at + flush_delay();
    if (committing) {
      flush_cv.wait_for(lock, flush_delay());  // the leader also hands the lead on when it stops
    } else if (due <= now) {
      lead(lock, *front);
    } else {
      flush_cv.wait_until(lock, due);
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
