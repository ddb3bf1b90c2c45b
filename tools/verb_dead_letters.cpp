// hugo-journal dead-letters JOURNAL: the tasks that left their queue for good.
#include "cli_json.hpp"
#include "event_text.hpp"
#include "verbs.hpp"

#include <hugo/verify.hpp>

#include <memory>

namespace hugo::cli {
namespace {

struct Options {
  std::string journal;
  std::string queue;
  bool json = false;
};

int run(const Options& o) {
  if (Status readable = check_journal(o.journal); !readable.ok()) return report("dead-letters", readable.error());
  auto queues = project_journal(o.journal);
  if (!queues.ok()) return report("dead-letters", queues.error());
  const Format format = pick_format(o.json);
  std::unique_ptr<Table> table;
  if (format != Format::Json) {
    table = std::make_unique<Table>(format, std::vector<std::string>{"queue", "task", "seq", "attempt", "enqueued_at",
                                                                     "dead_lettered_at", "error", "payload"});
  }
  std::string buffer;
  for (const auto& [name, snapshot] : *queues) {
    if (!o.queue.empty() && name != o.queue) continue;
    for (const DeadLetter& d : snapshot.dead) {
      if (table) {
        table->row({name, std::to_string(d.task_id), std::to_string(d.seq), std::to_string(d.attempt),
                    iso(d.enqueued_at), iso(d.dead_lettered_at), error_text(d.error),
                    payload_text(d.payload, d.payload_format)});
        continue;
      }
      const bool json_payload = d.payload_format == PayloadFormat::Json;
      JsonObject object(buffer);
      object.str("queue", name)
          .num("task", d.task_id)
          .num("seq", d.seq)
          .num("attempt", d.attempt)
          .time("enqueuedAt", d.enqueued_at)
          .time("deadLetteredAt", d.dead_lettered_at)
          .error("error", d.error)
          .opt_str("lastToken", d.last_token ? std::optional<std::string>(d.last_token->to_string()) : std::nullopt)
          .str("payloadFormat", json_payload ? "json" : "bytes")
          .str("payload", json_payload ? d.payload : base64_encode(d.payload));
      object.close();
      buffer += '\n';
    }
  }
  if (table) table->finish();
  else out(buffer);
  return kExitOk;
}

}  // namespace

void add_dead_letters(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("dead-letters", "The dead-lettered tasks of every queue, with their last "
                                                     "error and payload. Requeue them with `requeue`.");
  cmd->add_option("JOURNAL", o->journal, "the journal file")->required();
  cmd->add_option("--queue", o->queue, "only dead letters of this queue");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal dead-letters orders.journal\n  hugo-journal requeue orders.journal 17 42");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
