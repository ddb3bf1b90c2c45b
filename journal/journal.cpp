// Journal: opening, the group-commit writer thread, and reads on the writer process's side.
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
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "schema/file_identity.hpp"
#include "journal/journal_access.hpp"
#include "journal/queue_guard.hpp"
#include "schema/file_probe.hpp"
#include "schema/wal_checkpointer.hpp"
#include "schema/wal_files.hpp"
#include "journal/planted.hpp"
#include "journal/rows.hpp"
#include "schema/sqlite.hpp"
#include "schema/writer_lock.hpp"
#include "schema/schema.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>

namespace hugo {
namespace {

struct Batch {
  std::vector<Event> events;
  std::promise<Status> promise;
  std::shared_future<Status> future = promise.get_future().share();
  std::chrono::steady_clock::time_point opened_at;
};

std::shared_future<Status> ready_future(Status status) {
  std::promise<Status> promise;
  promise.set_value(std::move(status));
  return promise.get_future().share();
}

// read_recent()'s memory cap besides JournalOptions::recent_events (see Committed::bytes).
constexpr std::size_t kRecentBytesLimit = 16u << 20;

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

// The fields accept() fills in an event, kept so that a refused group can be handed back as the
// caller passed it (Journal::append_group_async). Lists every field accept() writes.
struct JournalFilled {
  std::int64_t seq = 0;
  std::int64_t source_event_id = 0;
  Timestamp recorded_at{};
  std::optional<std::string> journal_id;
  std::int64_t task_id = 0;
  std::optional<OwnershipToken> token;

  static JournalFilled of(const Event& e) {
    return {e.seq, e.source_event_id, e.recorded_at, e.journal_id, e.task_id, e.token};
  }
  void restore(Event& e) const {
    e.seq = seq;
    e.source_event_id = source_event_id;
    e.recorded_at = recorded_at;
    e.journal_id = journal_id;
    e.task_id = task_id;
    e.token = token;
  }
};

Status validate_options(const JournalOptions& o) {
  auto bad = [](std::string what) { return Error::validation("invalid JournalOptions: " + what); };
  if (o.max_batch < 1 || o.max_batch > 100'000) return bad("max_batch must be within 1..100000");
  if (o.commit_window < std::chrono::microseconds(0) || o.commit_window > std::chrono::seconds(1)) {
    return bad("commit_window must be within 0..1s");
  }
  if (o.wal_limit_bytes == 0 || o.wal_limit_bytes < o.wal_checkpoint_bytes) {
    return bad("wal_limit_bytes must be > 0 and >= wal_checkpoint_bytes");
  }
  if (o.busy_timeout < std::chrono::milliseconds(0)) return bad("busy_timeout must be >= 0");
  return ok_status();
}

}  // namespace

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
  std::deque<std::shared_ptr<Batch>> batches;
  std::shared_ptr<Batch> writing;  // the batch the writer is committing; its events stay unchanged
  std::int64_t last_accepted = 0;
  std::int64_t durable = 0;
  std::size_t last_batch_size = 1;
  std::deque<Committed> recent;  // oldest first; when not empty, the last one ends at `durable`
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

  Status configure_writer() {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt mode, writer_db.prepare("PRAGMA journal_mode = WAL"));
    HUGO_ASSIGN_OR_RETURN(bool row, mode.step());
    if (!row || mode.column_text(0) != "wal") {
      return Error::journal_io("could not switch the journal to WAL mode")
          .with("path", path.string());
    }
    mode.reset();
    HUGO_TRY(writer_db.exec(synchronous_pragma(options.durability)));
    HUGO_TRY(writer_db.exec("PRAGMA wal_autocheckpoint = 0"));
    HUGO_TRY(writer_db.exec("PRAGMA journal_size_limit = " + std::to_string(options.wal_limit_bytes)));
    if (options.max_pages > 0) {
      HUGO_TRY(writer_db.exec("PRAGMA max_page_count = " + std::to_string(options.max_pages)));
    }
    HUGO_ASSIGN_OR_RETURN(const std::int64_t page_size, writer_db.query_int("PRAGMA page_size"));
    WalCheckpointOptions checkpoints;
    checkpoints.durability = options.durability;
    checkpoints.start_bytes = options.wal_checkpoint_bytes;
    checkpoints.limit_bytes = options.wal_limit_bytes;
    checkpoints.busy_timeout = options.busy_timeout;
    checkpoints.background = options.background_checkpoints;
    checkpointer = std::make_unique<WalCheckpointer>(writer_db, page_size, std::move(checkpoints));
    return ok_status();
  }

  Status write_batch(const Batch& batch) {
    // Before the write, so that a batch refused for a deleted -shm is not in the WAL either.
    HUGO_TRY(wal_files::check_shm_unchanged(path, shm_opened_as, meta.journal_id, "writer"));
    HUGO_TRY(inserter->insert_all(batch.events));
    return check_file();
  }

  // After a commit: the path must still name the file this writer opened. If it was replaced or
  // removed, the batch went to a file nobody can open any more, so it is not reported committed
  // (and the journal is poisoned like any failed commit). One stat() per batch.
  Status check_file() const {
    const auto now = FileIdentity::of(path);
    if (now && now->same_file(opened_as)) return ok_status();
    return Error::journal_replaced("the journal at " + path.string() + " was " + (now ? "replaced by another file" : "removed") +
                     " while this writer had it open; appends since then are lost with the old file "
                     "(reopen the journal at that path)")
        .with("path", path.string())
        .with("journal_id", meta.journal_id)
        .with("reason", now ? "replaced" : "removed");
  }

  void writer_loop() {
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

  // Under `mutex`: keeps `c` for read_recent() and returns the batches that no longer fit.
  std::vector<Committed> remember(Committed c) {
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

  // Under `mutex`: journal.seq_exhausted unless `count` more seqs fit below INT64_MAX (seqs are
  // SQLite rowids, which cannot go higher; docs/ERRORS.md).
  Status seq_room(std::size_t count) const {
    constexpr std::int64_t kMaxSeq = std::numeric_limits<std::int64_t>::max();
    if (count <= static_cast<std::uint64_t>(kMaxSeq - last_accepted)) return ok_status();
    return Error::journal_seq_exhausted("the journal's sequence space is used up: seq " + std::to_string(last_accepted) + " was issued and " +
                     std::to_string(count) + " more would pass the highest seq, " + std::to_string(kMaxSeq) +
                     " (start a new journal; this one stays readable)")
        .with("path", path.string())
        .with("last_seq", std::to_string(last_accepted))
        .with("count", std::to_string(count));
  }

  // Assigns seqs and the journal-filled fields of `events` (in place), validates them, and
  // queues them in one batch. All or nothing: a refused group consumes no seq.
  AppendTicket accept(Event* events, std::size_t count, bool move_in, bool checked) {
    std::unique_lock<std::mutex> guarding;
    if (checked && detail::QueueGuard::may_need_check(events, count)) {
      guarding = std::unique_lock(guard_mutex);
      std::int64_t committed = 0;
      {
        std::lock_guard lock(mutex);
        committed = durable;
      }
      // Most of the catching up, without holding up other appends.
      if (Status read = fold_file(committed); !read.ok()) return {0, count, ready_future(read.error())};
    }
    std::unique_lock lock(mutex);
    if (failure) return {0, count, ready_future(*failure)};
    if (closing) {
      return {0, count, ready_future(Error::journal_closed("append after the journal was closed (reopen it to append)")
                                         .with("path", path.string()))};
    }
    if (Status room = seq_room(count); !room.ok()) return {0, count, ready_future(std::move(room))};
    for (std::size_t i = 0; i < count; ++i) {
      Event& event = events[i];
      const std::int64_t seq = last_accepted + 1 + static_cast<std::int64_t>(i);
      event.seq = seq;
      event.source_event_id = seq;
      event.recorded_at = event.occurred_at;
      event.journal_id = meta.journal_id;
      const bool starts_task = event.kind == EventKind::Enqueued || event.kind == EventKind::Restored;
      if (starts_task && event.task_id == 0) event.task_id = seq;
      if (event.token && event.kind == EventKind::LeaseGranted && event.token->lease_id == 0) {
        event.token->lease_id = seq;
      }
      if (event.token && event.token->task_id == 0) event.token->task_id = event.task_id;
      if (Status valid = rows::validate_for_append(event); !valid.ok()) {
        return {0, count, ready_future(std::move(valid))};
      }
    }
    if (guarding && detail::QueueGuard::needs_check(events, count)) {
      Status admitted = fold_accepted();
      if (admitted.ok()) admitted = guard.admit(events, count);
      if (!admitted.ok()) return {0, count, ready_future(std::move(admitted))};
    }
    const std::int64_t first = last_accepted + 1;
    last_accepted += static_cast<std::int64_t>(count);
    if (batches.empty() || batches.back()->events.size() + count > options.max_batch) {
      auto batch = std::make_shared<Batch>();
      batch->opened_at = std::chrono::steady_clock::now();
      batch->events.reserve(std::max(count, std::min(options.max_batch, last_batch_size * 2)));
      batches.push_back(std::move(batch));
    }
    Batch& batch = *batches.back();
    for (std::size_t i = 0; i < count; ++i) {
      if (move_in) batch.events.push_back(std::move(events[i]));
      else batch.events.push_back(events[i]);
    }
    const std::size_t size = batch.events.size();
    // Decided under the lock: last_batch_size belongs to the writer thread.
    const bool wake_writer = size == count || size >= std::min(last_batch_size, options.max_batch);
    AppendTicket ticket{first, count, batch.future};
    lock.unlock();
    if (wake_writer) work_cv.notify_one();
    return ticket;
  }

  // Folds committed rows above the guard's position, up to `until`, from the file. Caller holds
  // guard_mutex, and may hold `mutex` (lock order: mutex, then read_mutex).
  Status fold_file(std::int64_t until) {
    while (guard.folded_through() < until) {
      std::vector<Event> rows;
      {
        std::lock_guard read_lock(read_mutex);
        if (!selector) return Error::journal_closed("append after the journal was closed");
        HUGO_ASSIGN_OR_RETURN(rows, selector->read(guard.folded_through(), 4096));
      }
      if (rows.empty()) break;  // the rest is not readable yet: fold_accepted() takes it from memory
      for (const Event& e : rows) {
        if (e.seq > until) return ok_status();
        guard.fold(e);
      }
    }
    return ok_status();
  }

  // Under guard_mutex and `mutex`: folds every accepted row the guard has not seen, committed
  // (from `recent`, else the file) or not (`writing`, then `batches`), so that it stands just
  // before the next seq.
  Status fold_accepted() {
    if (guard.folded_through() < durable) {
      if (!recent.empty() && recent.front().first <= guard.folded_through() + 1) {
        for (const Committed& c : recent) {
          if (c.last <= guard.folded_through()) continue;
          for (const Event& e : *c.events) guard.fold(e);
        }
      } else {
        HUGO_TRY(fold_file(durable));
      }
    }
    const auto fold_batch = [&](const Batch& batch) {
      if (batch.events.empty() || batch.events.back().seq <= guard.folded_through()) return;
      for (const Event& e : batch.events) guard.fold(e);
    };
    if (writing) fold_batch(*writing);
    for (const auto& batch : batches) fold_batch(*batch);
    return ok_status();
  }

  Status close() {
    std::lock_guard closing_lock(close_mutex);
    {
      std::unique_lock lock(mutex);
      if (closed) return failure ? Status(*failure) : ok_status();
      closing = true;
    }
    work_cv.notify_all();
    if (writer.joinable()) writer.join();
    checkpointer.reset();  // stops its thread, which would hold off the TRUNCATE below
    std::optional<Error> final_failure;
    std::deque<Committed> kept;
    {
      std::unique_lock lock(mutex);
      closed = true;
      final_failure = failure;
      kept.swap(recent);
      recent_events = recent_bytes = 0;
      commit_cv.notify_all();
    }
    kept.clear();
    if (!final_failure) (void)writer_db.checkpoint(sql::CheckpointMode::Truncate);
    {
      std::lock_guard read_lock(read_mutex);
      selector.reset();
      reader_db = sql::Db();
    }
    inserter.reset();
    writer_db = sql::Db();
    lock.release();
    if (final_failure) return *final_failure;
    return ok_status();
  }
};

Result<std::int64_t> AppendTicket::wait() const {
  if (!durable.valid()) {
    return Error::validation("waited on an empty AppendTicket");
  }
#ifdef HUGO_PLANTED_BUGS
  if (seq != 0 && planted::active("skip_fsync")) return seq;  // acknowledged before its batch commits
#endif
  const Status& status = durable.get();
  if (!status.ok()) return status.error();
  return seq;
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() { (void)close(); }

Result<std::unique_ptr<Journal>> Journal::open(const std::filesystem::path& path, JournalOptions options) {
  HUGO_TRY(validate_options(options));
  if (!options.clock) options.clock = SystemClock::shared();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  // Before the -lock file exists and before SQLite may switch the file to WAL: a refused open
  // changes nothing (also checks the -wal, as wal_files::check_wal_not_truncated).
  HUGO_TRY(file_probe::check(path, file_probe::Intent::Create));
  HUGO_ASSIGN_OR_RETURN(impl->lock, WriterLock::acquire(path));
  HUGO_ASSIGN_OR_RETURN(impl->writer_db, sql::Db::open(path, sql::OpenMode::ReadWriteCreate, options.busy_timeout));
  HUGO_TRY(impl->configure_writer());
  impl->opened_as = FileIdentity::of(path).value_or(FileIdentity{});
  {
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(impl->writer_db, true));
    HUGO_TRY(schema::migrate(impl->writer_db));
    HUGO_TRY(rows::init_meta(impl->writer_db, options.clock->now()));
    HUGO_TRY(rows::refuse_replica(impl->writer_db));
    HUGO_TRY(rows::record_durability(impl->writer_db, options.durability == Durability::Fsync ? "fsync" : "process"));
    HUGO_TRY(txn.commit());
  }
  HUGO_ASSIGN_OR_RETURN(impl->meta, rows::load_meta(impl->writer_db, schema::kCurrentVersion));
  impl->shm_opened_as = wal_files::shm_identity(path).value_or(FileIdentity{});
  HUGO_ASSIGN_OR_RETURN(impl->last_accepted, rows::last_issued_seq(impl->writer_db));
  impl->durable = impl->last_accepted;
  HUGO_ASSIGN_OR_RETURN(auto inserter, rows::EventInserter::create(impl->writer_db, impl->meta));
  impl->inserter.emplace(std::move(inserter));
  HUGO_ASSIGN_OR_RETURN(impl->reader_db, sql::Db::open(path, sql::OpenMode::ReadOnly, options.busy_timeout));
  HUGO_ASSIGN_OR_RETURN(auto selector, rows::EventSelector::create(impl->reader_db, impl->meta));
  impl->selector.emplace(std::move(selector));
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->writer_loop(); });
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

AppendTicket Journal::append_async(Event event) { return impl_->accept(&event, 1, true, true); }

AppendTicket Journal::append_group_async(std::vector<Event>& events) {
  if (events.empty()) return {0, 0, ready_future(ok_status())};
  std::vector<JournalFilled> before;
  before.reserve(events.size());
  for (const Event& e : events) before.push_back(JournalFilled::of(e));
  AppendTicket ticket = impl_->accept(events.data(), events.size(), false, true);
  if (ticket.seq == 0) {  // refused: leave no trace in the caller's events
    for (std::size_t i = 0; i < events.size(); ++i) before[i].restore(events[i]);
  }
  return ticket;
}

AppendTicket detail::JournalAccess::append_group_unchecked(Journal& journal, std::vector<Event>& events) {
  if (events.empty()) return {0, 0, ready_future(ok_status())};
  return journal.impl_->accept(events.data(), events.size(), false, false);
}

void detail::JournalAccess::claim_queue(Journal& journal, const std::string& name) {
  std::lock_guard lock(journal.impl_->mutex);
  journal.impl_->guard.claim(name);
}

void detail::JournalAccess::release_queue(Journal& journal, const std::string& name) {
  std::lock_guard lock(journal.impl_->mutex);
  journal.impl_->guard.release(name);
}

Result<std::int64_t> Journal::append(Event event) { return append_async(std::move(event)).wait(); }

// Waits on `durable`, not on the queued batches: the writer takes a batch off the queue before
// it commits it, so an empty queue does not mean the last append is durable.
Status Journal::flush() {
  Impl& j = *impl_;
  std::unique_lock lock(j.mutex);
  const std::int64_t target = j.last_accepted;
  if (!j.batches.empty()) j.work_cv.notify_one();
  j.commit_cv.wait(lock, [&] { return j.failure || j.closed || j.durable >= target; });
  if (j.failure) return *j.failure;
  return ok_status();  // closed: close() drained every batch, so durable >= target
}

Status Journal::close() { return impl_->close(); }

Result<std::vector<Event>> Journal::read(std::int64_t after, std::size_t max) const {
  std::lock_guard lock(impl_->read_mutex);
  if (!impl_->selector) {
    return Error::journal_closed("read after the journal was closed");
  }
  return impl_->selector->read(after, max);
}

std::optional<std::vector<Event>> Journal::read_recent(std::int64_t after, std::size_t max) const {
  Impl& j = *impl_;
  std::vector<std::shared_ptr<const std::vector<Event>>> parts;
  std::size_t available = 0;
  {
    std::lock_guard lock(j.mutex);
    if (j.closed || j.failure) return std::nullopt;
    if (after >= j.durable) return std::vector<Event>{};
    if (j.recent.empty() || j.recent.front().first > after + 1) return std::nullopt;
    auto it = std::partition_point(j.recent.begin(), j.recent.end(),
                                   [&](const Committed& c) { return c.last <= after; });
    for (; it != j.recent.end() && available < max; ++it) {
      parts.push_back(it->events);
      available += static_cast<std::size_t>(it->last - std::max(it->first, after + 1) + 1);
    }
  }
  // The batches are immutable once committed: copied without the mutex.
  std::vector<Event> out;
  out.reserve(std::min(max, available));
  for (const auto& part : parts) {
    for (const Event& e : *part) {
      if (e.seq <= after) continue;
      if (out.size() >= max) break;
      out.push_back(e);
      rows::as_read_back(out.back());
    }
  }
  return out;
}

std::int64_t Journal::wait_for_commit(std::int64_t after, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(impl_->mutex);
  impl_->commit_cv.wait_until(lock, deadline, [&] {
    return impl_->durable > after || impl_->failure.has_value() || impl_->closed;
  });
  return impl_->durable;
}

const std::string& Journal::journal_id() const { return impl_->meta.journal_id; }
const std::filesystem::path& Journal::path() const { return impl_->path; }
Durability Journal::durability() const { return impl_->options.durability; }

std::int64_t Journal::last_accepted_seq() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_accepted;
}

std::int64_t Journal::durable_seq() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->durable;
}

Status Journal::health() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->failure) return *impl_->failure;
  return ok_status();
}

Result<JournalInfo> Journal::info() const {
  std::lock_guard lock(impl_->read_mutex);
  if (!impl_->selector) return Error::journal_closed("info after the journal was closed");
  return impl_->selector->info();
}

}  // namespace hugo
