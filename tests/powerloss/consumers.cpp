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
  return db.execute_script("CREATE TABLE IF NOT EXISTS applied (seq INTEGER NOT NULL, print TEXT NOT NULL)");
}

Status PrintSink::apply(SinkDatabase& db, const Event& e) {
  return db.execute("INSERT INTO applied (seq, print) VALUES (?1, ?2)", {e.seq, print(e)});
}

Status EffectSink::apply(const Event& event) {
  HUGO_ASSIGN_OR_RETURN(const std::string recorded,
                        coordinator_.execute<std::string>(event, [](const Event& e) { return print(e); }));
  if (recorded != print(event)) {
    foreign_.push_back("seq " + std::to_string(event.seq) + ": recorded '" + recorded + "', event '" + print(event) + "'");
  }
  return ok_status();
}

namespace {

// Forwards to a sink and stops run_sink() once the batch reaching `target` is processed.
class UntilTarget final : public ReplicationSink {
 public:
  UntilTarget(ReplicationSink& inner, std::int64_t target, std::stop_source& stop, std::int64_t& max_seen)
      : inner_(inner), target_(target), stop_(stop), max_seen_(max_seen) {}
  Status process(const std::vector<Event>& batch) override {
    // Handed over is seen: a sink that fails part way may have applied (and synced) some of it.
    if (!batch.empty()) max_seen_ = std::max(max_seen_, batch.back().seq);
    HUGO_TRY(inner_.process(batch));
    if (batch.empty() || batch.back().seq >= target_) stop_.request_stop();
    return ok_status();
  }
  Result<std::int64_t> resume_position(const std::string& journal_id) override {
    return inner_.resume_position(journal_id);
  }
  Status flush() override { return inner_.flush(); }

 private:
  ReplicationSink& inner_;
  std::int64_t target_;
  std::stop_source& stop_;
  std::int64_t& max_seen_;
};

}  // namespace

Status Consumer::catch_up(const std::shared_ptr<Journal>& journal, std::int64_t target) {
  std::stop_source stop;
  // Nothing to wait for: run_sink() still resumes (and checks) the sink, then returns.
  HUGO_ASSIGN_OR_RETURN(const std::int64_t position, sink->resume_position(journal->journal_id()));
  if (position >= target) stop.request_stop();
  UntilTarget until(*sink, target, stop, max_seen);
  return run_sink(*source, until, stop.get_token());
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
  c->transactional.sink = std::make_unique<PrintSink>(c->tx_db, tx_options);
  SinkOptions effect_options;
  effect_options.stream_id = "power-loss-effects";
  effect_options.clock = clock;
  effect_options.checkpoint_every = checkpoint_every;
  c->effect.name = "effect store sink";
  c->effect.sink = std::make_unique<EffectSink>(store, effect_options, c->effects);
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
