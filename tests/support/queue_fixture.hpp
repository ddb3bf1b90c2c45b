// Test support: a journal in a temp folder, a ManualClock, and queues opened on them without a
// background sweeper, so tests drive expiry with clock.advance() + sweep_expired().
#pragma once

#include <doctest/doctest.h>

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include "tests/support/temp_dir.hpp"

#include <memory>
#include <string>
#include <vector>

namespace hugo::test {

template <class T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().to_string()));
  return std::move(r).value();
}

inline void must(Status s) { REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().to_string())); }

struct QueueFixture {
  TempDir dir;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<Journal> journal;

  explicit QueueFixture(Durability durability = Durability::Process) { reopen_journal(durability); }

  void reopen_journal(Durability durability = Durability::Process) {
    journal.reset();
    JournalOptions options;
    options.durability = durability;
    options.clock = clock;
    journal = std::shared_ptr<Journal>(must(Journal::open(dir / "queue.journal", options)).release());
  }

  TaskQueueOptions options(std::string name = "orders") const {
    TaskQueueOptions o;
    o.name = std::move(name);
    o.clock = clock;
    o.run_sweeper = false;
    return o;
  }

  std::unique_ptr<TaskQueue> open(TaskQueueOptions o) { return must(TaskQueue::open(journal, std::move(o))); }
  std::unique_ptr<TaskQueue> open() { return open(options()); }

  std::vector<Event> events() const {
    std::vector<Event> all;
    REQUIRE(journal->flush().ok());
    std::int64_t after = 0;
    while (true) {
      auto batch = must(journal->read(after, 1000));
      if (batch.empty()) return all;
      after = batch.back().seq;
      for (auto& e : batch) all.push_back(std::move(e));
    }
  }

  // Enqueues task 1 on queue "orders" and leases it (lease 2), then returns the Completed row that
  // would end that lease, for a test to give it a field its kind may not carry.
  Event completed_row_after_one_lease() {
    {
      auto q = open();
      must(q->enqueue("one"));
      must(q->lease("w", Wait::none()));
    }
    Event raw;
    raw.queue = "orders";
    raw.kind = EventKind::Completed;
    raw.task_id = 1;
    raw.token = OwnershipToken{1, 1, 2};
    raw.occurred_at = clock->now();
    return raw;
  }

  std::vector<EventKind> kinds() const {
    std::vector<EventKind> out;
    for (const auto& e : events()) out.push_back(e.kind);
    return out;
  }
};

}  // namespace hugo::test
