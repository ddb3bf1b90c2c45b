#include "tests/chaos/mixed_scenario.hpp"

#include "tests/chaos/mixed_files.hpp"

#include <hugo/coordinator.hpp>
#include <hugo/effects.hpp>
#include <hugo/journal.hpp>
#include <hugo/sinks.hpp>
#include <hugo/task_queue.hpp>

#include <fstream>
#include <sstream>
#include <optional>

namespace hugo::chaos {
namespace {

namespace files = mixed_files;

// The value of `r`, or nullopt after recording its error as a violation.
template <class T>
std::optional<T> opened(Result<T> r, const std::string& what, Report& report) {
  report.expect(r.ok(), what + ": " + (r.ok() ? std::string() : r.error().to_string()));
  if (!r.ok()) return std::nullopt;
  return std::move(r).value();
}

std::string task_text(std::int64_t task) { return "task " + std::to_string(task); }

// The global position of `stream` in the checkpoint store of `db` (0 if it has none yet).
std::optional<std::int64_t> checkpoint_position(const std::shared_ptr<SinkDatabase>& db, std::string_view stream,
                                                Report& report) {
  auto store = opened(SqliteCheckpointStore::open(db), "open the checkpoint store", report);
  if (!store) return std::nullopt;
  auto list = opened((*store)->list(), "list the checkpoints", report);
  if (!list) return std::nullopt;
  std::int64_t position = 0;
  for (const auto& cp : *list) {
    if (cp.stream_id() == stream) position = cp.global_position();
  }
  return position;
}

// The seq an effect id of the coordinator ends with ("{journal}/taskqueue.replication::{queue}::{seq}").
std::int64_t effect_seq(const std::string& effect_id) {
  const auto colon = effect_id.rfind("::");
  return colon == std::string::npos ? 0 : std::atoll(effect_id.c_str() + colon + 2);
}

}  // namespace

std::vector<std::string> MixedScenario::child_argv(const std::filesystem::path& dir, unsigned child_seed) {
  return {child_, "mixed", dir.string(), std::to_string(child_seed)};
}

void MixedScenario::check_after_kill(const std::filesystem::path& dir, Report& report) {
  const std::int64_t last_seq = check_queue(dir, report);
  check_transactional_sink(dir, last_seq, report);
  check_coordinated_sink(dir, last_seq, report);
}

std::string MixedScenario::summary() const {
  std::size_t rows = 0;
  for (const auto& [kind, count] : kinds_) rows += count;
  std::string text = "journal " + std::to_string(rows) + " rows (";
  for (const auto& [kind, count] : kinds_) text += std::string(to_string(kind)) + " " + std::to_string(count) + ", ";
  int runs = 0;
  int reruns = 0;
  for (const auto& [seq, count] : runs_) runs += count, reruns += count - 1;
  int pending = 0;
  for (const auto& [seq, count] : pending_at_kills_) pending += count;
  return text.substr(0, text.size() - 2) + "; " + std::to_string(scheduled_) + " with a not-before time); transactional sink at " +
         std::to_string(tx_position_) +
         ", coordinated sink at " + std::to_string(coord_position_) + "; " + std::to_string(runs) + " handler runs, " +
         std::to_string(reruns) + " reruns of " + std::to_string(pending) + " claims pending at kills";
}

std::int64_t MixedScenario::check_queue(const std::filesystem::path& dir, Report& report) {
  auto journal = opened(Journal::open(dir / files::journal, {}), "reopen the journal", report);
  if (!journal) return 0;
  std::shared_ptr<Journal> shared(std::move(*journal).release());
  auto queue = opened(TaskQueue::open(shared, mixed_queue_options()), "reopen the queue", report);
  if (!queue) return 0;
  std::vector<Event> rows;
  for (std::int64_t after = 0;;) {
    auto batch = opened(shared->read(after, 4096), "read the journal", report);
    if (!batch || batch->empty()) break;
    after = batch->back().seq;
    rows.insert(rows.end(), batch->begin(), batch->end());
  }
  const test::AckLog acks = test::read_acks((dir / files::acks).string());
  test::check_queue_invariants(acks, rows, **queue, report, &fenced_);
  check_history(rows, report);
  check_transactions(*shared, rows, report);

  // Heartbeats: each acknowledged one extended its lease with a Heartbeat row (interval 0).
  std::map<std::int64_t, int> beats_acked;
  std::map<std::int64_t, int> beats_journaled;
  for (const auto& t : acks.heartbeats) ++beats_acked[t.lease_id];
  for (const Event& e : rows) {
    if (e.kind == EventKind::Heartbeat && e.token) ++beats_journaled[e.token->lease_id];
  }
  for (const auto& [lease, count] : beats_acked) {
    report.expect(beats_journaled[lease] >= count, "lease " + std::to_string(lease) + ": " + std::to_string(count) +
                                                       " heartbeats acknowledged, " +
                                                       std::to_string(beats_journaled[lease]) + " journaled");
  }

  auto info = opened(shared->info(), "journal info", report);
  const std::int64_t last = rows.empty() ? 0 : rows.back().seq;
  if (info) report.expect(info->last_seq == last, "last_seq " + std::to_string(info->last_seq) + " but the last row is " + std::to_string(last));
  return last;
}

void MixedScenario::check_history(const std::vector<Event>& rows, Report& report) {
  // Rows committed before an earlier kill keep their seq and content for good.
  report.expect(rows.size() >= seen_rows_.size(), "the journal shrank from " + std::to_string(seen_rows_.size()) +
                                                      " to " + std::to_string(rows.size()) + " rows");
  std::vector<RowPrint> prints;
  prints.reserve(rows.size());
  for (const Event& e : rows) {
    prints.push_back({static_cast<int>(e.kind), e.task_id, e.attempt, e.token ? e.token->lease_id : 0});
  }
  for (std::size_t i = 0; i < std::min(prints.size(), seen_rows_.size()); ++i) {
    report.expect(prints[i] == seen_rows_[i], "seq " + std::to_string(i + 1) + " changed after a restart (reused)");
  }
  if (prints.size() >= seen_rows_.size()) seen_rows_ = std::move(prints);

  // One live lease per task at every point of the history, every lease event names it, no task
  // is leased before the time its last Enqueued, Restored or Requeued row set, and each lease took
  // the best task leasable then: the highest priority, the oldest within it.
  std::map<std::int64_t, std::int64_t> live;  // task -> lease id
  std::map<std::int64_t, Pending> pending;     // task -> when and how it waits to be leased
  std::map<std::int64_t, std::int32_t> priority;  // task -> its priority (kept across retries)
  std::map<std::string, std::int64_t> key_holder;  // idempotency key -> its live task
  std::map<std::int64_t, std::string> key_of;      // live keyed task -> its key
  const auto release_key = [&](std::int64_t task) {
    if (auto k = key_of.find(task); k != key_of.end()) {
      key_holder.erase(k->second);
      key_of.erase(k);
    }
  };
  kinds_.clear();
  scheduled_ = 0;
  keyed_ = 0;
  for (const Event& e : rows) {
    ++kinds_[e.kind];
    const std::int64_t lease = e.token ? e.token->lease_id : 0;
    switch (e.kind) {
      case EventKind::Enqueued:
      case EventKind::Restored:
      case EventKind::Requeued:
        if (e.idempotency_key) {
          ++keyed_;
          const std::int64_t holder = key_holder[*e.idempotency_key];
          report.expect(holder == 0, "seq " + std::to_string(e.seq) + " enqueued key '" + *e.idempotency_key +
                                         "' while " + task_text(holder) + " held it");
          key_holder[*e.idempotency_key] = e.task_id;
          key_of[e.task_id] = *e.idempotency_key;
        }
        if (e.kind != EventKind::Requeued) priority[e.task_id] = e.priority;
        pending[e.task_id] = Pending{e.available_at.value_or(e.occurred_at), priority[e.task_id], e.seq};
        if (e.available_at) ++scheduled_;
        break;
      case EventKind::Drained:
      case EventKind::DeadLettered:
        pending.erase(e.task_id);
        release_key(e.task_id);
        break;
      case EventKind::Canceled:
        // A leased task's cancel names (and ends) its live lease; a pending one's names none.
        report.expect(lease == live[e.task_id], "seq " + std::to_string(e.seq) + " cancels " + task_text(e.task_id) +
                                                    " naming lease " + std::to_string(lease) + ", whose live lease is " +
                                                    std::to_string(live[e.task_id]));
        report.expect(lease != 0 || pending.contains(e.task_id),
                      "seq " + std::to_string(e.seq) + " cancels " + task_text(e.task_id) + ", which is not pending");
        pending.erase(e.task_id);
        live[e.task_id] = 0;
        release_key(e.task_id);
        break;
      case EventKind::LeaseGranted:
        check_lease_choice(e, pending, report);
        pending.erase(e.task_id);
        report.expect(live[e.task_id] == 0, task_text(e.task_id) + " granted lease " + std::to_string(lease) +
                                                " while lease " + std::to_string(live[e.task_id]) + " was live");
        live[e.task_id] = lease;
        break;
      case EventKind::Heartbeat:
      case EventKind::Completed:
      case EventKind::Failed:
      case EventKind::LeaseExpired:
        report.expect(lease != 0 && live[e.task_id] == lease,
                      "seq " + std::to_string(e.seq) + " names lease " + std::to_string(lease) + " of " +
                          task_text(e.task_id) + ", whose live lease is " + std::to_string(live[e.task_id]));
        if (e.kind != EventKind::Heartbeat) live[e.task_id] = 0;
        if (e.kind == EventKind::Completed) release_key(e.task_id);
        break;
      default:
        break;
    }
  }
}

void MixedScenario::check_transactions(Journal& journal, const std::vector<Event>& rows, Report& report) {
  // Every task enqueued in a transaction (payload "tx-...") has its row in chaos_orders, and
  // every row its task: never one without the other, whenever the kill came.
  std::set<std::string> orders;
  auto read = journal.transaction([&](Tx& tx) -> Status {
    HUGO_TRY(tx.execute(kOrdersTable));
    HUGO_ASSIGN_OR_RETURN(auto found, tx.query("SELECT payload FROM chaos_orders"));
    for (const SqlRow& row : found) orders.insert(std::get<std::string>(row[0]));
    return ok_status();
  });
  report.expect(read.ok(), "read chaos_orders: " + (read.ok() ? std::string() : read.error().to_string()));
  std::set<std::string> tasks;
  for (const Event& e : rows) {
    if (e.kind == EventKind::Enqueued && e.payload && e.payload->rfind("tx-", 0) == 0) tasks.insert(*e.payload);
  }
  for (const std::string& task : tasks) report.expect(orders.contains(task), "task '" + task + "' has no order row");
  for (const std::string& order : orders) report.expect(tasks.contains(order), "order row '" + order + "' has no task");
  transactions_ = tasks.size();
}

void MixedScenario::check_lease_choice(const Event& lease, const std::map<std::int64_t, Pending>& pending,
                                       Report& report) {
  const auto chosen = pending.find(lease.task_id);
  report.expect(chosen != pending.end(), task_text(lease.task_id) + " was leased at seq " +
                                             std::to_string(lease.seq) + " while not pending");
  if (chosen == pending.end()) return;
  report.expect(lease.occurred_at >= chosen->second.due, task_text(lease.task_id) + " was leased at seq " +
                                                              std::to_string(lease.seq) + " before its not-before time");
  // The best other task leasable then, if it ranks above the chosen one.
  const auto ranks_above = [](const Pending& a, const Pending& b) {
    return a.priority > b.priority || (a.priority == b.priority && a.order < b.order);
  };
  std::optional<std::pair<std::int64_t, Pending>> best;
  for (const auto& [task, other] : pending) {
    if (task == lease.task_id || other.due > lease.occurred_at) continue;  // not leasable then
    if (ranks_above(other, chosen->second) && (!best || ranks_above(other, best->second))) best.emplace(task, other);
  }
  report.expect(!best, best ? "seq " + std::to_string(lease.seq) + " leased " + task_text(lease.task_id) +
                                  " (priority " + std::to_string(chosen->second.priority) + ") while " +
                                  task_text(best->first) + " (priority " + std::to_string(best->second.priority) +
                                  ", pending since seq " + std::to_string(best->second.order) +
                                  ") was leasable ahead of it"
                            : std::string());
}

void MixedScenario::check_transactional_sink(const std::filesystem::path& dir, std::int64_t last_seq, Report& report) {
  auto db = opened(SinkDatabase::open(dir / files::tx_sink), "open the transactional sink", report);
  if (!db) return;
  // A child killed before the sink's first batch never created the table: that is "empty".
  const Status table =
      (*db)->execute_script("CREATE TABLE IF NOT EXISTS applied (journal_id TEXT NOT NULL, seq INTEGER NOT NULL)");
  report.expect(table.ok(), "create the applied table");
  const auto position = checkpoint_position(*db, files::tx_stream, report);
  auto stats = opened((*db)->query("SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM applied"),
                      "query the applied table", report);
  if (!position || !stats) return;
  const std::int64_t count = sql_int((*stats)[0][0]);
  const std::int64_t distinct = sql_int((*stats)[0][1]);
  const std::int64_t max = sql_int((*stats)[0][2]);
  const std::string at = " (checkpoint " + std::to_string(*position) + ")";
  report.expect(count == distinct, "transactional sink applied " + std::to_string(count - distinct) +
                                       " events more than once" + at);
  report.expect(count == *position && max == *position, "transactional sink holds " + std::to_string(count) +
                                                            " rows up to seq " + std::to_string(max) + at);
  report.expect(*position >= tx_position_, "transactional checkpoint moved back from " + std::to_string(tx_position_) + at);
  report.expect(*position <= last_seq, "transactional checkpoint is past the journal's last seq " + std::to_string(last_seq));
  tx_position_ = std::max(tx_position_, *position);
}

void MixedScenario::check_coordinated_sink(const std::filesystem::path& dir, std::int64_t last_seq, Report& report) {
  auto db = opened(SinkDatabase::open(dir / files::coord_sink), "open the coordinated sink", report);
  if (!db) return;
  const auto position = checkpoint_position(*db, files::coord_stream, report);
  auto effects = opened(DeterministicEffectStore::open(dir / files::effects), "open the effect store", report);
  if (!position || !effects) return;
  auto records = opened((*effects)->list(false), "list the effects", report);
  if (!records) return;
  const std::string at = " (checkpoint " + std::to_string(*position) + ")";
  report.expect(*position >= coord_position_, "coordinated checkpoint moved back from " + std::to_string(coord_position_) + at);
  report.expect(*position <= last_seq, "coordinated checkpoint is past the journal's last seq " + std::to_string(last_seq));
  coord_position_ = std::max(coord_position_, *position);

  std::set<std::int64_t> done;
  for (const EffectRecord& r : *records) {
    if (r.kind != kEffectKind) continue;
    if (r.state == EffectState::Done) done.insert(effect_seq(r.effect_id));
    else ++pending_at_kills_[effect_seq(r.effect_id)];  // may legitimately run once more
  }
  // New handler runs since the previous kill (a torn last line is left for later).
  std::ifstream in(dir / files::run_log, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(run_log_offset_));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  run_log_offset_ += text.size();
  std::istringstream lines(text);
  std::string word;
  std::int64_t seq = 0;
  std::set<std::int64_t> ran_now;
  while (lines >> word >> seq) {
    ++runs_[seq];
    ran_now.insert(seq);
  }
  for (std::int64_t s : ran_now) {
    const int allowed = 1 + pending_at_kills_[s];
    report.expect(runs_[s] <= allowed, "the handler of seq " + std::to_string(s) + " ran " + std::to_string(runs_[s]) +
                                           " times, allowed " + std::to_string(allowed));
  }
  for (std::int64_t s : done) {
    report.expect(runs_.count(s) == 1, "the effect of seq " + std::to_string(s) + " is recorded but its handler never ran");
  }
  std::int64_t unrecorded = 0;
  for (std::int64_t s = 1; s <= *position; ++s) unrecorded += done.count(s) == 0 ? 1 : 0;
  report.expect(unrecorded == 0, std::to_string(unrecorded) + " events below the coordinated checkpoint have no recorded effect" + at);
}

}  // namespace hugo::chaos
