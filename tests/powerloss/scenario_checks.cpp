// Step 3 of a cut (scenario.hpp): reopen everything with the plain VFS and check.
//
// Fsync: every acknowledged mutation is there with its seq and content; no seq is reused (an
// append after reopening gets a seq above every seq acknowledged or seen by a consumer); verify
// is clean; the queue's state is the fold of the rows (the acknowledged history, then possibly
// unacknowledged later rows); every consumer resumes and ends up holding the journal's events.
// Process: the same, except that the journal may have lost its last commits (a suffix of the
// acknowledged history), and a consumer that had seen past the surviving rows must either resume
// correctly (the content checks) or fail with kCheckpointAhead (a follower: or kDiverged).
#include "tests/powerloss/consumers.hpp"
#include "tests/powerloss/scenario.hpp"

#include <hugo/checkpoint.hpp>
#include <hugo/coordinator.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>
#include <hugo/verify.hpp>

#include <set>

namespace hugo::test::powerloss {
namespace {

std::string seq_text(std::int64_t seq) { return "seq " + std::to_string(seq); }

// The position of `stream` for `journal_id` in the checkpoint store of `db`, read directly (0 if none).
std::int64_t stored_position(const std::shared_ptr<SinkDatabase>& db, const std::string& stream,
                             const std::string& journal_id, Report& report) {
  auto store = SqliteCheckpointStore::open(db);
  auto list = store.ok() ? (*store)->list() : Result<std::vector<TaskQueueReplicationCheckpoint>>(store.error());
  report.expect(list.ok(), "read the checkpoints of " + stream + ": " + (list.ok() ? "" : list.error().to_string()));
  std::int64_t position = 0;
  if (list.ok()) {
    for (const auto& cp : *list) {
      if (cp.stream_id() == stream && cp.journal_id() == journal_id) position = std::max(position, cp.global_position());
    }
  }
  return position;
}

// The pending, leased and dead-lettered tasks that folding `rows` gives, as the snapshot names them.
struct Fold {
  std::set<std::int64_t> pending;
  std::map<std::int64_t, std::int64_t> leased;  // task -> lease id
  std::set<std::int64_t> dead;
};

Fold fold(const std::vector<Event>& rows) {
  Fold f;
  for (const Event& e : rows) {
    switch (e.kind) {
      case EventKind::Enqueued:
      case EventKind::Requeued:
      case EventKind::Restored:
        f.dead.erase(e.task_id);
        f.pending.insert(e.task_id);
        break;
      case EventKind::LeaseGranted:
        f.pending.erase(e.task_id);
        f.leased[e.task_id] = e.token->lease_id;
        break;
      case EventKind::Completed:
      case EventKind::Failed:
      case EventKind::LeaseExpired:
        f.leased.erase(e.task_id);
        break;
      case EventKind::DeadLettered:
        f.dead.insert(e.task_id);
        break;
      default:
        break;
    }
  }
  return f;
}

void check_fold(const std::vector<Event>& rows, const TaskQueue& queue, Report& report) {
  const Fold expected = fold(rows);
  const QueueSnapshot snap = queue.snapshot();
  Fold found;
  for (const auto& p : snap.pending) found.pending.insert(p.task_id);
  for (const auto& l : snap.leased) found.leased[l.token.task_id] = l.token.lease_id;
  for (const auto& d : snap.dead) found.dead.insert(d.task_id);
  report.expect(found.pending == expected.pending, "the reopened queue's pending tasks differ from the fold of its rows");
  report.expect(found.leased == expected.leased, "the reopened queue's leases differ from the fold of its rows");
  report.expect(found.dead == expected.dead, "the reopened queue's dead letters differ from the fold of its rows");
}

// The acknowledgements whose rows survived, in the shape the crash tests' invariants take.
test::AckLog surviving_acks(const History& history, std::int64_t last_seq) {
  test::AckLog log;
  for (const Acked& a : history.acked) {
    if (a.rows.empty() || a.rows.back().seq > last_seq) continue;
    for (const Event& e : a.rows) {
      if (e.kind == EventKind::Enqueued) log.enqueued.insert(e.task_id);
      if (!e.token) continue;
      if (e.kind == EventKind::LeaseGranted) log.leases.push_back(*e.token);
      if (e.kind == EventKind::Heartbeat) log.heartbeats.push_back(*e.token);
      if (e.kind == EventKind::Completed) log.completed.push_back(*e.token);
      if (e.kind == EventKind::Failed && a.op == 'F') log.failed.push_back(*e.token);
    }
  }
  return log;
}

class Checker {
 public:
  Checker(const CutFiles& files, const CutOptions& options, const History& history, std::uint64_t seed, Report& report,
          Coverage& coverage)
      : files_(files), options_(options), history_(history), rng_(seed ^ 0x5bd1e995ULL), report_(report),
        coverage_(coverage) {}

  void run() {
    for (const std::string& e : history_.early_errors) report_.expect(false, "before the cut: " + e);
    const bool fsync = options_.durability == Durability::Fsync;
    JournalOptions options;
    options.durability = options_.durability;
    options.clock = clock_;
    auto journal = Journal::open(files_.journal, options);
    report_.expect(journal.ok(), "the journal does not open after the cut: " + (journal.ok() ? "" : journal.error().to_string()));
    if (!journal.ok()) return;
    journal_ = std::shared_ptr<Journal>(std::move(journal).value().release());
    // Verified once open: a cut during the journal's creation leaves an empty file, or an SQLite
    // database without tables, that Journal::open makes a journal (and verify alone refuses).
    auto verified = verify_journal(files_.journal);
    std::string found = verified.ok() ? "" : verified.error().to_string();
    if (verified.ok()) {
      for (const auto& v : verified->violations) found += " [" + seq_text(v.seq) + " " + v.check + ": " + v.message + "]";
    }
    report_.expect(verified.ok() && verified->ok(), "verify after the cut:" + found);
    read_rows();
    check_acknowledged(fsync);
    check_queue();
    check_consumers(fsync);
    if (queue_) report_.expect(queue_->close().ok(), "close the queue after the checks");
    const Status closed = journal_->close();
    report_.expect(closed.ok(), "close the journal after the checks: " + (closed.ok() ? "" : closed.error().to_string()));
  }

 private:
  void read_rows() {
    rows_ = all_rows();
    last_ = rows_.empty() ? 0 : rows_.back().seq;
  }

  const Event* row(std::int64_t seq) const {
    if (seq < 1 || seq > static_cast<std::int64_t>(rows_.size())) return nullptr;
    const Event& e = rows_[static_cast<std::size_t>(seq - 1)];
    return e.seq == seq ? &e : nullptr;
  }

  // Whether the reopened journal is the one the workload wrote (a cut can lose its creation).
  bool same_journal() const { return journal_->journal_id() == history_.journal_id; }

  void check_acknowledged(bool fsync) {
    const bool same_journal = this->same_journal();
    std::size_t lost = 0;
    std::set<std::int64_t> acked_seqs;
    for (const Acked& a : history_.acked) {
      bool kept = true;
      for (const Event& e : a.rows) {
        acked_seqs.insert(e.seq);
        max_promised_ = std::max(max_promised_, e.seq);
        const Event* now = same_journal ? row(e.seq) : nullptr;
        if (now == nullptr) {
          kept = false;
          report_.expect(!fsync, "acknowledged " + seq_text(e.seq) + " (" + print(e) + ") is lost");
          report_.expect(fsync || e.seq > last_, "acknowledged " + seq_text(e.seq) + " is lost but later rows survive");
          continue;
        }
        report_.expect(print(*now) == print(e), seq_text(e.seq) + " changed: acknowledged '" + print(e) + "', now '" + print(*now) + "'");
      }
      lost += kept ? 0 : 1;
    }
    for (const Event& e : rows_) {
      if (e.seq > max_promised_) break;
      report_.expect(acked_seqs.count(e.seq) == 1, seq_text(e.seq) + " precedes acknowledged rows but was never acknowledged");
    }
    coverage_.acked_lost += lost;
    coverage_.cuts_losing += lost > 0 ? 1 : 0;
  }

  void check_queue() {
    auto queue = TaskQueue::open(journal_, queue_options(clock_));
    report_.expect(queue.ok(), "the queue does not open after the cut: " + (queue.ok() ? "" : queue.error().to_string()));
    if (!queue.ok()) return;
    check_fold(rows_, **queue, report_);
    test::check_queue_invariants(surviving_acks(history_, last_), rows_, **queue, report_);
    queue_ = std::move(queue).value();
  }

  // Appends `count` tasks; under Fsync each gets a seq above everything ever promised or seen.
  void append(int count, bool fsync) {
    for (int i = 0; i < count && queue_; ++i) {
      auto id = queue_->enqueue("after-the-cut-" + std::to_string(i));
      report_.expect(id.ok(), "enqueue after the cut: " + (id.ok() ? "" : id.error().to_string()));
      if (!id.ok()) return;
      if (fsync) report_.expect(*id > max_promised_, "after the cut, " + seq_text(*id) + " is issued again");
    }
  }

  void check_consumers(bool fsync) {
    for (const auto& [name, seen] : history_.seen) max_promised_ = std::max(max_promised_, fsync && same_journal() ? seen : 0);
    append(static_cast<int>(rng_() % 3), fsync);
    ConsumerFiles files{files_.tx_db, files_.coord_db, files_.effects_db};
    auto consumers = Consumers::open(files, history_.sink_durability, 1, journal_);
    report_.expect(consumers.ok(), "the consumers do not open after the cut: " + (consumers.ok() ? "" : consumers.error().to_string()));
    if (!consumers.ok()) return;
    Consumers& c = **consumers;
    const std::int64_t tx_position = stored_position(c.tx_db, "power-loss-tx", journal_->journal_id(), report_);
    const std::int64_t effect_position = stored_position(c.coord_db, "power-loss-effects", journal_->journal_id(), report_);
    const bool tx_ahead = resume(c.transactional, tx_position, fsync);
    const bool effect_ahead = resume(c.effect, effect_position, fsync);
    append(1, fsync);
    if (!tx_ahead) check_transactional(c);
    if (!effect_ahead) check_effects(c);
    check_follower(fsync);
  }

  // The follower resumes from its replica's position: it either fails (kCheckpointAhead or
  // kDiverged), which is right only if it was ahead, or ends up with exactly the journal's rows.
  void check_follower(bool fsync) {
    const auto position = read_replica_position(files_.replica);
    const auto seen = same_journal() ? history_.seen.find(std::string(kFollower)) : history_.seen.end();
    const bool ahead = (position.ok() && position->journal_id == journal_->journal_id() && position->seq > last_) ||
                       (seen != history_.seen.end() && seen->second > last_);
    report_.expect(!fsync || !ahead, "the follower's replica is ahead of the journal after an Fsync cut");
    coverage_.consumers_ahead += ahead ? 1 : 0;
    auto follower = Follower::open(journal_, files_.replica);
    Result<std::int64_t> applied = follower.ok() ? (*follower)->catch_up() : Result<std::int64_t>(follower.error());
    if (!applied.ok()) {
      const bool detected = applied.error().code() == kCheckpointAhead || applied.error().code() == kDiverged;
      // A cut that lost the journal's creation leaves a journal with a new id: the replica of the
      // old one has diverged from it, whatever its position.
      const bool other_journal = !history_.journal_id.empty() && history_.journal_id != journal_->journal_id();
      report_.expect(detected, "the follower fails to resume: " + applied.error().to_string());
      report_.expect(!detected || ahead || (other_journal && applied.error().code() == kDiverged),
                     "the follower is not ahead but fails with " + applied.error().to_string());
      coverage_.ahead_detected += detected && ahead ? 1 : 0;
      return;
    }
    follower->reset();
    auto reader = JournalReader::open(files_.replica);
    report_.expect(reader.ok(), "open the replica: " + (reader.ok() ? "" : reader.error().to_string()));
    if (!reader.ok()) return;
    const std::vector<Event> owner = all_rows();
    auto replica = (*reader)->read(0, owner.size() + 1);
    report_.expect(replica.ok(), "read the replica");
    if (!replica.ok()) return;
    bool same = replica->size() == owner.size();
    for (std::size_t i = 0; same && i < owner.size(); ++i) {
      same = (*replica)[i].seq == owner[i].seq && print((*replica)[i]) == print(owner[i]);
    }
    report_.expect(same, "the follower's replica holds " + std::to_string(replica->size()) +
                             " rows that differ from the journal's " + std::to_string(owner.size()) +
                             (ahead ? " (its replica was ahead of the journal and this was not detected: expected " +
                                          std::string(kCheckpointAhead) + ")"
                                    : ""));
  }

  // Catches `consumer` up after the cut. Returns true if it reported kCheckpointAhead (which is
  // right only if it is ahead: it processed, or its checkpoint names, a seq past the survivors).
  bool resume(Consumer& consumer, std::int64_t position, bool fsync) {
    // What a consumer saw of another journal (this one's creation was lost) does not put it ahead:
    // its positions are per journal id, and it starts this one from the beginning.
    const auto seen = same_journal() ? history_.seen.find(consumer.name) : history_.seen.end();
    const bool ahead = position > last_ || (seen != history_.seen.end() && seen->second > last_);
    report_.expect(!fsync || !ahead, consumer.name + " is ahead of the journal after an Fsync cut (position " +
                                         std::to_string(position) + ", journal at " + std::to_string(last_) + ")");
    coverage_.consumers_ahead += ahead ? 1 : 0;
    ahead_[consumer.name] = ahead;
    return stopped(consumer.name, consumer.catch_up(journal_, journal_->durable_seq()));
  }

  // Whether a catch-up of `name` failed. Failing with kCheckpointAhead is right for a consumer
  // that is ahead (it may notice only once the journal reissues a seq it saw); any other
  // failure, or that one for a consumer that is not ahead, is a violation.
  bool stopped(const std::string& name, const Status& caught_up) {
    if (caught_up.ok()) return false;
    const bool detected = caught_up.error().code() == kCheckpointAhead;
    report_.expect(detected, name + " fails to resume: " + caught_up.error().to_string());
    report_.expect(!detected || ahead_[name], name + " reports " + std::string(kCheckpointAhead) + " but it is not ahead");
    coverage_.ahead_detected += detected && ahead_[name] ? 1 : 0;
    return true;
  }

  // The words every content violation of a consumer that was ahead ends with.
  std::string if_ahead(const std::string& name) {
    return ahead_[name] ? " (its checkpoint was ahead of the journal and this was not detected: expected " +
                              std::string(kCheckpointAhead) + ")"
                        : "";
  }

  void check_transactional(Consumers& c) {
    if (stopped(c.transactional.name, c.transactional.catch_up(journal_, journal_->durable_seq()))) return;
    auto applied = c.tx_db->query("SELECT seq, print FROM applied WHERE journal_id = ?1 ORDER BY rowid",
                                  {journal_->journal_id()});
    report_.expect(applied.ok(), "read the transactional sink");
    if (!applied.ok()) return;
    const std::vector<Event> all = all_rows();
    std::string first_difference;
    for (std::size_t i = 0; first_difference.empty() && i < std::max(all.size(), applied->size()); ++i) {
      const std::string journal_row = i < all.size() ? seq_text(all[i].seq) + " " + print(all[i]) : "nothing";
      const std::string sink_row = i < applied->size() ? seq_text(std::get<std::int64_t>((*applied)[i][0])) + " " +
                                                             std::get<std::string>((*applied)[i][1])
                                                       : "nothing";
      if (journal_row != sink_row) first_difference = "row " + std::to_string(i + 1) + ": journal '" + journal_row + "', sink '" + sink_row + "'";
    }
    report_.expect(first_difference.empty(), "the transactional sink differs from the journal at " + first_difference +
                                                 if_ahead(c.transactional.name));
  }

  // Every row has exactly its own effect: replaying the coordinator over the whole journal returns
  // each event's own print (a missing record just runs the handler now: at-least-once).
  void check_effects(Consumers& c) {
    if (stopped(c.effect.name, c.effect.catch_up(journal_, journal_->durable_seq()))) return;
    for (const std::string& f : c.effect_sink().foreign_effects()) {
      report_.expect(false, "the effect store sink applied another event's effect: " + f + if_ahead(c.effect.name));
    }
    TaskQueueDeterministicCoordinator coordinator(c.effects);
    std::size_t foreign = 0;
    for (const Event& e : all_rows()) {
      auto recorded = coordinator.execute<std::string>(e, [](const Event& event) { return print(event); });
      report_.expect(recorded.ok(), "replay the effect of " + seq_text(e.seq) + ": " +
                                        (recorded.ok() ? "" : recorded.error().to_string()) + if_ahead(c.effect.name));
      foreign += recorded.ok() && *recorded != print(e) ? 1 : 0;
    }
    report_.expect(foreign == 0, "the effect store holds another event's effect for " + std::to_string(foreign) +
                                     " seqs of the journal" + if_ahead(c.effect.name));
  }

  std::vector<Event> all_rows() {
    std::vector<Event> all;
    for (std::int64_t after = 0;;) {
      auto batch = journal_->read(after, 4096);
      report_.expect(batch.ok(), "read the journal again");
      if (!batch.ok() || batch->empty()) return all;
      after = batch->back().seq;
      all.insert(all.end(), batch->begin(), batch->end());
    }
  }

  const CutFiles& files_;
  CutOptions options_;
  const History& history_;
  std::mt19937_64 rng_;
  Report& report_;
  Coverage& coverage_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::shared_ptr<Journal> journal_;
  std::unique_ptr<TaskQueue> queue_;
  std::vector<Event> rows_;
  std::int64_t last_ = 0;
  std::int64_t max_promised_ = 0;  // highest seq acknowledged or (Fsync) seen by a consumer
  std::map<std::string, bool> ahead_;
};

}  // namespace

void check_after_cut(const CutFiles& files, const CutOptions& options, const History& history, std::uint64_t seed,
                     Report& report, Coverage& coverage) {
  Checker(files, options, history, seed, report, coverage).run();
}

}  // namespace hugo::test::powerloss
