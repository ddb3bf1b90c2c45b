// TaskQueue's administrative operations: drain, restore, and an operator's requeue of a dead
// letter. They follow the same pattern as the lease lifecycle (task_queue.cpp).
#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "journal/json_util.hpp"
#include "journal/task_queue_impl.hpp"

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
    for (const auto& [order, id] : q.state.pending()) {
      const detail::TaskState& t = *q.state.task(id);
      items.push_back(PendingItem{t.task_id, t.payload, t.payload_format, t.attempt, t.enqueued_at, t.last_error, t.last_token});
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
    std::set<std::int64_t> seen;
    for (PendingItem& item : items) {
      if (item.attempt < 1) return Error(std::string(errc::validation), "restored item has attempt < 1");
      if (item.task_id != 0) {
        const detail::TaskState* live = q.state.task(item.task_id);
        if ((live && live->phase != detail::Phase::Dead) || !seen.insert(item.task_id).second) {
          return Error(std::string(errc::validation),
                       "task " + std::to_string(item.task_id) + " is already live in queue '" + q.options.name +
                           "'; restore it once, after draining it")
              .with("task_id", std::to_string(item.task_id));
        }
      }
      Event e = q.row(EventKind::Restored, item.task_id, item.attempt, now);
      e.payload = std::move(item.payload);
      e.payload_format = item.payload_format;
      e.error = std::move(item.last_error);
      // A token names a lease of this task; an item without a task id here starts a new task.
      if (item.task_id != 0) e.token = item.last_token;
      e.enqueued_at = item.enqueued_at == Timestamp{} ? now : item.enqueued_at;
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
      return Error(std::string(errc::validation),
                   "task " + std::to_string(task_id) + " is not a dead letter of queue '" + q.options.name + "'")
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

}  // namespace hugo
