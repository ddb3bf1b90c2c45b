// hugo-journal compact JOURNAL --sinks SINKDB... | --force: deletes the rows of finished tasks
// below the lowest durable checkpoint the named sinks hold for this journal. A write: it takes the
// journal's writer lock (exit 4 while another process writes the journal).
#include "cli_json.hpp"
#include "cli_table.hpp"
#include "verbs.hpp"

#include <hugo/journal_admin.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace hugo::cli {
namespace {

struct Options {
  std::string journal;
  std::vector<std::string> sinks;
  bool force = false;
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
  std::string journal_id;
  std::int64_t last_seq = 0;
  {
    auto reader = open_reader(o.journal);
    if (!reader.ok()) return report("compact", reader.error());
    auto last = (*reader)->last_seq();
    if (!last.ok()) return report("compact", last.error());
    journal_id = (*reader)->journal_id();
    last_seq = *last;
  }
  std::int64_t below = last_seq + 1;
  if (!o.sinks.empty()) {
    auto lowest = lowest_checkpoint(o.sinks, journal_id);
    if (!lowest.ok()) return report("compact", lowest.error());
    below = *lowest;
  }
  Progress progress("compact");
  auto compacted = compact_journal(o.journal, below, progress.callback());
  progress.finish();
  if (!compacted.ok()) return report("compact", compacted.error());
  const CompactResult& r = *compacted;
  const auto reclaimed = static_cast<std::int64_t>(r.bytes_before) - static_cast<std::int64_t>(r.bytes_after);

  if (pick_format(o.json) == Format::Json) {
    std::string line;
    JsonObject object(line);
    object.str("path", o.journal)
        .num("belowSeq", r.below_seq)
        .num("rowsDeleted", r.rows_deleted)
        .num("tasksRemoved", r.tasks_removed)
        .num("bytesBefore", static_cast<std::int64_t>(r.bytes_before))
        .num("bytesAfter", static_cast<std::int64_t>(r.bytes_after))
        .num("bytesReclaimed", reclaimed);
    object.close();
    out_line(line);
    return kExitOk;
  }
  Table table(pick_format(false), {"field", "value"});
  table.row({"below_seq", std::to_string(r.below_seq)});
  table.row({"rows_deleted", std::to_string(r.rows_deleted)});
  table.row({"tasks_removed", std::to_string(r.tasks_removed)});
  table.row({"bytes_before", std::to_string(r.bytes_before)});
  table.row({"bytes_after", std::to_string(r.bytes_after)});
  table.row({"bytes_reclaimed", std::to_string(reclaimed)});
  table.finish();
  return kExitOk;
}

}  // namespace

void add_compact(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("compact", "Deletes the rows of finished tasks below the lowest durable "
                                                "checkpoint of the named sinks, then vacuums. Live tasks and dead "
                                                "letters stay whole; seqs are never reused. Takes the writer lock.");
  cmd->add_option("JOURNAL", o->journal, "the journal file")->required();
  cmd->add_option("--sinks", o->sinks, "sink databases whose checkpoints bound what may go")->expected(1, -1);
  cmd->add_flag("--force", o->force, "without --sinks: compact every finished task (below last seq + 1)");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal compact --sinks projection.db audit.db orders.journal\n"
              "Rows at or above any named sink's checkpoint for this journal are never deleted.");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
