// The mixed scenario: queue workers and both kinds of sink in one child (tests/chaos/chaos_child.cpp).
// After every kill it reopens the journal, the queue, both sink databases and the effect store,
// and checks:
//   - no acknowledged mutation is lost (enqueue, lease, heartbeat, completion, failure);
//   - no seq is reused: seqs are 1..N, and every row seen after an earlier kill is still there,
//     unchanged;
//   - no task ever has two live leases, in the snapshot and anywhere in the journal's history;
//     every heartbeat, completion, failure and expiry names the task's live lease;
//   - attempts never go backwards, in the history and against the acknowledged leases;
//   - stale tokens are fenced;
//   - every acknowledged cancel is journaled, and no row of a canceled task follows its cancel;
//   - one live task per idempotency key at every point of the history;
//   - every task enqueued in a transaction has its application row, and every row its task;
//   - the transactional sink holds events 1..checkpoint, each exactly once;
//   - no recorded effect's handler runs twice (a rerun is allowed only for a claim that was
//     pending at a kill), and every effect up to the coordinated sink's checkpoint is recorded;
//   - neither sink's checkpoint moves backwards or past the journal.
#pragma once

#include "tests/chaos/harness.hpp"

#include <hugo/event.hpp>
#include <hugo/journal.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace hugo::chaos {

class MixedScenario final : public Scenario {
 public:
  explicit MixedScenario(std::string child_binary) : child_(std::move(child_binary)) {}

  std::string name() const override { return "mixed"; }
  std::vector<std::string> child_argv(const std::filesystem::path& dir, unsigned child_seed) override;
  void check_after_kill(const std::filesystem::path& dir, Report& report) override;
  std::string summary() const override;
  // Rows that scheduled a task (available_at set), as of the last check: the workload's proof
  // that it exercised scheduling.
  std::size_t scheduled_rows() const { return scheduled_; }
  // Rows of `kind`, as of the last check.
  std::size_t rows_of(EventKind kind) const { return kinds_.contains(kind) ? kinds_.at(kind) : 0; }
  // Enqueued rows with an idempotency key, as of the last check.
  std::size_t keyed_rows() const { return keyed_; }
  // Tasks enqueued in a transaction with an application row, as of the last check.
  std::size_t transactions() const { return transactions_; }

 private:
  struct RowPrint {
    int kind;
    std::int64_t task_id;
    std::int32_t attempt;
    std::int64_t lease_id;
    friend bool operator==(const RowPrint&, const RowPrint&) = default;
  };

  // A pending task as the history shows it: leasable from `due`, in (priority, order) rank.
  struct Pending {
    Timestamp due{};
    std::int32_t priority = 0;
    std::int64_t order = 0;  // seq of the row that made it pending
  };

  // Returns the journal's last seq (0 if it could not be opened).
  std::int64_t check_queue(const std::filesystem::path& dir, Report& report);
  void check_history(const std::vector<Event>& rows, Report& report);
  // Application rows and the tasks enqueued with them are always committed together.
  void check_transactions(Journal& journal, const std::vector<Event>& rows, Report& report);
  // The lease took a pending task, not before its time, and no leasable task ranked above it.
  void check_lease_choice(const Event& lease, const std::map<std::int64_t, Pending>& pending, Report& report);
  void check_transactional_sink(const std::filesystem::path& dir, std::int64_t last_seq, Report& report);
  void check_coordinated_sink(const std::filesystem::path& dir, std::int64_t last_seq, Report& report);

  std::string child_;
  std::vector<RowPrint> seen_rows_;    // index seq - 1, as read after earlier kills
  std::set<std::int64_t> fenced_;      // lease ids already shown to be fenced
  std::int64_t tx_position_ = 0;       // checkpoints as read after the previous kill
  std::int64_t coord_position_ = 0;
  std::map<std::int64_t, int> runs_;              // handler runs per seq (from the run log)
  std::map<std::int64_t, int> pending_at_kills_;  // per seq: kills that left its claim pending
  std::uintmax_t run_log_offset_ = 0;
  std::map<EventKind, std::size_t> kinds_;  // rows per kind, as of the last check
  std::size_t scheduled_ = 0;               // rows with available_at, as of the last check
  std::size_t keyed_ = 0;                   // Enqueued rows with an idempotency key, as of the last check
  std::size_t transactions_ = 0;            // tasks enqueued in a transaction, as of the last check
};

}  // namespace hugo::chaos
