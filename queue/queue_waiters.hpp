// QueueWaiters: the callers blocked in a TaskQueue, so that a change wakes only those it can
// unblock (docs/QUEUE.md, "Targeted wake-ups"). Internal: used by queue/task_queue_impl.hpp.
#pragma once

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include "journal/wake_word.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

namespace hugo::detail {

// An enqueue call asleep for room (queue/task_queue_room.cpp). A lease that frees room appends the
// rows of the listed calls that now fit, in arrival order, and has the journal wake each once its
// rows are durable. Lives on the calling thread's stack; listed in QueueWaiters::room while it
// waits. Every field is read and written under the queue's mutex; the word is bumped from anywhere.
struct RoomRequest {
  std::span<std::string> payloads;  // moved into the rows by whoever appends them
  const EnqueueOptions* options = nullptr;  // the call's; outlives the request
  std::span<std::int64_t> task_ids;  // written when the rows are appended
  const std::string* key = nullptr;  // enqueue_keyed's (one payload), checked again when the rows are built
  bool duplicate = false;            // the key was taken meanwhile: task_ids[0] is its holder, no row
  std::stop_token stop;              // the call's: a call whose stop was requested is not served
  std::size_t slots() const { return payloads.size(); }

  bool served = false;            // its rows were appended for it (or refused): it is off the list
  AppendTicket ticket;            // of the appended rows, once served
  std::optional<Error> refused;   // the append failed: the call returns this error
  // What the call sleeps on: bumped when it is served and its rows are durable (or refused), and
  // by every wake-everyone change. Shared, because the journal may wake it after the call left.
  // Made when the call starts to wait (a call that finds room needs none).
  std::shared_ptr<WakeWord> word;
};

// The callers blocked in enqueue (waiting for room) and in lease (waiting for a leasable task).
// The hot transitions wake only the callers they can unblock: an enqueue of n tasks at most n
// lessees; a lease serves the enqueue calls its freed room fits (RoomRequest) and wakes no other.
// Every other change (close, failure, drain, restore, requeues, the sweep) wakes everyone with
// notify_all(). A woken lessee that leaves without taking what it was woken for (canceled,
// deadline, unusable) passes the wake-up on, so none is lost (TaskQueue::Impl::block). An enqueue
// call woken by notify_all() that finds room takes it itself; one served by a lease was woken for
// nothing it could pass on. The fields are read and written under the queue's mutex.
struct QueueWaiters {
  std::condition_variable_any work;  // lease callers
  std::size_t work_waiting = 0;
  std::vector<RoomRequest*> room;  // enqueue callers, in arrival order

  // Wakes every caller (under the mutex: the changes that call it are rare).
  void notify_all() {
    work.notify_all();
    for (RoomRequest* r : room) r->word->wake_all();
  }
  // How many waiting lessees to wake for `n` tasks added to pending: each may be the one a
  // lessee needs. Under the mutex; the wake-up itself may follow after the lock is released, so
  // that the woken caller does not find the lock still held.
  std::size_t lessees_for(std::size_t n) const { return std::min(n, work_waiting); }
  void wake_lessees(std::size_t k) {
    for (std::size_t i = 0; i < k; ++i) work.notify_one();
  }
  void withdraw(const RoomRequest* r) { room.erase(std::remove(room.begin(), room.end(), r), room.end()); }
};

}  // namespace hugo::detail
