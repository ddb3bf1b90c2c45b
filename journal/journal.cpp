// Journal: opening and closing, and reads on the writer process's side. The state, and the
// concurrency design that protects it, are in journal_impl.hpp; appends are accepted in
// journal_append.cpp and group-committed in journal_writer.cpp.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "schema/file_identity.hpp"
#include "journal/journal_impl.hpp"
#include "schema/file_probe.hpp"
#include "schema/wal_checkpointer.hpp"
#include "schema/wal_files.hpp"
#include "journal/rows.hpp"
#include "schema/sqlite.hpp"
#include "schema/writer_lock.hpp"
#include "schema/schema.hpp"

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>

namespace hugo {
namespace {

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

using detail::Committed;

Status Journal::Impl::configure_writer() {
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

Status Journal::Impl::close() {
  std::lock_guard closing_lock(close_mutex);
  {
    std::unique_lock lock(mutex);
    if (closed) return failure ? Status(*failure) : ok_status();
    closing = true;
  }
  flush_cv.notify_all();
  gather_cv.notify_all();
  if (flusher.joinable()) flusher.join();
  {
    // Drains the queue as a leader; accept() refuses new appends from now on.
    std::unique_lock lock(mutex);
    while (committing || !batches.empty()) {
      if (committing) {
        commit_cv.wait(lock);
      } else {
        const std::shared_ptr<detail::Batch> last = batches.back();
        lead(lock, *last);
      }
    }
  }
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
  batch_storage->close();
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

Journal::Journal(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() { (void)close(); }

Result<std::unique_ptr<Journal>> Journal::open(const std::filesystem::path& path, JournalOptions options) {
  HUGO_TRY(validate_options(options));
  if (!options.clock) options.clock = SystemClock::shared();
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  impl->options = options;
  // Before the -lock file exists and before SQLite may switch the file to WAL: a refused open
  // changes nothing (also checks the -wal, as wal_files::check_wal_not_truncated).
  HUGO_TRY(file_probe::check(path, file_probe::Intent::Create, options.busy_timeout));
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
  impl->flusher = std::thread([raw] { raw->flusher_loop(); });
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

// Waits for the batch that holds the last accepted append (queued, or being written), leading
// the commits if no one else is: batches commit in order, so every earlier append is durable too.
Status Journal::flush() {
  Impl& j = *impl_;
  std::shared_ptr<detail::Batch> last;
  {
    std::lock_guard lock(j.mutex);
    if (j.failure) return *j.failure;
    if (j.tx_body && std::this_thread::get_id() == j.tx_thread) {
      return Error::validation("Journal::flush from inside a Journal::transaction body would wait for itself");
    }
    last = !j.batches.empty() ? j.batches.back() : j.writing;
  }
  if (last) j.await(*last);
  std::lock_guard lock(j.mutex);
  if (j.failure) return *j.failure;
  return ok_status();
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
      // A TaskQueue's events are kept without it (Intake::CopyLean); set at open, never changed.
      out.back().journal_id = j.meta.journal_id;
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
