// Enqueue calls waiting for room (docs/QUEUE.md, "Targeted wake-ups"). A call that finds the queue
// full lists itself as a RoomRequest and sleeps on a word of its own. The lease that frees room
// appends the rows of the listed calls that now fit, in arrival order, right after its own rows
// and under the same hold of the queue's mutex, so that they usually share its commit; the journal
// wakes each call once its rows are resolved. A served call so sleeps once, where waking it to take
// the room itself would cost a second sleep on its own commit (and a race for the mutex). Calls
// woken by any other change (close, failure, drain, ...) re-check and take the room themselves.
#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "queue/task_queue_impl.hpp"

#include <exception>
#include <stop_token>
#include <string>

namespace hugo {

Result<AppendTicket> TaskQueue::Impl::enqueue_now(detail::RoomRequest& r, Aftermath& after) {
  const Timestamp now = clock->now();
  if (r.key) {
    if (const auto holder = state.key_holder(*r.key, now)) {
      r.duplicate = true;
      r.task_ids[0] = *holder;
      return AppendTicket{};
    }
  }
  std::vector<Event> events;
  events.reserve(r.slots());
  for (std::string& payload : r.payloads) {
    events.push_back(enqueued_row(std::move(payload), *r.options, now));
    if (r.key) events.back().idempotency_key = *r.key;
  }
  HUGO_ASSIGN_OR_RETURN(AppendTicket ticket, journal_rows(events, after));
  for (std::size_t i = 0; i < events.size(); ++i) r.task_ids[i] = events[i].task_id;
  return ticket;
}

Event TaskQueue::Impl::enqueued_row(std::string payload, const EnqueueOptions& o, Timestamp now) const {
  Event e = row(EventKind::Enqueued, 0, 1, now);
  e.payload = std::move(payload);
  e.payload_format = o.format;
  if (o.origin.peer_id && !o.origin.peer_id->empty()) e.owner_peer_id = o.origin.peer_id;
  // Decided at the row's time: a call that waited for room counts its delay from then.
  const Timestamp available = o.not_before ? *o.not_before : now + o.delay;
  if (available > now) e.available_at = available;
  e.priority = o.priority;
  return e;
}

std::size_t TaskQueue::Impl::serve_room(Aftermath& after, std::vector<std::shared_ptr<detail::WakeWord>>& wakes) {
  std::size_t added = 0;
  // Stops once the queue is poisoned: journal_rows() woke every call still listed.
  for (auto it = changed.room.begin(); it != changed.room.end() && !failure;) {
    detail::RoomRequest& r = **it;
    // A canceled call was woken by its stop callback and leaves by itself: cancellation wins.
    if (!has_room(r.slots()) || r.stop.stop_requested()) {
      ++it;
      continue;
    }
    it = changed.room.erase(it);
    r.served = true;
    Result<AppendTicket> appended = [&]() -> Result<AppendTicket> {
      try {
        return enqueue_now(r, after);
      } catch (const std::exception& e) {
        // Its payloads may be gone and its rows half applied: memory can no longer be trusted.
        failure = Error::exception(std::string("appending a waiting enqueue call's rows threw: ") + e.what());
        changed.notify_all();
        return *failure;
      }
    }();
    if (!appended.ok() || r.duplicate) {
      if (!appended.ok()) r.refused = appended.error();
      wakes.push_back(r.word);  // nothing to wait for: woken once the mutex is released
      continue;
    }
    r.ticket = *appended;
    detail::JournalAccess::wake_when_resolved(r.ticket, r.word);
    // Batches commit in order: finish() waiting for the last one covers every earlier one.
    if (r.ticket.batch_id() != after.ticket.batch_id()) after.served = r.ticket;
    added += r.slots();
  }
  return added;
}

Status TaskQueue::Impl::await_room(std::unique_lock<std::mutex>& lock, const Wait& wait, detail::RoomRequest& request) {
  request.stop = wait.stop;  // only a waiting call needs it: serve_room reads it
  request.word = std::make_shared<detail::WakeWord>();
  const std::shared_ptr<detail::WakeWord> word = request.word;
  std::stop_callback on_stop(wait.stop, [word] { word->wake_all(); });
  detail::QueueWork& work = detail::queue_work();
  changed.room.push_back(&request);
  // Off the list however the call leaves, an exception included: the list must never name it then.
  struct Unlist {
    TaskQueue::Impl& q;
    std::unique_lock<std::mutex>& lock;
    const detail::RoomRequest* request;
    ~Unlist() {
      if (lock.owns_lock()) q.changed.withdraw(request);
    }
  } unlist{*this, lock, &request};
  while (true) {
    // Read before the checks: a stop callback bumps the word without the mutex.
    const std::uint32_t seen = word->read();
    if (request.served) return ok_status();
    Status ready = usable();
    if (ready.ok() && wait.stop.stop_requested()) ready = canceled();
    if (ready.ok() && has_room(request.slots())) break;
    if (ready.ok() && std::chrono::steady_clock::now() >= wait.deadline) ready = timed_out();
    if (!ready.ok()) return ready;
    work.blocked.fetch_add(1, std::memory_order_relaxed);
    lock.unlock();
    word->sleep_until(seen, wait.deadline);
    lock.lock();
    work.blocked.fetch_sub(1, std::memory_order_relaxed);
    work.wakeups.fetch_add(1, std::memory_order_relaxed);
  }
  return ok_status();  // room, and no lease has served it: it appends its rows itself
}

}  // namespace hugo
