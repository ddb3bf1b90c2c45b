// Accepting appends: Journal::append_async and its group forms assign seqs, fill the fields the
// journal owns, validate every event and queue them in one batch for a later commit, all or
// nothing; and the tickets they return. Checked appends first pass the raw path's queue check (QueueGuard, docs/QUEUE.md),
// which folds every accepted row before the new ones. See journal_impl.hpp for the locking.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "core/fault_points.hpp"
#include "journal/journal_access.hpp"
#include "journal/journal_impl.hpp"

#include <algorithm>
#include <limits>

namespace hugo {
namespace {

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

}  // namespace

using detail::Batch;
using detail::Committed;
using detail::TicketHold;
using detail::resolved_ticket;

Status Journal::Impl::seq_room(std::size_t count) const {
  constexpr std::int64_t kMaxSeq = std::numeric_limits<std::int64_t>::max();
  if (count <= static_cast<std::uint64_t>(kMaxSeq - last_accepted)) return ok_status();
  return Error::journal_seq_exhausted("the journal's sequence space is used up: seq " + std::to_string(last_accepted) + " was issued and " +
                   std::to_string(count) + " more would pass the highest seq, " + std::to_string(kMaxSeq) +
                   " (start a new journal; this one stays readable)")
      .with("path", path.string())
      .with("last_seq", std::to_string(last_accepted))
      .with("count", std::to_string(count));
}

AppendTicket Journal::Impl::accept(Event* events, std::size_t count, Intake intake, bool checked) {
  // Before any lock: a large JSON payload or error is parsed without holding up other appends.
  for (std::size_t i = 0; i < count; ++i) {
    if (Status valid = rows::validate_content(events[i]); !valid.ok()) return resolved_ticket(count, std::move(valid));
  }
  std::unique_lock<std::mutex> guarding;
  if (checked && detail::QueueGuard::may_need_check(events, count)) {
    guarding = std::unique_lock(guard_mutex);
    std::int64_t committed = 0;
    {
      std::lock_guard lock(mutex);
      committed = durable;
    }
    // Most of the catching up, without holding up other appends.
    if (Status read = fold_file(committed); !read.ok()) return resolved_ticket(count, read.error());
  }
  std::unique_lock lock(mutex);
  if (failure) return resolved_ticket(count, *failure);
  if (tx_body && std::this_thread::get_id() == tx_thread) {
    return resolved_ticket(count, Error::validation("an append from inside a Journal::transaction body would wait for "
                                                    "itself; use the Tx forms (TaskQueue::enqueue(Tx&, ...), Tx::execute)"));
  }
  if (closing) {
    return resolved_ticket(count, Error::journal_closed("append after the journal was closed (reopen it to append)")
                                      .with("path", path.string()));
  }
  if (Status room = seq_room(count); !room.ok()) return resolved_ticket(count, std::move(room));
  for (std::size_t i = 0; i < count; ++i) {
    Event& event = events[i];
    const std::int64_t seq = last_accepted + 1 + static_cast<std::int64_t>(i);
    event.seq = seq;
    event.source_event_id = seq;
    event.recorded_at = event.occurred_at;
    if (intake != Intake::CopyLean) event.journal_id = meta.journal_id;
    const bool starts_task = event.kind == EventKind::Enqueued || event.kind == EventKind::Restored;
    if (starts_task && event.task_id == 0) event.task_id = seq;
    if (event.token && event.kind == EventKind::LeaseGranted && event.token->lease_id == 0) {
      event.token->lease_id = seq;
    }
    if (event.token && event.token->task_id == 0) event.token->task_id = event.task_id;
    if (Status valid = rows::validate_numbering(event); !valid.ok()) {
      return resolved_ticket(count, std::move(valid));
    }
  }
  if (guarding && detail::QueueGuard::needs_check(events, count)) {
    Status admitted = fold_accepted();
    if (admitted.ok()) admitted = guard.admit(events, count);
    if (!admitted.ok()) return resolved_ticket(count, std::move(admitted));
  }
  const std::int64_t first = last_accepted + 1;
  last_accepted += static_cast<std::int64_t>(count);
  const bool opens_batch = batches.empty() || batches.back()->events.size() + count > options.max_batch;
  if (opens_batch) {
    const std::size_t room = std::max(count, std::min(options.max_batch, last_batch_size * 2));
    auto batch = std::make_shared<Batch>(batch_storage, room);
    batch->opened_at = std::chrono::steady_clock::now();
    batches.push_back(std::move(batch));
  }
  const std::shared_ptr<Batch>& batch = batches.back();
  batch->make_room(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (intake == Intake::Move) {
      batch->events.push_back(std::move(events[i]));
    } else {
      batch->events.push_back(events[i]);
    }
  }
  std::shared_ptr<TicketHold> hold = batch->hold.lock();
  if (!hold) {
    hold = std::make_shared<TicketHold>();
    hold->journal = shared_from_this();
    hold->batch = batch;
    batch->hold = hold;
  }
  // A waiting caller commits the batch itself; the flusher is woken only to watch a first batch
  // (it then times it) or when a full batch waits for nobody behind it.
  const bool wake_gatherer = gathering && (opens_batch || batch->events.size() >= gather_target);
  const bool wake_flusher = opens_batch && (flusher_idle || (batches.size() > 1 && !committing));
  lock.unlock();
  if (wake_gatherer) gather_cv.notify_one();
  if (wake_flusher) flush_cv.notify_one();
  return AppendTicket(first, count, std::move(hold));
}

detail::TicketHold::~TicketHold() {
  if (!journal || batch->resolved.load(std::memory_order_acquire)) return;  // the common case: waited
  {
    std::lock_guard lock(journal->mutex);
    // Committed, already the flusher's, or a later append holds a new ticket for it.
    if (batch->done || batch->unwaited || !batch->hold.expired()) return;
    batch->unwaited = true;
  }
  journal->flush_cv.notify_one();
}

AppendTicket detail::resolved_ticket(std::size_t count, Status status) {
  auto batch = std::make_shared<Batch>();
  batch->status = std::move(status);
  batch->done = true;
  batch->resolved.store(true, std::memory_order_relaxed);
  auto hold = std::make_shared<TicketHold>();
  hold->batch = std::move(batch);
  return AppendTicket(0, count, std::move(hold));
}

AppendTicket::AppendTicket(std::int64_t seq, std::size_t count, std::shared_ptr<const detail::TicketHold> hold) noexcept
    : seq(seq), count(count), hold_(std::move(hold)) {}

Result<std::int64_t> AppendTicket::wait() const {
  if (!hold_) return Error::validation("waited on an empty AppendTicket");
#ifdef HUGO_FAULT_POINTS
  if (seq != 0 && fault_fires(FaultPoint::ack_before_commit)) {
    // The planted bug acknowledges at once and keeps the ticket alive until this thread's next
    // acknowledgement, so the batch waits for the flusher's timer instead of committing as soon as
    // its last ticket is dropped: a window a SIGKILL can hit (docs/TESTING.md, "Planted faults").
    thread_local std::shared_ptr<const detail::TicketHold> kept_uncommitted;
    kept_uncommitted = hold_;
    return seq;
  }
#endif
  detail::Batch& batch = *hold_->batch;
  if (!batch.resolved.load(std::memory_order_acquire)) hold_->journal->await(batch);
  if (!batch.status.ok()) return batch.status.error();
  return seq;
}

const void* AppendTicket::batch_id() const noexcept { return hold_ ? hold_->batch.get() : nullptr; }

Status Journal::Impl::fold_file(std::int64_t until) {
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

Status Journal::Impl::fold_accepted() {
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
  for (const auto& batch : tx_batches) fold_batch(*batch);
  if (writing) fold_batch(*writing);
  for (const auto& batch : batches) fold_batch(*batch);
  return ok_status();
}

AppendTicket Journal::append_async(Event event) { return impl_->accept(&event, 1, Impl::Intake::Move, true); }

Result<std::int64_t> Journal::append(Event event) { return append_async(std::move(event)).wait(); }

AppendTicket Journal::append_group_async(std::vector<Event>& events) {
  if (events.empty()) return resolved_ticket(0, ok_status());
  std::vector<JournalFilled> before;
  before.reserve(events.size());
  for (const Event& e : events) before.push_back(JournalFilled::of(e));
  AppendTicket ticket = impl_->accept(events.data(), events.size(), Impl::Intake::Copy, true);
  if (ticket.seq == 0) {  // refused: leave no trace in the caller's events
    for (std::size_t i = 0; i < events.size(); ++i) before[i].restore(events[i]);
  }
  return ticket;
}

AppendTicket detail::JournalAccess::append_group_unchecked(Journal& journal, std::vector<Event>& events) {
  if (events.empty()) return resolved_ticket(0, ok_status());
  return journal.impl_->accept(events.data(), events.size(), Journal::Impl::Intake::CopyLean, false);
}

void detail::JournalAccess::wake_when_resolved(const AppendTicket& ticket, std::shared_ptr<WakeWord> word) {
  const TicketHold* hold = ticket.hold_.get();
  if (hold && hold->journal) {
    std::lock_guard lock(hold->journal->mutex);
    if (!hold->batch->done) {
      hold->batch->also_wake.push_back(std::move(word));
      return;
    }
  }
  word->wake_all();
}

void detail::JournalAccess::claim_queue(Journal& journal, const std::string& name) {
  std::lock_guard lock(journal.impl_->mutex);
  journal.impl_->guard.claim(name);
}

void detail::JournalAccess::release_queue(Journal& journal, const std::string& name) {
  std::lock_guard lock(journal.impl_->mutex);
  journal.impl_->guard.release(name);
}

std::chrono::milliseconds detail::JournalAccess::busy_timeout(const Journal& journal) {
  return journal.impl_->options.busy_timeout;  // set at open, never changed
}

std::thread::id detail::JournalAccess::last_commit_thread(const Journal& journal) {
  std::lock_guard lock(journal.impl_->mutex);
  return journal.impl_->last_committer;
}

detail::JournalAccess::CommitQueue detail::JournalAccess::commit_queue(const Journal& journal) {
  std::lock_guard lock(journal.impl_->mutex);
  CommitQueue seen;
  seen.committing = journal.impl_->committing;
  seen.queued_batches = journal.impl_->batches.size();
  seen.flusher_wakeups_sent = journal.impl_->flusher_wakeups_sent;
  for (const auto& batch : journal.impl_->batches) seen.sleepers += batch->waiters;
  return seen;
}

std::size_t detail::JournalAccess::batch_spares(const Journal& journal) {
  return journal.impl_->batch_storage->spares();
}

}  // namespace hugo
