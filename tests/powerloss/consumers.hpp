// The power-loss scenario's consumers of the journal (docs/TESTING.md, "Power loss, simulated"):
//   - "transactional": a TransactionalSink whose table `applied` (no unique key, so a duplicate
//     shows) holds (journal id, seq, print) of every event it applied;
//   - "effects": an at-least-once sink whose every event runs through
//     TaskQueueDeterministicCoordinator; the recorded effect is the event's print, so a replayed
//     effect that belongs to another event (a reused seq) is seen;
//   - "follower": an HttpFollower and its replica.
// Both are driven by run_sink() on the calling thread, up to a target seq, with no wait.
#pragma once

#include <hugo/coordinator.hpp>
#include <hugo/durability.hpp>
#include <hugo/effects.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>
#include <hugo/sinks.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace hugo::test::powerloss {

// What identifies an event's content across a reopen (no clock-dependent or source-set field).
std::string print(const Event& e);

class PrintSink final : public TransactionalSink {
 public:
  using TransactionalSink::TransactionalSink;
  std::int64_t handed = 0;  // the highest seq given to apply() (a failed batch may keep none)

 protected:
  Status initialize(SinkDatabase& db) override;
  Status apply(SinkDatabase& db, const Event& e) override;
};

class EffectSink final : public CheckpointingTaskQueueReplicationSink {
 public:
  EffectSink(std::shared_ptr<CheckpointStore> store, SinkOptions options,
             std::shared_ptr<DeterministicEffectStore> effects)
      : CheckpointingTaskQueueReplicationSink(std::move(store), std::move(options)), coordinator_(std::move(effects)) {}
  std::int64_t handed = 0;  // the highest seq given to apply() (its effect may be recorded)
  // Events whose recorded effect was another event's ("seq N: recorded <print>, event <print>").
  const std::vector<std::string>& foreign_effects() const { return foreign_; }

 protected:
  Status apply(const Event& event) override;

 private:
  TaskQueueDeterministicCoordinator coordinator_;
  std::vector<std::string> foreign_;
};

// One consumer: its sink, a source attached to the journal, and the highest seq it processed.
struct Consumer {
  std::string name;
  std::unique_ptr<ReplicationSink> sink;
  std::unique_ptr<TaskQueueReplicationSource> source;
  const std::int64_t* handed = nullptr;  // the sink's highest seq given to apply()
  std::int64_t observed = 0;             // the highest seq the source delivered for good
  std::int64_t max_seen() const { return *handed; }

  // run_sink() on the sink itself until every event up to `target` is processed (returns at
  // once if the sink's position is already there), then flushes. The sink's errors are
  // returned as they are.
  Status catch_up(const std::shared_ptr<Journal>& journal, std::int64_t target);
};

struct ConsumerFiles {
  std::filesystem::path tx_db, coord_db, effects_db;
};

// The third consumer: an HttpFollower keeping a replica of the journal, fed over loopback by a
// ReplicationServer in this process. Its position is the replica's last applied seq.
struct Follower {
  std::unique_ptr<ReplicationServer> server;
  std::unique_ptr<HttpFollower> follower;  // declared last: closed first
  std::int64_t max_seen = 0;               // the highest seq the replica committed

  static Result<std::unique_ptr<Follower>> open(const std::shared_ptr<Journal>& journal,
                                                const std::filesystem::path& replica);
  // Applies everything the journal has now (HttpFollower::catch_up).
  Result<std::int64_t> catch_up();
};

// Both consumers and the databases behind them.
struct Consumers {
  std::shared_ptr<SinkDatabase> tx_db;
  std::shared_ptr<SinkDatabase> coord_db;
  std::shared_ptr<DeterministicEffectStore> effects;
  Consumer transactional;
  Consumer effect;

  // Opens (or creates) the databases at `durability` and attaches both consumers to `journal`.
  static Result<std::unique_ptr<Consumers>> open(const ConsumerFiles& files, Durability durability,
                                                 std::size_t checkpoint_every, const std::shared_ptr<Journal>& journal);
  EffectSink& effect_sink() { return static_cast<EffectSink&>(*effect.sink); }
};

}  // namespace hugo::test::powerloss
