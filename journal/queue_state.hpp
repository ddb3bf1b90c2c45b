// QueueState: the task queue as a pure function of its journal rows.
//
// The live queue and recovery share this one state machine: a live operation builds its rows,
// appends them, then applies them here; recovery applies the committed rows in seq order. So the
// state after a restart is, by construction, the state the rows describe. Replay never reads a
// clock: every time comes from the rows.
//
// Memory holds live tasks only (pending, leased, awaiting requeue) plus dead letters; a completed
// or drained task is erased. Recovery applies rows without their payload and error columns and
// records which row holds them, so that only live tasks are hydrated afterwards.
//
// Not thread-safe: the owner (TaskQueue, QueueProjection) serializes access.
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/task_queue.hpp>

#include "journal/rows.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace hugo::detail {

// The facts of one row that the state machine needs. Payload and error are pointers: live
// appends pass them; recovery passes null and sets has_payload/has_error instead, where
// has_error = true with error_unknown = true means "may have an error": the loader does not read
// the error column while it scans (that costs ~15 % of the scan) and hydration finds out.
struct RowFacts {
  std::int64_t seq = 0;
  EventKind kind = EventKind::Enqueued;
  std::int64_t task = 0;
  std::int32_t attempt = 1;
  Timestamp at{};
  std::optional<OwnershipToken> token;
  std::optional<Timestamp> lease_expiration;
  std::optional<Timestamp> enqueued_at;
  std::optional<Timestamp> available_at;
  std::int32_t priority = 0;
  std::uint32_t flags = 0;
  const std::string* owner = nullptr;
  bool has_payload = false;
  const std::string* payload = nullptr;
  // Set by facts_taking_payload (then equal to `payload`): apply() moves the payload out of the
  // event instead of copying it.
  std::string* payload_to_take = nullptr;
  PayloadFormat payload_format = PayloadFormat::Bytes;
  bool has_error = false;
  bool error_unknown = false;
  const Error* error = nullptr;
  const std::string* key = nullptr;  // Enqueued only: the task's idempotency key
};

RowFacts facts_of(const Event& event);
// facts_of for an event the caller is done with: apply() takes its payload by move, so a live
// append's payload is copied once, into the journal's batch, and not again into the state.
RowFacts facts_taking_payload(Event& event);
// The integer facts of a stored row; owner, payload and error are left for the caller to set.
RowFacts facts_of(const rows::RowHeader& header);

enum class Phase { Pending, Leased, AwaitingRequeue, Dead };

struct TaskState {
  std::int64_t task_id = 0;
  Phase phase = Phase::Pending;
  std::int32_t attempt = 1;
  Timestamp enqueued_at{};
  Timestamp available_at{};
  std::optional<Error> last_error;
  std::optional<OwnershipToken> last_token;
  std::string payload;
  PayloadFormat payload_format = PayloadFormat::Bytes;
  std::int64_t pending_order = 0;  // seq of the row that made it pending (FIFO key)
  std::int32_t priority = 0;       // set by its Enqueued or Restored row; higher is leased first
  std::string key;                 // its idempotency key ("" if none), kept while it is in the state
  std::int64_t lease_id = 0;       // when Leased
  // Dead letters:
  std::int64_t dead_seq = 0;
  Timestamp dead_at{};
  // Hydration: rows whose payload / error column still has to be read (0: nothing to read).
  std::int64_t payload_seq = 0;
  std::int64_t error_seq = 0;
  // Recovery: the error row to use when error_seq's row (a Requeued row that may have had no
  // error of its own) turns out to have none.
  std::int64_t error_fallback_seq = 0;
};

struct LeaseState {
  std::int64_t lease_id = 0;
  std::int64_t task_id = 0;
  std::int32_t attempt = 1;
  std::string owner;
  Timestamp granted_at{};
  Timestamp expires_at{};
  Timestamp last_heartbeat{};
};

// The public form of a dead-lettered task (Phase::Dead).
DeadLetter dead_letter_of(const TaskState& t);

// Process-wide counts of the steps whose cost grows with the whole queue, and of the wake-ups of
// blocked calls, so that tests bound the work of an operation by calls, never by time.
struct QueueWork {
  std::atomic<std::uint64_t> snapshots{0};      // QueueState::snapshot(): copies and hashes everything
  std::atomic<std::uint64_t> dead_letters{0};   // dead_letter_of(): copies one payload
  std::atomic<std::uint64_t> wakeups{0};        // a blocked enqueue or lease call woke and re-checked
  std::atomic<std::int64_t> blocked{0};         // enqueue and lease calls asleep in TaskQueue now
};
QueueWork& queue_work();

class QueueState {
 public:
  // Applies one row of this queue. Returns journal.corrupt (metadata seq, task, kind and `rule`,
  // the broken rule in words) when the row is not a valid transition from the task's current
  // phase; the state is then unchanged, so a caller may skip the row and go on.
  Status apply(const RowFacts& row);

  const TaskState* task(std::int64_t task_id) const;
  TaskState* task(std::int64_t task_id);
  const LeaseState* lease(std::int64_t lease_id) const;
  LeaseState* lease(std::int64_t lease_id);

  // Pending task ids in FIFO order (pending_order): drain()'s order. O(n log n).
  std::vector<std::int64_t> pending_fifo() const;
  const std::map<std::int64_t, LeaseState>& leases() const { return leases_; }
  const std::map<std::int64_t, std::int64_t>& dead_letters() const { return dead_; }  // dead_seq -> task
  // Every dead letter in its public form (dead_letter_of), in dead-letter order.
  std::vector<DeadLetter> public_dead_letters() const;
  // True if the task's last row in this queue is Drained: restore() may then keep its id.
  bool drained(std::int64_t task_id) const { return drained_.contains(task_id); }

  // The queries below first move the tasks whose available_at <= now from waiting_ to ready_ (see
  // the members), so each costs O(log n) plus what it returns, however many tasks wait.
  // The pending task a lease takes at `now`: of those leasable (available_at <= now), the first of
  // the highest priority in FIFO order; nullptr if none.
  const TaskState* first_leasable(Timestamp now);
  // Up to `max` pending tasks leasable at `now`, in that order.
  std::vector<const TaskState*> leasable(Timestamp now, std::size_t max);
  // Earliest available_at among pending tasks that are not yet leasable at `now`.
  std::optional<Timestamp> next_available_after(Timestamp now);
  // Leases with expires_at <= now, in lease-id order.
  std::vector<std::int64_t> expired_leases(Timestamp now) const;
  // Tasks whose last rows were Failed/LeaseExpired with no Requeued/DeadLettered after them.
  std::vector<std::int64_t> awaiting_requeue() const;

  // Tasks (live or dead) that still need their payload or error read from the journal.
  std::vector<TaskState*> needing_hydration();

  // Idempotency keys (docs/QUEUE.md, "Idempotency keys"). A keyed task holds its key while it is
  // live (pending, leased, awaiting requeue) and for the retention after the row that finished it
  // (Completed, Canceled, Drained, DeadLettered). Row times only: the fold reads no clock.
  void set_key_retention(Duration retention) { key_retention_ = retention; }
  // The task holding `key` at `now`, or nullopt; forgets the keys whose retention ended by `now`.
  std::optional<std::int64_t> key_holder(const std::string& key, Timestamp now);
  std::size_t key_count() const { return keys_.size(); }

  std::size_t pending_count() const { return ready_.size() + waiting_.size(); }
  std::size_t lease_count() const { return leases_.size(); }
  std::size_t dead_count() const { return dead_.size(); }

  // Public snapshot (see hugo::QueueSnapshot) and its order-sensitive digest.
  QueueSnapshot snapshot(const std::string& queue) const;

 private:
  Status invalid(const RowFacts& row, const std::string& rule) const;
  void make_pending(TaskState& t, std::int64_t order, Timestamp row_at);
  void leave_pending(TaskState& t);
  void promote(Timestamp now);
  static std::pair<std::int64_t, std::int64_t> ready_key(const TaskState& t) {
    return {-static_cast<std::int64_t>(t.priority), t.pending_order};
  }
  void take_payload(TaskState& t, const RowFacts& row);
  // A task's key rules (see key_holder): taken by its Enqueued row, retained from the row that
  // finishes it, taken back by an operator's requeue of its dead letter if no other task took it.
  Status check_key_free(const RowFacts& row) const;
  void take_key(TaskState& t, const std::string& key);
  void retain_key(const TaskState& t, Timestamp finished_at);
  void retake_key(TaskState& t);
  void forget_keys(Timestamp now);
  void take_error(TaskState& t, const RowFacts& row);

  std::unordered_map<std::int64_t, TaskState> tasks_;
  // The pending tasks, in two indexes by when they become leasable (docs/QUEUE.md, "Scheduled
  // tasks" and "Priorities"). ready_ ((-priority, pending_order) -> task id: the highest priority
  // first, FIFO within one) holds those whose available_at is at or before promoted_to_ (the
  // latest `now` a query was given) or the time of the row that made them pending; waiting_
  // ((available_at, pending_order) -> task id) holds the rest, earliest first. Each pending task
  // is in exactly one; its available_at and priority do not change while it is pending. If the
  // clock steps back, ready_ may hold tasks not leasable at the new `now`: the queries check each
  // task's own time.
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> ready_;
  std::map<std::pair<Timestamp, std::int64_t>, std::int64_t> waiting_;
  Timestamp promoted_to_ = Timestamp::min();
  std::map<std::int64_t, LeaseState> leases_;
  std::map<std::int64_t, std::int64_t> dead_;
  std::unordered_set<std::int64_t> drained_;  // drained and not restored since
  struct KeyHold {
    std::int64_t task_id = 0;
    std::optional<Timestamp> finished_at;  // unset while the task is live
  };
  std::unordered_map<std::string, KeyHold> keys_;
  std::set<std::pair<Timestamp, std::string>> retained_;  // the finished holds, oldest first
  Duration key_retention_ = kDefaultKeyRetention;
};

}  // namespace hugo::detail
