// The check every operation that names a lease by its token makes (task_queue_lease.cpp,
// task_queue_tx.cpp). Internal.
#pragma once

#include <hugo/error_codes.hpp>

#include "queue/task_queue_impl.hpp"

namespace hugo::detail {

inline Error inactive_lease(const OwnershipToken& token) {
  return Error::lease_inactive("Lease is no longer active.")
      .with("token", token.to_string())
      .with("task_id", std::to_string(token.task_id));
}

// The lease `token` names while it is live: granted, not ended since, and of the token's task and
// attempt. Otherwise lease.inactive. Caller holds `q.mutex`.
inline Result<const LeaseState*> live_lease(const TaskQueue::Impl& q, const OwnershipToken& token) {
  const LeaseState* l = q.state.lease(token.lease_id);
  if (!l || l->task_id != token.task_id || l->attempt != token.attempt) return inactive_lease(token);
  return l;
}

}  // namespace hugo::detail
