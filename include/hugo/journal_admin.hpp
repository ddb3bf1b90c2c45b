// Journal administration: rebuild a journal from exported events (import) and drop finished
// tasks' rows (compaction). Both open the journal file themselves; the `hugo-journal` import and
// compact verbs use these. ProgressFn comes from <hugo/verify.hpp>.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace hugo {

struct ImportOptions {
  // An event that is not a valid transition of its queue after the events before it: false
  // refuses it (codec.invalid, metadata seq, rule); true leaves it out and lists it in skipped().
  bool skip_invalid = false;
  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout;  // SQLite lock wait before journal.busy
};

// Rebuilds a journal from events (typically `hugo-journal export` NDJSON) into a new file,
// keeping every seq, the journal id (from the first event's journalId, else a new one) and every
// field, so export -> import -> export is byte-identical. Seqs must be strictly increasing, and
// each queue's events must form a valid history (the fold TaskQueue::open runs; docs/QUEUE.md).
// The file is built beside `journal` and renamed there by finish(), so `journal` never holds
// part of an import: an importer dropped or killed before finish() leaves no file at `journal`
// (docs/FORMAT.md, "New files").
class HUGO_API JournalImporter {
 public:
  // Fails with error.validation if `journal` already exists.
  static Result<std::unique_ptr<JournalImporter>> create(const std::filesystem::path& journal,
                                                         ImportOptions options = {});
  ~JournalImporter();  // without a successful finish(), removes what it built
  // Buffered; committed in large transactions. codec.invalid (metadata seq, field) for an event
  // that cannot follow the ones before it: a seq not above the previous one, another journal's id,
  // a row that could not be appended, or (metadata rule) a transition its queue cannot take,
  // including one naming a Hugo task id no earlier Enqueued event of its queue started (Hugo task
  // ids are mapped to the journal's: docs/MIGRATION.md, "Hugo task ids").
  Status add(const Event& event);
  // The events add() left out under ImportOptions::skip_invalid, in seq order.
  const std::vector<SkippedRow>& skipped() const;
  // Commits the rest and renames the file into place; returns the number of events imported.
  // error.validation if `journal` was created by someone else meanwhile (it is left as it is).
  Result<std::int64_t> finish();

  struct Impl;

 private:
  explicit JournalImporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct CompactResult {
  std::int64_t below_seq = 0;      // rows at or above this seq were not touched
  std::int64_t rows_deleted = 0;
  std::int64_t tasks_removed = 0;
  std::uint64_t bytes_before = 0;  // database + WAL
  std::uint64_t bytes_after = 0;
};

// Deletes every row of the tasks that finished (Completed, Drained or Canceled) with all their rows
// below `below_seq`, except the task that holds the newest row (so the highest seq ever issued
// stays in the file, and in any export of it) and a keyed task (TaskQueue::enqueue_keyed) that
// finished less than `key_retention` before the newest row's time, whose key must still
// de-duplicate after a reopen (pass the queues' TaskQueueOptions::key_retention, at least), then vacuums. Live tasks and dead letters are kept whole, so a queue reopened
// afterwards rebuilds exactly the same state; seqs are never reused (AUTOINCREMENT). Takes the
// writer lock (journal.locked if a writer is live); another connection's SQLite lock held past
// `busy_timeout` is journal.busy.
HUGO_API Result<CompactResult> compact_journal(const std::filesystem::path& journal, std::int64_t below_seq,
                                               ProgressFn progress = {},
                                               std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout,
                                               Duration key_retention = kDefaultKeyRetention);

}  // namespace hugo
