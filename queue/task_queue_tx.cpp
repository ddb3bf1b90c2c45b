// TaskQueue in a Journal::transaction: the queue's TxParticipant. The body's operations are only
// recorded; at commit prepare() takes the queue's mutex and keeps it until the rows are applied
// (committed) or dropped (abandoned), so no other operation sees the queue between the check and
// the commit, and nothing of the transaction is visible before it is durable.
#include "queue/task_queue_tx.hpp"

#include "journal/tx_impl.hpp"
#include "queue/live_lease.hpp"
#include "queue/task_queue_impl.hpp"

#include <set>

namespace hugo::detail {
namespace {

class QueueParticipant final : public TxParticipant {
 public:
  struct Op {
    bool complete = false;
    std::string payload;
    EnqueueOptions options;
    OwnershipToken token;
    int index = 0;  // enqueue: its place in TxOutcome::task_ids
  };

  explicit QueueParticipant(TaskQueue::Impl& q) : q_(q) {}

  void add(Op op) { ops_.push_back(std::move(op)); }

  Status prepare(std::vector<Event>& rows) override {
    lock_ = std::unique_lock(q_.mutex);
    HUGO_TRY(q_.usable());
    std::size_t enqueues = 0;
    for (const Op& op : ops_) enqueues += op.complete ? 0 : 1;
    if (!q_.has_room(enqueues)) {
      return Error::queue_full("queue '" + q_.options.name + "' has no room for the transaction's " +
                               std::to_string(enqueues) + " tasks (a transaction never waits for room)")
          .with("queue", q_.options.name)
          .with("capacity", std::to_string(q_.options.capacity));
    }
    const Timestamp now = q_.clock->now();
    std::set<std::int64_t> completed;
    for (Op& op : ops_) {
      if (!op.complete) {
        rows.push_back(q_.enqueued_row(std::move(op.payload), op.options, now));
        continue;
      }
      HUGO_TRY(live_lease(q_, op.token));
      if (!completed.insert(op.token.lease_id).second) {
        return Error::validation("the transaction completes the lease of token " + op.token.to_string() + " twice")
            .with("token", op.token.to_string());
      }
      rows.push_back(q_.row(EventKind::Completed, op.token.task_id, op.token.attempt, now));
      rows.back().token = op.token;
    }
    return ok_status();
  }

  void committed(std::vector<Event>& rows, TxOutcome& outcome) override {
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (!ops_[i].complete) outcome.task_ids[static_cast<std::size_t>(ops_[i].index)] = rows[i].task_id;
    }
    TaskQueue::Impl::Aftermath after;
    (void)q_.apply_rows(rows, after);  // a failure poisons the queue (apply_rows)
    q_.check_backpressure(after);
    q_.changed.notify_all();  // new tasks for lease callers; completions change no room
    lock_.unlock();
    (void)q_.finish(after);  // the rows are durable: metrics, a backpressure signal
  }

  void abandoned() override {
    if (lock_.owns_lock()) lock_.unlock();
  }

 private:
  TaskQueue::Impl& q_;
  std::vector<Op> ops_;
  std::unique_lock<std::mutex> lock_;
};

QueueParticipant& participant(Tx& tx, TaskQueue::Impl& q) {
  Tx::Impl& t = tx.impl();
  if (TxParticipant* found = t.find(&q)) return static_cast<QueueParticipant&>(*found);
  t.participants.push_back(Tx::Impl::Joined{&q, std::make_unique<QueueParticipant>(q)});
  return static_cast<QueueParticipant&>(*t.participants.back().participant);
}

}  // namespace

void tx_enqueue(Tx& tx, TaskQueue::Impl& q, std::string payload, const EnqueueOptions& options) {
  QueueParticipant::Op op;
  op.payload = std::move(payload);
  op.options = options;
  op.index = tx.impl().enqueues++;
  participant(tx, q).add(std::move(op));
}

void tx_complete(Tx& tx, TaskQueue::Impl& q, const OwnershipToken& token) {
  QueueParticipant::Op op;
  op.complete = true;
  op.token = token;
  participant(tx, q).add(std::move(op));
}

}  // namespace hugo::detail
