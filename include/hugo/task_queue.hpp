// hugo::TaskQueue: a lease-based task queue that is a projection of its journal.
//
// Every mutation appends its rows to the Journal inside the queue's critical section, before the
// change is visible to anyone (so a task's Enqueued is always sequenced before its LeaseGranted),
// and returns once those rows are durable. Opening a queue on an existing journal rebuilds its
// exact state: pending FIFO order, attempts, last errors, live leases with owners and expirations,
// and dead letters. A lease granted before a crash can be heartbeated or completed after it.
//
// Identity: task id = seq of the task's Enqueued row; lease id = seq of its LeaseGranted row;
// token = (task id, attempt, lease id). docs/QUEUE.md lists every difference from Hugo.
//
// Thread-safety: all methods are thread-safe. Callbacks (dead-letter handler, on_handler_error,
// backpressure) run with no lock of the queue held, on the thread of the operation (or the
// sweeper) that caused them; they may call any method of the queue, close() included. Only the
// destructor must not run inside one of the queue's own callbacks.
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>
#include <hugo/journal.hpp>
#include <hugo/metrics.hpp>
#include <hugo/task_queue_api.hpp>
#include <hugo/time.hpp>
#include <hugo/tracing.hpp>
#include <hugo/transaction.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace hugo {

struct BackpressureSignal {
  bool active = false;
  std::int64_t pending = 0;
  std::int64_t high_watermark = 0;
  std::int64_t low_watermark = 0;
  Timestamp observed_at{};
};

struct BackpressureOptions {
  std::int64_t high_watermark = -1;  // < 0 disables; 0 is invalid
  std::int64_t low_watermark = -1;   // effective: max(1, high/2) when <= 0 or >= high
  Duration cooldown = std::chrono::seconds(5);  // > 0
  // Receives every transition, in order and never concurrently with itself; one inside the
  // cooldown is delivered after it, so the last delivered signal converges to the real state
  // (docs/QUEUE.md, "Backpressure").
  std::function<void(const BackpressureSignal&)> on_change;
};

// How long a failed or expired task waits before its next attempt (docs/QUEUE.md, "Retry
// backoff"). The delay drawn is journaled on the task's Requeued row (available_at): recovery and
// replicas read it, and never draw it again.
struct RetryPolicy {
  enum class Backoff {
    Fixed,        // every retry waits `delay`
    Exponential,  // retry n (after attempt n failed) waits delay * factor^(n - 1), at most max_delay
  };
  Backoff backoff = Backoff::Fixed;
  Duration delay = Duration::zero();            // 0 to 1000 years
  double factor = 2.0;                          // Exponential: >= 1
  Duration max_delay = std::chrono::hours(1);   // Exponential: the cap, >= delay, <= 1000 years
  // 0 to 1: each delay is multiplied by a random number in (1 - jitter, 1], so that tasks that
  // failed together do not all come back at once.
  double jitter = 0.0;
  std::uint64_t seed = 0;  // seeds the jitter's draws; 0: a random seed
};

// How a queue treats a stored row that is not a valid transition (docs/QUEUE.md, "Recovery").
enum class RecoveryMode {
  Strict,       // the open fails with journal.corrupt naming the row's seq and the broken rule
  SkipInvalid,  // the row is left out of the state and listed (SkippedRow); the open goes on
};

// A stored row that RecoveryMode::SkipInvalid left out. The row stays in the journal.
struct SkippedRow {
  std::int64_t seq = 0;
  std::int64_t task_id = 0;
  EventKind kind = EventKind::Enqueued;
  std::string rule;  // the broken rule, e.g. "lease 3 of task 7 is not active"
};

// How long a finished task's idempotency key still de-duplicates enqueues (docs/QUEUE.md).
inline constexpr Duration kDefaultKeyRetention = std::chrono::hours(24);

struct TaskQueueOptions {
  std::string name;  // required; several named queues can share one journal
  std::size_t capacity = 512;  // bound on pending tasks for enqueue (requeues never block)
  Duration lease_duration = std::chrono::seconds(30);
  Duration heartbeat_interval = std::chrono::seconds(5);  // 0: every heartbeat extends
  Duration sweep_interval = std::chrono::seconds(1);
  Duration requeue_delay = Duration::zero();  // a requeued task is not leasable before now + delay
  // Unset: every retry waits requeue_delay. Set: its delays (requeue_delay must then be 0).
  std::optional<RetryPolicy> retry;
  std::int32_t max_delivery_attempts = 5;
  // How long after a keyed task finished (completed, canceled, drained or dead-lettered) an
  // enqueue_keyed() with its key still returns it as a duplicate; 0 to 1000 years (0: only while
  // it is live). docs/QUEUE.md, "Idempotency keys".
  Duration key_retention = kDefaultKeyRetention;
  std::optional<BackpressureOptions> backpressure;
  std::shared_ptr<Clock> clock;  // null: SystemClock
  // Runs after a task's DeadLettered row is durable. Its failure (an Error or an exception) is
  // passed to on_handler_error and never stops the caller or the sweeper (docs/QUEUE.md, "Callbacks").
  std::function<Status(const DeadLetter&)> dead_letter_handler;
  std::function<void(const Error&)> on_handler_error;
  // Runs sweep_expired() every sweep_interval on a background thread. Tests turn it off and
  // call sweep_expired() themselves under a ManualClock.
  bool run_sweeper = true;
  // Rows that are not valid transitions: Strict refuses the open; SkipInvalid opens without them,
  // lists them in skipped_rows() and counts them in taskqueue.recovery.skipped (rows).
  RecoveryMode recovery = RecoveryMode::Strict;
  // Owner recorded on leases when lease() is given an empty owner.
  std::string default_owner = "default";
  // Receives Hugo's taskqueue.* and hugo.taskqueue.backpressure.* instruments, tagged
  // taskqueue.name, after the queue's lock is released (docs/QUEUE.md, "Instruments and traces").
  std::shared_ptr<MetricsRegistry> metrics;
  // Constant tags added to every instrument and span of this queue, after taskqueue.name
  // (Hugo's enrichers: service.name, taskqueue.shard, custom pairs). Keys must be non-empty,
  // distinct, and not taskqueue.name.
  MetricTags metric_tags;
  // Opens one span per enqueue, lease, heartbeat, complete and fail call (include/hugo/tracing.hpp).
  std::shared_ptr<Tracer> tracer;
};

// The live state of one queue, in a canonical order.
struct QueueSnapshot {
  struct PendingTask {
    std::int64_t task_id;
    std::int32_t attempt;
    Timestamp enqueued_at;
    Timestamp available_at;
    std::optional<Error> last_error;
    std::optional<OwnershipToken> last_token;
    std::int32_t priority = 0;
    std::optional<std::string> key;  // its idempotency key
  };
  struct LeasedTask {
    OwnershipToken token;
    std::string owner;
    Timestamp granted_at;
    Timestamp expires_at;
    Timestamp last_heartbeat;
    Timestamp enqueued_at;
    std::optional<Error> last_error;
    std::optional<std::string> key;  // its idempotency key
  };
  std::string queue;
  std::vector<PendingTask> pending;  // FIFO order
  std::vector<LeasedTask> leased;    // lease-id order
  std::vector<DeadLetter> dead;      // dead-letter order
  std::vector<std::int64_t> awaiting_requeue;  // empty except in a damaged journal
  // Rows left out of this state by RecoveryMode::SkipInvalid, in seq order (not in the digest).
  std::vector<SkippedRow> skipped;

  // A 64-bit digest of everything above (payloads included, through the tasks' rows): equal
  // journals fold to equal digests. Hex, 16 digits.
  std::string digest;
};

class HUGO_API TaskQueue final : public TaskQueueApi {
 public:
  // Opens (and recovers) queue `options.name` on `journal`. Errors: error.validation for bad
  // options or a name already open on this journal in this process; journal.corrupt (metadata
  // seq, rule) if a row is not a valid transition, unless options.recovery is SkipInvalid;
  // journal errors.
  static Result<std::unique_ptr<TaskQueue>> open(std::shared_ptr<Journal> journal, TaskQueueOptions options);
  ~TaskQueue() override;  // close()
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Appends a task; returns its task id once its Enqueued row is durable. When `capacity` tasks
  // are pending it waits per `wait`: queue.full (Wait::none), queue.timeout, error.canceled.
  // `origin` is journaled with the task (error.validation if it is too long or holds a NUL).
  Result<std::int64_t> enqueue(std::string payload, Wait wait = {},
                               PayloadFormat format = PayloadFormat::Bytes, EnqueueOrigin origin = {}) override;
  // enqueue() with every option, scheduling included: a task with a not-before time later than
  // its row's is journaled with it (Enqueued.available_at) and is not leased before it.
  // error.validation for a negative delay, or both a delay and a not_before.
  Result<std::int64_t> enqueue_with(std::string payload, const EnqueueOptions& options, Wait wait = {}) override;

  // Enqueues under an idempotency key (docs/QUEUE.md, "Idempotency keys"): while a task with
  // `key` is live (pending, scheduled, leased, awaiting its retry) or finished (completed,
  // canceled, drained, dead-lettered) less than key_retention ago, returns that task's id with
  // duplicate = true, journals nothing and never waits for room. Otherwise it is enqueue_with(),
  // and the Enqueued row records the key. error.validation for a key that is empty, longer than
  // 1024 bytes, not valid UTF-8 or holds a NUL. One live task per key, also after a reopen.
  Result<KeyedEnqueue> enqueue_keyed(std::string key, std::string payload, const EnqueueOptions& options = {},
                                     Wait wait = {}) override;

  // In a transaction (Journal::transaction; docs/QUEUE.md, "Transactions"): the task is enqueued
  // when `tx` commits, in the same SQLite transaction as the body's own writes, or not at all. The
  // payload and options are checked now (error.validation); at commit a queue without room for
  // the transaction's tasks (queue.full: a transaction never waits) or a closed queue refuses the
  // whole transaction. Its task id is in TxOutcome::task_ids.
  Status enqueue(Tx& tx, std::string payload, const EnqueueOptions& options = {});
  // Completes the lease when `tx` commits; a lease no longer live then refuses the whole
  // transaction (error.taskqueue.lease_inactive), as does a token given twice (error.validation).
  Status complete(Tx& tx, const OwnershipToken& token);

  // Leases a task for `owner`: of the tasks whose not-before time (scheduled, or a retry delay)
  // has come, the oldest of the highest priority. Waits per `wait` when none is leasable:
  // queue.timeout, error.canceled.
  Result<Lease> lease(std::string owner, Wait wait = {}) override;

  // Extends the lease to now + lease_duration, or reports Throttled. Stale token:
  // error.taskqueue.lease_inactive.
  Result<HeartbeatResult> heartbeat(const OwnershipToken& token) override;
  Status complete(const OwnershipToken& token) override;

  // Batch forms, for dispatchers that move many tasks at once: each call journals its rows as
  // one atomic group (a crash keeps all of them or none) and waits for durability once, so a
  // batch of n costs about one commit instead of n. The rows are those of n single calls, except
  // that they share one timestamp (one clock read per call), and where noted below.
  //
  // enqueue_batch: appends one task per payload, in order; returns their task ids. Waits per
  // `wait` until all of them fit under `capacity` (never part of them): queue.full with
  // Wait::none() when they do not fit now, even if the queue is not full. A waiting batch does
  // not reserve room, so smaller enqueues can keep overtaking it; give it a deadline. A batch
  // larger than `capacity` is error.validation, an empty one returns {} and journals nothing.
  // Every task of the batch records the same `origin`.
  Result<std::vector<std::int64_t>> enqueue_batch(std::vector<std::string> payloads, Wait wait = {},
                                                  PayloadFormat format = PayloadFormat::Bytes,
                                                  EnqueueOrigin origin = {}) override;
  // enqueue_batch() with every option (see enqueue_with); every task gets the same ones.
  Result<std::vector<std::int64_t>> enqueue_batch_with(std::vector<std::string> payloads,
                                                       const EnqueueOptions& options, Wait wait = {}) override;
  // lease_batch: leases up to `max_count` (> 0) leasable tasks, in lease()'s order, for `owner`. Waits
  // per `wait` until at least one is leasable, then takes as many as are leasable (1..max_count).
  Result<std::vector<Lease>> lease_batch(std::string owner, std::size_t max_count, Wait wait = {}) override;
  // complete_batch: all or nothing. A stale token fails the call with
  // error.taskqueue.lease_inactive naming it, a token listed twice with error.validation, and
  // then nothing is journaled. An empty list journals nothing.
  Status complete_batch(const std::vector<OwnershipToken>& tokens) override;
  // Records the failure; requeues with attempt + 1, or dead-letters when `requeue` is false or
  // the next attempt would exceed max_delivery_attempts. An error with neither code nor message
  // (nor cause) is refused with error.validation and nothing is recorded.
  Result<FailOutcome> fail(const OwnershipToken& token, Error error, bool requeue = true) override;
  // fail() with a delay of the caller's choosing for this one retry, in place of the retry
  // policy's (River's snooze): requeued with attempt + 1, not leasable before now + retry_after
  // (0 to 1000 years, else error.validation), or dead-lettered once attempts are exhausted.
  Result<FailOutcome> fail_and_retry_after(const OwnershipToken& token, Error error, Duration retry_after) override;

  // Cancels a task for good (one Canceled row; docs/QUEUE.md, "Cancel"). A pending or scheduled
  // task leaves the queue and is never leased; a leased one too, and its lease is fenced: the
  // worker's heartbeat, complete or fail then gets error.taskqueue.lease_inactive. A non-empty
  // `reason` (valid UTF-8, at most 4096 bytes) is journaled as the row's error, code
  // error.canceled. error.validation, with nothing journaled, for a task that is not pending or
  // leased in this queue (unknown, finished, drained or dead-lettered) and for a bad reason.
  Result<CancelOutcome> cancel(std::int64_t task_id, std::string reason = {}) override;

  // Expires every lease whose expiration has passed (LeaseExpired, then Requeued or
  // DeadLettered), and delivers deferred backpressure signals. Returns how many expired.
  Result<std::size_t> sweep_expired();

  // Hands out every pending task in FIFO order (one Drained row each). The queue stays usable;
  // leased tasks are not touched.
  Result<std::vector<PendingItem>> drain() override;
  // Puts items back (one Restored row each) at the tail, into any queue on any journal, keeping
  // attempt, enqueue time, last error and a not-before time still in the future. One task id names one task forever: an item keeps its
  // task id and last token only if drain() handed it out from this queue, the task has not been
  // restored since, and its payload is unchanged; any other item starts a new task (task id = its
  // row's seq) whose row records the id it had (Event::original_task_id). docs/QUEUE.md, "Restore
  // and task identity". error.validation (nothing journaled) for an attempt < 1.
  Status restore(std::vector<PendingItem> items) override;

  // Puts a dead-lettered task back at the tail (one Requeued row, attempt + 1, last error kept):
  // an operator's retry after fixing the cause. error.validation if the task is not a dead letter.
  Status requeue_dead_letter(std::int64_t task_id) override;

  // Stops the sweeper and refuses further calls (error.taskqueue.disposed). Pending tasks and
  // leases stay in the journal for the next open, and the name can be opened again at once.
  // Idempotent; callable from any thread and from the queue's own callbacks (on the sweeper
  // thread it only tells the sweeper to stop: the destructor joins it).
  Status close();

  std::size_t pending_count() const;
  std::size_t active_lease_count() const;
  std::size_t dead_letter_count() const;
  // Reads cost what they return: dead_letters() copies the dead letters (payloads included) and
  // nothing else; only snapshot() walks and hashes the whole state.
  std::vector<DeadLetter> dead_letters() const;
  QueueSnapshot snapshot() const;
  const std::string& name() const override;
  // The rows RecoveryMode::SkipInvalid left out when the queue was opened, in seq order.
  std::vector<SkippedRow> skipped_rows() const;
  // The last BackpressureSignal delivered to on_change (inactive before any).
  BackpressureSignal backpressure() const;
  // How long until lease() could take a task, by the queue's clock: zero when one is leasable now,
  // the wait for the earliest not-before time of a pending task when none is yet, nullopt when
  // nothing is pending. A remote long poll (docs/WORKERS.md) parks on it instead of a thread.
  std::optional<Duration> time_until_leasable() const;

  struct Impl;

 private:
  explicit TaskQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hugo
