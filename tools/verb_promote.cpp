// hugo-journal promote REPLICA: turns a stopped replica into a writable journal (a new epoch).
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/peers.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_promote {

struct Options {
  std::string replica;
  bool json = false;
};

int run(const Options& o) {
  auto report_result = promote_replica(o.replica);
  if (!report_result.ok()) return report("promote", report_result.error());
  PromoteReport report = std::move(report_result).value();
  if (o.json) {
    print_json_line([&](JsonObject& object) {
      object.str("journalId", report.journal_id)
          .num("epoch", report.epoch)
          .num("lastSeq", report.last_seq)
          .str("epochHistory", report.epoch_history);
    });
  } else {
    out_line("promoted " + o.replica + ": journal " + report.journal_id + " epoch " + std::to_string(report.epoch) +
             ", seqs continue after " + std::to_string(report.last_seq));
  }
  return out_flush() ? kExitOk : kExitIo;
}

}  // namespace verb_promote

void add_promote(CLI::App& app, Verbs& verbs) {
  using namespace verb_promote;
  auto [cmd, o] = add_verb(app, verbs, run, "promote",
                           "Turn a replica into a writable journal after its owner died: starts the next epoch, so "
                           "followers of the old owner cannot mix the two histories. Stop its follower first.");
  cmd->add_option("REPLICA", o->replica, "the replica journal")->required();
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal promote replica.journal && hugo-journal serve replica.journal");
}

}  // namespace hugo::cli
