#include "queue/backpressure.hpp"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace hugo::detail {

Backpressure::Backpressure(std::optional<BackpressureOptions> options, std::function<void(const Error&)> report,
                           Timestamp opened_at)
    : report_(std::move(report)), opened_at_(opened_at) {
  if (!options || options->high_watermark <= 0 || !options->on_change) return;  // untracked, as in Hugo
  options_ = std::move(*options);
  enabled_ = true;
  high_ = options_.high_watermark;
  low_ = options_.low_watermark;
  if (low_ <= 0 || low_ >= high_) low_ = std::max<std::int64_t>(1, high_ / 2);
  delivered_.high_watermark = high_;
  delivered_.low_watermark = low_;
}

std::optional<Backpressure::Pending> Backpressure::check(std::int64_t pending, Timestamp now) {
  if (!enabled_) return std::nullopt;
  if (!active_ && pending >= high_) active_ = true;
  else if (active_ && pending <= low_) active_ = false;
  if (active_ == announced_active_) return std::nullopt;
  if (last_announcement_ && now - *last_announcement_ < options_.cooldown) return std::nullopt;  // deferred
  const Duration in_previous_state = now - last_announcement_.value_or(opened_at_);
  announced_active_ = active_;
  last_announcement_ = now;
  return Pending{BackpressureSignal{active_, pending, high_, low_, now}, ++version_, in_previous_state};
}

void Backpressure::deliver(const std::optional<Pending>& pending) {
  if (!pending) return;
  std::unique_lock lock(deliver_mutex_);
  const std::uint64_t newest = queued_ ? queued_->version : delivered_version_;
  if (pending->version <= newest) return;  // a newer signal was already delivered or queued
  queued_ = pending;
  if (delivering_) return;  // the delivering thread passes it on after its current call
  delivering_ = true;
  while (queued_) {
    const Pending next = *std::exchange(queued_, std::nullopt);
    delivered_version_ = next.version;
    delivered_ = next.signal;
    lock.unlock();
    invoke(next.signal);
    lock.lock();
  }
  delivering_ = false;
}

void Backpressure::invoke(const BackpressureSignal& signal) {
  try {
    options_.on_change(signal);
  } catch (const std::exception& e) {
    if (report_) report_(Error("error.exception", std::string("backpressure listener threw: ") + e.what()));
  } catch (...) {
    if (report_) report_(Error("error.exception", "backpressure listener threw a non-standard exception"));
  }
}

BackpressureSignal Backpressure::last_delivered() const {
  std::lock_guard lock(deliver_mutex_);
  return delivered_;
}

}  // namespace hugo::detail
