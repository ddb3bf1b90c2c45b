// Journal::Impl: the state of one open Journal, shared by journal.cpp (open, close, reads),
// journal_append.cpp (accepting appends, tickets, the raw path's queue check) and
// journal_writer.cpp (group commit). Internal: included by those three files only.
//
// Concurrency design. `mutex` guards the accept queue (`batches`), the seq counter, the commit
// state and the failure state. append_async assigns the next seq and places the event in the
// newest open batch under that mutex, so seq order == acceptance order == row order. An event's
// content is checked before (rows::validate_content: names, payload size and JSON, error), so a
// large JSON payload is parsed without holding up other appends; only the ids, which depend on the
// seq, are checked under the mutex (rows::validate_numbering).
//
// Group commit without a writer thread (docs/FORMAT.md, "Group commit"). A caller that waits for a
// batch (AppendTicket::wait, Journal::append, flush, close) while no commit is in progress becomes
// the leader: it sets `committing`, then, one batch at a time and oldest first, takes the front
// batch off the queue (`writing`), inserts its rows with their pre-assigned seqs in one transaction
// and commits it on its own thread without holding `mutex`, then publishes the result under it
// (durable, `recent`, the batch's status) and wakes that batch's waiters, until its own batch is
// done. It then clears `committing` and hands the lead to a waiter of the oldest queued batch that
// has one, else wakes the flusher if a queued batch is due at once (one due later the flusher's
// own timer meets). Waiters sleep on their batch's WakeWord only while someone else
// commits, and a waiter woken because its batch is done returns without taking `mutex` again
// (journal/wake_word.hpp): the leader that woke it takes `mutex` next, and a woken waiter that met
// it there would sleep a second time. Every wake-up is sent after `mutex` is released. `committing` makes the leaders take turns, and `mutex` orders each turn
// after the previous one: the write connection (`writer_db`, `inserter`, the checkpointer's commit
// hook, which runs on whichever thread commits) is used by one thread at a time, which SQLite's
// multi-thread mode (SQLITE_OPEN_NOMUTEX, schema/sqlite.cpp) allows. The flusher thread commits,
// as a leader, the batches nobody waits for: at once when their last ticket was dropped
// (TicketHold) or a newer batch queued behind them, else once they are flush_delay() old; waiters
// never depend on it.
//
// A failed commit poisons the journal: the failing batch, every queued batch and every later
// append resolve to that error, so nothing uncommitted is ever reported as committed. Reads use
// `reader_db` under `read_mutex`. After a commit the leader also keeps the batch's events
// (immutable from then on, shared by pointer) in `recent`, under `mutex`, for read_recent():
// readers copy them outside the mutex. A batch's events are never changed once a leader takes it
// (`writing`, until its commit is reported), so code under `mutex` may read every accepted event:
// committed ones in `recent` or the file, the one being written in `writing`, the rest in
// `batches`. The raw path's queue check (QueueGuard, docs/QUEUE.md) relies on this; `guard_mutex`
// serializes the checked appends. No user code runs under `mutex`. A batch's events live in memory
// lent by `batch_storage` (journal/batch_storage.hpp), whose own mutex is taken last, under
// `mutex` or alone.
#pragma once

#include <hugo/journal.hpp>

#include "journal/batch_storage.hpp"
#include "journal/queue_guard.hpp"
#include "journal/rows.hpp"
#include "journal/wake_word.hpp"
#include "schema/file_identity.hpp"
#include "schema/sqlite.hpp"
#include "schema/wal_checkpointer.hpp"
#include "schema/writer_lock.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace hugo {
namespace detail {

struct TicketHold;

// One transaction's worth of accepted events. `events` and `opened_at` are set under
// Journal::Impl::mutex while the batch is queued; the rest is under that mutex too, except
// `status`, written once before `resolved` is set and read after it, and `waiters`, raised under
// the mutex and lowered by a waiter that leaves once the batch is resolved.
struct Batch {
  Batch() = default;
  // Takes its events' memory from `spares` and gives it back when the batch goes.
  Batch(std::shared_ptr<BatchStorage> spares, std::size_t capacity)
      : events(spares->take(capacity)), storage(std::move(spares)) {}
  ~Batch() {
    if (storage) storage->give(std::move(events));
  }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  // Makes room for `more` events, moving the batch's events into a larger vector from `storage`
  // (the smaller one goes back to it) rather than letting push_back allocate one of its own.
  void make_room(std::size_t more) {
    const std::size_t needed = events.size() + more;
    if (!storage || needed <= events.capacity()) return;
    std::vector<Event> larger = storage->take(std::max(needed, 2 * events.capacity()));
    std::move(events.begin(), events.end(), std::back_inserter(larger));
    events.swap(larger);
    storage->give(std::move(larger));
  }

  std::vector<Event> events;
  std::shared_ptr<BatchStorage> storage;  // null: a resolved ticket's batch, never filled
  std::chrono::steady_clock::time_point opened_at;
  std::weak_ptr<TicketHold> hold;  // shared by its live tickets
  WakeWord wake;                   // its waiters sleep on it: woken when it is done, or to lead
  std::atomic<std::size_t> waiters{0};  // callers in Impl::await for it
  bool unwaited = false;           // its last ticket went before it committed: the flusher's
  bool done = false;
  Status status;
  std::atomic<bool> resolved{false};  // done, readable without the mutex (AppendTicket::wait)
  // Woken once it is resolved, beside `wake`: callers that sleep on a word of their own
  // (JournalAccess::wake_when_resolved). Under the mutex.
  std::vector<std::shared_ptr<WakeWord>> also_wake;
};

// What an AppendTicket shares with its copies and the other tickets of its batch. When the last
// of them goes while the batch is queued, nobody will wait for it: the flusher commits it.
struct TicketHold {
  std::shared_ptr<Journal::Impl> journal;  // null for a refused append
  std::shared_ptr<Batch> batch;
  ~TicketHold();
};

// A ticket already resolved with `status`: a refused append (seq 0) or an empty group.
AppendTicket resolved_ticket(std::size_t count, Status status);

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

struct Journal::Impl : std::enable_shared_from_this<Journal::Impl> {
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
  mutable std::condition_variable commit_cv;  // wait_for_commit() and close() wait for commits
  std::condition_variable flush_cv;           // the flusher waits for batches nobody waits for
  std::condition_variable gather_cv;          // a leader waits up to commit_window for companions
  std::deque<std::shared_ptr<detail::Batch>> batches;
  // Spare memory for new batches' events; shared with the batches, which may outlive the journal.
  const std::shared_ptr<detail::BatchStorage> batch_storage = std::make_shared<detail::BatchStorage>();
  std::shared_ptr<detail::Batch> writing;  // the batch a leader is committing; its events stay unchanged
  bool committing = false;                 // a leader is at work (gathering or writing)
  bool gathering = false;                  // ... and waits on gather_cv for gather_target events
  std::size_t gather_target = 0;
  bool flusher_idle = false;  // the flusher waits for a first batch: accept() wakes it
  std::uint64_t flusher_wakeups_sent = 0;  // by a leader that stops (JournalAccess, for tests)
  std::thread::id last_committer;  // the thread of the latest commit (JournalAccess, for tests)
  std::int64_t last_accepted = 0;
  std::int64_t durable = 0;
  std::size_t last_batch_size = 1;
  std::deque<detail::Committed> recent;  // oldest first; when not empty, the last one ends at `durable`
  std::size_t recent_events = 0;
  std::size_t recent_bytes = 0;
  std::optional<Error> failure;
  // Journal::transaction (journal_tx.cpp): the thread that holds the lead for one, and whether
  // its body runs (appends from that thread are then refused: they would wait for themselves).
  // tx_batches: the batches it writes into its transaction, between `recent` and `writing` for
  // the raw path's fold. Under `mutex`.
  std::thread::id tx_thread;
  bool tx_body = false;
  std::vector<std::shared_ptr<detail::Batch>> tx_batches;
  bool closing = false;
  bool closed = false;
  std::thread flusher;
  std::mutex close_mutex;  // serializes close(): one caller drains and closes, later ones wait for it

  mutable std::mutex read_mutex;

  // Raw appends' queue check. The guard's fold is used under `guard_mutex` (taken before `mutex`:
  // one checked append at a time folds committed rows from the file without holding `mutex`), its
  // claims under `mutex`; admit() runs under both.
  std::mutex guard_mutex;
  detail::QueueGuard guard;

  // journal.cpp
  Status configure_writer();
  Status close();

  // journal_writer.cpp: group commit.
  // Blocks until `batch` is done, leading the commits whenever no one else is committing.
  void await(detail::Batch& batch);
  // Under `mutex`, with !committing and `target` queued (the caller keeps it alive): commits the
  // queued batches oldest first through `target`, then hands the lead on. Releases `mutex` while
  // it writes and while it wakes the next leader.
  void lead(std::unique_lock<std::mutex>& lock, const detail::Batch& target);
  // Under `mutex`, as the leader that stops: clears `committing` and wakes the next leader (a
  // caller waiting for a queued batch, else the flusher if one is due). Releases `mutex` to wake.
  void hand_lead_on(std::unique_lock<std::mutex>& lock);
  // journal_tx.cpp: under `mutex`, as the leader, after the transaction that wrote `written`
  // (oldest first) ended with `status`: publishes it as commit_front does (durable, `recent`, or
  // the poisoning of every queued batch), resolves the batches and wakes their waiters.
  void publish_transaction(std::unique_lock<std::mutex>& lock, std::vector<std::shared_ptr<detail::Batch>>& written,
                           const Status& status);
  // Under `mutex`, as the leader: waits for companions (commit_window), then commits the front batch.
  void commit_front(std::unique_lock<std::mutex>& lock);
  Status write_batch(const detail::Batch& batch);
  // After a commit: the path must still name the file this writer opened. If it was replaced or
  // removed, the batch went to a file nobody can open any more, so it is not reported committed
  // (and the journal is poisoned like any failed commit). One stat() per batch.
  Status check_file() const;
  // How old a batch nobody waits for may get before the flusher commits it.
  std::chrono::steady_clock::duration flush_delay() const;
  void flusher_loop();
  // Under `mutex`: keeps `c` for read_recent() and returns the batches that no longer fit.
  std::vector<detail::Committed> remember(detail::Committed c);

  // journal_append.cpp: accepting appends.
  // Under `mutex`: journal.seq_exhausted unless `count` more seqs fit below INT64_MAX (seqs are
  // SQLite rowids, which cannot go higher; docs/ERRORS.md).
  Status seq_room(std::size_t count) const;
  // How accept() takes the caller's events into the batch.
  enum class Intake {
    Move,      // moved in (append_async: the caller's event is gone)
    Copy,      // copied, every journal-filled field also written to the caller's events
    CopyLean,  // copied, the same but journal_id, which neither gets: read_recent() fills it in
               // on the way out, so no string is allocated per event on the write path (the
               // unchecked path: a TaskQueue never reads it)
  };
  // Assigns seqs and the journal-filled fields of `events` (in place), validates them, and
  // queues them in one batch. All or nothing: a refused group consumes no seq. Never commits.
  AppendTicket accept(Event* events, std::size_t count, Intake intake, bool checked);
  // Folds committed rows above the guard's position, up to `until`, from the file. Caller holds
  // guard_mutex, and may hold `mutex` (lock order: mutex, then read_mutex).
  Status fold_file(std::int64_t until);
  // Under guard_mutex and `mutex`: folds every accepted row the guard has not seen, committed
  // (from `recent`, else the file) or not (`writing`, then `batches`), so that it stands just
  // before the next seq.
  Status fold_accepted();
};

}  // namespace hugo
