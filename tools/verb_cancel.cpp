// hugo-journal cancel JOURNAL TASK...: cancels pending, scheduled or leased tasks for good.
// A write: it takes the journal's writer lock (exit 4 while another process writes the journal).
#include "output.hpp"
#include "task_write.hpp"
#include "verbs.hpp"

#include <optional>
#include <set>

namespace hugo::cli {
namespace verb_cancel {

struct Options {
  std::string journal;
  std::vector<std::int64_t> tasks;
  std::string reason;
  bool json = false;
};

// The first TASK that is neither pending nor leased in its queue, or nullopt when all are: then
// every cancel can succeed (no other writer can change the queues while the lock is held).
std::optional<std::int64_t> first_not_live(const TaskWrite& write) {
  std::map<std::string, std::set<std::int64_t>> live_of;
  for (const auto& [name, queue] : write.queues) {
    const QueueSnapshot snapshot = queue->snapshot();
    auto& ids = live_of[name];
    for (const auto& p : snapshot.pending) ids.insert(p.task_id);
    for (const auto& l : snapshot.leased) ids.insert(l.token.task_id);
  }
  for (const auto& [task, name] : write.queue_of) {
    if (!live_of[name].contains(task)) return task;
  }
  return std::nullopt;
}

int run(const Options& o) {
  const std::string hint = "list the live tasks with `hugo-journal tasks`";
  TaskWrite write;
  if (const int opened = write.open("cancel", o.journal, o.tasks, hint); opened != kExitOk) return opened;
  if (const auto task = first_not_live(write)) {
    return usage_error("cancel",
                       "task " + std::to_string(*task) + " of queue '" + write.queue_of.at(*task) +
                           "' is not pending or leased (finished, drained or dead-lettered)",
                       "nothing was canceled; " + hint);
  }
  Output output(o.json, {"task", "queue", "was"});
  for (const auto& [task, name] : write.queue_of) {
    auto canceled = write.queues.at(name)->cancel(task, o.reason);
    if (!canceled.ok()) {
      output.finish();
      return report("cancel", canceled.error());
    }
    const std::string was = *canceled == CancelOutcome::WasLeased ? "leased" : "pending";
    output.row([&] { return std::vector<std::string>{std::to_string(task), name, was}; },
               [&](JsonObject& object) { object.num("task", task).str("queue", name).boolean("canceled", true).str("was", was); });
  }
  output.finish();
  return write.close("cancel");
}

}  // namespace verb_cancel

void add_cancel(CLI::App& app, Verbs& verbs) {
  using namespace verb_cancel;
  auto [cmd, o] = add_verb(app, verbs, run, "cancel",
                           "Cancels pending, scheduled or leased tasks for good (one Canceled row each; a "
                           "lease is fenced). Takes the writer lock.");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("TASK", o->tasks, "task ids of pending or leased tasks")->required()->expected(1, -1);
  cmd->add_option("--reason", o->reason, "why, journaled as each row's error (code error.canceled)");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal cancel --reason 'order withdrawn' orders.journal 17 42\n"
              "Every TASK must be pending or leased, or nothing is canceled (exit 2). A worker holding a "
              "canceled lease gets error.taskqueue.lease_inactive from its next heartbeat or complete.");
}

}  // namespace hugo::cli
