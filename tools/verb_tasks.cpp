// hugo-journal tasks JOURNAL: the live projection of every queue, one row per task. A queue
// whose history holds rows that are not valid transitions is shown without them, with a warning.
#include "output.hpp"
#include "queue_problem.hpp"
#include "verbs.hpp"

#include <hugo/verify.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_tasks {

struct Options {
  std::string journal;
  std::string state;
  std::string queue;
  bool json = false;
};

// One task of the projection, whatever its state.
struct TaskRow {
  std::string queue;
  std::int64_t task = 0;
  std::string state;
  std::int32_t attempt = 1;
  std::optional<std::string> owner;
  std::optional<std::int64_t> lease;
  std::optional<Timestamp> granted_at, expires_at, enqueued_at, available_at, dead_lettered_at;
  std::optional<Error> error;
  std::optional<std::int64_t> priority;  // pending and scheduled tasks
  std::optional<std::string> key;        // its idempotency key (pending, scheduled and leased tasks)
};

// `now`: the system clock's, which tells a scheduled task (pending, not leasable before its
// available_at) from a pending one that a lease could take now.
std::vector<TaskRow> rows_of(const QueueSnapshot& s, Timestamp now) {
  std::vector<TaskRow> rows;
  for (const auto& p : s.pending) {
    rows.push_back({s.queue, p.task_id, p.available_at > now ? "scheduled" : "pending", p.attempt, {}, {}, {}, {},
                    p.enqueued_at, p.available_at, {}, p.last_error, p.priority, p.key});
  }
  for (const auto& l : s.leased) {
    rows.push_back({s.queue, l.token.task_id, "leased", l.token.attempt, l.owner, l.token.lease_id, l.granted_at,
                    l.expires_at, l.enqueued_at, {}, {}, l.last_error, {}, l.key});
  }
  for (const auto& d : s.dead) {
    rows.push_back({s.queue, d.task_id, "dead", d.attempt, {}, {}, {}, {}, d.enqueued_at, {}, d.dead_lettered_at,
                    d.error, {}, {}});
  }
  return rows;
}

std::string time_cell(const std::optional<Timestamp>& t) { return t ? iso(*t) : std::string(); }

int run(const Options& o) {
  if (Status readable = check_journal(o.journal); !readable.ok()) return report("tasks", readable.error());
  auto queues = project_journal(o.journal, RecoveryMode::SkipInvalid);
  if (!queues.ok()) return report("tasks", queues.error());
  for (const auto& [name, snapshot] : *queues) {
    if (o.queue.empty() || name == o.queue) warn_queue_problem("tasks", snapshot);
  }
  Output output(o.json, {"queue", "task", "state", "attempt", "owner", "lease", "expires_at", "available_at",
                         "enqueued_at", "last_error"});
  const Timestamp now = SystemClock().now();
  for (const auto& [name, snapshot] : *queues) {
    if (!o.queue.empty() && name != o.queue) continue;
    for (const TaskRow& r : rows_of(snapshot, now)) {
      if (!o.state.empty() && r.state != o.state) continue;
      output.row(
          [&] {
            return std::vector<std::string>{r.queue, std::to_string(r.task), r.state, std::to_string(r.attempt),
                                            r.owner.value_or(""), r.lease ? std::to_string(*r.lease) : "",
                                            time_cell(r.expires_at), time_cell(r.available_at),
                                            time_cell(r.enqueued_at), error_text(r.error)};
          },
          [&](JsonObject& object) {
            object.str("queue", r.queue)
                .num("task", r.task)
                .str("state", r.state)
                .num("attempt", r.attempt)
                .opt_num("priority", r.priority)
                .opt_str("key", r.key)
                .opt_str("owner", r.owner)
                .opt_num("leaseId", r.lease)
                .time("grantedAt", r.granted_at)
                .time("leaseExpiresAt", r.expires_at)
                .time("enqueuedAt", r.enqueued_at)
                .time("availableAt", r.available_at)
                .time("deadLetteredAt", r.dead_lettered_at)
                .error("lastError", r.error);
          });
    }
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_tasks

void add_tasks(CLI::App& app, Verbs& verbs) {
  using namespace verb_tasks;
  auto [cmd, o] = add_verb(app, verbs, run, "tasks",
                           "The live state of every task still in a queue: pending (leasable now), "
                           "scheduled (pending, not leasable before available_at), leased (owner, lease "
                           "expiry) or dead, with attempt and last error.");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--state", o->state, "only tasks in this state")->check(CLI::IsMember({"pending", "scheduled", "leased", "dead"}));
  cmd->add_option("--queue", o->queue, "only tasks of this queue");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal tasks --state leased orders.journal");
}

}  // namespace hugo::cli
