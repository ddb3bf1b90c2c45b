// The read side of journal maintenance: the live state of every queue (a projection of the
// committed rows) and verification of a journal file. Read-only: nothing here takes the writer
// lock, so every function is safe beside a live writer. The `hugo-journal` read verbs use these.
#pragma once

#include <hugo/durability.hpp>
#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/task_queue.hpp>

#include <cstdint>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hugo {

// Progress of a long operation: (units done, units total).
using ProgressFn = std::function<void(std::int64_t done, std::int64_t total)>;

// The live state of every queue in the journal (read-only fold of the committed rows). A row
// that is not a valid transition fails it with journal.corrupt (Strict), or is left out and
// listed in its queue's QueueSnapshot::skipped (SkipInvalid), as TaskQueueOptions::recovery.
HUGO_API Result<std::map<std::string, QueueSnapshot>> project_journal(const std::filesystem::path& journal,
                                                                      RecoveryMode mode = RecoveryMode::Strict,
                                                                      std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

struct VerifyViolation {
  std::int64_t seq = 0;  // the offending row (0 for file-level findings)
  std::string check;     // integrity, sequence, decode, state_machine, payload, task_identity
  std::string message;
};

// Rows that could not be read: every seq above `after_seq` and below `next_seq` (a damaged page
// of the events table). `next_seq` is 0 when no row after the damage could be read.
struct VerifyDamage {
  std::int64_t after_seq = 0;  // the last seq read before the damage (0: none)
  std::int64_t next_seq = 0;   // the first seq read after it
};

struct VerifyReport {
  std::int64_t rows = 0;       // rows read (a damaged range's rows are not counted)
  std::int64_t last_seq = 0;   // the highest seq ever issued
  std::int64_t last_good_seq = 0;  // the last seq read before the first damaged range (else the last read)
  std::vector<VerifyDamage> damaged;  // also reported as `integrity` violations
  std::vector<VerifyViolation> violations;
  bool ok() const { return violations.empty(); }
};

// Checks the file (PRAGMA integrity_check) and the journal invariants: seqs strictly increasing
// and never above the recorded maximum, every row decodable (kind, names, error JSON, JSON
// payloads), a valid state-machine transition for every row of every queue (which covers
// fencing: a token must name the task's live lease and attempt), and a payload on every row that
// starts a task, and one task per task id (task_identity: a Restored row that keeps the id of a
// task that completed, of another queue's task, or an id no row started; docs/QUEUE.md).
// Violations are collected, not fatal; the Error is for an unreadable file. A damaged page does
// not end the scan: the rows past it are read and checked, and the report names the unreadable
// range and the last good seq.
// `busy_timeout` (here and in project_journal): how long its connection waits for another
// connection's lock before journal.busy.
HUGO_API Result<VerifyReport> verify_journal(const std::filesystem::path& journal, ProgressFn progress = {},
                                             std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

}  // namespace hugo
