// BatchStorage: the journal's spare event vectors, so that a new batch reuses the memory of one
// that is gone instead of allocating its own. A batch's vector holds up to max_batch events of
// about 600 bytes each and lives until the batch leaves read_recent's window; allocated fresh for
// every batch, those blocks went back to the system as they were freed and every new batch touched
// fresh pages (page faults in copying each event in: about a sixth of the CPU of bench/peers'
// Process batch cycle). Internal: the journal's Batch (journal_impl.hpp) takes a vector when it
// opens and gives it back from its destructor, on whichever thread drops the batch last.
//
// Invariants: a spare is empty; at most kSpares are kept, none with room for more than
// kMaxSpareEvents events (a journal opened with a large max_batch does not keep its largest
// batches' memory), newest last: the oldest goes when a newer one comes. So a journal keeps at
// most kSpares x kMaxSpareEvents x sizeof(Event) bytes (about 5 MB) besides read_recent's window,
// and none once it is closed. take() hands out a spare only with room for at most twice the
// events asked for. A batch may so hold up to twice the memory a fresh reserve would give it, and
// read_recent counts that memory (the vector's capacity) against its byte limit: with large
// payloads its window can end sooner than before, never hold more bytes. Half again instead of
// twice left a third more page faults in bench/peers' Process batch cycle (10-12k against
// 14-19k per 3 s), as batches of varying sizes found fewer spares that fit. Thread-safe; its
// mutex is taken last (under the journal's, never around anything else) and never while an event
// is destroyed.
#pragma once

#include <hugo/event.hpp>

#include <cstddef>
#include <iterator>
#include <mutex>
#include <utility>
#include <vector>

namespace hugo::detail {

class BatchStorage {
 public:
  static constexpr std::size_t kSpares = 8;
  static constexpr std::size_t kMaxSpareEvents = 1024;

  BatchStorage() { spares_.reserve(kSpares); }  // give() never allocates

  // An empty vector with room for at least `capacity` events.
  std::vector<Event> take(std::size_t capacity) {
    std::vector<Event> events;
    {
      std::lock_guard lock(mutex_);
      for (auto spare = spares_.rbegin(); spare != spares_.rend(); ++spare) {
        if (spare->capacity() < capacity || spare->capacity() > 2 * capacity) continue;
        events = std::move(*spare);
        spares_.erase(std::next(spare).base());
        break;
      }
    }
    events.reserve(capacity);
    return events;
  }

  // Destroys `events`' elements and keeps its memory for a later take(), in place of the oldest
  // spare if there is no room; after close(), keeps nothing.
  void give(std::vector<Event>&& events) noexcept {
    if (events.capacity() == 0 || events.capacity() > kMaxSpareEvents) return;
    events.clear();
    std::vector<Event> oldest;  // freed after the mutex
    std::lock_guard lock(mutex_);
    if (closed_) {
      oldest = std::move(events);
      return;
    }
    if (spares_.size() == kSpares) {
      oldest = std::move(spares_.front());
      spares_.erase(spares_.begin());
    }
    spares_.push_back(std::move(events));
  }

  // Frees the spares; batches that go later free their own memory (the journal is closed).
  void close() noexcept {
    std::vector<std::vector<Event>> spares;  // freed after the mutex
    std::lock_guard lock(mutex_);
    closed_ = true;
    spares.swap(spares_);
  }

  std::size_t spares() const {
    std::lock_guard lock(mutex_);
    return spares_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::vector<Event>> spares_;  // each empty
  bool closed_ = false;
};

}  // namespace hugo::detail
