// hugo-journal import NEWJOURNAL < NDJSON: rebuilds a journal from `export` output, keeping every
// seq, field and the journal id, so export -> import -> export is byte-identical. Creates a new
// file only, built beside NEWJOURNAL and renamed there when complete: a failed or killed import
// leaves nothing at NEWJOURNAL (docs/FORMAT.md, "New files").
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal_admin.hpp>

#include <cstdio>
#include <memory>

#include <sys/stat.h>
#include <unistd.h>

namespace hugo::cli {
namespace verb_import {

struct Options {
  std::string journal;
  bool skip_invalid = false;
  bool json = false;
};

// One warning line on stderr per event --skip-invalid left out.
void warn_skipped(const std::vector<SkippedRow>& skipped) {
  for (const SkippedRow& r : skipped) {
    const std::string line = "hugo-journal: import: skipped event " + std::to_string(r.seq) + " (" +
                             std::string(to_string(r.kind)) + " of task " + std::to_string(r.task_id) +
                             "): not a valid transition: " + r.rule + "\n";
    std::fputs(line.c_str(), stderr);
  }
}

// Feeds every line of stdin to the importer; returns the number of events.
Result<std::int64_t> import_stdin(JournalImporter& importer, Progress& progress) {
  struct stat st{};
  const std::int64_t total = ::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0;
  std::string pending;
  std::vector<char> chunk(1 << 20);
  std::int64_t line_no = 0, consumed = 0, events = 0;
  auto take_line = [&](std::string_view line) -> Status {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return ok_status();  // blank lines skipped
    auto event = decode_event_json(line);
    if (!event.ok()) return Error(event.error()).with("line", std::to_string(line_no));
    Status added = importer.add(*event);
    if (!added.ok()) return Error(added.error()).with("line", std::to_string(line_no));
    ++events;
    return ok_status();
  };
  while (true) {
    const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), stdin);
    if (n == 0) break;
    consumed += static_cast<std::int64_t>(n);
    pending.append(chunk.data(), n);
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      HUGO_TRY(take_line(std::string_view(pending).substr(start, nl - start)));
    }
    pending.erase(0, start);
    if (pending.size() > kMaxEventJsonBytes) {
      return Error::codec_invalid("a line is longer than " + std::to_string(kMaxEventJsonBytes) + " bytes")
          .with("line", std::to_string(line_no + 1));
    }
    if (total > 0) progress.update(consumed, total);
  }
  if (std::ferror(stdin)) return Error::journal_io("reading stdin failed (check the input file or pipe)");
  if (!pending.empty()) HUGO_TRY(take_line(pending));
  return events;
}

int run(const Options& o) {
  auto importer = JournalImporter::create(o.journal, ImportOptions{o.skip_invalid});
  if (!importer.ok()) return report("import", importer.error());
  Progress progress("import");
  auto imported = import_stdin(**importer, progress);
  Result<std::int64_t> finished = imported.ok() ? (*importer)->finish() : Result<std::int64_t>(imported.error());
  progress.finish();
  const std::vector<SkippedRow> skipped = (*importer)->skipped();
  importer->reset();  // without finish(), removes the file it was building
  if (!finished.ok()) return report("import", finished.error());
  warn_skipped(skipped);
  // The skipped count is a column only when --skip-invalid could skip anything.
  Output output(o.json, o.skip_invalid ? std::vector<std::string>{"path", "events", "skipped"}
                                       : std::vector<std::string>{"path", "events"});
  output.row(
      [&] {
        return std::vector<std::string>{o.journal, std::to_string(*finished), std::to_string(skipped.size())};
      },
      [&](JsonObject& object) {
        object.str("path", o.journal).num("events", *finished);
        if (o.skip_invalid) object.num("skipped", static_cast<std::int64_t>(skipped.size()));
      });
  output.finish();
  return kExitOk;
}

}  // namespace verb_import

void add_import(CLI::App& app, Verbs& verbs) {
  using namespace verb_import;
  auto [cmd, o] = add_verb(app, verbs, run, "import",
                           "Rebuilds a journal from `export` NDJSON on stdin into a new file: "
                           "same seqs, fields and journal id.");
  cmd->add_option("NEWJOURNAL", o->journal, "the journal file to create (must not exist)")->required();
  cmd->add_flag("--skip-invalid", o->skip_invalid,
                "leave out events that are not a valid transition of their queue, one warning each on stderr "
                "(default: refuse the import, exit 3)");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal import copy.journal < orders.ndjson\n"
              "  hugo-journal export orders.journal | hugo-journal import copy.journal");
}

}  // namespace hugo::cli
