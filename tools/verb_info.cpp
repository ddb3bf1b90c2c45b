// hugo-journal info JOURNAL: identity, extent, size, durability and per-queue counts. A queue
// problem (rows that are not valid transitions, or rows the fold cannot read) is shown beside
// the rest, never instead of it.
#include "cli_json.hpp"
#include "cli_table.hpp"
#include "queue_problem.hpp"
#include "verbs.hpp"

#include <hugo/verify.hpp>

#include <memory>

namespace hugo::cli {
namespace {

struct Options {
  std::string journal;
  bool json = false;
};

int run(const Options& o) {
  auto reader = open_reader(o.journal);
  if (!reader.ok()) return report("info", reader.error());
  auto info = (*reader)->info();
  if (!info.ok()) return report("info", info.error());
  reader->reset();
  auto projected = project_journal(o.journal, RecoveryMode::SkipInvalid);
  // The journal's own facts are shown whatever the queues' state: `problem` says why none are.
  const std::map<std::string, QueueSnapshot> none;
  const auto* queues = projected.ok() ? &*projected : &none;
  const std::optional<std::string> problem =
      projected.ok() ? std::nullopt : std::optional<std::string>(projected.error().code() + ": " + projected.error().message());
  const std::uint64_t file = file_bytes(o.journal);
  const std::uint64_t wal = file_bytes(wal_of(o.journal));

  if (pick_format(o.json) == Format::Json) {
    std::string line;
    JsonObject object(line);
    object.str("path", o.journal)
        .str("journalId", info->journal_id)
        .num("schemaVersion", info->schema_version)
        .num("firstSeq", info->first_seq)
        .num("lastSeq", info->last_seq)
        .num("rows", info->row_count)
        .num("fileBytes", static_cast<std::int64_t>(file))
        .num("walBytes", static_cast<std::int64_t>(wal))
        .str("durability", info->durability)
        .str("createdAt", info->created_at)
        .str("role", info->role)
        .num("epoch", info->epoch)
        .str("epochHistory", info->epoch_history);
    std::string list = "[";
    for (const auto& [name, snapshot] : *queues) {
      if (list.size() > 1) list += ',';
      JsonObject q(list);
      const std::string queue_problem_text = queue_problem(snapshot);
      q.str("name", name)
          .num("pending", static_cast<std::int64_t>(snapshot.pending.size()))
          .num("active", static_cast<std::int64_t>(snapshot.leased.size()))
          .num("dead", static_cast<std::int64_t>(snapshot.dead.size()))
          .num("skippedRows", static_cast<std::int64_t>(snapshot.skipped.size()))
          .opt_str("problem", queue_problem_text.empty() ? std::nullopt : std::optional<std::string>(queue_problem_text));
      q.close();
    }
    list += ']';
    object.raw("queues", list);
    object.opt_str("queuesProblem", problem);
    object.close();
    out_line(line);
    return kExitOk;
  }

  Table table(pick_format(false), {"field", "value"});
  table.row({"path", o.journal});
  table.row({"journal_id", info->journal_id});
  table.row({"schema_version", std::to_string(info->schema_version)});
  table.row({"first_seq", std::to_string(info->first_seq)});
  table.row({"last_seq", std::to_string(info->last_seq)});
  table.row({"rows", std::to_string(info->row_count)});
  table.row({"file_bytes", std::to_string(file)});
  table.row({"wal_bytes", std::to_string(wal)});
  table.row({"durability", info->durability});
  table.row({"created_at", info->created_at});
  table.row({"role", info->role});
  table.row({"epoch", std::to_string(info->epoch)});
  table.row({"epoch_history", info->epoch_history});
  if (problem) table.row({"queues_problem", *problem});
  table.row({"queues", std::to_string(queues->size())});
  for (const auto& [name, snapshot] : *queues) {
    table.row({"queue." + name + ".pending", std::to_string(snapshot.pending.size())});
    table.row({"queue." + name + ".active", std::to_string(snapshot.leased.size())});
    table.row({"queue." + name + ".dead", std::to_string(snapshot.dead.size())});
    if (const std::string text = queue_problem(snapshot); !text.empty()) {
      table.row({"queue." + name + ".problem", text});
    }
  }
  table.finish();
  return kExitOk;
}

}  // namespace

void add_info(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("info", "Journal id, schema version, seq range, rows, file and WAL size, "
                                             "durability, and pending/active/dead counts per queue.");
  cmd->add_option("JOURNAL", o->journal, "the journal file")->required();
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal info orders.journal\n  hugo-journal info --json orders.journal | jq .lastSeq");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
