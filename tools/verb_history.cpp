// hugo-journal history JOURNAL TASK: every event of one task, in seq order: its audit trail.
#include "event_text.hpp"
#include "verbs.hpp"

#include <hugo/replication.hpp>

#include <memory>

namespace hugo::cli {
namespace {

struct Options {
  std::string journal;
  std::int64_t task = 0;
  bool json = false;
};

int run(const Options& o) {
  if (o.task < 1) return usage_error("history", "TASK must be >= 1", "a task id is the seq of its Enqueued row");
  std::int64_t end = 0;
  {
    auto reader = open_reader(o.journal);
    if (!reader.ok()) return report("history", reader.error());
    auto last = (*reader)->last_seq();
    if (!last.ok()) return report("history", last.error());
    end = *last;
  }
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
  const Format format = pick_format(o.json);
  if (format == Format::Json) {
    std::string buffer;
    for (const Event& e : events) append_event_json(e, buffer);
    out(buffer);
    return kExitOk;
  }
  Table table(format, event_header());
  for (const Event& e : events) table.row(event_cells(e));
  table.finish();
  return kExitOk;
}

}  // namespace

void add_history(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("history", "Every event of one task, in order: its audit trail.");
  cmd->add_option("JOURNAL", o->journal, "the journal file")->required();
  cmd->add_option("TASK", o->task, "the task id (the seq of its Enqueued row)")->required();
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal history orders.journal 1207");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
