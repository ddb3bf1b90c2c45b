// Rebuilds a QueueState from a journal file: the recovery half of "the queue is a projection".
#pragma once

#include "journal/queue_state.hpp"

#include <hugo/durability.hpp>
#include <hugo/error.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace hugo::detail {

// Applies every committed row of `queue` in seq order to `state`, reading only the integer
// columns, then reads the payload and last error of the tasks still live (and dead letters).
// Reads in bounded batches, each its own short read transaction. Memory: live tasks only.
// A row that is not a valid transition fails the load (Strict) or is appended to `skipped`
// and left out (SkipInvalid). `busy_timeout` bounds its connection's wait for another
// connection's lock (journal.busy).
Status load_queue(const std::filesystem::path& journal_path, const std::string& queue, QueueState& state,
                  RecoveryMode mode = RecoveryMode::Strict, std::vector<SkippedRow>* skipped = nullptr,
                  std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

// The SkippedRow for `row`, refused by QueueState::apply with `refusal`.
SkippedRow skipped_row(const RowFacts& row, const Error& refusal);

}  // namespace hugo::detail
