// Test support: the invariants a crashed queue must satisfy after reopening, checked against the
// child's fsync'd acknowledgement log and the journal's rows. Shared by the crash tests.
#pragma once

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace hugo::test {

// What the child acknowledged. A torn last line (no newline: killed mid-write) is ignored.
struct AckLog {
  std::set<std::int64_t> enqueued;
  std::vector<OwnershipToken> leases;
  std::vector<OwnershipToken> completed;
  std::vector<OwnershipToken> failed;
  std::vector<OwnershipToken> heartbeats;
  std::set<std::int64_t> canceled;  // "X <task>": tasks whose cancel() returned ok
  std::size_t lines = 0;
};

inline AckLog read_acks(const std::string& path) {
  AckLog log;
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream lines(all.substr(0, all.rfind('\n') == std::string::npos ? 0 : all.rfind('\n') + 1));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string op;
    f >> op;
    ++log.lines;
    if (op == "E" || op == "X") {
      std::int64_t id = 0;
      f >> id;
      (op == "E" ? log.enqueued : log.canceled).insert(id);
      continue;
    }
    OwnershipToken t;
    f >> t.task_id >> t.attempt >> t.lease_id;
    if (op == "L") log.leases.push_back(t);
    else if (op == "C") log.completed.push_back(t);
    else if (op == "F") log.failed.push_back(t);
    else if (op == "H") log.heartbeats.push_back(t);
  }
  return log;
}

struct InvariantReport {
  std::size_t checks = 0;
  std::vector<std::string> violations;
  void expect(bool ok, const std::string& what) {
    ++checks;
    if (!ok) violations.push_back(what);
  }
};

// Checks `queue` (freshly reopened on the crashed journal) against `acks` and all journal rows.
// `fenced`, when given, holds the lease ids already shown to be fenced: they are not tried again,
// and the ones shown now are added (a harness checking after every kill stays linear).
inline void check_queue_invariants(const AckLog& acks, const std::vector<Event>& rows, TaskQueue& queue,
                                   InvariantReport& report, std::set<std::int64_t>* fenced = nullptr) {
  // No sequence number is skipped or reused: seqs are 1..N in order.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    report.expect(rows[i].seq == static_cast<std::int64_t>(i + 1), "seq " + std::to_string(rows[i].seq) + " out of place");
  }
  std::map<std::int64_t, const Event*> by_seq;
  std::map<std::int64_t, std::int32_t> last_attempt;
  std::set<std::int64_t> completed_tasks;
  std::map<std::int64_t, std::int64_t> completed_by_lease;
  std::set<std::int64_t> failed_leases;
  std::map<std::int64_t, std::int64_t> canceled_at;  // task -> its Canceled row
  for (const Event& e : rows) {
    by_seq[e.seq] = &e;
    if (e.queue != queue.name()) continue;
    // A canceled task is over: no row of it follows (never leased, requeued or restored again).
    if (auto c = canceled_at.find(e.task_id); c != canceled_at.end()) {
      report.expect(false, "task " + std::to_string(e.task_id) + " has a " + std::string(to_string(e.kind)) +
                               " row at seq " + std::to_string(e.seq) + " after its cancel at seq " +
                               std::to_string(c->second));
    }
    if (e.kind == EventKind::Canceled) canceled_at.emplace(e.task_id, e.seq);
    auto [it, fresh] = last_attempt.emplace(e.task_id, e.attempt);
    if (!fresh && e.kind != EventKind::Restored) {
      report.expect(e.attempt >= it->second, "task " + std::to_string(e.task_id) + ": attempt went backwards at seq " +
                                                 std::to_string(e.seq));
      it->second = std::max(it->second, e.attempt);
    }
    if (e.kind == EventKind::Completed) {
      report.expect(completed_tasks.insert(e.task_id).second, "task " + std::to_string(e.task_id) + " completed twice");
      completed_by_lease[e.token->lease_id] = e.task_id;
    }
    if (e.kind == EventKind::Failed) failed_leases.insert(e.token->lease_id);
  }

  const QueueSnapshot snap = queue.snapshot();
  std::map<std::int64_t, int> memberships;
  std::map<std::int64_t, std::int32_t> current_attempt;
  for (const auto& p : snap.pending) ++memberships[p.task_id], current_attempt[p.task_id] = p.attempt;
  std::set<std::int64_t> live_leases;
  std::set<std::int64_t> leased_tasks;
  for (const auto& l : snap.leased) {
    ++memberships[l.token.task_id];
    current_attempt[l.token.task_id] = l.token.attempt;
    live_leases.insert(l.token.lease_id);
    report.expect(leased_tasks.insert(l.token.task_id).second,
                  "task " + std::to_string(l.token.task_id) + " has two live leases");
  }
  for (const auto& d : snap.dead) ++memberships[d.task_id], current_attempt[d.task_id] = d.attempt;
  for (auto id : completed_tasks) ++memberships[id];
  for (const auto& [id, seq] : canceled_at) ++memberships[id];
  report.expect(snap.awaiting_requeue.empty(), "tasks left between Failed/LeaseExpired and their follow-up");

  // Every acknowledged cancel is journaled.
  for (std::int64_t id : acks.canceled) {
    report.expect(canceled_at.contains(id), "acknowledged cancel of task " + std::to_string(id) + " is lost");
  }
  // Every acknowledged enqueue is pending, leased, completed, canceled or dead-lettered exactly once.
  for (std::int64_t id : acks.enqueued) {
    auto row = by_seq.find(id);
    report.expect(row != by_seq.end() && row->second->kind == EventKind::Enqueued,
                  "acknowledged enqueue " + std::to_string(id) + " is not in the journal");
    report.expect(memberships[id] == 1, "task " + std::to_string(id) + " is in " + std::to_string(memberships[id]) +
                                            " states instead of exactly one");
  }
  // Every acknowledged lease is in the journal, and attempts never went below it.
  for (const auto& t : acks.leases) {
    auto row = by_seq.find(t.lease_id);
    report.expect(row != by_seq.end() && row->second->kind == EventKind::LeaseGranted &&
                      row->second->task_id == t.task_id && row->second->attempt == t.attempt,
                  "acknowledged lease " + t.to_string() + " is not in the journal");
    if (auto it = current_attempt.find(t.task_id); it != current_attempt.end()) {
      report.expect(it->second >= t.attempt, "task " + std::to_string(t.task_id) + ": attempt went backwards after restart");
    }
  }
  for (const auto& t : acks.completed) {
    report.expect(completed_by_lease.count(t.lease_id) == 1, "acknowledged completion " + t.to_string() + " is lost");
  }
  for (const auto& t : acks.failed) {
    report.expect(failed_leases.count(t.lease_id) == 1, "acknowledged failure " + t.to_string() + " is lost");
  }
  // Stale tokens are rejected: every acknowledged lease that is no longer live is fenced.
  for (const auto& t : acks.leases) {
    if (live_leases.count(t.lease_id) || (fenced && fenced->count(t.lease_id))) continue;
    auto r = queue.complete(t);
    const bool rejected = !r.ok() && r.error().code() == errc::lease_inactive;
    report.expect(rejected, "stale token " + t.to_string() + " was accepted");
    if (rejected && fenced) fenced->insert(t.lease_id);
  }
}

}  // namespace hugo::test
