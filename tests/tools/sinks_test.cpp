// The sink-side verbs: checkpoints (positions and lag) and effects (recorded and pending).
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"

#include <hugo/checkpoint.hpp>
#include <hugo/effect_capture.hpp>
#include <hugo/sink_database.hpp>

namespace tools_sinks_test {

using namespace hugo;
using namespace hugo::test::cli;

TEST_SUITE("cli.sinks") {

TEST_CASE("checkpoints lists every stream's positions, and its lag behind a journal") {
  FixtureJournal f;
  {
    auto db = ok_or_throw(SinkDatabase::open(f.dir / "sink.db"));
    auto store = ok_or_throw(SqliteCheckpointStore::open(db));
    const Timestamp at{std::chrono::seconds{1'704'070'800}};
    ok_or_throw(store->persist(
        TaskQueueReplicationCheckpoint::empty("projection", f.id).advance("default", 20, at).advance("peer-b", 12, at)));
    ok_or_throw(store->persist(TaskQueueReplicationCheckpoint::empty("audit", f.id).advance("default", 24, at)));
    ok_or_throw(store->persist(TaskQueueReplicationCheckpoint::empty("audit", "zzz-other").advance("default", 3, at)));
  }
  check_golden("checkpoints.ndjson", f.ok({"checkpoints", "--json", "--journal", "f.journal", "sink.db"}));
  const std::string text = f.ok({"checkpoints", "--journal", "f.journal", "sink.db"});
  CHECK(text.find("projection\tJOURNAL_ID\t20\t4\t2024-01-01T01:00:00+00:00\tdefault=20,peer-b=12\n") != std::string::npos);
  CHECK(text.find("audit\tJOURNAL_ID\t24\t0\t") != std::string::npos);
  CHECK(text.find("audit\tzzz-other\t3\t\t") != std::string::npos);  // another journal: no lag
  // Without --journal there is no lag column value at all.
  CHECK(f.ok({"checkpoints", "sink.db"}).find("projection\tJOURNAL_ID\t20\t\t") != std::string::npos);
}

TEST_CASE("effects lists recorded outcomes, and --pending the claims whose effect is still running") {
  test::TempDir dir;
  DeterministicOptions options;
  options.clock = std::make_shared<ManualClock>();
  auto store = ok_or_throw(DeterministicEffectStore::open(dir / "effects.db", options));
  CHECK(ok_or_throw(store->capture<std::string>("order-1/charge", [] { return std::string("receipt-7"); })) ==
        "receipt-7");
  auto declined = store->capture<std::int64_t>(
      "order-2/charge", []() -> Result<std::int64_t> { return Error("app.declined", "card declined"); });
  CHECK_FALSE(declined.ok());
  // While an effect runs, its claim is pending: exactly what a crash would leave behind.
  Run pending;
  ok_or_throw(store->capture<std::string>("order-3/charge", [&] {
    pending = run_cli({"effects", "--pending", "--json", "effects.db"}, dir.path());
    return std::string("late");
  }));
  CAPTURE(pending.err);
  CHECK(pending.code == 0);
  check_golden("effects-pending.ndjson", pending.out);
  CHECK(lines_of(pending.out).size() == 1);
  CHECK(pending.out.find("\"effectId\":\"order-3/charge\",") != std::string::npos);

  const Run all = run_cli({"effects", "--json", "effects.db"}, dir.path());
  CHECK(all.code == 0);
  check_golden("effects.ndjson", all.out);
  CHECK(run_cli({"effects", "--pending", "effects.db"}, dir.path()).out ==
        "effect_id\tkind\tstate\tversion\ttype_tag\toutcome\terror\tvalue_bytes\tclaimed_at\trecorded_at\n");
  const auto text = lines_of(run_cli({"effects", "effects.db"}, dir.path()).out);
  REQUIRE(text.size() == 4);
  CHECK(text[2].find("order-2/charge\thugo.effect\tdone\t0\tint64\tfailure\tapp.declined: card declined\t") == 0);
}

}  // TEST_SUITE

}  // namespace tools_sinks_test
