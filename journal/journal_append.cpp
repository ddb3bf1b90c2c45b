// Accepting appends: Journal::append_async and its group forms assign seqs, fill the fields the
// journal owns, validate every event and queue them in one batch for the writer thread, all or
// nothing. Checked appends first pass the raw path's queue check (QueueGuard, docs/QUEUE.md),
// which folds every accepted row before the new ones. See journal_impl.hpp for the locking.
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

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
using detail::ready_future;

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

AppendTicket Journal::Impl::accept(Event* events, std::size_t count, bool move_in, bool checked) {
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
  if (writing) fold_batch(*writing);
  for (const auto& batch : batches) fold_batch(*batch);
  return ok_status();
}

AppendTicket Journal::append_async(Event event) { return impl_->accept(&event, 1, true, true); }

Result<std::int64_t> Journal::append(Event event) { return append_async(std::move(event)).wait(); }

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

std::chrono::milliseconds detail::JournalAccess::busy_timeout(const Journal& journal) {
  return journal.impl_->options.busy_timeout;  // set at open, never changed
}

}  // namespace hugo
