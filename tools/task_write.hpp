// The write verbs that act on tasks by id (requeue, cancel): each TASK's queue is found read-only
// first (Journal::open would create a missing journal), then the journal is opened for writing,
// which takes its writer lock (exit 4 while another process writes it), and each queue once,
// without a sweeper. Public API only.
#pragma once

#include "cli_common.hpp"

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hugo::cli {

struct TaskWrite {
  std::map<std::int64_t, std::string> queue_of;  // task -> queue, from the row that started the task
  std::shared_ptr<Journal> journal;
  std::map<std::string, std::unique_ptr<TaskQueue>> queues;  // one per queue named by queue_of

  // Resolves `tasks` in `path` and opens what the verb writes. Returns kExitOk, or the exit code
  // after printing the error (a task no row started is a usage error, with `hint`).
  int open(std::string_view verb, const std::string& path, const std::vector<std::int64_t>& tasks, std::string_view hint) {
    {
      auto reader = open_reader(path);
      if (!reader.ok()) return report(verb, reader.error());
      for (const std::int64_t task : tasks) {
        auto rows = task > 0 ? (*reader)->read(task - 1, 1) : Result<std::vector<Event>>(std::vector<Event>{});
        if (!rows.ok()) return report(verb, rows.error());
        if (rows->empty() || rows->front().seq != task || rows->front().task_id != task) {
          return usage_error(verb, "task " + std::to_string(task) + " is not in " + path, hint);
        }
        queue_of[task] = rows->front().queue;
      }
    }
    auto opened = Journal::open(path, {});
    if (!opened.ok()) return report(verb, opened.error());
    journal = std::shared_ptr<Journal>(std::move(opened).value().release());
    for (const auto& [task, name] : queue_of) {
      if (queues.contains(name)) continue;
      TaskQueueOptions options;
      options.name = name;
      options.run_sweeper = false;
      auto queue = TaskQueue::open(journal, options);
      if (!queue.ok()) return report(verb, queue.error());
      queues.emplace(name, std::move(queue).value());
    }
    return kExitOk;
  }

  // Closes the queues and the journal (whose close makes every row durable).
  int close(std::string_view verb) {
    for (auto& [name, queue] : queues) (void)queue->close();
    queues.clear();
    Status closed = journal->close();
    if (!closed.ok()) return report(verb, closed.error());
    return kExitOk;
  }
};

}  // namespace hugo::cli
