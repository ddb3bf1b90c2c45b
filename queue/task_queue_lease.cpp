// TaskQueue's lease lifecycle: lease, heartbeat, complete, fail and the sweep of expired leases.
// Each follows the pattern of task_queue.cpp. An operation that names a lease by its token finds
// it through live_lease() and fails with lease.inactive, changing nothing, once that lease ended.
#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "queue/task_queue_impl.hpp"
#include "queue/live_lease.hpp"

#include <optional>
#include <set>
#include <span>

namespace hugo {
namespace {

using detail::live_lease;

// The operations' bodies, shared by the single and batch forms. The public methods add a span.
// `leases` receives the granted leases: a vector, or for lease() a one-slot buffer (Single), so
// that a single call allocates no vectors of its own.
template <class Leases>
Status lease_rows(TaskQueue::Impl& q, std::string owner, std::size_t max_count, const Wait& wait, Leases& leases) {
  if (max_count == 0) return Error::validation("lease_batch needs max_count > 0");
  TaskQueue::Impl::Aftermath after;
  std::size_t wake = 0;  // lease callers to wake for the tasks of the enqueue calls served
  std::vector<std::shared_ptr<detail::WakeWord>> refused;  // served enqueue calls whose append was refused
  {
    std::unique_lock lock(q.mutex);
    // A sleeping lease call wakes when the next scheduled task comes due, and at least every
    // sweep_interval (the queue's clock may be a ManualClock, which no sleep can follow).
    const auto wake_by = [&q] {
      const Timestamp clock_now = q.clock->now();
      Duration sleep = q.options.sweep_interval;
      if (const auto next = q.state.next_available_after(clock_now)) sleep = std::min(sleep, *next - clock_now);
      return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(sleep);
    };
    Timestamp now{};
    std::vector<const detail::TaskState*> chosen;
    const detail::TaskState* first = nullptr;  // max_count == 1: the one task, without `chosen`
    while (max_count == 1 ? first == nullptr : chosen.empty()) {  // empty only if the clock stepped back between the two reads
      HUGO_TRY(q.block(lock, wait, [&] { return q.state.first_leasable(q.clock->now()) != nullptr; }, wake_by));
      now = q.clock->now();
      if (max_count == 1) first = q.state.first_leasable(now);
      else chosen = q.state.leasable(now, max_count);
    }
    const std::span<const detail::TaskState* const> tasks = max_count == 1 ? std::span(&first, 1) : std::span(chosen);
    if (owner.empty()) owner = q.options.default_owner;
    // Everything that can throw (copying payloads) happens before the rows are appended, so a
    // failure here journals nothing; after commit() only the lease ids are filled in.
    std::vector<Event> events;
    events.reserve(tasks.size());
    leases.reserve(tasks.size());
    for (const detail::TaskState* t : tasks) {
      Event& e = events.emplace_back(q.row(EventKind::LeaseGranted, t->task_id, t->attempt, now));
      e.owner_peer_id = owner;
      e.lease_expiration = now + q.options.lease_duration;
      e.token = OwnershipToken{t->task_id, t->attempt, 0};
      Lease& lease = leases.emplace_back();
      lease.queue = q.options.name;
      lease.owner = owner;
      lease.payload = t->payload;
      lease.payload_format = t->payload_format;
      lease.attempt = t->attempt;
      lease.enqueued_at = t->enqueued_at;
      lease.granted_at = now;
      lease.expires_at = *e.lease_expiration;
      lease.last_error = t->last_error;
    }
    HUGO_TRY(q.commit(events, after));
    for (std::size_t i = 0; i < events.size(); ++i) leases[i].token = *events[i].token;  // lease id = its seq
    // The room these leases freed goes to the enqueue calls waiting for it, in this batch.
    wake = q.changed.lessees_for(q.serve_room(after, refused));
    q.check_backpressure(after);
  }
  for (const auto& word : refused) word->wake_all();
  q.changed.wake_lessees(wake);
  return q.finish(after);
}

// lease()'s one-slot stand-in for the vector lease_rows fills.
struct Single {
  std::optional<Lease> lease;
  void reserve(std::size_t) {}
  Lease& emplace_back() { return lease.emplace(); }
  Lease& operator[](std::size_t) { return *lease; }
};

// `row_seq` receives the seq of the Heartbeat row (left 0 when none is appended).
Result<HeartbeatResult> heartbeat_row(TaskQueue::Impl& q, const OwnershipToken& token, std::int64_t& row_seq) {
  TaskQueue::Impl::Aftermath after;
  HeartbeatResult result;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    HUGO_ASSIGN_OR_RETURN(const detail::LeaseState* l, live_lease(q, token));
    const Timestamp now = q.clock->now();
    if (q.options.heartbeat_interval > Duration::zero() && now - l->last_heartbeat < q.options.heartbeat_interval) {
      return HeartbeatResult{HeartbeatResult::Outcome::Throttled, l->expires_at};
    }
    std::vector<Event> events;  // not an initializer list: that would copy the row
    events.push_back(q.row(EventKind::Heartbeat, token.task_id, token.attempt, now));
    events[0].token = token;
    events[0].lease_expiration = now + q.options.lease_duration;
    HUGO_TRY(q.commit(events, after));
    row_seq = events[0].seq;
    result = HeartbeatResult{HeartbeatResult::Outcome::Extended, *events[0].lease_expiration};
  }
  HUGO_TRY(q.finish(after));
  return result;
}

// `row_seq` receives the seq of the first Completed row.
Status complete_rows(TaskQueue::Impl& q, std::span<const OwnershipToken> tokens, std::int64_t& row_seq) {
  TaskQueue::Impl::Aftermath after;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    if (tokens.empty()) return ok_status();
    std::set<std::int64_t> seen;
    for (const OwnershipToken& token : tokens) {
      HUGO_TRY(live_lease(q, token));
      if (tokens.size() > 1 && !seen.insert(token.lease_id).second) {
        return Error::validation("complete_batch lists the lease of token " + token.to_string() +
                                                        " twice; nothing was completed")
            .with("token", token.to_string());
      }
    }
    const Timestamp now = q.clock->now();
    std::vector<Event> events;
    events.reserve(tokens.size());
    for (const OwnershipToken& token : tokens) {
      events.push_back(q.row(EventKind::Completed, token.task_id, token.attempt, now));
      events.back().token = token;
    }
    HUGO_TRY(q.commit(events, after));
    row_seq = events[0].seq;
    q.record_depths(after.metrics);
  }
  return q.finish(after);
}

// `row_seq` receives the seq of the Failed row. `retry_after`: the caller's delay for this retry.
Result<FailOutcome> fail_rows(TaskQueue::Impl& q, const OwnershipToken& token, Error error, bool requeue,
                              std::optional<Duration> retry_after, std::int64_t& row_seq) {
  TaskQueue::Impl::Aftermath after;
  if (retry_after && !detail::delay_in_range(*retry_after)) {
    return Error::validation("fail_and_retry_after needs a retry_after of 0 to 1000 years; nothing was recorded")
        .with("token", token.to_string())
        .with("retry_after_us", std::to_string(retry_after->count()));
  }
  if (error.code().empty() && error.message().empty() && !error.cause()) {
    return Error::validation("fail() needs an error with a code or a message; nothing was recorded")
        .with("token", token.to_string())
        .with("task_id", std::to_string(token.task_id));
  }
  FailOutcome outcome = FailOutcome::Requeued;
  {
    std::lock_guard lock(q.mutex);
    HUGO_TRY(q.usable());
    HUGO_TRY(live_lease(q, token));
    const Timestamp now = q.clock->now();
    std::vector<Event> events;  // not an initializer list: that would copy the row
    events.reserve(2);
    events.push_back(q.row(EventKind::Failed, token.task_id, token.attempt, now));
    events[0].token = token;
    events[0].error = error;
    events.push_back(
        q.follow_up(*q.state.task(token.task_id), token, std::move(error), requeue, flags::None, now, retry_after));
    outcome = events[1].kind == EventKind::Requeued ? FailOutcome::Requeued : FailOutcome::DeadLettered;
    HUGO_TRY(q.commit(events, after));
    row_seq = events[0].seq;
    q.check_backpressure(after);
    q.changed.notify_all();
  }
  HUGO_TRY(q.finish(after));
  return outcome;
}

}  // namespace

Event TaskQueue::Impl::follow_up(const detail::TaskState& t, const OwnershipToken& token, Error error, bool requeue,
                                std::uint32_t requeue_flags, Timestamp now, std::optional<Duration> retry_after) {
  const std::int32_t next = t.attempt + 1;
  if (!requeue || next > options.max_delivery_attempts) {
    Event e = row(EventKind::DeadLettered, t.task_id, t.attempt, now);
    e.token = token;
    e.error = std::move(error);
    e.flags = flags::DeadLetter;
    return e;
  }
  Event e = row(EventKind::Requeued, t.task_id, next, now);
  e.token = token;
  e.error = std::move(error);
  e.flags = requeue_flags;
  if (const Duration delay = retry_after ? *retry_after : backoff.delay_after(t.attempt); delay > Duration::zero()) {
    e.available_at = now + delay;
  }
  return e;
}

Result<Lease> TaskQueue::lease(std::string owner, Wait wait) {
  detail::OpSpan span(impl_->options.tracer.get(), "lease", impl_->tags, impl_->options.on_handler_error);
  Single one;
  Status leased = lease_rows(*impl_, std::move(owner), 1, wait, one);
  if (!leased.ok()) {
    span.finish(&leased.error());
    return std::move(leased).error();
  }
  span.token(one.lease->token);
  span.seq(one.lease->token.lease_id);
  span.finish(nullptr);
  return std::move(*one.lease);
}

Result<std::vector<Lease>> TaskQueue::lease_batch(std::string owner, std::size_t max_count, Wait wait) {
  detail::OpSpan span(impl_->options.tracer.get(), "lease", impl_->tags, impl_->options.on_handler_error);
  std::vector<Lease> granted;
  Result<std::vector<Lease>> leases = [&]() -> Result<std::vector<Lease>> {
    HUGO_TRY(lease_rows(*impl_, std::move(owner), max_count, wait, granted));
    return std::move(granted);
  }();
  if (leases.ok()) {
    span.tag("taskqueue.batch.size", std::to_string(leases->size()));
    span.seq(leases->front().token.lease_id);
  }
  span.finish(leases);
  return leases;
}

Result<HeartbeatResult> TaskQueue::heartbeat(const OwnershipToken& token) {
  detail::OpSpan span(impl_->options.tracer.get(), "heartbeat", impl_->tags, impl_->options.on_handler_error);
  span.token(token);
  std::int64_t row_seq = 0;
  auto result = heartbeat_row(*impl_, token, row_seq);
  span.seq(row_seq);
  span.finish(result);
  return result;
}

Status TaskQueue::complete(const OwnershipToken& token) {
  detail::OpSpan span(impl_->options.tracer.get(), "complete", impl_->tags, impl_->options.on_handler_error);
  span.token(token);
  std::int64_t row_seq = 0;
  Status done = complete_rows(*impl_, std::span(&token, 1), row_seq);
  span.seq(row_seq);
  span.finish(done);
  return done;
}

Status TaskQueue::complete_batch(const std::vector<OwnershipToken>& tokens) {
  detail::OpSpan span(impl_->options.tracer.get(), "complete", impl_->tags, impl_->options.on_handler_error);
  span.tag("taskqueue.batch.size", std::to_string(tokens.size()));
  std::int64_t row_seq = 0;
  Status done = complete_rows(*impl_, tokens, row_seq);
  span.seq(row_seq);
  span.finish(done);
  return done;
}

Result<FailOutcome> TaskQueue::fail(const OwnershipToken& token, Error error, bool requeue) {
  // Hugo names the span by the caller's intent; the outcome can still differ (attempts exhausted).
  detail::OpSpan span(impl_->options.tracer.get(), requeue ? "fail.requeue" : "fail.deadletter", impl_->tags,
                      impl_->options.on_handler_error);
  span.token(token);
  std::int64_t row_seq = 0;
  auto outcome = fail_rows(*impl_, token, std::move(error), requeue, std::nullopt, row_seq);
  span.seq(row_seq);
  span.finish(outcome);
  return outcome;
}

Result<FailOutcome> TaskQueue::fail_and_retry_after(const OwnershipToken& token, Error error, Duration retry_after) {
  detail::OpSpan span(impl_->options.tracer.get(), "fail.requeue", impl_->tags, impl_->options.on_handler_error);
  span.token(token);
  std::int64_t row_seq = 0;
  auto outcome = fail_rows(*impl_, token, std::move(error), true, retry_after, row_seq);
  span.seq(row_seq);
  span.finish(outcome);
  return outcome;
}

Result<std::size_t> TaskQueue::sweep_expired() { return impl_->sweep(); }

std::optional<Duration> TaskQueue::time_until_leasable() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->state.pending_count() == 0) return std::nullopt;
  const Timestamp now = impl_->clock->now();
  if (impl_->state.first_leasable(now) != nullptr) return Duration::zero();
  const auto next = impl_->state.next_available_after(now);
  if (!next) return std::nullopt;  // pending tasks all awaiting their requeue (a damaged journal)
  return std::max(Duration::zero(), std::chrono::duration_cast<Duration>(*next - now));
}

}  // namespace hugo
