// hugo-journal tail JOURNAL: events in seq order, as a replication source delivers them (payload
// and owner filled in); --follow keeps streaming new commits like `tail -f`.
#include "event_text.hpp"
#include "prefetch.hpp"
#include "verbs.hpp"

#include <hugo/replication.hpp>

#include <algorithm>
#include <memory>
#include <set>

namespace hugo::cli {
namespace verb_tail {

struct Options {
  std::string journal;
  std::int64_t from = 1;
  bool follow = false;
  std::string queue;
  std::vector<std::string> kinds;
  std::int64_t limit = 0;
  bool json = false;
};

constexpr std::size_t kBatch = 4096;

int run(const Options& o) {
  if (o.from < 1) return usage_error("tail", "--from must be a seq >= 1", "seqs start at 1");
  if (o.limit < 0) return usage_error("tail", "--limit must be >= 0", "0 means no limit");
  std::set<EventKind> kinds;
  for (const auto& k : o.kinds) {
    auto kind = parse_event_kind(k);
    if (!kind.ok()) return usage_error("tail", "unknown kind '" + k + "'", "use a name such as LeaseGranted, or 0-" + std::to_string(kEventKindCount - 1));
    kinds.insert(*kind);
  }
  // Without --follow the stream ends at the last seq committed when tail started.
  auto last = journal_end(o.journal);
  if (!last.ok()) return report("tail", last.error());
  const std::int64_t end = last->last_seq;
  ReplicationSourceOptions options;
  if (!o.queue.empty()) options.queue = o.queue;
  options.batch_size = kBatch;
  auto source = TaskQueueReplicationSource::open(o.journal, o.from - 1, options);
  if (!source.ok()) return report("tail", source.error());

  // A terminal gets fixed-width rows as they come: a journal can be far too long to align.
  Output output(o.json, event_header(), event_widths());
  if (o.follow) output.begin();
  // The source is read on a background thread, one batch ahead of the encoding below.
  TaskQueueReplicationSource& src = **source;
  const auto wait = o.follow ? std::chrono::milliseconds(200) : std::chrono::milliseconds(0);
  Prefetcher prefetch([&src, wait] { return src.next(kBatch, wait); },
                      [&src, &o, end](const std::vector<Event>& batch) {
                        return o.follow || (!batch.empty() && src.position() < end);
                      });
  std::int64_t printed = 0;
  while (true) {
    auto batch = prefetch.next();
    if (!batch.ok()) return report("tail", batch.error());
    bool done = false;
    for (const Event& e : *batch) {
      if (!o.follow && e.seq > end) {
        done = true;
        break;
      }
      if (!kinds.empty() && !kinds.contains(e.kind)) continue;
      event_row(output, e);
      if (o.limit > 0 && ++printed >= o.limit) {
        done = true;
        break;
      }
    }
    output.flush();
    prefetch.give_back(*std::move(batch));
    if (done || (!o.follow && prefetch.ended())) break;
    if (o.follow && !out_flush()) return kExitIo;
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_tail

void add_tail(CLI::App& app, Verbs& verbs) {
  using namespace verb_tail;
  auto [cmd, o] = add_verb(app, verbs, run, "tail",
                           "Events in seq order, with their payloads; --follow keeps streaming "
                           "new commits (polls the journal, never locks it).");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--from", o->from, "first seq to show (default 1: from the start)");
  cmd->add_flag("--follow,-f", o->follow, "keep streaming events as they are committed, until interrupted");
  cmd->add_option("--queue", o->queue, "only events of this queue");
  cmd->add_option("--kind", o->kinds, "only events of this kind (name or number; repeatable)");
  cmd->add_option("--limit", o->limit, "stop after N events (0: no limit)");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal tail --from 1200 --limit 20 orders.journal\n"
              "  hugo-journal tail --follow --json --kind DeadLettered orders.journal");
}

}  // namespace hugo::cli
