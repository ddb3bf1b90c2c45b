// Test support: small builders for events.
#pragma once

#include <hugo/event.hpp>
#include <hugo/time.hpp>

#include <string>

namespace hugo::test {

inline Timestamp t0() { return Timestamp{std::chrono::seconds{1'704'067'200}}; }  // 2024-01-01

inline Event enqueued(std::string queue, std::string payload, Timestamp at = t0()) {
  Event e;
  e.kind = EventKind::Enqueued;
  e.queue = std::move(queue);
  e.payload = std::move(payload);
  e.occurred_at = at;
  return e;
}

inline Event lease_granted(std::string queue, std::int64_t task, std::int32_t attempt, std::string owner,
                           Timestamp at = t0()) {
  Event e;
  e.kind = EventKind::LeaseGranted;
  e.queue = std::move(queue);
  e.task_id = task;
  e.attempt = attempt;
  e.owner_peer_id = std::move(owner);
  e.occurred_at = at;
  e.lease_expiration = at + std::chrono::seconds(30);
  e.token = OwnershipToken{task, attempt, 0};
  return e;
}

}  // namespace hugo::test
