// hugo-journal checkpoints SINKDB [--journal J]: where each sink stream stands in each journal.
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/checkpoint.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/sink_database.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_checkpoints {

struct Options {
  std::string sinkdb;
  std::string journal;
  bool json = false;
};

// The checkpoint store of an existing sink database, refusing files that have none.
Result<std::shared_ptr<SqliteCheckpointStore>> open_store(const std::string& path) {
  HUGO_TRY(require_file(path, "sink database"));
  SinkDatabaseOptions read_only;
  read_only.read_only = true;  // a refused file keeps every byte (no switch to WAL)
  HUGO_ASSIGN_OR_RETURN(auto db, SinkDatabase::open(path, read_only));
  HUGO_ASSIGN_OR_RETURN(auto tables, db->query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                               "name = 'hugo_checkpoints'"));
  if (tables.empty() || sql_int(tables[0][0]) == 0) {
    return Error::journal_corrupt(path + " holds no sink checkpoints (point at the database a sink keeps its checkpoints in)")
        .with("path", path);
  }
  return SqliteCheckpointStore::attach_existing(std::move(db));
}

}  // namespace verb_checkpoints

Result<std::vector<TaskQueueReplicationCheckpoint>> read_checkpoints(const std::string& sinkdb) {
  HUGO_ASSIGN_OR_RETURN(auto store, verb_checkpoints::open_store(sinkdb));
  return store->list();
}

namespace verb_checkpoints {

int run(const Options& o) {
  auto checkpoints = read_checkpoints(o.sinkdb);
  if (!checkpoints.ok()) return report("checkpoints", checkpoints.error());
  JournalEnd end;  // of --journal; no id without it
  if (!o.journal.empty()) {
    auto last = journal_end(o.journal);
    if (!last.ok()) return report("checkpoints", last.error());
    end = *std::move(last);
  }
  auto lag_of = [&](const TaskQueueReplicationCheckpoint& c) -> std::optional<std::int64_t> {
    if (end.journal_id.empty() || c.journal_id() != end.journal_id) return std::nullopt;
    return end.last_seq - c.global_position();
  };

  Output output(o.json, {"stream", "journal_id", "position", "lag", "updated_at", "peers"});
  for (const auto& c : *checkpoints) {
    output.row(
        [&] {
          std::string peers;
          for (const auto& [peer, position] : c.peer_positions()) {
            peers += (peers.empty() ? "" : ",") + peer + "=" + std::to_string(position);
          }
          const auto lag = lag_of(c);
          return std::vector<std::string>{c.stream_id(), c.journal_id(), std::to_string(c.global_position()),
                                          lag ? std::to_string(*lag) : "", iso(c.updated_at()), peers};
        },
        [&](JsonObject& object) {
          std::string peers;
          JsonObject by_peer(peers);
          for (const auto& [peer, position] : c.peer_positions()) by_peer.num(peer, position);
          by_peer.close();
          object.str("stream", c.stream_id())
              .str("journalId", c.journal_id())
              .num("position", c.global_position())
              .time("updatedAt", c.updated_at())
              .raw("peers", peers)
              .opt_num("lag", lag_of(c));
        });
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_checkpoints

void add_checkpoints(CLI::App& app, Verbs& verbs) {
  using namespace verb_checkpoints;
  auto [cmd, o] = add_verb(app, verbs, run, "checkpoints",
                           "Each sink stream's position (and per-peer positions) in each "
                           "journal; with --journal, its lag behind that journal.");
  cmd->add_option("SINKDB", o->sinkdb, "the sink's database file")->required();
  cmd->add_option("--journal", o->journal, "compute lag = the journal's last seq - the stream's position");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal checkpoints --journal orders.journal projection.db");
}

}  // namespace hugo::cli
