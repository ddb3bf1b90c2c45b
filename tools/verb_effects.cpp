// hugo-journal effects SINKDB [--pending]: the deterministic effects recorded in an effect store.
#include "event_text.hpp"
#include "output.hpp"
#include "verbs.hpp"

#include <hugo/effects.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/sink_database.hpp>

#include <memory>

namespace hugo::cli {
namespace verb_effects {

struct Options {
  std::string db;
  bool pending = false;
  bool json = false;
};

// Refuses a file that holds no store (read-only: nothing is created or switched to WAL).
Status require_effect_table(const std::string& path) {
  HUGO_TRY(require_file(path, "effect store"));
  SinkDatabaseOptions read_only;
  read_only.read_only = true;  // a read verb: no mode switch, no new file, works in a read-only folder
  HUGO_ASSIGN_OR_RETURN(auto db, SinkDatabase::open(path, read_only));
  HUGO_ASSIGN_OR_RETURN(auto tables, db->query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                               "name = 'hugo_effects'"));
  if (tables.empty() || sql_int(tables[0][0]) == 0) {
    return Error::journal_corrupt(path + " holds no deterministic effects (point at the database the effect store uses)")
        .with("path", path);
  }
  return ok_status();
}

std::string outcome_of(const EffectRecord& r) {
  if (r.state == EffectState::Pending) return "";
  if (!r.is_success) return "";
  return *r.is_success ? "success" : "failure";
}

int run(const Options& o) {
  Status usable = require_effect_table(o.db);
  if (!usable.ok()) return report("effects", usable.error());
  DeterministicOptions read_only;
  read_only.read_only = true;
  auto store = DeterministicEffectStore::open(o.db, read_only);
  if (!store.ok()) return report("effects", store.error());
  auto records = (*store)->list(o.pending);
  if (!records.ok()) return report("effects", records.error());

  Output output(o.json, {"effect_id", "kind", "state", "version", "type_tag", "outcome", "error", "value_bytes",
                         "claimed_at", "recorded_at"});
  for (const EffectRecord& r : *records) {
    const char* state = r.state == EffectState::Pending ? "pending" : "done";
    output.row(
        [&] {
          return std::vector<std::string>{r.effect_id, r.kind, state, std::to_string(r.version),
                                          r.type_tag.value_or(""), outcome_of(r), error_text(r.error),
                                          std::to_string(r.value.size()), iso(r.claimed_at),
                                          r.recorded_at ? iso(*r.recorded_at) : ""};
        },
        [&](JsonObject& object) {
          object.str("effectId", r.effect_id)
              .str("kind", r.kind)
              .num("version", r.version)
              .str("state", state)
              .opt_str("typeTag", r.type_tag);
          if (r.is_success) object.boolean("success", *r.is_success);
          else object.null("success");
          object.str("value", base64_encode(r.value))
              .error("error", r.error)
              .time("claimedAt", r.claimed_at)
              .time("recordedAt", r.recorded_at);
        });
  }
  output.finish();
  return kExitOk;
}

}  // namespace verb_effects

void add_effects(CLI::App& app, Verbs& verbs) {
  using namespace verb_effects;
  auto [cmd, o] = add_verb(app, verbs, run, "effects",
                           "The deterministic effects recorded in an effect store; --pending "
                           "lists claims whose outcome was never recorded.");
  cmd->add_option("SINKDB", o->db, "the effect store's database file")->required();
  cmd->add_flag("--pending", o->pending, "only claims without an outcome (a crash while the effect ran)");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  hugo-journal effects --pending effects.db");
}

}  // namespace hugo::cli
