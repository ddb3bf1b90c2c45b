#include "journal/queue_guard.hpp"

#include <hugo/error_codes.hpp>

namespace hugo::detail {

bool QueueGuard::needs_check(const Event* events, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (events[i].kind != EventKind::Enqueued || events[i].task_id != events[i].seq) return true;
    if (events[i].idempotency_key) return true;  // one live task per key
  }
  return false;
}

bool QueueGuard::may_need_check(const Event* events, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (events[i].kind != EventKind::Enqueued || events[i].task_id != 0) return true;
    if (events[i].idempotency_key) return true;
  }
  return false;
}

// The facts the transition rules read, as the row reads back from the file (a grant without a
// token has the token its seq implies, docs/FORMAT.md); payloads and errors are left out, the
// guard keeps no copy.
RowFacts QueueGuard::facts(const Event& row) {
  RowFacts f = facts_of(row);
  if (row.kind == EventKind::LeaseGranted && !f.token) f.token = OwnershipToken{row.task_id, row.attempt, row.seq};
  f.has_payload = false;
  f.payload = nullptr;
  f.has_error = false;
  f.error = nullptr;
  return f;
}

void QueueGuard::fold(const Event& row) {
  if (row.seq <= folded_) return;
  (void)queues_[row.queue].apply(facts(row));  // an invalid stored row is skipped
  folded_ = row.seq;
}

std::optional<std::string> QueueGuard::try_fold(const Event& row) {
  Status applied = queues_[row.queue].apply(facts(row));
  if (!applied.ok()) return *applied.error().find("rule");
  folded_ = row.seq;
  return std::nullopt;
}

Status QueueGuard::admit(const Event* events, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const Event& e = events[i];
    std::string rule;
    if (e.kind != EventKind::Enqueued && claimed_.count(e.queue) != 0) {
      rule = "queue '" + e.queue + "' is open as a TaskQueue on this journal; use its methods, or close it first";
    } else if (auto broken = try_fold(e)) {
      rule = std::move(*broken);
    } else {
      continue;
    }
    if (i > 0) {  // part of the group is folded: start again from the rows next time
      queues_.clear();
      folded_ = 0;
    }
    const std::string what = std::string(to_string(e.kind)) + " of task " + std::to_string(e.task_id) +
                             " in queue '" + e.queue + "'";
    return Error::validation("event rejected: " + what + (count > 1 ? " (event " + std::to_string(i) + " of the group)" : "") +
                     " is not a valid transition: " + rule +
                     " (append only what the queue's state allows; TaskQueue's methods always do)")
        .with("queue", e.queue)
        .with("task", std::to_string(e.task_id))
        .with("kind", std::string(to_string(e.kind)))
        .with("rule", rule)
        .with("index", std::to_string(i));
  }
  return ok_status();
}

}  // namespace hugo::detail
