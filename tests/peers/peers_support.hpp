// Test support for peers: an owner journal with a workload, and comparisons of replica and owner.
#pragma once

#include <doctest/doctest.h>

#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include "tests/support/events.hpp"
#include "tests/support/journal_text.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tests/support/temp_dir.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace hugo::test {

// Every event of a journal, as the NDJSON the server would send.
inline std::string journal_ndjson(const std::filesystem::path& path) { return must(journal_as_ndjson(path)); }

// The rolling hash over a journal's events (what a replica at its last seq must hold).
inline std::uint64_t journal_hash(const std::filesystem::path& path) {
  std::uint64_t hash = kEmptyHistoryHash;
  const std::string text = journal_ndjson(path);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    hash = chain_hash(hash, std::string_view(text).substr(start, nl - start));
    start = nl + 1;
  }
  return hash;
}

// Appends `count` events over two queues (enqueues and leases of what was enqueued).
inline void append_workload(Journal& journal, int count, const std::string& tag = "job") {
  for (int i = 0; i < count; ++i) {
    const std::string queue = i % 3 == 0 ? "billing" : "orders";
    must(journal.append(enqueued(queue, tag + "-" + std::to_string(i))));
  }
}

// Waits (bounded) until `done` holds; the condition is what the test then asserts.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

inline JournalOptions fast_options() {
  JournalOptions o;
  o.durability = Durability::Process;
  return o;
}

}  // namespace hugo::test
