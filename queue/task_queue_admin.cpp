// TaskQueue's administrative operations: drain, restore, an operator's requeue of a dead letter,
// and cancel. They follow the same pattern as the lease lifecycle (task_queue_lease.cpp).
#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "core/json_util.hpp"
#include "queue/task_queue_impl.hpp"

#include <set>

namespace hugo {

Result<std::vector<PendingItem>> TaskQueue::drain() {
  Impl& q = *impl_;
  Impl::Aftermath after;
  std::vector<PendingItem> items;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    const Timestamp now = q.clock->now();
    std::vector<Event> events;
    for (const std::int64_t id : q.state.pending_fifo()) {
      const detail::TaskState& t = *q.state.task(id);
      items.push_back(PendingItem{t.task_id, t.payload, t.payload_format, t.attempt, t.enqueued_at, t.last_error,
                                  t.last_token, std::nullopt, t.priority});
      if (t.available_at > now) items.back().available_at = t.available_at;  // not leasable yet
      Event e = q.row(EventKind::Drained, t.task_id, t.attempt, now);
      e.token = t.last_token;
      e.error = t.last_error;
      e.flags = flags::FromDrain;
      events.push_back(std::move(e));
    }
    if (events.empty()) return items;
    HUGO_TRY(q.commit(events, after));
    q.check_backpressure(after);
    q.changed.notify_all();
  }
  HUGO_TRY(q.finish(after));
  return items;
}

// The restore identity rule (docs/QUEUE.md, "Restore and task identity"): an item keeps its task
// id only when that id names the very task it was drained as: a task of this queue whose last row
// is Drained, not restored since (by this call either), whose first row holds the same payload.
// Any other item starts a new task (task id = its Restored row's seq) and the row records the id
// it had (Event::original_task_id), so one task id names one task forever.
bool TaskQueue::Impl::keeps_task_id(const PendingItem& item, const std::set<std::int64_t>& kept) const {
  if (item.task_id < 1 || kept.contains(item.task_id) || !state.drained(item.task_id)) return false;
  auto first = journal->read(item.task_id - 1, 1);
  if (!first.ok() || first->empty()) return false;
  const Event& start = first->front();
  return start.seq == item.task_id && start.task_id == item.task_id && start.payload == item.payload &&
         start.payload_format == item.payload_format;
}

Status TaskQueue::restore(std::vector<PendingItem> items) {
  for (std::size_t i = 0; i < items.size(); ++i) {  // the append checks it too; this names the item
    if (Status fits = check_payload_size(items[i].payload.size()); !fits.ok()) {
      return std::move(fits).error().with("index", std::to_string(i));
    }
  }
  Impl& q = *impl_;
  Impl::Aftermath after;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    const Timestamp now = q.clock->now();
    std::vector<Event> events;
    std::set<std::int64_t> kept;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].attempt < 1) {
        return Error::validation("restored item has attempt < 1 (attempts start at 1)")
            .with("index", std::to_string(i));
      }
    }
    for (PendingItem& item : items) {
      const bool keep = q.keeps_task_id(item, kept);
      Event e = q.row(EventKind::Restored, keep ? item.task_id : 0, item.attempt, now);
      e.payload = std::move(item.payload);
      e.payload_format = item.payload_format;
      e.error = std::move(item.last_error);
      // A token names a lease of this task; a new task has had none.
      if (keep) {
        kept.insert(item.task_id);
        e.token = item.last_token;
      } else if (item.task_id != 0) {
        e.original_task_id = item.task_id;
      }
      e.enqueued_at = item.enqueued_at == Timestamp{} ? now : item.enqueued_at;
      if (item.available_at && *item.available_at > now) e.available_at = item.available_at;
      e.priority = item.priority;
      events.push_back(std::move(e));
    }
    if (events.empty()) return ok_status();
    HUGO_TRY(q.commit(events, after));
    q.check_backpressure(after);
    q.changed.notify_all();
  }
  return q.finish(after);
}

Status TaskQueue::requeue_dead_letter(std::int64_t task_id) {
  Impl& q = *impl_;
  Impl::Aftermath after;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    const detail::TaskState* t = q.state.task(task_id);
    if (!t || t->phase != detail::Phase::Dead) {
      return Error::validation("task " + std::to_string(task_id) + " is not a dead letter of queue '" + q.options.name + "'")
          .with("task_id", std::to_string(task_id));
    }
    std::vector<Event> events{q.row(EventKind::Requeued, task_id, t->attempt + 1, q.clock->now())};
    // The token (a row field that must name the previous attempt) is kept when it does.
    if (t->last_token && t->last_token->attempt == t->attempt) events[0].token = t->last_token;
    events[0].error = t->last_error;
    HUGO_TRY(q.commit(events, after));
    q.check_backpressure(after);
    q.changed.notify_all();
  }
  return q.finish(after);
}

Result<CancelOutcome> TaskQueue::cancel(std::int64_t task_id, std::string reason) {
  if (reason.size() > 4096) {
    return Error::validation("a cancel reason is longer than 4096 bytes").with("bytes", std::to_string(reason.size()));
  }
  if (!is_valid_utf8(reason)) return Error::validation("a cancel reason must be valid UTF-8");
  Impl& q = *impl_;
  Impl::Aftermath after;
  CancelOutcome outcome = CancelOutcome::WasPending;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    const detail::TaskState* t = q.state.task(task_id);
    if (!t || (t->phase != detail::Phase::Pending && t->phase != detail::Phase::Leased)) {
      const std::string now_is = !t ? "not a live task" : t->phase == detail::Phase::Dead ? "dead-lettered" : "awaiting its requeue";
      return Error::validation("task " + std::to_string(task_id) + " of queue '" + q.options.name + "' is " + now_is +
                               "; only a pending, scheduled or leased task can be canceled")
          .with("task_id", std::to_string(task_id))
          .with("queue", q.options.name);
    }
    std::vector<Event> events{q.row(EventKind::Canceled, task_id, t->attempt, q.clock->now())};
    if (t->phase == detail::Phase::Leased) {
      events[0].token = OwnershipToken{task_id, t->attempt, t->lease_id};  // fenced: the lease ends here
      outcome = CancelOutcome::WasLeased;
    }
    if (!reason.empty()) events[0].error = Error(std::string(errc::canceled), std::move(reason));
    HUGO_TRY(q.commit(events, after));
    q.check_backpressure(after);
    q.changed.notify_all();  // a pending task left: room for waiting enqueue calls
  }
  HUGO_TRY(q.finish(after));
  return outcome;
}

}  // namespace hugo
