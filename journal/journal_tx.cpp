// Journal::transaction (hugo/transaction.hpp): the application's writes and queue rows in one
// SQLite transaction on the write connection.
//
// The calling thread becomes the leader (journal_impl.hpp), commits every batch queued before
// it, and keeps the lead, so no other thread writes, until the transaction ends. It opens the
// transaction and runs the body, whose Tx::execute statements run at once. Appends from other
// threads meanwhile are accepted and queued as usual; appends from the body's own thread are
// refused (they would wait for themselves). When the body returns ok, each queue that took part
// locks itself and builds its rows, which are accepted like any append (seqs in acceptance order);
// then every queued batch, those of other threads included, is written into the open transaction
// oldest first, and one COMMIT makes all of it durable at once. Only then are the queues' rows
// applied to their state and the queues unlocked: nothing the transaction did is visible before
// it is durable, and a rollback leaves no trace but the body's own failed statements.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "journal/journal_impl.hpp"
#include "journal/tx_impl.hpp"
#include "schema/app_sql.hpp"
#include "schema/wal_files.hpp"

#include <exception>

namespace hugo {

Status Tx::execute(std::string_view sql, const std::vector<SqlValue>& params) {
  return sql::run_application_statement(*impl_->db, sql, params);
}

Result<std::vector<SqlRow>> Tx::query(std::string_view sql, const std::vector<SqlValue>& params) {
  std::vector<SqlRow> rows;
  HUGO_TRY(sql::run_application_statement(*impl_->db, sql, params, &rows));
  return rows;
}

void Journal::Impl::publish_transaction(std::unique_lock<std::mutex>& lock,
                                        std::vector<std::shared_ptr<detail::Batch>>& written, const Status& status) {
  tx_batches.clear();
  last_committer = std::this_thread::get_id();
  std::vector<detail::Committed> evicted;
  std::deque<std::shared_ptr<detail::Batch>> poisoned_queue;
  if (status.ok()) {
    for (const auto& batch : written) {
      durable = batch->events.back().seq;
      last_batch_size = batch->events.size();
      if (options.recent_events > 0) {
        for (auto& gone : remember(detail::Committed::of(batch))) evicted.push_back(std::move(gone));
      }
    }
  } else {
    if (!failure) failure = status.error();
    poisoned_queue.swap(batches);  // nothing queued may commit after a failure
    for (const auto& queued : poisoned_queue) written.push_back(queued);
  }
  std::vector<std::shared_ptr<detail::WakeWord>> also_wake;
  for (const auto& batch : written) {
    batch->status = status;
    batch->done = true;
    batch->resolved.store(true, std::memory_order_release);
    for (auto& word : batch->also_wake) also_wake.push_back(std::move(word));
    batch->also_wake.clear();
  }
  lock.unlock();
  commit_cv.notify_all();
  for (const auto& batch : written) batch->wake.wake_all();
  for (const auto& word : also_wake) word->wake_all();
  evicted.clear();
  written.clear();
  lock.lock();
}

Result<TxOutcome> Journal::transaction(const std::function<Status(Tx&)>& body) {
  Impl& j = *impl_;
  std::unique_lock lock(j.mutex);
  if (j.tx_thread == std::this_thread::get_id()) {
    return Error::validation("Journal::transaction inside a transaction's body: transactions do not nest");
  }
  j.commit_cv.wait(lock, [&] { return !j.committing || j.failure || j.closing; });
  if (j.failure) return *j.failure;
  if (j.closing) return Error::journal_closed("transaction after the journal was closed (reopen it)").with("path", j.path.string());
  j.committing = true;
  j.tx_thread = std::this_thread::get_id();
  // Everything accepted before the transaction is committed first, in its own transactions.
  while (!j.batches.empty() && !j.failure) j.commit_front(lock);
  const auto release = [&] {
    j.tx_thread = std::thread::id();
    j.hand_lead_on(lock);
  };
  if (j.failure) {
    Error failed = *j.failure;
    release();
    return failed;
  }
  lock.unlock();

  Tx::Impl state;
  state.db = &j.writer_db;
  TxOutcome outcome;
  std::vector<std::vector<Event>> rows;
  std::vector<std::shared_ptr<detail::Batch>> written;
  Status status = [&]() -> Status {
    HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(j.writer_db, true));
    {
      std::lock_guard body_lock(j.mutex);
      j.tx_body = true;
    }
    Tx tx(state);
    Status ran = [&]() -> Status {
      try {
        return body(tx);
      } catch (const std::exception& e) {
        return Error::exception(std::string("the transaction's body threw: ") + e.what());
      } catch (...) {
        return Error::exception("the transaction's body threw a non-standard exception");
      }
    }();
    {
      std::lock_guard body_lock(j.mutex);
      j.tx_body = false;
    }
    HUGO_TRY(ran);
    rows.resize(state.participants.size());
    for (std::size_t i = 0; i < state.participants.size(); ++i) {
      HUGO_TRY(state.participants[i].participant->prepare(rows[i]));
    }
    for (std::vector<Event>& group : rows) {
      if (group.empty()) continue;
      AppendTicket accepted = j.accept(group.data(), group.size(), Impl::Intake::Copy, false);
      if (accepted.seq == 0) {
        Result<std::int64_t> refused = accepted.wait();
        return refused.ok() ? Error::journal_io("the journal refused the transaction's rows") : refused.error();
      }
    }
    {
      std::lock_guard take(j.mutex);
      written.assign(j.batches.begin(), j.batches.end());  // every queued batch, ours among them
      j.batches.clear();
      j.tx_batches = written;
    }
    // As write_batch: a batch refused for a deleted -shm is not in the WAL either.
    HUGO_TRY(wal_files::check_shm_unchanged(j.path, j.shm_opened_as, j.meta.journal_id, "writer"));
    j.inserter->begin_rows();
    Status inserted = ok_status();
    for (const auto& batch : written) {
      inserted = j.inserter->insert_rows(batch->events);
      if (!inserted.ok()) break;
    }
    if (inserted.ok()) inserted = txn.commit();
    j.inserter->end_rows(inserted.ok());
    HUGO_TRY(inserted);
    return j.check_file();
  }();

  lock.lock();
  if (!written.empty()) {
    // Rows were accepted: they are durable now, or the journal is poisoned like any failed commit.
    if (status.ok()) outcome.last_seq = written.back()->events.back().seq;
    j.publish_transaction(lock, written, status);
  }
  lock.unlock();
  outcome.task_ids.assign(static_cast<std::size_t>(state.enqueues), 0);
  for (std::size_t i = 0; i < state.participants.size(); ++i) {
    detail::TxParticipant& p = *state.participants[i].participant;
    if (status.ok()) p.committed(rows[i], outcome);
    else p.abandoned();  // unlocks the queue if prepare() locked it
  }
  lock.lock();
  release();
  lock.unlock();
  if (!status.ok()) return std::move(status).error();
  return outcome;
}

}  // namespace hugo
