// What the mixed chaos scenario's child and parent agree on: file names, stream ids, queue options.
#pragma once

#include <hugo/task_queue.hpp>

#include <string_view>

namespace hugo::chaos {

namespace mixed_files {
inline constexpr std::string_view journal = "journal.db";
inline constexpr std::string_view acks = "acks.log";
inline constexpr std::string_view tx_sink = "tx.db";
inline constexpr std::string_view coord_sink = "coord.db";
inline constexpr std::string_view effects = "effects.db";
inline constexpr std::string_view run_log = "runs.log";
inline constexpr std::string_view tx_stream = "chaos-tx";
inline constexpr std::string_view coord_stream = "chaos-coordinated";
}  // namespace mixed_files

// The queue as both sides open it; the child adds the short lease and the sweeper.
inline TaskQueueOptions mixed_queue_options() {
  TaskQueueOptions options;
  options.name = "chaos";
  options.max_delivery_attempts = 3;
  options.capacity = 1'000'000;
  options.run_sweeper = false;
  return options;
}

}  // namespace hugo::chaos
