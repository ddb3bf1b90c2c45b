// Steps 1 and 2 of a cut (scenario.hpp): the workload through the power-loss VFS, then the cut.
#include "tests/powerloss/scenario.hpp"

#include "tests/powerloss/consumers.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include <random>

namespace hugo::test::powerloss {

std::string Coverage::text() const {
  return std::to_string(cuts_midway) + " cuts inside the workload; " + std::to_string(acked) + " acknowledged mutations (" + std::to_string(acked_lost) + " lost, in " +
         std::to_string(cuts_losing) + " cuts), " + std::to_string(writes_undone) + " unsynced writes undone, " +
         std::to_string(writes_kept) + " of them redone (subset), " + std::to_string(torn) + " torn, " + std::to_string(files_dropped) + " files dropped, " +
         std::to_string(reopens) + " clean reopens; " + std::to_string(consumers_ahead) +
         " consumers ahead of the journal, " + std::to_string(ahead_detected) + " of them detected";
}

TaskQueueOptions queue_options(const std::shared_ptr<Clock>& clock) {
  TaskQueueOptions options;
  options.name = "power";
  options.capacity = 100'000;
  options.lease_duration = std::chrono::seconds(30);
  options.heartbeat_interval = Duration::zero();  // every heartbeat is a row
  options.max_delivery_attempts = 3;
  options.run_sweeper = false;
  options.clock = clock;
  return options;
}

namespace {

class Workload {
 public:
  Workload(PowerLossVfs& vfs, const CutFiles& files, const CutOptions& options, std::uint64_t seed, History& history)
      : vfs_(vfs), files_(files), options_(options), rng_(seed), history_(history) {
    // Process cuts also try consumers stricter than the journal (their checkpoints can get ahead).
    history_.sink_durability = options.durability == Durability::Fsync || rng_() % 2 == 0 ? Durability::Fsync
                                                                                           : Durability::Process;
    checkpoint_bytes_ = std::array<std::uint64_t, 3>{0, 4096, 32768}[rng_() % 3];
    background_ = rng_() % 2 == 0;
    checkpoint_every_ = 1 + rng_() % 4;
  }

  // Runs until the power is cut or the planned steps are done; returns the clean reopens.
  std::size_t run() {
    if (!open_session()) return 0;
    const int steps = 1 + static_cast<int>(rng_() % 40);
    std::size_t reopens = 0;
    for (int i = 0; i < steps && !stopped_; ++i) {
      if (rng_() % 40 == 0) {
        close_session();
        ++reopens;
        if (!open_session()) break;
      } else {
        step();
      }
    }
    return reopens;
  }

  void close_session() {
    if (consumers_) {
      for (Consumer* c : {&consumers_->transactional, &consumers_->effect}) {
        history_.seen[c->name] = std::max(history_.seen[c->name], c->max_seen());
      }
    }
    if (follower_) history_.seen[std::string(kFollower)] = std::max(history_.seen[std::string(kFollower)], follower_->max_seen);
    follower_.reset();
    consumers_.reset();
    if (queue_) (void)queue_->close();
    queue_.reset();
    if (journal_) (void)journal_->close();
    journal_.reset();
  }

 private:
  bool open_session() {
    JournalOptions options;
    options.durability = options_.durability;
    options.clock = clock_;
    options.wal_checkpoint_bytes = checkpoint_bytes_;
    options.background_checkpoints = background_;
    auto journal = Journal::open(files_.journal, options);
    if (!journal.ok()) return failed(journal.error(), "open the journal");
    journal_ = std::shared_ptr<Journal>(std::move(journal).value().release());
    if (history_.journal_id.empty()) history_.journal_id = journal_->journal_id();
    auto queue = TaskQueue::open(journal_, queue_options(clock_));
    if (!queue.ok()) return failed(queue.error(), "open the queue");
    queue_ = std::move(queue).value();
    ConsumerFiles consumer_files{files_.tx_db, files_.coord_db, files_.effects_db};
    auto consumers = Consumers::open(consumer_files, history_.sink_durability, checkpoint_every_, journal_);
    if (!consumers.ok()) return failed(consumers.error(), "open the consumers");
    consumers_ = std::move(consumers).value();
    auto follower = Follower::open(journal_, files_.replica);
    if (!follower.ok()) return failed(follower.error(), "open the follower");
    follower_ = std::move(follower).value();
    return true;
  }

  // An error is expected only once the power is off; either way the workload ends.
  bool failed(const Error& error, const std::string& what) {
    if (!vfs_.is_cut()) history_.early_errors.push_back(what + ": " + error.to_string());
    stopped_ = true;
    return false;
  }

  void acknowledged(char op, std::int64_t before) {
    const std::int64_t after = journal_->last_accepted_seq();
    const auto count = static_cast<std::size_t>(after - before);
    std::optional<std::vector<Event>> rows = journal_->read_recent(before, count);
    if (!rows || rows->size() != count) {
      history_.early_errors.push_back("the rows of an acknowledged call are not in read_recent");
      stopped_ = true;
      return;
    }
    history_.acked.push_back({op, std::move(*rows)});
  }

  OwnershipToken take() {
    const std::size_t pick = rng_() % held_.size();
    const OwnershipToken token = held_[pick];
    held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(pick));
    return token;
  }

  void step() {
    const unsigned r = rng_() % 100;
    const std::int64_t before = journal_->last_accepted_seq();
    const std::string payload = "task-" + std::to_string(++counter_);
    if (r < 20) {
      auto id = queue_->enqueue(payload);
      if (id.ok()) return acknowledged('E', before);
      failed(id.error(), "enqueue");
    } else if (r < 28) {
      auto ids = queue_->enqueue_batch({payload + "a", payload + "b", payload + "c"});
      if (ids.ok()) return acknowledged('E', before);
      failed(ids.error(), "enqueue_batch");
    } else if (r < 42) {
      Result<std::vector<Lease>> leases = std::vector<Lease>{};
      if (rng_() % 2 == 0) {
        leases = queue_->lease_batch("worker", 1 + rng_() % 3, Wait::none());
      } else if (auto one = queue_->lease("worker", Wait::none()); one.ok()) {
        leases.value().push_back(std::move(one).value());
      } else {
        leases = std::move(one).error();
      }
      if (leases.ok()) {
        for (const Lease& l : *leases) held_.push_back(l.token);
        return acknowledged('L', before);
      }
      if (leases.error().code() != errc::queue_timeout) failed(leases.error(), "lease");
    } else if (r < 50 && !held_.empty()) {
      const OwnershipToken token = held_[rng_() % held_.size()];
      auto beat = queue_->heartbeat(token);
      if (beat.ok()) return acknowledged('H', before);
      failed(beat.error(), "heartbeat");
    } else if (r < 66 && !held_.empty()) {
      std::vector<OwnershipToken> tokens{take()};
      while (!held_.empty() && rng_() % 2 == 0) tokens.push_back(take());
      const Status done = tokens.size() == 1 ? queue_->complete(tokens[0]) : queue_->complete_batch(tokens);
      if (done.ok()) return acknowledged('C', before);
      failed(done.error(), "complete");
    } else if (r < 76 && !held_.empty()) {
      const OwnershipToken token = take();
      auto outcome = queue_->fail(token, Error("app.power_loss", "a failed attempt"), rng_() % 3 != 0);
      if (outcome.ok()) {
        if (*outcome == FailOutcome::DeadLettered) dead_.push_back(token.task_id);
        return acknowledged('F', before);
      }
      failed(outcome.error(), "fail");
    } else if (r < 80 && !dead_.empty()) {
      const std::int64_t task = dead_.back();
      dead_.pop_back();
      const Status requeued = queue_->requeue_dead_letter(task);
      if (requeued.ok()) return acknowledged('R', before);
      failed(requeued.error(), "requeue_dead_letter");
    } else if (r < 84 && !held_.empty()) {
      clock_->advance(std::chrono::seconds(31));
      auto expired = queue_->sweep_expired();
      if (!expired.ok()) return (void)failed(expired.error(), "sweep_expired");
      held_.clear();
      acknowledged('S', before);
    } else {
      for (Consumer* c : {&consumers_->transactional, &consumers_->effect}) {
        const Status caught_up = c->catch_up(journal_, journal_->durable_seq());
        if (!caught_up.ok()) return (void)failed(caught_up.error(), c->name);
      }
      if (auto applied = follower_->catch_up(); !applied.ok()) failed(applied.error(), "follower");
    }
  }

  PowerLossVfs& vfs_;
  const CutFiles& files_;
  CutOptions options_;
  std::mt19937_64 rng_;
  History& history_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::uint64_t checkpoint_bytes_ = 0;
  bool background_ = true;
  std::size_t checkpoint_every_ = 1;
  std::shared_ptr<Journal> journal_;
  std::unique_ptr<TaskQueue> queue_;
  std::unique_ptr<Consumers> consumers_;
  std::unique_ptr<Follower> follower_;
  std::vector<OwnershipToken> held_;
  std::vector<std::int64_t> dead_;
  int counter_ = 0;
  bool stopped_ = false;
};

}  // namespace

History run_until_cut(PowerLossVfs& vfs, const CutFiles& files, const CutOptions& options, std::uint64_t seed,
                      Coverage& coverage) {
  History history;
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  vfs.arm(1 + rng() % 600);
  Workload workload(vfs, files, options, seed, history);
  coverage.reopens += workload.run();
  coverage.cuts_midway += vfs.is_cut() ? 1 : 0;
  vfs.cut_now();
  workload.close_session();
  const RestoreReport restored = vfs.restore(options.mode, rng);
  coverage.writes_undone += restored.writes_undone;
  coverage.torn += restored.torn ? 1 : 0;
  coverage.writes_kept += restored.writes_kept;
  coverage.files_dropped += restored.files_dropped;
  coverage.acked += history.acked.size();
  return history;
}

}  // namespace hugo::test::powerloss
