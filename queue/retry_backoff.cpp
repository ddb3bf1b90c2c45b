// RetryBackoff: queue/retry_backoff.hpp.
#include "queue/retry_backoff.hpp"

#include <algorithm>
#include <cmath>

namespace hugo::detail {
namespace {

Error invalid_retry(const std::string& field, const std::string& why) {
  return Error::validation("TaskQueueOptions.retry." + field + " " + why)
      .with("option", "retry")
      .with("field", field);
}

}  // namespace

Status validate_retry_policy(const RetryPolicy& p) {
  if (!delay_in_range(p.delay)) return invalid_retry("delay", "must be 0 to 1000 years");
  if (!delay_in_range(p.max_delay)) return invalid_retry("max_delay", "must be 0 to 1000 years");
  if (!std::isfinite(p.jitter) || p.jitter < 0.0 || p.jitter > 1.0) return invalid_retry("jitter", "must be 0 to 1");
  if (p.backoff == RetryPolicy::Backoff::Exponential) {
    if (!std::isfinite(p.factor) || p.factor < 1.0) return invalid_retry("factor", "must be a finite number >= 1");
    if (p.max_delay < p.delay) return invalid_retry("max_delay", "must be >= delay");
  }
  return ok_status();
}

RetryBackoff::RetryBackoff(const RetryPolicy& policy)
    : policy_(policy), random_(policy.seed != 0 ? policy.seed : std::random_device{}()) {}

Duration RetryBackoff::delay_after(std::int32_t failed_attempt) {
  double us = static_cast<double>(policy_.delay.count());
  if (policy_.backoff == RetryPolicy::Backoff::Exponential) {
    const double grown = us * std::pow(policy_.factor, std::max(0, failed_attempt - 1));
    us = std::min(std::isfinite(grown) ? grown : HUGE_VAL, static_cast<double>(policy_.max_delay.count()));
  }
  if (policy_.jitter > 0.0) {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
    us *= 1.0 - policy_.jitter * u;
  }
  return Duration{static_cast<std::int64_t>(us)};
}

}  // namespace hugo::detail
