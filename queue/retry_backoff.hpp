// The delay before a failed or expired task's next attempt (docs/QUEUE.md, "Retry backoff"):
// fixed or exponential, capped, with optional jitter. The delay drawn is journaled on the Requeued
// row (available_at), so recovery and replicas read it and never draw it again.
#pragma once

#include <hugo/error.hpp>
#include <hugo/task_queue.hpp>

#include <cstdint>
#include <random>

namespace hugo::detail {

// The longest delay the queue accepts anywhere (a retry policy's, requeue_delay, an enqueue's
// delay, fail_and_retry_after's): 1000 years, so that now + delay stays a time the journal's
// JSON can carry (years 0001..9999) and never overflows.
inline constexpr Duration kMaxDelay = std::chrono::days(365'250);
inline bool delay_in_range(Duration d) { return d >= Duration::zero() && d <= kMaxDelay; }

// Checks a policy as TaskQueue::open takes it: error.validation naming the field.
Status validate_retry_policy(const RetryPolicy& policy);

class RetryBackoff {
 public:
  RetryBackoff() = default;
  explicit RetryBackoff(const RetryPolicy& policy);

  // The delay before the attempt after `failed_attempt` (1-based). Draws the jitter, so it is not
  // const; the caller holds the queue's mutex.
  Duration delay_after(std::int32_t failed_attempt);

 private:
  RetryPolicy policy_;
  std::mt19937_64 random_;
};

}  // namespace hugo::detail
