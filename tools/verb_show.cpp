// hugo-journal show JOURNAL SEQ: one event in full, as a replication source delivers it: with its
// task's payload and, for rows that name a lease, the lease's owner.
#include "event_text.hpp"
#include "verbs.hpp"

#include <hugo/event_json.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_show {

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

  Output output(o.json, {"field", "value"});
  if (output.json()) {
    event_row(output, e);  // the line `tail --json` prints
    output.finish();
    return kExitOk;
  }
  output.cells({"seq", std::to_string(e.seq)});
  output.cells({"kind", std::string(to_string(e.kind)) + " (" + std::to_string(static_cast<int>(e.kind)) + ")"});
  output.cells({"queue", e.queue});
  output.cells({"task", std::to_string(e.task_id)});
  output.cells({"attempt", std::to_string(e.attempt)});
  output.cells({"occurred_at", iso(e.occurred_at)});
  output.cells({"owner", e.owner_peer_id.value_or("")});
  output.cells({"token", e.token ? e.token->to_string() : std::string()});
  output.cells({"lease_id", e.token ? std::to_string(e.token->lease_id) : std::string()});
  output.cells({"lease_expiration", optional_time(e.lease_expiration)});
  output.cells({"enqueued_at", optional_time(e.enqueued_at)});
  output.cells({"available_at", optional_time(e.available_at)});
  output.cells({"flags", std::to_string(e.flags)});
  output.cells({"error.code", e.error ? e.error->code() : std::string()});
  output.cells({"error.message", e.error ? e.error->message() : std::string()});
  if (e.error) {
    for (const auto& [key, value] : e.error->metadata()) output.cells({"error.metadata." + key, value});
    if (e.error->cause()) output.cells({"error.cause", e.error->cause()->type + ": " + e.error->cause()->message});
  }
  output.cells({"payload.format", e.payload ? (e.payload_format == PayloadFormat::Json ? "json" : "bytes") : ""});
  output.cells({"payload.bytes", e.payload ? std::to_string(e.payload->size()) : std::string()});
  output.cells({"payload", payload_text(e.payload, e.payload_format)});
  output.cells({"journal_id", e.journal_id.value_or("")});
  output.finish();
  return kExitOk;
}

}  // namespace verb_show

void add_show(CLI::App& app, Verbs& verbs) {
  using namespace verb_show;
  auto [cmd, o] = add_verb(app, verbs, run, "show",
                           "One event in full, with its task's payload.");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("SEQ", o->seq, "the event's seq")->required();
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal show orders.journal 1207");
}

}  // namespace hugo::cli
