// hugo-journal requeue JOURNAL TASK...: puts dead letters back at the tail of their queue.
// A write: it takes the journal's writer lock (exit 4 while another process writes the journal).
#include "dead_letter_check.hpp"
#include "output.hpp"
#include "task_write.hpp"
#include "verbs.hpp"

namespace hugo::cli {
namespace verb_requeue {

struct Options {
  std::string journal;
  std::vector<std::int64_t> tasks;
  bool json = false;
};

int run(const Options& o) {
  TaskWrite write;
  if (const int opened = write.open("requeue", o.journal, o.tasks, "list the dead letters with `hugo-journal dead-letters`");
      opened != kExitOk) {
    return opened;
  }
  if (const auto task = first_not_dead(write.queue_of, write.queues)) {
    return usage_error("requeue",
                       "task " + std::to_string(*task) + " of queue '" + write.queue_of.at(*task) + "' is not a dead letter",
                       "nothing was requeued; list the dead letters with `hugo-journal dead-letters`");
  }
  Output output(o.json, {"task", "queue", "result"});
  for (const auto& [task, name] : write.queue_of) {
    Status requeued = write.queues.at(name)->requeue_dead_letter(task);
    if (!requeued.ok()) {
      output.finish();
      return report("requeue", requeued.error());
    }
    output.row([&] { return std::vector<std::string>{std::to_string(task), name, "requeued"}; },
               [&](JsonObject& object) { object.num("task", task).str("queue", name).boolean("requeued", true); });
  }
  output.finish();
  return write.close("requeue");
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
