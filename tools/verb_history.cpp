// hugo-journal history JOURNAL TASK: every event of one task, in seq order: its audit trail.
#include "event_text.hpp"
#include "verbs.hpp"

#include <hugo/replication.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_history {

struct Options {
  std::string journal;
  std::int64_t task = 0;
  bool json = false;
};

int run(const Options& o) {
  if (o.task < 1) return usage_error("history", "TASK must be >= 1", "a task id is the seq of its Enqueued row");
  auto last = journal_end(o.journal);
  if (!last.ok()) return report("history", last.error());
  const std::int64_t end = last->last_seq;
  // A task's rows all come at or after its id (the seq of the row that started it).
  ReplicationSourceOptions options;
  options.batch_size = 4096;
  auto source = TaskQueueReplicationSource::open(o.journal, o.task - 1, options);
  if (!source.ok()) return report("history", source.error());

  std::vector<Event> events;
  while ((*source)->position() < end) {
    auto batch = (*source)->next(4096);
    if (!batch.ok()) return report("history", batch.error());
    if (batch->empty()) break;
    for (Event& e : *batch) {
      if (e.seq > end) break;
      if (e.task_id == o.task) events.push_back(std::move(e));
    }
  }
  if (events.empty()) {
    return usage_error("history", "no events for task " + std::to_string(o.task) + " in " + o.journal,
                       "a task id is the seq of its Enqueued row; a finished task may have been compacted");
  }
  Output output(o.json, event_header());
  for (const Event& e : events) event_row(output, e);
  output.finish();
  return kExitOk;
}

}  // namespace verb_history

void add_history(CLI::App& app, Verbs& verbs) {
  using namespace verb_history;
  auto [cmd, o] = add_verb(app, verbs, run, "history",
                           "Every event of one task, in order: its audit trail.");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("TASK", o->task, "the task id (the seq of its Enqueued row)")->required();
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal history orders.journal 1207");
}

}  // namespace hugo::cli
