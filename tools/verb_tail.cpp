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
namespace {

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
    if (!kind.ok()) return usage_error("tail", "unknown kind '" + k + "'", "use a name such as LeaseGranted, or 0-9");
    kinds.insert(*kind);
  }
  // Without --follow the stream ends at the last seq committed when tail started.
  std::int64_t end = 0;
  {
    auto reader = open_reader(o.journal);
    if (!reader.ok()) return report("tail", reader.error());
    auto last = (*reader)->last_seq();
    if (!last.ok()) return report("tail", last.error());
    end = *last;
  }
  ReplicationSourceOptions options;
  if (!o.queue.empty()) options.queue = o.queue;
  options.batch_size = kBatch;
  auto source = TaskQueueReplicationSource::open(o.journal, o.from - 1, options);
  if (!source.ok()) return report("tail", source.error());

  const Format format = pick_format(o.json);
  std::unique_ptr<Table> table;
  if (format != Format::Json) {
    // A terminal gets fixed-width rows as they come: a journal can be far too long to align.
    table = format == Format::Table ? std::make_unique<Table>(format, event_header(), event_widths())
                                    : std::make_unique<Table>(format, event_header());
    if (o.follow) table->begin();
  }
  // The source is read on a background thread, one batch ahead of the encoding below.
  TaskQueueReplicationSource& src = **source;
  const auto wait = o.follow ? std::chrono::milliseconds(200) : std::chrono::milliseconds(0);
  Prefetcher prefetch([&src, wait] { return src.next(kBatch, wait); },
                      [&src, &o, end](const std::vector<Event>& batch) {
                        return o.follow || (!batch.empty() && src.position() < end);
                      });
  std::int64_t printed = 0;
  std::string buffer;
  while (true) {
    auto batch = prefetch.next();
    if (!batch.ok()) return report("tail", batch.error());
    bool done = false;
    buffer.clear();
    for (const Event& e : *batch) {
      if (!o.follow && e.seq > end) {
        done = true;
        break;
      }
      if (!kinds.empty() && !kinds.contains(e.kind)) continue;
      if (table) table->row(event_cells(e));
      else append_event_json(e, buffer);
      if (o.limit > 0 && ++printed >= o.limit) {
        done = true;
        break;
      }
    }
    out(buffer);
    prefetch.give_back(*std::move(batch));
    if (done || (!o.follow && prefetch.ended())) break;
    if (o.follow && !out_flush()) return kExitIo;
  }
  if (table) table->finish();
  return kExitOk;
}

}  // namespace

void add_tail(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tail", "Events in seq order, with their payloads; --follow keeps streaming "
                                             "new commits (polls the journal, never locks it).");
  cmd->add_option("JOURNAL", o->journal, "the journal file")->required();
  cmd->add_option("--from", o->from, "first seq to show (default 1: from the start)");
  cmd->add_flag("--follow,-f", o->follow, "keep streaming events as they are committed, until interrupted");
  cmd->add_option("--queue", o->queue, "only events of this queue");
  cmd->add_option("--kind", o->kinds, "only events of this kind (name or number; repeatable)");
  cmd->add_option("--limit", o->limit, "stop after N events (0: no limit)");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal tail --from 1200 --limit 20 orders.journal\n"
              "  hugo-journal tail --follow --json --kind DeadLettered orders.journal");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
