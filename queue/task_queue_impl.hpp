// TaskQueue::Impl: the queue's state and the steps every operation shares (see task_queue.cpp
// for the pattern). Internal: included by the task_queue*.cpp files only.
#pragma once

#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "queue/backpressure.hpp"
#include "journal/journal_access.hpp"
#include "journal/queue_state.hpp"
#include "queue/queue_telemetry.hpp"
#include "queue/queue_waiters.hpp"
#include "queue/retry_backoff.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace hugo {
namespace detail {

inline Error disposed_error() {
  return Error::disposed("The task queue has been disposed.");
}

}  // namespace detail

struct TaskQueue::Impl {
  std::shared_ptr<Journal> journal;
  TaskQueueOptions options;
  std::shared_ptr<Clock> clock;
  // taskqueue.name plus options.metric_tags: every instrument and span of this queue carries them.
  MetricTags tags;

  mutable std::mutex mutex;
  // Blocked enqueue and lease callers, woken only by the changes that can unblock them
  // (queue/queue_waiters.hpp). Under `mutex`.
  detail::QueueWaiters changed;
  detail::QueueState state;
  std::int64_t recorded_pending = 0;  // what taskqueue.pending / .active last added up to
  std::int64_t recorded_active = 0;
  std::vector<SkippedRow> skipped;  // set by open() (RecoveryMode::SkipInvalid), then constant
  bool closed = false;
  std::optional<Error> failure;
  std::optional<detail::Backpressure> backpressure;
  detail::RetryBackoff backoff;  // options.retry, or Fixed at requeue_delay; under `mutex`

  std::mutex sweeper_mutex;
  std::condition_variable_any sweeper_cv;
  std::jthread sweeper;

  // What an operation leaves to do after the lock is released.
  struct Aftermath {
    AppendTicket ticket;
    // The last rows appended for waiting enqueue calls (serve_room), when they went into a later
    // batch than `ticket`'s: finish() sees them durable too, so that they never wait for the flusher.
    AppendTicket served;
    std::optional<detail::Backpressure::Pending> signal;
    std::vector<DeadLetter> dead;
    detail::MetricBuffer metrics;  // emitted by finish(), after the lock is released
  };

  Status usable() const {
    if (failure) return *failure;
    if (closed) return detail::disposed_error();
    return ok_status();
  }

  // Runs on_handler_error; an exception from it has nowhere left to go and is dropped.
  void report(const Error& error) const {
    if (!options.on_handler_error) return;
    try {
      options.on_handler_error(error);
    } catch (...) {
    }
  }

  Event row(EventKind kind, std::int64_t task, std::int32_t attempt, Timestamp now) const {
    Event e;
    e.kind = kind;
    e.queue = options.name;
    e.task_id = task;
    e.attempt = attempt;
    e.occurred_at = now;
    return e;
  }

  // The row after a Failed or LeaseExpired: Requeued with attempt + 1, not leasable before now +
  // `retry_after` or the retry policy's delay, or DeadLettered with the attempt unchanged when
  // `requeue` is false or attempts are exhausted (docs/QUEUE.md). Takes `error` by value: callers
  // move in the copy they no longer need. Draws the policy's jitter: caller holds `mutex`.
  Event follow_up(const detail::TaskState& t, const OwnershipToken& token, Error error, bool requeue,
                  std::uint32_t requeue_flags, Timestamp now, std::optional<Duration> retry_after = {});

  // restore(): whether `item` keeps its task id (task_queue_admin.cpp). Caller holds `mutex`.
  bool keeps_task_id(const PendingItem& item, const std::set<std::int64_t>& kept) const;

  // Appends `events` as one atomic group and applies them to the state, which takes their payloads
  // (the journal keeps its own copy): afterwards the caller may read every field of `events` but
  // `payload` and `journal_id`. The rows' metrics and dead letters go to `after`; the ticket is
  // returned (commit() keeps it in `after`). Caller holds `mutex`.
  Result<AppendTicket> journal_rows(std::vector<Event>& events, Aftermath& after) {
    // Checked against `state` by the caller: the raw path's queue check is not needed.
    AppendTicket ticket = detail::JournalAccess::append_group_unchecked(*journal, events);
    if (ticket.seq == 0) {
      Result<std::int64_t> refused = ticket.wait();  // refused at once: validation or a failed journal
      if (refused.ok()) return Error::journal_io("the journal refused the append");
      if (refused.error().code() != errc::validation) {
        failure = refused.error();
        changed.notify_all();  // poisoned: the blocked calls must see it
      }
      return refused.error();
    }
    HUGO_TRY(apply_rows(events, after));
    return ticket;
  }

  // Applies rows the journal accepted (or, in a transaction, committed) to the state, which takes
  // their payloads; their metrics and dead letters go to `after`. Caller holds `mutex`.
  Status apply_rows(std::vector<Event>& events, Aftermath& after) {
    for (Event& e : events) {
      if (options.metrics) observe(e, after.metrics);
      Status applied = state.apply(detail::facts_taking_payload(e));
      if (!applied.ok()) {
        // The rows are in the journal but not in memory: memory can no longer be trusted.
        failure = applied.error();
        changed.notify_all();
        return applied.error();
      }
      if (e.kind == EventKind::DeadLettered) {
        if (const detail::TaskState* t = state.task(e.task_id)) after.dead.push_back(detail::dead_letter_of(*t));
      }
    }
    return ok_status();
  }

  // journal_rows() for the caller's own rows: `after` keeps the ticket that finish() waits for.
  Result<AppendTicket> commit(std::vector<Event>& events, Aftermath& after) {
    HUGO_ASSIGN_OR_RETURN(AppendTicket ticket, journal_rows(events, after));
    after.ticket = ticket;
    return ticket;
  }

  // Has room for `count` more pending tasks. Caller holds `mutex`.
  bool has_room(std::size_t count) const { return state.pending_count() + count <= options.capacity; }

  // Waiting for room (task_queue_room.cpp, docs/QUEUE.md "Targeted wake-ups"); caller holds `mutex`.
  // enqueue_now journals one Enqueued row per payload of `r` (moved) and writes r.task_ids.
  // A keyed request whose key a task holds by now appends nothing: r.duplicate, r.task_ids[0].
  Result<AppendTicket> enqueue_now(detail::RoomRequest& r, Aftermath& after);
  Event enqueued_row(std::string payload, const EnqueueOptions& o, Timestamp now) const;  // enqueue_now's row
  // Appends the rows of every waiting enqueue call that now fits, in arrival order (a call that
  // does not fit lets later, smaller ones by), into `after`'s metrics, and has the journal wake
  // each once its rows are durable; a refused one is left in `wakes` to wake once the mutex is
  // released. Returns the tasks added. The caller is usable.
  std::size_t serve_room(Aftermath& after, std::vector<std::shared_ptr<detail::WakeWord>>& wakes);
  // Waits, as `request`, until a lease serves it (request.served) or the queue has room for it
  // (the caller then appends its rows itself), honouring `wait`; a call that fails is off the list.
  Status await_room(std::unique_lock<std::mutex>& lock, const Wait& wait, detail::RoomRequest& request);

  // Records Hugo's queue instruments for one row, before it is applied (the lease it ends is
  // still in the state).
  void observe(const Event& e, detail::MetricBuffer& m) {
    auto lease_ms = [&](Timestamp since) { return std::chrono::duration<double, std::milli>(e.occurred_at - since).count(); };
    const detail::LeaseState* lease = e.token ? state.lease(e.token->lease_id) : nullptr;
    switch (e.kind) {
      case EventKind::Enqueued: m.add("taskqueue.enqueued", "items"); break;
      case EventKind::LeaseGranted: m.add("taskqueue.leased", "leases"); break;
      case EventKind::Heartbeat:
        m.add("taskqueue.heartbeats", "leases");
        if (lease && e.lease_expiration) {
          m.record("taskqueue.heartbeat.extension", "ms",
                   std::chrono::duration<double, std::milli>(*e.lease_expiration - lease->expires_at).count());
        }
        break;
      case EventKind::Completed: m.add("taskqueue.completed", "leases"); break;
      case EventKind::Failed: m.add("taskqueue.failed", "leases"); break;
      case EventKind::LeaseExpired: m.add("taskqueue.expired", "leases"); break;
      case EventKind::Requeued: m.add("taskqueue.requeued", "items"); break;
      case EventKind::DeadLettered: m.add("taskqueue.deadlettered", "items"); break;
      case EventKind::Canceled: m.add("taskqueue.canceled", "items"); break;
      default: break;
    }
    if (lease && (e.kind == EventKind::Completed || e.kind == EventKind::Failed || e.kind == EventKind::LeaseExpired ||
                  e.kind == EventKind::Canceled)) {
      m.record("taskqueue.lease.duration", "ms", lease_ms(lease->granted_at));
    }
  }

  // taskqueue.pending and .active are up-down counters (Hugo's kind) fed with the change since
  // the last record: buffers flushed after the lock in any order still sum to the queue's depth.
  // Caller holds `mutex`.
  void record_depths(detail::MetricBuffer& m) {
    if (!options.metrics) return;
    const auto pending = static_cast<std::int64_t>(state.pending_count());
    const auto active = static_cast<std::int64_t>(state.lease_count());
    if (pending != recorded_pending) m.add_up_down("taskqueue.pending", "items", static_cast<double>(pending - recorded_pending));
    if (active != recorded_active) m.add_up_down("taskqueue.active", "leases", static_cast<double>(active - recorded_active));
    recorded_pending = pending;
    recorded_active = active;
    m.record("taskqueue.pending.depth", "items", static_cast<double>(pending));
    m.record("taskqueue.active.depth", "leases", static_cast<double>(active));
  }

  // A closed queue takes its depths back out of the shared registry. Caller holds `mutex`.
  void forget_depths(detail::MetricBuffer& m) {
    if (!options.metrics) return;
    if (recorded_pending != 0) m.add_up_down("taskqueue.pending", "items", static_cast<double>(-recorded_pending));
    if (recorded_active != 0) m.add_up_down("taskqueue.active", "leases", static_cast<double>(-recorded_active));
    recorded_pending = recorded_active = 0;
  }

  void check_backpressure(Aftermath& after) {
    record_depths(after.metrics);
    if (!backpressure || !backpressure->enabled()) return;
    auto signal = backpressure->check(static_cast<std::int64_t>(state.pending_count()), clock->now());
    if (!signal) return;
    after.signal = signal;
    if (!options.metrics) return;
    // Hugo's four backpressure instruments: the transition, the queues now active (+1/-1), the
    // pending depth at the transition and the time spent in the state it leaves.
    const bool active = signal->signal.active;
    after.metrics.add_tagged("hugo.taskqueue.backpressure.transitions", "events", "state", active ? "active" : "inactive");
    after.metrics.add_up_down("hugo.taskqueue.backpressure.active", "queues", active ? 1 : -1);
    after.metrics.record("hugo.taskqueue.backpressure.pending", "items", static_cast<double>(signal->signal.pending));
    after.metrics.record("hugo.taskqueue.backpressure.duration", "ms",
                         std::chrono::duration<double, std::milli>(signal->in_previous_state).count());
  }

  // The one place where an operation runs user code: the backpressure listener, dead-letter
  // handlers and, through report(), on_handler_error. The caller holds no queue lock (`mutex`
  // is released, and Backpressure::deliver releases its own around the listener), so every
  // callback may call back into the queue, close() included. Order: the signal first, then,
  // once the rows are durable, one handler per dead letter in row order. Metrics buffered under the lock are emitted first.
  Status finish(Aftermath& after) {
    if (options.metrics) after.metrics.flush(*options.metrics, tags);
    if (backpressure) backpressure->deliver(after.signal);
    if (after.ticket.count > 0 && after.ticket.valid()) {
      auto durable = after.ticket.wait();
      if (!durable.ok()) {
        std::lock_guard lock(mutex);
        if (!failure) failure = durable.error();
        changed.notify_all();
        return std::move(durable).error();
      }
    }
    // Rows appended for waiting enqueue calls (each returns how they ended): a failure poisons too.
    if (auto served = after.served.valid() ? after.served.wait() : Result<std::int64_t>(0); !served.ok()) {
      std::lock_guard lock(mutex);
      if (!failure) failure = served.error();
      changed.notify_all();
    }
    for (const DeadLetter& d : after.dead) run_dead_letter_handler(d);
    return ok_status();
  }

  void run_dead_letter_handler(const DeadLetter& d) {
    if (!options.dead_letter_handler) return;
    try {
      Status handled = options.dead_letter_handler(d);
      if (!handled.ok()) report(Error(handled.error()).with("task_id", std::to_string(d.task_id)).with("stage", "dead_letter_handler"));
    } catch (const std::exception& e) {
      report(Error::exception(std::string("dead-letter handler threw: ") + e.what())
                 .with("task_id", std::to_string(d.task_id))
                 .with("stage", "dead_letter_handler"));
    } catch (...) {
      report(Error::exception("dead-letter handler threw a non-standard exception")
                 .with("task_id", std::to_string(d.task_id))
                 .with("stage", "dead_letter_handler"));
    }
  }

  // Blocks a lease call until `ready()` holds (a leasable task), honouring `wait`, and re-checks
  // by `wake_by()` (a steady time: the next scheduled task's, at most a sweep_interval away); a
  // wake-up that brings wake_by() forward re-arms the sleep. Caller holds `lock`. (Enqueue calls
  // wait for room as a RoomRequest: task_queue_room.cpp.)
  template <class Ready, class WakeBy>
  Status block(std::unique_lock<std::mutex>& lock, const Wait& wait, Ready ready, WakeBy wake_by) {
    bool waited = false;
    Status status = [&]() -> Status {
      while (true) {
        HUGO_TRY(usable());
        if (wait.stop.stop_requested()) return canceled();
        if (ready()) return ok_status();
        const auto now = std::chrono::steady_clock::now();
        if (now >= wait.deadline) return timed_out();
        const auto until = std::min(wait.deadline, wake_by());
        waited = true;
        ++changed.work_waiting;
        detail::QueueWork& work = detail::queue_work();
        work.blocked.fetch_add(1, std::memory_order_relaxed);
        bool asleep = false;  // the first check runs before the call sleeps
        const auto woken = [&] {
          if (asleep) work.wakeups.fetch_add(1, std::memory_order_relaxed);
          asleep = true;
          return ready() || !usable().ok() || wake_by() < until;
        };
        if (until == std::chrono::steady_clock::time_point::max()) {
          changed.work.wait(lock, wait.stop, woken);
        } else {
          changed.work.wait_until(lock, wait.stop, until, woken);
        }
        work.blocked.fetch_sub(1, std::memory_order_relaxed);
        --changed.work_waiting;
      }
    }();
    // A caller that waited and leaves without taking anything may have been the one woken for
    // it: hand the wake-up to the next waiter.
    if (waited && !status.ok()) changed.wake_lessees(changed.lessees_for(1));
    return status;
  }

  // Cancellation wins even when the call could proceed at once (Hugo's fast paths ignored it; docs/QUEUE.md).
  static Error canceled() { return Error::canceled("the wait was canceled"); }
  Error timed_out() const {
    return Error::queue_timeout("the wait deadline passed before the queue was ready").with("queue", options.name);
  }

  Result<std::size_t> sweep() {
    Aftermath after;
    std::size_t expired = 0;
    {
      std::lock_guard lock(mutex);
      HUGO_TRY(usable());
      const Timestamp now = clock->now();
      std::vector<Event> events;
      for (std::int64_t lease_id : state.expired_leases(now)) {
        const detail::LeaseState& l = *state.lease(lease_id);
        const detail::TaskState& t = *state.task(l.task_id);
        const OwnershipToken token{l.task_id, l.attempt, l.lease_id};
        Error expired_error(std::string(errc::lease_expired), "Lease expired without heartbeat.");
        expired_error.with("attempt", std::to_string(l.attempt))
            .with("enqueuedAt", format_iso8601(t.enqueued_at))
            .with("expiredAt", format_iso8601(now));
        Event e = row(EventKind::LeaseExpired, l.task_id, l.attempt, now);
        e.token = token;
        e.error = expired_error;
        e.flags = flags::FromExpiration;
        events.push_back(std::move(e));
        // The follow-up sees the task as it will be after LeaseExpired: same attempt.
        events.push_back(follow_up(t, token, std::move(expired_error), true, flags::FromExpiration, now));
        ++expired;
      }
      if (!events.empty()) {
        HUGO_TRY(commit(events, after));
        changed.notify_all();
      }
      check_backpressure(after);  // also delivers transitions deferred by the cooldown
      changed.notify_all();       // delayed requeues may have become leasable
    }
    HUGO_TRY(finish(after));
    return expired;
  }

  // A journal damaged or written by another tool can leave a task after Failed/LeaseExpired with
  // no follow-up row. Finish it the way the queue would have: requeue or dead-letter.
  Status repair_awaiting_requeue() {
    Aftermath after;
    {
      std::lock_guard lock(mutex);
      std::vector<Event> events;
      const Timestamp now = clock->now();
      for (std::int64_t id : state.awaiting_requeue()) {
        const detail::TaskState& t = *state.task(id);
        Error error = t.last_error.value_or(Error::unspecified("recovered without a follow-up row"));
        events.push_back(follow_up(t, t.last_token.value_or(OwnershipToken{}), std::move(error), true, flags::None, now));
        if (!t.last_token) events.back().token.reset();
      }
      if (events.empty()) return ok_status();
      HUGO_TRY(commit(events, after));
    }
    return finish(after);
  }

  // Stops the sweeper thread. Called on that thread (a callback closing its own queue), it only
  // asks it to stop: the loop ends once the callback returns and the destructor joins it.
  void stop_sweeper() {
    if (!sweeper.joinable()) return;
    sweeper.request_stop();
    if (sweeper.get_id() != std::this_thread::get_id()) sweeper.join();
  }

  void sweeper_loop(std::stop_token stop) {
    const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(options.sweep_interval);
    std::unique_lock lock(sweeper_mutex);
    while (!stop.stop_requested()) {
      sweeper_cv.wait_for(lock, stop, interval, [] { return false; });
      if (stop.stop_requested()) break;
      lock.unlock();
      auto swept = sweep();
      if (!swept.ok() && swept.error().code() != errc::disposed) report(swept.error());
      lock.lock();
    }
  }
};

}  // namespace hugo
