// What the HTTP follower and the stream follower share (docs/PEERS.md): the applied-batch
// callback, set from any thread and called on the following thread, and the reconnect loop with
// exponential backoff.
#pragma once

#include <hugo/error_codes.hpp>
#include <hugo/peers.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace hugo::peers {

// The callback is swapped under a mutex and called outside it through the copy taken there, so a
// callback never runs under a lock and may replace itself.
class AppliedCallback {
 public:
  void set(std::function<void(const ReplicaPosition&)> callback) {
    auto shared = std::make_shared<const std::function<void(const ReplicaPosition&)>>(std::move(callback));
    std::lock_guard lock(mutex_);
    callback_ = std::move(shared);
  }
  void operator()(const ReplicaPosition& position) const {
    std::shared_ptr<const std::function<void(const ReplicaPosition&)>> callback;
    {
      std::lock_guard lock(mutex_);
      callback = callback_;
    }
    if (callback && *callback) (*callback)(position);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const std::function<void(const ReplicaPosition&)>> callback_;
};

// Runs `pass()` (-> Status) until `stopping` or a fatal error (any but replication.unavailable),
// which it returns. Between passes it waits on `wake` (notified, under `mutex`, by stop()) for a
// backoff that doubles from `min` up to `max` and drops back to `min` after a pass that moved
// `seq()` (-> the replica's applied seq) forward.
template <class Pass, class Seq>
Status run_with_backoff(const std::atomic<bool>& stopping, std::mutex& mutex, std::condition_variable& wake,
                        std::chrono::milliseconds min, std::chrono::milliseconds max, Pass pass, Seq seq) {
  auto backoff = min;
  while (!stopping.load()) {
    const std::int64_t before = seq();
    Status status = pass();
    if (stopping.load()) break;
    if (!status.ok() && status.error().code() != errc::replication_unavailable) return status;
    if (seq() > before) backoff = min;
    std::unique_lock lock(mutex);
    wake.wait_for(lock, backoff, [&stopping] { return stopping.load(); });
    backoff = std::min(backoff * 2, max);
  }
  return ok_status();
}

}  // namespace hugo::peers
