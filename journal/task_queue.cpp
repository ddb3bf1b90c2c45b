// TaskQueue: the live half of the queue projection.
//
// Every operation follows one pattern, under `mutex`:
//   1. check the queue is usable and the caller's token is live;
//   2. build the rows the operation journals (one group, so a crash keeps all or none);
//   3. append them (seqs are assigned at once) and apply them to `state`;
// then, with the lock released: deliver backpressure signals, wait until the rows are durable,
// run dead-letter handlers. Because rows are applied only after the journal accepted them, the
// in-memory order equals the journal order. If the journal later fails to commit, the queue is
// poisoned: memory may be ahead of the file, so every call returns the journal's error until the
// queue is reopened and rebuilt from what was committed.
#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "journal/backpressure.hpp"
#include "journal/queue_loader.hpp"
#include "journal/queue_state.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace hugo {
namespace {

constexpr std::size_t kMaxPayloadBytes = 8u << 20;

Error inactive(const OwnershipToken& token) {
  return Error(std::string(errc::lease_inactive), "Lease is no longer active.")
      .with("token", token.to_string())
      .with("task_id", std::to_string(token.task_id));
}

Error disposed() {
  return Error(std::string(errc::disposed), "The task queue has been disposed.");
}

Error invalid_option(const std::string& option, const std::string& why) {
  return Error(std::string(errc::validation), "invalid TaskQueueOptions." + option + ": " + why)
      .with("option", option);
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

Status validate(TaskQueueOptions& o) {
  o.name = trim(o.name);
  if (o.name.empty()) return invalid_option("name", "a queue needs a non-blank name");
  if (o.name.size() > 1024) return invalid_option("name", "longer than 1024 bytes");
  if (o.capacity == 0) return invalid_option("capacity", "must be > 0");
  if (o.lease_duration <= Duration::zero()) return invalid_option("lease_duration", "must be > 0");
  if (o.heartbeat_interval < Duration::zero()) return invalid_option("heartbeat_interval", "must be >= 0");
  if (o.sweep_interval <= Duration::zero()) return invalid_option("sweep_interval", "must be > 0");
  if (o.requeue_delay < Duration::zero()) return invalid_option("requeue_delay", "must be >= 0");
  if (o.max_delivery_attempts < 1) return invalid_option("max_delivery_attempts", "must be >= 1");
  if (o.backpressure) {
    if (o.backpressure->high_watermark == 0) return invalid_option("backpressure.high_watermark", "0 is invalid; use < 0 to disable");
    if (o.backpressure->cooldown <= Duration::zero()) return invalid_option("backpressure.cooldown", "must be > 0");
  }
  if (o.default_owner.empty()) o.default_owner = "default";
  return ok_status();
}

// Process-wide registry: one TaskQueue per (journal, name), so two instances never fold and
// write the same queue concurrently.
std::mutex g_registry_mutex;
std::set<std::pair<const Journal*, std::string>> g_open_queues;

}  // namespace

struct TaskQueue::Impl {
  std::shared_ptr<Journal> journal;
  TaskQueueOptions options;
  std::shared_ptr<Clock> clock;

  mutable std::mutex mutex;
  std::condition_variable_any changed;  // pending grew or shrank, or the queue closed
  detail::QueueState state;
  bool closed = false;
  std::optional<Error> failure;
  std::optional<detail::Backpressure> backpressure;

  std::mutex sweeper_mutex;
  std::condition_variable_any sweeper_cv;
  std::jthread sweeper;

  // What an operation leaves to do after the lock is released.
  struct Aftermath {
    AppendTicket ticket;
    std::optional<detail::Backpressure::Pending> signal;
    std::vector<DeadLetter> dead;
  };

  Status usable() const {
    if (failure) return *failure;
    if (closed) return disposed();
    return ok_status();
  }

  void report(const Error& error) const {
    if (options.on_handler_error) options.on_handler_error(error);
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

  DeadLetter dead_letter_of(const detail::TaskState& t) const {
    DeadLetter d;
    d.task_id = t.task_id;
    d.seq = t.dead_seq;
    d.payload = t.payload;
    d.payload_format = t.payload_format;
    d.attempt = t.attempt;
    d.enqueued_at = t.enqueued_at;
    d.dead_lettered_at = t.dead_at;
    d.error = t.last_error.value_or(Error(std::string(errc::unspecified), "no error recorded"));
    d.last_token = t.last_token;
    return d;
  }

  // The row after a Failed or LeaseExpired: Requeued with attempt + 1, or DeadLettered with the
  // attempt unchanged when `requeue` is false or attempts are exhausted (reference §1.4).
  Event follow_up(const detail::TaskState& t, const OwnershipToken& token, const Error& error, bool requeue,
                  std::uint32_t requeue_flags, Timestamp now) const {
    const std::int32_t next = t.attempt + 1;
    if (!requeue || next > options.max_delivery_attempts) {
      Event e = row(EventKind::DeadLettered, t.task_id, t.attempt, now);
      e.token = token;
      e.error = error;
      e.flags = flags::DeadLetter;
      return e;
    }
    Event e = row(EventKind::Requeued, t.task_id, next, now);
    e.token = token;
    e.error = error;
    e.flags = requeue_flags;
    if (options.requeue_delay > Duration::zero()) e.available_at = now + options.requeue_delay;
    return e;
  }

  // Appends `events` as one atomic group and applies them to the state. Caller holds `mutex`.
  Result<AppendTicket> commit(std::vector<Event>& events, Aftermath& after) {
    AppendTicket ticket = journal->append_group_async(events);
    if (ticket.seq == 0) {
      Status refused = ticket.durable.get();  // refused at once: validation or a failed journal
      if (refused.ok()) return Error(std::string(errc::journal_io), "the journal refused the append");
      if (refused.error().code() != errc::validation) failure = refused.error();
      return refused.error();
    }
    for (const Event& e : events) {
      if (options.metrics) observe(e);
      Status applied = state.apply(detail::facts_of(e));
      if (!applied.ok()) {
        // The rows are in the journal but not in memory: memory can no longer be trusted.
        failure = applied.error();
        return applied.error();
      }
      if (e.kind == EventKind::DeadLettered) {
        if (const detail::TaskState* t = state.task(e.task_id)) after.dead.push_back(dead_letter_of(*t));
      }
    }
    after.ticket = ticket;
    return ticket;
  }

  // Records Hugo's queue instruments for one row, before it is applied (the lease it ends is
  // still in the state).
  void observe(const Event& e) {
    MetricsRegistry& m = *options.metrics;
    const MetricTags tags{{"taskqueue.name", options.name}};
    auto lease_ms = [&](Timestamp since) { return std::chrono::duration<double, std::milli>(e.occurred_at - since).count(); };
    const detail::LeaseState* lease = e.token ? state.lease(e.token->lease_id) : nullptr;
    switch (e.kind) {
      case EventKind::Enqueued: m.add("taskqueue.enqueued", "items", tags); break;
      case EventKind::LeaseGranted: m.add("taskqueue.leased", "leases", tags); break;
      case EventKind::Heartbeat:
        m.add("taskqueue.heartbeats", "leases", tags);
        if (lease && e.lease_expiration) {
          m.record("taskqueue.heartbeat.extension", "ms", tags,
                   std::chrono::duration<double, std::milli>(*e.lease_expiration - lease->expires_at).count());
        }
        break;
      case EventKind::Completed: m.add("taskqueue.completed", "leases", tags); break;
      case EventKind::Failed: m.add("taskqueue.failed", "leases", tags); break;
      case EventKind::LeaseExpired: m.add("taskqueue.expired", "leases", tags); break;
      case EventKind::Requeued: m.add("taskqueue.requeued", "items", tags); break;
      case EventKind::DeadLettered: m.add("taskqueue.deadlettered", "items", tags); break;
      default: break;
    }
    if (lease && (e.kind == EventKind::Completed || e.kind == EventKind::Failed || e.kind == EventKind::LeaseExpired)) {
      m.record("taskqueue.lease.duration", "ms", tags, lease_ms(lease->granted_at));
    }
  }

  void record_depths() {
    if (!options.metrics) return;
    MetricsRegistry& m = *options.metrics;
    const MetricTags tags{{"taskqueue.name", options.name}};
    m.set("taskqueue.pending", "items", tags, static_cast<double>(state.pending_count()));
    m.set("taskqueue.active", "leases", tags, static_cast<double>(state.lease_count()));
    m.record("taskqueue.pending.depth", "items", tags, static_cast<double>(state.pending_count()));
    m.record("taskqueue.active.depth", "leases", tags, static_cast<double>(state.lease_count()));
  }

  void check_backpressure(Aftermath& after) {
    record_depths();
    if (!backpressure || !backpressure->enabled()) return;
    auto signal = backpressure->check(static_cast<std::int64_t>(state.pending_count()), clock->now());
    if (signal) {
      after.signal = signal;
      if (options.metrics) {
        options.metrics->add("hugo.taskqueue.backpressure.transitions", "events",
                             {{"taskqueue.name", options.name}, {"state", signal->signal.active ? "active" : "inactive"}});
      }
    }
  }

  // With the lock released: deliver signals, wait for durability, run dead-letter handlers.
  Status finish(Aftermath& after) {
    if (backpressure) backpressure->deliver(after.signal);
    if (after.ticket.count > 0 && after.ticket.durable.valid()) {
      auto durable = after.ticket.wait();
      if (!durable.ok()) {
        std::lock_guard lock(mutex);
        if (!failure) failure = durable.error();
        changed.notify_all();
        return std::move(durable).error();
      }
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
      report(Error(std::string(errc::exception), std::string("dead-letter handler threw: ") + e.what())
                 .with("task_id", std::to_string(d.task_id))
                 .with("stage", "dead_letter_handler"));
    } catch (...) {
      report(Error(std::string(errc::exception), "dead-letter handler threw a non-standard exception")
                 .with("task_id", std::to_string(d.task_id))
                 .with("stage", "dead_letter_handler"));
    }
  }

  // Blocks on `changed` until `ready()` holds, honouring `wait`. Caller holds `lock`.
  template <class Ready>
  Status block(std::unique_lock<std::mutex>& lock, const Wait& wait, Ready ready,
               std::chrono::steady_clock::duration recheck = std::chrono::steady_clock::duration::max()) {
    while (true) {
      HUGO_TRY(usable());
      // Cancellation wins even when the call could proceed at once (Hugo's fast paths ignored it, W18).
      if (wait.stop.stop_requested()) return Error(std::string(errc::canceled), "the wait was canceled");
      if (ready()) return ok_status();
      const auto now = std::chrono::steady_clock::now();
      if (now >= wait.deadline) {
        return Error(std::string(errc::queue_timeout), "the wait deadline passed before the queue was ready")
            .with("queue", options.name);
      }
      auto until = wait.deadline;
      if (recheck != std::chrono::steady_clock::duration::max() && now + recheck < until) until = now + recheck;
      if (until == std::chrono::steady_clock::time_point::max()) {
        changed.wait(lock, wait.stop, [&] { return ready() || !usable().ok(); });
      } else {
        changed.wait_until(lock, wait.stop, until, [&] { return ready() || !usable().ok(); });
      }
    }
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
        events.push_back(follow_up(t, token, expired_error, true, flags::FromExpiration, now));
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
        const Error error = t.last_error.value_or(Error(std::string(errc::unspecified), "recovered without a follow-up row"));
        events.push_back(follow_up(t, t.last_token.value_or(OwnershipToken{}), error, true, flags::None, now));
        if (!t.last_token) events.back().token.reset();
      }
      if (events.empty()) return ok_status();
      HUGO_TRY(commit(events, after));
    }
    return finish(after);
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

TaskQueue::TaskQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TaskQueue::~TaskQueue() { (void)close(); }

Result<std::unique_ptr<TaskQueue>> TaskQueue::open(std::shared_ptr<Journal> journal, TaskQueueOptions options) {
  if (!journal) return invalid_option("journal", "is null");
  HUGO_TRY(validate(options));
  {
    std::lock_guard lock(g_registry_mutex);
    if (!g_open_queues.emplace(journal.get(), options.name).second) {
      return Error(std::string(errc::validation),
                   "queue '" + options.name + "' is already open on this journal (close it first)")
          .with("queue", options.name);
    }
  }
  auto release_name = [&] {
    std::lock_guard lock(g_registry_mutex);
    g_open_queues.erase({journal.get(), options.name});
  };
  auto impl = std::make_unique<Impl>();
  impl->journal = journal;
  impl->clock = options.clock ? options.clock : SystemClock::shared();
  impl->options = std::move(options);
  auto report = [raw = impl.get()](const Error& e) { raw->report(e); };
  impl->backpressure.emplace(impl->options.backpressure, report);

  Status loaded = journal->flush();
  if (loaded.ok()) loaded = detail::load_queue(journal->path(), impl->options.name, impl->state);
  if (loaded.ok()) loaded = impl->repair_awaiting_requeue();
  if (!loaded.ok()) {
    release_name();
    return std::move(loaded).error();
  }
  if (impl->options.run_sweeper) {
    Impl* raw = impl.get();
    impl->sweeper = std::jthread([raw](std::stop_token stop) { raw->sweeper_loop(stop); });
  }
  return std::unique_ptr<TaskQueue>(new TaskQueue(std::move(impl)));
}

Result<std::int64_t> TaskQueue::enqueue(std::string payload, Wait wait, PayloadFormat format) {
  if (payload.size() > kMaxPayloadBytes) {
    return Error(std::string(errc::validation), "payload of " + std::to_string(payload.size()) +
                                                    " bytes exceeds the 8 MiB limit (store large blobs elsewhere and enqueue a reference)")
        .with("bytes", std::to_string(payload.size()));
  }
  Impl& q = *impl_;
  Impl::Aftermath after;
  std::int64_t task_id = 0;
  {
    std::unique_lock lock(q.mutex);
    HUGO_TRY(q.usable());
    auto has_room = [&] { return q.state.pending_count() < q.options.capacity; };
    if (!has_room() && wait.deadline == std::chrono::steady_clock::time_point::min()) {
      return Error(std::string(errc::queue_full), "queue '" + q.options.name + "' holds its capacity of " +
                                                      std::to_string(q.options.capacity) + " pending tasks")
          .with("queue", q.options.name)
          .with("capacity", std::to_string(q.options.capacity));
    }
    HUGO_TRY(q.block(lock, wait, has_room));
    std::vector<Event> events{q.row(EventKind::Enqueued, 0, 1, q.clock->now())};
    events[0].payload = std::move(payload);
    events[0].payload_format = format;
    HUGO_TRY(q.commit(events, after));
    task_id = events[0].task_id;
    q.check_backpressure(after);
    q.changed.notify_all();
  }
  HUGO_TRY(q.finish(after));
  return task_id;
}

Result<Lease> TaskQueue::lease(std::string owner, Wait wait) {
  Impl& q = *impl_;
  Impl::Aftermath after;
  Lease lease;
  {
    std::unique_lock lock(q.mutex);
    const auto recheck = std::chrono::duration_cast<std::chrono::steady_clock::duration>(q.options.sweep_interval);
    HUGO_TRY(q.block(lock, wait, [&] { return q.state.first_leasable(q.clock->now()) != nullptr; }, recheck));
    const Timestamp now = q.clock->now();
    const detail::TaskState& t = *q.state.first_leasable(now);
    if (owner.empty()) owner = q.options.default_owner;
    std::vector<Event> events{q.row(EventKind::LeaseGranted, t.task_id, t.attempt, now)};
    events[0].owner_peer_id = owner;
    events[0].lease_expiration = now + q.options.lease_duration;
    events[0].token = OwnershipToken{t.task_id, t.attempt, 0};
    HUGO_TRY(q.commit(events, after));
    const detail::TaskState& leased = *q.state.task(events[0].task_id);
    lease.token = *events[0].token;
    lease.queue = q.options.name;
    lease.owner = owner;
    lease.payload = leased.payload;
    lease.payload_format = leased.payload_format;
    lease.attempt = leased.attempt;
    lease.enqueued_at = leased.enqueued_at;
    lease.granted_at = now;
    lease.expires_at = *events[0].lease_expiration;
    lease.last_error = leased.last_error;
    q.check_backpressure(after);
    q.changed.notify_all();
  }
  HUGO_TRY(q.finish(after));
  return lease;
}

Result<HeartbeatResult> TaskQueue::heartbeat(const OwnershipToken& token) {
  Impl& q = *impl_;
  Impl::Aftermath after;
  HeartbeatResult result;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    const detail::LeaseState* l = q.state.lease(token.lease_id);
    if (!l || l->task_id != token.task_id || l->attempt != token.attempt) return inactive(token);
    const Timestamp now = q.clock->now();
    if (q.options.heartbeat_interval > Duration::zero() && now - l->last_heartbeat < q.options.heartbeat_interval) {
      return HeartbeatResult{HeartbeatResult::Outcome::Throttled, l->expires_at};
    }
    std::vector<Event> events{q.row(EventKind::Heartbeat, token.task_id, token.attempt, now)};
    events[0].token = token;
    events[0].lease_expiration = now + q.options.lease_duration;
    HUGO_TRY(q.commit(events, after));
    result = HeartbeatResult{HeartbeatResult::Outcome::Extended, *events[0].lease_expiration};
  }
  HUGO_TRY(q.finish(after));
  return result;
}

Status TaskQueue::complete(const OwnershipToken& token) {
  Impl& q = *impl_;
  Impl::Aftermath after;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    const detail::LeaseState* l = q.state.lease(token.lease_id);
    if (!l || l->task_id != token.task_id || l->attempt != token.attempt) return inactive(token);
    std::vector<Event> events{q.row(EventKind::Completed, token.task_id, token.attempt, q.clock->now())};
    events[0].token = token;
    HUGO_TRY(q.commit(events, after));
    q.record_depths();
  }
  return q.finish(after);
}

Result<FailOutcome> TaskQueue::fail(const OwnershipToken& token, Error error, bool requeue) {
  Impl& q = *impl_;
  Impl::Aftermath after;
  FailOutcome outcome = FailOutcome::Requeued;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    const detail::LeaseState* l = q.state.lease(token.lease_id);
    if (!l || l->task_id != token.task_id || l->attempt != token.attempt) return inactive(token);
    const Timestamp now = q.clock->now();
    std::vector<Event> events{q.row(EventKind::Failed, token.task_id, token.attempt, now)};
    events[0].token = token;
    events[0].error = error;
    events.push_back(q.follow_up(*q.state.task(token.task_id), token, error, requeue, flags::None, now));
    outcome = events[1].kind == EventKind::Requeued ? FailOutcome::Requeued : FailOutcome::DeadLettered;
    HUGO_TRY(q.commit(events, after));
    q.check_backpressure(after);
    q.changed.notify_all();
  }
  HUGO_TRY(q.finish(after));
  return outcome;
}

Result<std::size_t> TaskQueue::sweep_expired() { return impl_->sweep(); }

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

Status TaskQueue::close() {
  Impl& q = *impl_;
  {
    std::lock_guard lock(q.mutex);
    if (q.closed) return ok_status();
    q.closed = true;
    q.changed.notify_all();
  }
  if (q.sweeper.joinable()) {
    q.sweeper.request_stop();
    q.sweeper.join();
  }
  {
    std::lock_guard lock(g_registry_mutex);
    g_open_queues.erase({q.journal.get(), q.options.name});
  }
  return q.journal->flush();
}

std::size_t TaskQueue::pending_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state.pending_count();
}

std::size_t TaskQueue::active_lease_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state.lease_count();
}

std::size_t TaskQueue::dead_letter_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state.dead_count();
}

std::vector<DeadLetter> TaskQueue::dead_letters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state.snapshot(impl_->options.name).dead;
}

QueueSnapshot TaskQueue::snapshot() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state.snapshot(impl_->options.name);
}

const std::string& TaskQueue::name() const { return impl_->options.name; }

BackpressureSignal TaskQueue::backpressure() const { return impl_->backpressure->last_delivered(); }

}  // namespace hugo
