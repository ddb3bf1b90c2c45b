// QueueGuard: keeps the raw append path from storing a queue history that no queue could open
// (docs/QUEUE.md, "Raw appends").
//
// Journal::append, append_async and append_group_async hand every group that carries a
// queue-lifecycle row (any kind but Enqueued, or an Enqueued that names a task other than its own
// seq) to admit() before the group is accepted. The guard keeps one QueueState per queue, without
// payloads or errors, folded from the journal's own rows in seq order. It is built lazily: until
// the first such group nothing is folded, and rows that bypass it (a TaskQueue's, which checks
// its own transitions, and plain Enqueued appends) are folded only when the next checked group
// arrives. A stored row that is not a valid transition is skipped, as RecoveryMode::SkipInvalid
// skips it, so the guard agrees with what a queue opened in that mode sees.
//
// JournalImporter uses the same fold to check an imported history. Not thread-safe: the Journal
// calls it under its append serialization.
#pragma once

#include "journal/queue_state.hpp"

#include <hugo/error.hpp>
#include <hugo/event.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

namespace hugo::detail {

class QueueGuard {
 public:
  // True if a group that the journal has filled (seqs, task ids) must go through admit().
  static bool needs_check(const Event* events, std::size_t count);
  // True if it may, judged before the journal fills it: lets plain Enqueued groups skip the guard
  // entirely (a keyed Enqueued is checked: one live task per key).
  static bool may_need_check(const Event* events, std::size_t count);

  // The highest seq folded so far (0: nothing yet).
  std::int64_t folded_through() const { return folded_; }
  // Folds one row stored or accepted before the next checked group; rows at or below
  // folded_through() are ignored, and rows that are not valid transitions are skipped.
  void fold(const Event& row);

  // Folds `row` (seq above folded_through()) if it is a valid transition and returns nothing;
  // else returns the broken rule and leaves the fold as it was.
  std::optional<std::string> try_fold(const Event& row);

  // Checks `events` (filled, with seqs above folded_through()) in order and folds them. Refuses
  // with error.validation naming the event, its queue and the broken rule (metadata queue, task,
  // kind, rule, index); after a refusal the fold is as before, or empty (rebuilt from the rows by
  // the next check) if part of a group had been folded.
  Status admit(const Event* events, std::size_t count);

  // Queues that a TaskQueue of this process has open on this journal: admit() refuses their
  // lifecycle rows, which would bypass the open queue's memory.
  void claim(const std::string& queue) { claimed_.insert(queue); }
  void release(const std::string& queue) { claimed_.erase(queue); }

 private:
  static RowFacts facts(const Event& row);

  std::unordered_map<std::string, QueueState> queues_;
  std::set<std::string> claimed_;
  std::int64_t folded_ = 0;
};

}  // namespace hugo::detail
