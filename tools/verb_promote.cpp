// hugo-journal promote REPLICA: turns a stopped replica into a writable journal (a new epoch).
#include "cli_json.hpp"
#include "cli_common.hpp"
#include "verbs.hpp"

#include <hugo/peers.hpp>

#include <memory>

namespace hugo::cli {
namespace {

struct Options {
  std::string replica;
  bool json = false;
};

int run(const Options& o) {
  auto report_result = promote_replica(o.replica);
  if (!report_result.ok()) return report("promote", report_result.error());
  PromoteReport report = std::move(report_result).value();
  if (pick_format(o.json) == Format::Json) {
    std::string line;
    JsonObject object(line);
    object.str("journalId", report.journal_id)
        .num("epoch", report.epoch)
        .num("lastSeq", report.last_seq)
        .str("epochHistory", report.epoch_history);
    object.close();
    out_line(line);
  } else {
    out_line("promoted " + o.replica + ": journal " + report.journal_id + " epoch " + std::to_string(report.epoch) +
             ", seqs continue after " + std::to_string(report.last_seq));
  }
  return out_flush() ? kExitOk : kExitIo;
}

}  // namespace

void add_promote(CLI::App& app, Verbs& verbs) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "promote", "Turn a replica into a writable journal after its owner died: starts the next epoch, so "
                 "followers of the old owner cannot mix the two histories. Stop its follower first.");
  cmd->add_option("REPLICA", o->replica, "the replica journal")->required();
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal promote replica.journal && hugo-journal serve replica.journal");
  verbs.push_back({cmd, [o] { return run(*o); }});
}

}  // namespace hugo::cli
