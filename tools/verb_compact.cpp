// hugo-journal compact JOURNAL --sinks SINKDB... | --force: deletes the rows of finished tasks
// below the lowest durable checkpoint the named sinks hold for this journal. A write: it takes the
// journal's writer lock (exit 4 while another process writes the journal).
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/journal_admin.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace hugo::cli {
namespace verb_compact {

struct Options {
  std::string journal;
  std::vector<std::string> sinks;
  bool force = false;
  // Keyed tasks that finished less than this before the newest row stay (docs/QUEUE.md).
  std::int64_t key_retention_s = std::chrono::duration_cast<std::chrono::seconds>(kDefaultKeyRetention).count();
  bool json = false;
};

// The lowest position any stream of the named sink databases holds for `journal_id`; 0 for a
// sink database that holds none (it has not read this journal yet, so nothing may go).
Result<std::int64_t> lowest_checkpoint(const std::vector<std::string>& sinks, const std::string& journal_id) {
  std::optional<std::int64_t> lowest;
  for (const std::string& sink : sinks) {
    HUGO_ASSIGN_OR_RETURN(auto checkpoints, read_checkpoints(sink));
    bool found = false;
    for (const auto& c : checkpoints) {
      if (c.journal_id() != journal_id) continue;
      found = true;
      lowest = std::min(lowest.value_or(c.global_position()), c.global_position());
    }
    if (!found) {
      std::fprintf(stderr, "hugo-journal: compact: %s has no checkpoint for journal %s (keeping every row)\n",
                   sink.c_str(), journal_id.c_str());
      lowest = 0;
    }
  }
  return lowest.value_or(0);
}

int run(const Options& o) {
  if (o.sinks.empty() && !o.force) {
    return usage_error("compact", "compact needs the sinks that read this journal",
                       "name them with --sinks SINKDB..., or pass --force to compact every finished task");
  }
  auto last = journal_end(o.journal);
  if (!last.ok()) return report("compact", last.error());
  std::int64_t below = last->last_seq + 1;
  if (!o.sinks.empty()) {
    auto lowest = lowest_checkpoint(o.sinks, last->journal_id);
    if (!lowest.ok()) return report("compact", lowest.error());
    below = *lowest;
  }
  Progress progress("compact");
  auto compacted = compact_journal(o.journal, below, progress.callback(), kDefaultBusyTimeout,
                                   std::chrono::seconds(o.key_retention_s));
  progress.finish();
  if (!compacted.ok()) return report("compact", compacted.error());
  const CompactResult& r = *compacted;
  const auto reclaimed = static_cast<std::int64_t>(r.bytes_before) - static_cast<std::int64_t>(r.bytes_after);

  Output output(o.json, {"field", "value"});
  if (output.json()) {
    output.object([&](JsonObject& object) {
      object.str("path", o.journal)
          .num("belowSeq", r.below_seq)
          .num("rowsDeleted", r.rows_deleted)
          .num("tasksRemoved", r.tasks_removed)
          .num("bytesBefore", static_cast<std::int64_t>(r.bytes_before))
          .num("bytesAfter", static_cast<std::int64_t>(r.bytes_after))
          .num("bytesReclaimed", reclaimed);
    });
  } else {
    output.cells({"below_seq", std::to_string(r.below_seq)});
    output.cells({"rows_deleted", std::to_string(r.rows_deleted)});
    output.cells({"tasks_removed", std::to_string(r.tasks_removed)});
    output.cells({"bytes_before", std::to_string(r.bytes_before)});
    output.cells({"bytes_after", std::to_string(r.bytes_after)});
    output.cells({"bytes_reclaimed", std::to_string(reclaimed)});
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_compact

void add_compact(CLI::App& app, Verbs& verbs) {
  using namespace verb_compact;
  auto [cmd, o] = add_verb(app, verbs, run, "compact",
                           "Deletes the rows of finished tasks below the lowest durable "
                           "checkpoint of the named sinks, then vacuums. Live tasks and dead "
                           "letters stay whole; seqs are never reused. Takes the writer lock.");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--sinks", o->sinks, "sink databases whose checkpoints bound what may go")->expected(1, -1);
  cmd->add_flag("--force", o->force, "without --sinks: compact every finished task (below last seq + 1)");
  cmd->add_option("--key-retention", o->key_retention_s,
                  "seconds: a keyed task that finished less than this before the newest row stays, so its "
                  "idempotency key still de-duplicates (default 86400, TaskQueueOptions::key_retention's default)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{31'556'952'000}));
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal compact --sinks projection.db audit.db orders.journal\n"
              "Rows at or above any named sink's checkpoint for this journal are never deleted.");
}

}  // namespace hugo::cli
