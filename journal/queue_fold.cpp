// QueueState::apply: the fold's transitions, one row at a time (docs/QUEUE.md). A row that is not
// a valid transition from its task's phase is journal.corrupt naming the broken rule, and leaves
// the state unchanged. facts_of gives apply() the same facts from a live Event and from a stored
// row's header, so the live queue and recovery share every rule.
#include "journal/queue_state.hpp"

#include <hugo/error_codes.hpp>

#include <algorithm>

namespace hugo::detail {
namespace {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::Pending: return "pending";
    case Phase::Leased: return "leased";
    case Phase::AwaitingRequeue: return "awaiting requeue";
    case Phase::Dead: return "dead-lettered";
  }
  return "?";
}

// "task 7 does not exist" / "task 7 is leased, not pending".
std::string not_in_phase(std::int64_t task, const TaskState* t, Phase wanted) {
  const std::string name = "task " + std::to_string(task);
  if (!t) return name + " does not exist";
  return name + " is " + phase_name(t->phase) + ", not " + phase_name(wanted);
}

}  // namespace

RowFacts facts_of(const Event& e) {
  RowFacts r;
  r.seq = e.seq;
  r.kind = e.kind;
  r.task = e.task_id;
  r.attempt = e.attempt;
  r.at = e.occurred_at;
  r.token = e.token;
  r.lease_expiration = e.lease_expiration;
  r.enqueued_at = e.enqueued_at;
  r.available_at = e.available_at;
  r.priority = e.priority;
  r.flags = e.flags;
  r.owner = e.owner_peer_id ? &*e.owner_peer_id : nullptr;
  r.has_payload = e.payload.has_value();
  r.payload = e.payload ? &*e.payload : nullptr;
  r.payload_format = e.payload_format;
  r.has_error = e.error.has_value();
  r.error = e.error ? &*e.error : nullptr;
  r.key = e.idempotency_key ? &*e.idempotency_key : nullptr;
  return r;
}

RowFacts facts_taking_payload(Event& e) {
  RowFacts r = facts_of(e);
  r.payload_to_take = e.payload ? &*e.payload : nullptr;
  return r;
}

RowFacts facts_of(const rows::RowHeader& h) {
  RowFacts r;
  r.seq = h.seq;
  r.kind = h.kind;
  r.task = h.task;
  r.attempt = h.attempt;
  r.at = h.at;
  r.token = h.token;
  r.lease_expiration = h.lease_expiration;
  r.enqueued_at = h.enqueued_at;
  r.available_at = h.available_at;
  r.priority = h.priority;
  r.flags = h.flags;
  r.payload_format = (h.row_flags & rows::kPayloadJson) ? PayloadFormat::Json : PayloadFormat::Bytes;
  return r;
}

Status QueueState::invalid(const RowFacts& row, const std::string& rule) const {
  std::string message = "journal row " + std::to_string(row.seq) + " (" + std::string(to_string(row.kind)) +
                        " of task " + std::to_string(row.task) + ") is not a valid transition: " + rule +
                        " (run `hugo-journal verify` for a full report)";
  return Error::journal_corrupt(std::move(message))
      .with("seq", std::to_string(row.seq))
      .with("task", std::to_string(row.task))
      .with("kind", std::string(to_string(row.kind)))
      .with("rule", rule);
}

void QueueState::make_pending(TaskState& t, std::int64_t order, Timestamp row_at) {
  t.phase = Phase::Pending;
  t.pending_order = order;
  // Due by its own row's time: no later query's `now` is earlier (the queries check each task's
  // time anyway, for a clock that steps back), so it skips the waiting index.
  if (t.available_at <= std::max(promoted_to_, row_at)) ready_.emplace(ready_key(t), t.task_id);
  else waiting_.emplace(std::pair(t.available_at, order), t.task_id);
}

void QueueState::leave_pending(TaskState& t) {
  if (ready_.erase(ready_key(t)) == 0) waiting_.erase(std::pair(t.available_at, t.pending_order));
}

void QueueState::take_payload(TaskState& t, const RowFacts& row) {
  t.payload_format = row.payload_format;
  if (row.payload_to_take) {
    t.payload = std::move(*row.payload_to_take);
    t.payload_seq = 0;
  } else if (row.payload) {
    t.payload = *row.payload;
    t.payload_seq = 0;
  } else {
    t.payload.clear();
    t.payload_seq = row.has_payload ? row.seq : 0;
  }
}

void QueueState::take_error(TaskState& t, const RowFacts& row) {
  if (row.error) {
    t.last_error = *row.error;
    t.error_seq = 0;
  } else {
    t.last_error.reset();
    t.error_seq = row.has_error ? row.seq : 0;
  }
  t.error_fallback_seq = 0;
}

Status QueueState::check_key_free(const RowFacts& row) const {
  if (!row.key) return ok_status();
  const auto it = keys_.find(*row.key);
  if (it == keys_.end() || it->second.finished_at) return ok_status();  // a retained key is taken over
  return invalid(row, "idempotency key '" + *row.key + "' is held by live task " + std::to_string(it->second.task_id));
}

void QueueState::take_key(TaskState& t, const std::string& key) {
  auto [it, fresh] = keys_.try_emplace(key, KeyHold{t.task_id, std::nullopt});
  if (!fresh) {
    if (it->second.finished_at) retained_.erase(std::pair(*it->second.finished_at, key));
    it->second = KeyHold{t.task_id, std::nullopt};
  }
  t.key = key;
}

void QueueState::retain_key(const TaskState& t, Timestamp finished_at) {
  if (t.key.empty()) return;
  const auto it = keys_.find(t.key);
  if (it == keys_.end() || it->second.task_id != t.task_id || it->second.finished_at) return;
  it->second.finished_at = finished_at;
  retained_.emplace(finished_at, t.key);
  forget_keys(finished_at);  // bounds the index by the retention, in recovery too
}

void QueueState::retake_key(TaskState& t) {
  if (t.key.empty()) return;
  const auto it = keys_.find(t.key);
  if (it != keys_.end() && it->second.task_id != t.task_id) {
    t.key.clear();  // another task took the key meanwhile: this one goes on without it
    return;
  }
  const std::string key = t.key;
  take_key(t, key);
}

void QueueState::forget_keys(Timestamp now) {
  while (!retained_.empty() && retained_.begin()->first + key_retention_ <= now) {
    const auto& [at, key] = *retained_.begin();
    const auto it = keys_.find(key);
    if (it != keys_.end() && it->second.finished_at == at) keys_.erase(it);
    retained_.erase(retained_.begin());
  }
}

std::optional<std::int64_t> QueueState::key_holder(const std::string& key, Timestamp now) {
  forget_keys(now);
  const auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  if (it->second.finished_at && *it->second.finished_at + key_retention_ <= now) return std::nullopt;
  return it->second.task_id;
}

Status QueueState::apply(const RowFacts& row) {
  TaskState* t = task(row.task);
  switch (row.kind) {
    case EventKind::Enqueued: {
      if (row.task != row.seq) return invalid(row, "an Enqueued row must be its own task (task id = its seq)");
      if (t) return invalid(row, "task " + std::to_string(row.task) + " already exists");
      HUGO_TRY(check_key_free(row));
      TaskState fresh;
      fresh.task_id = row.task;
      fresh.attempt = row.attempt;
      fresh.enqueued_at = row.at;
      fresh.available_at = row.available_at.value_or(row.at);  // a scheduled task: later
      fresh.priority = row.priority;
      take_payload(fresh, row);
      auto [it, _] = tasks_.emplace(row.task, std::move(fresh));
      if (row.key) take_key(it->second, *row.key);
      make_pending(it->second, row.seq, row.at);
      return ok_status();
    }
    case EventKind::Restored: {
      if (t && t->phase != Phase::Dead) return invalid(row, "task " + std::to_string(row.task) + " is still " + phase_name(t->phase));
      drained_.erase(row.task);
      if (t) {
        dead_.erase(t->dead_seq);
        t->key.clear();  // a restored task has no key (docs/QUEUE.md, "Idempotency keys")
      } else {
        t = &tasks_.emplace(row.task, TaskState{}).first->second;
        t->task_id = row.task;
      }
      t->attempt = row.attempt;
      t->enqueued_at = row.enqueued_at.value_or(row.at);
      t->available_at = row.available_at.value_or(row.at);
      t->priority = row.priority;
      t->last_token = row.token;
      take_payload(*t, row);
      take_error(*t, row);
      make_pending(*t, row.seq, row.at);
      return ok_status();
    }
    case EventKind::LeaseGranted: {
      if (!t || t->phase != Phase::Pending) return invalid(row, not_in_phase(row.task, t, Phase::Pending));
      if (row.attempt != t->attempt) {
        return invalid(row, "attempt " + std::to_string(row.attempt) + " differs from the pending task's attempt " +
                                std::to_string(t->attempt));
      }
      if (!row.token || row.token->lease_id != row.seq) return invalid(row, "the lease id must be the row's seq");
      leave_pending(*t);
      t->phase = Phase::Leased;
      t->lease_id = row.seq;
      LeaseState lease;
      lease.lease_id = row.seq;
      lease.task_id = row.task;
      lease.attempt = row.attempt;
      lease.owner = row.owner ? *row.owner : std::string();
      lease.granted_at = row.at;
      lease.last_heartbeat = row.at;
      lease.expires_at = row.lease_expiration.value_or(row.at);
      leases_.emplace(row.seq, std::move(lease));
      return ok_status();
    }
    case EventKind::Heartbeat:
    case EventKind::Completed:
    case EventKind::Failed:
    case EventKind::LeaseExpired: {
      if (!row.token) return invalid(row, "the row has no ownership token");
      LeaseState* l = lease(row.token->lease_id);
      if (!l || !t || l->task_id != row.task || t->lease_id != l->lease_id) {
        return invalid(row, "lease " + std::to_string(row.token->lease_id) + " of task " + std::to_string(row.task) +
                                " is not active");
      }
      if (row.token->attempt != l->attempt) {
        return invalid(row, "the token's attempt " + std::to_string(row.token->attempt) + " differs from lease " +
                                std::to_string(l->lease_id) + "'s attempt " + std::to_string(l->attempt));
      }
      if (row.kind == EventKind::Heartbeat) {
        l->last_heartbeat = row.at;
        l->expires_at = row.lease_expiration.value_or(l->expires_at);
        return ok_status();
      }
      leases_.erase(l->lease_id);
      t->lease_id = 0;
      if (row.kind == EventKind::Completed) {
        retain_key(*t, row.at);
        tasks_.erase(row.task);
        return ok_status();
      }
      t->phase = Phase::AwaitingRequeue;
      t->last_token = row.token;
      take_error(*t, row);
      return ok_status();
    }
    case EventKind::Requeued: {
      if (!t) return invalid(row, "task " + std::to_string(row.task) + " does not exist");
      if (t->phase == Phase::AwaitingRequeue) {
        if (row.attempt != t->attempt + 1) {
          return invalid(row, "a requeue must carry attempt " + std::to_string(t->attempt + 1) + ", not " +
                                  std::to_string(row.attempt));
        }
      } else if (t->phase == Phase::Dead) {
        dead_.erase(t->dead_seq);  // an operator's requeue of a dead letter
        retake_key(*t);
      } else {
        return invalid(row, "task " + std::to_string(row.task) + " is " + phase_name(t->phase) + ", not awaiting requeue or dead-lettered");
      }
      t->attempt = row.attempt;
      t->available_at = row.available_at.value_or(row.at);
      if (row.token) t->last_token = row.token;
      if (row.error_unknown) {
        // Keep the error this task has now as the fallback if the Requeued row has none. Only
        // one level: a task reaches Requeued through a row that called take_error.
        t->error_fallback_seq = t->error_seq;
        t->error_seq = row.seq;
      } else if (row.has_error) {
        take_error(*t, row);
      }
      make_pending(*t, row.seq, row.at);
      return ok_status();
    }
    case EventKind::DeadLettered: {
      if (!t || (t->phase != Phase::AwaitingRequeue && t->phase != Phase::Pending)) {
        return invalid(row, (t ? "task " + std::to_string(row.task) + " is " + phase_name(t->phase)
                               : "task " + std::to_string(row.task) + " does not exist") +
                                "; only a pending task or one awaiting requeue can be dead-lettered");
      }
      if (t->phase == Phase::Pending) leave_pending(*t);
      t->phase = Phase::Dead;
      t->attempt = row.attempt;
      t->dead_seq = row.seq;
      t->dead_at = row.at;
      if (row.token) t->last_token = row.token;
      take_error(*t, row);
      dead_.emplace(row.seq, row.task);
      retain_key(*t, row.at);
      return ok_status();
    }
    case EventKind::Canceled: {
      // Terminal, like Completed: the task leaves the state, so no later row may lease, heartbeat,
      // complete or requeue it. A leased task's row names its active lease, which ends with it.
      if (!t || (t->phase != Phase::Pending && t->phase != Phase::Leased)) {
        return invalid(row, (t ? "task " + std::to_string(row.task) + " is " + phase_name(t->phase)
                               : "task " + std::to_string(row.task) + " does not exist") +
                                "; only a pending or leased task can be canceled");
      }
      if (row.attempt != t->attempt) {
        return invalid(row, "attempt " + std::to_string(row.attempt) + " differs from the task's attempt " +
                                std::to_string(t->attempt));
      }
      if (t->phase == Phase::Leased) {
        if (!row.token || row.token->lease_id != t->lease_id || row.token->attempt != t->attempt) {
          return invalid(row, "canceling leased task " + std::to_string(row.task) + " must name its active lease " +
                                  std::to_string(t->lease_id));
        }
        leases_.erase(t->lease_id);
      } else {
        if (row.token) return invalid(row, "canceling pending task " + std::to_string(row.task) + " names no lease");
        leave_pending(*t);
      }
      retain_key(*t, row.at);
      tasks_.erase(row.task);
      return ok_status();
    }
    case EventKind::Drained: {
      if (!t || t->phase != Phase::Pending) return invalid(row, not_in_phase(row.task, t, Phase::Pending));
      leave_pending(*t);
      retain_key(*t, row.at);
      tasks_.erase(row.task);
      drained_.insert(row.task);
      return ok_status();
    }
  }
  return invalid(row, "unknown kind");
}

}  // namespace hugo::detail
