// The source and the effect store against a journal that lost its last commits
// (docs/REPLICATION.md, "When the journal lost commits").
#include <doctest/doctest.h>

#include <hugo/coordinator.hpp>
#include <hugo/replication.hpp>
#include <hugo/sink_database.hpp>

#include "tests/support/lost_commits.hpp"

namespace replay_lost_commits_test {

using namespace hugo;
using test::must;

namespace {

std::vector<Event> read_all(const std::filesystem::path& journal) {
  auto source = must(TaskQueueReplicationSource::open(journal, 0));
  return must(source->next(1000));
}

ReplicationAnchor anchor_at(const Event& e) { return ReplicationAnchor{"consumer-1", e.seq, event_fingerprint(e)}; }

}  // namespace

TEST_SUITE("replay.lost_commits") {

TEST_CASE("resume: behind, rewritten, and silent when the journal still holds the anchor") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.commit({"a", "b", "c"}, {"d", "e"});
  const std::vector<Event> applied = read_all(journal.path());
  REQUIRE(applied.size() == 5);
  {
    auto source = must(TaskQueueReplicationSource::open(journal.path(), 0));
    must(source->resume(anchor_at(applied[4])));  // a restart that lost nothing
    CHECK(source->position() == 5);
    must(source->resume(anchor_at(applied[2])));
    CHECK(must(source->next(10)).size() == 2);
  }
  journal.lose_commits();
  {
    auto source = must(TaskQueueReplicationSource::open(journal.path(), 0));
    Status resumed = source->resume(anchor_at(applied[4]));
    test::check_ahead(resumed, "behind", 5);
    CHECK(*resumed.error().find("journal_last_seq") == "3");
    CHECK(*resumed.error().find("consumer") == "consumer-1");
    CHECK(source->position() == 0);  // refused: not moved
    must(source->resume(anchor_at(applied[2])));  // seq 3 survived
  }
  journal.append("q", {"x", "y", "z"});
  auto source = must(TaskQueueReplicationSource::open(journal.path(), 0));
  test::check_ahead(source->resume(anchor_at(applied[4])), "rewritten", 5);
  test::check_ahead(source->resume(anchor_at(applied[3])), "rewritten", 4);
  // Without a fingerprint (a checkpoint from before them) only "behind" can be told.
  must(source->resume(ReplicationAnchor{"consumer-1", 5, std::nullopt}));
}

TEST_CASE("a tailing source checks its anchor again after an idle wait") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.append("q", {"a", "b", "c"});
  auto source = must(TaskQueueReplicationSource::open(journal.path(), 0));
  must(source->resume(ReplicationAnchor{"consumer-1", 0, std::nullopt}));
  CHECK(must(source->next(10)).size() == 3);
  CHECK(must(source->next(10)).empty());  // idle
  journal.append("q", {"d"});
  CHECK(must(source->next(10)).size() == 1);  // the anchor (seq 3) still holds
}

TEST_CASE("the coordinator never replays an effect recorded for a lost event at a reused seq") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.commit({"a", "b"}, {"c"});
  const Event lost = read_all(journal.path()).back();
  REQUIRE(lost.seq == 3);
  auto store = std::shared_ptr<DeterministicEffectStore>(must(DeterministicEffectStore::open(dir / "effects.db")));
  TaskQueueDeterministicCoordinator coordinator(store);
  int runs = 0;
  auto handler = [&](const Event& e) -> std::string {
    ++runs;
    return *e.payload;
  };
  CHECK(must(coordinator.execute<std::string>(lost, handler)) == "c");
  CHECK(must(coordinator.execute<std::string>(lost, handler)) == "c");  // replayed
  CHECK(runs == 1);
  const auto recorded = must(store->find(TaskQueueDeterministicCoordinator::effect_id(lost)));
  REQUIRE(recorded.has_value());
  CHECK(recorded->event_fingerprint == std::optional<std::uint64_t>(event_fingerprint(lost)));

  journal.lose_commits();
  journal.append("q", {"other"});  // seq 3 again, same queue: the same effect id
  const Event reused = read_all(journal.path()).back();
  REQUIRE(reused.seq == 3);
  REQUIRE(TaskQueueDeterministicCoordinator::effect_id(reused) == TaskQueueDeterministicCoordinator::effect_id(lost));
  auto r = coordinator.execute<std::string>(reused, handler);
  REQUIRE_FALSE(r.ok());
  test::check_ahead(r.error(), "rewritten", 3);
  CHECK(runs == 1);  // neither replayed for the new event nor run
  CHECK(must(coordinator.execute<std::string>(lost, handler)) == "c");  // the lost event's record stands
}

TEST_CASE("an effect store from before fingerprints is migrated; its records replay unchecked") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.append("q", {"a"});
  const Event e = read_all(journal.path()).back();
  {
    auto store = must(DeterministicEffectStore::open(dir / "effects.db"));
    CHECK(must(store->capture<std::string>(TaskQueueDeterministicCoordinator::effect_id(e), [] { return std::string("old"); })) == "old");
  }
  {
    // Drop the column, as a database written before it has none.
    auto db = must(SinkDatabase::open(dir / "effects.db"));
    must(db->execute_script("ALTER TABLE hugo_effects DROP COLUMN event_fingerprint"));
  }
  DeterministicOptions read_only_options;
  read_only_options.read_only = true;
  auto read_only = must(DeterministicEffectStore::open(dir / "effects.db", read_only_options));
  CHECK(must(read_only->list()).size() == 1);
  auto store = std::shared_ptr<DeterministicEffectStore>(must(DeterministicEffectStore::open(dir / "effects.db")));
  TaskQueueDeterministicCoordinator coordinator(store);
  CHECK(must(coordinator.execute<std::string>(e, [](const Event&) { return std::string("new"); })) == "old");
}

}  // TEST_SUITE

}  // namespace replay_lost_commits_test
