// The requeue verb's check that every TASK is a dead letter of its queue (public API only).
#pragma once

#include <hugo/task_queue.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

namespace hugo::cli {

// The first task of `queue_of` (task -> queue name) that is not a dead letter of its queue in
// `queues`, or nullopt when all are. Reads each queue's dead letters once, so the check is
// linear in tasks plus dead letters (not one dead_letters() call per task).
inline std::optional<std::int64_t> first_not_dead(const std::map<std::int64_t, std::string>& queue_of,
                                                  const std::map<std::string, std::unique_ptr<TaskQueue>>& queues) {
  std::map<std::string, std::unordered_set<std::int64_t>> dead_of;
  for (const auto& [name, queue] : queues) {
    auto& ids = dead_of[name];
    for (const DeadLetter& d : queue->dead_letters()) ids.insert(d.task_id);
  }
  for (const auto& [task, name] : queue_of) {
    if (!dead_of[name].contains(task)) return task;
  }
  return std::nullopt;
}

}  // namespace hugo::cli
