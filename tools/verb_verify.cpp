// hugo-journal verify JOURNAL: PRAGMA integrity_check plus the journal invariants; exit 1 with a
// report naming each offending seq.
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/verify.hpp>

#include <cstdio>
#include <memory>

namespace hugo::cli {
namespace verb_verify {

struct Options {
  std::string journal;
  bool json = false;
};

int run(const Options& o) {
  if (Status readable = check_journal(o.journal); !readable.ok()) return report("verify", readable.error());
  Progress progress("verify");
  auto verified = verify_journal(o.journal, progress.callback());
  progress.finish();
  if (!verified.ok()) return report("verify", verified.error());
  const VerifyReport& r = *verified;

  if (o.json) {
    print_json_line([&](JsonObject& object) {
      object.boolean("ok", r.ok())
          .num("rows", r.rows)
          .num("lastSeq", r.last_seq)
          .num("lastGoodSeq", r.last_good_seq)
          .raw("damaged", json_array(r.damaged, [](JsonObject& item, const auto& d) {
            item.num("afterSeq", d.after_seq).num("nextSeq", d.next_seq);
          }))
          .raw("violations", json_array(r.violations, [](JsonObject& item, const auto& v) {
            item.num("seq", v.seq).str("check", v.check).str("message", v.message);
          }));
    });
  } else if (r.ok()) {
    out_line("ok: " + std::to_string(r.rows) + " rows, last seq " + std::to_string(r.last_seq));
  } else {
    Output output(false, {"seq", "check", "message"});
    for (const auto& v : r.violations) output.cells({std::to_string(v.seq), v.check, v.message});
    output.finish();
  }
  if (r.ok()) return kExitOk;
  (void)out_flush();
  std::string damage;
  for (const auto& d : r.damaged) {
    damage += damage.empty() ? "; unreadable: the rows after seq " : ", after seq ";
    damage += std::to_string(d.after_seq) + (d.next_seq > 0 ? " before seq " + std::to_string(d.next_seq) : " to the end");
  }
  if (!r.damaged.empty()) damage += "; last good seq " + std::to_string(r.last_good_seq);
  std::fprintf(stderr,
               "hugo-journal: verify: %zu violation%s in %lld readable rows of %s, last seq %lld%s (restore from a "
               "replica, or re-import an export taken before the damage)\n",
               r.violations.size(), r.violations.size() == 1 ? "" : "s", static_cast<long long>(r.rows),
               o.journal.c_str(), static_cast<long long>(r.last_seq), damage.c_str());
  return kExitVerifyFailed;
}

}  // namespace verb_verify

void add_verify(CLI::App& app, Verbs& verbs) {
  using namespace verb_verify;
  auto [cmd, o] = add_verb(app, verbs, run, "verify",
                           "Checks the file (integrity_check) and the journal invariants: "
                           "seq order, decodable rows, valid transitions, payloads. Exit 1 "
                           "with each offending seq if any fails.");
  add_journal_arg(cmd, o->journal);
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal verify orders.journal && echo intact");
}

}  // namespace hugo::cli
