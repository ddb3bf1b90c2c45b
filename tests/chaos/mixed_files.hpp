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

// The application table the child's transactions write a row of with each task they enqueue.
inline constexpr const char* kOrdersTable = "CREATE TABLE IF NOT EXISTS chaos_orders (payload TEXT PRIMARY KEY)";

// The queue as both sides open it; the child adds the short lease and the sweeper.
inline TaskQueueOptions mixed_queue_options() {
  TaskQueueOptions options;
  options.name = "chaos";
  options.max_delivery_attempts = 3;
  options.capacity = 1'000'000;
  options.run_sweeper = false;
  // Retries back off exponentially with jitter (1-8 ms): the drawn delays are journaled, and the
  // history check fails any lease before them.
  options.retry = RetryPolicy{RetryPolicy::Backoff::Exponential, std::chrono::milliseconds(2), 2.0,
                              std::chrono::milliseconds(8), 0.5, 0};
  // Keyed enqueues draw from a few keys: a short retention lets a finished key be taken again.
  options.key_retention = std::chrono::milliseconds(20);
  return options;
}

}  // namespace hugo::chaos
