// hugo-journal export JOURNAL [--from SEQ] [--to SEQ]: the stored rows as Hugo-compatible NDJSON,
// one event per line, exactly as the journal holds them (payloads only on the rows that store
// them), so `import` rebuilds the same journal. Tokens of leases imported from Hugo carry their
// original GUID again, and tasks imported from Hugo their original task id.
#include "event_text.hpp"
#include "prefetch.hpp"
#include "verbs.hpp"

#include <algorithm>
#include <memory>

namespace hugo::cli {
namespace verb_export {

// Gives `e` and its token the Hugo task id its task was imported with, if any.
Status restore_task_ids(JournalReader& reader, Event& e) {
  HUGO_ASSIGN_OR_RETURN(std::optional<std::int64_t> hugo_id, reader.task_sequence_id(e.task_id));
  if (!hugo_id) return ok_status();
  if (e.token && e.token->task_id == e.task_id) e.token->task_id = *hugo_id;
  e.task_id = *hugo_id;
  return ok_status();
}

struct Options {
  std::string journal;
  std::int64_t from = 1;
  std::int64_t to = 0;
  bool json = false;  // accepted for uniformity: export always writes NDJSON
};

int run(const Options& o) {
  if (o.from < 1) return usage_error("export", "--from must be a seq >= 1", "seqs start at 1");
  if (o.to < 0 || (o.to > 0 && o.to < o.from)) {
    return usage_error("export", "--to must be >= --from", "--to is the last seq exported; 0 means the last one");
  }
  auto reader = open_reader(o.journal);
  if (!reader.ok()) return report("export", reader.error());
  // The prefetcher owns `reader` on its thread; GUID and task id lookups use a reader of their own.
  auto guids = open_reader(o.journal);
  if (!guids.ok()) return report("export", guids.error());
  auto last = (*reader)->last_seq();
  if (!last.ok()) return report("export", last.error());
  const std::int64_t end = o.to > 0 ? std::min(o.to, *last) : *last;

  Progress progress("export");
  // Rows are read on a background thread, one batch ahead of the encoding below.
  JournalReader& r = **reader;
  std::int64_t after = o.from - 1;
  Prefetcher prefetch(
      [&r, &after] {
        auto batch = r.read(after, 4096);
        if (batch.ok() && !batch->empty()) after = batch->back().seq;
        return batch;
      },
      [&after, end](const std::vector<Event>& batch) { return !batch.empty() && after < end; });
  std::string buffer;
  while (true) {
    auto batch = prefetch.next();
    if (!batch.ok()) return report("export", batch.error());
    buffer.clear();
    for (Event& e : *batch) {
      if (e.seq > end) break;
      // An imported Hugo lease gets its original GUID back (docs/MIGRATION.md, "Hugo lease ids").
      if (e.token) {
        auto guid = (*guids)->lease_guid(e.token->lease_id);
        if (!guid.ok()) return report("export", guid.error());
        e.lease_guid = std::move(*guid);
      }
      // An imported Hugo task gets its original id back (docs/MIGRATION.md, "Hugo task ids").
      if (Status restored = restore_task_ids(**guids, e); !restored.ok()) return report("export", restored.error());
      append_event_json(e, buffer);
    }
    out(buffer);
    if (!batch->empty()) progress.update(std::min(batch->back().seq, end) - o.from + 1, end - o.from + 1);
    prefetch.give_back(*std::move(batch));
    if (prefetch.ended()) break;
  }
  progress.finish();
  return kExitOk;
}

}  // namespace verb_export

void add_export(CLI::App& app, Verbs& verbs) {
  using namespace verb_export;
  auto [cmd, o] = add_verb(app, verbs, run, "export",
                           "The journal as Hugo-compatible NDJSON, one stored event per line "
                           "(rebuild it with `import`).");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--from", o->from, "first seq exported (default 1)");
  cmd->add_option("--to", o->to, "last seq exported (default: the last one)");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal export orders.journal > orders.ndjson\n"
              "  hugo-journal import copy.journal < orders.ndjson");
}

}  // namespace hugo::cli
