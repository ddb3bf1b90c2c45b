// Benchmark support: payloads, synthetic task histories, and opening and closing a journal
// through the public API with every error ending the program.
#pragma once

#include "bench/support/report.hpp"

#include <hugo/event.hpp>
#include <hugo/journal.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hugo_bench {

// A payload of `bytes` bytes cycling 'a'..'z'.
inline std::string alphabet_payload(std::size_t bytes) {
  std::string payload(bytes, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  return payload;
}

// "Fsync" or "Process".
inline const char* durability_name(hugo::Durability d) { return d == hugo::Durability::Fsync ? "Fsync" : "Process"; }

// Row `seq` of a history of task lifecycles whose first Enqueued row is seq `first`, one task per
// three rows: Enqueued (no payload: the caller's), LeaseGranted (owner "worker-<task % owners>", a
// 30 s lease), Completed; on queue queues[task % queues.size()].
inline hugo::Event lifecycle_event(std::int64_t seq, std::int64_t first, hugo::Timestamp at,
                                   std::span<const char* const> queues, int owners) {
  const std::int64_t phase = (seq - first) % 3;
  const std::int64_t task = seq - phase;
  hugo::Event e;
  e.queue = queues[static_cast<std::size_t>(task) % queues.size()];
  e.occurred_at = at;
  if (phase == 0) {
    e.kind = hugo::EventKind::Enqueued;
  } else if (phase == 1) {
    e.kind = hugo::EventKind::LeaseGranted;
    e.task_id = task;
    e.owner_peer_id = "worker-" + std::to_string(task % owners);
    e.token = hugo::OwnershipToken{task, 1, 0};
    e.lease_expiration = at + std::chrono::seconds(30);
  } else {
    e.kind = hugo::EventKind::Completed;
    e.task_id = task;
    e.token = hugo::OwnershipToken{task, 1, task + 1};
  }
  return e;
}

// Journal::open with `durability` and otherwise default options; fails the program on an error.
inline std::unique_ptr<hugo::Journal> open_journal(std::string_view program, const std::filesystem::path& path,
                                                   hugo::Durability durability) {
  hugo::JournalOptions options;
  options.durability = durability;
  auto opened = hugo::Journal::open(path, options);
  if (!opened.ok()) fail(program, "Journal::open: " + opened.error().to_string());
  return std::move(opened).value();
}

// Journal::close; fails the program on an error.
inline void close_journal(std::string_view program, hugo::Journal& journal) {
  if (const hugo::Status closed = journal.close(); !closed.ok()) {
    fail(program, "Journal::close: " + closed.error().to_string());
  }
}

// Writes seqs 1 .. events, make_event(seq, at) with `at` one microsecond apart from an hour ago,
// into a fresh journal at `path` (Durability::Process) with append_group_async, 192 events per
// group and up to 32 groups in flight, then closes it: a history to catch up on.
template <class MakeEvent>
void write_history(std::string_view program, const std::filesystem::path& path, std::int64_t events,
                   MakeEvent&& make_event) {
  std::unique_ptr<hugo::Journal> journal = open_journal(program, path, hugo::Durability::Process);
  hugo::Timestamp at = hugo::SystemClock().now() - std::chrono::hours(1);
  std::deque<hugo::AppendTicket> in_flight;
  auto settle = [&](std::size_t keep) {
    while (in_flight.size() > keep) {
      if (auto done = in_flight.front().wait(); !done.ok()) fail(program, "append: " + done.error().to_string());
      in_flight.pop_front();
    }
  };
  for (std::int64_t seq = 1; seq <= events;) {
    std::vector<hugo::Event> group;
    const std::int64_t first = seq;
    for (; seq <= events && group.size() < 192; ++seq) group.push_back(make_event(seq, at += std::chrono::microseconds(1)));
    hugo::AppendTicket ticket = journal->append_group_async(group);
    if (ticket.seq != first) fail(program, "append_group_async gave an unexpected seq");
    in_flight.push_back(std::move(ticket));
    settle(32);
  }
  settle(0);
  close_journal(program, *journal);
}

}  // namespace hugo_bench
