// Test support: a queue journal with holes in its seqs, as compact_journal leaves one. Nine tasks
// are enqueued and the first two completed, then everything below seq 11 that compaction may drop
// is dropped: the journal holds seqs 3, 4, 5, 6, 11, 12 and 13 (checked).
#pragma once

#include "tests/support/queue_fixture.hpp"

#include <hugo/journal_admin.hpp>
#include <hugo/journal.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace hugo::test {

// Writes the journal of `f` (closing it) and returns its path.
inline std::filesystem::path compacted_journal(QueueFixture& f) {
  {
    auto orders = f.open();
    for (int i = 0; i < 6; ++i) must(orders->enqueue("o" + std::to_string(i)));
    must(orders->complete(must(orders->lease("w", Wait::none())).token));  // o0: seqs 1, 7, 8
    must(orders->complete(must(orders->lease("w", Wait::none())).token));  // o1: seqs 2, 9, 10
    for (int i = 6; i < 9; ++i) must(orders->enqueue("o" + std::to_string(i)));
  }
  f.journal.reset();
  const auto path = f.dir / "queue.journal";
  CHECK(must(compact_journal(path, 11)).tasks_removed == 2);
  std::vector<std::int64_t> seqs;
  for (const Event& e : must(must(JournalReader::open(path))->read(0, 100))) seqs.push_back(e.seq);
  REQUIRE(seqs == std::vector<std::int64_t>{3, 4, 5, 6, 11, 12, 13});
  return path;
}

}  // namespace hugo::test
