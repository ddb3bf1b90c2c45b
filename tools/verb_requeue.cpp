// hugo-journal requeue JOURNAL TASK...: puts dead letters back at the tail of their queue.
// A write: it takes the journal's writer lock (exit 4 while another process writes the journal).
#include "dead_letter_check.hpp"
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/task_queue.hpp>

#include <map>
#include <memory>

namespace hugo::cli {
namespace verb_requeue {

struct Options {
  std::string journal;
  std::vector<std::int64_t> tasks;
  bool json = false;
};

int run(const Options& o) {
  // Validate the path read-only first: Journal::open would create a missing journal.
  std::map<std::int64_t, std::string> queue_of;  // task -> queue, from the row that started the task
  {
    auto reader = open_reader(o.journal);
    if (!reader.ok()) return report("requeue", reader.error());
    for (const std::int64_t task : o.tasks) {
      auto rows = task > 0 ? (*reader)->read(task - 1, 1) : Result<std::vector<Event>>(std::vector<Event>{});
      if (!rows.ok()) return report("requeue", rows.error());
      if (rows->empty() || rows->front().seq != task || rows->front().task_id != task) {
        return usage_error("requeue", "task " + std::to_string(task) + " is not in " + o.journal,
                           "list the dead letters with `hugo-journal dead-letters`");
      }
      queue_of[task] = rows->front().queue;
    }
  }
  auto opened = Journal::open(o.journal, {});
  if (!opened.ok()) return report("requeue", opened.error());
  std::shared_ptr<Journal> journal(std::move(opened).value().release());
  std::map<std::string, std::unique_ptr<TaskQueue>> queues;
  for (const auto& [task, name] : queue_of) {
    if (queues.contains(name)) continue;
    TaskQueueOptions options;
    options.name = name;
    options.run_sweeper = false;
    auto queue = TaskQueue::open(journal, options);
    if (!queue.ok()) return report("requeue", queue.error());
    queues.emplace(name, std::move(queue).value());
  }
  if (const auto task = first_not_dead(queue_of, queues)) {
    return usage_error("requeue",
                       "task " + std::to_string(*task) + " of queue '" + queue_of.at(*task) + "' is not a dead letter",
                       "nothing was requeued; list the dead letters with `hugo-journal dead-letters`");
  }
  Output output(o.json, {"task", "queue", "result"});
  for (const auto& [task, name] : queue_of) {
    Status requeued = queues.at(name)->requeue_dead_letter(task);
    if (!requeued.ok()) {
      output.finish();
      return report("requeue", requeued.error());
    }
    output.row([&] { return std::vector<std::string>{std::to_string(task), name, "requeued"}; },
               [&](JsonObject& object) { object.num("task", task).str("queue", name).boolean("requeued", true); });
  }
  for (auto& [name, queue] : queues) (void)queue->close();
  Status closed = journal->close();
  output.finish();
  if (!closed.ok()) return report("requeue", closed.error());
  return kExitOk;
}

}  // namespace verb_requeue

void add_requeue(CLI::App& app, Verbs& verbs) {
  using namespace verb_requeue;
  auto [cmd, o] = add_verb(app, verbs, run, "requeue",
                           "Puts dead-lettered tasks back at the tail of their queue (attempt "
                           "+ 1, last error kept). Takes the writer lock.");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("TASK", o->tasks, "task ids of dead letters")->required()->expected(1, -1);
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal requeue orders.journal 17 42\n"
              "Every TASK must be a dead letter, or nothing is requeued (exit 2).");
}

}  // namespace hugo::cli
