// Test support for the CLI: a journal of many plain events (large enough that writing or copying
// it takes a while, for kill points), built through the public API with fixed timestamps.
#pragma once

#include "tests/tools/fixture.hpp"

#include <hugo/journal.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace hugo::test::cli {

// Creates `path` holding `count` Enqueued events spread over seven queues.
inline void build_bulk_journal(const std::filesystem::path& path, int count) {
  JournalOptions o;
  o.durability = Durability::Process;
  auto journal = ok_or_throw(Journal::open(path, o));
  for (int i = 0; i < count; i += 500) {
    std::vector<AppendTicket> tickets;
    for (int j = i; j < std::min(count, i + 500); ++j) {
      Event e;
      e.kind = EventKind::Enqueued;
      e.queue = "queue-" + std::to_string(j % 7);
      e.payload = "payload of event " + std::to_string(j);
      e.occurred_at = Timestamp{std::chrono::seconds{1'704'070'800 + j}};
      tickets.push_back(journal->append_async(std::move(e)));
    }
    for (auto& t : tickets) ok_or_throw(t.wait());
  }
  ok_or_throw(journal->close());
}

}  // namespace hugo::test::cli
