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
// This file opens and closes a queue, enqueues and answers the queries; the lease lifecycle is in
// task_queue_lease.cpp, drain, restore and requeue_dead_letter in task_queue_admin.cpp.
#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "core/json_util.hpp"
#include "queue/queue_loader.hpp"
#include "queue/task_queue_impl.hpp"
#include "queue/task_queue_tx.hpp"

#include <set>
#include <span>

namespace hugo {
namespace {

// queue.full for `count` new tasks that do not fit beside `pending` ones (Wait::none()).
Error queue_full(const TaskQueueOptions& o, std::size_t pending, std::size_t count) {
  const std::string capacity = std::to_string(o.capacity);
  if (count == 1) {
    return Error::queue_full("queue '" + o.name + "' holds its capacity of " + capacity + " pending tasks")
        .with("queue", o.name)
        .with("capacity", capacity);
  }
  return Error::queue_full("queue '" + o.name + "' holds " + std::to_string(pending) +
                                                  " pending tasks of its capacity of " + capacity + "; " +
                                                  std::to_string(count) + " more do not fit")
      .with("queue", o.name)
      .with("capacity", capacity)
      .with("count", std::to_string(count));
}

Error invalid_option(const std::string& option, const std::string& why) {
  return Error::validation("invalid TaskQueueOptions." + option + ": " + why)
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
  if (has_nul(o.name)) return invalid_option("name", "a queue name may not hold a NUL byte");
  if (o.name.size() > 1024) return invalid_option("name", "longer than 1024 bytes");
  if (o.capacity == 0) return invalid_option("capacity", "must be > 0");
  if (o.lease_duration <= Duration::zero()) return invalid_option("lease_duration", "must be > 0");
  if (o.heartbeat_interval < Duration::zero()) return invalid_option("heartbeat_interval", "must be >= 0");
  if (o.sweep_interval <= Duration::zero()) return invalid_option("sweep_interval", "must be > 0");
  if (!detail::delay_in_range(o.requeue_delay)) {
    return invalid_option("requeue_delay", "must be 0 to 1000 years");
  }
  if (o.retry) {
    if (o.requeue_delay != Duration::zero()) {
      return invalid_option("retry", "replaces requeue_delay; set one of them (retry.delay for a fixed delay)");
    }
    HUGO_TRY(detail::validate_retry_policy(*o.retry));
  }
  if (o.max_delivery_attempts < 1) return invalid_option("max_delivery_attempts", "must be >= 1");
  if (!detail::delay_in_range(o.key_retention)) return invalid_option("key_retention", "must be 0 to 1000 years");
  if (o.backpressure) {
    if (o.backpressure->high_watermark == 0) return invalid_option("backpressure.high_watermark", "0 is invalid; use < 0 to disable");
    if (o.backpressure->cooldown <= Duration::zero()) return invalid_option("backpressure.cooldown", "must be > 0");
  }
  if (o.default_owner.empty()) o.default_owner = "default";
  for (std::size_t i = 0; i < o.metric_tags.size(); ++i) {
    const std::string& key = o.metric_tags[i].first;
    if (key.empty()) return invalid_option("metric_tags", "a tag key is empty");
    if (key == "taskqueue.name") return invalid_option("metric_tags", "taskqueue.name is set from the queue's name");
    for (std::size_t j = 0; j < i; ++j) {
      if (o.metric_tags[j].first == key) return invalid_option("metric_tags", "tag key '" + key + "' is given twice");
    }
  }
  return ok_status();
}

Status validate(const EnqueueOptions& options) {
  if (options.delay < Duration::zero()) {
    return Error::validation("EnqueueOptions.delay is negative; give a delay >= 0 or a not_before time")
        .with("delay_us", std::to_string(options.delay.count()));
  }
  if (options.not_before && options.delay != Duration::zero()) {
    return Error::validation("EnqueueOptions sets both not_before and delay; give one of them");
  }
  // A schedule must stay a time that the journal's JSON can carry (years 0001..9999).
  if (options.delay > detail::kMaxDelay) {
    return Error::validation("EnqueueOptions.delay is longer than 1000 years")
        .with("delay_us", std::to_string(options.delay.count()));
  }
  if (options.not_before && *options.not_before >= Timestamp{date::sys_days{date::year{10000} / 1 / 1}}) {
    return Error::validation("EnqueueOptions.not_before is after year 9999")
        .with("not_before_us", std::to_string(options.not_before->time_since_epoch().count()));
  }
  const EnqueueOrigin& origin = options.origin;
  if (!origin.peer_id) return ok_status();
  if (origin.peer_id->size() > 1024) {
    return Error::validation("EnqueueOrigin.peer_id is longer than 1024 bytes")
        .with("bytes", std::to_string(origin.peer_id->size()));
  }
  if (origin.peer_id->find('\0') != std::string::npos) {
    return Error::validation("EnqueueOrigin.peer_id holds a NUL byte");
  }
  return ok_status();
}

// Process-wide registry: one TaskQueue per (journal, name), so two instances never fold and
// write the same queue concurrently.
std::mutex g_registry_mutex;
std::set<std::pair<const Journal*, std::string>> g_open_queues;

}  // namespace


TaskQueue::TaskQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TaskQueue::~TaskQueue() { (void)close(); }

Result<std::unique_ptr<TaskQueue>> TaskQueue::open(std::shared_ptr<Journal> journal, TaskQueueOptions options) {
  if (!journal) return invalid_option("journal", "is null");
  HUGO_TRY(validate(options));
  {
    std::lock_guard lock(g_registry_mutex);
    if (!g_open_queues.emplace(journal.get(), options.name).second) {
      return Error::validation("queue '" + options.name + "' is already open on this journal (close it first)")
          .with("queue", options.name);
    }
  }
  detail::JournalAccess::claim_queue(*journal, options.name);  // raw lifecycle appends now refused
  // Captures its own copy of the key: `options` is moved into the queue below.
  auto release_name = [key = std::make_pair(static_cast<const Journal*>(journal.get()), options.name),
                       raw = journal.get()] {
    detail::JournalAccess::release_queue(*raw, key.second);
    std::lock_guard lock(g_registry_mutex);
    g_open_queues.erase(key);
  };
  auto impl = std::make_unique<Impl>();
  impl->journal = journal;
  impl->clock = options.clock ? options.clock : SystemClock::shared();
  impl->options = std::move(options);
  impl->backoff = detail::RetryBackoff(impl->options.retry.value_or(RetryPolicy{
      RetryPolicy::Backoff::Fixed, impl->options.requeue_delay, 2.0, std::chrono::hours(1), 0.0, 0}));
  impl->tags.emplace_back("taskqueue.name", impl->options.name);
  impl->tags.insert(impl->tags.end(), impl->options.metric_tags.begin(), impl->options.metric_tags.end());
  auto report = [raw = impl.get()](const Error& e) { raw->report(e); };
  impl->backpressure.emplace(impl->options.backpressure, report, impl->clock->now());

  impl->state.set_key_retention(impl->options.key_retention);
  Status loaded = journal->flush();
  if (loaded.ok()) {
    loaded = detail::load_queue(journal->path(), impl->options.name, impl->state, impl->options.recovery,
                                &impl->skipped, detail::JournalAccess::busy_timeout(*journal));
  }
  if (loaded.ok() && !impl->skipped.empty() && impl->options.metrics) {
    impl->options.metrics->add("taskqueue.recovery.skipped", "rows", {{"taskqueue.name", impl->options.name}},
                               static_cast<double>(impl->skipped.size()));
  }
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

namespace {

// The operations' bodies, shared by the single and batch forms. The public methods add a span.
// Moves the payloads into the rows and writes task id i to task_ids[i] (one per payload); the
// single form passes spans over one local each, so that it allocates no vectors of its own.
// `key` (enqueue_keyed, one payload): a task holding it is returned in task_ids[0] with
// *duplicate set, and nothing is appended.
Status enqueue_rows(TaskQueue::Impl& q, std::span<std::string> payloads, const Wait& wait,
                    const EnqueueOptions& options, std::span<std::int64_t> task_ids,
                    const std::string* key = nullptr, bool* duplicate = nullptr) {
  HUGO_TRY(validate(options));
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    if (Status fits = check_payload_size(payloads[i].size()); !fits.ok()) {
      return std::move(fits).error().with("index", std::to_string(i));
    }
  }
  if (payloads.empty()) {
    std::lock_guard lock(q.mutex);
    return q.usable();
  }
  const std::size_t count = payloads.size();
  if (count > q.options.capacity) {
    return Error::validation("a batch of " + std::to_string(count) + " tasks can never fit queue '" +
                                                    q.options.name + "' (capacity " +
                                                    std::to_string(q.options.capacity) + "); split it")
        .with("queue", q.options.name)
        .with("count", std::to_string(count))
        .with("capacity", std::to_string(q.options.capacity));
  }
  TaskQueue::Impl::Aftermath after;
  detail::RoomRequest request;
  request.payloads = payloads;
  request.options = &options;
  request.task_ids = task_ids;
  request.key = key;
  std::size_t wake = 0;  // lease callers to wake once the lock is released
  {
    std::unique_lock lock(q.mutex);
    HUGO_TRY(q.usable());
    if (key) {
      if (const auto holder = q.state.key_holder(*key, q.clock->now())) {  // never waits for room
        task_ids[0] = *holder;
        *duplicate = true;
        return ok_status();
      }
    }
    if (!q.has_room(count)) {
      if (wait.deadline == std::chrono::steady_clock::time_point::min()) {
        return queue_full(q.options, q.state.pending_count(), count);
      }
      HUGO_TRY(q.await_room(lock, wait, request));
    } else if (wait.stop.stop_requested()) {
      return q.canceled();  // cancellation wins even when the call could proceed at once
    }
    if (request.served) {
      // A lease appended the rows for this call; the journal woke it once they were resolved.
      if (request.refused) return *request.refused;
      after.ticket = request.ticket;
    } else {
      HUGO_ASSIGN_OR_RETURN(after.ticket, q.enqueue_now(request, after));
      if (request.duplicate) {
        *duplicate = true;
        return ok_status();
      }
      q.check_backpressure(after);
      wake = q.changed.lessees_for(count);  // less room: no enqueue caller can proceed that could not before
    }
  }
  if (request.duplicate) *duplicate = true;  // served as a duplicate by a lease
  q.changed.wake_lessees(wake);
  return q.finish(after);
}

}  // namespace

Result<std::int64_t> TaskQueue::enqueue(std::string payload, Wait wait, PayloadFormat format, EnqueueOrigin origin) {
  return enqueue_with(std::move(payload), EnqueueOptions{format, std::move(origin), std::nullopt, Duration::zero()},
                      std::move(wait));
}

Result<std::int64_t> TaskQueue::enqueue_with(std::string payload, const EnqueueOptions& options, Wait wait) {
  detail::OpSpan span(impl_->options.tracer.get(), "enqueue", impl_->tags, impl_->options.on_handler_error);
  std::int64_t id = 0;
  Status done = enqueue_rows(*impl_, std::span(&payload, 1), wait, options, std::span(&id, 1));
  if (!done.ok()) {
    span.finish(&done.error());
    return std::move(done).error();
  }
  span.task(id, 1);
  span.seq(id);
  span.finish(nullptr);
  return id;
}

Result<KeyedEnqueue> TaskQueue::enqueue_keyed(std::string key, std::string payload, const EnqueueOptions& options,
                                              Wait wait) {
  if (std::string why = task_key_problem(key); !why.empty()) {
    return Error::validation("an idempotency key " + why).with("bytes", std::to_string(key.size()));
  }
  detail::OpSpan span(impl_->options.tracer.get(), "enqueue", impl_->tags, impl_->options.on_handler_error);
  KeyedEnqueue result;
  Status done = enqueue_rows(*impl_, std::span(&payload, 1), wait, options, std::span(&result.task_id, 1), &key,
                             &result.duplicate);
  if (!done.ok()) {
    span.finish(&done.error());
    return std::move(done).error();
  }
  span.task(result.task_id, 1);
  if (result.duplicate) span.tag("taskqueue.duplicate", "true");
  else span.seq(result.task_id);
  span.finish(nullptr);
  return result;
}

Status TaskQueue::enqueue(Tx& tx, std::string payload, const EnqueueOptions& options) {
  HUGO_TRY(validate(options));
  HUGO_TRY(check_payload_size(payload.size()));
  detail::tx_enqueue(tx, *impl_, std::move(payload), options);
  return ok_status();
}

Status TaskQueue::complete(Tx& tx, const OwnershipToken& token) {
  detail::tx_complete(tx, *impl_, token);
  return ok_status();
}

Result<std::vector<std::int64_t>> TaskQueue::enqueue_batch(std::vector<std::string> payloads, Wait wait,
                                                           PayloadFormat format, EnqueueOrigin origin) {
  return enqueue_batch_with(std::move(payloads),
                            EnqueueOptions{format, std::move(origin), std::nullopt, Duration::zero()}, std::move(wait));
}

Result<std::vector<std::int64_t>> TaskQueue::enqueue_batch_with(std::vector<std::string> payloads,
                                                                const EnqueueOptions& options, Wait wait) {
  detail::OpSpan span(impl_->options.tracer.get(), "enqueue", impl_->tags, impl_->options.on_handler_error);
  span.tag("taskqueue.batch.size", std::to_string(payloads.size()));
  std::vector<std::int64_t> task_ids(payloads.size());
  Result<std::vector<std::int64_t>> ids = [&]() -> Result<std::vector<std::int64_t>> {
    HUGO_TRY(enqueue_rows(*impl_, payloads, wait, options, task_ids));
    return std::move(task_ids);
  }();
  if (ids.ok() && !ids->empty()) span.seq(ids->front());
  span.finish(ids);
  return ids;
}

Status TaskQueue::close() {
  Impl& q = *impl_;
  detail::MetricBuffer closing;
  {
    std::lock_guard lock(q.mutex);
    if (q.closed) return ok_status();
    q.closed = true;
    q.changed.notify_all();
    q.forget_depths(closing);
    // A queue that closes while active no longer counts among the active queues.
    if (q.options.metrics && q.backpressure && q.backpressure->announced_active()) {
      closing.add_up_down("hugo.taskqueue.backpressure.active", "queues", -1);
    }
  }
  if (q.options.metrics) closing.flush(*q.options.metrics, q.tags);
  q.stop_sweeper();
  {
    std::lock_guard lock(g_registry_mutex);
    g_open_queues.erase({q.journal.get(), q.options.name});
    detail::JournalAccess::release_queue(*q.journal, q.options.name);
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
  return impl_->state.public_dead_letters();
}

QueueSnapshot TaskQueue::snapshot() const {
  std::lock_guard lock(impl_->mutex);
  QueueSnapshot s = impl_->state.snapshot(impl_->options.name);
  s.skipped = impl_->skipped;
  return s;
}

std::vector<SkippedRow> TaskQueue::skipped_rows() const { return impl_->skipped; }  // constant after open()

const std::string& TaskQueue::name() const { return impl_->options.name; }

BackpressureSignal TaskQueue::backpressure() const { return impl_->backpressure->last_delivered(); }

}  // namespace hugo
