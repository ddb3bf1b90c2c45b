// hugo-journal show JOURNAL SEQ: one event in full, as a replication source delivers it: with its
// task's payload and, for rows that name a lease, the lease's owner.
#include "event_text.hpp"
#include "verbs.hpp"

#include <hugo/event_json.hpp>

#include <memory>

namespace hugo::cli {
namespace {

struct Options {
  std::string journal;
  std::int64_t seq = 0;
  bool json = false;
};

std::string optional_time(const std::optional<Timestamp>& t) { return t ? iso(*t) : std::string(); }

int run(const Options& o) {
  if (o.seq < 1) return usage_error("show", "SEQ must be >= 1", "seqs start at 1");
  auto reader = open_reader(o.journal);
  if (!reader.ok()) return report("show", reader.error());
  auto rows = (*reader)->read(o.seq - 1, 1);
  if (!rows.ok()) return report("show", rows.error());
  if (rows->empty() || rows->front().seq != o.seq) {
    return usage_error("show", "no event with seq " + std::to_string(o.seq) + " in " + o.journal,
                       "it is above the last seq or was compacted; see `hugo-journal info`");
  }
  Event e = std::move(rows->front());
  if (!e.payload) {
    auto stored = (*reader)->task_payload(e.task_id);
    if (!stored.ok()) return report("show", stored.error());
    if (*stored) {
      e.payload = (*stored)->bytes;
      e.payload_format = (*stored)->format;
    }
  }
  // Like a replication source: a row without an owner shows the owner of the lease its token names.
  if (!e.owner_peer_id && e.token && e.kind != EventKind::LeaseGranted) {
    auto grant = (*reader)->read(e.token->lease_id - 1, 1);
    if (!grant.ok()) return report("show", grant.error());
    if (!grant->empty() && grant->front().seq == e.token->lease_id && grant->front().kind == EventKind::LeaseGranted) {
      e.owner_peer_id = grant->front().owner_peer_id;
    }
  }

  const Format format = pick_format(o.json);
  if (format == Format::Json) {
    std::string line;
    append_event_json(e, line);
    out(line);
    return kExitOk;
  }
  Table table(format, {"field", "value"});
  table.row({"seq", std::to_string(e.seq)});
  table.row({"kind", std::string(to_string(e.kind)) + " (" + std::to_string(static_cast<int>(e.kind)) + ")"});
  table.row({"queue", e.queue});
  table.row({"task", std::to_string(e.task_id)});
  table.row({"attempt", std::to_string(e.attempt)});
  table.row({"occurred_at", iso(e.occurred_at)});
  table.row({"owner", e.owner_peer_id.value_or("")});
  table.row({"token", e.token ? e.token->to_string() : std::string()});
  table.row({"lease_id", e.token ? std::to_string(e.token->lease_id) : std::string()});
  table.row({"lease_expiration", optional_time(e.lease_expiration)});
  table.row({"enqueued_at", optional_time(e.enqueued_at)});
  table.row({"available_at", optional_time(e.available_at)});
  table.row({"flags", std::to_string(e.flags)});
  table.row({"error.code", e.error ? e.error->code() : std::string()});
  table.row({"error.message", e.error ? e.error->message() : std::string()});
  if (e.error) {
    for (const auto& [key, value] : e.error->metadata()) table.row({"error.metadata." + key, value});
    if (e.error->cause()) table.row({"error.cause", e.error->cause()->type + ": " + e.error->cause()->message});
  }
  table.row({"payload.format", e.payload ? (e.payload_format == PayloadFormat::Json ? "json" : "bytes") : ""});
  table.row({"payload.bytes", e.payload ? std::to_string(e.payload->size()) : std::string()});
  table.row({"payload", payload_text(e.payload, e.payload_format)});
  table.row({"journal_id", e.journal_id.value_or("")});
  table.finish();
  return kExitOk;
}

}  // namespace

void add_show(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("show", "One event in full, with its task's payload.");
  cmd->add_option("JOURNAL", o->journal, "the journal file")->required();
  cmd->add_option("SEQ", o->seq, "the event's seq")->required();
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal show orders.journal 1207");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
