#include "tests/powerloss/consumers.hpp"

#include <hugo/checkpoint.hpp>
#include <hugo/replication.hpp>

#include <stop_token>

namespace hugo::test::powerloss {

std::string print(const Event& e) {
  std::string text = std::string(to_string(e.kind)) + " " + e.queue + " task " + std::to_string(e.task_id) +
                     " attempt " + std::to_string(e.attempt);
  if (e.token) text += " lease " + std::to_string(e.token->lease_id);
  // A source hydrates later rows with their task's payload; only the rows that store one print it.
  if (e.payload && (e.kind == EventKind::Enqueued || e.kind == EventKind::Restored)) text += " payload " + *e.payload;
  if (e.error) text += " error " + std::string(e.error->code());
  return text;
}

Status PrintSink::initialize(SinkDatabase& db) {
  return db.execute_script(
      "CREATE TABLE IF NOT EXISTS applied (journal_id TEXT NOT NULL, seq INTEGER NOT NULL, print TEXT NOT NULL)");
}

Status PrintSink::apply(SinkDatabase& db, const Event& e) {
  handed = std::max(handed, e.seq);
  return db.execute("INSERT INTO applied (journal_id, seq, print) VALUES (?1, ?2, ?3)",
                    {e.journal_id.value_or(std::string()), e.seq, print(e)});
}

Status EffectSink::apply(const Event& event) {
  handed = std::max(handed, event.seq);
  HUGO_ASSIGN_OR_RETURN(const std::string recorded,
                        coordinator_.execute<std::string>(event, [](const Event& e) { return print(e); }));
  if (recorded != print(event)) {
    foreign_.push_back("seq " + std::to_string(event.seq) + ": recorded '" + recorded + "', event '" + print(event) + "'");
  }
  return ok_status();
}

Status Consumer::catch_up(const std::shared_ptr<Journal>& journal, std::int64_t target) {
  std::stop_source stop;
  // Nothing (new) to wait for: run_sink() still resumes (and checks) the sink, then returns. An
  // event is observed once only, so a target this source already observed stops at once too.
  HUGO_ASSIGN_OR_RETURN(const std::int64_t position, sink->resume_position(journal->journal_id()));
  if (position >= target || observed >= target) stop.request_stop();
  // Observers run once a batch is processed: the one reaching `target` stops the pump.
  ObserverSubscription until = source->register_observer([&](const Event& e) {
    observed = std::max(observed, e.seq);
    if (e.seq >= target) stop.request_stop();
    return ok_status();
  });
  return run_sink(*source, *sink, stop.get_token());
}

Result<std::unique_ptr<Consumers>> Consumers::open(const ConsumerFiles& files, Durability durability,
                                                   std::size_t checkpoint_every,
                                                   const std::shared_ptr<Journal>& journal) {
  auto c = std::make_unique<Consumers>();
  SinkDatabaseOptions db_options;
  db_options.durability = durability;
  HUGO_ASSIGN_OR_RETURN(c->tx_db, SinkDatabase::open(files.tx_db, db_options));
  HUGO_ASSIGN_OR_RETURN(c->coord_db, SinkDatabase::open(files.coord_db, db_options));
  HUGO_ASSIGN_OR_RETURN(std::unique_ptr<DeterministicEffectStore> effects, DeterministicEffectStore::open(files.effects_db));
  c->effects = std::move(effects);
  HUGO_ASSIGN_OR_RETURN(std::shared_ptr<SqliteCheckpointStore> store, SqliteCheckpointStore::open(c->coord_db));

  auto clock = std::make_shared<ManualClock>();  // the checkpoint interval never fires: only counts
  SinkOptions tx_options;
  tx_options.stream_id = "power-loss-tx";
  tx_options.clock = clock;
  c->transactional.name = "transactional sink";
  auto tx_sink = std::make_unique<PrintSink>(c->tx_db, tx_options);
  c->transactional.handed = &tx_sink->handed;
  c->transactional.sink = std::move(tx_sink);
  SinkOptions effect_options;
  effect_options.stream_id = "power-loss-effects";
  effect_options.clock = clock;
  effect_options.checkpoint_every = checkpoint_every;
  c->effect.name = "effect store sink";
  auto effect_sink = std::make_unique<EffectSink>(store, effect_options, c->effects);
  c->effect.handed = &effect_sink->handed;
  c->effect.sink = std::move(effect_sink);
  for (Consumer* consumer : {&c->transactional, &c->effect}) {
    HUGO_ASSIGN_OR_RETURN(consumer->source, TaskQueueReplicationSource::attach(journal, 0));
  }
  return c;
}

Result<std::unique_ptr<Follower>> Follower::open(const std::shared_ptr<Journal>& journal,
                                                 const std::filesystem::path& replica) {
  auto f = std::make_unique<Follower>();
  ReplicationServerOptions server;
  server.journal = journal->path();
  server.live = journal.get();
  server.port = 0;
  HUGO_ASSIGN_OR_RETURN(f->server, ReplicationServer::start(server));
  FollowerOptions options;
  options.url = f->server->url();
  options.replica = replica;
  HUGO_ASSIGN_OR_RETURN(f->follower, HttpFollower::open(options));
  return f;
}

Result<std::int64_t> Follower::catch_up() {
  Result<std::int64_t> applied = follower->catch_up();
  max_seen = std::max(max_seen, follower->position().seq);  // batches committed before a failure count
  return applied;
}

}  // namespace hugo::test::powerloss
