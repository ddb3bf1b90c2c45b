// Rebuilds a QueueState from a journal file: the recovery half of "the queue is a projection".
#pragma once

#include "journal/queue_state.hpp"

#include <hugo/error.hpp>

#include <filesystem>
#include <string>

namespace hugo::detail {

// Applies every committed row of `queue` in seq order to `state`, reading only the integer
// columns, then reads the payload and last error of the tasks still live (and dead letters).
// Reads in bounded batches, each its own short read transaction. Memory: live tasks only.
Status load_queue(const std::filesystem::path& journal_path, const std::string& queue, QueueState& state);

}  // namespace hugo::detail
