// JournalAccess: the library's own ways into a Journal, past the checks its public API makes.
// Internal: never installed.
#pragma once

#include <hugo/journal.hpp>

#include "journal/wake_word.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace hugo::detail {

struct JournalAccess {
  // append_group_async without the raw path's queue-transition check (docs/QUEUE.md, "Raw
  // appends"): for a TaskQueue, which checks its own transitions against its state, and for
  // tests that must store a history no queue could write. Fills the journal-filled fields of
  // `events` in place like append_group_async, except journal_id, which neither they nor the
  // journal's copy get: read_recent() and read() fill it in (Intake::CopyLean).
  static AppendTicket append_group_unchecked(Journal& journal, std::vector<Event>& events);
  // Wakes `word` (wake_all) once the batch of `ticket` is resolved, committed or failed: at once if
  // it already is, or if the ticket is a refused or empty one. For a caller asleep on a word of its
  // own while another thread appended for it (a TaskQueue's enqueue waiting for room).
  static void wake_when_resolved(const AppendTicket& ticket, std::shared_ptr<WakeWord> word);
  // A TaskQueue opened (claim) or closed (release) queue `name` on `journal`: while claimed, raw
  // appends of its lifecycle rows are refused.
  static void claim_queue(Journal& journal, const std::string& name);
  static void release_queue(Journal& journal, const std::string& name);
  // The journal's JournalOptions::busy_timeout, for the library's other connections to its file.
  static std::chrono::milliseconds busy_timeout(const Journal& journal);
  // The thread that committed the journal's latest batch (a default id before the first): for
  // tests of who commits (docs/FORMAT.md, "Group commit").
  static std::thread::id last_commit_thread(const Journal& journal);
  // Who is at the group commit now: whether a leader is at work, and how many callers wait on
  // queued batches (each one counted has let go of the journal's mutex to sleep, or is asleep).
  // For tests that set up a commit with sleepers behind it.
  struct CommitQueue {
    bool committing = false;
    std::size_t queued_batches = 0;
    std::size_t sleepers = 0;
    std::uint64_t flusher_wakeups_sent = 0;  // by leaders that stopped with batches left for it
  };
  static CommitQueue commit_queue(const Journal& journal);
  // How many empty event vectors the journal keeps for its next batches (journal/batch_storage.hpp).
  static std::size_t batch_spares(const Journal& journal);
};

}  // namespace hugo::detail
