// Journal::Impl: the state of one open Journal, shared by journal.cpp (open, close, reads),
// journal_append.cpp (accepting appends, the raw path's queue check) and journal_writer.cpp (the
// group-commit writer thread). Internal: included by those three files only.
//
// Concurrency design. `mutex_` guards the accept queue (`batches_`), the seq counter and the
// failure state. append_async assigns the next seq and places the event in the newest open batch
// under that mutex, so seq order == acceptance order == row order. The writer thread is the only
// user of `writer_db_`: it pops the oldest batch, inserts its rows with their pre-assigned seqs in
// one transaction, commits, then resolves the batch's shared future. A failed commit poisons the
// journal: the failing batch, every queued batch and every later append resolve to that error, so
// nothing uncommitted is ever reported as committed. Reads use `reader_db_` under `read_mutex_`.
// After a commit the writer also keeps the batch's events (immutable from then on, shared by
// pointer) in `recent`, under `mutex`, for read_recent(): readers copy them outside the mutex.
// A batch's events are never changed once the writer takes it (`writing`, until its commit is
// reported), so code under `mutex` may read every accepted event: committed ones in `recent` or
// the file, the one being written in `writing`, the rest in `batches`. The raw path's queue check
// (QueueGuard, docs/QUEUE.md) relies on this; `guard_mutex` serializes the checked appends.
#pragma once

#include <hugo/journal.hpp>

#include "journal/queue_guard.hpp"
#include "journal/rows.hpp"
#include "schema/file_identity.hpp"
#include "schema/sqlite.hpp"
#include "schema/wal_checkpointer.hpp"
#include "schema/writer_lock.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace hugo {
namespace detail {

struct Batch {
  std::vector<Event> events;
  std::promise<Status> promise;
  std::shared_future<Status> future = promise.get_future().share();
  std::chrono::steady_clock::time_point opened_at;
};

inline std::shared_future<Status> ready_future(Status status) {
  std::promise<Status> promise;
  promise.set_value(std::move(status));
  return promise.get_future().share();
}

// A committed batch as read_recent() serves it: seqs first..last, consecutive.
struct Committed {
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::size_t bytes = 0;  // the vector's capacity plus every string its events own
  std::shared_ptr<const std::vector<Event>> events;

  static std::size_t owned_bytes(const Error& error) {
    std::size_t n = error.code().size() + error.message().size();
    for (const auto& [key, value] : error.metadata()) n += key.size() + value.size();
    if (const auto& cause = error.cause()) {
      n += cause->type.size() + cause->message.size() + (cause->stack_trace ? cause->stack_trace->size() : 0);
    }
    return n;
  }

  // Shares the batch's events without copying or moving them: they stay readable in `writing`.
  static Committed of(const std::shared_ptr<Batch>& batch) {
    const std::vector<Event>& events = batch->events;
    Committed c;
    c.first = events.front().seq;
    c.last = events.back().seq;
    c.bytes = events.capacity() * sizeof(Event);
    const auto size = [](const std::optional<std::string>& text) { return text ? text->size() : 0; };
    for (const Event& e : events) {
      c.bytes += e.queue.size() + size(e.payload) + size(e.owner_peer_id) + size(e.source_peer_id) +
                 size(e.journal_id) + (e.error ? owned_bytes(*e.error) : 0);
    }
    c.events = std::shared_ptr<const std::vector<Event>>(batch, &batch->events);
    return c;
  }
};

}  // namespace detail

struct Journal::Impl {
  std::filesystem::path path;
  JournalOptions options;
  WriterLock lock;
  sql::Db writer_db;
  sql::Db reader_db;
  rows::Meta meta;
  std::optional<rows::EventInserter> inserter;
  std::optional<rows::EventSelector> selector;
  // Declared after writer_db, so destroyed before it: it hooks that connection's commits.
  std::unique_ptr<WalCheckpointer> checkpointer;
  FileIdentity opened_as;      // the file at `path` when opened; check_file() compares
  FileIdentity shm_opened_as;  // its -shm, which every batch checks before it writes

  mutable std::mutex mutex;
  mutable std::condition_variable work_cv;    // writer waits for batches
  mutable std::condition_variable commit_cv;  // readers of durable_seq wait for commits
  std::deque<std::shared_ptr<detail::Batch>> batches;
  std::shared_ptr<detail::Batch> writing;  // the batch the writer is committing; its events stay unchanged
  std::int64_t last_accepted = 0;
  std::int64_t durable = 0;
  std::size_t last_batch_size = 1;
  std::deque<detail::Committed> recent;  // oldest first; when not empty, the last one ends at `durable`
  std::size_t recent_events = 0;
  std::size_t recent_bytes = 0;
  std::optional<Error> failure;
  bool closing = false;
  bool closed = false;
  std::thread writer;
  std::mutex close_mutex;  // serializes close(): one caller stops the writer, later ones wait for it

  mutable std::mutex read_mutex;

  // Raw appends' queue check. The guard's fold is used under `guard_mutex` (taken before `mutex`:
  // one checked append at a time folds committed rows from the file without holding `mutex`), its
  // claims under `mutex`; admit() runs under both.
  std::mutex guard_mutex;
  detail::QueueGuard guard;

  // journal.cpp
  Status configure_writer();
  Status close();

  // journal_writer.cpp: the writer thread and what it does per batch.
  Status write_batch(const detail::Batch& batch);
  // After a commit: the path must still name the file this writer opened. If it was replaced or
  // removed, the batch went to a file nobody can open any more, so it is not reported committed
  // (and the journal is poisoned like any failed commit). One stat() per batch.
  Status check_file() const;
  void writer_loop();
  // Under `mutex`: keeps `c` for read_recent() and returns the batches that no longer fit.
  std::vector<detail::Committed> remember(detail::Committed c);

  // journal_append.cpp: accepting appends.
  // Under `mutex`: journal.seq_exhausted unless `count` more seqs fit below INT64_MAX (seqs are
  // SQLite rowids, which cannot go higher; docs/ERRORS.md).
  Status seq_room(std::size_t count) const;
  // Assigns seqs and the journal-filled fields of `events` (in place), validates them, and
  // queues them in one batch. All or nothing: a refused group consumes no seq.
  AppendTicket accept(Event* events, std::size_t count, bool move_in, bool checked);
  // Folds committed rows above the guard's position, up to `until`, from the file. Caller holds
  // guard_mutex, and may hold `mutex` (lock order: mutex, then read_mutex).
  Status fold_file(std::int64_t until);
  // Under guard_mutex and `mutex`: folds every accepted row the guard has not seen, committed
  // (from `recent`, else the file) or not (`writing`, then `batches`), so that it stands just
  // before the next seq.
  Status fold_accepted();
};

}  // namespace hugo
