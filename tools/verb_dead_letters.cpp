// hugo-journal dead-letters JOURNAL: the tasks that left their queue for good.
#include "event_text.hpp"
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/verify.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_dead_letters {

struct Options {
  std::string journal;
  std::string queue;
  bool json = false;
};

int run(const Options& o) {
  if (Status readable = check_journal(o.journal); !readable.ok()) return report("dead-letters", readable.error());
  auto queues = project_journal(o.journal);
  if (!queues.ok()) return report("dead-letters", queues.error());
  Output output(o.json, {"queue", "task", "seq", "attempt", "enqueued_at", "dead_lettered_at", "error", "payload"});
  for (const auto& [name, snapshot] : *queues) {
    if (!o.queue.empty() && name != o.queue) continue;
    for (const DeadLetter& d : snapshot.dead) {
      output.row(
          [&] {
            return std::vector<std::string>{name, std::to_string(d.task_id), std::to_string(d.seq),
                                            std::to_string(d.attempt), iso(d.enqueued_at), iso(d.dead_lettered_at),
                                            error_text(d.error), payload_text(d.payload, d.payload_format)};
          },
          [&](JsonObject& object) {
            const bool json_payload = d.payload_format == PayloadFormat::Json;
            object.str("queue", name)
                .num("task", d.task_id)
                .num("seq", d.seq)
                .num("attempt", d.attempt)
                .time("enqueuedAt", d.enqueued_at)
                .time("deadLetteredAt", d.dead_lettered_at)
                .error("error", d.error)
                .opt_str("lastToken",
                         d.last_token ? std::optional<std::string>(d.last_token->to_string()) : std::nullopt)
                .str("payloadFormat", json_payload ? "json" : "bytes")
                .str("payload", json_payload ? d.payload : base64_encode(d.payload));
          });
    }
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_dead_letters

void add_dead_letters(CLI::App& app, Verbs& verbs) {
  using namespace verb_dead_letters;
  auto [cmd, o] = add_verb(app, verbs, run, "dead-letters",
                           "The dead-lettered tasks of every queue, with their last "
                           "error and payload. Requeue them with `requeue`.");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--queue", o->queue, "only dead letters of this queue");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal dead-letters orders.journal\n  hugo-journal requeue orders.journal 17 42");
}

}  // namespace hugo::cli
