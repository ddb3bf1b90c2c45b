// Queue-level backpressure with watermarks and a notification cooldown (docs/QUEUE.md,
// "Backpressure"), with one fix to Hugo's: a transition inside the cooldown is deferred, never dropped, so the last
// delivered signal always converges to the real state.
//
// check() runs under the queue's lock and only decides; deliver() runs after the lock is
// released and calls the listener with no lock held, so the listener may call back into the
// queue (backpressure() included). Signals carry a version so that a signal computed earlier but
// delivered later (by another thread) is discarded: listeners never go back to a stale state.
// The listener is never called concurrently with itself: while one thread is delivering, a newer
// signal from another thread (or from the listener's own re-entrant call) is handed to the
// delivering thread, which passes it on once the listener returns.
#pragma once

#include <hugo/task_queue.hpp>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace hugo::detail {

class Backpressure {
 public:
  struct Pending {
    BackpressureSignal signal;
    std::uint64_t version = 0;
    Duration in_previous_state{};  // since the last announced transition (or since opening)
  };

  // Precondition: options validated (high > 0 or disabled).
  // `report` receives a listener's exception as error.exception (the listener never throws
  // through the queue).
  // `opened_at`: when the queue opened, the start of its first (inactive) state.
  Backpressure(std::optional<BackpressureOptions> options, std::function<void(const Error&)> report,
               Timestamp opened_at);

  bool enabled() const { return enabled_; }
  // Re-evaluates with the current pending depth. Caller holds the queue's lock.
  std::optional<Pending> check(std::int64_t pending, Timestamp now);
  // Delivers outside the queue's lock. Returns once `pending` (or a newer signal) was delivered,
  // or was handed to the thread delivering now.
  void deliver(const std::optional<Pending>& pending);
  BackpressureSignal last_delivered() const;
  // Whether the last announced state is active. Caller holds the queue's lock.
  bool announced_active() const { return announced_active_; }

 private:
  BackpressureOptions options_;
  std::function<void(const Error&)> report_;
  bool enabled_ = false;
  std::int64_t high_ = 0;
  std::int64_t low_ = 0;
  // Decision state (queue lock).
  bool active_ = false;
  bool announced_active_ = false;
  Timestamp opened_at_{};
  std::optional<Timestamp> last_announcement_;
  std::uint64_t version_ = 0;
  // Delivery state (deliver_mutex_, never held while the listener runs).
  void invoke(const BackpressureSignal& signal);
  mutable std::mutex deliver_mutex_;
  bool delivering_ = false;  // a thread is running the listener
  std::optional<Pending> queued_;  // newer than delivered_, waiting for the delivering thread
  std::uint64_t delivered_version_ = 0;
  BackpressureSignal delivered_;
};

}  // namespace hugo::detail
