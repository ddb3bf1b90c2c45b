// hugo-journal: inspect, verify, export and maintain hugo journals from the shell.
// Built only on the public API (<hugo/...>). docs/CLI.md documents every verb.
#include "cli_common.hpp"
#include "verbs.hpp"

#include <cstdio>
#include <string>

namespace {

constexpr const char* kFooter = R"(Output:
  --json prints NDJSON (one JSON object per line); otherwise an aligned table when stdout is a
  terminal, tab-separated text with a header line when it is not. Errors are one line on stderr.

Access:
  Every verb is read-only and safe beside a live writer, except requeue, cancel and compact, which
  take the journal's writer lock and fail with exit 4 while another process writes the journal, and
  follow and promote, which write the replica (exit 4 while another follower holds it).

Exit codes:
  0  ok
  1  verify found violations
  2  usage: bad arguments, or arguments that name nothing (error.validation)
  3  not a journal: missing (journal.not_found), not a hugo journal or damaged (journal.corrupt),
     newer schema (journal.schema_newer), replaced while read (journal.replaced), its -wal cut
     (journal.wal_truncated), its -shm deleted while read (journal.shm_missing), bad import
     input: not NDJSON, not events, or events that do not follow on (codec.*, with its line)
  4  locked: another process writes the journal (journal.locked, with its pid; journal.busy;
     journal.replica: a replica is written by its follower; promote it first)
  5  I/O: journal.io, journal.full, journal.read_only, or any other failure
  6  peer: replication.diverged, replication.checkpoint_ahead, replication.unauthorized,
     replication.stream_malformed, replication.unavailable, replication.token_required,
     replication.bind, replication.fenced, replication.message_too_large

Example:
  hugo-journal info orders.journal
  hugo-journal tail --follow --queue orders orders.journal
  hugo-journal VERB --help)";

}  // namespace

namespace hugo::cli {

void add_json_flag(CLI::App* command, bool& json) {
  command->add_flag("--json", json, "print NDJSON: one JSON object per line");
}

void add_journal_arg(CLI::App* command, std::string& journal) {
  command->add_option("JOURNAL", journal, "the journal file")->required();
}

}  // namespace hugo::cli

int main(int argc, char** argv) {
  static char buffer[1 << 20];
  std::setvbuf(stdout, buffer, _IOFBF, sizeof(buffer));

  CLI::App app{"Inspect, verify, export and maintain hugo journals.", "hugo-journal"};
  app.footer(kFooter);
  app.require_subcommand(1);
  hugo::cli::Verbs verbs;
  hugo::cli::add_info(app, verbs);
  hugo::cli::add_tail(app, verbs);
  hugo::cli::add_show(app, verbs);
  hugo::cli::add_tasks(app, verbs);
  hugo::cli::add_history(app, verbs);
  hugo::cli::add_dead_letters(app, verbs);
  hugo::cli::add_requeue(app, verbs);
  hugo::cli::add_cancel(app, verbs);
  hugo::cli::add_checkpoints(app, verbs);
  hugo::cli::add_effects(app, verbs);
  hugo::cli::add_verify(app, verbs);
  hugo::cli::add_stats(app, verbs);
  hugo::cli::add_export(app, verbs);
  hugo::cli::add_import(app, verbs);
  hugo::cli::add_compact(app, verbs);
  hugo::cli::add_metrics(app, verbs);
  hugo::cli::add_serve(app, verbs);
  hugo::cli::add_follow(app, verbs);
  hugo::cli::add_promote(app, verbs);
  hugo::cli::add_publish(app, verbs);
  hugo::cli::add_enqueue(app, verbs);
  hugo::cli::add_work(app, verbs);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string verb = "usage";
    for (const CLI::App* sub : app.get_subcommands()) verb = sub->get_name();
    std::string what = e.what();
    if (what.empty()) what = e.get_name();
    return hugo::cli::usage_error(verb, what,
                                  verb == "usage" ? "run `hugo-journal --help`"
                                                  : "run `hugo-journal " + verb + " --help`");
  }

  for (const auto& verb : verbs) {
    if (!verb.command->parsed()) continue;
    const int code = verb.run();
    if (!hugo::cli::out_flush()) {
      std::fprintf(stderr, "hugo-journal: %s: writing stdout failed (check the disk or pipe stdout goes to)\n",
                   verb.command->get_name().c_str());
      return code == hugo::cli::kExitOk ? hugo::cli::kExitIo : code;
    }
    return code;
  }
  return hugo::cli::kExitUsage;
}
