// hugo-journal info JOURNAL: identity, extent, size, durability and per-queue counts. A queue
// problem (rows that are not valid transitions, or rows the fold cannot read) is shown beside
// the rest, never instead of it. A replica that follows a JetStream stream also shows the stream and
// the stream seq of its last applied event.
#include "output.hpp"
#include "queue_problem.hpp"
#include "verbs.hpp"

#include <hugo/jetstream.hpp>
#include <hugo/verify.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_info {

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
  std::optional<JetStreamPosition> stream;
  if (info->role == "replica") {
    auto read = read_stream_replica_position(o.journal);
    if (!read.ok()) return report("info", read.error());
    stream = std::move(read).value();
  }
  auto projected = project_journal(o.journal, RecoveryMode::SkipInvalid);
  // The journal's own facts are shown whatever the queues' state: `problem` says why none are.
  const std::map<std::string, QueueSnapshot> none;
  const auto* queues = projected.ok() ? &*projected : &none;
  const std::optional<std::string> problem =
      projected.ok() ? std::nullopt : std::optional<std::string>(projected.error().code() + ": " + projected.error().message());
  const std::uint64_t file = file_bytes(o.journal);
  const std::uint64_t wal = file_bytes(wal_of(o.journal));

  Output output(o.json, {"field", "value"});
  if (output.json()) {
    output.object([&](JsonObject& object) {
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
      if (stream) object.str("stream", stream->stream).num("streamSeq", static_cast<std::int64_t>(stream->stream_seq));
      object.raw("queues", json_array(*queues, [](JsonObject& q, const auto& queue) {
            const auto& [name, snapshot] = queue;
            const std::string text = queue_problem(snapshot);
            q.str("name", name)
                .num("pending", static_cast<std::int64_t>(snapshot.pending.size()))
                .num("active", static_cast<std::int64_t>(snapshot.leased.size()))
                .num("dead", static_cast<std::int64_t>(snapshot.dead.size()))
                .num("skippedRows", static_cast<std::int64_t>(snapshot.skipped.size()))
                .opt_str("problem", text.empty() ? std::nullopt : std::optional<std::string>(text));
          }))
          .opt_str("queuesProblem", problem);
    });
    output.finish();
    return kExitOk;
  }
  output.cells({"path", o.journal});
  output.cells({"journal_id", info->journal_id});
  output.cells({"schema_version", std::to_string(info->schema_version)});
  output.cells({"first_seq", std::to_string(info->first_seq)});
  output.cells({"last_seq", std::to_string(info->last_seq)});
  output.cells({"rows", std::to_string(info->row_count)});
  output.cells({"file_bytes", std::to_string(file)});
  output.cells({"wal_bytes", std::to_string(wal)});
  output.cells({"durability", info->durability});
  output.cells({"created_at", info->created_at});
  output.cells({"role", info->role});
  output.cells({"epoch", std::to_string(info->epoch)});
  output.cells({"epoch_history", info->epoch_history});
  if (stream) {
    output.cells({"stream", stream->stream});
    output.cells({"stream_seq", std::to_string(stream->stream_seq)});
  }
  if (problem) output.cells({"queues_problem", *problem});
  output.cells({"queues", std::to_string(queues->size())});
  for (const auto& [name, snapshot] : *queues) {
    output.cells({"queue." + name + ".pending", std::to_string(snapshot.pending.size())});
    output.cells({"queue." + name + ".active", std::to_string(snapshot.leased.size())});
    output.cells({"queue." + name + ".dead", std::to_string(snapshot.dead.size())});
    if (const std::string text = queue_problem(snapshot); !text.empty()) {
      output.cells({"queue." + name + ".problem", text});
    }
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_info

void add_info(CLI::App& app, Verbs& verbs) {
  using namespace verb_info;
  auto [cmd, o] = add_verb(app, verbs, run, "info",
                           "Journal id, schema version, seq range, rows, file and WAL size, "
                           "durability, and pending/active/dead counts per queue.");
  add_journal_arg(cmd, o->journal);
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal info orders.journal\n  hugo-journal info --json orders.journal | jq .lastSeq");
}

}  // namespace hugo::cli
