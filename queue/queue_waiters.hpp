// QueueWaiters: the callers blocked in a TaskQueue, so that a change wakes only those it can
// unblock (docs/QUEUE.md, "Targeted wake-ups"). Internal: used by queue/task_queue_impl.hpp.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>

namespace hugo::detail {

// The callers blocked in enqueue (waiting for room) and in lease (waiting for a leasable task).
// The hot transitions wake only the callers they can unblock: an enqueue of n tasks at most n
// lessees, a lease of n tasks at most n enqueuers; every other change (close, failure, drain,
// restore, requeues, the sweep) wakes everyone with notify_all(). A woken caller that leaves
// without taking what it was woken for (canceled, deadline, unusable) passes the wake-up on, so
// none is lost (TaskQueue::Impl::block). The counters are read and written under the queue's mutex;
// enqueue and lease send their wake-ups once they released it.
struct QueueWaiters {
  std::condition_variable_any room;  // enqueue callers
  std::condition_variable_any work;  // lease callers
  std::size_t room_waiting = 0;
  std::size_t room_batches_waiting = 0;  // of those, enqueue_batch calls needing more than one slot
  std::size_t work_waiting = 0;

  void notify_all() {
    room.notify_all();
    work.notify_all();
  }
  // How many waiting lessees to wake for `n` tasks added to pending: each may be the one a
  // lessee needs. Under the mutex; the wake-up itself may follow after the lock is released, so
  // that the woken caller does not find the lock still held.
  std::size_t lessees_for(std::size_t n) const { return std::min(n, work_waiting); }
  void wake_lessees(std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) work.notify_one();
  }
  // How many waiting enqueuers to wake for `n` tasks that left pending (kEveryone while a batch
  // needing several slots waits: it may only fit if it is the one woken). Under the mutex.
  static constexpr std::size_t kEveryone = static_cast<std::size_t>(-1);
  std::size_t enqueuers_for(std::size_t n) const {
    return room_batches_waiting > 0 ? kEveryone : std::min(n, room_waiting);
  }
  void wake_enqueuers(std::size_t k) {
    if (k == kEveryone) return room.notify_all();
    for (std::size_t i = 0; i < k; ++i) room.notify_one();
  }
};

}  // namespace hugo::detail
